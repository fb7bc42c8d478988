//! `casefile`: serve the legal file API, mint tokens, show the configuration, migrate, purge.

use std::path::PathBuf;
use std::process::ExitCode;

use casefile_app::config::Config;
use casefile_app::{jwt_secret, tokens, wiring};
use casefile_domain::legal::UserId;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "casefile",
    version,
    about = "casefile: legal case files with verified integrity"
)]
struct Cli {
    /// A TOML configuration file (CASEFILE_* variables override it).
    #[arg(long, env = "CASEFILE_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve,
    /// Mint a bearer token for a user.
    Token {
        /// The user's UUID (a new one when omitted).
        #[arg(long)]
        user: Option<uuid::Uuid>,
        /// Lifetime in seconds (at most `auth.max_token_lifetime_secs`, default 24 h).
        #[arg(long, default_value_t = 3600, allow_negative_numbers = true)]
        ttl: i64,
    },
    /// Print the effective configuration, secrets redacted.
    Config,
    /// Apply pending database migrations.
    Migrate,
    /// The audit log: check that its entries and its Merkle tree agree.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Legal holds: compare the store's own locks with the registry.
    Holds {
        #[command(subcommand)]
        command: HoldsCommand,
    },
    /// Remove the objects of deleted and failed files still in storage.
    Purge {
        /// At most this many.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the audit log from its entries and check it against the stored tree and every
    /// signed checkpoint (kept in the database and anchored in the store): names the first entry
    /// that was changed, removed, inserted or moved, a forged checkpoint, or a database rolled
    /// back. Exit code 1 when it finds one.
    Verify {
        /// The log's verifier key (default: the key of this configuration).
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Print the verifier key of the log's checkpoints, to publish.
    PublicKey,
    /// Check one entry exported from `GET /v1/audit/entries/{index}/proof` offline, with the
    /// verifier key only. Exit code 1 when it does not verify, 2 for a malformed file or key.
    VerifyEntry {
        /// The exported proof (JSON).
        file: PathBuf,
        /// The log's verifier key (default: the key of this configuration).
        #[arg(long)]
        public_key: Option<String>,
    },
}

#[derive(Subcommand)]
enum HoldsCommand {
    /// Compare the store's own legal hold of every file that may carry one (S3 Object Lock) with
    /// the registry; with `--fix`, set the drifted ones right. Exit code 1 when drift remains.
    Reconcile {
        /// Set drifted locks right (and apply the case's retention again).
        #[arg(long)]
        fix: bool,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("casefile: {e}");
            if e.downcast_ref::<Malformed>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Input that is not what it should be (exit code 2, not 1).
#[derive(Debug)]
struct Malformed(String);

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Malformed {}

fn malformed(why: String) -> wiring::WireError {
    Box::new(Malformed(why))
}

async fn run(cli: Cli) -> Result<(), wiring::WireError> {
    let mut config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Config => {
            print!("{}", config.redacted_toml());
        }
        Command::Token { user, ttl } => {
            if config.auth.oidc().is_some() {
                return Err(casefile_app::config::ConfigError(
                    "auth.jwks_url/jwks_file is set: tokens come from the identity provider, and \
                     tokens of the local secret are refused"
                        .into(),
                )
                .into());
            }
            let (secret, _) = jwt_secret(&config)?;
            let user = user.map(UserId).unwrap_or_default();
            let token = tokens(&config, &secret).mint(user, ttl)?;
            eprintln!("user {user}");
            println!("{token}");
        }
        Command::Migrate => {
            config.database.migrate_on_start = true;
            wiring::wire(&config).await?;
            println!(
                "migrations applied to {}",
                casefile_persistence::redact_url(&config.database_url())
            );
        }
        Command::Audit {
            command: AuditCommand::VerifyEntry { file, public_key },
        } => {
            let key = match public_key {
                Some(key) => key,
                None => casefile_app::checkpoint_signer(&config)?.verifier_key(),
            };
            let text = std::fs::read_to_string(&file)
                .map_err(|e| malformed(format!("{}: {e}", file.display())))?;
            let exported: casefile_app::api::InclusionProofView = serde_json::from_str(&text)
                .map_err(|e| {
                    malformed(format!(
                        "{}: not a proof from GET /v1/audit/entries/{{index}}/proof: {e}",
                        file.display()
                    ))
                })?;
            match casefile_app::verify_exported_entry(&exported, &key) {
                Ok(index) => println!("entry {index} is in the log the checkpoint signs"),
                Err(casefile_app::EntryCheck::Malformed(why)) => return Err(malformed(why)),
                Err(casefile_app::EntryCheck::Fails(why)) => {
                    println!("does not verify: {why}");
                    return Err(why.into());
                }
            }
        }
        Command::Audit {
            command: AuditCommand::PublicKey,
        } => {
            println!(
                "{}",
                casefile_app::checkpoint_signer(&config)?.verifier_key()
            );
        }
        Command::Audit {
            command: AuditCommand::Verify { public_key },
        } => {
            let key = match public_key {
                Some(key) => key,
                None => casefile_app::checkpoint_signer(&config)?.verifier_key(),
            };
            if !casefile_domain::legal::audit_log::is_verifier_key(&key) {
                return Err(malformed(format!("the verifier key {key:?} is malformed")));
            }
            let wired = wiring::wire(&config).await?;
            let checks = casefile_domain::legal::audit_log::CheckpointChecks {
                storage: wired.storage.as_ref(),
                verifier_key: &key,
            };
            let report =
                casefile_domain::legal::audit_log::verify(wired.repository.as_ref(), Some(checks))
                    .await?;
            let hex: String = report.root.iter().map(|b| format!("{b:02x}")).collect();
            println!(
                "entries {}, in the tree {}, root {hex}, checkpoints {}",
                report.entries, report.tree_size, report.checkpoints
            );
            if let Some((index, what)) = report.problem {
                println!("tampered: index {index}: {what}");
                return Err(format!("the audit log does not verify at index {index}").into());
            }
            println!("the audit log verifies");
        }
        Command::Holds {
            command: HoldsCommand::Reconcile { fix },
        } => {
            let wired = wiring::wire(&config).await?;
            if !wired.storage.capabilities().legal_hold {
                println!(
                    "the {} store has no legal hold of its own: the registry is the only lock, nothing to reconcile",
                    wired.storage.backend_name()
                );
                return Ok(());
            }
            let report = wired.service.reconcile_holds(fix).await?;
            for file in &report.drifted {
                println!("drift: file {file}");
            }
            for file in &report.failed {
                println!("failed: file {file}");
            }
            println!(
                "checked {}, drifted {}, fixed {}, failed {}",
                report.checked,
                report.drifted.len(),
                report.fixed,
                report.failed.len()
            );
            if report.drifted.len() > report.fixed || !report.failed.is_empty() {
                return Err("the store's locks do not match the registry".into());
            }
        }
        Command::Purge { limit } => {
            let wired = wiring::wire(&config).await?;
            let report = wired.service.purge(limit).await?;
            println!("purged {}, failed {}", report.purged, report.failed);
        }
        Command::Serve => {
            let (_, generated) = jwt_secret(&config)?;
            let (server, description) = casefile_app::start(&config).await?;
            println!(
                "casefile listening on http://{} ({description})",
                server.addr
            );
            if generated {
                println!(
                    "no JWT secret configured: using the one generated in {}; mint a token with\n  \
                     cargo run -p casefile-app -- token --user <uuid>",
                    config.data_dir.join("jwt.secret").display()
                );
            }
            tokio::signal::ctrl_c().await?;
            println!("shutting down");
            server.stop().await?;
        }
    }
    Ok(())
}
