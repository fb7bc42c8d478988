//! Deleting files (tombstones) and purging the bytes of deleted and failed ones.

use super::*;

impl LegalFileService {
    /// Deletes a file: tombstone, statistics and audit in one transaction, then the object is
    /// removed. Should that removal fail, the file stays marked for [`purge`](Self::purge); the
    /// delete itself has happened.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] for a file of a case `user` is not a member of, or already
    /// deleted; [`ServiceError::Forbidden`] for viewers and auditors.
    pub async fn delete_file(&self, user: UserId, file_id: FileId) -> ServiceResult<()> {
        let file = self
            .authorize_file(user, file_id, Permission::DeleteFile)
            .await?;
        if !file.status.is_live() {
            return Err(ServiceError::NotFound { what: "file" });
        }
        if file.status == FileStatus::Completed {
            self.refuse_if_protected(user, &file).await?;
        }
        let audit = self
            .audit(user, AuditAction::FileDeleted, AuditOutcome::Success)
            .case(file.case_id)
            .file(file.id);
        match self
            .repository
            .delete_file(file.id, self.clock.now(), &audit)
            .await?
        {
            Transition::Applied(_) => {
                self.remove_object(&file).await;
                Ok(())
            }
            Transition::Unchanged(_) => Err(ServiceError::NotFound { what: "file" }),
        }
    }

    /// Removes the objects of deleted and failed files that are still in storage (at most
    /// `limit`), recording each removal. Safe to run at any time, from several places.
    ///
    /// # Errors
    /// Persistence failures while listing; storage failures are counted, not returned.
    pub async fn purge(&self, limit: usize) -> ServiceResult<PurgeReport> {
        let mut report = PurgeReport {
            expired: self.expire_pending(limit).await?,
            ..PurgeReport::default()
        };
        for file in self.repository.files_to_purge(limit).await? {
            if self.remove_object(&file).await {
                report.purged += 1;
            } else {
                report.failed += 1;
            }
        }
        report.staging_swept = self.sweep_staging(limit).await?;
        Ok(report)
    }

    /// Marks failed (audited `upload_expired`) the pending uploads older than the upload URL's
    /// lifetime, at most `limit`; their bytes go with the purge that follows. A completion
    /// racing this wins or loses atomically (a compare-and-set on the status).
    pub(super) async fn expire_pending(&self, limit: usize) -> ServiceResult<usize> {
        let expiry = chrono::Duration::from_std(self.config.upload_url_expiry())
            .unwrap_or(chrono::Duration::MAX);
        let now = self.clock.now();
        let before = now.checked_sub_signed(expiry).unwrap_or(now);
        let mut expired = 0;
        for file in self.repository.stale_pending_files(before, limit).await? {
            let audit =
                AuditEntry::new(now, None, AuditAction::UploadExpired, AuditOutcome::Failure)
                    .case(file.case_id)
                    .file(file.id)
                    .details(format!(
                        "{} was not completed before its upload URL expired",
                        file.logical_path
                    ));
            if let Ok(Transition::Applied(_)) =
                self.repository.fail_file(file.id, now, &audit).await
            {
                expired += 1;
            }
        }
        Ok(expired)
    }

    /// Removes staging objects (see [`staging_key`](Self::staging_key)) whose upload is not
    /// pending any more, or has no record: bytes sent to an upload URL after its upload was
    /// completed, failed or deleted. At most `limit` are looked at.
    pub(super) async fn sweep_staging(&self, limit: usize) -> ServiceResult<usize> {
        let prefix = ObjectKey::new(Self::STAGING_PREFIX)
            .unwrap_or_else(|_| unreachable!("a constant valid key"));
        let mut swept = 0;
        let mut token = None;
        let mut looked = 0usize;
        loop {
            let page = self
                .storage
                .list(crate::storage::ListOptions {
                    prefix: Some(prefix.clone()),
                    max_keys: Some(limit.clamp(1, 1000)),
                    continuation_token: token,
                })
                .await?;
            looked += page.objects.len();
            swept += self.sweep_page(page.objects).await?;
            token = page.next_token;
            // Pending uploads are kept: look past them, within a bound per purge.
            if token.is_none() || looked >= limit.saturating_mul(10) {
                return Ok(swept);
            }
        }
    }

    pub(super) async fn sweep_page(
        &self,
        objects: Vec<crate::storage::ObjectSummary>,
    ) -> ServiceResult<usize> {
        let mut swept = 0;
        for object in objects {
            let Some((_, file_id)) = Self::parse_staging_key(&object.key) else {
                continue;
            };
            let pending = matches!(
                self.repository.get_file(file_id).await?,
                Some(f) if f.status == FileStatus::Pending
            );
            if !pending && self.storage.delete(&object.key).await.is_ok() {
                swept += 1;
            }
        }
        Ok(swept)
    }

    /// Removes a failed or deleted file's object and records it; `false` when either step failed
    /// (the next purge tries again).
    pub(super) async fn remove_object(&self, file: &CaseFile) -> bool {
        // Asked again right before the bytes go: a hold placed after the delete keeps them.
        if file.completed_at.is_some() {
            match self.repository.protection(file.id).await {
                Ok(p) if !p.held() && !p.retained_at(self.clock.now()) => {}
                _ => return false,
            }
        }
        let staging = Self::staging_key(file.case_id, file.id);
        if self.storage.delete(&staging).await.is_err()
            || self.storage.delete(&file.storage_key).await.is_err()
        {
            return false;
        }
        let audit = AuditEntry::new(
            self.clock.now(),
            None,
            AuditAction::ObjectPurged,
            AuditOutcome::Success,
        )
        .case(file.case_id)
        .file(file.id);
        self.repository
            .mark_purged(file.id, self.clock.now(), &audit)
            .await
            .is_ok()
    }
}
