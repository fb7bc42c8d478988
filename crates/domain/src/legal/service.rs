//! [`LegalFileService`]: cases, two-phase verified uploads, access checks and the audit trail.

use std::sync::Arc;

use futures::StreamExt;

use crate::content::{self, ContentHasher, SNIFF_LEN, Sha256};
use crate::error::StorageError;
use crate::legal::body::{OnMismatch, guard_upload, verify_download};
use crate::legal::{
    AuditAction, AuditEntry, AuditId, AuditOutcome, AuditQuery, Case, CaseFile, CaseId,
    CaseRepository, Clock, FileId, FileName, FileQuery, FileStatus, HoldId, HoldRelease, HoldScope,
    IntegrityField, LegalHold, LogicalPath, Member, MemberCase, MemberChange, NewHold, Permission,
    PersistenceError, Protection, Role, ServiceConfig, ServiceError, ServiceResult, Transition,
    UserId, UserProfile,
};
use crate::storage::{
    ByteRange, ByteStream, ObjectKey, ObjectStorage, ObjectStorageExt, PresignDownloadRequest,
    PresignUploadRequest, PresignedDownload, PresignedUpload, PutOptions, StorageObject,
};

/// The longest case title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// The default page of [`LegalFileService::list_case_files`].
pub const DEFAULT_FILE_PAGE: usize = 100;
/// The largest page of [`LegalFileService::list_case_files`].
pub const MAX_FILE_PAGE: usize = 1000;

/// MIME types of native executables: content sniffed as one of these never passes as anything
/// else.
const EXECUTABLES: &[&str] = &[
    "application/x-executable",
    "application/x-pie-executable",
    "application/x-sharedlib",
    "application/x-mach-binary",
    "application/x-msdownload",
    "application/x-dosexec",
    "application/vnd.microsoft.portable-executable",
    "application/x-elf",
];

/// Declared types whose files always start with a recognisable signature: the sniffed type must
/// be the declared one.
const SIGNED_TYPES: &[&str] = &[
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
];

/// Whether the type sniffed from the first bytes contradicts the declared one: an executable
/// declared as anything but an executable, or a signature type (PDF, PNG, ...) whose signature
/// is not there. Other combinations are not judged: sniffing is a heuristic.
pub fn mime_contradicts(declared: &str, sniffed: Option<&str>) -> bool {
    let declared = declared
        .split(';')
        .next()
        .unwrap_or(declared)
        .trim()
        .to_ascii_lowercase();
    if let Some(sniffed) = sniffed
        && EXECUTABLES.contains(&sniffed)
        && !EXECUTABLES.contains(&declared.as_str())
    {
        return true;
    }
    SIGNED_TYPES.contains(&declared.as_str()) && sniffed != Some(declared.as_str())
}

/// Types that describe how a request was sent, never a file's content (curl's default for
/// `--data-binary` is the first).
const TRANSFER_TYPES: &[&str] = &[
    "application/x-www-form-urlencoded",
    "multipart/",
    "message/",
];

fn essence(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or(mime)
        .trim()
        .to_ascii_lowercase()
}

/// The type recorded for a verified file: detection decides, and a client's `claimed` type is
/// kept only when it is consistent with the bytes.
///
/// - A transfer type (`application/x-www-form-urlencoded`, `multipart/*`, `message/*`) never
///   describes a file: it is replaced by what the bytes or the file name tell.
/// - The claim is kept when the bytes confirm it (the sniffed type, or the claim's own signature
///   in the MIME database), when the bytes tell nothing specific (no signature, `text/plain`),
///   or when the file name's extension says the same (`report.docx` sniffed as a ZIP container).
/// - Otherwise the sniffed type is recorded.
///
/// Contradictions that refuse the upload (see [`mime_contradicts`]) are judged before this.
pub fn settled_mime_type(claimed: &str, file_name: &str, first_bytes: &[u8]) -> String {
    let claim = essence(claimed);
    let sniffed = content::content_type_from_bytes(first_bytes);
    let by_name = ObjectKey::new(format!("x/{file_name}"))
        .ok()
        .and_then(|k| content::content_type_from_extension(&k));
    let specific = sniffed.clone().filter(|s| s != "text/plain");
    if TRANSFER_TYPES.iter().any(|t| claim.starts_with(t)) {
        return specific
            .or(by_name)
            .or(sniffed)
            .unwrap_or_else(|| content::OCTET_STREAM.to_owned());
    }
    let Some(specific) = specific else {
        return claimed.to_owned();
    };
    let confirmed = specific == claim
        || content::bytes_match_type(&claim, first_bytes)
        || by_name.as_deref().is_some_and(|n| essence(n) == claim);
    if confirmed {
        claimed.to_owned()
    } else {
        specific
    }
}

/// What a client declares to start an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUpload {
    /// Where the file goes in the case (see [`LogicalPath`]).
    pub logical_path: String,
    /// The name to download it as; the last segment of the path when `None`.
    pub file_name: Option<String>,
    /// Its MIME type; guessed from the file name when `None`.
    pub mime_type: Option<String>,
    /// Its exact size in bytes.
    pub file_size: u64,
    /// Its SHA-256, 64 hexadecimal digits. Required to initiate a presigned upload; optional for
    /// [`LegalFileService::upload_file`], which then computes it as the bytes pass.
    pub content_hash: Option<String>,
}

/// A started upload: the pending file and how to send its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitiatedUpload {
    /// The pending file.
    pub file: CaseFile,
    /// Where and how to upload the bytes.
    pub upload: PresignedUpload,
}

/// A download through the service.
pub struct FileDownload {
    /// The file.
    pub file: CaseFile,
    /// Its bytes, verified against the recorded SHA-256 as they pass: a mismatch ends the stream
    /// with [`StorageError::ChecksumMismatch`].
    pub body: ByteStream,
}

impl std::fmt::Debug for FileDownload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileDownload")
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

/// Which page of the caller's cases to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListCases {
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// The page size: 1 to [`MAX_FILE_PAGE`], [`DEFAULT_FILE_PAGE`] when `None`.
    pub limit: Option<usize>,
}

/// A page of cases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CasePage {
    /// The cases the caller is a member of, with their role, oldest first.
    pub cases: Vec<MemberCase>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Which files of a case to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFiles {
    /// Only files whose logical path starts with this string (a plain string prefix; one
    /// trailing `/` allowed: `pleadings/` for what is inside `pleadings`, `pleadings/com` for
    /// `pleadings/complaint.bin`).
    pub prefix: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// The page size: 1 to [`MAX_FILE_PAGE`], [`DEFAULT_FILE_PAGE`] when `None`.
    pub limit: Option<usize>,
}

/// A page of files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePage {
    /// Completed files, by logical path.
    pub files: Vec<CaseFile>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Which page of a case's audit trail to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditTrailQuery {
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// The page size: 1 to [`MAX_FILE_PAGE`], [`DEFAULT_FILE_PAGE`] when `None`.
    pub limit: Option<usize>,
}

/// A page of a case's audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditTrailPage {
    /// Entries, oldest first.
    pub entries: Vec<AuditEntry>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// What a purge did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Objects removed (and recorded as removed).
    pub purged: usize,
    /// Objects whose removal failed; they are tried again by the next purge.
    pub failed: usize,
    /// Pending uploads whose URL had expired, marked failed (their bytes purged with the rest).
    pub expired: usize,
    /// Staging objects removed because their upload was no longer pending (bytes sent to an
    /// upload URL after the upload was completed, failed or deleted).
    pub staging_swept: usize,
}

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

/// The legal file service: every operation asks one authorization decision — is the caller a
/// member of the case, and does their [`Role`] allow the [`Permission`] the operation needs — and
/// appends one audit entry, atomically with the change it describes. A caller who is not a
/// member gets [`ServiceError::NotFound`], exactly as for a missing case; a member whose role
/// does not allow the operation gets [`ServiceError::Forbidden`]; both are audited as
/// `access_denied`.
///
/// Storage keys are generated (`cases/{case_id}/files/{file_id}`), never derived from user
/// input; the logical path lives in the database only.
#[derive(Clone)]
pub struct LegalFileService {
    storage: Arc<dyn ObjectStorage>,
    repository: Arc<dyn CaseRepository>,
    clock: Arc<dyn Clock>,
    config: ServiceConfig,
    /// Files whose completion runs in this service (and its clones) now.
    completing: Arc<std::sync::Mutex<std::collections::HashSet<FileId>>>,
}

/// A file's completion slot, freed when dropped.
pub(crate) struct CompletionLease {
    completing: Arc<std::sync::Mutex<std::collections::HashSet<FileId>>>,
    file: FileId,
}

impl Drop for CompletionLease {
    fn drop(&mut self) {
        self.completing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.file);
    }
}

impl std::fmt::Debug for LegalFileService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LegalFileService")
            .field("storage", &self.storage.backend_name())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl LegalFileService {
    /// A service over these ports.
    pub fn new(
        storage: Arc<dyn ObjectStorage>,
        repository: Arc<dyn CaseRepository>,
        clock: Arc<dyn Clock>,
        config: ServiceConfig,
    ) -> Self {
        Self {
            storage,
            repository,
            clock,
            config,
            completing: Arc::default(),
        }
    }

    /// The completion slot of `file`, or a conflict while another completion of it runs here.
    pub(crate) fn lease_completion(&self, file: FileId) -> ServiceResult<CompletionLease> {
        let mut completing = self
            .completing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !completing.insert(file) {
            return Err(ServiceError::Conflict {
                reason: "a completion of this file is running: ask again for its result".to_owned(),
            });
        }
        Ok(CompletionLease {
            completing: Arc::clone(&self.completing),
            file,
        })
    }

    /// The limits in force.
    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    fn audit(&self, actor: UserId, action: AuditAction, outcome: AuditOutcome) -> AuditEntry {
        AuditEntry::new(self.clock.now(), Some(actor), action, outcome)
    }

    /// The storage key of a file: generated from ids only.
    pub fn storage_key(case: CaseId, file: FileId) -> ObjectKey {
        ObjectKey::new(format!(
            "cases/{}/files/{}",
            case.0.simple(),
            file.0.simple()
        ))
        .unwrap_or_else(|_| unreachable!("hex ids always make a valid key"))
    }

    /// The prefix of every staging key.
    pub const STAGING_PREFIX: &'static str = "uploads";

    /// The staging key of a two-phase upload: where its presigned URL points. Completion copies
    /// the verified bytes from here to [`storage_key`](Self::storage_key) (which no URL can
    /// write) and removes this object; a later upload to the same URL lands here again, never on
    /// the verified file, and [`purge`](Self::purge) sweeps it.
    pub fn staging_key(case: CaseId, file: FileId) -> ObjectKey {
        ObjectKey::new(format!(
            "{}/{}/{}",
            Self::STAGING_PREFIX,
            case.0.simple(),
            file.0.simple()
        ))
        .unwrap_or_else(|_| unreachable!("hex ids always make a valid key"))
    }

    /// The ids a staging key was made of, if it is one.
    pub fn parse_staging_key(key: &ObjectKey) -> Option<(CaseId, FileId)> {
        let mut parts = key.as_str().split('/');
        if parts.next() != Some(Self::STAGING_PREFIX) {
            return None;
        }
        let case = uuid::Uuid::try_parse(parts.next()?).ok()?;
        let file = uuid::Uuid::try_parse(parts.next()?).ok()?;
        parts
            .next()
            .is_none()
            .then_some((CaseId(case), FileId(file)))
    }

    /// Creates a case; `user` becomes its owner.
    ///
    /// # Errors
    /// [`ServiceError::InvalidInput`] for an empty, over-long or control-character title.
    pub async fn create_case(&self, user: UserId, title: &str) -> ServiceResult<Case> {
        let title = title.trim();
        if title.is_empty() || title.chars().count() > MAX_TITLE_CHARS {
            return Err(ServiceError::invalid(
                "title",
                "must be 1 to 200 characters",
            ));
        }
        if title.chars().any(char::is_control) {
            return Err(ServiceError::invalid(
                "title",
                "must not contain control characters",
            ));
        }
        let now = self.clock.now();
        let case = Case {
            id: CaseId::new(),
            created_by: user,
            title: title.to_owned(),
            retain_until: (self.config.default_retention_days() > 0).then(|| {
                now + chrono::Duration::days(i64::from(self.config.default_retention_days()))
            }),
            file_count: 0,
            total_size_bytes: 0,
            created_at: now,
            updated_at: now,
        };
        let audit = self
            .audit(user, AuditAction::CaseCreated, AuditOutcome::Success)
            .case(case.id);
        self.repository.create_case(&case, &audit).await?;
        Ok(case)
    }

    /// The case, with its statistics and the caller's role, for any member.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] when it is missing or `user` is not a member (audited as
    /// denied).
    pub async fn get_case(&self, user: UserId, case_id: CaseId) -> ServiceResult<MemberCase> {
        let case = self
            .authorize_case(user, case_id, Permission::ReadCase)
            .await?;
        let audit = self
            .audit(user, AuditAction::CaseViewed, AuditOutcome::Success)
            .case(case_id);
        self.repository.append_audit(&audit).await?;
        Ok(case)
    }

    /// The cases `user` is a member of, with their role, and only those.
    ///
    /// # Errors
    /// Persistence failures.
    pub async fn list_cases(&self, user: UserId, request: ListCases) -> ServiceResult<CasePage> {
        let limit = request.limit.unwrap_or(DEFAULT_FILE_PAGE);
        if !(1..=MAX_FILE_PAGE).contains(&limit) {
            return Err(ServiceError::invalid("limit", "must be within 1..=1000"));
        }
        let not_a_cursor = || ServiceError::invalid("cursor", "not a cursor of this listing");
        let after = request
            .cursor
            .as_deref()
            .map(|c| {
                uuid::Uuid::parse_str(c)
                    .map(CaseId)
                    .map_err(|_| not_a_cursor())
            })
            .transpose()?;
        let mut cases = match self.repository.list_cases(user, after, limit + 1).await {
            Ok(cases) => cases,
            Err(PersistenceError::NotFound { .. }) => return Err(not_a_cursor()),
            Err(e) => return Err(e.into()),
        };
        let next_cursor = if cases.len() > limit {
            cases.truncate(limit);
            cases.last().map(|c| c.case.id.0.to_string())
        } else {
            None
        };
        let audit = self.audit(user, AuditAction::CasesListed, AuditOutcome::Success);
        self.repository.append_audit(&audit).await?;
        Ok(CasePage { cases, next_cursor })
    }

    /// A page of the audit trail of a case, oldest first, for its owners and auditors.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] when the case is missing or `user` is not a member;
    /// [`ServiceError::Forbidden`] for editors and viewers;
    /// [`ServiceError::InvalidInput`] for a limit outside 1..=[`MAX_FILE_PAGE`] or a cursor that
    /// is not a `next_cursor` of this trail.
    pub async fn audit_trail(
        &self,
        user: UserId,
        case_id: CaseId,
        request: AuditTrailQuery,
    ) -> ServiceResult<AuditTrailPage> {
        let limit = request.limit.unwrap_or(DEFAULT_FILE_PAGE);
        if !(1..=MAX_FILE_PAGE).contains(&limit) {
            return Err(ServiceError::invalid("limit", "must be within 1..=1000"));
        }
        let after = request
            .cursor
            .as_deref()
            .map(|c| {
                uuid::Uuid::parse_str(c)
                    .map(AuditId)
                    .map_err(|_| ServiceError::invalid("cursor", "not a cursor of this trail"))
            })
            .transpose()?;
        self.authorize_case(user, case_id, Permission::ReadAudit)
            .await?;
        let query = AuditQuery {
            case_id: Some(case_id),
            after,
            limit: Some(limit + 1),
            ..AuditQuery::default()
        };
        let mut entries = match self.repository.list_audit(&query).await {
            Ok(entries) => entries,
            Err(PersistenceError::NotFound { .. }) => {
                return Err(ServiceError::invalid(
                    "cursor",
                    "not a cursor of this trail",
                ));
            }
            Err(e) => return Err(e.into()),
        };
        let next_cursor = if entries.len() > limit {
            entries.truncate(limit);
            entries.last().map(|e| e.id.0.to_string())
        } else {
            None
        };
        Ok(AuditTrailPage {
            entries,
            next_cursor,
        })
    }

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
        let (path, name, mime, size, sha) = self.validate_upload(&request)?;
        let sha = sha.ok_or_else(|| {
            ServiceError::invalid(
                "content_hash",
                "a presigned upload needs the SHA-256 up front",
            )
        })?;
        self.authorize_case(user, case_id, Permission::Upload)
            .await?;
        self.check_open_uploads(user, case_id).await?;
        let file = self.pending_file(FileId::new(), user, case_id, (path, name, mime, size, sha));
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
        let (path, name, mime, size, sha) = self.validate_upload(&request)?;
        self.authorize_case(user, case_id, Permission::Upload)
            .await?;
        self.check_open_uploads(user, case_id).await?;
        let id = FileId::new();
        let Some(sha) = sha else {
            return self
                .upload_computing_hash(user, case_id, id, (path, name, mime, size), body)
                .await;
        };
        let file = self.pending_file(id, user, case_id, (path, name, mime, size, sha));
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
        (path, name, mime, size): (LogicalPath, FileName, String, u64),
        body: ByteStream,
    ) -> ServiceResult<CaseFile> {
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
        let file = self.pending_file(id, user, case_id, (path, name, mime, size, sha));
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
        let parse = |field: &'static str, s: &Option<String>| {
            s.as_deref()
                .map(|s| LogicalPath::parse(s).map_err(|e| ServiceError::invalid(field, e.reason)))
                .transpose()
        };
        let prefix = Self::list_prefix(request.prefix.as_deref())?;
        let after = parse("cursor", &request.cursor)?;
        self.authorize_case(user, case_id, Permission::ReadFile)
            .await?;
        let query = FileQuery {
            prefix,
            after,
            limit: limit + 1,
        };
        let mut files = self.repository.list_files(case_id, &query).await?;
        let next_cursor = if files.len() > limit {
            files.truncate(limit);
            files.last().map(|f| f.logical_path.to_string())
        } else {
            None
        };
        let audit = self
            .audit(user, AuditAction::FilesListed, AuditOutcome::Success)
            .case(case_id);
        self.repository.append_audit(&audit).await?;
        Ok(FilePage { files, next_cursor })
    }

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
    async fn expire_pending(&self, limit: usize) -> ServiceResult<usize> {
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
    async fn sweep_staging(&self, limit: usize) -> ServiceResult<usize> {
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

    async fn sweep_page(
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

    /// The members of a case, with their roles and profiles, for any member.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] when the case is missing or `user` is not a member.
    pub async fn list_members(&self, user: UserId, case_id: CaseId) -> ServiceResult<Vec<Member>> {
        self.authorize_case(user, case_id, Permission::ReadMembers)
            .await?;
        let members = self.repository.list_members(case_id).await?;
        let audit = self
            .audit(user, AuditAction::MembersListed, AuditOutcome::Success)
            .case(case_id);
        self.repository.append_audit(&audit).await?;
        Ok(members)
    }

    /// Gives `member` the role `role` in the case (adding them when they are not a member), for
    /// owners. Audited with the old and the new role; giving a member the role they have
    /// changes (and audits) nothing.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] when the case is missing or `user` is not a member;
    /// [`ServiceError::Forbidden`] for editors, viewers and auditors; [`ServiceError::Conflict`]
    /// when demoting the last owner, or when the member's role changed concurrently.
    pub async fn set_member(
        &self,
        user: UserId,
        case_id: CaseId,
        member: UserId,
        role: Role,
    ) -> ServiceResult<Member> {
        self.authorize_case(user, case_id, Permission::ManageMembers)
            .await?;
        let current = self
            .repository
            .list_members(case_id)
            .await?
            .into_iter()
            .find(|m| m.user_id == member);
        let now = self.clock.now();
        let expected = current.as_ref().map(|m| m.role);
        let (action, details) = match expected {
            None => (
                AuditAction::MemberAdded,
                format!("{member} added as {role}"),
            ),
            Some(old) => (
                AuditAction::MemberRoleChanged,
                format!("{member}: {old} -> {role}"),
            ),
        };
        let record = Member {
            case_id,
            user_id: member,
            role,
            granted_by: Some(user),
            added_at: current.as_ref().map_or(now, |m| m.added_at),
            updated_at: now,
            profile: current.as_ref().and_then(|m| m.profile.clone()),
        };
        let audit = self
            .audit(user, action, AuditOutcome::Success)
            .case(case_id)
            .details(details);
        match self
            .repository
            .put_member(&record, expected, &audit)
            .await?
        {
            MemberChange::Applied { .. } => Ok(record),
            MemberChange::Unchanged => Ok(current.unwrap_or(record)),
        }
    }

    /// Removes `member` from the case, for owners; audited with the role they had.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] when the case is missing, `user` is not a member (`"case"`),
    /// or `member` is not one (`"member"`); [`ServiceError::Forbidden`] for editors, viewers and
    /// auditors; [`ServiceError::Conflict`] for the last owner.
    pub async fn remove_member(
        &self,
        user: UserId,
        case_id: CaseId,
        member: UserId,
    ) -> ServiceResult<()> {
        self.authorize_case(user, case_id, Permission::ManageMembers)
            .await?;
        let Some((_, Some(role))) = self.repository.case_for_member(case_id, member).await? else {
            return Err(ServiceError::NotFound { what: "member" });
        };
        let audit = self
            .audit(user, AuditAction::MemberRemoved, AuditOutcome::Success)
            .case(case_id)
            .details(format!("{member} removed (was {role})"));
        match self
            .repository
            .remove_member(case_id, member, role, &audit)
            .await
        {
            Err(PersistenceError::NotFound { .. }) => {
                Err(ServiceError::NotFound { what: "member" })
            }
            other => Ok(other?),
        }
    }

    /// Keeps what the identity provider says about `user` (name, e-mail) for member lists.
    /// An empty profile is not kept.
    ///
    /// # Errors
    /// Persistence failures.
    pub async fn remember_user(&self, user: UserId, profile: &UserProfile) -> ServiceResult<()> {
        if profile.is_empty() {
            return Ok(());
        }
        self.repository
            .remember_user(user, profile, self.clock.now())
            .await?;
        Ok(())
    }

    /// Places a legal hold on the case (whole case when `request.scope` is `None`), for owners.
    /// From now on nothing it covers — files uploaded later included, for a case or prefix
    /// scope — can be deleted or purged until it is released. Audited `hold_placed`.
    ///
    /// # Errors
    /// [`ServiceError::InvalidInput`] for an empty or over-long name or reason, an invalid
    /// prefix or an empty file list; [`ServiceError::NotFound`] when the case is missing or
    /// `user` is not a member, or a listed file is not a file of this case;
    /// [`ServiceError::Forbidden`] for editors, viewers and auditors.
    pub async fn place_hold(
        &self,
        user: UserId,
        case_id: CaseId,
        request: NewHold,
    ) -> ServiceResult<LegalHold> {
        let name = Self::hold_text("name", &request.name, 200)?;
        let reason = Self::hold_text("reason", &request.reason, 2000)?;
        let scope = match request.scope.unwrap_or(HoldScope::Case) {
            HoldScope::Case => HoldScope::Case,
            HoldScope::Prefix { prefix } => match Self::list_prefix(Some(&prefix))? {
                Some(prefix) => HoldScope::Prefix { prefix },
                None => {
                    return Err(ServiceError::invalid(
                        "scope",
                        "an empty prefix: hold the case instead",
                    ));
                }
            },
            HoldScope::Files { mut file_ids } => {
                file_ids.sort();
                file_ids.dedup();
                if file_ids.is_empty() || file_ids.len() > 10_000 {
                    return Err(ServiceError::invalid(
                        "scope",
                        "between 1 and 10000 file ids",
                    ));
                }
                HoldScope::Files { file_ids }
            }
        };
        self.authorize_case(user, case_id, Permission::ManageHolds)
            .await?;
        if let HoldScope::Files { file_ids } = &scope {
            for id in file_ids {
                match self.repository.get_file(*id).await? {
                    Some(f) if f.case_id == case_id => {}
                    _ => return Err(ServiceError::NotFound { what: "file" }),
                }
            }
        }
        let hold = LegalHold {
            id: HoldId::new(),
            case_id,
            scope,
            name,
            reason,
            placed_by: user,
            placed_at: self.clock.now(),
            release: None,
        };
        let audit = self
            .audit(user, AuditAction::HoldPlaced, AuditOutcome::Success)
            .case(case_id)
            .details(format!(
                "hold {} ({}) on {}",
                hold.id,
                hold.name,
                Self::scope_text(&hold.scope)
            ));
        self.repository.place_hold(&hold, &audit).await?;
        self.project_scope(case_id, Some(&hold.scope)).await?;
        Ok(hold)
    }

    /// The holds of a case, active and released, oldest first, for any member. Audited
    /// `holds_listed`.
    ///
    /// # Errors
    /// [`ServiceError::NotFound`] when the case is missing or `user` is not a member.
    pub async fn list_holds(&self, user: UserId, case_id: CaseId) -> ServiceResult<Vec<LegalHold>> {
        self.authorize_case(user, case_id, Permission::ReadCase)
            .await?;
        let holds = self.repository.list_holds(case_id).await?;
        let audit = self
            .audit(user, AuditAction::HoldsListed, AuditOutcome::Success)
            .case(case_id);
        self.repository.append_audit(&audit).await?;
        Ok(holds)
    }

    /// Releases a hold, for owners of its case; what it covered stays held while another active
    /// hold covers it. Audited `hold_released`.
    ///
    /// # Errors
    /// [`ServiceError::InvalidInput`] for an empty or over-long reason; [`ServiceError::NotFound`]
    /// for an unknown hold or one of a case `user` is not a member of; [`ServiceError::Forbidden`]
    /// for editors, viewers and auditors; [`ServiceError::Conflict`] when it is released already.
    pub async fn release_hold(
        &self,
        user: UserId,
        hold_id: HoldId,
        reason: &str,
    ) -> ServiceResult<LegalHold> {
        let reason = Self::hold_text("reason", reason, 2000)?;
        let Some(hold) = self.repository.get_hold(hold_id).await? else {
            self.deny(user, None, None, Some(format!("unknown hold {hold_id}")))
                .await?;
            return Err(ServiceError::NotFound { what: "hold" });
        };
        match self
            .authorize_case(user, hold.case_id, Permission::ManageHolds)
            .await
        {
            Err(ServiceError::NotFound { .. }) => {
                return Err(ServiceError::NotFound { what: "hold" });
            }
            other => other?,
        };
        if !hold.is_active() {
            return Err(ServiceError::Conflict {
                reason: "the hold is released already".into(),
            });
        }
        let release = HoldRelease {
            released_by: user,
            released_at: self.clock.now(),
            reason,
        };
        let audit = self
            .audit(user, AuditAction::HoldReleased, AuditOutcome::Success)
            .case(hold.case_id)
            .details(format!(
                "hold {} ({}) released: {}",
                hold.id, hold.name, release.reason
            ));
        self.repository
            .release_hold(hold.id, &release, &audit)
            .await?;
        self.project_scope(hold.case_id, Some(&hold.scope)).await?;
        Ok(LegalHold {
            release: Some(release),
            ..hold
        })
    }

    /// Sets or extends the case's retention: nothing in it can be deleted before `until`.
    /// Retention is extended, never shortened. For owners; audited `retention_set`.
    ///
    /// # Errors
    /// [`ServiceError::InvalidInput`] for a date that is not in the future;
    /// [`ServiceError::NotFound`] when the case is missing or `user` is not a member;
    /// [`ServiceError::Forbidden`] for editors, viewers and auditors; [`ServiceError::Conflict`]
    /// for a date before the one in force.
    pub async fn set_retention(
        &self,
        user: UserId,
        case_id: CaseId,
        until: chrono::DateTime<chrono::Utc>,
    ) -> ServiceResult<MemberCase> {
        if until <= self.clock.now() {
            return Err(ServiceError::invalid(
                "retain_until",
                "must be in the future",
            ));
        }
        let mut case = self
            .authorize_case(user, case_id, Permission::ManageHolds)
            .await?;
        if let Some(current) = case.case.retain_until
            && until < current
        {
            return Err(ServiceError::Conflict {
                reason: format!(
                    "retention can be extended, never shortened (it runs until {current})"
                ),
            });
        }
        let details = match case.case.retain_until {
            Some(current) => format!("retention extended from {current} to {until}"),
            None => format!("retention set until {until}"),
        };
        let audit = self
            .audit(user, AuditAction::RetentionSet, AuditOutcome::Success)
            .case(case_id)
            .details(details);
        self.repository
            .set_retention(case_id, until, &audit)
            .await?;
        self.project_scope(case_id, None).await?;
        case.case.retain_until = Some(until);
        Ok(case)
    }

    /// Gives a completed file its own retention date, later than its case's: nothing deletes it
    /// before `until`. Extended, never shortened. For owners of its case; audited
    /// `retention_set` on the file.
    ///
    /// # Errors
    /// [`ServiceError::InvalidInput`] for a date that is not in the future or not later than the
    /// case's retention; [`ServiceError::NotFound`] for a file that is not completed, or of a case
    /// `user` is not a member of; [`ServiceError::Forbidden`] for editors, viewers and auditors;
    /// [`ServiceError::Conflict`] for a date before the file's date in force.
    pub async fn set_file_retention(
        &self,
        user: UserId,
        file_id: FileId,
        until: chrono::DateTime<chrono::Utc>,
    ) -> ServiceResult<(CaseFile, Protection)> {
        if until <= self.clock.now() {
            return Err(ServiceError::invalid(
                "retain_until",
                "must be in the future",
            ));
        }
        let file = self
            .authorize_file(user, file_id, Permission::ManageHolds)
            .await?;
        if file.status != FileStatus::Completed {
            return Err(ServiceError::NotFound { what: "file" });
        }
        let case = self.repository.get_case(file.case_id).await?;
        if let Some(of_case) = case.and_then(|c| c.retain_until)
            && until <= of_case
        {
            return Err(ServiceError::invalid(
                "retain_until",
                format!("the case keeps the file until {of_case} already: give a later date"),
            ));
        }
        let audit = self
            .audit(user, AuditAction::RetentionSet, AuditOutcome::Success)
            .case(file.case_id)
            .file(file.id)
            .details(format!("file retention set until {until}"));
        self.repository
            .set_file_retention(file.id, until, &audit)
            .await?;
        self.project_quietly(&file).await;
        let protection = self.repository.protection(file.id).await?;
        Ok((file, protection))
    }

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
    async fn project_quietly(&self, file: &CaseFile) {
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
    async fn project_scope(&self, case_id: CaseId, scope: Option<&HoldScope>) -> ServiceResult<()> {
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

    fn hold_text(field: &'static str, text: &str, max: usize) -> ServiceResult<String> {
        let text = text.trim();
        if text.is_empty() || text.chars().count() > max || text.chars().any(char::is_control) {
            return Err(ServiceError::invalid(
                field,
                format!("1 to {max} characters, no control characters"),
            ));
        }
        Ok(text.to_owned())
    }

    fn scope_text(scope: &HoldScope) -> String {
        match scope {
            HoldScope::Case => "the whole case".to_owned(),
            HoldScope::Prefix { prefix } => format!("paths starting with {prefix:?}"),
            HoldScope::Files { file_ids } => format!("{} listed files", file_ids.len()),
        }
    }

    /// Refuses (and audits `delete_refused`) the deletion of a held or retained file.
    async fn refuse_if_protected(&self, user: UserId, file: &CaseFile) -> ServiceResult<()> {
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

    // ----- helpers -----

    /// A listing prefix: a plain string prefix of logical paths, normalised as paths are (NFC),
    /// with one trailing `/` allowed (`pleadings/` lists what is inside `pleadings`); empty or
    /// `/` alone lists everything.
    fn list_prefix(prefix: Option<&str>) -> ServiceResult<Option<String>> {
        let Some(prefix) = prefix else {
            return Ok(None);
        };
        let (body, slash) = match prefix.strip_suffix('/') {
            Some(body) => (body, "/"),
            None => (prefix, ""),
        };
        if body.is_empty() {
            return Ok(None);
        }
        let path =
            LogicalPath::parse(body).map_err(|e| ServiceError::invalid("prefix", e.reason))?;
        Ok(Some(format!("{path}{slash}")))
    }

    /// Audits a download whose bytes failed verification (`fixity_failed`), when it fails.
    fn fixity_reporter(&self, user: UserId, file: &CaseFile) -> OnMismatch {
        let repository = Arc::clone(&self.repository);
        let audit = self
            .audit(user, AuditAction::FixityFailed, AuditOutcome::Failure)
            .case(file.case_id)
            .file(file.id);
        let clock = Arc::clone(&self.clock);
        Box::new(move |why: String| {
            Box::pin(async move {
                let mut audit = audit.details(format!("download cut off: {why}"));
                audit.at = clock.now();
                if let Err(e) = repository.append_audit(&audit).await {
                    tracing::error!(error = %e, file = %audit.file_id.map(|f| f.to_string()).unwrap_or_default(), "cannot audit a fixity failure");
                }
            })
        })
    }

    fn validate_upload(
        &self,
        request: &NewUpload,
    ) -> ServiceResult<(LogicalPath, FileName, String, u64, Option<Sha256>)> {
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
        Ok((path, name, mime, request.file_size, sha))
    }

    fn pending_file(
        &self,
        id: FileId,
        user: UserId,
        case_id: CaseId,
        (logical_path, file_name, mime_type, declared_size, sha256): (
            LogicalPath,
            FileName,
            String,
            u64,
            Sha256,
        ),
    ) -> CaseFile {
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
    async fn check_open_uploads(&self, user: UserId, case: CaseId) -> ServiceResult<()> {
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

    async fn record_pending(&self, user: UserId, file: &CaseFile) -> ServiceResult<()> {
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
    async fn hash_object(&self, key: &ObjectKey) -> ServiceResult<(Sha256, u64, Vec<u8>)> {
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
    async fn finish(
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
    async fn reject(
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
    async fn abandon(&self, user: UserId, file: &CaseFile, why: &str) {
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

    /// Removes a failed or deleted file's object and records it; `false` when either step failed
    /// (the next purge tries again).
    async fn remove_object(&self, file: &CaseFile) -> bool {
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

    async fn deny(
        &self,
        user: UserId,
        case: Option<CaseId>,
        file: Option<FileId>,
        details: Option<String>,
    ) -> ServiceResult<()> {
        let mut audit = self.audit(user, AuditAction::AccessDenied, AuditOutcome::Denied);
        audit.case_id = case;
        audit.file_id = file;
        audit.details = details;
        self.repository.append_audit(&audit).await?;
        Ok(())
    }

    /// The one authorization decision: `user`'s role in `case_id` must allow `action`.
    /// A missing case and a non-member get the same [`ServiceError::NotFound`]; a member whose
    /// role does not allow it gets [`ServiceError::Forbidden`]. Both are audited.
    async fn authorize_case(
        &self,
        user: UserId,
        case_id: CaseId,
        action: Permission,
    ) -> ServiceResult<MemberCase> {
        let found = self.repository.case_for_member(case_id, user).await?;
        self.decide(user, case_id, None, found, action).await
    }

    async fn decide(
        &self,
        user: UserId,
        case_id: CaseId,
        file: Option<FileId>,
        found: Option<(Case, Option<Role>)>,
        action: Permission,
    ) -> ServiceResult<MemberCase> {
        let what = if file.is_some() { "file" } else { "case" };
        match found {
            Some((case, Some(role))) if role.allows(action) => Ok(MemberCase { case, role }),
            Some((_, Some(role))) => {
                let why = format!("a {role} may not {}", action.as_str());
                self.deny(user, Some(case_id), file, Some(why)).await?;
                Err(ServiceError::Forbidden {
                    role,
                    action: action.as_str(),
                })
            }
            _ => {
                self.deny(user, Some(case_id), file, None).await?;
                Err(ServiceError::NotFound { what })
            }
        }
    }

    /// A file, if `user`'s role in its case allows `action` (as
    /// [`authorize_case`](Self::authorize_case); a missing file is `NotFound` too).
    async fn authorize_file(
        &self,
        user: UserId,
        file_id: FileId,
        action: Permission,
    ) -> ServiceResult<CaseFile> {
        let Some(file) = self.repository.get_file(file_id).await? else {
            self.deny(user, None, Some(file_id), None).await?;
            return Err(ServiceError::NotFound { what: "file" });
        };
        // A probe of an existing file is recorded on its case, where its owners read it.
        let found = self.repository.case_for_member(file.case_id, user).await?;
        self.decide(user, file.case_id, Some(file_id), found, action)
            .await?;
        Ok(file)
    }

    async fn completed_file(&self, user: UserId, file_id: FileId) -> ServiceResult<CaseFile> {
        let file = self
            .authorize_file(user, file_id, Permission::ReadContent)
            .await?;
        if file.status == FileStatus::Completed {
            Ok(file)
        } else {
            Err(ServiceError::NotFound { what: "file" })
        }
    }
}
