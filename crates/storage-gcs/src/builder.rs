//! [`GcsStorageBuilder`]: configuration, validated in `build`.

use std::time::Duration;

use casefile_domain::StorageError;
use casefile_domain::storage::UploadMethod;
use gcloud_storage::client::{Client, ClientConfig};
use gcloud_storage::http::buckets::get::GetBucketRequest;

use crate::GcsStorage;
use crate::error::map_gcs;
use crate::v4::ServiceAccount;

/// The granularity of resumable-upload chunks.
pub const CHUNK_GRANULARITY: usize = 256 * 1024;

/// Builds a [`GcsStorage`]: `new`/`from_env`, `with_*`, `build` (which checks the configuration
/// and verifies the bucket).
#[derive(Clone)]
pub struct GcsStorageBuilder {
    pub(crate) bucket: String,
    pub(crate) credentials_json: Option<String>,
    pub(crate) endpoint: Option<String>,
    pub(crate) chunk_size: usize,
    pub(crate) max_attempts: u32,
    pub(crate) timeout: Duration,
    pub(crate) presign_method: UploadMethod,
    pub(crate) temporary_holds: bool,
}

impl std::fmt::Debug for GcsStorageBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GcsStorageBuilder")
            .field("bucket", &self.bucket)
            .field(
                "credentials_json",
                &self.credentials_json.as_ref().map(|_| "<redacted>"),
            )
            .field("endpoint", &self.endpoint)
            .field("chunk_size", &self.chunk_size)
            .finish_non_exhaustive()
    }
}

impl GcsStorageBuilder {
    /// A builder for `bucket`: Google's endpoint, 8 MiB chunks, 3 attempts for idempotent
    /// requests, 60 s per request, presigned uploads as POST policies.
    pub fn new(bucket: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            credentials_json: None,
            endpoint: None,
            chunk_size: 8 * 1024 * 1024,
            max_attempts: 3,
            timeout: Duration::from_secs(60),
            presign_method: UploadMethod::Post,
            temporary_holds: false,
        }
    }

    /// From `CASEFILE_GCS_BUCKET`, `GOOGLE_APPLICATION_CREDENTIALS` (path of a service-account
    /// JSON key) and `STORAGE_EMULATOR_HOST` (e.g. `127.0.0.1:4443` or `http://127.0.0.1:4443`).
    pub fn from_env() -> Self {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
        let mut b = Self::new(var("CASEFILE_GCS_BUCKET").unwrap_or_default());
        b.credentials_json =
            var("GOOGLE_APPLICATION_CREDENTIALS").and_then(|p| std::fs::read_to_string(p).ok());
        b.endpoint = var("STORAGE_EMULATOR_HOST").map(|h| {
            if h.contains("://") {
                h
            } else {
                format!("http://{h}")
            }
        });
        b.temporary_holds = var("CASEFILE_GCS_TEMPORARY_HOLDS").is_some_and(|v| v == "true");
        b
    }

    /// Legal holds become the objects' GCS **temporary holds** (GCS then refuses to delete or
    /// replace a held object, whoever asks): [`Capabilities::legal_hold`] becomes true.
    /// Object retention is not offered (`gcloud-storage` 1.3 has no API for it).
    /// `CASEFILE_GCS_TEMPORARY_HOLDS=true` in [`from_env`](Self::from_env).
    pub fn with_temporary_holds(mut self) -> Self {
        self.temporary_holds = true;
        self
    }

    /// The service-account JSON key: used to authenticate (unless an emulator endpoint is set)
    /// and to sign URLs.
    pub fn with_service_account_json(mut self, json: impl Into<String>) -> Self {
        self.credentials_json = Some(json.into());
        self
    }

    /// A custom endpoint (the emulator): requests go there without authentication.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Chunk size of resumable uploads (a multiple of 256 KiB).
    pub fn with_chunk_size(mut self, chunk_size: usize) -> Self {
        self.chunk_size = chunk_size;
        self
    }

    /// Attempts of idempotent requests (1: no retry) and the timeout of one request.
    pub fn with_retry(mut self, max_attempts: u32, timeout: Duration) -> Self {
        self.max_attempts = max_attempts;
        self.timeout = timeout;
        self
    }

    /// POST policy (default) or signed PUT for presigned uploads.
    pub fn with_presigned_upload_method(mut self, method: UploadMethod) -> Self {
        self.presign_method = method;
        self
    }

    /// Checks the configuration, makes the client and verifies the bucket.
    ///
    /// # Errors
    /// [`StorageError::InvalidInput`] for a bad setting or key; [`StorageError::NotFound`] for a
    /// missing bucket; [`StorageError::Unauthenticated`]/[`StorageError::PermissionDenied`];
    /// [`StorageError::Unavailable`] when unreachable.
    pub async fn build(self) -> Result<GcsStorage, StorageError> {
        if self.bucket.is_empty() {
            return Err(StorageError::invalid_input(
                "bucket",
                "is required (CASEFILE_GCS_BUCKET)",
            ));
        }
        if self.chunk_size == 0 || !self.chunk_size.is_multiple_of(CHUNK_GRANULARITY) {
            return Err(StorageError::invalid_input(
                "chunk_size",
                "must be a positive multiple of 256 KiB",
            ));
        }
        if self.max_attempts == 0 {
            return Err(StorageError::invalid_input(
                "max_attempts",
                "must be at least 1",
            ));
        }
        let signer = match &self.credentials_json {
            Some(json) => Some(
                ServiceAccount::from_json(json)
                    .map_err(|e| StorageError::invalid_input("credentials", e.to_string()))?,
            ),
            None => None,
        };
        let config = match (&self.endpoint, &self.credentials_json) {
            (Some(endpoint), _) => {
                url::Url::parse(endpoint)
                    .map_err(|e| StorageError::invalid_input("endpoint", e.to_string()))?;
                let mut config = ClientConfig::default().anonymous();
                config.storage_endpoint = endpoint.trim_end_matches('/').to_owned();
                config
            }
            (None, Some(json)) => {
                let file = gcloud_storage::client::google_cloud_auth::credentials::CredentialsFile::new_from_str(json)
                    .await
                    .map_err(|e| StorageError::invalid_input("credentials", e.to_string()))?;
                ClientConfig::default()
                    .with_credentials(file)
                    .await
                    .map_err(|e| StorageError::Unauthenticated {
                        message: format!("cannot use the service account: {e}"),
                        source: Some(Box::new(e)),
                    })?
            }
            (None, None) => ClientConfig::default().with_auth().await.map_err(|e| {
                StorageError::Unauthenticated {
                    message: format!("no Google credentials: {e}"),
                    source: Some(Box::new(e)),
                }
            })?,
        };
        let client = Client::new(config);
        let request = GetBucketRequest {
            bucket: self.bucket.clone(),
            ..Default::default()
        };
        match tokio::time::timeout(self.timeout, client.get_bucket(&request)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(map_gcs(e, &format!("bucket {}", self.bucket))),
            Err(_) => {
                return Err(StorageError::Unavailable {
                    backend: crate::error::BACKEND,
                    message: format!("no answer within {:?}", self.timeout),
                    source: None,
                });
            }
        }
        Ok(GcsStorage::from_parts(client, signer, self))
    }
}
