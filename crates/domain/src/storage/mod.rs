//! The object-storage port and the values it exchanges.

pub mod content;
pub mod error;
mod key;
mod model;
mod port;

pub use key::{MAX_KEY_BYTES, ObjectKey};
pub use model::{
    ByteRange, ByteStream, Capabilities, ListOptions, ListPage, MAX_LIST_PAGE, MAX_METADATA_BYTES,
    MAX_METADATA_NAME, MAX_PRESIGN_EXPIRY, Metadata, ObjectStream, ObjectSummary,
    PresignDownloadRequest, PresignUploadRequest, PresignedDownload, PresignedUpload, PutOptions,
    RESERVED_METADATA_PREFIX, RetentionMode, StorageObject, UploadMethod, expires_at,
    validate_expiry, validate_metadata,
};
#[cfg(any(test, feature = "mock"))]
pub use port::MockObjectStorage;
pub use port::{ObjectStorage, ObjectStorageExt};
