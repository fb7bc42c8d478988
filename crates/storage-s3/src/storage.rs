//! [`S3Storage`]: the storage port on S3.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream as SdkBody;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, MetadataDirective, ServerSideEncryption as SdkSse,
};
use bytes::{Bytes, BytesMut};
use casefile_domain::content::{ContentHasher, prepare_upload, read_head};
use casefile_domain::storage::expires_at;
use casefile_domain::storage::{
    ByteRange, ByteStream, Capabilities, ListOptions, ListPage, Metadata, ObjectKey, ObjectStorage,
    ObjectStream, ObjectSummary, PresignDownloadRequest, PresignUploadRequest, PresignedDownload,
    PresignedUpload, PutOptions, RetentionMode, StorageObject, UploadMethod, validate_expiry,
};
use casefile_domain::{Sha256, StorageError, StorageResult};
use chrono::{DateTime, TimeZone, Utc};
use futures::stream::{FuturesOrdered, StreamExt};

use crate::builder::{S3StorageBuilder, ServerSideEncryption, UploadObserver};
use crate::error::{BACKEND, map_sdk};
use crate::post_policy::{PostPolicy, SigningCredentials};

/// The user-metadata name under which the SHA-256 of the content is recorded.
pub const SHA256_METADATA: &str = "casefile-sha256";
/// The largest object S3 copies in one request: above it, a streamed upload keeps no recorded
/// SHA-256 (`head` reports `None`; the service then hashes by streaming).
const MAX_SINGLE_COPY: u64 = 5 * 1024 * 1024 * 1024;

/// The storage port on an S3 bucket (AWS or S3-compatible). Cheap to clone.
#[derive(Clone)]
pub struct S3Storage {
    pub(crate) client: aws_sdk_s3::Client,
    pub(crate) bucket: String,
    sdk: aws_config::SdkConfig,
    region: String,
    endpoint: Option<String>,
    force_path_style: bool,
    sse: ServerSideEncryption,
    part_size: usize,
    concurrency: usize,
    presign_method: UploadMethod,
    observer: Option<UploadObserver>,
    object_lock: Option<RetentionMode>,
    create_only: bool,
}

impl std::fmt::Debug for S3Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Storage")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("sse", &self.sse)
            .finish_non_exhaustive()
    }
}

fn to_chrono(t: Option<&aws_smithy_types::DateTime>) -> DateTime<Utc> {
    t.and_then(|t| Utc.timestamp_opt(t.secs(), t.subsec_nanos()).single())
        .unwrap_or_else(Utc::now)
}

fn size(n: Option<i64>) -> u64 {
    n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0)
}

/// Splits S3 user metadata into the caller's and the recorded SHA-256.
fn split_metadata(mut metadata: HashMap<String, String>) -> (Metadata, Option<Sha256>) {
    let sha = metadata
        .remove(SHA256_METADATA)
        .and_then(|h| Sha256::from_hex(&h).ok());
    metadata.retain(|k, _| !k.starts_with(casefile_domain::storage::RESERVED_METADATA_PREFIX));
    (metadata.into_iter().collect(), sha)
}

fn with_sha(metadata: &Metadata, sha: Sha256) -> HashMap<String, String> {
    let mut all: HashMap<String, String> = metadata.clone().into_iter().collect();
    all.insert(SHA256_METADATA.to_owned(), sha.to_hex());
    all
}

/// The body of a multipart upload: its first part, what was read past it (already hashed), the
/// rest of the stream, and the hasher that has seen everything read so far.
struct Body {
    first: Bytes,
    leftover: BytesMut,
    data: ByteStream,
    hasher: ContentHasher,
}

/// Aborts a multipart upload that did not complete, even when the future is dropped.
struct AbortGuard {
    client: aws_sdk_s3::Client,
    bucket: String,
    key: String,
    upload_id: Option<String>,
}

impl AbortGuard {
    async fn abort(mut self) {
        if let Some(id) = self.upload_id.take() {
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(&self.key)
                .upload_id(id)
                .send()
                .await;
        }
    }

    fn disarm(mut self) {
        self.upload_id = None;
    }
}

impl Drop for AbortGuard {
    fn drop(&mut self) {
        if let Some(id) = self.upload_id.take()
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            let request = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(&self.key)
                .upload_id(id);
            handle.spawn(async move {
                let _ = request.send().await;
            });
        }
    }
}

impl S3Storage {
    /// A builder for `bucket`.
    pub fn builder(bucket: impl Into<String>) -> S3StorageBuilder {
        S3StorageBuilder::new(bucket)
    }

    pub(crate) fn from_parts(
        client: aws_sdk_s3::Client,
        sdk: aws_config::SdkConfig,
        builder: S3StorageBuilder,
        region: String,
    ) -> Self {
        Self {
            client,
            bucket: builder.bucket,
            sdk,
            region,
            endpoint: builder.endpoint,
            force_path_style: builder.force_path_style,
            sse: builder.sse,
            part_size: builder.part_size,
            concurrency: builder.upload_concurrency,
            presign_method: builder.presign_method,
            observer: builder.upload_observer,
            object_lock: builder.object_lock,
            create_only: builder.create_only,
        }
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    fn sse(&self) -> (Option<SdkSse>, Option<String>) {
        match &self.sse {
            ServerSideEncryption::None => (None, None),
            ServerSideEncryption::Aes256 => (Some(SdkSse::Aes256), None),
            ServerSideEncryption::Kms { key_id } => (Some(SdkSse::AwsKms), key_id.clone()),
        }
    }

    /// The URL a POST upload goes to.
    fn post_url(&self) -> String {
        match &self.endpoint {
            Some(endpoint) if self.force_path_style => {
                format!("{}/{}", endpoint.trim_end_matches('/'), self.bucket)
            }
            Some(endpoint) => {
                let mut url = url::Url::parse(endpoint).unwrap_or_else(|_| {
                    url::Url::parse("https://s3.amazonaws.com").unwrap_or_else(|_| unreachable!())
                });
                let host = format!("{}.{}", self.bucket, url.host_str().unwrap_or_default());
                let _ = url.set_host(Some(&host));
                url.to_string()
            }
            None => format!("https://{}.s3.{}.amazonaws.com/", self.bucket, self.region),
        }
    }

    async fn signing_credentials(&self) -> StorageResult<SigningCredentials> {
        let provider =
            self.sdk
                .credentials_provider()
                .ok_or_else(|| StorageError::Unauthenticated {
                    message: "no credentials provider configured".to_owned(),
                    source: None,
                })?;
        let creds =
            provider
                .provide_credentials()
                .await
                .map_err(|e| StorageError::Unauthenticated {
                    message: "cannot load credentials to sign".to_owned(),
                    source: Some(Box::new(e)),
                })?;
        Ok(SigningCredentials {
            access_key_id: creds.access_key_id().to_owned(),
            secret_access_key: creds.secret_access_key().to_owned(),
            session_token: creds.session_token().map(str::to_owned),
        })
    }

    async fn put_single(
        &self,
        key: &ObjectKey,
        body: Bytes,
        content_type: &str,
        metadata: &Metadata,
        sha: Sha256,
    ) -> StorageResult<Option<String>> {
        let (sse, kms) = self.sse();
        let length = i64::try_from(body.len()).unwrap_or(i64::MAX);
        let out = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type(content_type)
            .content_length(length)
            // Known before sending: S3 checks the bytes against it (and Object Lock buckets
            // refuse uploads without a checksum).
            .checksum_sha256(checksum_header(&sha))
            .set_metadata(Some(with_sha(metadata, sha)))
            .set_server_side_encryption(sse)
            .set_ssekms_key_id(kms)
            .body(SdkBody::from(body))
            .send()
            .await
            .map_err(|e| map_sdk(e, key.as_str()))?;
        Ok(out.e_tag)
    }

    /// Multipart upload of `first` and the rest of `data`, hashing as parts are cut, at most
    /// `concurrency` parts in flight; aborted on any failure (or drop). Returns size and digest.
    async fn put_multipart(
        &self,
        key: &ObjectKey,
        body: Body,
        content_type: &str,
        metadata: &Metadata,
    ) -> StorageResult<(u64, Sha256)> {
        let Body {
            first,
            leftover,
            mut data,
            mut hasher,
        } = body;
        let (sse, kms) = self.sse();
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type(content_type)
            .set_metadata(Some(metadata.clone().into_iter().collect()))
            .set_server_side_encryption(sse)
            .set_ssekms_key_id(kms)
            // Object Lock buckets refuse parts without a checksum: CRC32 per part there (the
            // whole object's SHA-256 is only known at the end).
            .set_checksum_algorithm(
                self.object_lock
                    .map(|_| aws_sdk_s3::types::ChecksumAlgorithm::Crc32),
            )
            .send()
            .await
            .map_err(|e| map_sdk(e, key.as_str()))?;
        let upload_id = created.upload_id.ok_or_else(|| {
            StorageError::backend(BACKEND, "CreateMultipartUpload gave no upload id")
        })?;
        if let Some(observe) = &self.observer {
            observe(&upload_id);
        }
        let guard = AbortGuard {
            client: self.client.clone(),
            bucket: self.bucket.clone(),
            key: key.to_string(),
            upload_id: Some(upload_id.clone()),
        };
        let result = self
            .upload_parts(key, &upload_id, first, leftover, &mut data, &mut hasher)
            .await;
        let parts = match result {
            Ok(parts) => parts,
            Err(e) => {
                guard.abort().await;
                return Err(e);
            }
        };
        let completed = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key.as_str())
            .upload_id(&upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await;
        if let Err(e) = completed {
            guard.abort().await;
            return Err(map_sdk(e, key.as_str()));
        }
        guard.disarm();
        let (sha, total) = hasher.finish();
        Ok((total, sha))
    }

    async fn upload_parts(
        &self,
        key: &ObjectKey,
        upload_id: &str,
        first: Bytes,
        leftover: BytesMut,
        data: &mut ByteStream,
        hasher: &mut ContentHasher,
    ) -> StorageResult<Vec<CompletedPart>> {
        let mut in_flight = FuturesOrdered::new();
        let mut parts = Vec::new();
        let mut number = 0i32;
        let mut next = Some(first);
        let mut buffer = leftover;
        let mut ended = false;
        loop {
            // Cut the next part (the first one is given).
            let part = match next.take() {
                Some(p) => Some(p),
                None if ended => None,
                None => {
                    while buffer.len() < self.part_size {
                        match data.next().await {
                            Some(chunk) => {
                                let chunk = chunk?;
                                hasher.update(&chunk);
                                buffer.extend_from_slice(&chunk);
                            }
                            None => {
                                ended = true;
                                break;
                            }
                        }
                    }
                    let take = buffer.len().min(self.part_size);
                    let part = buffer.split_to(take).freeze();
                    (!part.is_empty()).then_some(part)
                }
            };
            let Some(part) = part else { break };
            number += 1;
            let crc = self.object_lock.map(|_| crc32_header(&part));
            let request = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(key.as_str())
                .upload_id(upload_id)
                .part_number(number)
                .content_length(i64::try_from(part.len()).unwrap_or(i64::MAX))
                .set_checksum_crc32(crc.clone())
                .body(SdkBody::from(part));
            let n = number;
            in_flight.push_back(async move { (n, crc, request.send().await) });
            if in_flight.len() >= self.concurrency
                && let Some((n, crc, done)) = in_flight.next().await
            {
                let out = done.map_err(|e| map_sdk(e, key.as_str()))?;
                parts.push(completed_part(n, out.e_tag, crc));
            }
        }
        while let Some((n, crc, done)) = in_flight.next().await {
            let out = done.map_err(|e| map_sdk(e, key.as_str()))?;
            parts.push(completed_part(n, out.e_tag, crc));
        }
        Ok(parts)
    }

    /// Records the SHA-256 of a multipart object by copying it onto itself with its metadata.
    async fn record_sha(
        &self,
        key: &ObjectKey,
        content_type: &str,
        metadata: &Metadata,
        sha: Sha256,
    ) -> StorageResult<()> {
        let (sse, kms) = self.sse();
        self.client
            .copy_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .copy_source(self.copy_source(key))
            .metadata_directive(MetadataDirective::Replace)
            .content_type(content_type)
            .set_metadata(Some(with_sha(metadata, sha)))
            .set_server_side_encryption(sse)
            .set_ssekms_key_id(kms)
            .send()
            .await
            .map_err(|e| map_sdk(e, key.as_str()))?;
        Ok(())
    }

    fn copy_source(&self, key: &ObjectKey) -> String {
        let encoded: Vec<String> = key
            .segments()
            .map(|s| {
                url::form_urlencoded::byte_serialize(s.as_bytes())
                    .collect::<String>()
                    .replace('+', "%20")
            })
            .collect();
        format!("{}/{}", self.bucket, encoded.join("/"))
    }

    fn object_from_head(
        key: &ObjectKey,
        size: u64,
        etag: Option<String>,
        content_type: Option<String>,
        last_modified: Option<&aws_smithy_types::DateTime>,
        metadata: Option<HashMap<String, String>>,
    ) -> StorageObject {
        let (metadata, sha256) = split_metadata(metadata.unwrap_or_default());
        StorageObject {
            key: key.clone(),
            size,
            last_modified: to_chrono(last_modified),
            etag,
            content_type: content_type
                .unwrap_or_else(|| casefile_domain::content::OCTET_STREAM.to_owned()),
            metadata,
            sha256,
        }
    }
}

/// `bytes a-b/total` → (a, b + 1, total).
fn parse_content_range(value: &str) -> Option<(u64, u64, u64)> {
    let rest = value.strip_prefix("bytes ")?;
    let (span, total) = rest.split_once('/')?;
    let (a, b) = span.split_once('-')?;
    Some((
        a.parse().ok()?,
        b.parse::<u64>().ok()? + 1,
        total.parse().ok()?,
    ))
}

#[async_trait]
impl ObjectStorage for S3Storage {
    fn backend_name(&self) -> &'static str {
        BACKEND
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::minimal()
            // POST: content-length-range is enforced by S3. PUT: the signed Content-Length is.
            .with_presigned_upload(self.presign_method, true, false)
            .with_presigned_download();
        if self.sse != ServerSideEncryption::None {
            caps = caps.with_server_side_encryption();
        }
        if self.object_lock.is_some() {
            caps = caps.with_object_lock();
        }
        if self.create_only {
            caps = caps.with_create_only();
        }
        caps
    }

    async fn upload_if_absent(
        &self,
        key: &ObjectKey,
        data: Bytes,
        options: PutOptions,
    ) -> StorageResult<StorageObject> {
        if !self.create_only {
            return Err(StorageError::NotSupported {
                backend: BACKEND,
                operation: "create-only upload".to_owned(),
            });
        }
        options.validate()?;
        let body: ByteStream = Box::pin(futures::stream::once({
            let data = data.clone();
            async move { Ok(data) }
        }));
        let (content_type, _) = prepare_upload(key, options.content_type.as_deref(), body).await?;
        let sha = Sha256::digest(&data);
        let (sse, kms) = self.sse();
        let length = i64::try_from(data.len()).unwrap_or(i64::MAX);
        let out = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .if_none_match("*")
            .content_type(&content_type)
            .content_length(length)
            .checksum_sha256(checksum_header(&sha))
            .set_metadata(Some(with_sha(&options.metadata, sha)))
            .set_server_side_encryption(sse)
            .set_ssekms_key_id(kms)
            .body(SdkBody::from(data.clone()))
            .send()
            .await
            .map_err(|e| match map_sdk(e, key.as_str()) {
                StorageError::PreconditionFailed { .. } => StorageError::AlreadyExists {
                    key: key.to_string(),
                },
                other => other,
            })?;
        Ok(StorageObject {
            key: key.clone(),
            size: data.len() as u64,
            last_modified: Utc::now(),
            etag: out.e_tag,
            content_type,
            metadata: options.metadata,
            sha256: Some(sha),
        })
    }

    async fn set_legal_hold(&self, key: &ObjectKey, on: bool) -> StorageResult<()> {
        use aws_sdk_s3::types::{ObjectLockLegalHold, ObjectLockLegalHoldStatus};
        if self.object_lock.is_none() {
            return Err(StorageError::NotSupported {
                backend: BACKEND,
                operation: "legal hold (the bucket is not configured with Object Lock)".into(),
            });
        }
        let status = if on {
            ObjectLockLegalHoldStatus::On
        } else {
            ObjectLockLegalHoldStatus::Off
        };
        self.client
            .put_object_legal_hold()
            .bucket(&self.bucket)
            .key(key.as_str())
            .legal_hold(ObjectLockLegalHold::builder().status(status).build())
            .send()
            .await
            .map_err(|e| map_sdk(e, key.as_str()))?;
        Ok(())
    }

    async fn legal_hold(&self, key: &ObjectKey) -> StorageResult<bool> {
        use aws_sdk_s3::types::ObjectLockLegalHoldStatus;
        if self.object_lock.is_none() {
            return Err(StorageError::NotSupported {
                backend: BACKEND,
                operation: "legal hold (the bucket is not configured with Object Lock)".into(),
            });
        }
        let out = self
            .client
            .get_object_legal_hold()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await;
        match out {
            Ok(out) => Ok(out
                .legal_hold()
                .and_then(|h| h.status())
                .is_some_and(|s| *s == ObjectLockLegalHoldStatus::On)),
            Err(e) => match map_sdk(e, key.as_str()) {
                // S3 answers "no legal hold configuration" for an object never held.
                StorageError::Backend { source, .. }
                    if source.to_string().contains("NoSuchObjectLockConfiguration") =>
                {
                    Ok(false)
                }
                other => Err(other),
            },
        }
    }

    async fn set_retention(
        &self,
        key: &ObjectKey,
        until: DateTime<Utc>,
        mode: RetentionMode,
    ) -> StorageResult<()> {
        use aws_sdk_s3::types::{ObjectLockRetention, ObjectLockRetentionMode};
        if self.object_lock.is_none() {
            return Err(StorageError::NotSupported {
                backend: BACKEND,
                operation: "retention (the bucket is not configured with Object Lock)".into(),
            });
        }
        let mode = match mode {
            RetentionMode::Compliance => ObjectLockRetentionMode::Compliance,
            RetentionMode::Governance => ObjectLockRetentionMode::Governance,
        };
        let retention = ObjectLockRetention::builder()
            .mode(mode)
            .retain_until_date(aws_sdk_s3::primitives::DateTime::from_millis(
                until.timestamp_millis(),
            ))
            .build();
        self.client
            .put_object_retention()
            .bucket(&self.bucket)
            .key(key.as_str())
            .retention(retention)
            .send()
            .await
            .map_err(|e| map_sdk(e, key.as_str()))?;
        Ok(())
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
        // Read up to one part: small objects are one PUT with their SHA-256 known up front.
        let mut hasher = ContentHasher::new();
        let (mut first, ended) = read_head(&mut data, self.part_size, &mut hasher).await?;
        let (etag, size, sha) = if ended {
            let (sha, size) = hasher.clone().finish();
            let etag = self
                .put_single(key, first.freeze(), &content_type, &options.metadata, sha)
                .await?;
            (etag, size, Some(sha))
        } else {
            // Bytes read past the first part were hashed already: they seed the next part.
            let first_part = first.split_to(self.part_size.min(first.len())).freeze();
            let (size, sha) = self
                .put_multipart(
                    key,
                    Body {
                        first: first_part,
                        leftover: first,
                        data,
                        hasher,
                    },
                    &content_type,
                    &options.metadata,
                )
                .await?;
            let recorded = if size <= MAX_SINGLE_COPY {
                if let Err(e) = self
                    .record_sha(key, &content_type, &options.metadata, sha)
                    .await
                {
                    // Never leave an object whose recorded hash is missing by accident.
                    let _ = self.delete(key).await;
                    return Err(e);
                }
                Some(sha)
            } else {
                None
            };
            (None, size, recorded)
        };
        let head = self.head(key).await?;
        Ok(match head {
            Some(object) => object,
            None => StorageObject {
                key: key.clone(),
                size,
                last_modified: Utc::now(),
                etag,
                content_type,
                metadata: options.metadata,
                sha256: sha,
            },
        })
    }

    async fn download_stream(
        &self,
        key: &ObjectKey,
        range: Option<ByteRange>,
    ) -> StorageResult<ObjectStream> {
        if let Some(r) = &range {
            r.validate()?;
        }
        let result = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .set_range(range.map(|r| r.to_http_header()))
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            Err(e) => {
                let is_416 = e.raw_response().is_some_and(|r| r.status().as_u16() == 416);
                if let (true, Some(range)) = (is_416, range) {
                    let size = self
                        .head(key)
                        .await?
                        .map(|o| o.size)
                        .ok_or_else(|| StorageError::not_found(key.as_str()))?;
                    return Err(StorageError::RangeNotSatisfiable { range, size });
                }
                return Err(map_sdk(e, key.as_str()));
            }
        };
        let length = size(out.content_length);
        let (span, total) = match out.content_range.as_deref().and_then(parse_content_range) {
            Some((start, end, total)) => (start..end, total),
            None => (0..length, length),
        };
        let object = Self::object_from_head(
            key,
            total,
            out.e_tag.clone(),
            out.content_type.clone(),
            out.last_modified.as_ref(),
            out.metadata.clone(),
        );
        let body = futures::stream::unfold(out.body, |mut body| async move {
            body.next()
                .await
                .map(|chunk| (chunk.map_err(|e| StorageError::backend(BACKEND, e)), body))
        });
        Ok(ObjectStream {
            object,
            range: span,
            body: Box::pin(body),
        })
    }

    async fn head(&self, key: &ObjectKey) -> StorageResult<Option<StorageObject>> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
        {
            Ok(out) => Ok(Some(Self::object_from_head(
                key,
                size(out.content_length),
                out.e_tag,
                out.content_type,
                out.last_modified.as_ref(),
                out.metadata,
            ))),
            Err(e) => match map_sdk(e, key.as_str()) {
                StorageError::NotFound { .. } => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn delete(&self, key: &ObjectKey) -> StorageResult<()> {
        match self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match map_sdk(e, key.as_str()) {
                StorageError::NotFound { .. } => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn list(&self, options: ListOptions) -> StorageResult<ListPage> {
        let page_size = options.page_size()?;
        let prefix = options.prefix.as_ref().map(|p| format!("{p}/"));
        let out = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .set_prefix(prefix)
            .max_keys(i32::try_from(page_size).unwrap_or(1000))
            .set_continuation_token(options.continuation_token)
            .send()
            .await
            .map_err(|e| map_sdk(e, "listing"))?;
        let objects = out
            .contents
            .unwrap_or_default()
            .into_iter()
            .filter_map(|o| {
                // Objects written by others with keys casefile refuses are not listed.
                let key = ObjectKey::new(o.key?).ok()?;
                Some(ObjectSummary {
                    key,
                    size: size(o.size),
                    last_modified: to_chrono(o.last_modified.as_ref()),
                    etag: o.e_tag,
                })
            })
            .collect();
        let next_token = if out.is_truncated.unwrap_or(false) {
            out.next_continuation_token
        } else {
            None
        };
        Ok(ListPage {
            objects,
            next_token,
        })
    }

    async fn copy(&self, from: &ObjectKey, to: &ObjectKey) -> StorageResult<StorageObject> {
        let (sse, kms) = self.sse();
        self.client
            .copy_object()
            .bucket(&self.bucket)
            .key(to.as_str())
            .copy_source(self.copy_source(from))
            .metadata_directive(MetadataDirective::Copy)
            .set_server_side_encryption(sse)
            .set_ssekms_key_id(kms)
            .send()
            .await
            .map_err(|e| match map_sdk(e, from.as_str()) {
                StorageError::NotFound { .. } => StorageError::not_found(from.as_str()),
                other => other,
            })?;
        self.head(to)
            .await?
            .ok_or_else(|| StorageError::backend(BACKEND, "the copy vanished"))
    }

    async fn presigned_upload(
        &self,
        key: &ObjectKey,
        request: PresignUploadRequest,
    ) -> StorageResult<PresignedUpload> {
        validate_expiry(request.expires_in)?;
        casefile_domain::content::validate_content_type(&request.content_type)?;
        match self.presign_method {
            UploadMethod::Post => {
                let mut exact = BTreeMap::new();
                if let Some(sha) = request.sha256 {
                    exact.insert(format!("x-amz-meta-{SHA256_METADATA}"), sha.to_hex());
                    // S3 itself refuses a body with another digest (400 BadDigest).
                    exact.insert("x-amz-checksum-sha256".into(), checksum_header(&sha));
                }
                match &self.sse {
                    ServerSideEncryption::None => {}
                    ServerSideEncryption::Aes256 => {
                        exact.insert("x-amz-server-side-encryption".into(), "AES256".into());
                    }
                    ServerSideEncryption::Kms { key_id } => {
                        exact.insert("x-amz-server-side-encryption".into(), "aws:kms".into());
                        if let Some(id) = key_id {
                            exact.insert(
                                "x-amz-server-side-encryption-aws-kms-key-id".into(),
                                id.clone(),
                            );
                        }
                    }
                }
                let policy = PostPolicy {
                    bucket: self.bucket.clone(),
                    region: self.region.clone(),
                    key: key.to_string(),
                    content_type: request.content_type.clone(),
                    max_size: request.max_size,
                    exact_fields: exact,
                    now: Utc::now(),
                    expires_in: request.expires_in,
                };
                let form = policy.sign(&self.signing_credentials().await?);
                Ok(PresignedUpload {
                    method: UploadMethod::Post,
                    url: self.post_url(),
                    fields: form.fields,
                    headers: BTreeMap::new(),
                    expires_at: form.expires_at,
                })
            }
            UploadMethod::Put => {
                let config = PresigningConfig::expires_in(request.expires_in)
                    .map_err(|e| StorageError::invalid_input("expires_in", e.to_string()))?;
                let (sse, kms) = self.sse();
                let mut put = self
                    .client
                    .put_object()
                    .bucket(&self.bucket)
                    .key(key.as_str())
                    .content_type(&request.content_type)
                    .content_length(i64::try_from(request.max_size).unwrap_or(i64::MAX))
                    .set_server_side_encryption(sse)
                    .set_ssekms_key_id(kms);
                if let Some(sha) = request.sha256 {
                    // Signed headers the client must send: S3 refuses another digest (400
                    // BadDigest) and a second write to the key (412).
                    put = put
                        .metadata(SHA256_METADATA, sha.to_hex())
                        .checksum_sha256(checksum_header(&sha))
                        .if_none_match("*");
                }
                let presigned = put
                    .presigned(config)
                    .await
                    .map_err(|e| map_sdk(e, key.as_str()))?;
                let headers = presigned
                    .headers()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
                    .collect();
                Ok(PresignedUpload {
                    method: UploadMethod::Put,
                    url: presigned.uri().to_owned(),
                    fields: BTreeMap::new(),
                    headers,
                    expires_at: expires_at(Utc::now(), request.expires_in),
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
        let disposition = request.content_disposition()?;
        let config = PresigningConfig::expires_in(request.expires_in)
            .map_err(|e| StorageError::invalid_input("expires_in", e.to_string()))?;
        let presigned = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .set_response_content_disposition(disposition)
            .presigned(config)
            .await
            .map_err(|e| map_sdk(e, key.as_str()))?;
        Ok(PresignedDownload {
            url: presigned.uri().to_owned(),
            expires_at: expires_at(Utc::now(), request.expires_in),
        })
    }
}

/// A part as CompleteMultipartUpload lists it (with its CRC32 where the parts carry one).
fn completed_part(number: i32, e_tag: Option<String>, crc32: Option<String>) -> CompletedPart {
    CompletedPart::builder()
        .set_e_tag(e_tag)
        .part_number(number)
        .set_checksum_crc32(crc32)
        .build()
}

/// A part's CRC32 as S3's `x-amz-checksum-crc32` wants it: base64 of the big-endian 4 bytes.
fn crc32_header(part: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(crc32fast::hash(part).to_be_bytes())
}

/// A SHA-256 as S3's `x-amz-checksum-sha256` wants it: base64 of the 32 bytes.
fn checksum_header(sha: &casefile_domain::Sha256) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(sha.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_parsing() {
        assert_eq!(parse_content_range("bytes 2-4/10"), Some((2, 5, 10)));
        assert_eq!(parse_content_range("bytes */10"), None);
        assert_eq!(parse_content_range("nonsense"), None);
    }

    #[test]
    fn the_recorded_sha_is_split_from_user_metadata() {
        let sha = Sha256::digest(b"x");
        let stored = with_sha(&Metadata::from([("case-id".into(), "7".into())]), sha);
        let (user, recorded) = split_metadata(stored);
        assert_eq!(user, Metadata::from([("case-id".into(), "7".into())]));
        assert_eq!(recorded, Some(sha));
    }
}
