//! [`AzureBlobStorage`]: the storage port on an Azure Blob container.

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;

use async_trait::async_trait;
use azure_core::request_options::{Metadata as AzMetadata, NextMarker, Prefix, Range};
use azure_storage_blobs::blob::{BlobBlockType, BlockList};
use azure_storage_blobs::prelude::{BlobClient, ContainerClient};
use bytes::{Bytes, BytesMut};
use casefile_domain::content::{ContentHasher, prepare_upload, read_head};
use casefile_domain::storage::expires_at;
use casefile_domain::storage::{
    ByteRange, ByteStream, Capabilities, ListOptions, ListPage, Metadata, ObjectKey, ObjectStorage,
    ObjectStream, ObjectSummary, PresignDownloadRequest, PresignUploadRequest, PresignedDownload,
    PresignedUpload, PutOptions, RESERVED_METADATA_PREFIX, StorageObject, UploadMethod,
    validate_expiry,
};
use casefile_domain::{Sha256, StorageError, StorageResult};
use chrono::{DateTime, TimeZone, Utc};
use futures::stream::{FuturesUnordered, StreamExt};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::builder::{AzureBlobStorageBuilder, AzureCredentials};
use crate::error::{BACKEND, map_azure};
use crate::sas::BlobSas;

/// The port's metadata name of the recorded SHA-256 (stored as `casefile_dsha256`).
pub const SHA256_METADATA: &str = "casefile-sha256";

const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A port metadata name (`a-z 0-9 _ -`) as an Azure metadata name (a C# identifier):
/// `_` → `_u`, `-` → `_d`. Reversible; see [`decode_metadata_name`].
pub fn encode_metadata_name(name: &str) -> String {
    name.replace('_', "_u").replace('-', "_d")
}

/// The inverse of [`encode_metadata_name`]; `None` for a name it cannot have produced.
pub fn decode_metadata_name(stored: &str) -> Option<String> {
    let mut out = String::with_capacity(stored.len());
    let mut chars = stored.chars();
    while let Some(c) = chars.next() {
        if c == '_' {
            match chars.next() {
                Some('u') => out.push('_'),
                Some('d') => out.push('-'),
                _ => return None,
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    Some(out)
}

/// The storage port on one Azure Blob container. Cheap to clone.
#[derive(Clone)]
pub struct AzureBlobStorage {
    container: ContainerClient,
    container_name: String,
    account: String,
    key: Option<String>,
    endpoint: String,
    block_size: usize,
    concurrency: usize,
}

impl std::fmt::Debug for AzureBlobStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureBlobStorage")
            .field("account", &self.account)
            .field("container", &self.container_name)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

fn to_chrono(t: time::OffsetDateTime) -> DateTime<Utc> {
    Utc.timestamp_opt(t.unix_timestamp(), t.nanosecond())
        .single()
        .unwrap_or_else(Utc::now)
}

fn az_metadata(user: &Metadata, sha: Option<Sha256>) -> AzMetadata {
    let mut md = AzMetadata::new();
    for (k, v) in user {
        md.insert(encode_metadata_name(k), v.clone());
    }
    if let Some(sha) = sha {
        md.insert(encode_metadata_name(SHA256_METADATA), sha.to_hex());
    }
    md
}

fn split_metadata(stored: Option<HashMap<String, String>>) -> (Metadata, Option<Sha256>) {
    let mut user = Metadata::new();
    let mut sha = None;
    for (k, v) in stored.unwrap_or_default() {
        let Some(name) = decode_metadata_name(&k) else {
            continue;
        };
        if name == SHA256_METADATA {
            sha = Sha256::from_hex(&v).ok();
        } else if !name.starts_with(RESERVED_METADATA_PREFIX) {
            user.insert(name, v);
        }
    }
    (user, sha)
}

fn block_id(upload: &uuid::Uuid, n: u32) -> Bytes {
    // Equal length for every block of a blob, as Azure requires.
    Bytes::from(format!("{}-{n:08}", upload.simple()))
}

impl AzureBlobStorage {
    /// A builder for `container` in `account`.
    pub fn builder(
        account: impl Into<String>,
        container: impl Into<String>,
    ) -> AzureBlobStorageBuilder {
        AzureBlobStorageBuilder::new(account, container)
    }

    pub(crate) fn from_parts(container: ContainerClient, b: AzureBlobStorageBuilder) -> Self {
        let endpoint = b
            .endpoint
            .clone()
            .map(|e| e.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| format!("https://{}.blob.core.windows.net", b.account));
        Self {
            container,
            container_name: b.container,
            key: match b.credentials {
                Some(AzureCredentials::AccessKey(k)) => Some(k),
                _ => None,
            },
            account: b.account,
            endpoint,
            block_size: b.block_size,
            concurrency: b.concurrency,
        }
    }

    fn blob(&self, key: &ObjectKey) -> BlobClient {
        self.container.blob_client(key.as_str())
    }

    fn blob_url(&self, key: &ObjectKey) -> String {
        let path: Vec<String> = key
            .segments()
            .map(|s| utf8_percent_encode(s, PATH_SEGMENT).to_string())
            .collect();
        format!(
            "{}/{}/{}",
            self.endpoint,
            self.container_name,
            path.join("/")
        )
    }

    fn sas(
        &self,
        key: &ObjectKey,
        permissions: &str,
        expiry: DateTime<Utc>,
        disposition: Option<&str>,
    ) -> StorageResult<String> {
        let Some(account_key) = &self.key else {
            return Err(StorageError::NotSupported {
                backend: BACKEND,
                operation: "presigned URLs need the account key (not a SAS token)".into(),
            });
        };
        let token = BlobSas {
            account: &self.account,
            container: &self.container_name,
            blob: key.as_str(),
            permissions,
            expiry,
            content_disposition: disposition,
            // Plain HTTP only where the endpoint itself is plain HTTP (an emulator on loopback).
            https_only: !self.endpoint.starts_with("http://"),
        }
        .token(account_key)
        .map_err(|e| StorageError::invalid_input("access_key", e.to_string()))?;
        Ok(format!("{}?{token}", self.blob_url(key)))
    }

    async fn stage_blocks(
        &self,
        blob: &BlobClient,
        first: Bytes,
        mut leftover: BytesMut,
        data: &mut ByteStream,
        hasher: &mut ContentHasher,
    ) -> StorageResult<Vec<Bytes>> {
        let upload = uuid::Uuid::new_v4();
        let mut ids = Vec::new();
        let mut in_flight = FuturesUnordered::new();
        let mut next = Some(first);
        let mut ended = false;
        let mut n = 0u32;
        loop {
            let block = match next.take() {
                Some(b) => Some(b),
                None if ended && leftover.is_empty() => None,
                None => {
                    while !ended && leftover.len() < self.block_size {
                        match data.next().await {
                            Some(chunk) => {
                                let chunk = chunk?;
                                hasher.update(&chunk);
                                leftover.extend_from_slice(&chunk);
                            }
                            None => ended = true,
                        }
                    }
                    let take = leftover.len().min(self.block_size);
                    let b = leftover.split_to(take).freeze();
                    (!b.is_empty()).then_some(b)
                }
            };
            let Some(block) = block else { break };
            let id = block_id(&upload, n);
            n += 1;
            ids.push(id.clone());
            in_flight.push(blob.put_block(id, block).into_future());
            if in_flight.len() >= self.concurrency
                && let Some(done) = in_flight.next().await
            {
                done.map_err(|e| map_azure(e, blob.blob_name()))?;
            }
        }
        while let Some(done) = in_flight.next().await {
            done.map_err(|e| map_azure(e, blob.blob_name()))?;
        }
        Ok(ids)
    }

    async fn properties(&self, key: &ObjectKey) -> StorageResult<Option<StorageObject>> {
        match self.blob(key).get_properties().into_future().await {
            Ok(p) => {
                let b = p.blob;
                let (metadata, sha256) = split_metadata(b.metadata);
                Ok(Some(StorageObject {
                    key: key.clone(),
                    size: b.properties.content_length,
                    last_modified: to_chrono(b.properties.last_modified),
                    etag: Some(b.properties.etag.to_string()),
                    content_type: b.properties.content_type,
                    metadata,
                    sha256,
                }))
            }
            Err(e) => match map_azure(e, key.as_str()) {
                StorageError::NotFound { .. } => Ok(None),
                other => Err(other),
            },
        }
    }
}

#[async_trait]
impl ObjectStorage for AzureBlobStorage {
    fn backend_name(&self) -> &'static str {
        BACKEND
    }

    fn capabilities(&self) -> Capabilities {
        let caps = Capabilities::minimal();
        if self.key.is_some() {
            // A SAS cannot limit the size of an upload: the service's completion check does.
            caps.with_presigned_upload(UploadMethod::Put, false, false)
                .with_presigned_download()
                .with_server_side_encryption()
        } else {
            caps.with_server_side_encryption()
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
        let blob = self.blob(key);
        let mut hasher = ContentHasher::new();
        let (mut first, ended) = read_head(&mut data, self.block_size, &mut hasher).await?;
        if ended {
            let (sha, _) = hasher.finish();
            blob.put_block_blob(first.freeze())
                .content_type(content_type)
                .metadata(az_metadata(&options.metadata, Some(sha)))
                .into_future()
                .await
                .map_err(|e| map_azure(e, key.as_str()))?;
        } else {
            let first_block = first.split_to(self.block_size).freeze();
            // Uncommitted blocks are never visible; Azure discards them (after a week at most)
            // when no block list commits them, so a failure here leaves no blob.
            let ids = self
                .stage_blocks(&blob, first_block, first, &mut data, &mut hasher)
                .await?;
            let (sha, _) = hasher.finish();
            let list = BlockList {
                blocks: ids
                    .into_iter()
                    .map(BlobBlockType::new_uncommitted)
                    .collect(),
            };
            blob.put_block_list(list)
                .content_type(content_type)
                .metadata(az_metadata(&options.metadata, Some(sha)))
                .into_future()
                .await
                .map_err(|e| map_azure(e, key.as_str()))?;
        }
        self.properties(key)
            .await?
            .ok_or_else(|| StorageError::backend(BACKEND, "the blob vanished after its upload"))
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
            .properties(key)
            .await?
            .ok_or_else(|| StorageError::not_found(key.as_str()))?;
        let span = ByteRange::span(range, object.size)?;
        let body: ByteStream = if span.is_empty() {
            Box::pin(futures::stream::empty())
        } else {
            let pages = self
                .blob(key)
                .get()
                .range(Range::new(span.start, span.end))
                .into_stream();
            let name = key.to_string();
            Box::pin(
                pages
                    .map(move |page| match page {
                        Ok(response) => response
                            .data
                            .map(|chunk| chunk.map_err(|e| StorageError::backend(BACKEND, e)))
                            .boxed(),
                        Err(e) => {
                            futures::stream::once(futures::future::ready(Err(map_azure(e, &name))))
                                .boxed()
                        }
                    })
                    .flatten(),
            )
        };
        Ok(ObjectStream {
            object,
            range: span,
            body,
        })
    }

    async fn head(&self, key: &ObjectKey) -> StorageResult<Option<StorageObject>> {
        self.properties(key).await
    }

    async fn delete(&self, key: &ObjectKey) -> StorageResult<()> {
        match self.blob(key).delete().into_future().await {
            Ok(_) => Ok(()),
            Err(e) => match map_azure(e, key.as_str()) {
                StorageError::NotFound { .. } => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn list(&self, options: ListOptions) -> StorageResult<ListPage> {
        let page_size = options.page_size()?;
        let max =
            NonZeroU32::new(u32::try_from(page_size).unwrap_or(1000)).unwrap_or(NonZeroU32::MIN);
        let mut request = self.container.list_blobs().max_results(max);
        if let Some(prefix) = &options.prefix {
            request = request.prefix(Prefix::from(format!("{prefix}/")));
        }
        if let Some(token) = options.continuation_token {
            request = request.marker(NextMarker::new(token));
        }
        let page = request
            .into_stream()
            .next()
            .await
            .ok_or_else(|| StorageError::backend(BACKEND, "empty listing response"))?
            .map_err(|e| map_azure(e, "listing"))?;
        let objects = page
            .blobs
            .blobs()
            .filter_map(|b| {
                let key = ObjectKey::new(b.name.clone()).ok()?;
                Some(ObjectSummary {
                    key,
                    size: b.properties.content_length,
                    last_modified: to_chrono(b.properties.last_modified),
                    etag: Some(b.properties.etag.to_string()),
                })
            })
            .collect();
        let next_token = page
            .next_marker
            .map(|m| m.as_str().to_owned())
            .filter(|m| !m.is_empty());
        Ok(ListPage {
            objects,
            next_token,
        })
    }

    async fn copy(&self, from: &ObjectKey, to: &ObjectKey) -> StorageResult<StorageObject> {
        if self.properties(from).await?.is_none() {
            return Err(StorageError::not_found(from.as_str()));
        }
        let source =
            url::Url::parse(&self.blob_url(from)).map_err(|e| StorageError::backend(BACKEND, e))?;
        self.blob(to)
            .copy(source)
            .into_future()
            .await
            .map_err(|e| map_azure(e, from.as_str()))?;
        // Within one account the copy completes synchronously; wait for it otherwise.
        for _ in 0..600 {
            if let Some(object) = self.properties(to).await?
                && object.size == self.properties(from).await?.map_or(0, |o| o.size)
            {
                return Ok(object);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Err(StorageError::backend(
            BACKEND,
            "the copy did not complete within a minute",
        ))
    }

    async fn presigned_upload(
        &self,
        key: &ObjectKey,
        request: PresignUploadRequest,
    ) -> StorageResult<PresignedUpload> {
        validate_expiry(request.expires_in)?;
        casefile_domain::content::validate_content_type(&request.content_type)?;
        let expires_at = expires_at(Utc::now(), request.expires_in);
        let url = self.sas(key, "cw", expires_at, None)?;
        let mut headers = BTreeMap::from([
            ("x-ms-blob-type".to_owned(), "BlockBlob".to_owned()),
            ("content-type".to_owned(), request.content_type.clone()),
        ]);
        if let Some(sha) = request.sha256 {
            headers.insert(
                format!("x-ms-meta-{}", encode_metadata_name(SHA256_METADATA)),
                sha.to_hex(),
            );
        }
        Ok(PresignedUpload {
            method: UploadMethod::Put,
            url,
            fields: BTreeMap::new(),
            headers,
            expires_at,
        })
    }

    async fn presigned_download(
        &self,
        key: &ObjectKey,
        request: PresignDownloadRequest,
    ) -> StorageResult<PresignedDownload> {
        validate_expiry(request.expires_in)?;
        let disposition = request.content_disposition()?;
        let expires_at = expires_at(Utc::now(), request.expires_in);
        let url = self.sas(key, "r", expires_at, disposition.as_deref())?;
        Ok(PresignedDownload { url, expires_at })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_names_round_trip_as_identifiers() {
        for name in ["case-id", "x_1", "a-b_c--d__e", "plain", SHA256_METADATA] {
            let stored = encode_metadata_name(name);
            assert!(
                stored
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{stored}"
            );
            assert_eq!(decode_metadata_name(&stored).as_deref(), Some(name));
        }
        assert_eq!(encode_metadata_name("case-id"), "case_did");
        assert_eq!(decode_metadata_name("bad_x"), None);
    }
}
