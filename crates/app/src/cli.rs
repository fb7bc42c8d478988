//! What the integrity commands print: `casefile scrub`, `reconcile` and `export`.
//!
//! Results go to standard output (plain lines, or one JSON document with `--json`); progress goes
//! to standard error (a bar on a terminal).

use std::path::{Path, PathBuf};

use casefile_domain::legal::audit_log::CheckpointSigner;
use casefile_domain::legal::fixity::{FixityOutcome, ScrubOptions, ScrubReport};
use casefile_domain::legal::{CaseId, LegalFileService, ScrubEvent, StorageReconcileReport};

use crate::export::{self, ExportError, Sink, Unreadable, VerifyReport};
use crate::progress::Progress;
use crate::wiring::WireError;

/// Runs a scrub with a progress display and prints its report.
///
/// # Errors
/// The service's.
pub async fn scrub(
    service: &LegalFileService,
    options: ScrubOptions,
    json: bool,
) -> Result<ScrubReport, WireError> {
    let progress = std::sync::OnceLock::<Progress>::new();
    let on_event = |event: ScrubEvent| match event {
        ScrubEvent::Started {
            run,
            resumed,
            backlog,
        } => {
            let bar = progress.get_or_init(|| Progress::new(Some(backlog.bytes), json));
            let verb = if resumed { "resuming" } else { "starting" };
            let line = format!(
                "{verb} scrub run {run}: {} files, {} bytes to verify",
                backlog.files, backlog.bytes
            );
            if !json {
                emit(bar, &line);
            }
        }
        ScrubEvent::Read(n) => {
            if let Some(bar) = progress.get() {
                bar.inc(n);
            }
        }
        ScrubEvent::File(result) => {
            let Some(bar) = progress.get() else { return };
            let status = match result.outcome {
                Some(FixityOutcome::Ok) => "ok",
                Some(FixityOutcome::Mismatch) => "MISMATCH",
                Some(FixityOutcome::Missing) => "MISSING",
                None => "UNREADABLE",
            };
            bar.message(result.logical_path.to_string());
            if json {
                return;
            }
            let line = match &result.detail {
                Some(detail) => format!(
                    "{status} {} {} ({detail})",
                    result.file_id, result.logical_path
                ),
                None => format!("{status} {} {}", result.file_id, result.logical_path),
            };
            // Failures always print; successes only as plain lines (the bar shows them).
            if result.outcome != Some(FixityOutcome::Ok) || !bar.is_bar() {
                emit(bar, &line);
            }
        }
    };
    let report = service.scrub(options, &on_event).await?;
    if let Some(bar) = progress.get() {
        bar.finish();
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if report.busy {
        println!(
            "scrub run {} is running elsewhere (its heartbeat is fresh): nothing done",
            report.run
        );
    } else {
        for failure in &report.failures {
            println!(
                "failed: {} {} {}",
                failure.file_id,
                failure.logical_path,
                failure.detail.as_deref().unwrap_or_default()
            );
        }
        println!(
            "scrub run {}{}: checked {}, failed {}, unreadable {}, {} bytes read",
            report.run,
            if report.resumed { " (resumed)" } else { "" },
            report.checked,
            report.failed,
            report.errors,
            report.bytes
        );
    }
    Ok(report)
}

/// A line above the bar on a terminal, else on standard output.
fn emit(bar: &Progress, line: &str) {
    if bar.is_bar() {
        bar.println(line);
    } else {
        println!("{line}");
    }
}

/// Prints a reconciliation report.
///
/// # Errors
/// Serialisation.
pub fn print_reconcile(report: &StorageReconcileReport, json: bool) -> Result<(), WireError> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
        return Ok(());
    }
    for o in &report.unrecorded {
        println!("unrecorded: {} ({} bytes)", o.key, o.size);
    }
    for m in &report.missing {
        println!(
            "missing: file {} {} (object {})",
            m.file_id, m.logical_path, m.key
        );
    }
    for g in &report.garbage {
        let why = match g.garbage {
            Some(casefile_domain::legal::GarbageKind::Unpurged) => "of a failed or deleted file",
            Some(casefile_domain::legal::GarbageKind::PurgedButPresent) => "of a purged file",
            Some(casefile_domain::legal::GarbageKind::Staging) => "staging, upload not pending",
            None => "",
        };
        println!("garbage: {} ({} bytes, {why})", g.key, g.size);
    }
    for f in &report.expired_pending {
        println!("expired pending upload: file {f}");
    }
    println!(
        "objects {}, records {}, unrecorded {}, missing {}, garbage {}, expired pending {}, \
         removed {}, expired uploads failed {}, kept {}",
        report.objects,
        report.records,
        report.unrecorded.len(),
        report.missing.len(),
        report.garbage.len(),
        report.expired_pending.len(),
        report.removed,
        report.expired_failed,
        report.kept
    );
    Ok(())
}

/// Where `casefile export` writes.
pub enum ExportTarget {
    /// A folder.
    Dir(PathBuf),
    /// A ZIP file (written under a temporary name, renamed when complete).
    Zip(PathBuf),
}

/// Exports a case as the operator, with a progress display.
///
/// # Errors
/// The export's; a ZIP's temporary file is removed on failure.
pub async fn export(
    service: &LegalFileService,
    signer: &CheckpointSigner,
    case: CaseId,
    target: ExportTarget,
) -> Result<(), WireError> {
    let destination = match &target {
        ExportTarget::Dir(dir) => format!("folder {}", dir.display()),
        ExportTarget::Zip(file) => format!("ZIP {}", file.display()),
    };
    // Checked before anything is audited.
    if let ExportTarget::Dir(dir) = &target {
        export::prepare_dir(dir)?;
    }
    let started = service.begin_export(None, case, &destination).await?;
    let progress = Progress::new(Some(started.case.total_size_bytes), false);
    let on_file = |f: &export::ExportedFile| {
        progress.message(f.logical_path.clone());
        if !progress.is_bar() {
            println!("{} {} {} bytes", f.docid, f.logical_path, f.size);
        }
    };
    let on_bytes = |n: u64| progress.inc(n);
    let result = match &target {
        ExportTarget::Dir(dir) => {
            let sink: Sink<tokio::fs::File> = Sink::Dir(dir.clone());
            export::write_export(service, &started, signer, sink, &on_file, &on_bytes).await
        }
        ExportTarget::Zip(file) => {
            let partial = with_suffix(file, ".casefile-partial");
            let out = tokio::fs::File::create(&partial).await?;
            let result = export::write_export(
                service,
                &started,
                signer,
                Sink::zip(out),
                &on_file,
                &on_bytes,
            )
            .await;
            match &result {
                Ok(_) => tokio::fs::rename(&partial, file).await?,
                Err(_) => {
                    let _ = tokio::fs::remove_file(&partial).await;
                }
            }
            result
        }
    };
    progress.finish();
    let summary = result
        .map_err(|e: ExportError| -> WireError { format!("the export stopped: {e}").into() })?;
    println!(
        "exported case {}: {} files, {} bytes, {} audit entries with proofs, to {destination}",
        case.0, summary.files, summary.bytes, summary.audit_entries
    );
    Ok(())
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Verifies an export offline and prints what was found.
///
/// # Errors
/// [`Unreadable`] when the export cannot be read.
pub async fn verify_export(
    path: &Path,
    verifier_key: Option<&str>,
    json: bool,
) -> Result<VerifyReport, Unreadable> {
    let progress = Progress::new(None, json);
    let report = export::verify_export(path, verifier_key, &|n| progress.inc(n)).await?;
    progress.finish();
    if json {
        let text = serde_json::to_string_pretty(&report).map_err(|e| Unreadable(e.to_string()))?;
        println!("{text}");
        return Ok(report);
    }
    for problem in &report.problems {
        println!("problem: {problem}");
    }
    if let Some(key) = &report.verifier_key {
        println!("audit checked with verifier key {key}");
    }
    println!(
        "natives verified {}, audit entries verified {}, problems {}",
        report.files_ok,
        report.entries_ok,
        report.problems.len()
    );
    if report.problems.is_empty() {
        println!("the export verifies");
    }
    Ok(report)
}
