//! Builds the ports from the configuration, by the cargo features compiled in.

use std::sync::Arc;

use casefile_domain::legal::{CaseRepository, LegalFileService, SystemClock};
use casefile_domain::storage::ObjectStorage;
use casefile_persistence::PoolConfig;
#[cfg(feature = "fs")]
use casefile_storage_local::{FsStorage, UrlSigner};

/// The local store, whose presigned URLs this server serves (feature `fs`).
#[cfg(feature = "fs")]
pub type LocalStore = FsStorage;
/// Without the feature `fs` there is no local store: `Option<LocalStore>` is always `None`.
#[cfg(not(feature = "fs"))]
pub type LocalStore = std::convert::Infallible;

use crate::config::{Config, ConfigError};

/// Where the local store's presigned URLs point: served by this server.
pub const BLOBS_PATH: &str = "/v1/blobs/";

/// Everything the server needs.
pub struct Wired {
    /// The service.
    pub service: LegalFileService,
    /// The store (for health checks).
    pub storage: Arc<dyn ObjectStorage>,
    /// The repository (for health checks).
    pub repository: Arc<dyn CaseRepository>,
    /// The local store, when it is the backend: this server honours its presigned URLs.
    pub local: Option<LocalStore>,
    /// What was wired, for the start-up message.
    pub description: String,
    /// How the database pool's connections are used now (metrics).
    pub pool_status: Arc<dyn Fn() -> casefile_persistence::PoolStatus + Send + Sync>,
    /// Whether this instance runs the background jobs now.
    pub leadership: Leadership,
}

/// Which instance runs the background jobs (purge, checkpoints, hold reconciliation, scheduled
/// scrubs) when several share a database.
#[derive(Clone)]
pub enum Leadership {
    /// SQLite: one host, one leader (every process on the file may run them; they are safe to
    /// run at once, see `PgLeadership`).
    Sole,
    /// PostgreSQL: the instance that holds the jobs lock.
    #[cfg(feature = "postgres")]
    Postgres(Arc<casefile_persistence::PgLeadership>),
}

impl Leadership {
    /// Whether this instance leads now.
    pub async fn is_leader(&self) -> bool {
        match self {
            Self::Sole => true,
            #[cfg(feature = "postgres")]
            Self::Postgres(leadership) => leadership.is_leader().await,
        }
    }
}

/// An error while wiring, naming what to fix.
pub type WireError = Box<dyn std::error::Error + Send + Sync>;

// Unused only in a build with every backend.
#[cfg_attr(
    all(
        feature = "fs",
        feature = "s3",
        feature = "azure",
        feature = "gcs",
        feature = "sqlite",
        feature = "postgres"
    ),
    allow(dead_code)
)]
fn missing_feature(what: &str, feature: &str) -> WireError {
    Box::new(ConfigError(format!(
        "{what} was not compiled in: rebuild with `--features {feature}`"
    )))
}

#[cfg(feature = "fs")]
/// The secret of the local store's URL signer: kept in the data directory so URLs survive a
/// restart.
fn local_secret(config: &Config) -> Result<Vec<u8>, WireError> {
    let path = config.data_dir.join("blob-url.secret");
    let (hex_secret, _) = crate::secrets::load_or_create(&path)?;
    hex::decode(hex_secret).map_err(|e| format!("{}: {e}", path.display()).into())
}

/// Builds the store, the repository and the service.
///
/// # Errors
/// A backend not compiled in, a bad setting, an unreachable store or database.
pub async fn wire(config: &Config) -> Result<Wired, WireError> {
    #[allow(unused_mut)]
    let mut local: Option<LocalStore> = Option::None;
    let storage: Arc<dyn ObjectStorage> = match config.storage.backend.as_str() {
        #[cfg(feature = "fs")]
        "fs" => {
            let root = config
                .storage
                .root
                .clone()
                .unwrap_or_else(|| config.data_dir.join("objects"));
            let signer = UrlSigner::new(
                &format!("{}{BLOBS_PATH}", config.public_url()),
                local_secret(config)?,
            )?;
            let fs = FsStorage::new(&root)?.with_url_signer(signer);
            local.replace(fs.clone());
            Arc::new(fs)
        }
        #[cfg(not(feature = "fs"))]
        "fs" => return Err(missing_feature("the fs storage backend", "fs")),
        "s3" => {
            #[cfg(feature = "s3")]
            {
                Arc::new(s3_builder(&config.storage.s3).build().await?)
            }
            #[cfg(not(feature = "s3"))]
            return Err(missing_feature("the s3 storage backend", "s3"));
        }
        "azure" => {
            #[cfg(feature = "azure")]
            {
                Arc::new(azure_builder(&config.storage.azure).build().await?)
            }
            #[cfg(not(feature = "azure"))]
            return Err(missing_feature("the azure storage backend", "azure"));
        }
        "gcs" => {
            #[cfg(feature = "gcs")]
            {
                Arc::new(gcs_builder(&config.storage.gcs)?.build().await?)
            }
            #[cfg(not(feature = "gcs"))]
            return Err(missing_feature("the gcs storage backend", "gcs"));
        }
        other => {
            return Err(Box::new(ConfigError(format!(
                "unknown storage backend {other:?}"
            ))));
        }
    };
    wire_with_storage(config, storage, local).await
}

/// The S3 store of `[storage.s3]`.
#[cfg(feature = "s3")]
pub fn s3_builder(c: &crate::config::S3Config) -> casefile_storage_s3::S3StorageBuilder {
    use casefile_storage_s3::{S3StorageBuilder, ServerSideEncryption, StaticCredentials};
    let mut b = S3StorageBuilder::new(c.bucket.clone().unwrap_or_default())
        .with_path_style(c.force_path_style)
        .with_create_only(c.create_only)
        .with_server_side_encryption(match c.sse.as_str() {
            "AES256" => ServerSideEncryption::Aes256,
            "aws:kms" => ServerSideEncryption::Kms {
                key_id: c.kms_key_id.clone(),
            },
            _ => ServerSideEncryption::None,
        });
    if let Some(region) = &c.region {
        b = b.with_region(region);
    }
    if let Some(endpoint) = &c.endpoint {
        b = b.with_endpoint(endpoint);
    }
    if let (Some(id), Some(secret)) = (&c.access_key_id, &c.secret_access_key) {
        b = b.with_credentials(StaticCredentials {
            access_key_id: id.clone(),
            secret_access_key: secret.clone(),
            session_token: c.session_token.clone(),
        });
    }
    if let Some(mode) = c.object_lock {
        b = b.with_object_lock(mode.into());
    }
    b
}

/// The Azure store of `[storage.azure]`.
#[cfg(feature = "azure")]
pub fn azure_builder(
    c: &crate::config::AzureConfig,
) -> casefile_storage_azure::AzureBlobStorageBuilder {
    use casefile_storage_azure::{AzureBlobStorageBuilder, AzureCredentials};
    let mut b = AzureBlobStorageBuilder::new(
        c.account.clone().unwrap_or_default(),
        c.container.clone().unwrap_or_default(),
    );
    if let Some(key) = &c.access_key {
        b = b.with_credentials(AzureCredentials::AccessKey(key.clone()));
    } else if let Some(sas) = &c.sas_token {
        b = b.with_credentials(AzureCredentials::SasToken(sas.clone()));
    }
    if let Some(endpoint) = &c.endpoint {
        b = b.with_endpoint(endpoint);
    }
    b
}

/// The GCS store of `[storage.gcs]`.
///
/// # Errors
/// An unreadable credentials file.
#[cfg(feature = "gcs")]
pub fn gcs_builder(
    c: &crate::config::GcsConfig,
) -> Result<casefile_storage_gcs::GcsStorageBuilder, WireError> {
    let mut b = casefile_storage_gcs::GcsStorageBuilder::new(c.bucket.clone().unwrap_or_default());
    if let Some(endpoint) = &c.endpoint {
        // An emulator host is given as `host:port` by convention.
        b = b.with_endpoint(if endpoint.contains("://") {
            endpoint.clone()
        } else {
            format!("http://{endpoint}")
        });
    }
    if let Some(file) = &c.credentials_file {
        let json = std::fs::read_to_string(file).map_err(|e| {
            ConfigError(format!(
                "storage.gcs.credentials_file {}: {e}",
                file.display()
            ))
        })?;
        b = b.with_service_account_json(json);
    }
    if c.temporary_holds {
        b = b.with_temporary_holds();
    }
    Ok(b)
}

/// Builds the repository and the service around a given store.
///
/// # Errors
/// A database not compiled in, unreachable, or behind its migrations.
pub async fn wire_with_storage(
    config: &Config,
    storage: Arc<dyn ObjectStorage>,
    local: Option<LocalStore>,
) -> Result<Wired, WireError> {
    let url = config.database_url();
    let pool = PoolConfig {
        max_size: config.database.max_connections,
        migrate: config.database.migrate_on_start,
        ..PoolConfig::default()
    };
    // Every store operation is counted and timed.
    let storage: Arc<dyn ObjectStorage> = Arc::new(crate::metered::Metered::new(storage));
    type PoolStatusFn = Arc<dyn Fn() -> casefile_persistence::PoolStatus + Send + Sync>;
    let (repository, database, pool_status, leadership): (
        Arc<dyn CaseRepository>,
        &str,
        PoolStatusFn,
        Leadership,
    ) = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        {
            let repo = casefile_persistence::PgCaseRepository::connect(&url, pool).await?;
            let leadership = Leadership::Postgres(Arc::new(repo.leadership()));
            let status = repo.clone();
            (
                Arc::new(repo),
                "PostgreSQL",
                Arc::new(move || status.pool_status()),
                leadership,
            )
        }
        #[cfg(not(feature = "postgres"))]
        return Err(missing_feature("the PostgreSQL database", "postgres"));
    } else {
        #[cfg(feature = "sqlite")]
        {
            if let Some(dir) = std::path::Path::new(&url).parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir)?;
            }
            let repo = casefile_persistence::SqliteCaseRepository::connect(&url, pool).await?;
            let status = repo.clone();
            (
                Arc::new(repo),
                "SQLite",
                Arc::new(move || status.pool_status()),
                Leadership::Sole,
            )
        }
        #[cfg(not(feature = "sqlite"))]
        return Err(missing_feature("the SQLite database", "sqlite"));
    };
    let service = LegalFileService::new(
        storage.clone(),
        repository.clone(),
        Arc::new(SystemClock),
        config.service_config()?,
    );
    let description = format!("storage {}, database {database}", storage.backend_name());
    Ok(Wired {
        service,
        storage,
        repository,
        local,
        description,
        pool_status,
        leadership,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// A backend that was not compiled in is refused at start with the feature to enable, and an
    /// unknown one by its name. Which backends are missing depends on the build: `cargo xtask
    /// test` also runs these unit tests in a build with only `s3` and `postgres`.
    #[tokio::test]
    async fn backends_not_compiled_in_name_their_feature() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        config.storage.backend = "ftp".into();
        let err = wire(&config).await.err().expect("an unknown backend");
        assert!(err.to_string().contains("unknown storage backend \"ftp\""));

        let storages = [
            ("fs", cfg!(feature = "fs")),
            ("s3", cfg!(feature = "s3")),
            ("azure", cfg!(feature = "azure")),
            ("gcs", cfg!(feature = "gcs")),
        ];
        for (backend, _) in storages.iter().filter(|(_, compiled)| !compiled) {
            config.storage.backend = (*backend).into();
            let err = wire(&config).await.err().expect("not compiled in");
            assert!(
                err.to_string()
                    .contains(&format!("rebuild with `--features {backend}`")),
                "{err}"
            );
        }

        let storage: Arc<dyn ObjectStorage> =
            Arc::new(casefile_domain::storage::MockObjectStorage::new());
        let databases = [
            ("sqlite", cfg!(feature = "sqlite"), "./casefile.db"),
            ("postgres", cfg!(feature = "postgres"), "postgres://db/x"),
        ];
        for (feature, _, url) in databases.iter().filter(|(_, compiled, _)| !compiled) {
            config.database.url = Some((*url).into());
            let err = wire_with_storage(&config, storage.clone(), None)
                .await
                .err()
                .expect("not compiled in");
            assert!(
                err.to_string()
                    .contains(&format!("rebuild with `--features {feature}`")),
                "{err}"
            );
        }
    }
}
