//! # casefile-storage-gcs
//!
//! The [`ObjectStorage`](casefile_domain::storage::ObjectStorage) port on Google Cloud Storage
//! with `gcloud-storage` 1.3 (rustls, RustCrypto JWT).
//!
//! - Uploads go through resumable sessions: one request for objects up to a chunk, otherwise
//!   chunks of a multiple of 256 KiB (8 MiB by default) — memory bounded by one chunk; a failure
//!   cancels the session, so no object appears.
//! - The SHA-256 is computed while the bytes pass and kept as the metadata `casefile-sha256`
//!   (set with the object for single-chunk uploads, by a generation-checked metadata patch
//!   after multi-chunk ones).
//! - Presigned URLs are V4 signatures made here ([`v4`]) with the service account's RSA key,
//!   tested against Google's conformance vectors: downloads are signed GETs with
//!   `response-content-disposition`; uploads a POST policy with an exact key, content type,
//!   SHA-256 field and `content-length-range` (or a signed PUT with `x-goog-content-length-range`).
//! - `gcloud-storage` retries nothing itself: idempotent reads are retried here, and every
//!   request has a timeout.

mod builder;
mod error;
mod storage;
pub mod v4;

pub use builder::{CHUNK_GRANULARITY, GcsStorageBuilder};
pub use storage::{GcsStorage, SHA256_METADATA};
