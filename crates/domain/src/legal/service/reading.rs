//! Reading files: metadata, verified downloads, ranges, download URLs and listings.

use super::*;

impl LegalFileService {
    /// A file (completed or still pending) of a case `user` is a member of, audited as viewed.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] for a file of a case `user` is not a member of, failed or
    /// deleted.
    pub async fn get_file(&self, user: UserId, file_id: FileId) -> ServiceResult<CaseFile> {
        let file = self
            .authorize_file(user, file_id, Permission::ReadFile)
            .await?;
        if !file.status.is_live() {
            return Err(ServiceError::NotFound { what: "file" });
        }
        let audit = self
            .audit(user, AuditAction::FileViewed, AuditOutcome::Success)
            .case(file.case_id)
            .file(file.id);
        self.repository.append_audit(&audit).await?;
        Ok(file)
    }

    /// Downloads a completed file as a stream, verified against its SHA-256 as it passes.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] for a file of a case `user` is not a member of, not completed or
    /// deleted; [`ServiceError::Forbidden`] for auditors.
    pub async fn download_file(
        &self,
        user: UserId,
        file_id: FileId,
    ) -> ServiceResult<FileDownload> {
        let file = self.completed_file(user, file_id).await?;
        let found = self
            .storage
            .download_stream(&file.storage_key, None)
            .await?;
        let audit = self
            .audit(user, AuditAction::FileDownloaded, AuditOutcome::Success)
            .case(file.case_id)
            .file(file.id);
        self.repository.append_audit(&audit).await?;
        let size = file.actual_size.unwrap_or(file.declared_size);
        let body = verify_download(
            found.body,
            file.sha256,
            size,
            Some(self.fixity_reporter(user, &file)),
        );
        Ok(FileDownload { file, body })
    }

    /// Part of a completed file, as a stream, audited as a download with the range in its
    /// details. **Not verified**: a range cannot be hashed against the whole file's SHA-256, so
    /// these bytes are exactly what the store returns; the fixity scrub covers them.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] as [`download_file`](Self::download_file); the storage's
    /// `RangeNotSatisfiable` and `InvalidInput` for a bad range.
    pub async fn download_file_range(
        &self,
        user: UserId,
        file_id: FileId,
        range: ByteRange,
    ) -> ServiceResult<(CaseFile, std::ops::Range<u64>, ByteStream)> {
        let file = self.completed_file(user, file_id).await?;
        let size = file.actual_size.unwrap_or(file.declared_size);
        // Judged against the recorded size, so every store answers alike; a suffix range of an
        // empty file selects nothing and is not satisfiable (RFC 9110, 14.1.3).
        range.resolve(size)?;
        if size == 0 {
            return Err(StorageError::RangeNotSatisfiable { range, size }.into());
        }
        let found = self
            .storage
            .download_stream(&file.storage_key, Some(range))
            .await?;
        let audit = self
            .audit(user, AuditAction::FileDownloaded, AuditOutcome::Success)
            .case(file.case_id)
            .file(file.id)
            .details(format!("bytes {}..{}", found.range.start, found.range.end));
        self.repository.append_audit(&audit).await?;
        Ok((file, found.range, found.body))
    }

    /// A short-lived URL that downloads a completed file as an attachment with its file name.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] as [`download_file`](Self::download_file).
    pub async fn get_download_url(
        &self,
        user: UserId,
        file_id: FileId,
    ) -> ServiceResult<PresignedDownload> {
        let file = self.completed_file(user, file_id).await?;
        let url = self
            .storage
            .presigned_download(
                &file.storage_key,
                PresignDownloadRequest {
                    expires_in: self.config.download_url_expiry(),
                    file_name: Some(file.file_name.to_string()),
                },
            )
            .await?;
        let audit = self
            .audit(user, AuditAction::DownloadUrlIssued, AuditOutcome::Success)
            .case(file.case_id)
            .file(file.id)
            .details(format!("expires at {}", url.expires_at.to_rfc3339()));
        self.repository.append_audit(&audit).await?;
        Ok(url)
    }

    /// A page of the completed files of a case, by logical path, under an optional folder.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] for a case `user` is not a member of; [`ServiceError::InvalidInput`]
    /// for a bad prefix, cursor or limit.
    pub async fn list_case_files(
        &self,
        user: UserId,
        case_id: CaseId,
        request: ListFiles,
    ) -> ServiceResult<FilePage> {
        let limit = request.limit.unwrap_or(DEFAULT_FILE_PAGE);
        if !(1..=MAX_FILE_PAGE).contains(&limit) {
            return Err(ServiceError::invalid("limit", "must be within 1..=1000"));
        }
        let prefix = Self::list_prefix(request.prefix.as_deref())?;
        // A folder's cursor (`a/b/`, from a listing with folders) resumes after everything in it.
        let (after, from) = match request.cursor.as_deref() {
            None => (None, None),
            Some(c) if request.delimiter && c.ends_with('/') => {
                LogicalPath::parse(c.trim_end_matches('/'))
                    .map_err(|e| ServiceError::invalid("cursor", e.reason))?;
                (None, Some(folder_end(c)))
            }
            Some(c) => (
                Some(LogicalPath::parse(c).map_err(|e| ServiceError::invalid("cursor", e.reason))?),
                None,
            ),
        };
        self.authorize_case(user, case_id, Permission::ReadFile)
            .await?;
        let page = if request.delimiter {
            self.list_level(case_id, prefix, after, from, limit).await?
        } else {
            let query = FileQuery {
                prefix,
                after,
                from,
                limit: limit + 1,
            };
            let mut files = self.repository.list_files(case_id, &query).await?;
            let next_cursor = if files.len() > limit {
                files.truncate(limit);
                files.last().map(|f| f.logical_path.to_string())
            } else {
                None
            };
            FilePage {
                files,
                folders: Vec::new(),
                next_cursor,
            }
        };
        let audit = self
            .audit(user, AuditAction::FilesListed, AuditOutcome::Success)
            .case(case_id);
        self.repository.append_audit(&audit).await?;
        Ok(page)
    }

    /// One level of a folder listing: files directly under `prefix` and each sub-folder once,
    /// in path order, `limit` of them. A sub-folder costs one query (the next one starts after
    /// everything in it), whatever it holds.
    async fn list_level(
        &self,
        case_id: CaseId,
        prefix: Option<String>,
        mut after: Option<LogicalPath>,
        mut from: Option<String>,
        limit: usize,
    ) -> ServiceResult<FilePage> {
        enum Entry {
            File(Box<CaseFile>),
            Folder(String),
        }
        let base = prefix.clone().unwrap_or_default();
        let mut entries: Vec<Entry> = Vec::new();
        while entries.len() <= limit {
            let wanted = limit + 1 - entries.len();
            let query = FileQuery {
                prefix: prefix.clone(),
                after: after.clone(),
                from: from.clone(),
                limit: wanted,
            };
            let batch = self.repository.list_files(case_id, &query).await?;
            let exhausted = batch.len() < wanted;
            let mut jumped = false;
            for file in batch {
                let rest = file
                    .logical_path
                    .as_str()
                    .get(base.len()..)
                    .unwrap_or_default();
                if let Some(slash) = rest.find('/') {
                    let folder = format!("{base}{}", &rest[..=slash]);
                    from = Some(folder_end(&folder));
                    after = None;
                    entries.push(Entry::Folder(folder));
                    jumped = true;
                    break;
                }
                after = Some(file.logical_path.clone());
                entries.push(Entry::File(Box::new(file)));
            }
            if exhausted && !jumped {
                break;
            }
        }
        let next_cursor = if entries.len() > limit {
            entries.truncate(limit);
            entries.last().map(|e| match e {
                Entry::File(f) => f.logical_path.to_string(),
                Entry::Folder(folder) => folder.clone(),
            })
        } else {
            None
        };
        let (mut files, mut folders) = (Vec::new(), Vec::new());
        for entry in entries {
            match entry {
                Entry::File(f) => files.push(*f),
                Entry::Folder(folder) => folders.push(folder),
            }
        }
        Ok(FilePage {
            files,
            folders,
            next_cursor,
        })
    }
}

/// The first string after every path inside `folder` (which ends in `/`): the same with its
/// last `/` replaced by the next byte, `0`.
fn folder_end(folder: &str) -> String {
    format!("{}0", folder.trim_end_matches('/'))
}
