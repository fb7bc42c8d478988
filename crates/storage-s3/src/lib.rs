//! # casefile-storage-s3
//!
//! The [`ObjectStorage`](casefile_domain::storage::ObjectStorage) port on Amazon S3 and
//! S3-compatible stores (MinIO, Ceph, R2, Wasabi, s3s), with `aws-sdk-s3` over rustls.
//!
//! - Uploads from a stream switch to multipart above one part (8 MiB by default), with a bounded
//!   number of parts in flight; any failure (or a dropped future) aborts the upload.
//! - The SHA-256 of every upload is computed while the bytes pass and recorded as the user
//!   metadata `casefile-sha256` (for multipart uploads by a server-side copy onto itself).
//! - Presigned uploads are SigV4 POST policies built here ([`post_policy`]) binding the exact
//!   key, content type, SHA-256 field, encryption and a `content-length-range`; or, on request, a
//!   presigned PUT with signed `Content-Type` and `Content-Length`.
//! - Errors are mapped once into the domain's `StorageError`.

mod builder;
mod error;
pub mod post_policy;
mod storage;

pub use aws_smithy_types::retry::RetryMode;
pub use builder::{
    DEFAULT_PART_SIZE, MIN_PART_SIZE, S3StorageBuilder, ServerSideEncryption, StaticCredentials,
    UploadObserver,
};
pub use storage::{S3Storage, SHA256_METADATA};
