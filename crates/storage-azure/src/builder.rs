//! [`AzureBlobStorageBuilder`]: configuration, validated in `build`.

use std::sync::Arc;
use std::time::Duration;

use azure_core::auth::TokenCredential;
use azure_core::{ClientOptions, ExponentialRetryOptions, RetryOptions, TransportOptions};
use azure_storage::{CloudLocation, StorageCredentials};
use azure_storage_blobs::prelude::ClientBuilder;
use casefile_domain::StorageError;

use crate::AzureBlobStorage;
use crate::error::map_azure;

/// The well-known development account of Azurite.
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
/// The well-known (public) key of Azurite's development account.
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// How to authenticate.
#[derive(Clone)]
pub enum AzureCredentials {
    /// The account's access key (base64): needed to sign SAS URLs.
    AccessKey(String),
    /// A SAS token (query string without `?`): no presigned URLs can be made with it.
    SasToken(String),
    /// A Microsoft Entra ID token credential (e.g. from `azure_identity`): no presigned URLs
    /// can be made with it (that needs a user delegation key).
    Token(Arc<dyn TokenCredential>),
}

impl std::fmt::Debug for AzureCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::AccessKey(_) => "AccessKey(<redacted>)",
            Self::SasToken(_) => "SasToken(<redacted>)",
            Self::Token(_) => "Token(<credential>)",
        })
    }
}

/// Builds an [`AzureBlobStorage`]: `new`/`from_env`, `with_*`, `build` (which checks the
/// configuration and verifies the container).
#[derive(Debug, Clone)]
pub struct AzureBlobStorageBuilder {
    pub(crate) account: String,
    pub(crate) container: String,
    pub(crate) credentials: Option<AzureCredentials>,
    pub(crate) endpoint: Option<String>,
    pub(crate) max_retries: u32,
    pub(crate) timeout: Duration,
    pub(crate) block_size: usize,
    pub(crate) concurrency: usize,
}

impl AzureBlobStorageBuilder {
    /// A builder for `container` in `account`: public Azure endpoint, 3 retries, 4 MiB blocks,
    /// 4 blocks in flight.
    pub fn new(account: impl Into<String>, container: impl Into<String>) -> Self {
        Self {
            account: account.into(),
            container: container.into(),
            credentials: None,
            endpoint: None,
            max_retries: 3,
            timeout: Duration::from_secs(60),
            block_size: 4 * 1024 * 1024,
            concurrency: 4,
        }
    }

    /// From `AZURE_STORAGE_ACCOUNT`, `AZURE_STORAGE_CONTAINER`, `AZURE_STORAGE_KEY` or
    /// `AZURE_STORAGE_SAS_TOKEN`, and `AZURE_STORAGE_ENDPOINT` (e.g. Azurite's
    /// `http://127.0.0.1:10000/devstoreaccount1`).
    pub fn from_env() -> Self {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
        let mut b = Self::new(
            var("AZURE_STORAGE_ACCOUNT").unwrap_or_default(),
            var("AZURE_STORAGE_CONTAINER").unwrap_or_default(),
        );
        b.credentials = var("AZURE_STORAGE_KEY")
            .map(AzureCredentials::AccessKey)
            .or_else(|| var("AZURE_STORAGE_SAS_TOKEN").map(AzureCredentials::SasToken));
        b.endpoint = var("AZURE_STORAGE_ENDPOINT");
        b
    }

    /// Authenticate with these credentials.
    pub fn with_credentials(mut self, credentials: AzureCredentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// A custom endpoint including the account path, e.g. Azurite's
    /// `http://127.0.0.1:10000/devstoreaccount1`.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Retries of failed requests (0: none), and the timeout of connecting and of each read.
    pub fn with_retry(mut self, max_retries: u32, timeout: Duration) -> Self {
        self.max_retries = max_retries;
        self.timeout = timeout;
        self
    }

    /// Block size of staged uploads (objects up to one block are one request) and how many
    /// blocks are in flight. Memory per upload ≈ `block_size × (concurrency + 1)`.
    pub fn with_blocks(mut self, block_size: usize, concurrency: usize) -> Self {
        self.block_size = block_size;
        self.concurrency = concurrency;
        self
    }

    /// Checks the configuration, makes the client and verifies the container.
    ///
    /// # Errors
    /// [`StorageError::InvalidInput`] for a bad setting; [`StorageError::NotFound`] for a missing
    /// container; [`StorageError::Unauthenticated`] for a wrong key;
    /// [`StorageError::PermissionDenied`]; [`StorageError::Unavailable`] when unreachable.
    pub async fn build(self) -> Result<AzureBlobStorage, StorageError> {
        if self.account.is_empty() || self.container.is_empty() {
            return Err(StorageError::invalid_input(
                "container",
                "account and container are required",
            ));
        }
        if self.block_size == 0 || self.block_size > 4000 * 1024 * 1024 || self.concurrency == 0 {
            return Err(StorageError::invalid_input(
                "block_size",
                "must be within 1 B..4000 MiB",
            ));
        }
        let credentials = match &self.credentials {
            Some(AzureCredentials::AccessKey(key)) => {
                base64_check(key)?;
                StorageCredentials::access_key(
                    self.account.clone(),
                    azure_core::auth::Secret::new(key.clone()),
                )
            }
            Some(AzureCredentials::SasToken(token)) => StorageCredentials::sas_token(token.clone())
                .map_err(|e| StorageError::invalid_input("sas_token", e.to_string()))?,
            Some(AzureCredentials::Token(credential)) => {
                StorageCredentials::token_credential(credential.clone())
            }
            None => {
                return Err(StorageError::Unauthenticated {
                    message: "no Azure credentials (AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN)"
                        .into(),
                    source: None,
                });
            }
        };
        let location = match &self.endpoint {
            Some(uri) => {
                url::Url::parse(uri)
                    .map_err(|e| StorageError::invalid_input("endpoint", e.to_string()))?;
                CloudLocation::Custom {
                    account: self.account.clone(),
                    uri: uri.trim_end_matches('/').to_owned(),
                }
            }
            None => CloudLocation::Public {
                account: self.account.clone(),
            },
        };
        let retry = if self.max_retries == 0 {
            RetryOptions::none()
        } else {
            RetryOptions::exponential(
                ExponentialRetryOptions::default().max_retries(self.max_retries),
            )
        };
        // Connect and per-read timeouts on the HTTP client (a whole-request timeout would cut
        // long streamed downloads).
        let http = reqwest::Client::builder()
            .connect_timeout(self.timeout.min(Duration::from_secs(10)))
            .read_timeout(self.timeout)
            .build()
            .map_err(|e| StorageError::backend(crate::error::BACKEND, e))?;
        let options = ClientOptions::default()
            .retry(retry)
            .transport(TransportOptions::new(Arc::new(http)));
        let container = ClientBuilder::with_location(location, credentials)
            .client_options(options)
            .container_client(self.container.clone());
        container
            .get_properties()
            .into_future()
            .await
            .map_err(|e| map_azure(e, &format!("container {}", self.container)))?;
        Ok(AzureBlobStorage::from_parts(container, self))
    }
}

fn base64_check(key: &str) -> Result<(), StorageError> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(key)
        .map(drop)
        .map_err(|_| StorageError::invalid_input("access_key", "must be base64"))
}
