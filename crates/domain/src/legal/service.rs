//! [`LegalFileService`]: cases, two-phase verified uploads, access checks and the audit trail.
//!
//! This file holds the service and the helpers every use case shares (the authorization
//! decision, auditing, keys); the use cases live in `service/`: `uploads` (and the steps they
//! share, `upload_steps`), `cases`, `reading` (metadata, downloads, listings), `deletion` (delete
//! and purge), `members`, `holds` (legal holds, retention and their projection onto the store),
//! `checkpoints`, `fixity`, `reconcile` and `export`; `mime` decides recorded types and `types`
//! holds what the operations take and return.

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
mod mime;
mod projection;
mod reading;
mod reconcile;
mod types;
mod upload_steps;
mod uploads;

pub use checkpoints::{ConsistencyProof, InclusionProof};
pub use export::{CaseExport, EXPORT_PAGE};
pub use fixity::ScrubEvent;
pub use mime::{mime_contradicts, settled_mime_type};
pub use projection::ReconcileReport;
pub use reconcile::{GarbageKind, MissingObject, ObjectFinding, StorageReconcileReport};
pub use types::{
    AuditTrailPage, AuditTrailQuery, CasePage, FileDownload, FilePage, InitiatedUpload, ListCases,
    ListFiles, NewUpload, PurgeReport,
};

/// The longest case title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// The default page of [`LegalFileService::list_case_files`].
pub const DEFAULT_FILE_PAGE: usize = 100;
/// The largest page of [`LegalFileService::list_case_files`].
pub const MAX_FILE_PAGE: usize = 1000;

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
