//! Errors of the legal file service.

use std::fmt;

use crate::error::StorageError;
use crate::legal::PersistenceError;

/// What differed when an upload was verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntegrityField {
    /// The size in bytes.
    Size,
    /// The SHA-256 of the content.
    Sha256,
    /// The content's type, sniffed from its first bytes, contradicts the declared MIME type.
    MimeType,
}

impl fmt::Display for IntegrityField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Size => "size",
            Self::Sha256 => "sha256",
            Self::MimeType => "mime_type",
        })
    }
}

/// An error of [`LegalFileService`](crate::legal::LegalFileService): each variant is something a
/// client can act on, except the last two, which carry the failing port's error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The case or file does not exist — or the caller is not a member of its case (the two are
    /// never told apart).
    #[error("{what} not found")]
    NotFound {
        /// `"case"`, `"file"` or `"member"`.
        what: &'static str,
    },
    /// The caller is a member of the case, but their role does not allow this (audited as
    /// denied).
    #[error("a {role} of this case may not {action}")]
    Forbidden {
        /// The caller's role.
        role: crate::legal::Role,
        /// What was refused ([`Permission::as_str`](crate::legal::Permission::as_str)).
        action: &'static str,
    },
    /// An argument was refused.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// Which argument.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// The request conflicts with the current state (a live file holds the logical path, the
    /// upload already failed, ...).
    #[error("conflict: {reason}")]
    Conflict {
        /// What conflicts.
        reason: String,
    },
    /// The declared size is over the configured limit.
    #[error("a file of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The declared size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The uploaded content is not what was declared; the upload is failed and its bytes removed.
    #[error("integrity mismatch in {field}: expected {expected}, got {actual}")]
    IntegrityMismatch {
        /// What differed.
        field: IntegrityField,
        /// What was declared.
        expected: String,
        /// What was found.
        actual: String,
    },
    /// Too many uploads are open (pending, their URL not yet expired): in the case, or by the
    /// caller across cases. Complete or let some expire first.
    #[error("too many open uploads {scope}: the limit is {limit}")]
    TooManyOpenUploads {
        /// `"in this case"` or `"by this user"`.
        scope: &'static str,
        /// The configured cap.
        limit: u64,
    },
    /// The file is covered by active legal holds: nothing may delete it until every one of them
    /// is released (the refusal is audited `delete_refused`).
    #[error("the file is under legal hold ({} active)", holds.len())]
    Held {
        /// The active holds that cover it.
        holds: Vec<crate::legal::HoldId>,
    },
    /// The case's retention runs until `until`: nothing in it may be deleted before (the refusal
    /// is audited `delete_refused`).
    #[error("the file is retained until {until}")]
    Retained {
        /// When retention ends.
        until: chrono::DateTime<chrono::Utc>,
    },
    /// Completion was asked before the content reached storage; the upload stays pending.
    #[error("the upload has not reached storage yet")]
    UploadMissing,
    /// The object store failed.
    #[error("storage failure: {0}")]
    Storage(#[source] StorageError),
    /// The database failed.
    #[error("persistence failure: {0}")]
    Persistence(#[source] PersistenceError),
}

impl ServiceError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidInput {
            field,
            reason: reason.into(),
        }
    }
}

impl From<StorageError> for ServiceError {
    fn from(e: StorageError) -> Self {
        Self::Storage(e)
    }
}

impl From<PersistenceError> for ServiceError {
    fn from(e: PersistenceError) -> Self {
        match e {
            PersistenceError::Conflict { what } => Self::Conflict { reason: what },
            other => Self::Persistence(other),
        }
    }
}

/// The result of service operations.
pub type ServiceResult<T> = Result<T, ServiceError>;
