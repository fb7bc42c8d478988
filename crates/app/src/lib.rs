//! # casefile-app
//!
//! Wires the adapters chosen by cargo features (`fs`, `sqlite` by default; `s3`, `azure`, `gcs`,
//! `postgres`) into the legal file service, and serves it: the `casefile` binary (HTTP API v1 +
//! CLI). Configuration: [`config::Config`].

#[cfg(not(any(feature = "fs", feature = "s3", feature = "azure", feature = "gcs")))]
compile_error!(
    "casefile-app needs a storage backend: enable one of the features fs, s3, azure, gcs"
);
#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
compile_error!("casefile-app needs a database: enable the feature sqlite or postgres");

pub use casefile_api as api;
pub mod auth;
#[cfg(feature = "fs")]
mod blobs;
pub mod cli;
pub mod config;
pub mod export;
pub mod http;
pub mod limits;
pub mod metered;
pub mod observe;
pub mod oidc;
pub mod progress;
pub mod remote;
pub mod secrets;
mod serve;
pub mod web;
pub mod wiring;

use std::net::SocketAddr;

use crate::auth::{Authenticator, Tokens};
use crate::config::Config;
use crate::http::AppState;

/// The JWT secret in force: configured, else the one generated into the data directory (made on
/// first use). Returns it and whether it was generated here.
///
/// # Errors
/// When the data directory cannot be written, or the secret file there is readable by others or
/// not a secret (see [`secrets::load_or_create`]).
pub fn jwt_secret(config: &Config) -> std::io::Result<(Vec<u8>, bool)> {
    if let Some(secret) = &config.auth.jwt_secret {
        return Ok((secret.clone().into_bytes(), false));
    }
    let path = config.data_dir.join("jwt.secret");
    let (secret, _) = secrets::load_or_create(&path)?;
    Ok((secret.into_bytes(), true))
}

/// The tokens of this configuration: signed with `secret`, accepted with it or any of
/// `auth.previous_jwt_secrets`, under `auth`'s issuer, audience and lifetime policy.
pub fn tokens(config: &Config, secret: &[u8]) -> Tokens {
    let previous: Vec<&[u8]> = config
        .auth
        .previous_jwt_secrets
        .iter()
        .map(|s| s.as_bytes())
        .collect();
    Tokens::with_policy(secret, &previous, config.auth.policy())
}

/// The signer of the audit log's checkpoints: `audit.signing_key`, else the key generated into
/// `<data_dir>/audit-signing.secret` (made on first use, private, never regenerated).
///
/// # Errors
/// A malformed key or origin, or a secret file that cannot be made or read.
pub fn checkpoint_signer(
    config: &Config,
) -> Result<casefile_domain::legal::audit_log::CheckpointSigner, wiring::WireError> {
    let hex_seed = match &config.audit.signing_key {
        Some(key) => key.clone(),
        None => secrets::load_or_create(&config.data_dir.join("audit-signing.secret"))?.0,
    };
    let bytes = hex::decode(hex_seed.trim())
        .map_err(|_| config::ConfigError("audit.signing_key must be hex".into()))?;
    let seed: [u8; 32] = bytes
        .get(..32)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| config::ConfigError("audit.signing_key must hold 32 bytes".into()))?;
    Ok(
        casefile_domain::legal::audit_log::CheckpointSigner::from_seed(&config.audit.origin, seed)
            .map_err(|e| config::ConfigError(format!("audit.origin: {e}")))?,
    )
}

/// Why an exported proof does not verify.
#[derive(Debug)]
pub enum EntryCheck {
    /// The file or the key is not what it should be (exit code 2).
    Malformed(String),
    /// It is well formed and does not verify (exit code 1).
    Fails(String),
}

/// Checks an entry exported from `GET /v1/audit/entries/{index}/proof` offline, with the log's
/// verifier key only: the checkpoint's signature, that the entry hashes to the leaf, and that
/// the audit path leads from the leaf to the signed root. Returns the entry's log index.
///
/// # Errors
/// [`EntryCheck`].
pub fn verify_exported_entry(
    exported: &api::InclusionProofView,
    verifier_key: &str,
) -> Result<u64, EntryCheck> {
    use casefile_domain::legal::audit_log;
    use casefile_domain::legal::{
        AuditAction, AuditEntry, AuditId, AuditOutcome, CaseId, FileId, UserId,
    };
    let malformed = |why: &str| EntryCheck::Malformed(why.to_owned());
    if !audit_log::is_verifier_key(verifier_key) {
        return Err(malformed("the verifier key is malformed"));
    }
    let unhex = |s: &str| -> Result<[u8; 32], EntryCheck> {
        hex::decode(s)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
            .ok_or_else(|| malformed("a hash is not 64 hex digits"))
    };
    let note = exported.checkpoint.as_deref().ok_or_else(|| {
        malformed("the proof carries no checkpoint (export it without tree_size)")
    })?;
    let signed = audit_log::open_checkpoint(note, verifier_key).map_err(EntryCheck::Fails)?;
    let e = &exported.entry;
    let index = e
        .log_index
        .ok_or_else(|| malformed("the entry has no log index"))?;
    let entry = AuditEntry {
        id: AuditId(e.id),
        at: e.at,
        actor: e.actor.map(UserId),
        case_id: e.case_id.map(CaseId),
        file_id: e.file_id.map(FileId),
        action: AuditAction::parse(&e.action).ok_or_else(|| malformed("an unknown action"))?,
        outcome: AuditOutcome::parse(&e.outcome).ok_or_else(|| malformed("an unknown outcome"))?,
        details: e.details.clone(),
        log_index: Some(index),
    };
    let path = exported
        .proof
        .iter()
        .map(|h| unhex(h))
        .collect::<Result<Vec<_>, _>>()?;
    if exported.tree_size != signed.size || unhex(&exported.root)? != signed.root {
        return Err(EntryCheck::Fails(
            "the proof is against another tree than the checkpoint signs".into(),
        ));
    }
    let leaf = audit_log::leaf_hash(&entry);
    if leaf != unhex(&exported.leaf_hash)? {
        return Err(EntryCheck::Fails(format!(
            "entry {index} does not hash to its leaf: it was edited"
        )));
    }
    if !audit_log::check_inclusion(&path, signed.size, signed.root, index, leaf) {
        return Err(EntryCheck::Fails(format!(
            "the audit path does not lead from entry {index} to the signed root"
        )));
    }
    Ok(index)
}

/// How this configuration authenticates requests: the identity provider's keys when
/// `auth.jwks_url` or `auth.jwks_file` is set, else the local secret's tokens.
///
/// # Errors
/// When the local secret cannot be had (see [`jwt_secret`]), or the HTTP client for the JWKS
/// cannot be built.
pub fn authenticator(config: &Config) -> Result<Authenticator, wiring::WireError> {
    if let Some(settings) = config.auth.oidc() {
        let oidc =
            oidc::Oidc::new(settings).map_err(|e| config::ConfigError(format!("auth: {e}")))?;
        return Ok(Authenticator::Oidc(std::sync::Arc::new(oidc)));
    }
    let (secret, _) = jwt_secret(config)?;
    Ok(Authenticator::Local(tokens(config, &secret)))
}

/// A running server: its address, and the handle to stop it.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Where `/metrics` is served, when `metrics.listen` is set.
    pub metrics_addr: Option<SocketAddr>,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    jobs: Vec<tokio::task::JoinHandle<()>>,
}

impl Server {
    /// Stops accepting, finishes the requests in flight, and waits.
    ///
    /// # Errors
    /// The server's I/O error.
    pub async fn stop(self) -> std::io::Result<()> {
        for job in &self.jobs {
            job.abort();
        }
        let _ = self.shutdown.send(());
        self.task.await.unwrap_or(Ok(()))
    }
}

/// Several instances share a PostgreSQL database: a secret generated into one instance's data
/// directory would be unknown to the others (its tokens refused there, its checkpoints signed
/// with another key). With PostgreSQL, the shared secrets must be configured.
///
/// # Errors
/// [`config::ConfigError`] naming the variable to set.
pub fn check_shared_secrets(config: &Config) -> Result<(), config::ConfigError> {
    let url = config.database_url();
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Ok(());
    }
    let mut missing = Vec::new();
    if config.auth.oidc().is_none() && config.auth.jwt_secret.is_none() {
        missing.push("CASEFILE_JWT_SECRET (auth.jwt_secret, at least 32 bytes)");
    }
    if config.audit.signing_key.is_none() {
        missing.push(
            "CASEFILE_AUDIT_SIGNING_KEY (audit.signing_key, 64 hex digits: `openssl rand -hex 32`)",
        );
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(config::ConfigError(format!(
        "with PostgreSQL, instances share the database and must share their secrets: set {}",
        missing.join(" and ")
    )))
}

/// Wires everything from `config` and serves on `config.listen` (port 0: any free port).
///
/// # Errors
/// Wiring and binding errors.
pub async fn start(config: &Config) -> Result<(Server, String), wiring::WireError> {
    check_shared_secrets(config)?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let mut config = config.clone();
    config.listen = listener.local_addr()?;
    let wired = wiring::wire(&config).await?;
    serve(listener, &config, wired).await
}

/// Serves with a store built by the caller (any backend) and the database of `config`: for
/// embedding, and for end-to-end tests against emulators.
///
/// # Errors
/// Wiring and binding errors.
pub async fn start_with_storage(
    config: &Config,
    storage: std::sync::Arc<dyn casefile_domain::storage::ObjectStorage>,
) -> Result<(Server, String), wiring::WireError> {
    check_shared_secrets(config)?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let mut config = config.clone();
    config.listen = listener.local_addr()?;
    let wired = wiring::wire_with_storage(&config, storage, None).await?;
    serve(listener, &config, wired).await
}

/// Runs `job` every `every` (the first run after one interval) on the instance that leads, and
/// counts each run in `casefile_jobs_total`.
fn schedule<F, Fut>(
    name: &'static str,
    every: std::time::Duration,
    leadership: wiring::Leadership,
    job: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let outcome = if !leadership.is_leader().await {
                "skipped"
            } else if job().await {
                "ok"
            } else {
                "failed"
            };
            metrics::counter!("casefile_jobs_total", "job" => name, "outcome" => outcome)
                .increment(1);
        }
    })
}

fn secs(n: u64) -> std::time::Duration {
    std::time::Duration::from_secs(n.max(1))
}

async fn serve(
    listener: tokio::net::TcpListener,
    config: &Config,
    wired: wiring::Wired,
) -> Result<(Server, String), wiring::WireError> {
    let addr = listener.local_addr()?;
    let signer = std::sync::Arc::new(checkpoint_signer(config)?);
    let leadership = wired.leadership.clone();
    let mut jobs = Vec::new();
    // A signed checkpoint of the audit log every interval, when the log has grown.
    jobs.push({
        let (service, signer) = (wired.service.clone(), signer.clone());
        schedule(
            "checkpoint",
            secs(config.audit.checkpoint_interval_secs),
            leadership.clone(),
            move || {
                let (service, signer) = (service.clone(), signer.clone());
                async move {
                    match service.make_checkpoint(&signer).await {
                        Ok(_) => true,
                        Err(e) => {
                            tracing::warn!(error = %e, "audit checkpoint failed; tried again next time");
                            false
                        }
                    }
                }
            },
        )
    });
    // Where the store keeps its own locks, projections that failed (a cloud that was down when a
    // hold was placed or released) are retried by a periodic reconciliation.
    if wired.storage.capabilities().legal_hold {
        let service = wired.service.clone();
        jobs.push(schedule(
            "hold_reconciliation",
            secs(config.retention.reconcile_interval_secs),
            leadership.clone(),
            move || {
                let service = service.clone();
                async move {
                    match service.reconcile_holds(true).await {
                        Ok(r) if !r.drifted.is_empty() || !r.failed.is_empty() => {
                            tracing::warn!(
                                checked = r.checked,
                                drifted = r.drifted.len(),
                                fixed = r.fixed,
                                failed = r.failed.len(),
                                "legal hold reconciliation"
                            );
                            r.failed.is_empty()
                        }
                        Ok(_) => true,
                        Err(e) => {
                            tracing::warn!(error = %e, "legal hold reconciliation failed");
                            false
                        }
                    }
                }
            },
        ));
    }
    if config.purge.interval_secs > 0 {
        let service = wired.service.clone();
        let batch = config.purge.batch.max(1);
        jobs.push(schedule(
            "purge",
            secs(config.purge.interval_secs),
            leadership.clone(),
            move || {
                let service = service.clone();
                async move {
                    match service.purge(batch).await {
                        Ok(r) => {
                            for (what, n) in [
                                ("purged", r.purged),
                                ("failed", r.failed),
                                ("expired", r.expired),
                                ("staging_swept", r.staging_swept),
                            ] {
                                metrics::counter!("casefile_purge_total", "result" => what)
                                    .increment(n as u64);
                            }
                            if r.purged + r.failed + r.expired + r.staging_swept > 0 {
                                tracing::info!(
                                    purged = r.purged,
                                    failed = r.failed,
                                    expired = r.expired,
                                    staging_swept = r.staging_swept,
                                    "purge"
                                );
                            }
                            r.failed == 0
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "purge failed; tried again next time");
                            false
                        }
                    }
                }
            },
        ));
    }
    if config.scrub.interval_secs > 0 {
        let service = wired.service.clone();
        let scrub = config.scrub.clone();
        let older_than = scrub.older_than_secs.unwrap_or(scrub.interval_secs);
        let options = casefile_domain::legal::fixity::ScrubOptions {
            case_id: None,
            rate_bytes_per_sec: (scrub.rate_bytes_per_sec > 0).then_some(scrub.rate_bytes_per_sec),
            jobs: scrub.jobs.max(1),
            older_than: chrono::Duration::try_seconds(
                i64::try_from(older_than).unwrap_or(i64::MAX),
            ),
            lease: chrono::Duration::try_seconds(
                i64::try_from(scrub.lease_secs).unwrap_or(i64::MAX),
            ),
        };
        jobs.push(schedule(
            "scrub",
            secs(scrub.interval_secs),
            leadership.clone(),
            move || {
                let (service, options) = (service.clone(), options.clone());
                async move { scheduled_scrub(&service, options).await }
            },
        ));
    }
    let metrics_addr = match config.metrics.listen {
        Some(listen) => {
            let handle = observe::install_metrics().map_err(config::ConfigError)?;
            let listener = tokio::net::TcpListener::bind(listen).await?;
            let metrics_addr = listener.local_addr()?;
            let (repository, pool_status) = (wired.repository.clone(), wired.pool_status.clone());
            let app = axum::Router::new().route(
                "/metrics",
                axum::routing::get(move || {
                    let (handle, repository, pool_status) =
                        (handle.clone(), repository.clone(), pool_status.clone());
                    async move { render_metrics(&handle, repository.as_ref(), &*pool_status).await }
                }),
            );
            jobs.push(tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, app).await {
                    tracing::error!(error = %e, "the metrics endpoint stopped");
                }
            }));
            Some(metrics_addr)
        }
        None => None,
    };
    let state = AppState {
        service: wired.service,
        storage: wired.storage,
        repository: wired.repository,
        local: wired.local,
        auth: authenticator(config)?,
        checkpoints: signer,
        profiles: http::Profiles::default(),
        public_url: config.public_url(),
        body_idle_timeout: std::time::Duration::from_secs(config.limits.body_idle_timeout_secs),
        streams: limits::StreamSlots::new(
            usize::try_from(config.limits.max_concurrent_streams).unwrap_or(usize::MAX >> 4),
        ),
        upload_rate: limits::MinUploadRate {
            bytes_per_sec: config.limits.min_upload_bytes_per_sec,
            window: std::time::Duration::from_secs(config.limits.upload_rate_window_secs),
        },
        cors_allowed_origins: config.server.cors_allowed_origins.clone(),
        web_sign_in: web::WebSignIn::from_config(&config.auth),
    };
    let connection_limits = serve::ConnectionLimits {
        header_read_timeout: std::time::Duration::from_secs(config.limits.header_read_timeout_secs),
        grace: std::time::Duration::from_secs(config.server.shutdown_grace_secs),
    };
    let app = http::router(state);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        serve::serve(listener, app, connection_limits, async {
            let _ = rx.await;
        })
        .await
    });
    Ok((
        Server {
            addr,
            metrics_addr,
            shutdown: tx,
            task,
            jobs,
        },
        wired.description,
    ))
}

/// One scheduled scrub: logs and counts what it found; whether it ran clean.
async fn scheduled_scrub(
    service: &casefile_domain::legal::LegalFileService,
    options: casefile_domain::legal::fixity::ScrubOptions,
) -> bool {
    match service.scrub(options, &|_| {}).await {
        Ok(r) if r.busy => {
            tracing::debug!(run = %r.run, "scrub runs on another instance");
            true
        }
        Ok(r) => {
            for (outcome, n) in [
                ("ok", r.checked.saturating_sub(r.failed)),
                ("failed", r.failed),
                ("unreadable", r.errors),
            ] {
                metrics::counter!("casefile_scrub_files_total", "outcome" => outcome).increment(n);
            }
            metrics::counter!("casefile_scrub_bytes_total").increment(r.bytes);
            if r.clean() {
                tracing::info!(run = %r.run, checked = r.checked, bytes = r.bytes, "fixity scrub");
                true
            } else {
                tracing::error!(
                    run = %r.run,
                    checked = r.checked,
                    failed = r.failed,
                    unreadable = r.errors,
                    files = ?r.failures.iter().map(|f| f.file_id.to_string()).collect::<Vec<_>>(),
                    "fixity scrub found files that do not match their records"
                );
                false
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "fixity scrub failed; tried again next time");
            false
        }
    }
}

/// The Prometheus text, with the gauges read now: uploads pending (from the database, for every
/// instance) and this instance's pool.
async fn render_metrics(
    handle: &metrics_exporter_prometheus::PrometheusHandle,
    repository: &dyn casefile_domain::legal::CaseRepository,
    pool_status: &(dyn Fn() -> casefile_persistence::PoolStatus + Send + Sync),
) -> String {
    #[allow(clippy::cast_precision_loss)]
    {
        if let Ok(Ok(pending)) = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            repository.pending_uploads(),
        )
        .await
        {
            metrics::gauge!("casefile_uploads_pending").set(pending as f64);
        }
        let pool = pool_status();
        metrics::gauge!("casefile_db_pool_connections", "state" => "in_use")
            .set(pool.in_use as f64);
        metrics::gauge!("casefile_db_pool_connections", "state" => "idle").set(pool.idle as f64);
        metrics::gauge!("casefile_db_pool_connections", "state" => "max").set(pool.max as f64);
        metrics::gauge!("casefile_db_pool_waiting").set(pool.waiting as f64);
    }
    handle.render()
}
