//! The steps uploads share: validating the declaration, recording the pending file under the
//! open-upload caps, hashing what reached the store, and settling the file (completed, or failed
//! and audited).

#[allow(unused_imports)]
use super::*;

/// What an upload declares, validated: where it goes, its name, type and size.
pub(super) struct Declared {
    pub(super) path: LogicalPath,
    pub(super) name: FileName,
    pub(super) mime: String,
    pub(super) size: u64,
}

impl LegalFileService {
    pub(super) fn validate_upload(
        &self,
        request: &NewUpload,
    ) -> ServiceResult<(Declared, Option<Sha256>)> {
        let path = LogicalPath::parse(&request.logical_path)
            .map_err(|e| ServiceError::invalid("logical_path", e.reason))?;
        let name = match &request.file_name {
            Some(name) => {
                FileName::parse(name).map_err(|e| ServiceError::invalid("file_name", e.reason))?
            }
            None => FileName::parse(path.file_name())
                .map_err(|e| ServiceError::invalid("logical_path", e.reason))?,
        };
        let mime = match &request.mime_type {
            Some(mime) => {
                content::validate_content_type(mime).map_err(|_| {
                    ServiceError::invalid("mime_type", format!("{mime:?} is not a media type"))
                })?;
                mime.clone()
            }
            None => ObjectKey::new(format!("x/{}", name.as_str()))
                .ok()
                .and_then(|k| content::content_type_from_extension(&k))
                .unwrap_or_else(|| content::OCTET_STREAM.to_owned()),
        };
        let limit = self.config.max_file_size();
        if request.file_size > limit {
            return Err(ServiceError::TooLarge {
                size: request.file_size,
                limit,
            });
        }
        let sha = request
            .content_hash
            .as_deref()
            .map(Sha256::from_hex)
            .transpose()
            .map_err(|e| ServiceError::invalid("content_hash", e.to_string()))?;
        let declared = Declared {
            path,
            name,
            mime,
            size: request.file_size,
        };
        Ok((declared, sha))
    }

    pub(super) fn pending_file(
        &self,
        id: FileId,
        user: UserId,
        case_id: CaseId,
        declared: Declared,
        sha256: Sha256,
    ) -> CaseFile {
        let Declared {
            path: logical_path,
            name: file_name,
            mime: mime_type,
            size: declared_size,
        } = declared;
        let now = self.clock.now();
        CaseFile {
            id,
            case_id,
            logical_path,
            file_name,
            mime_type,
            declared_size,
            actual_size: None,
            sha256,
            storage_key: Self::storage_key(case_id, id),
            status: FileStatus::Pending,
            uploaded_by: user,
            created_at: now,
            updated_at: now,
            completed_at: None,
            purged_at: None,
        }
    }

    /// Refuses a new upload when the caller or the case is at its cap of open uploads. The count
    /// and the insert are not one transaction: concurrent starts may pass the cap by a few, which
    /// a cap against runaway clients tolerates.
    pub(super) async fn check_open_uploads(&self, user: UserId, case: CaseId) -> ServiceResult<()> {
        let expiry = chrono::Duration::from_std(self.config.upload_url_expiry())
            .unwrap_or(chrono::Duration::MAX);
        let now = self.clock.now();
        let since = now.checked_sub_signed(expiry).unwrap_or(now);
        let open = self.repository.open_uploads(case, user, since).await?;
        let (per_case, per_user) = (
            self.config.max_open_uploads_per_case(),
            self.config.max_open_uploads_per_user(),
        );
        if open.in_case >= per_case {
            return Err(ServiceError::TooManyOpenUploads {
                scope: "in this case",
                limit: per_case,
            });
        }
        if open.by_user >= per_user {
            return Err(ServiceError::TooManyOpenUploads {
                scope: "by this user",
                limit: per_user,
            });
        }
        Ok(())
    }

    pub(super) async fn record_pending(&self, user: UserId, file: &CaseFile) -> ServiceResult<()> {
        let audit = self
            .audit(user, AuditAction::UploadInitiated, AuditOutcome::Success)
            .case(file.case_id)
            .file(file.id)
            .details(format!(
                "{} ({} bytes, sha256 {})",
                file.logical_path, file.declared_size, file.sha256
            ));
        let expiry = chrono::Duration::from_std(self.config.upload_url_expiry())
            .unwrap_or(chrono::Duration::MAX);
        let stale_before = file.created_at - expiry;
        self.repository
            .insert_pending_file(file, stale_before, &audit)
            .await?;
        Ok(())
    }

    /// SHA-256, size and first bytes of a stored object, in one streaming pass.
    pub(super) async fn hash_object(
        &self,
        key: &ObjectKey,
    ) -> ServiceResult<(Sha256, u64, Vec<u8>)> {
        let mut found = self.storage.download_stream(key, None).await?;
        let mut hasher = ContentHasher::new();
        let mut prefix = Vec::with_capacity(SNIFF_LEN);
        while let Some(chunk) = found.body.next().await {
            let chunk = chunk?;
            if prefix.len() < SNIFF_LEN {
                let take = chunk.len().min(SNIFF_LEN - prefix.len());
                prefix.extend_from_slice(&chunk[..take]);
            }
            hasher.update(&chunk);
        }
        let (sha, size) = hasher.finish();
        Ok((sha, size, prefix))
    }

    /// The checks common to both upload paths once hash and size are known, then completion.
    pub(super) async fn finish(
        &self,
        user: UserId,
        file: CaseFile,
        sha256: Sha256,
        size: u64,
        prefix: &[u8],
    ) -> ServiceResult<CaseFile> {
        if sha256 != file.sha256 {
            return Err(self
                .reject(user, &file, IntegrityField::Sha256, file.sha256, sha256)
                .await);
        }
        let sniffed = content::content_type_from_bytes(prefix);
        if mime_contradicts(&file.mime_type, sniffed.as_deref()) {
            let actual = sniffed.unwrap_or_else(|| "unrecognised content".to_owned());
            return Err(self
                .reject(
                    user,
                    &file,
                    IntegrityField::MimeType,
                    file.mime_type.clone(),
                    actual,
                )
                .await);
        }
        let mime_type = settled_mime_type(&file.mime_type, file.file_name.as_str(), prefix);
        let retyped = if mime_type == file.mime_type {
            String::new()
        } else {
            format!(", type {mime_type} (declared {})", file.mime_type)
        };
        let audit = self
            .audit(user, AuditAction::UploadCompleted, AuditOutcome::Success)
            .case(file.case_id)
            .file(file.id)
            .details(format!("verified {size} bytes, sha256 {sha256}{retyped}"));
        match self
            .repository
            .complete_file(file.id, size, &mime_type, self.clock.now(), &audit)
            .await
        {
            // Unchanged: a concurrent completion of the same upload won, with the same bytes.
            Ok(transition) => Ok(transition.into_file()),
            Err(PersistenceError::Conflict { what }) => {
                // Deleted, failed or expired while its bytes were arriving: whatever reached the
                // store belongs to no live file, and a purge of the tombstone may already have
                // run. Remove it here.
                if let Ok(Some(current)) = self.repository.get_file(file.id).await
                    && !current.status.is_live()
                {
                    self.remove_object(&current).await;
                }
                Err(ServiceError::Conflict {
                    reason: format!("the upload cannot complete: {what}"),
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Fails the upload (audited with what differed), removes its object, and returns the error
    /// for the caller.
    pub(super) async fn reject(
        &self,
        user: UserId,
        file: &CaseFile,
        field: IntegrityField,
        expected: impl ToString,
        actual: impl ToString,
    ) -> ServiceError {
        let error = ServiceError::IntegrityMismatch {
            field,
            expected: expected.to_string(),
            actual: actual.to_string(),
        };
        self.abandon(user, file, &error.to_string()).await;
        match self.repository.get_file(file.id).await {
            // A concurrent completion of the same, verified, bytes won the race.
            Ok(Some(current)) if current.status == FileStatus::Completed => {
                ServiceError::Conflict {
                    reason: "the file was completed concurrently".to_owned(),
                }
            }
            _ => error,
        }
    }

    /// Marks a pending upload failed (audited with `why`) and removes whatever reached storage.
    pub(super) async fn abandon(&self, user: UserId, file: &CaseFile, why: &str) {
        let audit = self
            .audit(user, AuditAction::UploadFailed, AuditOutcome::Failure)
            .case(file.case_id)
            .file(file.id)
            .details(why);
        if let Ok(Transition::Applied(failed)) = self
            .repository
            .fail_file(file.id, self.clock.now(), &audit)
            .await
        {
            self.remove_object(&failed).await;
        }
        // Otherwise the file is not pending any more, or the database failed: a failed file
        // left pending keeps its object until it is superseded and purged.
    }
}
