//! Values exchanged with the storage port.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::Stream;
use serde::{Deserialize, Serialize};

use crate::content::Sha256;
use crate::error::{StorageError, StorageResult};
use crate::storage::ObjectKey;

/// A stream of byte chunks, as uploaded to or downloaded from a store.
pub type ByteStream = Pin<Box<dyn Stream<Item = StorageResult<Bytes>> + Send + 'static>>;

/// User metadata of an object: names and values, see [`validate_metadata`] for the rules.
pub type Metadata = BTreeMap<String, String>;

/// The longest metadata name.
pub const MAX_METADATA_NAME: usize = 64;
/// The most bytes all metadata names and values of one object may take together (S3's limit).
pub const MAX_METADATA_BYTES: usize = 2048;
/// Metadata names starting with this are reserved for casefile's own bookkeeping (the recorded
/// SHA-256, ...); callers cannot set them.
pub const RESERVED_METADATA_PREFIX: &str = "casefile-";
/// The longest expiry of a presigned URL (the SigV4 limit, applied to every backend).
pub const MAX_PRESIGN_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);
/// The default and largest page of a listing.
pub const MAX_LIST_PAGE: usize = 1000;

/// Checks user metadata against the rules every backend can keep:
///
/// - names: 1 to [`MAX_METADATA_NAME`] characters of `a-z`, `0-9`, `_` and `-`, starting with a
///   letter, not starting with [`RESERVED_METADATA_PREFIX`] (adapters translate names where a cloud
///   has stricter rules, e.g. Azure's C# identifiers);
/// - values: printable ASCII (space to `~`), because S3 and GCS carry them in HTTP headers;
/// - all names and values together at most [`MAX_METADATA_BYTES`] bytes.
///
/// # Errors
/// [`StorageError::InvalidInput`] for field `metadata`, naming the offending entry.
pub fn validate_metadata(metadata: &Metadata) -> StorageResult<()> {
    let mut total = 0usize;
    for (name, value) in metadata {
        let good_name = !name.is_empty()
            && name.len() <= MAX_METADATA_NAME
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if !good_name {
            return Err(StorageError::invalid_input(
                "metadata",
                format!("name {name:?} must be 1-64 of a-z 0-9 _ -, starting with a letter"),
            ));
        }
        if name.starts_with(RESERVED_METADATA_PREFIX) {
            return Err(StorageError::invalid_input(
                "metadata",
                format!("name {name:?} uses the reserved prefix {RESERVED_METADATA_PREFIX:?}"),
            ));
        }
        if !value.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
            return Err(StorageError::invalid_input(
                "metadata",
                format!("value of {name:?} must be printable ASCII"),
            ));
        }
        total += name.len() + value.len();
    }
    if total > MAX_METADATA_BYTES {
        return Err(StorageError::invalid_input(
            "metadata",
            format!("{total} bytes of metadata exceed {MAX_METADATA_BYTES}"),
        ));
    }
    Ok(())
}

/// Checks the expiry of a presigned URL: more than zero, at most [`MAX_PRESIGN_EXPIRY`].
///
/// # Errors
/// [`StorageError::InvalidInput`] for field `expires_in`.
pub fn validate_expiry(expires_in: Duration) -> StorageResult<()> {
    if expires_in.is_zero() || expires_in > MAX_PRESIGN_EXPIRY {
        return Err(StorageError::invalid_input(
            "expires_in",
            format!("{expires_in:?} is not within (0, 7 days]"),
        ));
    }
    Ok(())
}

/// What a store knows of one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageObject {
    /// The object's key.
    pub key: ObjectKey,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written, in UTC.
    pub last_modified: DateTime<Utc>,
    /// The backend's entity tag, when it has one. Opaque: compare, never parse.
    pub etag: Option<String>,
    /// Its content type (given at upload, or detected then).
    pub content_type: String,
    /// User metadata given at upload.
    pub metadata: Metadata,
    /// The SHA-256 of the content, recorded at upload, when known. For objects written through a
    /// presigned upload this is what the uploader declared: verify before trusting it unless
    /// [`Capabilities::presigned_upload_verifies_sha256`] says the backend checked it.
    pub sha256: Option<Sha256>,
}

/// One entry of a listing: what every backend returns without a request per object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectSummary {
    /// The object's key.
    pub key: ObjectKey,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written, in UTC.
    pub last_modified: DateTime<Utc>,
    /// The backend's entity tag, when it has one.
    pub etag: Option<String>,
}

/// Options of an upload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutOptions {
    /// The content type; detected when `None` (see [`crate::content::detect_content_type`]).
    pub content_type: Option<String>,
    /// User metadata, see [`validate_metadata`].
    pub metadata: Metadata,
}

impl PutOptions {
    /// Options with an explicit content type.
    pub fn with_content_type(content_type: impl Into<String>) -> Self {
        Self {
            content_type: Some(content_type.into()),
            ..Self::default()
        }
    }

    /// Checks the content type (if any) and the metadata.
    ///
    /// # Errors
    /// [`StorageError::InvalidInput`] naming the field.
    pub fn validate(&self) -> StorageResult<()> {
        if let Some(ct) = &self.content_type {
            crate::content::validate_content_type(ct)?;
        }
        validate_metadata(&self.metadata)
    }
}

/// A byte range of an object, as asked for. [`ByteRange::resolve`] turns it into offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ByteRange {
    /// Bytes `start..end` (end exclusive); an end past the object is clamped to its size.
    Bounded {
        /// First byte, inclusive.
        start: u64,
        /// Last byte, exclusive.
        end: u64,
    },
    /// From this offset to the end.
    From(u64),
    /// The last `n` bytes (the whole object when it is shorter).
    Suffix(u64),
}

impl ByteRange {
    /// Bytes `start..end`.
    pub fn bounded(start: u64, end: u64) -> Self {
        Self::Bounded { start, end }
    }

    /// Checks the range on its own (before the size of the object is known).
    ///
    /// # Errors
    /// [`StorageError::InvalidInput`] for an empty bounded range or an empty suffix.
    pub fn validate(&self) -> StorageResult<()> {
        match *self {
            Self::Bounded { start, end } if start >= end => Err(StorageError::invalid_input(
                "range",
                format!("{start}..{end} is empty"),
            )),
            Self::Suffix(0) => Err(StorageError::invalid_input("range", "empty suffix")),
            _ => Ok(()),
        }
    }

    /// The offsets this range selects in an object of `size` bytes.
    ///
    /// # Errors
    /// [`StorageError::InvalidInput`] as [`ByteRange::validate`];
    /// [`StorageError::RangeNotSatisfiable`] when the range starts at or past the end.
    pub fn resolve(&self, size: u64) -> StorageResult<Range<u64>> {
        self.validate()?;
        let not_satisfiable = || StorageError::RangeNotSatisfiable { range: *self, size };
        match *self {
            Self::Bounded { start, end } => {
                if start >= size {
                    return Err(not_satisfiable());
                }
                Ok(start..end.min(size))
            }
            Self::From(start) => {
                if start >= size {
                    return Err(not_satisfiable());
                }
                Ok(start..size)
            }
            Self::Suffix(n) => Ok(size.saturating_sub(n)..size),
        }
    }

    /// The offsets an optional range selects in an object of `size` bytes: all of it for `None`.
    ///
    /// # Errors
    /// As [`ByteRange::resolve`].
    pub fn span(range: Option<Self>, size: u64) -> StorageResult<Range<u64>> {
        range.map_or(Ok(0..size), |r| r.resolve(size))
    }

    /// The value of an HTTP `Range` header asking for this range (`bytes=…`, end inclusive).
    pub fn to_http_header(&self) -> String {
        match *self {
            Self::Bounded { start, end } => format!("bytes={start}-{}", end.saturating_sub(1)),
            Self::From(start) => format!("bytes={start}-"),
            Self::Suffix(n) => format!("bytes=-{n}"),
        }
    }
}

impl fmt::Display for ByteRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Bounded { start, end } => write!(f, "{start}..{end}"),
            Self::From(start) => write!(f, "{start}.."),
            Self::Suffix(n) => write!(f, "last {n} bytes"),
        }
    }
}

/// A download in progress: what the object is, which bytes come, and the bytes.
pub struct ObjectStream {
    /// The object as it was when the download started.
    pub object: StorageObject,
    /// The offsets of the bytes `body` yields (the whole object when no range was asked).
    pub range: Range<u64>,
    /// The bytes, streamed.
    pub body: ByteStream,
}

impl fmt::Debug for ObjectStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectStream")
            .field("object", &self.object)
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

/// Options of one listing request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// List only keys under this prefix, taken as a directory; every key when `None`.
    pub prefix: Option<ObjectKey>,
    /// The most entries in the page: 1 to [`MAX_LIST_PAGE`]; `None` means [`MAX_LIST_PAGE`].
    pub max_keys: Option<usize>,
    /// The `next_token` of the previous page, to continue after it.
    pub continuation_token: Option<String>,
}

impl ListOptions {
    /// The page size asked for, checked.
    ///
    /// # Errors
    /// [`StorageError::InvalidInput`] for `max_keys` 0 or above [`MAX_LIST_PAGE`].
    pub fn page_size(&self) -> StorageResult<usize> {
        match self.max_keys {
            None => Ok(MAX_LIST_PAGE),
            Some(n) if (1..=MAX_LIST_PAGE).contains(&n) => Ok(n),
            Some(n) => Err(StorageError::invalid_input(
                "max_keys",
                format!("{n} is not within 1..={MAX_LIST_PAGE}"),
            )),
        }
    }
}

/// One page of a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    /// The entries, in ascending byte order of their keys.
    pub objects: Vec<ObjectSummary>,
    /// Where the next page starts; `None` on the last page.
    pub next_token: Option<String>,
}

/// How a client performs a presigned upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum UploadMethod {
    /// An HTML-form style `multipart/form-data` POST: every entry of
    /// [`PresignedUpload::fields`] as a form field, in any order, then the file as the LAST part,
    /// named `file`.
    Post,
    /// A `PUT` of the raw bytes as the body, with every entry of [`PresignedUpload::headers`] as a
    /// request header.
    Put,
}

/// What the caller binds a presigned upload to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignUploadRequest {
    /// The content type the uploader must send.
    pub content_type: String,
    /// How long the URL stays valid: see [`validate_expiry`].
    pub expires_in: Duration,
    /// The largest body accepted, in bytes (the declared size of the file, usually).
    pub max_size: u64,
    /// The SHA-256 the content must have, recorded with the object (and enforced where
    /// [`Capabilities::presigned_upload_verifies_sha256`]).
    pub sha256: Option<Sha256>,
}

/// Everything a client needs to upload one object directly to the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresignedUpload {
    /// POST form or PUT.
    pub method: UploadMethod,
    /// Where to send the request.
    pub url: String,
    /// For [`UploadMethod::Post`]: the form fields to send before the file.
    pub fields: BTreeMap<String, String>,
    /// For [`UploadMethod::Put`]: the headers to send, exactly.
    pub headers: BTreeMap<String, String>,
    /// When the URL stops working.
    pub expires_at: DateTime<Utc>,
}

/// What the caller binds a presigned download to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PresignDownloadRequest {
    /// How long the URL stays valid: see [`validate_expiry`].
    pub expires_in: Duration,
    /// When set, the response carries `Content-Disposition: attachment` with this file name.
    pub file_name: Option<String>,
}

impl PresignDownloadRequest {
    /// The `Content-Disposition: attachment` value for [`file_name`](Self::file_name), when set
    /// (RFC 6266, see [`FileName::content_disposition`](crate::legal::FileName::content_disposition)).
    ///
    /// # Errors
    /// [`StorageError::InvalidInput`] for a file name that is not a safe [`FileName`](crate::legal::FileName).
    pub fn content_disposition(&self) -> StorageResult<Option<String>> {
        self.file_name
            .as_deref()
            .map(|name| {
                crate::legal::FileName::parse(name)
                    .map(|n| n.content_disposition())
                    .map_err(|e| StorageError::invalid_input("file_name", e.to_string()))
            })
            .transpose()
    }
}

/// When a URL presigned at `now` for `expires_in` stops working.
pub fn expires_at(now: DateTime<Utc>, expires_in: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(expires_in).unwrap_or(chrono::Duration::MAX)
}

/// A URL that downloads one object without further credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresignedDownload {
    /// The URL; a plain `GET` fetches the object.
    pub url: String,
    /// When the URL stops working.
    pub expires_at: DateTime<Utc>,
}

/// What a backend can do, so callers and the conformance suite choose by it instead of failing
/// at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Capabilities {
    /// How presigned uploads are performed; `None` when the backend has none.
    pub presigned_upload: Option<UploadMethod>,
    /// Whether the receiving server itself refuses a presigned upload over its `max_size`. When
    /// `false` (Azure), the service's completion check is the only guard.
    pub presigned_upload_enforces_max_size: bool,
    /// Whether the receiving server refuses a presigned upload whose content does not match the
    /// bound SHA-256.
    pub presigned_upload_verifies_sha256: bool,
    /// Whether presigned download URLs are available.
    pub presigned_download: bool,
    /// Whether objects are encrypted at rest by the backend with the configured settings.
    pub server_side_encryption: bool,
    /// Whether a key may name an object and also be the prefix of other objects (`a` and `a/b`):
    /// true of object stores; false of a filesystem, which answers `AlreadyExists`.
    pub object_under_object: bool,
    /// Whether the store itself enforces legal holds on objects (a WORM lock: S3 Object Lock);
    /// see [`ObjectStorage::set_legal_hold`](crate::storage::ObjectStorage::set_legal_hold).
    pub legal_hold: bool,
    /// Whether the store itself enforces retention dates on objects; see
    /// [`ObjectStorage::set_retention`](crate::storage::ObjectStorage::set_retention).
    pub retention: bool,
    /// Whether the store can write an object only if none exists at its key, atomically; see
    /// [`ObjectStorage::upload_if_absent`](crate::storage::ObjectStorage::upload_if_absent).
    pub create_only: bool,
}

/// How a store enforces an object's retention date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetentionMode {
    /// Nobody can delete the object or shorten its retention, the account's root included.
    Compliance,
    /// Users with a special permission may bypass it; everyone else is refused.
    Governance,
}

impl Capabilities {
    /// A backend with no presigning and no encryption, where a key may also be a prefix.
    pub const fn minimal() -> Self {
        Self {
            object_under_object: true,
            presigned_upload: None,
            presigned_upload_enforces_max_size: false,
            presigned_upload_verifies_sha256: false,
            presigned_download: false,
            server_side_encryption: false,
            legal_hold: false,
            retention: false,
            create_only: false,
        }
    }

    /// These capabilities with atomic create-only writes.
    pub const fn with_create_only(mut self) -> Self {
        self.create_only = true;
        self
    }

    /// These capabilities with presigned uploads by `method`.
    pub const fn with_presigned_upload(
        mut self,
        method: UploadMethod,
        enforces_max_size: bool,
        verifies_sha256: bool,
    ) -> Self {
        self.presigned_upload = Some(method);
        self.presigned_upload_enforces_max_size = enforces_max_size;
        self.presigned_upload_verifies_sha256 = verifies_sha256;
        self
    }

    /// These capabilities with presigned downloads.
    pub const fn with_presigned_download(mut self) -> Self {
        self.presigned_download = true;
        self
    }

    /// These capabilities, where a key cannot be both an object and a prefix (a filesystem).
    pub const fn without_object_under_object(mut self) -> Self {
        self.object_under_object = false;
        self
    }

    /// These capabilities with server-side encryption.
    pub const fn with_server_side_encryption(mut self) -> Self {
        self.server_side_encryption = true;
        self
    }

    /// These capabilities, where the store enforces legal holds itself (but not retention).
    pub const fn with_legal_hold(mut self) -> Self {
        self.legal_hold = true;
        self
    }

    /// These capabilities, where the store enforces legal holds and retention itself.
    pub const fn with_object_lock(mut self) -> Self {
        self.legal_hold = true;
        self.retention = true;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_resolve_like_http() {
        let r = |x: ByteRange| x.resolve(10);
        assert_eq!(r(ByteRange::bounded(2, 5)).unwrap(), 2..5);
        assert_eq!(r(ByteRange::bounded(2, 100)).unwrap(), 2..10);
        assert_eq!(r(ByteRange::From(7)).unwrap(), 7..10);
        assert_eq!(r(ByteRange::Suffix(2)).unwrap(), 8..10);
        assert_eq!(r(ByteRange::Suffix(20)).unwrap(), 0..10);
        assert_eq!(ByteRange::span(None, 10).unwrap(), 0..10);
        assert_eq!(
            ByteRange::span(Some(ByteRange::From(7)), 10).unwrap(),
            7..10
        );
        assert!(ByteRange::span(Some(ByteRange::From(10)), 10).is_err());
        assert!(matches!(
            r(ByteRange::From(10)),
            Err(StorageError::RangeNotSatisfiable { size: 10, .. })
        ));
        assert!(matches!(
            r(ByteRange::bounded(12, 20)),
            Err(StorageError::RangeNotSatisfiable { .. })
        ));
        assert!(matches!(
            r(ByteRange::bounded(5, 5)),
            Err(StorageError::InvalidInput { field: "range", .. })
        ));
        assert!(r(ByteRange::Suffix(0)).is_err());
        assert_eq!(ByteRange::bounded(2, 5).to_http_header(), "bytes=2-4");
        assert_eq!(ByteRange::Suffix(3).to_http_header(), "bytes=-3");
    }

    #[test]
    fn metadata_rules() {
        let m = |k: &str, v: &str| Metadata::from([(k.to_owned(), v.to_owned())]);
        assert!(validate_metadata(&m("case-id", "42")).is_ok());
        assert!(validate_metadata(&m("Case", "x")).is_err());
        assert!(validate_metadata(&m("1abc", "x")).is_err());
        assert!(validate_metadata(&m("casefile-sha256", "x")).is_err());
        assert!(validate_metadata(&m("a", "line\nbreak")).is_err());
        assert!(validate_metadata(&m("a", "é")).is_err());
        assert!(validate_metadata(&m("a", &"x".repeat(3000))).is_err());
    }

    #[test]
    fn expiry_and_page_limits() {
        assert!(validate_expiry(Duration::from_secs(60)).is_ok());
        assert!(validate_expiry(Duration::ZERO).is_err());
        assert!(validate_expiry(MAX_PRESIGN_EXPIRY).is_ok());
        assert!(validate_expiry(MAX_PRESIGN_EXPIRY + Duration::from_secs(1)).is_err());
        assert_eq!(ListOptions::default().page_size().unwrap(), 1000);
        assert!(
            ListOptions {
                max_keys: Some(0),
                ..Default::default()
            }
            .page_size()
            .is_err()
        );
        assert!(
            ListOptions {
                max_keys: Some(1001),
                ..Default::default()
            }
            .page_size()
            .is_err()
        );
    }
}
