//! Configuration: a TOML file, then `CASEFILE_*` environment overrides, validated at start.
//! With no file and no variables, the embedded default: local files and SQLite under
//! `./casefile-data/`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use casefile_domain::legal::ServiceConfig;
use serde::{Deserialize, Serialize};

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the embedded setup keeps its files, its database and its generated secrets.
    pub data_dir: PathBuf,
    /// The address the HTTP server listens on.
    pub listen: SocketAddr,
    /// The URL clients reach this server at (for the local store's presigned URLs).
    pub public_url: Option<String>,
    /// Storage settings.
    pub storage: StorageConfig,
    /// Database settings.
    pub database: DatabaseConfig,
    /// Authentication.
    pub auth: AuthConfig,
    /// Limits of the legal file service.
    pub limits: LimitsConfig,
    /// Retention of new cases.
    pub retention: RetentionConfig,
    /// The audit log's signed checkpoints.
    pub audit: AuditConfig,
    /// The scheduled fixity scrub.
    pub scrub: ScrubConfig,
    /// The HTTP server's own settings.
    pub server: ServerConfig,
    /// Logs.
    pub log: LogConfig,
    /// The Prometheus endpoint.
    pub metrics: MetricsConfig,
    /// The scheduled purge.
    pub purge: PurgeConfig,
}

/// Logs (to standard error). The level comes from `RUST_LOG` (default `info`: one access line
/// per request, start, stop and background jobs).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` (default) or `json` (one object per line, for a log collector).
    pub format: LogFormat,
}

/// [`LogConfig::format`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The Prometheus endpoint: `GET /metrics` on an address of its own, so that it is not exposed
/// where the API is.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Where `/metrics` is served (e.g. `127.0.0.1:9090`); unset (the default): not served.
    pub listen: Option<SocketAddr>,
}

/// The purge `serve` runs on a schedule (on one instance at a time): objects of deleted and
/// failed files, expired pending uploads, abandoned staging objects.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PurgeConfig {
    /// Seconds between purges; 0 schedules none (`casefile purge` runs one by hand).
    pub interval_secs: u64,
    /// At most this many of each kind per purge.
    pub batch: usize,
}

impl Default for PurgeConfig {
    fn default() -> Self {
        Self {
            interval_secs: 600,
            batch: 1000,
        }
    }
}

/// The HTTP server's own settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// On SIGTERM or SIGINT, how long requests in flight (streaming uploads included) may take to
    /// finish before the process exits, seconds.
    pub shutdown_grace_secs: u64,
    /// Origins (`https://app.firm.example`) whose pages may call the API from a browser (CORS);
    /// none by default. The page casefile serves itself needs none.
    pub cors_allowed_origins: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            shutdown_grace_secs: 30,
            cors_allowed_origins: Vec::new(),
        }
    }
}

/// A boolean setting: `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off` (any case); anything else
/// is an error naming the variable.
///
/// # Errors
/// [`ConfigError`] naming `name`.
pub fn parse_bool(name: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(ConfigError(format!(
            "{name} must be true or false (1/0, yes/no, on/off), not {value:?}"
        ))),
    }
}

/// The fixity scrub `serve` runs on a schedule (`casefile scrub` runs one by hand).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScrubConfig {
    /// Seconds between scheduled scrubs; 0 (the default) schedules none.
    pub interval_secs: u64,
    /// Read at most this many bytes per second (0: no limit).
    pub rate_bytes_per_sec: u64,
    /// Files read at once.
    pub jobs: usize,
    /// A scheduled scrub reads only files not verified within this many seconds (default: the
    /// interval).
    pub older_than_secs: Option<u64>,
    /// An instance leaves a run to the one whose heartbeat is younger than this, seconds: one
    /// instance scrubs at a time when several share a database, and another takes over when it
    /// stops.
    pub lease_secs: u64,
}

impl Default for ScrubConfig {
    fn default() -> Self {
        Self {
            interval_secs: 0,
            rate_bytes_per_sec: 0,
            jobs: 2,
            older_than_secs: None,
            lease_secs: 300,
        }
    }
}

/// The audit log's signed checkpoints.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// The log's name: the first line of every checkpoint and the name of its key (no spaces,
    /// no `+`).
    pub origin: String,
    /// The Ed25519 seed of the signing key, 64 hex digits; generated into
    /// `<data_dir>/audit-signing.secret` when unset.
    pub signing_key: Option<String>,
    /// How often `serve` signs a checkpoint when the log has grown, seconds (default 60).
    pub checkpoint_interval_secs: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            origin: "casefile.local/audit".into(),
            signing_key: None,
            checkpoint_interval_secs: 60,
        }
    }
}

impl std::fmt::Debug for AuditConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditConfig")
            .field("origin", &self.origin)
            .field(
                "signing_key",
                &self.signing_key.as_ref().map(|_| "<redacted>"),
            )
            .field("checkpoint_interval_secs", &self.checkpoint_interval_secs)
            .finish()
    }
}

/// Retention applied to new cases.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// New cases are retained this many days from their creation: nothing in them can be
    /// deleted before (0: none; at most 36525).
    pub default_days: u32,
    /// How a store that enforces retention itself (S3 Object Lock) keeps objects:
    /// `governance` (default: users with a special permission may bypass it) or `compliance`
    /// (nobody can, the account's root included).
    pub mode: RetentionModeConfig,
    /// Where the store keeps its own locks (S3 Object Lock), how often `serve` compares them
    /// with the registry and sets drifted ones right, seconds (default 300).
    pub reconcile_interval_secs: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            default_days: 0,
            mode: RetentionModeConfig::default(),
            reconcile_interval_secs: 300,
        }
    }
}

impl From<RetentionModeConfig> for casefile_domain::storage::RetentionMode {
    fn from(mode: RetentionModeConfig) -> Self {
        match mode {
            RetentionModeConfig::Governance => Self::Governance,
            RetentionModeConfig::Compliance => Self::Compliance,
        }
    }
}

/// [`RetentionConfig::mode`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetentionModeConfig {
    /// S3 GOVERNANCE.
    #[default]
    Governance,
    /// S3 COMPLIANCE.
    Compliance,
}

/// Which store, and its settings: `backend` names the store, and the section of that name
/// (`[storage.s3]`, `[storage.azure]`, `[storage.gcs]`) holds its settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// `fs` (default), `s3`, `azure` or `gcs`.
    pub backend: String,
    /// Root of the `fs` store; default `<data_dir>/objects`.
    pub root: Option<PathBuf>,
    /// Amazon S3 or an S3-compatible server.
    pub s3: S3Config,
    /// Azure Blob Storage.
    pub azure: AzureConfig,
    /// Google Cloud Storage.
    pub gcs: GcsConfig,
}

/// `[storage.s3]`. Unset credentials: the AWS default chain (profile, web identity, instance
/// role).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct S3Config {
    /// The bucket (required).
    pub bucket: Option<String>,
    /// The region (default: the AWS configuration's, else `us-east-1`).
    pub region: Option<String>,
    /// Another endpoint than AWS's (an S3-compatible server).
    pub endpoint: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`), for servers without virtual hosts.
    pub force_path_style: bool,
    /// A static access key id (with `secret_access_key`).
    pub access_key_id: Option<String>,
    /// The static secret access key.
    pub secret_access_key: Option<String>,
    /// A session token for temporary credentials.
    pub session_token: Option<String>,
    /// Server-side encryption requested: `none` (default), `AES256` or `aws:kms`.
    pub sse: String,
    /// The KMS key for `aws:kms` (default: the AWS-managed key).
    pub kms_key_id: Option<String>,
    /// Write anchored checkpoints with `If-None-Match: *` (default true; off only for a server
    /// that does not honour it).
    pub create_only: bool,
    /// The bucket has Object Lock: `governance` or `compliance` (the mode of retention).
    pub object_lock: Option<RetentionModeConfig>,
}

impl Default for S3Config {
    fn default() -> Self {
        Self {
            bucket: None,
            region: None,
            endpoint: None,
            force_path_style: false,
            access_key_id: None,
            secret_access_key: None,
            session_token: None,
            sse: "none".into(),
            kms_key_id: None,
            create_only: true,
            object_lock: None,
        }
    }
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("access_key_id", &self.access_key_id)
            .field("sse", &self.sse)
            .field("object_lock", &self.object_lock)
            .finish_non_exhaustive()
    }
}

/// `[storage.azure]`.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AzureConfig {
    /// The storage account (required).
    pub account: Option<String>,
    /// The container (required).
    pub container: Option<String>,
    /// The account's access key (base64): needed for presigned URLs.
    pub access_key: Option<String>,
    /// A SAS token instead of the key (no presigned URLs then).
    pub sas_token: Option<String>,
    /// Another endpoint than Azure's (e.g. Azurite's `http://127.0.0.1:10000/devstoreaccount1`).
    pub endpoint: Option<String>,
}

impl std::fmt::Debug for AzureConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureConfig")
            .field("account", &self.account)
            .field("container", &self.container)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// `[storage.gcs]`. Unset credentials: none (an emulator).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GcsConfig {
    /// The bucket (required).
    pub bucket: Option<String>,
    /// Another endpoint than Google's (e.g. `http://127.0.0.1:4443` for an emulator).
    pub endpoint: Option<String>,
    /// A service account's JSON key file.
    pub credentials_file: Option<PathBuf>,
    /// Legal holds become GCS temporary holds.
    pub temporary_holds: bool,
}

/// The database.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// A `postgres://` URL or a SQLite file path; default `<data_dir>/casefile.db`.
    pub url: Option<String>,
    /// Apply pending migrations on start.
    pub migrate_on_start: bool,
    /// Pool size.
    pub max_connections: usize,
}

/// Authentication of API requests.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// The HS256 secret of bearer tokens (≥ 32 bytes); generated into the data directory when
    /// unset.
    pub jwt_secret: Option<String>,
    /// Earlier secrets still accepted for verification (rotation): tokens are signed with
    /// `jwt_secret` and accepted with it or any of these.
    pub previous_jwt_secrets: Vec<String>,
    /// The `iss` minted and required, if set.
    pub issuer: Option<String>,
    /// The `aud` minted and required, if set.
    pub audience: Option<String>,
    /// The longest token lifetime (`exp - iat`), seconds; default 24 h.
    pub max_token_lifetime_secs: u64,
    /// The identity provider's JWKS URL (https, or http on a loopback host). Setting it (or
    /// `jwks_file`) switches sign-in to the provider: `issuer` and `audience` are then required,
    /// and tokens of the local secret are refused.
    pub jwks_url: Option<String>,
    /// The identity provider's keys, as a JWKS file (instead of `jwks_url`).
    pub jwks_file: Option<PathBuf>,
    /// The claim naming the user (default `sub`); a value that is not a UUID maps to a UUIDv5
    /// of issuer and subject.
    pub user_claim: String,
    /// Clock skew allowed on `exp` and `nbf`, seconds (default 60).
    pub leeway_secs: u64,
    /// How long the provider's keys are cached, seconds (default 300).
    pub jwks_cache_secs: u64,
    /// The least time between two fetches of the keys, seconds (default 30): a token with an
    /// unknown `kid` fetches them again at most this often.
    pub jwks_min_refresh_secs: u64,
    /// The page's sign-in at the identity provider (authorization code with PKCE): its
    /// authorization endpoint. With `token_endpoint` and `web_client_id`, the page offers it.
    pub authorization_endpoint: Option<String>,
    /// The identity provider's token endpoint (it must answer the page's origin with CORS).
    pub token_endpoint: Option<String>,
    /// The page's client id at the identity provider (a public client: no secret).
    pub web_client_id: Option<String>,
    /// The scopes the page asks for.
    pub web_scope: String,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            previous_jwt_secrets: Vec::new(),
            issuer: None,
            audience: None,
            max_token_lifetime_secs: crate::auth::DEFAULT_MAX_TOKEN_LIFETIME_SECS,
            jwks_url: None,
            jwks_file: None,
            user_claim: "sub".into(),
            leeway_secs: 60,
            jwks_cache_secs: 300,
            jwks_min_refresh_secs: 30,
            authorization_endpoint: None,
            token_endpoint: None,
            web_client_id: None,
            web_scope: "openid profile email".into(),
        }
    }
}

impl AuthConfig {
    /// The token policy these settings make.
    pub fn policy(&self) -> crate::auth::TokenPolicy {
        crate::auth::TokenPolicy {
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            max_lifetime_secs: self.max_token_lifetime_secs,
        }
    }

    /// The identity provider's settings, when a JWKS is configured.
    pub fn oidc(&self) -> Option<crate::oidc::OidcSettings> {
        let jwks = match (&self.jwks_url, &self.jwks_file) {
            (Some(url), _) => crate::oidc::JwksSource::Url(url.clone()),
            (None, Some(file)) => crate::oidc::JwksSource::File(file.clone()),
            (None, None) => return None,
        };
        Some(crate::oidc::OidcSettings {
            issuer: self.issuer.clone().unwrap_or_default(),
            audience: self.audience.clone().unwrap_or_default(),
            jwks,
            user_claim: self.user_claim.clone(),
            leeway: Duration::from_secs(self.leeway_secs),
            cache_ttl: Duration::from_secs(self.jwks_cache_secs),
            min_refresh: Duration::from_secs(self.jwks_min_refresh_secs),
        })
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let oidc = self.jwks_url.is_some() || self.jwks_file.is_some();
        let web = [
            &self.authorization_endpoint,
            &self.token_endpoint,
            &self.web_client_id,
        ];
        if web.iter().any(|v| v.is_some()) && !oidc {
            return Err(ConfigError(
                "auth.authorization_endpoint/token_endpoint/web_client_id need the identity provider's keys (auth.jwks_url or auth.jwks_file)"
                    .into(),
            ));
        }
        if web.iter().any(|v| v.is_some()) && !web.iter().all(|v| v.is_some()) {
            return Err(ConfigError(
                "auth.authorization_endpoint, auth.token_endpoint and auth.web_client_id go together"
                    .into(),
            ));
        }
        for url in [&self.authorization_endpoint, &self.token_endpoint]
            .into_iter()
            .flatten()
        {
            if !secure_or_loopback(url) {
                return Err(ConfigError(format!(
                    "{url:?}: the identity provider's endpoints must be https (http only on a loopback host)"
                )));
            }
        }

        if !oidc {
            return Ok(());
        }
        if self.jwks_url.is_some() && self.jwks_file.is_some() {
            return Err(ConfigError(
                "auth.jwks_url and auth.jwks_file: set one, not both".into(),
            ));
        }
        if self.issuer.as_deref().is_none_or(str::is_empty)
            || self.audience.as_deref().is_none_or(str::is_empty)
        {
            return Err(ConfigError(
                "auth.jwks_url/jwks_file need auth.issuer and auth.audience (a provider's tokens for \
                 another application must not open casefile)"
                    .into(),
            ));
        }
        if let Some(url) = &self.jwks_url
            && !secure_or_loopback(url)
        {
            return Err(ConfigError(
                "auth.jwks_url must be https (http only on a loopback host)".into(),
            ));
        }
        if self.user_claim.is_empty() {
            return Err(ConfigError("auth.user_claim must not be empty".into()));
        }
        if self.leeway_secs > 300 {
            return Err(ConfigError(
                "auth.leeway_secs must be within 0..=300".into(),
            ));
        }
        if !(1..=86_400).contains(&self.jwks_cache_secs)
            || !(1..=3600).contains(&self.jwks_min_refresh_secs)
        {
            return Err(ConfigError(
                "auth.jwks_cache_secs must be within 1..=86400, auth.jwks_min_refresh_secs within 1..=3600"
                    .into(),
            ));
        }
        Ok(())
    }
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field(
                "jwt_secret",
                &self.jwt_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("previous_jwt_secrets", &self.previous_jwt_secrets.len())
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("max_token_lifetime_secs", &self.max_token_lifetime_secs)
            .field("jwks_url", &self.jwks_url)
            .field("jwks_file", &self.jwks_file)
            .field("user_claim", &self.user_claim)
            .finish_non_exhaustive()
    }
}

/// Limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest file, bytes.
    pub max_file_size: u64,
    /// Lifetime of upload URLs, seconds.
    pub upload_url_expiry_secs: u64,
    /// Lifetime of download URLs, seconds.
    pub download_url_expiry_secs: u64,
    /// How long an upload body may send nothing before the request is abandoned, seconds.
    pub body_idle_timeout_secs: u64,
    /// How long a request head may take to arrive — and a kept-alive connection may stay
    /// silent — before the connection is closed, seconds.
    pub header_read_timeout_secs: u64,
    /// Uploads and downloads streamed through the server at once; more get 503 `busy`.
    pub max_concurrent_streams: u64,
    /// The least an upload body must send on average over every `upload_rate_window_secs`,
    /// bytes per second (0: no floor).
    pub min_upload_bytes_per_sec: u64,
    /// The span the upload rate is averaged over, seconds.
    pub upload_rate_window_secs: u64,
    /// Open uploads (pending, URL not expired) one user may have across cases.
    pub max_open_uploads_per_user: u64,
    /// Open uploads one case may have.
    pub max_open_uploads_per_case: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./casefile-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            storage: StorageConfig::default(),
            database: DatabaseConfig::default(),
            auth: AuthConfig::default(),
            limits: LimitsConfig::default(),
            retention: RetentionConfig::default(),
            audit: AuditConfig::default(),
            scrub: ScrubConfig::default(),
            server: ServerConfig::default(),
            log: LogConfig::default(),
            metrics: MetricsConfig::default(),
            purge: PurgeConfig::default(),
        }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            backend: "fs".into(),
            root: None,
            s3: S3Config::default(),
            azure: AzureConfig::default(),
            gcs: GcsConfig::default(),
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: None,
            migrate_on_start: true,
            max_connections: 8,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let d = ServiceConfig::default();
        Self {
            max_file_size: d.max_file_size(),
            upload_url_expiry_secs: d.upload_url_expiry().as_secs(),
            download_url_expiry_secs: d.download_url_expiry().as_secs(),
            body_idle_timeout_secs: 60,
            header_read_timeout_secs: 30,
            max_concurrent_streams: 256,
            min_upload_bytes_per_sec: 1024,
            upload_rate_window_secs: 30,
            max_open_uploads_per_user: d.max_open_uploads_per_user(),
            max_open_uploads_per_case: d.max_open_uploads_per_case(),
        }
    }
}

/// The largest `auth.max_token_lifetime_secs`: 30 days.
pub const MAX_TOKEN_LIFETIME_SECS: u64 = 30 * 24 * 60 * 60;

/// What a variable holds.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// Text.
    Text,
    /// A non-negative integer.
    Number,
    /// `true`/`false` and the like ([`parse_bool`]).
    Bool,
    /// `host:port`.
    Address,
    /// Comma-separated texts.
    List,
    /// One of these words (any case).
    OneOf(&'static [&'static str]),
}

impl Kind {
    fn parse(self, name: &str, raw: &str) -> Result<toml::Value, ConfigError> {
        Ok(match self {
            Kind::Text => toml::Value::String(raw.to_owned()),
            Kind::Number => toml::Value::Integer(
                raw.trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| ConfigError(format!("{name} must be a number, not {raw:?}")))?,
            ),
            Kind::Bool => toml::Value::Boolean(parse_bool(name, raw)?),
            Kind::Address => {
                raw.trim().parse::<SocketAddr>().map_err(|_| {
                    ConfigError(format!(
                        "{name} must be host:port (e.g. 127.0.0.1:8080), not {raw:?}"
                    ))
                })?;
                toml::Value::String(raw.trim().to_owned())
            }
            Kind::List => toml::Value::Array(
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| toml::Value::String(s.to_owned()))
                    .collect(),
            ),
            Kind::OneOf(words) => {
                let word = words
                    .iter()
                    .find(|w| w.eq_ignore_ascii_case(raw.trim()))
                    .ok_or_else(|| {
                        ConfigError(format!(
                            "{name} must be one of {}, not {raw:?}",
                            words.join(", ")
                        ))
                    })?;
                toml::Value::String((*word).to_owned())
            }
        })
    }
}

/// One setting: where it is in the TOML file, and the variables that set it.
#[derive(Debug)]
pub struct Setting {
    /// The dotted path in the TOML file (`limits.max_file_size`).
    pub path: &'static str,
    /// The variables, the preferred first (later ones are the platforms' usual names).
    pub vars: &'static [&'static str],
    /// What it holds.
    pub kind: Kind,
}

const fn setting(path: &'static str, vars: &'static [&'static str], kind: Kind) -> Setting {
    Setting { path, vars, kind }
}

/// Every setting, and its variables. A test checks that each key of the full example
/// (`docs/casefile.example.toml`) is here and each setting here is in the example.
pub const SETTINGS: &[Setting] = &[
    setting("data_dir", &["CASEFILE_DATA_DIR"], Kind::Text),
    setting("listen", &["CASEFILE_LISTEN"], Kind::Address),
    setting("public_url", &["CASEFILE_PUBLIC_URL"], Kind::Text),
    setting(
        "storage.backend",
        &["CASEFILE_STORAGE"],
        Kind::OneOf(&["fs", "s3", "azure", "gcs"]),
    ),
    setting("storage.root", &["CASEFILE_STORAGE_ROOT"], Kind::Text),
    setting("storage.s3.bucket", &["CASEFILE_S3_BUCKET"], Kind::Text),
    setting(
        "storage.s3.region",
        &["CASEFILE_S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"],
        Kind::Text,
    ),
    setting(
        "storage.s3.endpoint",
        &[
            "CASEFILE_S3_ENDPOINT",
            "AWS_ENDPOINT_URL_S3",
            "AWS_ENDPOINT_URL",
        ],
        Kind::Text,
    ),
    setting(
        "storage.s3.force_path_style",
        &["CASEFILE_S3_FORCE_PATH_STYLE"],
        Kind::Bool,
    ),
    setting(
        "storage.s3.access_key_id",
        &["CASEFILE_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"],
        Kind::Text,
    ),
    setting(
        "storage.s3.secret_access_key",
        &["CASEFILE_S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"],
        Kind::Text,
    ),
    setting(
        "storage.s3.session_token",
        &["CASEFILE_S3_SESSION_TOKEN", "AWS_SESSION_TOKEN"],
        Kind::Text,
    ),
    setting(
        "storage.s3.sse",
        &["CASEFILE_S3_SSE"],
        Kind::OneOf(&["none", "AES256", "aws:kms"]),
    ),
    setting(
        "storage.s3.kms_key_id",
        &["CASEFILE_S3_KMS_KEY_ID"],
        Kind::Text,
    ),
    setting(
        "storage.s3.create_only",
        &["CASEFILE_S3_CREATE_ONLY"],
        Kind::Bool,
    ),
    setting(
        "storage.s3.object_lock",
        &["CASEFILE_S3_OBJECT_LOCK"],
        Kind::OneOf(&["governance", "compliance"]),
    ),
    setting(
        "storage.azure.account",
        &["CASEFILE_AZURE_ACCOUNT", "AZURE_STORAGE_ACCOUNT"],
        Kind::Text,
    ),
    setting(
        "storage.azure.container",
        &["CASEFILE_AZURE_CONTAINER", "AZURE_STORAGE_CONTAINER"],
        Kind::Text,
    ),
    setting(
        "storage.azure.access_key",
        &["CASEFILE_AZURE_ACCESS_KEY", "AZURE_STORAGE_KEY"],
        Kind::Text,
    ),
    setting(
        "storage.azure.sas_token",
        &["CASEFILE_AZURE_SAS_TOKEN", "AZURE_STORAGE_SAS_TOKEN"],
        Kind::Text,
    ),
    setting(
        "storage.azure.endpoint",
        &["CASEFILE_AZURE_ENDPOINT", "AZURE_STORAGE_ENDPOINT"],
        Kind::Text,
    ),
    setting("storage.gcs.bucket", &["CASEFILE_GCS_BUCKET"], Kind::Text),
    setting(
        "storage.gcs.endpoint",
        &["CASEFILE_GCS_ENDPOINT", "STORAGE_EMULATOR_HOST"],
        Kind::Text,
    ),
    setting(
        "storage.gcs.credentials_file",
        &[
            "CASEFILE_GCS_CREDENTIALS_FILE",
            "GOOGLE_APPLICATION_CREDENTIALS",
        ],
        Kind::Text,
    ),
    setting(
        "storage.gcs.temporary_holds",
        &["CASEFILE_GCS_TEMPORARY_HOLDS"],
        Kind::Bool,
    ),
    setting("database.url", &["CASEFILE_DATABASE_URL"], Kind::Text),
    setting(
        "database.migrate_on_start",
        &["CASEFILE_MIGRATE_ON_START"],
        Kind::Bool,
    ),
    setting(
        "database.max_connections",
        &["CASEFILE_DATABASE_MAX_CONNECTIONS"],
        Kind::Number,
    ),
    setting("auth.jwt_secret", &["CASEFILE_JWT_SECRET"], Kind::Text),
    setting(
        "auth.previous_jwt_secrets",
        &["CASEFILE_PREVIOUS_JWT_SECRETS"],
        Kind::List,
    ),
    setting("auth.issuer", &["CASEFILE_JWT_ISSUER"], Kind::Text),
    setting("auth.audience", &["CASEFILE_JWT_AUDIENCE"], Kind::Text),
    setting(
        "auth.max_token_lifetime_secs",
        &["CASEFILE_MAX_TOKEN_LIFETIME_SECS"],
        Kind::Number,
    ),
    setting("auth.jwks_url", &["CASEFILE_JWKS_URL"], Kind::Text),
    setting("auth.jwks_file", &["CASEFILE_JWKS_FILE"], Kind::Text),
    setting("auth.user_claim", &["CASEFILE_USER_CLAIM"], Kind::Text),
    setting(
        "auth.leeway_secs",
        &["CASEFILE_JWT_LEEWAY_SECS"],
        Kind::Number,
    ),
    setting(
        "auth.jwks_cache_secs",
        &["CASEFILE_JWKS_CACHE_SECS"],
        Kind::Number,
    ),
    setting(
        "auth.jwks_min_refresh_secs",
        &["CASEFILE_JWKS_MIN_REFRESH_SECS"],
        Kind::Number,
    ),
    setting(
        "auth.authorization_endpoint",
        &["CASEFILE_OIDC_AUTHORIZATION_ENDPOINT"],
        Kind::Text,
    ),
    setting(
        "auth.token_endpoint",
        &["CASEFILE_OIDC_TOKEN_ENDPOINT"],
        Kind::Text,
    ),
    setting(
        "auth.web_client_id",
        &["CASEFILE_OIDC_WEB_CLIENT_ID"],
        Kind::Text,
    ),
    setting("auth.web_scope", &["CASEFILE_OIDC_WEB_SCOPE"], Kind::Text),
    setting(
        "limits.max_file_size",
        &["CASEFILE_MAX_FILE_SIZE"],
        Kind::Number,
    ),
    setting(
        "limits.upload_url_expiry_secs",
        &["CASEFILE_UPLOAD_URL_EXPIRY_SECS"],
        Kind::Number,
    ),
    setting(
        "limits.download_url_expiry_secs",
        &["CASEFILE_DOWNLOAD_URL_EXPIRY_SECS"],
        Kind::Number,
    ),
    setting(
        "limits.body_idle_timeout_secs",
        &["CASEFILE_BODY_IDLE_TIMEOUT_SECS"],
        Kind::Number,
    ),
    setting(
        "limits.header_read_timeout_secs",
        &["CASEFILE_HEADER_READ_TIMEOUT_SECS"],
        Kind::Number,
    ),
    setting(
        "limits.max_concurrent_streams",
        &["CASEFILE_MAX_CONCURRENT_STREAMS"],
        Kind::Number,
    ),
    setting(
        "limits.min_upload_bytes_per_sec",
        &["CASEFILE_MIN_UPLOAD_BYTES_PER_SEC"],
        Kind::Number,
    ),
    setting(
        "limits.upload_rate_window_secs",
        &["CASEFILE_UPLOAD_RATE_WINDOW_SECS"],
        Kind::Number,
    ),
    setting(
        "limits.max_open_uploads_per_user",
        &["CASEFILE_MAX_OPEN_UPLOADS_PER_USER"],
        Kind::Number,
    ),
    setting(
        "limits.max_open_uploads_per_case",
        &["CASEFILE_MAX_OPEN_UPLOADS_PER_CASE"],
        Kind::Number,
    ),
    setting(
        "retention.default_days",
        &["CASEFILE_RETENTION_DEFAULT_DAYS"],
        Kind::Number,
    ),
    setting(
        "retention.mode",
        &["CASEFILE_RETENTION_MODE"],
        Kind::OneOf(&["governance", "compliance"]),
    ),
    setting(
        "retention.reconcile_interval_secs",
        &["CASEFILE_RETENTION_RECONCILE_INTERVAL_SECS"],
        Kind::Number,
    ),
    setting("audit.origin", &["CASEFILE_AUDIT_ORIGIN"], Kind::Text),
    setting(
        "audit.signing_key",
        &["CASEFILE_AUDIT_SIGNING_KEY"],
        Kind::Text,
    ),
    setting(
        "audit.checkpoint_interval_secs",
        &["CASEFILE_AUDIT_CHECKPOINT_INTERVAL_SECS"],
        Kind::Number,
    ),
    setting(
        "scrub.interval_secs",
        &["CASEFILE_SCRUB_INTERVAL_SECS"],
        Kind::Number,
    ),
    setting(
        "scrub.rate_bytes_per_sec",
        &["CASEFILE_SCRUB_RATE_BYTES_PER_SEC"],
        Kind::Number,
    ),
    setting("scrub.jobs", &["CASEFILE_SCRUB_JOBS"], Kind::Number),
    setting(
        "scrub.older_than_secs",
        &["CASEFILE_SCRUB_OLDER_THAN_SECS"],
        Kind::Number,
    ),
    setting(
        "scrub.lease_secs",
        &["CASEFILE_SCRUB_LEASE_SECS"],
        Kind::Number,
    ),
    setting(
        "server.shutdown_grace_secs",
        &["CASEFILE_SHUTDOWN_GRACE_SECS"],
        Kind::Number,
    ),
    setting(
        "server.cors_allowed_origins",
        &["CASEFILE_CORS_ALLOWED_ORIGINS"],
        Kind::List,
    ),
    setting(
        "log.format",
        &["CASEFILE_LOG_FORMAT"],
        Kind::OneOf(&["text", "json"]),
    ),
    setting(
        "metrics.listen",
        &["CASEFILE_METRICS_LISTEN"],
        Kind::Address,
    ),
    setting(
        "purge.interval_secs",
        &["CASEFILE_PURGE_INTERVAL_SECS"],
        Kind::Number,
    ),
    setting("purge.batch", &["CASEFILE_PURGE_BATCH"], Kind::Number),
];

/// Sets `path` (dotted) in `tree` to `value`, making the tables on the way.
fn set_path(tree: &mut toml::Value, path: &str, value: toml::Value) {
    let mut node = tree;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let Some(table) = node.as_table_mut() else {
            return;
        };
        if parts.peek().is_none() {
            table.insert(part.to_owned(), value);
            return;
        }
        node = table
            .entry(part.to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    }
}

/// `https://…`, or `http://` on a loopback host (a test or a local provider).
fn secure_or_loopback(url: &str) -> bool {
    let loopback = [
        "http://127.0.0.1:",
        "http://127.0.0.1/",
        "http://[::1]",
        "http://localhost:",
        "http://localhost/",
    ];
    url.starts_with("https://") || loopback.iter().any(|p| url.starts_with(p))
}

/// A configuration that cannot be used.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "configuration: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// The file at `path` (if any), then the environment.
    ///
    /// # Errors
    /// [`ConfigError`] for an unreadable or malformed file or variable.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let mut config = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| ConfigError(format!("{}: {e}", p.display())))?;
                toml::from_str(&text).map_err(|e| ConfigError(format!("{}: {e}", p.display())))?
            }
            None => Config::default(),
        };
        config.apply_env(|name| std::env::var(name).ok())?;
        config.validate()?;
        Ok(config)
    }

    /// Applies the variables of [`SETTINGS`] read through `var` (the first of a setting's
    /// names that is set wins).
    ///
    /// # Errors
    /// [`ConfigError`] naming a malformed variable.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let mut tree = toml::Value::try_from(&*self)
            .map_err(|e| ConfigError(format!("cannot apply the variables: {e}")))?;
        let mut applied = false;
        for setting in SETTINGS {
            let Some((name, raw)) = setting
                .vars
                .iter()
                .find_map(|name| var(name).map(|value| (*name, value)))
            else {
                continue;
            };
            let value = setting.kind.parse(name, &raw)?;
            set_path(&mut tree, setting.path, value);
            applied = true;
        }
        if applied {
            *self = tree
                .try_into()
                .map_err(|e| ConfigError(format!("the variables: {e}")))?;
        }
        Ok(())
    }

    /// Checks what can be checked without I/O.
    ///
    /// # Errors
    /// [`ConfigError`] naming the bad setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.service_config()?;
        if !matches!(self.storage.backend.as_str(), "fs" | "s3" | "azure" | "gcs") {
            return Err(ConfigError(format!(
                "storage.backend {:?} is not fs, s3, azure or gcs",
                self.storage.backend
            )));
        }
        self.validate_storage()?;
        for origin in &self.server.cors_allowed_origins {
            let parsed = url::Url::parse(origin).ok();
            let bare = parsed.as_ref().is_some_and(|u| {
                matches!(u.scheme(), "http" | "https")
                    && u.host().is_some()
                    && u.path() == "/"
                    && u.query().is_none()
                    && !origin.ends_with('/')
            });
            if !bare {
                return Err(ConfigError(format!(
                    "server.cors_allowed_origins: {origin:?} is not an origin (scheme://host[:port], no path)"
                )));
            }
        }
        if !(1..=3600).contains(&self.limits.body_idle_timeout_secs) {
            return Err(ConfigError(
                "limits.body_idle_timeout_secs must be within 1..=3600".into(),
            ));
        }
        if !(1..=600).contains(&self.limits.header_read_timeout_secs) {
            return Err(ConfigError(
                "limits.header_read_timeout_secs must be within 1..=600".into(),
            ));
        }
        if !(1..=1_000_000).contains(&self.limits.max_concurrent_streams) {
            return Err(ConfigError(
                "limits.max_concurrent_streams must be within 1..=1000000".into(),
            ));
        }
        if !(1..=3600).contains(&self.limits.upload_rate_window_secs) {
            return Err(ConfigError(
                "limits.upload_rate_window_secs must be within 1..=3600".into(),
            ));
        }
        if let Some(secret) = &self.auth.jwt_secret
            && secret.len() < 32
        {
            return Err(ConfigError(
                "auth.jwt_secret must be at least 32 bytes".into(),
            ));
        }
        if self.auth.previous_jwt_secrets.iter().any(|s| s.len() < 32) {
            return Err(ConfigError(
                "auth.previous_jwt_secrets must each be at least 32 bytes".into(),
            ));
        }
        if !(60..=MAX_TOKEN_LIFETIME_SECS).contains(&self.auth.max_token_lifetime_secs) {
            return Err(ConfigError(format!(
                "auth.max_token_lifetime_secs must be within 60..={MAX_TOKEN_LIFETIME_SECS}"
            )));
        }
        self.auth.validate()?;
        if let Some(key) = &self.audit.signing_key
            && !(key.trim().len() == 64 && hex::decode(key.trim()).is_ok())
        {
            return Err(ConfigError(
                "audit.signing_key must be 64 hex digits (`openssl rand -hex 32`)".into(),
            ));
        }
        if self.database.max_connections == 0 {
            return Err(ConfigError(
                "database.max_connections must be at least 1".into(),
            ));
        }
        Ok(())
    }

    fn validate_storage(&self) -> Result<(), ConfigError> {
        let missing = |what: &str| {
            ConfigError(format!(
                "storage.backend is {:?}: {what} is required",
                self.storage.backend
            ))
        };
        let given = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.is_empty());
        match self.storage.backend.as_str() {
            "s3" => {
                let s3 = &self.storage.s3;
                if !given(&s3.bucket) {
                    return Err(missing("storage.s3.bucket (CASEFILE_S3_BUCKET)"));
                }
                if given(&s3.access_key_id) != given(&s3.secret_access_key) {
                    return Err(ConfigError(
                        "storage.s3.access_key_id and storage.s3.secret_access_key go together"
                            .into(),
                    ));
                }
                if !matches!(s3.sse.as_str(), "none" | "AES256" | "aws:kms") {
                    return Err(ConfigError(format!(
                        "storage.s3.sse must be none, AES256 or aws:kms, not {:?}",
                        s3.sse
                    )));
                }
            }
            "azure" => {
                let azure = &self.storage.azure;
                if !given(&azure.account) || !given(&azure.container) {
                    return Err(missing(
                        "storage.azure.account and storage.azure.container (AZURE_STORAGE_ACCOUNT, AZURE_STORAGE_CONTAINER)",
                    ));
                }
                if given(&azure.access_key) && given(&azure.sas_token) {
                    return Err(ConfigError(
                        "storage.azure.access_key and storage.azure.sas_token: set one, not both"
                            .into(),
                    ));
                }
            }
            "gcs" if !given(&self.storage.gcs.bucket) => {
                return Err(missing("storage.gcs.bucket (CASEFILE_GCS_BUCKET)"));
            }
            _ => {}
        }
        Ok(())
    }

    /// The service limits.
    ///
    /// # Errors
    /// [`ConfigError`] when a limit is out of range.
    pub fn service_config(&self) -> Result<ServiceConfig, ConfigError> {
        ServiceConfig::new(
            self.limits.max_file_size,
            Duration::from_secs(self.limits.upload_url_expiry_secs),
            Duration::from_secs(self.limits.download_url_expiry_secs),
        )
        .and_then(|c| {
            c.with_open_upload_caps(
                self.limits.max_open_uploads_per_user,
                self.limits.max_open_uploads_per_case,
            )
        })
        .and_then(|c| c.with_default_retention_days(self.retention.default_days))
        .map(|c| {
            c.with_retention_mode(match self.retention.mode {
                RetentionModeConfig::Governance => {
                    casefile_domain::storage::RetentionMode::Governance
                }
                RetentionModeConfig::Compliance => {
                    casefile_domain::storage::RetentionMode::Compliance
                }
            })
        })
        .map_err(|e| ConfigError(format!("limits: {e}")))
    }

    /// The database URL in force.
    pub fn database_url(&self) -> String {
        self.database.url.clone().unwrap_or_else(|| {
            self.data_dir
                .join("casefile.db")
                .to_string_lossy()
                .into_owned()
        })
    }

    /// The public base URL of this server.
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
            .trim_end_matches('/')
            .to_owned()
    }

    /// The effective configuration as TOML, secrets redacted.
    pub fn redacted_toml(&self) -> String {
        let mut shown = self.clone();
        for previous in &mut shown.auth.previous_jwt_secrets {
            *previous = "<redacted>".into();
        }
        if shown.audit.signing_key.is_some() {
            shown.audit.signing_key = Some("<redacted>".into());
        }
        if shown.auth.jwt_secret.is_some() {
            shown.auth.jwt_secret = Some("<redacted>".into());
        }
        for secret in [
            &mut shown.storage.s3.secret_access_key,
            &mut shown.storage.s3.session_token,
            &mut shown.storage.azure.access_key,
            &mut shown.storage.azure.sas_token,
        ] {
            if secret.is_some() {
                *secret = Some("<redacted>".into());
            }
        }
        if let Some(url) = &shown.database.url {
            shown.database.url = Some(casefile_persistence::redact_url(url));
        }
        toml::to_string_pretty(&shown).unwrap_or_else(|e| format!("# cannot render: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_embedded_setup() {
        let c = Config::default();
        c.validate().unwrap();
        assert_eq!(c.storage.backend, "fs");
        assert!(c.database_url().ends_with("casefile-data/casefile.db"));
    }

    #[test]
    fn environment_overrides_and_validation() {
        let mut c = Config::default();
        let env = |n: &str| match n {
            "CASEFILE_STORAGE" => Some("s3".into()),
            "CASEFILE_S3_BUCKET" => Some("evidence".into()),
            "AWS_SECRET_ACCESS_KEY" => Some("aws-secret-hunter3".into()),
            "AWS_ACCESS_KEY_ID" => Some("AKIAEXAMPLE".into()),
            "CASEFILE_MAX_FILE_SIZE" => Some("1024".into()),
            "CASEFILE_DATABASE_URL" => Some("postgres://casefile:hunter2@db/casefile".into()),
            "CASEFILE_JWT_SECRET" => Some("x".repeat(40)),
            _ => None,
        };
        c.apply_env(env).unwrap();
        c.validate().unwrap();
        assert_eq!(c.limits.max_file_size, 1024);
        let shown = c.redacted_toml();
        assert!(
            !shown.contains("hunter2")
                && !shown.contains(&"x".repeat(40))
                && !shown.contains("aws-secret-hunter3"),
            "{shown}"
        );
        assert!(shown.contains("AKIAEXAMPLE"), "the key id is not a secret");
        let mut bad = Config::default();
        assert!(
            bad.apply_env(|n| (n == "CASEFILE_MAX_FILE_SIZE").then(|| "lots".into()))
                .is_err()
        );
        bad.limits.upload_url_expiry_secs = 8 * 24 * 3600;
        assert!(
            bad.validate().is_err(),
            "expiry over 7 days refused at configuration time"
        );
        let mut unknown = Config::default();
        unknown.storage.backend = "ftp".into();
        assert!(unknown.validate().is_err());
        assert!(toml::from_str::<Config>("nonsense = 1").is_err());
    }

    #[test]
    fn booleans_are_read_strictly() {
        for (value, expected) in [("1", true), ("yes", true), ("TRUE", true), ("on", true)]
            .into_iter()
            .chain([
                ("0", false),
                ("no", false),
                ("false", false),
                ("Off", false),
            ])
        {
            let mut c = Config::default();
            c.database.migrate_on_start = !expected;
            c.apply_env(|n| (n == "CASEFILE_MIGRATE_ON_START").then(|| value.into()))
                .unwrap();
            assert_eq!(c.database.migrate_on_start, expected, "{value}");
        }
        let mut c = Config::default();
        let err = c
            .apply_env(|n| (n == "CASEFILE_MIGRATE_ON_START").then(|| "maybe".into()))
            .unwrap_err();
        assert!(err.0.contains("CASEFILE_MIGRATE_ON_START"), "{}", err.0);
        let mut c = Config::default();
        c.apply_env(|n| (n == "CASEFILE_SHUTDOWN_GRACE_SECS").then(|| "5".into()))
            .unwrap();
        assert_eq!(c.server.shutdown_grace_secs, 5);
    }

    /// The dotted paths of every leaf of `value` (arrays are leaves).
    fn leaves(value: &toml::Value, prefix: &str, out: &mut Vec<String>) {
        match value {
            toml::Value::Table(table) => {
                for (key, v) in table {
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    leaves(v, &path, out);
                }
            }
            _ => out.push(prefix.to_owned()),
        }
    }

    /// #20: every setting is in the example file and has a variable, and nothing else is.
    #[test]
    fn every_setting_has_a_variable_and_is_in_the_example() {
        let text = include_str!("../../../docs/casefile.example.toml");
        let parsed: Config = toml::from_str(text).expect("the example parses as a Config");
        let tree: toml::Value = toml::from_str(text).unwrap();
        let mut in_example = Vec::new();
        leaves(&tree, "", &mut in_example);
        in_example.sort();
        let mut with_variables: Vec<String> = SETTINGS.iter().map(|s| s.path.to_owned()).collect();
        with_variables.sort();
        assert_eq!(in_example, with_variables);
        // And the example is every field of the model: a full config has no other leaf.
        let mut full = Vec::new();
        leaves(&toml::Value::try_from(&parsed).unwrap(), "", &mut full);
        full.sort();
        assert_eq!(full, with_variables);
        let mut names: Vec<&str> = SETTINGS
            .iter()
            .flat_map(|s| s.vars.iter().copied())
            .collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "a variable sets one setting");
    }

    /// #20: each variable sets its setting, and a malformed value is an error naming it.
    #[test]
    fn the_configuration_matrix() {
        for setting in SETTINGS {
            let (sample, bad): (&str, Option<&str>) = match setting.kind {
                Kind::Text => ("sample-value", None),
                Kind::Number => ("7", Some("seven")),
                Kind::Bool => ("yes", Some("maybe")),
                Kind::Address => ("127.0.0.1:9999", Some("nowhere")),
                Kind::List => ("a, b", None),
                Kind::OneOf(words) => (words[words.len() - 1], Some("neither")),
            };
            for name in setting.vars {
                let mut c = Config::default();
                c.apply_env(|n| (n == *name).then(|| sample.to_owned()))
                    .unwrap_or_else(|e| panic!("{name}={sample}: {e}"));
                let tree = toml::Value::try_from(&c).unwrap();
                let mut node = &tree;
                for part in setting.path.split('.') {
                    node = node
                        .get(part)
                        .unwrap_or_else(|| panic!("{name}: {} unset", setting.path));
                }
                let expected = match setting.kind {
                    Kind::Number => toml::Value::Integer(7),
                    Kind::Bool => toml::Value::Boolean(true),
                    Kind::List => toml::Value::Array(vec!["a".into(), "b".into()]),
                    _ => toml::Value::String(sample.to_owned()),
                };
                assert_eq!(node, &expected, "{name} sets {}", setting.path);
                if let Some(bad) = bad {
                    let err = Config::default()
                        .apply_env(|n| (n == *name).then(|| bad.to_owned()))
                        .expect_err(bad);
                    assert!(err.0.contains(name), "{name}={bad}: {}", err.0);
                }
            }
        }
        // The first name wins over the platform's usual one.
        let mut c = Config::default();
        c.apply_env(|n| match n {
            "CASEFILE_S3_REGION" => Some("eu-west-3".into()),
            "AWS_REGION" => Some("us-west-2".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.storage.s3.region.as_deref(), Some("eu-west-3"));
    }

    #[test]
    fn unknown_keys_and_incomplete_stores_are_errors() {
        for text in [
            "lisen = \"127.0.0.1:1\"",
            "[storage.s3]\nbuckett = \"x\"",
            "[server]\nshutdown_grace = 3",
            "[metrics]\nport = 9090",
        ] {
            let err = toml::from_str::<Config>(text).expect_err(text).to_string();
            assert!(err.contains("unknown field"), "{text}: {err}");
        }
        for (text, named) in [
            ("[storage]\nbackend = \"s3\"", "storage.s3.bucket"),
            ("[storage]\nbackend = \"gcs\"", "storage.gcs.bucket"),
            (
                "[storage]\nbackend = \"azure\"\n[storage.azure]\naccount = \"a\"",
                "storage.azure.container",
            ),
            (
                "[storage]\nbackend = \"s3\"\n[storage.s3]\nbucket = \"b\"\naccess_key_id = \"k\"",
                "secret_access_key",
            ),
            ("[audit]\nsigning_key = \"abc\"", "audit.signing_key"),
            (
                "[database]\nmax_connections = 0",
                "database.max_connections",
            ),
            (
                "[server]\ncors_allowed_origins = [\"https://a.example/app\"]",
                "server.cors_allowed_origins",
            ),
        ] {
            let c: Config = toml::from_str(text).unwrap();
            let err = c.validate().expect_err(text);
            assert!(err.0.contains(named), "{text}: {}", err.0);
        }
        let c: Config =
            toml::from_str("[storage]\nbackend = \"s3\"\n[storage.s3]\nbucket = \"b\"").unwrap();
        c.validate().unwrap();
    }

    #[test]
    fn an_identity_provider_needs_issuer_audience_and_a_safe_url() {
        let mut c = Config::default();
        c.auth.jwks_url = Some("https://idp.firm.example/keys".into());
        assert!(c.validate().is_err(), "no issuer or audience");
        c.auth.issuer = Some("https://idp.firm.example".into());
        c.auth.audience = Some("casefile".into());
        c.validate().unwrap();
        assert!(c.auth.oidc().is_some());
        c.auth.jwks_url = Some("http://idp.firm.example/keys".into());
        assert!(c.validate().is_err(), "cleartext keys from a remote host");
        c.auth.jwks_url = Some("http://127.0.0.1:8080/keys".into());
        c.validate().unwrap();
        c.auth.jwks_file = Some("keys.json".into());
        assert!(c.validate().is_err(), "both a URL and a file");
        c.auth.jwks_file = None;
        assert!(Config::default().auth.oidc().is_none());
        // The page's sign-in: three settings together, https, and only with the provider's keys.
        c.auth.authorization_endpoint = Some("https://idp.firm.example/authorize".into());
        assert!(c.validate().is_err(), "one of three");
        c.auth.token_endpoint = Some("https://idp.firm.example/token".into());
        c.auth.web_client_id = Some("casefile-web".into());
        c.validate().unwrap();
        c.auth.token_endpoint = Some("http://idp.firm.example/token".into());
        assert!(c.validate().is_err(), "a code exchanged in clear text");
        let mut alone = Config::default();
        alone.auth.authorization_endpoint = c.auth.authorization_endpoint.clone();
        alone.auth.token_endpoint = Some("https://idp.firm.example/token".into());
        alone.auth.web_client_id = Some("casefile-web".into());
        assert!(
            alone.validate().is_err(),
            "no provider keys to check its tokens"
        );
    }
}
