//! Errors of the storage port.

use std::error::Error as StdError;

/// A boxed error kept as the `source` of a [`StorageError`].
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// The semantic error of every [`ObjectStorage`](crate::storage::ObjectStorage) operation.
///
/// Every adapter maps its own errors (SDK, HTTP, I/O) into these variants exactly once, at its
/// boundary, and keeps the original error as `source` where there is one. Callers match on the
/// variant, never on the message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The object does not exist.
    #[error("object not found: {key}")]
    NotFound {
        /// The key that was looked up.
        key: String,
    },
    /// The object already exists and the operation required that it did not.
    #[error("object already exists: {key}")]
    AlreadyExists {
        /// The key that already exists.
        key: String,
    },
    /// A key (or prefix) breaks the [`ObjectKey`](crate::storage::ObjectKey) rules or a limit of
    /// the backend.
    #[error("invalid object key {key:?}: {reason}")]
    InvalidKey {
        /// The rejected key, as given (control characters escaped by `Debug`).
        key: String,
        /// Which rule it breaks.
        reason: String,
    },
    /// An argument other than the key is not acceptable (metadata name, range, expiry, ...).
    #[error("invalid input for {field}: {reason}")]
    InvalidInput {
        /// The argument or field at fault.
        field: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// The credentials are valid but do not allow the operation.
    #[error("permission denied: {message}")]
    PermissionDenied {
        /// What the backend said.
        message: String,
        /// The backend's error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// The backend could not authenticate us (missing, expired or wrong credentials).
    #[error("unauthenticated: {message}")]
    Unauthenticated {
        /// What the backend said.
        message: String,
        /// The backend's error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// The backend does not support the operation (see
    /// [`Capabilities`](crate::storage::Capabilities)).
    #[error("not supported by the {backend} backend: {operation}")]
    NotSupported {
        /// The backend's name.
        backend: &'static str,
        /// The operation or option it lacks.
        operation: String,
    },
    /// A precondition of the request did not hold (e.g. a byte range that starts past the end).
    #[error("precondition failed: {message}")]
    PreconditionFailed {
        /// Which precondition.
        message: String,
    },
    /// A byte range that starts at or past the end of the object (HTTP 416).
    #[error("range {range} not satisfiable for an object of {size} bytes")]
    RangeNotSatisfiable {
        /// The range asked for.
        range: crate::storage::ByteRange,
        /// The size of the object.
        size: u64,
    },
    /// An upload is larger than the limit it was bound to (a presigned upload's `max_size`).
    #[error("upload exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// The uploaded content does not have the SHA-256 it was bound to; nothing was stored.
    #[error("content SHA-256 mismatch: expected {expected}, got {actual}")]
    ChecksumMismatch {
        /// The SHA-256 the upload was bound to.
        expected: crate::content::Sha256,
        /// The SHA-256 of the bytes received.
        actual: crate::content::Sha256,
    },
    /// The backend cannot be reached (connection refused, DNS, timeout) or is not ready.
    #[error("{backend} backend unavailable: {message}")]
    Unavailable {
        /// The backend's name.
        backend: &'static str,
        /// What failed.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },
    /// Any other failure of the backend: network, I/O, unexpected responses.
    #[error("{backend} backend error: {source}")]
    Backend {
        /// The backend's name.
        backend: &'static str,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
}

impl StorageError {
    /// A [`StorageError::Backend`] from any error of a backend.
    pub fn backend(backend: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Backend {
            backend,
            source: source.into(),
        }
    }

    /// A [`StorageError::NotFound`] for `key`.
    pub fn not_found(key: impl Into<String>) -> Self {
        Self::NotFound { key: key.into() }
    }

    /// A [`StorageError::InvalidInput`].
    pub fn invalid_input(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidInput {
            field,
            reason: reason.into(),
        }
    }

    /// Whether this is [`StorageError::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }
}

/// The result of every storage operation.
pub type StorageResult<T> = Result<T, StorageError>;
