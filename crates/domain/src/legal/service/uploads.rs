//! Uploads: the two-phase upload (begin, then complete once the bytes are in the store) and the
//! one-request upload through the service, each verified before it is recorded.

use super::upload_steps::Declared;
#[allow(unused_imports)]
use super::*;

impl LegalFileService {
    /// Starts a two-phase upload: records a pending file and returns a presigned upload bound to
    /// the declared size, type and hash wherever the backend can bind them.
    ///
    /// # Errors
    /// [`ServiceError::InvalidInput`] (which field, why), [`ServiceError::TooLarge`],
    /// [`ServiceError::NotFound`] for a case `user` is not a member of, [`ServiceError::Forbidden`]
    /// for viewers and auditors, [`ServiceError::Conflict`]
    /// when a live file holds the logical path.
    pub async fn init_file_upload(
        &self,
        user: UserId,
        case_id: CaseId,
        request: NewUpload,
    ) -> ServiceResult<InitiatedUpload> {
        let (declared, sha) = self.validate_upload(&request)?;
        let sha = sha.ok_or_else(|| {
            ServiceError::invalid(
                "content_hash",
                "a presigned upload needs the SHA-256 up front",
            )
        })?;
        self.authorize_case(user, case_id, Permission::Upload)
            .await?;
        self.check_open_uploads(user, case_id).await?;
        let file = self.pending_file(FileId::new(), user, case_id, declared, sha);
        let upload = self
            .storage
            .presigned_upload(
                &Self::staging_key(case_id, file.id),
                PresignUploadRequest {
                    content_type: file.mime_type.clone(),
                    expires_in: self.config.upload_url_expiry(),
                    max_size: file.declared_size,
                    sha256: Some(file.sha256),
                },
            )
            .await?;
        self.record_pending(user, &file).await?;
        Ok(InitiatedUpload { file, upload })
    }

    /// Completes a two-phase upload: the object must exist, have the declared size, the declared
    /// SHA-256 (computed by streaming it, unless the backend verified it itself) and a content
    /// type that does not contradict the declared one. Then the file is completed and the case
    /// statistics updated, atomically. Idempotent: completing a completed file returns it.
    ///
    /// On a mismatch the file is failed (audited with what differed), its object removed, and the
    /// caller gets [`ServiceError::IntegrityMismatch`].
    ///
    /// # Errors
    /// [`ServiceError::NotFound`], [`ServiceError::UploadMissing`] (the file stays pending),
    /// [`ServiceError::IntegrityMismatch`], [`ServiceError::Conflict`] for a failed upload.
    pub async fn complete_file_upload(
        &self,
        user: UserId,
        file_id: FileId,
    ) -> ServiceResult<CaseFile> {
        let file = self
            .authorize_file(user, file_id, Permission::Upload)
            .await?;
        match file.status {
            FileStatus::Completed => return Ok(file),
            FileStatus::Failed => {
                return Err(ServiceError::Conflict {
                    reason: "the upload failed verification; start a new one".to_owned(),
                });
            }
            FileStatus::Deleted => return Err(ServiceError::NotFound { what: "file" }),
            FileStatus::Pending => {}
        }
        // One verification of a file at a time: a second request for a multi-GiB file would
        // read it all again for nothing. (Across instances the compare-and-set on the status
        // still makes the completion one transition.)
        let _lease = self.lease_completion(file.id)?;
        // The verified copy lives where no upload grant reaches; what the grant can still write
        // (the staging key) is never served. Size and digest are checked on the copy below.
        let staging = Self::staging_key(file.case_id, file.id);
        let copied = match self.storage.copy(&staging, &file.storage_key).await {
            Ok(copied) => Some(copied),
            // Nothing staged: not uploaded yet, or moved already (by a concurrent completion,
            // or one that stopped before recording).
            Err(StorageError::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        let moved = copied.is_some();
        let object = if moved {
            copied
        } else {
            self.storage.head(&file.storage_key).await?
        };
        let Some(object) = object else {
            let audit = self
                .audit(user, AuditAction::UploadFailed, AuditOutcome::Failure)
                .case(file.case_id)
                .file(file.id)
                .details("completion asked before the object reached storage");
            self.repository.append_audit(&audit).await?;
            return Err(ServiceError::UploadMissing);
        };
        if object.size != file.declared_size {
            return Err(self
                .reject(
                    user,
                    &file,
                    IntegrityField::Size,
                    file.declared_size,
                    object.size,
                )
                .await);
        }
        let trusted = self.storage.capabilities().presigned_upload_verifies_sha256
            && object.sha256 == Some(file.sha256);
        let verified = self.verify_stored(user, file, object, trusted).await;
        if moved && verified.is_ok() {
            // Only once the completion is recorded: a concurrent completion may still be
            // copying from it. Failing here leaves a staging object that purge sweeps.
            let _ = self.storage.delete(&staging).await;
        }
        match verified {
            // The object went away while it was read (a delete or a purge raced this): nothing
            // is there to complete.
            Err(ServiceError::Storage(StorageError::NotFound { .. })) => {
                match self.repository.get_file(file_id).await? {
                    Some(f) if f.status.is_live() => Err(ServiceError::UploadMissing),
                    _ => Err(ServiceError::NotFound { what: "file" }),
                }
            }
            // Deleted while it was verified: the completion has nothing left to complete.
            Err(conflict @ ServiceError::Conflict { .. }) => {
                match self.repository.get_file(file_id).await? {
                    Some(f) if f.status == FileStatus::Deleted => Err(ServiceError::UploadMissing),
                    _ => Err(conflict),
                }
            }
            other => other,
        }
    }

    /// Hashes (unless `trusted`) and checks a stored upload, then completes it.
    async fn verify_stored(
        &self,
        user: UserId,
        file: CaseFile,
        object: StorageObject,
        trusted: bool,
    ) -> ServiceResult<CaseFile> {
        let (sha256, size, prefix) = if trusted {
            let prefix = if object.size == 0 {
                Vec::new()
            } else {
                let head = ByteRange::bounded(0, SNIFF_LEN as u64);
                self.storage
                    .download_range(&file.storage_key, head)
                    .await?
                    .to_vec()
            };
            (file.sha256, object.size, prefix)
        } else {
            self.hash_object(&file.storage_key).await?
        };
        if size != file.declared_size {
            return Err(self
                .reject(user, &file, IntegrityField::Size, file.declared_size, size)
                .await);
        }
        let done = self.finish(user, file, sha256, size, &prefix).await?;
        self.project_quietly(&done).await;
        Ok(done)
    }

    /// Uploads a file through the service from a stream: the same checks as a two-phase upload,
    /// on the bytes as they pass (no second read). A body longer than declared is cut off at the
    /// declared size plus one byte and refused.
    ///
    /// With a declared `content_hash` the pending file is recorded before the first byte moves,
    /// and the bytes must match it. Without one, the SHA-256 is computed as the bytes pass and
    /// the file is recorded once they are stored (its object is removed again if that fails);
    /// the size, MIME and path checks are the same.
    ///
    /// # Errors
    /// As [`init_file_upload`](Self::init_file_upload) and
    /// [`complete_file_upload`](Self::complete_file_upload).
    pub async fn upload_file(
        &self,
        user: UserId,
        case_id: CaseId,
        request: NewUpload,
        body: ByteStream,
    ) -> ServiceResult<CaseFile> {
        let (declared, sha) = self.validate_upload(&request)?;
        self.authorize_case(user, case_id, Permission::Upload)
            .await?;
        self.check_open_uploads(user, case_id).await?;
        let id = FileId::new();
        let Some(sha) = sha else {
            return self
                .upload_computing_hash(user, case_id, id, declared, body)
                .await;
        };
        let file = self.pending_file(id, user, case_id, declared, sha);
        self.record_pending(user, &file).await?;
        let (body, prefix) = guard_upload(body, file.declared_size);
        let options = PutOptions::with_content_type(file.mime_type.clone());
        let stored = match self
            .storage
            .upload_stream(&file.storage_key, body, options)
            .await
        {
            Ok(stored) => stored,
            Err(StorageError::TooLarge { .. }) => {
                let actual = format!("more than {}", file.declared_size);
                return Err(self
                    .reject(
                        user,
                        &file,
                        IntegrityField::Size,
                        file.declared_size,
                        actual,
                    )
                    .await);
            }
            Err(e) => {
                self.abandon(user, &file, &format!("upload failed: {e}"))
                    .await;
                return Err(e.into());
            }
        };
        self.settle_streamed(user, file, stored, &prefix.bytes())
            .await
    }

    /// [`upload_file`](Self::upload_file) without a declared SHA-256: store first (hashing), then
    /// record the file with the hash computed.
    async fn upload_computing_hash(
        &self,
        user: UserId,
        case_id: CaseId,
        id: FileId,
        declared: Declared,
        body: ByteStream,
    ) -> ServiceResult<CaseFile> {
        let Declared {
            path,
            name,
            mime,
            size,
        } = declared;
        let key = Self::storage_key(case_id, id);
        let (body, prefix) = guard_upload(body, size);
        let options = PutOptions::with_content_type(mime.clone());
        let failed = |why: String| {
            self.audit(user, AuditAction::UploadFailed, AuditOutcome::Failure)
                .case(case_id)
                .file(id)
                .details(why)
        };
        let stored = match self.storage.upload_stream(&key, body, options).await {
            Ok(stored) => stored,
            Err(e) => {
                let error = match e {
                    StorageError::TooLarge { .. } => ServiceError::IntegrityMismatch {
                        field: IntegrityField::Size,
                        expected: size.to_string(),
                        actual: format!("more than {size}"),
                    },
                    other => other.into(),
                };
                // Nothing was committed; the audit keeps the attempt.
                self.repository
                    .append_audit(&failed(format!("upload of {path} failed: {error}")))
                    .await?;
                return Err(error);
            }
        };
        let sha = match stored.sha256 {
            Some(sha) => sha,
            None => self.hash_object(&key).await?.0,
        };
        let declared = Declared {
            path,
            name,
            mime,
            size,
        };
        let file = self.pending_file(id, user, case_id, declared, sha);
        if let Err(e) = self.record_pending(user, &file).await {
            // The path is taken, or the database failed: the stored bytes belong to no file. Should
            // this delete fail too, the object stays under a key no record names, never served.
            let _ = self.storage.delete(&key).await;
            return Err(e);
        }
        self.settle_streamed(user, file, stored, &prefix.bytes())
            .await
    }

    /// After a streamed upload: the stored size must be the declared one, then the common
    /// checks and completion.
    async fn settle_streamed(
        &self,
        user: UserId,
        file: CaseFile,
        stored: StorageObject,
        prefix: &[u8],
    ) -> ServiceResult<CaseFile> {
        if stored.size != file.declared_size {
            return Err(self
                .reject(
                    user,
                    &file,
                    IntegrityField::Size,
                    file.declared_size,
                    stored.size,
                )
                .await);
        }
        let (sha256, size) = match stored.sha256 {
            Some(sha) => (sha, stored.size),
            // Every adapter records it; should one not, hash the stored bytes.
            None => match self.hash_object(&file.storage_key).await {
                Ok((sha, size, _)) => (sha, size),
                // Deleted while it was settled.
                Err(ServiceError::Storage(StorageError::NotFound { .. })) => {
                    return Err(ServiceError::NotFound { what: "file" });
                }
                Err(e) => return Err(e),
            },
        };
        let done = self.finish(user, file, sha256, size, prefix).await?;
        self.project_quietly(&done).await;
        Ok(done)
    }
}
