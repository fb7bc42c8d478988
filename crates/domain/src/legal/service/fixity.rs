//! The fixity scrub: every completed file re-read against its recorded size and SHA-256.

use std::time::{Duration, Instant};

use futures::stream;

use super::*;
use crate::legal::fixity::{
    FixityOutcome, ScrubBacklog, ScrubClaim, ScrubFileResult, ScrubOptions, ScrubReport, ScrubRun,
    ScrubRunId,
};

/// Files asked of the database at a time.
const SCRUB_BATCH: usize = 64;

/// What a scrub reports while it runs (for a progress display).
#[derive(Debug, Clone)]
pub enum ScrubEvent {
    /// The run is claimed; this is what is left of it.
    Started {
        /// The run.
        run: ScrubRunId,
        /// Whether an unfinished run was resumed.
        resumed: bool,
        /// Files and bytes left.
        backlog: ScrubBacklog,
    },
    /// Bytes were read (of some file).
    Read(u64),
    /// A file is done.
    File(ScrubFileResult),
}

/// Keeps all the scrub's readers together under a rate, in bytes per second.
struct Pacer {
    rate: Option<u64>,
    state: std::sync::Mutex<(Instant, u64)>,
}

impl Pacer {
    fn new(rate: Option<u64>) -> Self {
        Self {
            rate: rate.filter(|r| *r > 0),
            state: std::sync::Mutex::new((Instant::now(), 0)),
        }
    }

    /// Counts `n` bytes read and waits as long as the reads are ahead of the rate.
    async fn take(&self, n: u64) {
        let Some(rate) = self.rate else { return };
        let wait = {
            let mut state = self
                .state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            state.1 += n;
            #[allow(clippy::cast_precision_loss)]
            let due = Duration::from_secs_f64(state.1 as f64 / rate as f64);
            due.checked_sub(state.0.elapsed())
        };
        if let Some(wait) = wait {
            tokio::time::sleep(wait).await;
        }
    }
}

impl LegalFileService {
    /// Re-reads every completed file of the scope (one case, or all) not yet verified in this
    /// run — or, with [`ScrubOptions::older_than`], not verified within that long — and compares
    /// its size and SHA-256 with the record, `jobs` files at a time, memory bounded by one chunk
    /// per job.
    ///
    /// Each file's outcome is recorded (when, what) and every mismatch or missing object is
    /// audited as `fixity_failed`; the run ends with one `scrub_completed` entry. Nothing is
    /// repaired. A run that stops midway is resumed by the next scrub of the same scope: the files
    /// it recorded are neither read nor audited again. A file the store cannot serve (a network
    /// error) is reported and left for the next run, not recorded.
    ///
    /// # Errors
    /// Persistence failures; [`ServiceError::NotFound`] for an unknown case.
    pub async fn scrub(
        &self,
        options: ScrubOptions,
        progress: &(dyn Fn(ScrubEvent) + Send + Sync),
    ) -> ServiceResult<ScrubReport> {
        if let Some(case) = options.case_id
            && self.repository.get_case(case).await?.is_none()
        {
            return Err(ServiceError::NotFound { what: "case" });
        }
        let now = self.clock.now();
        let claim = self
            .repository
            .begin_scrub(
                options.case_id,
                ScrubRunId(uuid::Uuid::new_v4()),
                now,
                options.lease.map(|lease| now - lease),
            )
            .await?;
        let (run, resumed) = match claim {
            ScrubClaim::Busy(run) => {
                return Ok(ScrubReport {
                    run: run.id,
                    resumed: false,
                    checked: run.checked,
                    failed: run.failed,
                    bytes: run.bytes,
                    errors: 0,
                    failures: Vec::new(),
                    busy: true,
                });
            }
            ScrubClaim::Claimed { run, resumed } => (run, resumed),
        };
        let cut = match options.older_than {
            Some(age) => run.started_at.min(now - age),
            None => run.started_at,
        };
        let backlog = self.repository.scrub_backlog(options.case_id, cut).await?;
        progress(ScrubEvent::Started {
            run: run.id,
            resumed,
            backlog,
        });
        let pacer = Pacer::new(options.rate_bytes_per_sec);
        let mut failures = Vec::new();
        let mut errors = 0;
        let mut after = None;
        loop {
            let batch = self
                .repository
                .scrub_candidates(options.case_id, cut, after, SCRUB_BATCH)
                .await?;
            let Some(last) = batch.last() else { break };
            after = Some(last.id);
            let mut done = stream::iter(batch)
                .map(|file| self.scrub_file(&run, file, cut, &pacer, progress))
                .buffer_unordered(options.jobs.max(1));
            while let Some(result) = done.next().await {
                let result = result?;
                if result.outcome.is_none() {
                    errors += 1;
                }
                if result.outcome != Some(FixityOutcome::Ok) {
                    failures.push(result.clone());
                }
                progress(ScrubEvent::File(result));
            }
        }
        let run = self
            .repository
            .scrub_run(run.id)
            .await?
            .ok_or(ServiceError::NotFound { what: "scrub run" })?;
        let outcome = if run.failed == 0 {
            AuditOutcome::Success
        } else {
            AuditOutcome::Failure
        };
        let mut audit =
            AuditEntry::new(self.clock.now(), None, AuditAction::ScrubCompleted, outcome).details(
                format!(
                    "run {}: checked {}, failed {}, bytes {}",
                    run.id, run.checked, run.failed, run.bytes
                ),
            );
        if let Some(case) = run.case_id {
            audit = audit.case(case);
        }
        self.repository
            .finish_scrub(run.id, audit.at, &audit)
            .await?;
        Ok(ScrubReport {
            run: run.id,
            resumed,
            checked: run.checked,
            failed: run.failed,
            bytes: run.bytes,
            errors,
            failures,
            busy: false,
        })
    }

    /// Reads one file through, records what was found and audits a failure.
    async fn scrub_file(
        &self,
        run: &ScrubRun,
        file: CaseFile,
        since: chrono::DateTime<chrono::Utc>,
        pacer: &Pacer,
        progress: &(dyn Fn(ScrubEvent) + Send + Sync),
    ) -> ServiceResult<ScrubFileResult> {
        let size = file.actual_size.unwrap_or(file.declared_size);
        let mut result = ScrubFileResult {
            file_id: file.id,
            case_id: file.case_id,
            logical_path: file.logical_path.clone(),
            size,
            outcome: None,
            detail: None,
            actual_sha256: None,
        };
        let (outcome, read, detail) =
            match self.storage.download_stream(&file.storage_key, None).await {
                Err(StorageError::NotFound { .. }) => (
                    FixityOutcome::Missing,
                    0,
                    "no object at the file's storage key".to_owned(),
                ),
                Err(e) => {
                    result.detail = Some(format!("the store could not be read: {e}"));
                    return Ok(result);
                }
                Ok(found) => {
                    let mut body = found.body;
                    let mut hasher = ContentHasher::new();
                    while let Some(chunk) = body.next().await {
                        match chunk {
                            Ok(chunk) => {
                                hasher.update(&chunk);
                                let n = chunk.len() as u64;
                                progress(ScrubEvent::Read(n));
                                pacer.take(n).await;
                            }
                            Err(e) => {
                                result.detail = Some(format!("the store could not be read: {e}"));
                                return Ok(result);
                            }
                        }
                    }
                    let (sha, read) = hasher.finish();
                    result.actual_sha256 = Some(sha);
                    if read != size {
                        (
                            FixityOutcome::Mismatch,
                            read,
                            format!("size {read} bytes, recorded {size}"),
                        )
                    } else if sha != file.sha256 {
                        (
                            FixityOutcome::Mismatch,
                            read,
                            format!("SHA-256 {sha}, recorded {}", file.sha256),
                        )
                    } else {
                        (FixityOutcome::Ok, read, String::new())
                    }
                }
            };
        let audit = (outcome != FixityOutcome::Ok).then(|| {
            AuditEntry::new(
                self.clock.now(),
                None,
                AuditAction::FixityFailed,
                AuditOutcome::Failure,
            )
            .case(file.case_id)
            .file(file.id)
            .details(format!(
                "scrub run {}: {}: {detail}",
                run.id,
                outcome.as_str()
            ))
        });
        self.repository
            .record_fixity(
                run.id,
                file.id,
                since,
                outcome,
                read,
                self.clock.now(),
                audit,
            )
            .await?;
        result.outcome = Some(outcome);
        if outcome != FixityOutcome::Ok {
            result.detail = Some(detail);
        }
        Ok(result)
    }
}
