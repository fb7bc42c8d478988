//! # casefile-storage-local
//!
//! Two implementations of the [`ObjectStorage`](casefile_domain::storage::ObjectStorage) port
//! that need no cloud: [`FsStorage`] (a directory of the local filesystem, atomic and durable)
//! and [`MemoryStorage`] (process memory, for tests). Both pass the whole conformance suite of
//! `casefile-testkit`.
//!
//! Their presigned URLs are HMAC-signed grants ([`UrlSigner`]) that the application serves.

mod fs;
mod memory;
pub mod presign;

use casefile_domain::storage::{ObjectSummary, StorageObject};
use casefile_domain::{Sha256, StorageError, StorageResult};

pub use fs::{FsStorage, MAX_SEGMENT_BYTES};
pub use memory::MemoryStorage;
pub use presign::{Grant, GrantMethod, SignatureError, UrlSigner};

/// What an upload must respect to be stored: see [`FsStorage::upload_with_limits`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UploadLimits {
    /// The largest body accepted, in bytes.
    pub max_size: Option<u64>,
    /// The SHA-256 the content must have.
    pub sha256: Option<Sha256>,
    /// Store only if no object is at the key (else [`StorageError::AlreadyExists`]).
    pub if_absent: bool,
}

impl UploadLimits {
    /// The limits a verified presigned-upload [`Grant`] carries.
    pub fn from_grant(grant: &Grant) -> Self {
        Self {
            max_size: grant.max_size,
            sha256: grant.sha256,
            if_absent: false,
        }
    }

    fn check_size(&self, size: u64) -> StorageResult<()> {
        match self.max_size {
            Some(limit) if size > limit => Err(StorageError::TooLarge { limit }),
            _ => Ok(()),
        }
    }

    fn check_sha256(&self, actual: Sha256) -> StorageResult<()> {
        match self.sha256 {
            Some(expected) if expected != actual => {
                Err(StorageError::ChecksumMismatch { expected, actual })
            }
            _ => Ok(()),
        }
    }
}

/// The ETag of content: derived from its SHA-256, so equal content has equal tags.
fn etag_of(sha256: &Sha256) -> String {
    format!("\"{}\"", &sha256.to_hex()[..32])
}

fn summary_of(object: &StorageObject) -> ObjectSummary {
    ObjectSummary {
        key: object.key.clone(),
        size: object.size,
        last_modified: object.last_modified,
        etag: object.etag.clone(),
    }
}
