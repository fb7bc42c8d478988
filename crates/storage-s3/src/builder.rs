//! [`S3StorageBuilder`]: configuration of [`S3Storage`](crate::S3Storage), validated in `build`.

use std::sync::Arc;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};
use aws_smithy_types::retry::{RetryConfig, RetryMode};
use aws_smithy_types::timeout::TimeoutConfig;
use casefile_domain::StorageError;
use casefile_domain::storage::{RetentionMode, UploadMethod};

use crate::S3Storage;
use crate::error::{BACKEND, map_sdk};

/// The smallest part S3 accepts (but the last).
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;
/// The default part size of multipart uploads, and the threshold above which they are used.
pub const DEFAULT_PART_SIZE: usize = 8 * 1024 * 1024;

/// Called with the id of every multipart upload created.
pub type UploadObserver = Arc<dyn Fn(&str) + Send + Sync>;

/// Server-side encryption of the objects written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ServerSideEncryption {
    /// None requested (the bucket's default applies). For S3-compatible servers without SSE.
    #[default]
    None,
    /// SSE-S3 (`AES256`).
    Aes256,
    /// SSE-KMS (`aws:kms`), with a key id or the account's default key.
    Kms {
        /// The KMS key id or ARN; `None` for the AWS-managed key.
        key_id: Option<String>,
    },
}

/// Static credentials (otherwise the default AWS chain: environment, profile, web identity,
/// container and instance metadata).
#[derive(Clone)]
pub struct StaticCredentials {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token, for temporary credentials.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Builds an [`S3Storage`]: `new(bucket)` or `from_env()`, `with_*`, then `build()` — the only
/// place the configuration is checked, and where the bucket is verified.
#[derive(Clone)]
pub struct S3StorageBuilder {
    pub(crate) bucket: String,
    pub(crate) region: Option<String>,
    pub(crate) endpoint: Option<String>,
    pub(crate) force_path_style: bool,
    pub(crate) credentials: Option<StaticCredentials>,
    pub(crate) sse: ServerSideEncryption,
    pub(crate) retry_mode: RetryMode,
    pub(crate) max_attempts: u32,
    pub(crate) connect_timeout: Duration,
    pub(crate) operation_timeout: Option<Duration>,
    pub(crate) part_size: usize,
    pub(crate) upload_concurrency: usize,
    pub(crate) presign_method: UploadMethod,
    pub(crate) pool_max_idle_per_host: usize,
    pub(crate) pool_idle_timeout: Duration,
    pub(crate) upload_observer: Option<UploadObserver>,
    pub(crate) object_lock: Option<RetentionMode>,
    pub(crate) create_only: bool,
}

impl std::fmt::Debug for S3StorageBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3StorageBuilder")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("force_path_style", &self.force_path_style)
            .field("credentials", &self.credentials)
            .field("sse", &self.sse)
            .field("max_attempts", &self.max_attempts)
            .field("part_size", &self.part_size)
            .field("upload_concurrency", &self.upload_concurrency)
            .field("presign_method", &self.presign_method)
            .field("pool_max_idle_per_host", &self.pool_max_idle_per_host)
            .finish_non_exhaustive()
    }
}

impl S3StorageBuilder {
    /// A builder for `bucket` with the defaults: region from the environment (else
    /// `us-east-1`), AWS's endpoint, virtual-hosted addressing, the default credential chain, no
    /// server-side encryption requested, standard retries (3 attempts), 5 s connect timeout,
    /// 8 MiB parts, 4 parts in flight, presigned uploads as POST policies.
    pub fn new(bucket: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            region: None,
            endpoint: None,
            force_path_style: false,
            credentials: None,
            sse: ServerSideEncryption::None,
            retry_mode: RetryMode::Standard,
            max_attempts: 3,
            connect_timeout: Duration::from_secs(5),
            operation_timeout: None,
            part_size: DEFAULT_PART_SIZE,
            upload_concurrency: 4,
            presign_method: UploadMethod::Post,
            pool_max_idle_per_host: 32,
            pool_idle_timeout: Duration::from_secs(90),
            upload_observer: None,
            object_lock: None,
            create_only: true,
        }
    }

    /// A builder from the environment: `CASEFILE_S3_BUCKET` (required by `build`),
    /// `AWS_REGION`/`AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL_S3`/`AWS_ENDPOINT_URL`,
    /// `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`), and
    /// `CASEFILE_S3_FORCE_PATH_STYLE=true`, `CASEFILE_S3_SSE=none|AES256|aws:kms`,
    /// `CASEFILE_S3_KMS_KEY_ID`.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let mut builder = Self::new(var("CASEFILE_S3_BUCKET").unwrap_or_default());
        builder.region = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION"));
        builder.endpoint = var("AWS_ENDPOINT_URL_S3").or_else(|| var("AWS_ENDPOINT_URL"));
        builder.force_path_style = var("CASEFILE_S3_FORCE_PATH_STYLE").is_some_and(|v| v == "true");
        if let (Some(id), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
            builder.credentials = Some(StaticCredentials {
                access_key_id: id,
                secret_access_key: secret,
                session_token: var("AWS_SESSION_TOKEN"),
            });
        }
        builder.sse = match var("CASEFILE_S3_SSE").as_deref() {
            Some("AES256") => ServerSideEncryption::Aes256,
            Some("aws:kms") => ServerSideEncryption::Kms {
                key_id: var("CASEFILE_S3_KMS_KEY_ID"),
            },
            _ => ServerSideEncryption::None,
        };
        builder.create_only = var("CASEFILE_S3_CREATE_ONLY").is_none_or(|v| v != "false");
        builder.object_lock = match var("CASEFILE_S3_OBJECT_LOCK").as_deref() {
            Some("governance") => Some(RetentionMode::Governance),
            Some("compliance") => Some(RetentionMode::Compliance),
            _ => None,
        };
        builder
    }

    /// The bucket has S3 Object Lock enabled (it must have been created with it): legal holds
    /// and retention are set on objects ([`Capabilities::legal_hold`] and `retention` become
    /// true), retention in `mode`. `CASEFILE_S3_OBJECT_LOCK=governance|compliance` in
    /// [`from_env`](Self::from_env).
    pub fn with_object_lock(mut self, mode: RetentionMode) -> Self {
        self.object_lock = Some(mode);
        self
    }

    /// Whether create-only writes (`PutObject` with `If-None-Match: *`, which S3 has enforced
    /// since 2024) are offered; on by default. Turn it off for an S3-compatible server that
    /// ignores the condition (it would overwrite silently): `upload_if_absent` then answers
    /// `NotSupported`. `CASEFILE_S3_CREATE_ONLY=false` in [`from_env`](Self::from_env).
    pub fn with_create_only(mut self, on: bool) -> Self {
        self.create_only = on;
        self
    }

    /// The region (of the bucket and of signatures).
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// An S3-compatible endpoint (MinIO, Ceph, R2, ...), e.g. `http://127.0.0.1:9000`.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Path-style addressing (`endpoint/bucket/key`), which most S3-compatible servers need.
    pub fn with_path_style(mut self, force: bool) -> Self {
        self.force_path_style = force;
        self
    }

    /// Static credentials instead of the default chain.
    pub fn with_credentials(mut self, credentials: StaticCredentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Server-side encryption of every object written (S3-compatible servers may lack it).
    pub fn with_server_side_encryption(mut self, sse: ServerSideEncryption) -> Self {
        self.sse = sse;
        self
    }

    /// Retries: the SDK's mode and the most attempts per request (1 = no retry). Throttling,
    /// 5xx and transient network errors are retried; other 4xx never are.
    pub fn with_retry(mut self, mode: RetryMode, max_attempts: u32) -> Self {
        self.retry_mode = mode;
        self.max_attempts = max_attempts;
        self
    }

    /// Connect timeout, and the limit of one attempt of an operation.
    pub fn with_timeouts(mut self, connect: Duration, operation_attempt: Option<Duration>) -> Self {
        self.connect_timeout = connect;
        self.operation_timeout = operation_attempt;
        self
    }

    /// Part size of multipart uploads (≥ 5 MiB; objects up to one part are single PUTs) and
    /// how many parts are in flight at once. Memory per upload ≈ `part_size × (concurrency + 1)`.
    pub fn with_multipart(mut self, part_size: usize, concurrency: usize) -> Self {
        self.part_size = part_size;
        self.upload_concurrency = concurrency;
        self
    }

    /// How presigned uploads are offered: a POST policy (size enforced by S3) or a PUT with
    /// signed `Content-Type` and `Content-Length` (the exact declared size).
    pub fn with_presigned_upload_method(mut self, method: UploadMethod) -> Self {
        self.presign_method = method;
        self
    }

    /// The connection pool of the HTTP client: how many idle connections to the endpoint are
    /// kept for reuse (default 32) and for how long (default 90 s).
    pub fn with_connection_pool(
        mut self,
        max_idle_per_host: usize,
        idle_timeout: Duration,
    ) -> Self {
        self.pool_max_idle_per_host = max_idle_per_host;
        self.pool_idle_timeout = idle_timeout;
        self
    }

    /// Called with the id of every multipart upload created (for tests that prove aborts).
    #[doc(hidden)]
    pub fn with_upload_observer(mut self, observer: UploadObserver) -> Self {
        self.upload_observer = Some(observer);
        self
    }

    /// Checks the configuration, makes the client and verifies the bucket.
    ///
    /// # Errors
    /// [`StorageError::InvalidInput`] for a bad setting; for the bucket check:
    /// [`StorageError::NotFound`] (no such bucket), [`StorageError::PermissionDenied`],
    /// [`StorageError::Unauthenticated`] (no or wrong credentials),
    /// [`StorageError::Unavailable`] (endpoint unreachable).
    pub async fn build(self) -> Result<S3Storage, StorageError> {
        if self.bucket.is_empty() {
            return Err(StorageError::invalid_input(
                "bucket",
                "is required (CASEFILE_S3_BUCKET)",
            ));
        }
        if self.part_size < MIN_PART_SIZE {
            return Err(StorageError::invalid_input(
                "part_size",
                "must be at least 5 MiB",
            ));
        }
        if self.upload_concurrency == 0 || self.max_attempts == 0 {
            return Err(StorageError::invalid_input(
                "concurrency",
                "must be at least 1",
            ));
        }
        if let Some(endpoint) = &self.endpoint {
            url::Url::parse(endpoint)
                .map_err(|e| StorageError::invalid_input("endpoint", e.to_string()))?;
        }
        let region = self
            .region
            .clone()
            .unwrap_or_else(|| "us-east-1".to_owned());
        let mut timeouts = TimeoutConfig::builder().connect_timeout(self.connect_timeout);
        if let Some(t) = self.operation_timeout {
            timeouts = timeouts.operation_attempt_timeout(t);
        }
        let retry = match self.retry_mode {
            RetryMode::Adaptive => RetryConfig::adaptive(),
            _ => RetryConfig::standard(),
        }
        .with_max_attempts(self.max_attempts);
        // The SDK's default client (hyper + rustls with aws-lc), with our pool settings.
        let http_client = aws_smithy_http_client::Builder::new()
            .pool_max_idle_per_host(self.pool_max_idle_per_host)
            .pool_idle_timeout(self.pool_idle_timeout)
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http_client)
            .region(Region::new(region.clone()))
            .retry_config(retry)
            .timeout_config(timeouts.build())
            // Plain SigV4 payloads: S3-compatible servers do not all take aws-chunked
            // checksum trailers. casefile verifies content with its own SHA-256.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if let Some(c) = &self.credentials {
            loader = loader.credentials_provider(Credentials::new(
                c.access_key_id.clone(),
                c.secret_access_key.clone(),
                c.session_token.clone(),
                None,
                "casefile",
            ));
        }
        if let Some(endpoint) = &self.endpoint {
            loader = loader.endpoint_url(endpoint.clone());
        }
        let sdk = loader.load().await;
        let config = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(self.force_path_style)
            .build();
        let client = aws_sdk_s3::Client::from_conf(config);
        let storage = S3Storage::from_parts(client, sdk, self, region);
        storage.verify_bucket().await?;
        Ok(storage)
    }
}

impl S3Storage {
    /// Checks that the bucket exists and that we may list it.
    async fn verify_bucket(&self) -> Result<(), StorageError> {
        let what = format!("bucket {}", self.bucket);
        match self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .max_keys(1)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(match map_sdk(e, &what) {
                StorageError::Backend { source, .. } => StorageError::Backend {
                    backend: BACKEND,
                    source,
                },
                other => other,
            }),
        }
    }
}
