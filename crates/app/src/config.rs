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
}

/// The HTTP server's own settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// On SIGTERM or SIGINT, how long requests in flight (streaming uploads included) may take to
    /// finish before the process exits, seconds.
    pub shutdown_grace_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            shutdown_grace_secs: 30,
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

/// Which store, and the local store's settings (cloud stores read their usual variables).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// `fs` (default), `s3`, `azure` or `gcs`.
    pub backend: String,
    /// Root of the `fs` store; default `<data_dir>/objects`.
    pub root: Option<PathBuf>,
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
        if let Some(url) = &self.jwks_url {
            let loopback = [
                "http://127.0.0.1:",
                "http://127.0.0.1/",
                "http://[::1]",
                "http://localhost:",
                "http://localhost/",
            ];
            if !url.starts_with("https://") && !loopback.iter().any(|p| url.starts_with(p)) {
                return Err(ConfigError(
                    "auth.jwks_url must be https (http only on a loopback host)".into(),
                ));
            }
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
        }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            backend: "fs".into(),
            root: None,
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

    /// Applies `CASEFILE_*` overrides read through `var`.
    ///
    /// # Errors
    /// [`ConfigError`] naming a malformed variable.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let parse = |name: &str, value: String| -> Result<u64, ConfigError> {
            value
                .parse()
                .map_err(|_| ConfigError(format!("{name} must be a number")))
        };
        if let Some(v) = var("CASEFILE_DATA_DIR") {
            self.data_dir = v.into();
        }
        if let Some(v) = var("CASEFILE_LISTEN") {
            self.listen = v
                .parse()
                .map_err(|_| ConfigError("CASEFILE_LISTEN must be host:port".into()))?;
        }
        if let Some(v) = var("CASEFILE_PUBLIC_URL") {
            self.public_url = Some(v);
        }
        if let Some(v) = var("CASEFILE_STORAGE") {
            self.storage.backend = v;
        }
        if let Some(v) = var("CASEFILE_STORAGE_ROOT") {
            self.storage.root = Some(v.into());
        }
        if let Some(v) = var("CASEFILE_DATABASE_URL") {
            self.database.url = Some(v);
        }
        if let Some(v) = var("CASEFILE_MIGRATE_ON_START") {
            self.database.migrate_on_start = parse_bool("CASEFILE_MIGRATE_ON_START", &v)?;
        }
        if let Some(v) = var("CASEFILE_JWT_SECRET") {
            self.auth.jwt_secret = Some(v);
        }
        if let Some(v) = var("CASEFILE_JWT_ISSUER") {
            self.auth.issuer = Some(v);
        }
        if let Some(v) = var("CASEFILE_JWT_AUDIENCE") {
            self.auth.audience = Some(v);
        }
        if let Some(v) = var("CASEFILE_JWKS_URL") {
            self.auth.jwks_url = Some(v);
        }
        if let Some(v) = var("CASEFILE_JWKS_FILE") {
            self.auth.jwks_file = Some(v.into());
        }
        if let Some(v) = var("CASEFILE_USER_CLAIM") {
            self.auth.user_claim = v;
        }
        if let Some(v) = var("CASEFILE_MAX_TOKEN_LIFETIME_SECS") {
            self.auth.max_token_lifetime_secs = parse("CASEFILE_MAX_TOKEN_LIFETIME_SECS", v)?;
        }
        if let Some(v) = var("CASEFILE_SHUTDOWN_GRACE_SECS") {
            self.server.shutdown_grace_secs = parse("CASEFILE_SHUTDOWN_GRACE_SECS", v)?;
        }
        if let Some(v) = var("CASEFILE_SCRUB_INTERVAL_SECS") {
            self.scrub.interval_secs = parse("CASEFILE_SCRUB_INTERVAL_SECS", v)?;
        }
        if let Some(v) = var("CASEFILE_SCRUB_RATE_BYTES_PER_SEC") {
            self.scrub.rate_bytes_per_sec = parse("CASEFILE_SCRUB_RATE_BYTES_PER_SEC", v)?;
        }
        if let Some(v) = var("CASEFILE_SCRUB_LEASE_SECS") {
            self.scrub.lease_secs = parse("CASEFILE_SCRUB_LEASE_SECS", v)?;
        }
        if let Some(v) = var("CASEFILE_RETENTION_DEFAULT_DAYS") {
            self.retention.default_days = v.parse().map_err(|_| {
                ConfigError("CASEFILE_RETENTION_DEFAULT_DAYS must be a number of days".into())
            })?;
        }
        if let Some(v) = var("CASEFILE_MAX_FILE_SIZE") {
            self.limits.max_file_size = parse("CASEFILE_MAX_FILE_SIZE", v)?;
        }
        if let Some(v) = var("CASEFILE_UPLOAD_URL_EXPIRY_SECS") {
            self.limits.upload_url_expiry_secs = parse("CASEFILE_UPLOAD_URL_EXPIRY_SECS", v)?;
        }
        if let Some(v) = var("CASEFILE_DOWNLOAD_URL_EXPIRY_SECS") {
            self.limits.download_url_expiry_secs = parse("CASEFILE_DOWNLOAD_URL_EXPIRY_SECS", v)?;
        }
        if let Some(v) = var("CASEFILE_BODY_IDLE_TIMEOUT_SECS") {
            self.limits.body_idle_timeout_secs = parse("CASEFILE_BODY_IDLE_TIMEOUT_SECS", v)?;
        }
        if let Some(v) = var("CASEFILE_HEADER_READ_TIMEOUT_SECS") {
            self.limits.header_read_timeout_secs = parse("CASEFILE_HEADER_READ_TIMEOUT_SECS", v)?;
        }
        if let Some(v) = var("CASEFILE_MAX_CONCURRENT_STREAMS") {
            self.limits.max_concurrent_streams = parse("CASEFILE_MAX_CONCURRENT_STREAMS", v)?;
        }
        if let Some(v) = var("CASEFILE_MIN_UPLOAD_BYTES_PER_SEC") {
            self.limits.min_upload_bytes_per_sec = parse("CASEFILE_MIN_UPLOAD_BYTES_PER_SEC", v)?;
        }
        if let Some(v) = var("CASEFILE_MAX_OPEN_UPLOADS_PER_USER") {
            self.limits.max_open_uploads_per_user = parse("CASEFILE_MAX_OPEN_UPLOADS_PER_USER", v)?;
        }
        if let Some(v) = var("CASEFILE_MAX_OPEN_UPLOADS_PER_CASE") {
            self.limits.max_open_uploads_per_case = parse("CASEFILE_MAX_OPEN_UPLOADS_PER_CASE", v)?;
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
            !shown.contains("hunter2") && !shown.contains(&"x".repeat(40)),
            "{shown}"
        );
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
        assert!(Config::default().auth.oidc().is_none());
    }
}
