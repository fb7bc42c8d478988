//! Storage ↔ database reconciliation: the store's objects against the files' records.

use std::collections::VecDeque;

use serde::Serialize;

use super::*;

/// Records read from the database at a time, and objects listed from the store per page.
const RECONCILE_PAGE: usize = 1000;

/// Why an object is garbage (provably nobody's bytes any more).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GarbageKind {
    /// The object of a failed or deleted file, not purged yet (purge removes it unless the file
    /// is held or retained).
    Unpurged,
    /// The object of a file recorded as purged, still there (a removal that failed halfway).
    PurgedButPresent,
    /// A staging object whose upload is no longer pending (or has expired).
    Staging,
}

/// One object of the store that no record accounts for, or that is garbage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectFinding {
    /// The object's key.
    pub key: String,
    /// Its size.
    pub size: u64,
    /// The file it belongs to, if any record says so.
    pub file_id: Option<FileId>,
    /// For garbage: why.
    pub garbage: Option<GarbageKind>,
}

/// A completed file whose object is not in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissingObject {
    /// The file.
    pub file_id: FileId,
    /// Its case.
    pub case_id: CaseId,
    /// Its logical path.
    pub logical_path: LogicalPath,
    /// Where its bytes should be.
    pub key: String,
}

/// What [`LegalFileService::reconcile_storage`] found (and, with `fix`, removed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StorageReconcileReport {
    /// Objects listed.
    pub objects: u64,
    /// Records read.
    pub records: u64,
    /// Objects without any record (bytes casefile did not write, or whose record was lost):
    /// reported, never removed — they may be someone's evidence.
    pub unrecorded: Vec<ObjectFinding>,
    /// Completed files whose object is missing.
    pub missing: Vec<MissingObject>,
    /// Objects that are provably garbage.
    pub garbage: Vec<ObjectFinding>,
    /// Pending uploads past their URL's expiry.
    pub expired_pending: Vec<FileId>,
    /// With `fix`: objects removed (each audited `object_purged`, or in the summary entry).
    pub removed: u64,
    /// With `fix`: expired pending uploads marked failed.
    pub expired_failed: u64,
    /// With `fix`: removals that failed, or garbage kept because its file is held or retained.
    pub kept: u64,
}

impl StorageReconcileReport {
    /// Whether store and records agree (after the fix, when there was one).
    pub fn consistent(&self, fixed: bool) -> bool {
        self.unrecorded.is_empty()
            && self.missing.is_empty()
            && (fixed && self.kept == 0
                || !fixed && self.garbage.is_empty() && self.expired_pending.is_empty())
    }
}

/// The database's files in storage-key order, a page at a time.
struct RecordCursor<'a> {
    repository: &'a dyn CaseRepository,
    buffer: VecDeque<CaseFile>,
    after: Option<(CaseId, FileId)>,
    done: bool,
}

impl RecordCursor<'_> {
    async fn peek(&mut self) -> ServiceResult<Option<&CaseFile>> {
        if self.buffer.is_empty() && !self.done {
            let page = self
                .repository
                .files_in_key_order(self.after, RECONCILE_PAGE)
                .await?;
            self.done = page.len() < RECONCILE_PAGE;
            if let Some(last) = page.last() {
                self.after = Some((last.case_id, last.id));
            }
            self.buffer.extend(page);
        }
        Ok(self.buffer.front())
    }

    fn pop(&mut self) -> Option<CaseFile> {
        self.buffer.pop_front()
    }
}

/// The ids of a key casefile writes — a file's object or its staging object — spelled exactly
/// as casefile spells it; `None` for any other key.
fn ids_of(key: &ObjectKey) -> Option<(CaseId, FileId)> {
    let mut parts = key.as_str().split('/');
    let (case, file) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("cases"), Some(case), Some("files"), Some(file)) => (case, file),
        (Some(LegalFileService::STAGING_PREFIX), Some(case), Some(file), None) => (case, file),
        _ => return None,
    };
    let ids = (
        CaseId(uuid::Uuid::try_parse(case).ok()?),
        FileId(uuid::Uuid::try_parse(file).ok()?),
    );
    let canonical = [
        LegalFileService::storage_key(ids.0, ids.1),
        LegalFileService::staging_key(ids.0, ids.1),
    ];
    (parts.next().is_none() && canonical.contains(key)).then_some(ids)
}

impl LegalFileService {
    /// Compares the store with the records: objects without a record, completed files whose
    /// object is missing, garbage (objects of failed, deleted or purged files; staging objects of
    /// uploads no longer pending) and pending uploads past their URL's expiry. One pass over
    /// each, merged in key order (memory bounded by a page).
    ///
    /// With `fix`, removes only what is provably garbage — expired pending uploads are failed,
    /// then the objects of failed and deleted files that are neither held nor retained go, as
    /// [`purge`](Self::purge) does — and never an unrecorded object nor the object of a completed
    /// file. One `storage_reconciled` entry records what the fix removed.
    ///
    /// # Errors
    /// Persistence and storage failures of the listing.
    pub async fn reconcile_storage(&self, fix: bool) -> ServiceResult<StorageReconcileReport> {
        let mut report = StorageReconcileReport::default();
        let expiry = chrono::Duration::from_std(self.config.upload_url_expiry())
            .unwrap_or(chrono::Duration::MAX);
        let now = self.clock.now();
        let expired_before = now.checked_sub_signed(expiry).unwrap_or(now);
        self.merge_prefix("cases", &mut report, expired_before, false)
            .await?;
        self.merge_prefix(Self::STAGING_PREFIX, &mut report, expired_before, true)
            .await?;
        if !fix {
            return Ok(report);
        }
        // The fix: what purge does, until nothing is left, then the leftovers of purged files.
        loop {
            let round = self.purge(RECONCILE_PAGE).await?;
            report.expired_failed += round.expired as u64;
            report.removed += (round.purged + round.staging_swept) as u64;
            if round.purged + round.expired + round.staging_swept == 0 || round.failed > 0 {
                break;
            }
        }
        let mut leftovers = 0u64;
        for finding in &report.garbage {
            if finding.garbage != Some(GarbageKind::PurgedButPresent) {
                continue;
            }
            let key = ObjectKey::new(finding.key.clone())
                .unwrap_or_else(|_| unreachable!("a listed key is valid"));
            if self.storage.delete(&key).await.is_ok() {
                leftovers += 1;
            }
        }
        report.removed += leftovers;
        // Whatever garbage is still there was kept (held, retained, or its removal failed).
        let mut left = StorageReconcileReport::default();
        self.merge_prefix("cases", &mut left, expired_before, false)
            .await?;
        self.merge_prefix(Self::STAGING_PREFIX, &mut left, expired_before, true)
            .await?;
        report.kept = left.garbage.len() as u64;
        let audit = AuditEntry::new(
            self.clock.now(),
            None,
            AuditAction::StorageReconciled,
            AuditOutcome::Success,
        )
        .details(format!(
            "removed {} objects ({leftovers} of purged files), failed {} expired uploads, kept {} \
             (held, retained or not removable), unrecorded {}, missing {}",
            report.removed,
            report.expired_failed,
            report.kept,
            report.unrecorded.len(),
            report.missing.len()
        ));
        self.repository.append_audit(&audit).await?;
        Ok(report)
    }

    /// One merge of the store's listing under `prefix` with the records in key order.
    async fn merge_prefix(
        &self,
        prefix: &str,
        report: &mut StorageReconcileReport,
        expired_before: chrono::DateTime<chrono::Utc>,
        staging: bool,
    ) -> ServiceResult<()> {
        let mut records = RecordCursor {
            repository: self.repository.as_ref(),
            buffer: VecDeque::new(),
            after: None,
            done: false,
        };
        let prefix_key =
            ObjectKey::new(prefix).unwrap_or_else(|_| unreachable!("a constant valid key"));
        let mut objects = self.storage.list_all(Some(prefix_key), RECONCILE_PAGE);
        while let Some(object) = objects.next().await {
            let object = object?;
            report.objects += 1;
            let Some(ids) = ids_of(&object.key) else {
                report.unrecorded.push(ObjectFinding {
                    key: object.key.to_string(),
                    size: object.size,
                    file_id: None,
                    garbage: None,
                });
                continue;
            };
            // Records before this object have no object of their own.
            while let Some(record) = records.peek().await? {
                if (record.case_id, record.id) >= ids {
                    break;
                }
                let record = records.pop().unwrap_or_else(|| unreachable!("peeked"));
                self.record_without_object(record, report, expired_before, staging);
            }
            let matching = match records.peek().await? {
                Some(record) if (record.case_id, record.id) == ids => records.pop(),
                _ => None,
            };
            let Some(record) = matching else {
                report.unrecorded.push(ObjectFinding {
                    key: object.key.to_string(),
                    size: object.size,
                    file_id: Some(ids.1),
                    garbage: None,
                });
                continue;
            };
            if !staging {
                report.records += 1;
            }
            let garbage = if staging {
                let open =
                    record.status == FileStatus::Pending && record.created_at >= expired_before;
                (!open).then_some(GarbageKind::Staging)
            } else {
                match (record.status, record.purged_at) {
                    (FileStatus::Completed | FileStatus::Pending, _) => None,
                    (_, None) => Some(GarbageKind::Unpurged),
                    (_, Some(_)) => Some(GarbageKind::PurgedButPresent),
                }
            };
            if !staging
                && record.status == FileStatus::Pending
                && record.created_at < expired_before
            {
                report.expired_pending.push(record.id);
            }
            if let Some(kind) = garbage {
                report.garbage.push(ObjectFinding {
                    key: object.key.to_string(),
                    size: object.size,
                    file_id: Some(record.id),
                    garbage: Some(kind),
                });
            }
        }
        while let Some(record) = records.pop_or_fetch().await? {
            self.record_without_object(record, report, expired_before, staging);
        }
        Ok(())
    }

    fn record_without_object(
        &self,
        record: CaseFile,
        report: &mut StorageReconcileReport,
        expired_before: chrono::DateTime<chrono::Utc>,
        staging: bool,
    ) {
        if staging {
            return;
        }
        report.records += 1;
        match record.status {
            FileStatus::Completed => report.missing.push(MissingObject {
                file_id: record.id,
                case_id: record.case_id,
                logical_path: record.logical_path,
                key: record.storage_key.to_string(),
            }),
            FileStatus::Pending if record.created_at < expired_before => {
                report.expired_pending.push(record.id);
            }
            _ => {}
        }
    }
}

impl RecordCursor<'_> {
    async fn pop_or_fetch(&mut self) -> ServiceResult<Option<CaseFile>> {
        self.peek().await?;
        Ok(self.pop())
    }
}
