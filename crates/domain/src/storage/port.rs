//! The object-storage port: [`ObjectStorage`] and its convenience extension.

use bytes::{Bytes, BytesMut};
use futures::stream::{self, BoxStream};
use futures::{StreamExt, TryStreamExt};

use crate::error::{StorageError, StorageResult};
use crate::storage::{
    ByteRange, ByteStream, Capabilities, ListOptions, ListPage, ObjectKey, ObjectStream,
    ObjectSummary, PresignDownloadRequest, PresignUploadRequest, PresignedDownload,
    PresignedUpload, PutOptions, RetentionMode, StorageObject,
};

/// An object store: the one interface casefile has to S3, Azure Blob, GCS, a local disk and memory.
///
/// Used as `Arc<dyn ObjectStorage>`. Convenience operations built on these live in
/// [`ObjectStorageExt`], implemented for every store.
///
/// # Contract
///
/// Every implementation passes the conformance suite of `casefile-testkit`, which checks each
/// point below. In short:
///
/// - Keys are [`ObjectKey`]s, already validated; an implementation MAY refuse a key that breaks a
///   limit of its own (e.g. a segment over 255 bytes on a local disk) with
///   [`StorageError::InvalidKey`], before any I/O.
/// - Writes are atomic: a reader sees the old object or the new one, never a part; a failed or
///   abandoned upload leaves no object behind.
/// - On every upload the SHA-256 and size of the content are computed while the bytes pass (never
///   by reading them again) and recorded so that [`head`](Self::head) returns them; the content
///   type is the one given or else detected ([`crate::content::prepare_upload`]).
/// - Memory stays bounded whatever the size of an object, for streamed uploads and downloads.
/// - Errors are semantic [`StorageError`]s; a missing object is
///   [`StorageError::NotFound`] (never a backend error), except where `None`/`false`/`Ok` is
///   documented instead.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait::async_trait]
pub trait ObjectStorage: Send + Sync {
    /// A short name of the backend (`"fs"`, `"memory"`, `"s3"`, ...) used in errors and logs.
    fn backend_name(&self) -> &'static str;

    /// What this backend, as configured, can do.
    fn capabilities(&self) -> Capabilities;

    /// Uploads `data` as the object `key`, replacing any object there.
    ///
    /// MUST validate `options` first ([`PutOptions::validate`]) and fail with
    /// [`StorageError::InvalidInput`] without writing. MUST return the object as stored, with
    /// `size` and `sha256` of `data`.
    async fn upload(
        &self,
        key: &ObjectKey,
        data: Bytes,
        options: PutOptions,
    ) -> StorageResult<StorageObject> {
        let body: ByteStream = Box::pin(stream::once(async move { Ok(data) }));
        self.upload_stream(key, body, options).await
    }

    /// Uploads a stream of unknown length as the object `key`, replacing any object there.
    ///
    /// MUST keep memory bounded (independent of the stream's length). MUST NOT leave any object
    /// (nor change an existing one) when the stream yields an error or the upload fails midway:
    /// that error is returned. Otherwise as [`upload`](Self::upload).
    async fn upload_stream(
        &self,
        key: &ObjectKey,
        data: ByteStream,
        options: PutOptions,
    ) -> StorageResult<StorageObject>;

    /// Downloads the whole object into memory. Meant for small objects; prefer
    /// [`download_stream`](Self::download_stream).
    ///
    /// MUST return [`StorageError::NotFound`] when there is no object at `key`.
    async fn download(&self, key: &ObjectKey) -> StorageResult<Bytes> {
        let found = self.download_stream(key, None).await?;
        let capacity = usize::try_from(found.range.end - found.range.start).unwrap_or(0);
        let bytes = found
            .body
            .try_fold(
                BytesMut::with_capacity(capacity),
                |mut acc, chunk| async move {
                    acc.extend_from_slice(&chunk);
                    Ok(acc)
                },
            )
            .await?;
        Ok(bytes.freeze())
    }

    /// Downloads the object, or the bytes of `range`, as a stream.
    ///
    /// MUST return [`StorageError::NotFound`] when there is no object at `key`,
    /// [`StorageError::InvalidInput`] for an empty range and
    /// [`StorageError::RangeNotSatisfiable`] for a range starting at or past the end
    /// (see [`ByteRange::resolve`]); these errors come from this call, not from the stream.
    /// The stream MUST yield exactly the bytes of [`ObjectStream::range`].
    async fn download_stream(
        &self,
        key: &ObjectKey,
        range: Option<ByteRange>,
    ) -> StorageResult<ObjectStream>;

    /// What the store knows of the object; `Ok(None)` when there is none (never
    /// [`StorageError::NotFound`]).
    ///
    /// A key that is only a prefix of other keys ("a directory") has no object: `None`.
    async fn head(&self, key: &ObjectKey) -> StorageResult<Option<StorageObject>>;

    /// Whether an object exists at `key`. MUST be `false` for a missing object (and for a key
    /// that is only a prefix of others).
    async fn exists(&self, key: &ObjectKey) -> StorageResult<bool> {
        Ok(self.head(key).await?.is_some())
    }

    /// Deletes the object. Idempotent: MUST succeed when there is no object at `key`.
    async fn delete(&self, key: &ObjectKey) -> StorageResult<()>;

    /// One page of the objects under [`ListOptions::prefix`], taken as a directory (`a/b` lists
    /// `a/b/x` and `a/b/c/y`, never `a/bc`), or of every object when it is `None`.
    ///
    /// MUST return keys in ascending byte order, at most
    /// [`ListOptions::page_size`] of them, and a `next_token` exactly when more may follow;
    /// following the tokens MUST return every object present throughout the listing once, with
    /// no duplicate. A prefix with no object under it is an empty page, not an error.
    async fn list(&self, options: ListOptions) -> StorageResult<ListPage>;

    /// Copies the object at `from` to `to`, replacing any object there, keeping its content type,
    /// metadata and recorded SHA-256.
    ///
    /// MUST return [`StorageError::NotFound`] when there is no object at `from`.
    async fn copy(&self, from: &ObjectKey, to: &ObjectKey) -> StorageResult<StorageObject>;

    /// A URL (and the form fields or headers) with which a client uploads `key` directly.
    ///
    /// MUST bind the content type and `max_size` wherever the backend can (see
    /// [`Capabilities`]), MUST refuse an expiry outside (0, 7 days] with
    /// [`StorageError::InvalidInput`], and MUST return [`StorageError::NotSupported`] when
    /// [`Capabilities::presigned_upload`] is `None`.
    async fn presigned_upload(
        &self,
        key: &ObjectKey,
        request: PresignUploadRequest,
    ) -> StorageResult<PresignedUpload>;

    /// Writes `data` as the object `key` only if no object is there, atomically: of two writers,
    /// one succeeds and the other gets [`StorageError::AlreadyExists`], and the object is never
    /// replaced. For small objects written once (e.g. the audit log's anchored checkpoints).
    ///
    /// A store without it ([`Capabilities::create_only`] false) MUST return
    /// [`StorageError::NotSupported`] (the default).
    async fn upload_if_absent(
        &self,
        key: &ObjectKey,
        data: Bytes,
        options: PutOptions,
    ) -> StorageResult<StorageObject> {
        let _ = (key, data, options);
        Err(StorageError::NotSupported {
            backend: self.backend_name(),
            operation: "create-only upload".to_owned(),
        })
    }

    /// Turns the store's own legal hold of the object `key` on or off: while it is on, the store
    /// refuses to delete or overwrite that object version, whoever asks.
    ///
    /// A store without one ([`Capabilities::legal_hold`] false) MUST return
    /// [`StorageError::NotSupported`] (the default). A missing object is
    /// [`StorageError::NotFound`].
    async fn set_legal_hold(&self, key: &ObjectKey, on: bool) -> StorageResult<()> {
        let _ = (key, on);
        Err(StorageError::NotSupported {
            backend: self.backend_name(),
            operation: "legal hold".to_owned(),
        })
    }

    /// Whether the store's own legal hold of `key` is on. [`StorageError::NotSupported`] where
    /// there is none (the default); [`StorageError::NotFound`] for a missing object.
    async fn legal_hold(&self, key: &ObjectKey) -> StorageResult<bool> {
        let _ = key;
        Err(StorageError::NotSupported {
            backend: self.backend_name(),
            operation: "legal hold".to_owned(),
        })
    }

    /// Makes the store itself keep the object `key` until `until`, in `mode`. A retention date
    /// can be extended, never shortened (the store refuses that).
    ///
    /// A store without it ([`Capabilities::retention`] false) MUST return
    /// [`StorageError::NotSupported`] (the default).
    async fn set_retention(
        &self,
        key: &ObjectKey,
        until: chrono::DateTime<chrono::Utc>,
        mode: RetentionMode,
    ) -> StorageResult<()> {
        let _ = (key, until, mode);
        Err(StorageError::NotSupported {
            backend: self.backend_name(),
            operation: "retention".to_owned(),
        })
    }

    /// A URL with which anyone holding it downloads `key` until it expires.
    ///
    /// With `file_name`, the response MUST carry `Content-Disposition: attachment` with that name.
    /// Expiry and support as for [`presigned_upload`](Self::presigned_upload). Presigning does not
    /// check that the object exists.
    async fn presigned_download(
        &self,
        key: &ObjectKey,
        request: PresignDownloadRequest,
    ) -> StorageResult<PresignedDownload>;
}

/// Convenience operations for every [`ObjectStorage`] (including `dyn ObjectStorage`).
pub trait ObjectStorageExt: ObjectStorage {
    /// Every object under `prefix`, page after page (`page_size` at a time), as one stream.
    fn list_all(
        &self,
        prefix: Option<ObjectKey>,
        page_size: usize,
    ) -> BoxStream<'_, StorageResult<ObjectSummary>> {
        enum State {
            Start,
            Next(String),
            Done,
        }
        let pages = stream::try_unfold(State::Start, move |state| {
            let prefix = prefix.clone();
            async move {
                let continuation_token = match state {
                    State::Done => return Ok::<_, StorageError>(None),
                    State::Start => None,
                    State::Next(token) => Some(token),
                };
                let options = ListOptions {
                    prefix,
                    max_keys: Some(page_size),
                    continuation_token,
                };
                let page = self.list(options).await?;
                let next = page.next_token.map_or(State::Done, State::Next);
                Ok(Some((stream::iter(page.objects.into_iter().map(Ok)), next)))
            }
        });
        pages.try_flatten().boxed()
    }

    /// The bytes of `range` of the object, in memory.
    fn download_range<'a>(
        &'a self,
        key: &'a ObjectKey,
        range: ByteRange,
    ) -> futures::future::BoxFuture<'a, StorageResult<Bytes>> {
        Box::pin(async move {
            let found = self.download_stream(key, Some(range)).await?;
            let parts: Vec<Bytes> = found.body.try_collect().await?;
            Ok(Bytes::from(parts.concat()))
        })
    }
}

impl<T: ObjectStorage + ?Sized> ObjectStorageExt for T {}
