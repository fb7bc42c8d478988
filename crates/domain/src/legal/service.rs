//! [`LegalFileService`]: cases, two-phase verified uploads, access checks and the audit trail.
//!
//! This file holds the service, its uploads and the helpers every use case shares (the
//! authorization decision, auditing, hashing); the other use cases live in `service/`: `cases`,
//! `reading` (metadata, downloads, listings), `deletion` (delete and purge), `members` and
//! `holds` (legal holds, retention and their projection onto the store).

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

mod cases;
mod checkpoints;
mod deletion;
mod export;
mod fixity;
mod holds;
mod members;
mod reading;
mod reconcile;

pub use checkpoints::{ConsistencyProof, InclusionProof};
pub use export::{CaseExport, EXPORT_PAGE};
pub use fixity::ScrubEvent;
pub use holds::ReconcileReport;
pub use reconcile::{GarbageKind, MissingObject, ObjectFinding, StorageReconcileReport};

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
    let declared = crate::sniff::canonical(declared);
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
