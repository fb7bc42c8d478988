//! [`MemoryStorage`]: an object store in process memory, for tests and examples.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use casefile_domain::content::{ContentHasher, prepare_upload};
use casefile_domain::storage::{
    ByteRange, ByteStream, Capabilities, ListOptions, ListPage, ObjectKey, ObjectStorage,
    ObjectStream, ObjectSummary, PresignDownloadRequest, PresignUploadRequest, PresignedDownload,
    PresignedUpload, PutOptions, StorageObject, UploadMethod,
};
use casefile_domain::{StorageError, StorageResult};
use chrono::Utc;
use futures::{StreamExt, stream};

use crate::presign::UrlSigner;
use crate::{UploadLimits, etag_of, summary_of};

const BACKEND: &str = "memory";

#[derive(Debug, Clone)]
struct Entry {
    object: StorageObject,
    data: Bytes,
}

/// An object store in memory. Cheap to clone: clones share the same objects.
///
/// It keeps every object whole in memory (it is for tests); everything else behaves as the
/// contract of [`ObjectStorage`] says, and it passes the whole conformance suite. Presigned URLs
/// are signed by a [`UrlSigner`] (by default with a random secret and the base URL
/// `http://127.0.0.1/memory/`); nothing serves them unless the application does.
#[derive(Debug, Clone)]
pub struct MemoryStorage {
    objects: Arc<RwLock<BTreeMap<ObjectKey, Entry>>>,
    signer: UrlSigner,
}

impl Default for MemoryStorage {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStorage {
    /// An empty store.
    pub fn new() -> Self {
        let signer = UrlSigner::new(
            "http://127.0.0.1/memory/",
            rand::random::<[u8; 32]>().to_vec(),
        )
        .unwrap_or_else(|_| unreachable!("the default base URL and secret are valid"));
        Self {
            objects: Arc::default(),
            signer,
        }
    }

    /// This store, signing presigned URLs with `signer`.
    pub fn with_url_signer(mut self, signer: UrlSigner) -> Self {
        self.signer = signer;
        self
    }

    /// The signer of this store's presigned URLs (to verify them).
    pub fn url_signer(&self) -> &UrlSigner {
        &self.signer
    }

    /// Uploads `data` to `key` under `limits`, storing nothing when a limit is broken: as
    /// [`FsStorage::upload_with_limits`](crate::FsStorage::upload_with_limits).
    ///
    /// # Errors
    /// [`StorageError::TooLarge`], [`StorageError::ChecksumMismatch`], and those of
    /// [`ObjectStorage::upload_stream`].
    pub async fn upload_with_limits(
        &self,
        key: &ObjectKey,
        data: ByteStream,
        options: PutOptions,
        limits: UploadLimits,
    ) -> StorageResult<StorageObject> {
        options.validate()?;
        let (content_type, mut data) =
            prepare_upload(key, options.content_type.as_deref(), data).await?;
        let mut hasher = ContentHasher::new();
        let mut buffer = BytesMut::new();
        while let Some(chunk) = data.next().await {
            let chunk = chunk?;
            hasher.update(&chunk);
            limits.check_size(hasher.size())?;
            buffer.extend_from_slice(&chunk);
        }
        let (sha256, size) = hasher.finish();
        limits.check_sha256(sha256)?;
        let object = StorageObject {
            key: key.clone(),
            size,
            last_modified: Utc::now(),
            etag: Some(etag_of(&sha256)),
            content_type,
            metadata: options.metadata,
            sha256: Some(sha256),
        };
        let entry = Entry {
            object: object.clone(),
            data: buffer.freeze(),
        };
        let mut objects = self.write();
        if limits.if_absent && objects.contains_key(key) {
            return Err(StorageError::AlreadyExists {
                key: key.to_string(),
            });
        }
        objects.insert(key.clone(), entry);
        Ok(object)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<ObjectKey, Entry>> {
        self.objects.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<ObjectKey, Entry>> {
        self.objects.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl ObjectStorage for MemoryStorage {
    fn backend_name(&self) -> &'static str {
        BACKEND
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::minimal()
            .with_presigned_upload(UploadMethod::Put, true, true)
            .with_presigned_download()
            .with_create_only()
    }

    async fn upload_if_absent(
        &self,
        key: &ObjectKey,
        data: bytes::Bytes,
        options: PutOptions,
    ) -> StorageResult<StorageObject> {
        let body: ByteStream = Box::pin(stream::once(async move { Ok(data) }));
        let limits = UploadLimits {
            if_absent: true,
            ..UploadLimits::default()
        };
        self.upload_with_limits(key, body, options, limits).await
    }

    async fn upload_stream(
        &self,
        key: &ObjectKey,
        data: ByteStream,
        options: PutOptions,
    ) -> StorageResult<StorageObject> {
        self.upload_with_limits(key, data, options, UploadLimits::default())
            .await
    }

    async fn download_stream(
        &self,
        key: &ObjectKey,
        range: Option<ByteRange>,
    ) -> StorageResult<ObjectStream> {
        if let Some(range) = &range {
            range.validate()?;
        }
        let entry = self
            .read()
            .get(key)
            .cloned()
            .ok_or_else(|| StorageError::not_found(key.as_str()))?;
        let range = ByteRange::span(range, entry.object.size)?;
        let (start, end) = (to_index(range.start), to_index(range.end));
        let body = entry.data.slice(start..end);
        Ok(ObjectStream {
            object: entry.object,
            range,
            body: Box::pin(stream::once(async move { Ok(body) })),
        })
    }

    async fn head(&self, key: &ObjectKey) -> StorageResult<Option<StorageObject>> {
        Ok(self.read().get(key).map(|e| e.object.clone()))
    }

    async fn delete(&self, key: &ObjectKey) -> StorageResult<()> {
        self.write().remove(key);
        Ok(())
    }

    async fn list(&self, options: ListOptions) -> StorageResult<ListPage> {
        let page_size = options.page_size()?;
        let objects = self.read();
        let lower = match &options.continuation_token {
            Some(token) => Bound::Excluded(
                ObjectKey::new(token.as_str())
                    .map_err(|_| StorageError::invalid_input("continuation_token", "malformed"))?,
            ),
            None => Bound::Unbounded,
        };
        let mut page: Vec<ObjectSummary> = objects
            .range((lower, Bound::Unbounded))
            .filter(|(k, _)| options.prefix.as_ref().is_none_or(|p| k.is_under(p)))
            .take(page_size + 1)
            .map(|(_, e)| summary_of(&e.object))
            .collect();
        let next_token = if page.len() > page_size {
            page.truncate(page_size);
            page.last().map(|s| s.key.to_string())
        } else {
            None
        };
        Ok(ListPage {
            objects: page,
            next_token,
        })
    }

    async fn copy(&self, from: &ObjectKey, to: &ObjectKey) -> StorageResult<StorageObject> {
        let mut objects = self.write();
        let mut entry = objects
            .get(from)
            .cloned()
            .ok_or_else(|| StorageError::not_found(from.as_str()))?;
        entry.object.key = to.clone();
        entry.object.last_modified = Utc::now();
        objects.insert(to.clone(), entry.clone());
        Ok(entry.object)
    }

    async fn presigned_upload(
        &self,
        key: &ObjectKey,
        request: PresignUploadRequest,
    ) -> StorageResult<PresignedUpload> {
        self.signer.sign_upload(key, &request, Utc::now())
    }

    async fn presigned_download(
        &self,
        key: &ObjectKey,
        request: PresignDownloadRequest,
    ) -> StorageResult<PresignedDownload> {
        self.signer.sign_download(key, &request, Utc::now())
    }
}

/// An offset into an in-memory object: always within `usize` since the object is in memory.
fn to_index(offset: u64) -> usize {
    usize::try_from(offset).unwrap_or(usize::MAX)
}
