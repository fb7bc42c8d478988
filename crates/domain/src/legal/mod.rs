//! The legal file service and its model: cases shared by members with roles, files uploaded in two verified
//! phases, access checks on every operation, and an append-only audit trail.

pub mod audit_log;
mod body;
mod config;
mod error;
pub mod fixity;
mod holds;
mod model;
mod names;
mod ports;
mod service;
#[cfg(test)]
mod service_tests;

pub use config::{
    DEFAULT_DOWNLOAD_URL_EXPIRY, DEFAULT_MAX_FILE_SIZE, DEFAULT_MAX_OPEN_UPLOADS_PER_CASE,
    DEFAULT_MAX_OPEN_UPLOADS_PER_USER, DEFAULT_UPLOAD_URL_EXPIRY, MAX_FILE_SIZE_LIMIT,
    ServiceConfig,
};
pub use error::{IntegrityField, ServiceError, ServiceResult};
pub use holds::{HoldRelease, HoldScope, LegalHold, NewHold, Protection};
pub use model::{
    AuditAction, AuditEntry, AuditId, AuditOutcome, Case, CaseFile, CaseId, FileId, FileStatus,
    HoldId, Member, MemberCase, Permission, Role, UserId, UserProfile,
};
pub use names::{
    FileName, InvalidName, LogicalPath, MAX_DEPTH, MAX_LOGICAL_PATH_BYTES, MAX_SEGMENT_BYTES,
};
pub use ports::{
    AuditQuery, CaseRepository, Clock, FileQuery, MemberChange, OpenUploads, PersistenceError,
    PersistenceResult, SystemClock, Transition,
};
#[cfg(any(test, feature = "mock"))]
pub use ports::{MockCaseRepository, MockClock};
pub use service::{
    AuditTrailPage, AuditTrailQuery, CaseExport, CasePage, ConsistencyProof, DEFAULT_FILE_PAGE,
    EXPORT_PAGE, FileDownload, FilePage, GarbageKind, InclusionProof, InitiatedUpload,
    LegalFileService, ListCases, ListFiles, MAX_FILE_PAGE, MAX_TITLE_CHARS, MissingObject,
    NewUpload, ObjectFinding, PurgeReport, ReconcileReport, ScrubEvent, StorageReconcileReport,
    mime_contradicts, settled_mime_type,
};
