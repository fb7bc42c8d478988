//! [`GcsStorage`]: the storage port on a GCS bucket.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use casefile_domain::content::{ContentHasher, OCTET_STREAM, prepare_upload, read_head};
use casefile_domain::storage::{
    ByteRange, ByteStream, Capabilities, ListOptions, ListPage, Metadata, ObjectKey, ObjectStorage,
    ObjectStream, ObjectSummary, PresignDownloadRequest, PresignUploadRequest, PresignedDownload,
    PresignedUpload, PutOptions, RESERVED_METADATA_PREFIX, StorageObject, UploadMethod, expires_at,
    validate_expiry,
};
use casefile_domain::{Sha256, StorageError, StorageResult};
use chrono::{DateTime, TimeZone, Utc};
use futures::{StreamExt, TryStreamExt};
use gcloud_storage::client::Client;
use gcloud_storage::http::Error;
use gcloud_storage::http::objects::Object;
use gcloud_storage::http::objects::copy::CopyObjectRequest;
use gcloud_storage::http::objects::delete::DeleteObjectRequest;
use gcloud_storage::http::objects::download::Range;
use gcloud_storage::http::objects::get::GetObjectRequest;
use gcloud_storage::http::objects::list::ListObjectsRequest;
use gcloud_storage::http::objects::patch::PatchObjectRequest;
use gcloud_storage::http::objects::upload::{UploadObjectRequest, UploadType};
use gcloud_storage::http::resumable_upload_client::{ChunkSize, UploadStatus};
use serde_json::json;

use crate::builder::GcsStorageBuilder;
use crate::error::{BACKEND, map_gcs, retriable};
use crate::v4::{self, PolicyRequest, ServiceAccount, UrlRequest, UrlStyle};

/// The metadata name under which the SHA-256 of the content is recorded.
pub const SHA256_METADATA: &str = "casefile-sha256";

/// The storage port on one GCS bucket. Cheap to clone.
#[derive(Clone)]
pub struct GcsStorage {
    client: Client,
    bucket: String,
    signer: Option<ServiceAccount>,
    scheme: String,
    host: String,
    chunk_size: usize,
    max_attempts: u32,
    timeout: Duration,
    presign_method: UploadMethod,
    temporary_holds: bool,
}

impl std::fmt::Debug for GcsStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GcsStorage")
            .field("bucket", &self.bucket)
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

fn to_chrono(t: Option<time::OffsetDateTime>) -> DateTime<Utc> {
    t.and_then(|t| {
        Utc.timestamp_opt(t.unix_timestamp(), t.nanosecond())
            .single()
    })
    .unwrap_or_else(Utc::now)
}

fn split_metadata(stored: Option<HashMap<String, String>>) -> (Metadata, Option<Sha256>) {
    let mut user = Metadata::new();
    let mut sha = None;
    for (k, v) in stored.unwrap_or_default() {
        if k == SHA256_METADATA {
            sha = Sha256::from_hex(&v).ok();
        } else if !k.starts_with(RESERVED_METADATA_PREFIX) {
            user.insert(k, v);
        }
    }
    (user, sha)
}

fn with_sha(metadata: &Metadata, sha: Option<Sha256>) -> HashMap<String, String> {
    let mut all: HashMap<String, String> = metadata.clone().into_iter().collect();
    if let Some(sha) = sha {
        all.insert(SHA256_METADATA.to_owned(), sha.to_hex());
    }
    all
}

fn to_object(key: &ObjectKey, o: Object) -> StorageObject {
    let (metadata, sha256) = split_metadata(o.metadata);
    StorageObject {
        key: key.clone(),
        size: u64::try_from(o.size).unwrap_or(0),
        last_modified: to_chrono(o.updated),
        etag: Some(o.etag),
        content_type: o.content_type.unwrap_or_else(|| OCTET_STREAM.to_owned()),
        metadata,
        sha256,
    }
}

impl GcsStorage {
    /// A builder for `bucket`.
    pub fn builder(bucket: impl Into<String>) -> GcsStorageBuilder {
        GcsStorageBuilder::new(bucket)
    }

    pub(crate) fn from_parts(
        client: Client,
        signer: Option<ServiceAccount>,
        b: GcsStorageBuilder,
    ) -> Self {
        let (scheme, host) = match &b.endpoint {
            Some(endpoint) => match endpoint.trim_end_matches('/').split_once("://") {
                Some((s, h)) => (s.to_owned(), h.to_owned()),
                None => ("http".to_owned(), endpoint.clone()),
            },
            None => ("https".to_owned(), "storage.googleapis.com".to_owned()),
        };
        Self {
            client,
            bucket: b.bucket,
            signer,
            scheme,
            host,
            chunk_size: b.chunk_size,
            max_attempts: b.max_attempts,
            timeout: b.timeout,
            presign_method: b.presign_method,
            temporary_holds: b.temporary_holds,
        }
    }

    /// Runs an idempotent request with a timeout, retrying throttling, server and network
    /// errors with backoff.
    async fn idempotent<T, F, Fut>(&self, what: &str, mut op: F) -> StorageResult<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let mut attempt = 1;
        loop {
            match tokio::time::timeout(self.timeout, op()).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(e)) if retriable(&e) && attempt < self.max_attempts => {}
                Ok(Err(e)) => return Err(map_gcs(e, what)),
                Err(_) if attempt < self.max_attempts => {}
                Err(_) => {
                    return Err(StorageError::Unavailable {
                        backend: BACKEND,
                        message: format!("{what}: no answer within {:?}", self.timeout),
                        source: None,
                    });
                }
            }
            tokio::time::sleep(Duration::from_millis(100 * 2u64.pow(attempt))).await;
            attempt += 1;
        }
    }

    async fn once<T>(
        &self,
        what: &str,
        op: impl Future<Output = Result<T, Error>>,
    ) -> StorageResult<T> {
        match tokio::time::timeout(self.timeout, op).await {
            Ok(result) => result.map_err(|e| map_gcs(e, what)),
            Err(_) => Err(StorageError::Unavailable {
                backend: BACKEND,
                message: format!("{what}: no answer within {:?}", self.timeout),
                source: None,
            }),
        }
    }

    async fn get(&self, key: &ObjectKey) -> StorageResult<Option<Object>> {
        let request = GetObjectRequest {
            bucket: self.bucket.clone(),
            object: key.to_string(),
            ..Default::default()
        };
        match self
            .idempotent(key.as_str(), || self.client.get_object(&request))
            .await
        {
            Ok(o) => Ok(Some(o)),
            Err(StorageError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn signer(&self) -> StorageResult<&ServiceAccount> {
        self.signer
            .as_ref()
            .ok_or_else(|| StorageError::NotSupported {
                backend: BACKEND,
                operation: "presigned URLs need a service-account key".into(),
            })
    }
}

#[async_trait]
impl ObjectStorage for GcsStorage {
    fn backend_name(&self) -> &'static str {
        BACKEND
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::minimal().with_server_side_encryption();
        if self.temporary_holds {
            caps = caps.with_legal_hold();
        }
        if self.signer.is_some() {
            // Both the POST policy's content-length-range and a signed
            // x-goog-content-length-range are enforced by GCS.
            caps.with_presigned_upload(self.presign_method, true, false)
                .with_presigned_download()
        } else {
            caps
        }
    }

    async fn upload_stream(
        &self,
        key: &ObjectKey,
        data: ByteStream,
        options: PutOptions,
    ) -> StorageResult<StorageObject> {
        options.validate()?;
        let (content_type, mut data) =
            prepare_upload(key, options.content_type.as_deref(), data).await?;
        let mut hasher = ContentHasher::new();
        let (mut buffer, mut ended) = read_head(&mut data, self.chunk_size, &mut hasher).await?;
        let single = ended.then(|| hasher.clone().finish().0);
        let meta = Object {
            name: key.to_string(),
            content_type: Some(content_type.clone()),
            metadata: Some(with_sha(&options.metadata, single)),
            ..Default::default()
        };
        let request = UploadObjectRequest {
            bucket: self.bucket.clone(),
            ..Default::default()
        };
        let session = self
            .once(
                key.as_str(),
                self.client
                    .prepare_resumable_upload(&request, &UploadType::Multipart(Box::new(meta))),
            )
            .await?;
        if let Some(sha) = single {
            let len = buffer.len();
            let result = self
                .once(
                    key.as_str(),
                    session.upload_single_chunk(buffer.freeze(), len),
                )
                .await;
            if let Err(e) = result {
                let _ = session.cancel().await;
                return Err(e);
            }
            let _ = sha;
        } else {
            // Chunks of exactly chunk_size (a multiple of 256 KiB) until the end; the last one
            // carries the total size.
            let mut sent = 0u64;
            let outcome: StorageResult<Object> = async {
                loop {
                    while !ended && buffer.len() < self.chunk_size {
                        match data.next().await {
                            Some(chunk) => {
                                let chunk = chunk?;
                                hasher.update(&chunk);
                                buffer.extend_from_slice(&chunk);
                            }
                            None => ended = true,
                        }
                    }
                    let take = buffer.len().min(self.chunk_size);
                    let part: Bytes = buffer.split_to(take).freeze();
                    let last = ended && buffer.is_empty();
                    let len = part.len() as u64;
                    let total = last.then_some(sent + len);
                    let range = if len == 0 {
                        ChunkSize::new(sent, sent, total)
                    } else {
                        ChunkSize::new(sent, sent + len - 1, total)
                    };
                    let status = self
                        .once(key.as_str(), session.upload_multiple_chunk(part, &range))
                        .await?;
                    sent += len;
                    match status {
                        UploadStatus::Ok(object) => return Ok(object),
                        _ if last => {
                            return Err(StorageError::backend(
                                BACKEND,
                                "the final chunk did not complete the upload",
                            ));
                        }
                        _ => {}
                    }
                }
            }
            .await;
            let object = match outcome {
                Ok(object) => object,
                Err(e) => {
                    let _ = session.cancel().await;
                    return Err(e);
                }
            };
            let (sha, _) = hasher.finish();
            let patch = PatchObjectRequest {
                bucket: self.bucket.clone(),
                object: key.to_string(),
                if_generation_match: Some(object.generation),
                metadata: Some(Object {
                    metadata: Some(with_sha(&options.metadata, Some(sha))),
                    ..Default::default()
                }),
                ..Default::default()
            };
            let patched = self
                .once(key.as_str(), self.client.patch_object(&patch))
                .await;
            // Judge the patch by the object as stored: some servers (fake-gcs-server) answer
            // a successful patch with a body the client cannot decode.
            let stored = self.get(key).await?;
            let recorded = stored.as_ref().and_then(|o| {
                o.metadata
                    .as_ref()
                    .and_then(|m| m.get(SHA256_METADATA))
                    .cloned()
            });
            if recorded.as_deref() != Some(sha.to_hex().as_str()) {
                // Never leave an object without its recorded hash by accident.
                let _ = self.delete(key).await;
                return Err(match patched {
                    Err(e) => e,
                    Ok(_) => {
                        StorageError::backend(BACKEND, "the SHA-256 metadata was not recorded")
                    }
                });
            }
        }
        let stored = self.get(key).await?.ok_or_else(|| {
            StorageError::backend(BACKEND, "the object vanished after its upload")
        })?;
        Ok(to_object(key, stored))
    }

    async fn download_stream(
        &self,
        key: &ObjectKey,
        range: Option<ByteRange>,
    ) -> StorageResult<ObjectStream> {
        if let Some(r) = &range {
            r.validate()?;
        }
        let object = self
            .get(key)
            .await?
            .ok_or_else(|| StorageError::not_found(key.as_str()))?;
        let generation = object.generation;
        let object = to_object(key, object);
        let span = ByteRange::span(range, object.size)?;
        let body: ByteStream = if span.is_empty() {
            Box::pin(futures::stream::empty())
        } else {
            let request = GetObjectRequest {
                bucket: self.bucket.clone(),
                object: key.to_string(),
                generation: Some(generation),
                ..Default::default()
            };
            let bytes = Range(Some(span.start), Some(span.end - 1));
            let stream = self
                .once(
                    key.as_str(),
                    self.client.download_streamed_object(&request, &bytes),
                )
                .await?;
            Box::pin(stream.map_err(|e| StorageError::backend(BACKEND, e)))
        };
        Ok(ObjectStream {
            object,
            range: span,
            body,
        })
    }

    async fn set_legal_hold(&self, key: &ObjectKey, on: bool) -> StorageResult<()> {
        if !self.temporary_holds {
            return Err(StorageError::NotSupported {
                backend: BACKEND,
                operation: "legal hold (temporary holds are not configured)".into(),
            });
        }
        // A PATCH of one field: every other field of the object is left out of the body (and
        // so left as it is).
        let request = PatchObjectRequest {
            bucket: self.bucket.clone(),
            object: key.to_string(),
            metadata: Some(Object {
                temporary_hold: Some(on),
                ..Default::default()
            }),
            ..Default::default()
        };
        self.idempotent(key.as_str(), || self.client.patch_object(&request))
            .await
            .map(drop)
    }

    async fn legal_hold(&self, key: &ObjectKey) -> StorageResult<bool> {
        if !self.temporary_holds {
            return Err(StorageError::NotSupported {
                backend: BACKEND,
                operation: "legal hold (temporary holds are not configured)".into(),
            });
        }
        match self.get(key).await? {
            Some(object) => Ok(object.temporary_hold.unwrap_or(false)),
            None => Err(StorageError::NotFound {
                key: key.to_string(),
            }),
        }
    }

    async fn head(&self, key: &ObjectKey) -> StorageResult<Option<StorageObject>> {
        Ok(self.get(key).await?.map(|o| to_object(key, o)))
    }

    async fn delete(&self, key: &ObjectKey) -> StorageResult<()> {
        let request = DeleteObjectRequest {
            bucket: self.bucket.clone(),
            object: key.to_string(),
            ..Default::default()
        };
        match self
            .idempotent(key.as_str(), || self.client.delete_object(&request))
            .await
        {
            Ok(()) | Err(StorageError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn list(&self, options: ListOptions) -> StorageResult<ListPage> {
        let page_size = options.page_size()?;
        let request = ListObjectsRequest {
            bucket: self.bucket.clone(),
            prefix: options.prefix.as_ref().map(|p| format!("{p}/")),
            max_results: Some(i32::try_from(page_size).unwrap_or(1000)),
            page_token: options.continuation_token.clone(),
            ..Default::default()
        };
        let page = self
            .idempotent("listing", || self.client.list_objects(&request))
            .await?;
        let objects = page
            .items
            .unwrap_or_default()
            .into_iter()
            .filter_map(|o| {
                let key = ObjectKey::new(o.name.clone()).ok()?;
                Some(ObjectSummary {
                    key,
                    size: u64::try_from(o.size).unwrap_or(0),
                    last_modified: to_chrono(o.updated),
                    etag: Some(o.etag),
                })
            })
            .collect();
        Ok(ListPage {
            objects,
            next_token: page.next_page_token.filter(|t| !t.is_empty()),
        })
    }

    async fn copy(&self, from: &ObjectKey, to: &ObjectKey) -> StorageResult<StorageObject> {
        let request = CopyObjectRequest {
            source_bucket: self.bucket.clone(),
            source_object: from.to_string(),
            destination_bucket: self.bucket.clone(),
            destination_object: to.to_string(),
            ..Default::default()
        };
        let copied = self
            .once(from.as_str(), self.client.copy_object(&request))
            .await?;
        Ok(to_object(to, copied))
    }

    async fn presigned_upload(
        &self,
        key: &ObjectKey,
        request: PresignUploadRequest,
    ) -> StorageResult<PresignedUpload> {
        validate_expiry(request.expires_in)?;
        casefile_domain::content::validate_content_type(&request.content_type)?;
        let signer = self.signer()?;
        let now = Utc::now();
        let expires_at = expires_at(now, request.expires_in);
        match self.presign_method {
            UploadMethod::Post => {
                let mut fields =
                    BTreeMap::from([("content-type".to_owned(), request.content_type.clone())]);
                if let Some(sha) = request.sha256 {
                    fields.insert(format!("x-goog-meta-{SHA256_METADATA}"), sha.to_hex());
                }
                let signed = v4::sign_policy(
                    signer,
                    &PolicyRequest {
                        scheme: &self.scheme,
                        host: &self.host,
                        style: UrlStyle::Path,
                        bucket: &self.bucket,
                        object: key.as_str(),
                        conditions: vec![json!(["content-length-range", 0, request.max_size])],
                        fields,
                        timestamp: now,
                        expires_in: request.expires_in.as_secs(),
                    },
                )
                .map_err(|e| StorageError::backend(BACKEND, e))?;
                // `host/bucket` and `host/bucket/` are the same endpoint for GCS; fake-gcs-server
                // only knows the first.
                let url = signed.url.trim_end_matches('/').to_owned();
                Ok(PresignedUpload {
                    method: UploadMethod::Post,
                    url,
                    fields: signed.fields,
                    headers: BTreeMap::new(),
                    expires_at,
                })
            }
            UploadMethod::Put => {
                let mut headers = vec![
                    ("content-type".to_owned(), request.content_type.clone()),
                    (
                        "x-goog-content-length-range".to_owned(),
                        format!("0,{}", request.max_size),
                    ),
                    // Signed: the URL creates the object once and cannot overwrite it.
                    ("x-goog-if-generation-match".to_owned(), "0".to_owned()),
                ];
                if let Some(sha) = request.sha256 {
                    headers.push((format!("x-goog-meta-{SHA256_METADATA}"), sha.to_hex()));
                }
                let signed = v4::sign_url(
                    signer,
                    &UrlRequest {
                        method: "PUT",
                        scheme: &self.scheme,
                        host: &self.host,
                        style: UrlStyle::Path,
                        bucket: &self.bucket,
                        object: key.as_str(),
                        headers: headers.clone(),
                        query: Vec::new(),
                        timestamp: now,
                        expires_in: request.expires_in.as_secs(),
                    },
                )
                .map_err(|e| StorageError::backend(BACKEND, e))?;
                Ok(PresignedUpload {
                    method: UploadMethod::Put,
                    url: signed.url,
                    fields: BTreeMap::new(),
                    headers: headers.into_iter().collect(),
                    expires_at,
                })
            }
        }
    }

    async fn presigned_download(
        &self,
        key: &ObjectKey,
        request: PresignDownloadRequest,
    ) -> StorageResult<PresignedDownload> {
        validate_expiry(request.expires_in)?;
        let signer = self.signer()?;
        let query: Vec<(String, String)> = request
            .content_disposition()?
            .map(|d| ("response-content-disposition".to_owned(), d))
            .into_iter()
            .collect();
        let now = Utc::now();
        let signed = v4::sign_url(
            signer,
            &UrlRequest {
                method: "GET",
                scheme: &self.scheme,
                host: &self.host,
                style: UrlStyle::Path,
                bucket: &self.bucket,
                object: key.as_str(),
                headers: Vec::new(),
                query,
                timestamp: now,
                expires_in: request.expires_in.as_secs(),
            },
        )
        .map_err(|e| StorageError::backend(BACKEND, e))?;
        Ok(PresignedDownload {
            url: signed.url,
            expires_at: expires_at(now, request.expires_in),
        })
    }
}
