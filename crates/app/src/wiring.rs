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
                Arc::new(
                    casefile_storage_s3::S3StorageBuilder::from_env()
                        .build()
                        .await?,
                )
            }
            #[cfg(not(feature = "s3"))]
            return Err(missing_feature("the s3 storage backend", "s3"));
        }
        "azure" => {
            #[cfg(feature = "azure")]
            {
                Arc::new(
                    casefile_storage_azure::AzureBlobStorageBuilder::from_env()
                        .build()
                        .await?,
                )
            }
            #[cfg(not(feature = "azure"))]
            return Err(missing_feature("the azure storage backend", "azure"));
        }
        "gcs" => {
            #[cfg(feature = "gcs")]
            {
                Arc::new(
                    casefile_storage_gcs::GcsStorageBuilder::from_env()
                        .build()
                        .await?,
                )
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
    let (repository, database): (Arc<dyn CaseRepository>, &str) = if url.starts_with("postgres://")
        || url.starts_with("postgresql://")
    {
        #[cfg(feature = "postgres")]
        {
            (
                Arc::new(casefile_persistence::PgCaseRepository::connect(&url, pool).await?),
                "PostgreSQL",
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
            (
                Arc::new(casefile_persistence::SqliteCaseRepository::connect(&url, pool).await?),
                "SQLite",
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
