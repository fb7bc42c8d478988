//! What protects a file, and its projection onto a store that locks objects itself (S3 Object
//! Lock, GCS holds): set when a hold or retention changes, and reconciled periodically where a
//! projection failed.

use super::*;

/// What a reconciliation of the store's own locks with the registry found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Files compared.
    pub checked: usize,
    /// Files whose store-side legal hold did not match the registry (before any fix).
    pub drifted: Vec<FileId>,
    /// Of those, the ones set right.
    pub fixed: usize,
    /// Files that could not be read or set (the store or the database failed).
    pub failed: Vec<FileId>,
}

impl LegalFileService {
    /// What keeps `file` from being deleted now: the active holds covering it and the case's
    /// retention. Not audited: pass a file obtained through an authorized, audited call
    /// ([`get_file`](Self::get_file)).
    ///
    /// # Errors
    /// Persistence failures.
    pub async fn protection(&self, file: &CaseFile) -> ServiceResult<Protection> {
        Ok(self.repository.protection(file.id).await?)
    }

    /// Makes the store's own lock of `file` match the registry, where the store has one: its
    /// legal hold on while an active hold covers the file and off otherwise, and the case's
    /// retention date (in the configured [`RetentionMode`]). The registry stays the truth: this
    /// is its projection onto the cloud, a second lock that holds even against someone with the
    /// cloud's own credentials.
    ///
    /// # Errors
    /// Persistence and storage failures (the caller retries, or `reconcile` repairs the drift).
    pub async fn project_protection(&self, file: &CaseFile) -> ServiceResult<()> {
        let caps = self.storage.capabilities();
        if (!caps.legal_hold && !caps.retention)
            || file.completed_at.is_none()
            || file.purged_at.is_some()
        {
            return Ok(());
        }
        let protection = self.repository.protection(file.id).await?;
        if caps.legal_hold {
            self.storage
                .set_legal_hold(&file.storage_key, protection.held())
                .await?;
        }
        if caps.retention
            && let Some(until) = protection.retain_until.filter(|u| *u > self.clock.now())
        {
            self.storage
                .set_retention(&file.storage_key, until, self.config.retention_mode())
                .await?;
        }
        Ok(())
    }

    /// Compares the store's own legal hold of every file that may carry one (see
    /// [`CaseRepository::lock_candidates`]) with the registry, and with `fix` sets a drifted one
    /// right (applying the case's retention again with it): the retry of projections that failed (a cloud that
    /// was unreachable when a hold was placed or released), and the check that nobody changed
    /// the cloud's state behind casefile. A store without its own lock has nothing to reconcile.
    ///
    /// # Errors
    /// Persistence failures while listing; per-file failures are reported, not returned.
    pub async fn reconcile_holds(&self, fix: bool) -> ServiceResult<ReconcileReport> {
        let mut report = ReconcileReport::default();
        if !self.storage.capabilities().legal_hold {
            return Ok(report);
        }
        let mut after = None;
        loop {
            let page = self.repository.lock_candidates(after, 500).await?;
            for file in &page {
                report.checked += 1;
                let (protection, native) = match (
                    self.repository.protection(file.id).await,
                    self.storage.legal_hold(&file.storage_key).await,
                ) {
                    (Ok(p), Ok(n)) => (p, n),
                    _ => {
                        report.failed.push(file.id);
                        continue;
                    }
                };
                if native != protection.held() {
                    report.drifted.push(file.id);
                    tracing::warn!(file = %file.id, registry = protection.held(), store = native, "legal hold drift");
                    if fix {
                        match self.project_protection(file).await {
                            Ok(()) => report.fixed += 1,
                            Err(_) => report.failed.push(file.id),
                        }
                    }
                }
            }
            match page.last() {
                Some(last) if page.len() == 500 => after = Some(last.id),
                _ => return Ok(report),
            }
        }
    }

    /// [`project_protection`](Self::project_protection), logging a failure instead of returning
    /// it: the change in the registry has committed and stands.
    pub(super) async fn project_quietly(&self, file: &CaseFile) {
        let caps = self.storage.capabilities();
        if !caps.legal_hold && !caps.retention {
            return;
        }
        if let Err(e) = self.project_protection(file).await {
            tracing::warn!(file = %file.id, error = %e, "the store's own lock does not match the registry yet");
        }
    }

    /// Projects the protection of every completed file of `case_id` that `scope` covers (all of
    /// them for `None`), a page at a time.
    pub(super) async fn project_scope(
        &self,
        case_id: CaseId,
        scope: Option<&HoldScope>,
    ) -> ServiceResult<()> {
        let caps = self.storage.capabilities();
        if !caps.legal_hold && !caps.retention {
            return Ok(());
        }
        if let Some(HoldScope::Files { file_ids }) = scope {
            for id in file_ids {
                if let Some(file) = self.repository.get_file(*id).await? {
                    self.project_quietly(&file).await;
                }
            }
            return Ok(());
        }
        let prefix = match scope {
            Some(HoldScope::Prefix { prefix }) => Some(prefix.clone()),
            _ => None,
        };
        let mut after = None;
        loop {
            let query = FileQuery {
                prefix: prefix.clone(),
                after: after.clone(),
                from: None,
                limit: 500,
            };
            let page = self.repository.list_files(case_id, &query).await?;
            for file in &page {
                self.project_quietly(file).await;
            }
            match page.last() {
                Some(last) if page.len() == 500 => after = Some(last.logical_path.clone()),
                _ => return Ok(()),
            }
        }
    }

    pub(super) fn hold_text(field: &'static str, text: &str, max: usize) -> ServiceResult<String> {
        let text = text.trim();
        if text.is_empty() || text.chars().count() > max || text.chars().any(char::is_control) {
            return Err(ServiceError::invalid(
                field,
                format!("1 to {max} characters, no control characters"),
            ));
        }
        Ok(text.to_owned())
    }

    pub(super) fn scope_text(scope: &HoldScope) -> String {
        match scope {
            HoldScope::Case => "the whole case".to_owned(),
            HoldScope::Prefix { prefix } => format!("paths starting with {prefix:?}"),
            HoldScope::Files { file_ids } => format!("{} listed files", file_ids.len()),
        }
    }

    /// Refuses (and audits `delete_refused`) the deletion of a held or retained file.
    pub(super) async fn refuse_if_protected(
        &self,
        user: UserId,
        file: &CaseFile,
    ) -> ServiceResult<()> {
        let protection = self.repository.protection(file.id).await?;
        let now = self.clock.now();
        let (error, why) = if protection.held() {
            let names: Vec<String> = protection.holds.iter().map(ToString::to_string).collect();
            (
                ServiceError::Held {
                    holds: protection.holds.clone(),
                },
                format!("held by {}", names.join(", ")),
            )
        } else if let Some(until) = protection.retain_until.filter(|u| *u > now) {
            (
                ServiceError::Retained { until },
                format!("retained until {until}"),
            )
        } else {
            return Ok(());
        };
        let audit = self
            .audit(user, AuditAction::DeleteRefused, AuditOutcome::Denied)
            .case(file.case_id)
            .file(file.id)
            .details(why);
        self.repository.append_audit(&audit).await?;
        Err(error)
    }
}
