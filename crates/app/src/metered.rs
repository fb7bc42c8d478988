//! A store that counts and times every operation of the store it wraps
//! (`casefile_storage_operations_total`, `casefile_storage_operation_duration_seconds`), by
//! backend, operation and outcome. It changes nothing else: every call and every error passes
//! through as it is.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use casefile_domain::storage::{
    ByteRange, ByteStream, Capabilities, ListOptions, ListPage, ObjectKey, ObjectStorage,
    ObjectStream, PresignDownloadRequest, PresignUploadRequest, PresignedDownload, PresignedUpload,
    PutOptions, RetentionMode, StorageObject,
};
use casefile_domain::{StorageError, StorageResult};

/// [`ObjectStorage`] with metrics.
pub struct Metered {
    inner: Arc<dyn ObjectStorage>,
}

impl Metered {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn ObjectStorage>) -> Self {
        Self { inner }
    }

    fn record<T>(&self, operation: &'static str, started: Instant, result: &StorageResult<T>) {
        let outcome = match result {
            Ok(_) => "ok",
            Err(StorageError::NotFound { .. }) => "not_found",
            Err(StorageError::AlreadyExists { .. }) => "already_exists",
            Err(StorageError::NotSupported { .. }) => "not_supported",
            Err(_) => "error",
        };
        let backend = self.inner.backend_name();
        metrics::counter!(
            "casefile_storage_operations_total",
            "backend" => backend,
            "operation" => operation,
            "outcome" => outcome,
        )
        .increment(1);
        metrics::histogram!(
            "casefile_storage_operation_duration_seconds",
            "backend" => backend,
            "operation" => operation,
        )
        .record(started.elapsed().as_secs_f64());
    }
}

macro_rules! timed {
    ($self:ident, $operation:literal, $call:expr) => {{
        let started = Instant::now();
        let result = $call.await;
        $self.record($operation, started, &result);
        result
    }};
}

#[async_trait::async_trait]
impl ObjectStorage for Metered {
    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn upload(
        &self,
        key: &ObjectKey,
        data: Bytes,
        options: PutOptions,
    ) -> StorageResult<StorageObject> {
        timed!(self, "upload", self.inner.upload(key, data, options))
    }

    async fn upload_stream(
        &self,
        key: &ObjectKey,
        data: ByteStream,
        options: PutOptions,
    ) -> StorageResult<StorageObject> {
        timed!(self, "upload", self.inner.upload_stream(key, data, options))
    }

    async fn download(&self, key: &ObjectKey) -> StorageResult<Bytes> {
        timed!(self, "download", self.inner.download(key))
    }

    async fn download_stream(
        &self,
        key: &ObjectKey,
        range: Option<ByteRange>,
    ) -> StorageResult<ObjectStream> {
        timed!(self, "download", self.inner.download_stream(key, range))
    }

    async fn head(&self, key: &ObjectKey) -> StorageResult<Option<StorageObject>> {
        timed!(self, "head", self.inner.head(key))
    }

    async fn exists(&self, key: &ObjectKey) -> StorageResult<bool> {
        timed!(self, "head", self.inner.exists(key))
    }

    async fn delete(&self, key: &ObjectKey) -> StorageResult<()> {
        timed!(self, "delete", self.inner.delete(key))
    }

    async fn list(&self, options: ListOptions) -> StorageResult<ListPage> {
        timed!(self, "list", self.inner.list(options))
    }

    async fn copy(&self, from: &ObjectKey, to: &ObjectKey) -> StorageResult<StorageObject> {
        timed!(self, "copy", self.inner.copy(from, to))
    }

    async fn presigned_upload(
        &self,
        key: &ObjectKey,
        request: PresignUploadRequest,
    ) -> StorageResult<PresignedUpload> {
        timed!(
            self,
            "presign_upload",
            self.inner.presigned_upload(key, request)
        )
    }

    async fn upload_if_absent(
        &self,
        key: &ObjectKey,
        data: Bytes,
        options: PutOptions,
    ) -> StorageResult<StorageObject> {
        timed!(
            self,
            "upload_if_absent",
            self.inner.upload_if_absent(key, data, options)
        )
    }

    async fn set_legal_hold(&self, key: &ObjectKey, on: bool) -> StorageResult<()> {
        timed!(self, "set_legal_hold", self.inner.set_legal_hold(key, on))
    }

    async fn legal_hold(&self, key: &ObjectKey) -> StorageResult<bool> {
        timed!(self, "legal_hold", self.inner.legal_hold(key))
    }

    async fn set_retention(
        &self,
        key: &ObjectKey,
        until: chrono::DateTime<chrono::Utc>,
        mode: RetentionMode,
    ) -> StorageResult<()> {
        timed!(
            self,
            "set_retention",
            self.inner.set_retention(key, until, mode)
        )
    }

    async fn presigned_download(
        &self,
        key: &ObjectKey,
        request: PresignDownloadRequest,
    ) -> StorageResult<PresignedDownload> {
        timed!(
            self,
            "presign_download",
            self.inner.presigned_download(key, request)
        )
    }
}
