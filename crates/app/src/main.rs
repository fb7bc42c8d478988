//! `casefile`: serve the legal file API, mint tokens, show the configuration, migrate, purge.

use std::path::PathBuf;
use std::process::ExitCode;

use casefile_app::config::Config;
use casefile_app::{cli, jwt_secret, tokens, wiring};
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
    /// Print the effective configuration, secrets redacted; with `--check`, validate it without
    /// starting (exit code 1 naming the bad setting).
    Config {
        /// Validate only: the file, the variables, and what can be checked without reaching
        /// the database or the store.
        #[arg(long)]
        check: bool,
    },
    /// Apply pending database migrations.
    Migrate,
    /// The audit log: `casefile audit CASE` shows a case's trail from the server signed in
    /// to; `audit verify` and the others check the log of this configuration's database.
    Audit(AuditArgs),
    /// Sign in to a casefile server: checks the token, then keeps the server and the token in
    /// `$XDG_CONFIG_HOME/casefile/client.toml` (mode 0600). `CASEFILE_SERVER` and
    /// `CASEFILE_TOKEN` override what is kept.
    Login {
        /// The server's URL.
        #[arg(long)]
        server: String,
        /// The bearer token (else `CASEFILE_TOKEN`, else read from standard input).
        #[arg(long)]
        token: Option<String>,
    },
    /// The cases of the server signed in to.
    Cases {
        #[command(subcommand)]
        command: Option<CasesCommand>,
        /// JSON lines.
        #[arg(long, global = true)]
        json: bool,
    },
    /// The files of a case on the server signed in to: `CASE` or `CASE/PREFIX`.
    Ls {
        /// `CASE[/PREFIX]`.
        target: String,
        /// JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Delete a file on the server signed in to.
    Rm {
        /// The file's id.
        file_id: uuid::Uuid,
    },
    /// Upload files and folders into a case on the server signed in to: each file hashed here,
    /// then sent where the server says and verified. A file already in the case with the same
    /// path and SHA-256 is skipped, so a re-run after an interruption sends only the rest.
    /// Exit code 1 when any file failed (each is named), 2 when the server cannot be reached.
    Upload {
        /// The case's id.
        case_id: uuid::Uuid,
        /// Files and folders (a folder's files keep their paths relative to it).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Under this folder of the case.
        #[arg(long = "to", default_value = "")]
        prefix: String,
        /// Files in flight at once.
        #[arg(long, default_value_t = 4)]
        jobs: usize,
        /// JSON lines on standard output instead of progress and lines.
        #[arg(long)]
        json: bool,
    },
    /// Download a file, or a case's files (`CASE[/PREFIX]`), from the server signed in to:
    /// streamed to a temporary name, SHA-256 checked, then renamed; an interrupted download
    /// resumes.
    Download {
        /// `FILE_ID` or `CASE[/PREFIX]`.
        target: String,
        /// Into this folder.
        #[arg(long)]
        out: PathBuf,
        /// Files in flight at once.
        #[arg(long, default_value_t = 4)]
        jobs: usize,
        /// JSON lines on standard output.
        #[arg(long)]
        json: bool,
    },
    /// Legal holds: compare the store's own locks with the registry.
    Holds {
        #[command(subcommand)]
        command: HoldsCommand,
    },
    /// Re-read every completed file and compare its size and SHA-256 with the record; names and
    /// audits every file that differs or is missing. Exit code 1 when any did. Resumes a scrub
    /// that was interrupted.
    Scrub {
        /// Only this case.
        #[arg(long = "case")]
        case_id: Option<uuid::Uuid>,
        /// Read at most this many MiB per second (all jobs together).
        #[arg(long)]
        rate: Option<f64>,
        /// Files read at once.
        #[arg(long, default_value_t = 4)]
        jobs: usize,
        /// Only files not verified within this long (e.g. 30d, 12h, 90m, 45s).
        #[arg(long, value_parser = parse_age)]
        older_than: Option<chrono::Duration>,
        /// A JSON report on standard output instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Compare the store with the records: objects without a record, completed files whose
    /// object is missing, garbage, expired pending uploads. Exit code 1 when they disagree.
    Reconcile {
        /// Remove what is provably garbage (never an unrecorded object, never a completed
        /// file's object).
        #[arg(long)]
        fix: bool,
        /// A JSON report on standard output instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Export a case as a production set (natives, DAT and CSV load files, manifest, audit
    /// trail with proofs), or verify one offline.
    Export(ExportArgs),
    /// Remove the objects of deleted and failed files still in storage.
    Purge {
        /// At most this many.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
}

#[derive(Subcommand)]
enum CasesCommand {
    /// List them (the default).
    List,
    /// Create one; prints it.
    Create {
        /// Its title.
        title: String,
    },
    /// One case, with its statistics.
    Show {
        /// Its id.
        case_id: uuid::Uuid,
    },
}

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
struct AuditArgs {
    #[command(subcommand)]
    command: Option<AuditCommand>,
    /// A case on the server signed in to: its audit trail, oldest first.
    case_id: Option<uuid::Uuid>,
    /// At most this many entries.
    #[arg(long, default_value_t = 1000)]
    limit: usize,
    /// JSON lines.
    #[arg(long)]
    json: bool,
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

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
struct ExportArgs {
    #[command(subcommand)]
    command: Option<ExportCommand>,
    /// The case to export.
    #[arg(long = "case")]
    case_id: Option<uuid::Uuid>,
    /// Into this folder (new, or empty, or left by an interrupted export).
    #[arg(long, conflicts_with = "zip")]
    out: Option<PathBuf>,
    /// Into this ZIP file.
    #[arg(long)]
    zip: Option<PathBuf>,
}

#[derive(Subcommand)]
enum ExportCommand {
    /// Check an export offline: every native against the manifest, the load files, and the
    /// audit checkpoint and proofs. Exit code 1 when anything differs, 2 when it cannot be read.
    Verify {
        /// The export: a folder or a ZIP.
        path: PathBuf,
        /// The audit log's verifier key (default: the one the export names).
        #[arg(long)]
        public_key: Option<String>,
        /// A JSON report on standard output.
        #[arg(long)]
        json: bool,
    },
}

/// `30d`, `12h`, `90m`, `45s`.
fn parse_age(s: &str) -> Result<chrono::Duration, String> {
    let (n, unit) = s.split_at(s.len().saturating_sub(1));
    let n: i64 = n
        .parse()
        .map_err(|_| format!("{s:?}: a number and a unit (d, h, m, s), e.g. 30d"))?;
    let d = match unit {
        "d" => chrono::Duration::try_days(n),
        "h" => chrono::Duration::try_hours(n),
        "m" => chrono::Duration::try_minutes(n),
        "s" => chrono::Duration::try_seconds(n),
        _ => None,
    };
    d.filter(|d| *d >= chrono::Duration::zero())
        .ok_or_else(|| format!("{s:?}: a number and a unit (d, h, m, s), e.g. 30d"))
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
    let cli = Cli::parse();
    // The client commands talk to a server: no configuration of this machine's own.
    if let Some(remote) = remote_command(&cli.command) {
        return match remote.await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("casefile: {e}");
                ExitCode::from(e.exit_code())
            }
        };
    }
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("casefile: {e}");
            return ExitCode::FAILURE;
        }
    };
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log.format {
        casefile_app::config::LogFormat::Text => logs.init(),
        casefile_app::config::LogFormat::Json => logs.json().flatten_event(true).init(),
    }
    match run(cli, config).await {
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

/// The command as a client of a server, when it is one.
fn remote_command(
    command: &Command,
) -> Option<futures::future::BoxFuture<'_, Result<(), casefile_app::remote::RemoteError>>> {
    use casefile_app::remote;
    use futures::FutureExt;
    let future = match command {
        Command::Login { server, token } => remote::login(server, token.clone()).boxed(),
        Command::Cases { command, json } => async move {
            let client = remote::client()?;
            match command {
                None | Some(CasesCommand::List) => remote::cases_list(&client, *json).await,
                Some(CasesCommand::Create { title }) => {
                    remote::print_case(&client.create_case(title).await?, *json);
                    Ok(())
                }
                Some(CasesCommand::Show { case_id }) => {
                    remote::print_case(&client.case(*case_id).await?, *json);
                    Ok(())
                }
            }
        }
        .boxed(),
        Command::Ls { target, json } => {
            async move { remote::ls(&remote::client()?, target, *json).await }.boxed()
        }
        Command::Rm { file_id } => async move {
            remote::client()?.delete_file(*file_id).await?;
            println!("deleted {file_id}");
            Ok(())
        }
        .boxed(),
        Command::Audit(AuditArgs {
            command: None,
            case_id: Some(case),
            limit,
            json,
        }) => async move { remote::audit(&remote::client()?, *case, *limit, *json).await }.boxed(),
        Command::Upload {
            case_id,
            paths,
            prefix,
            jobs,
            json,
        } => async move {
            remote::upload(&remote::client()?, *case_id, paths, prefix, *jobs, *json).await
        }
        .boxed(),
        Command::Download {
            target,
            out,
            jobs,
            json,
        } => async move { remote::download(&remote::client()?, target, out, *jobs, *json).await }
            .boxed(),
        _ => return None,
    };
    Some(future)
}

/// Waits for SIGTERM (a service manager, an orchestrator's rolling restart) or SIGINT (Ctrl-C):
/// which one came.
async fn shutdown_signal() -> std::io::Result<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        tokio::select! {
            _ = term.recv() => Ok("SIGTERM"),
            _ = int.recv() => Ok("SIGINT"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await?;
        Ok("Ctrl-C")
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

async fn run(cli: Cli, mut config: Config) -> Result<(), wiring::WireError> {
    match cli.command {
        Command::Config { check: false } => {
            print!("{}", config.redacted_toml());
        }
        Command::Config { check: true } => {
            casefile_app::check_shared_secrets(&config)?;
            println!("the configuration is valid");
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
        Command::Audit(AuditArgs {
            command: Some(AuditCommand::VerifyEntry { file, public_key }),
            ..
        }) => {
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
        Command::Audit(AuditArgs {
            command: Some(AuditCommand::PublicKey),
            ..
        }) => {
            println!(
                "{}",
                casefile_app::checkpoint_signer(&config)?.verifier_key()
            );
        }
        Command::Audit(AuditArgs {
            command: Some(AuditCommand::Verify { public_key }),
            ..
        }) => {
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
        Command::Scrub {
            case_id,
            rate,
            jobs,
            older_than,
            json,
        } => {
            let wired = wiring::wire(&config).await?;
            let rate = match rate {
                Some(r) if r.is_finite() && r > 0.0 =>
                {
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    Some((r * 1024.0 * 1024.0) as u64)
                }
                Some(r) => return Err(malformed(format!("--rate {r}: must be above 0"))),
                None => None,
            };
            let report = cli::scrub(
                &wired.service,
                casefile_domain::legal::fixity::ScrubOptions {
                    case_id: case_id.map(casefile_domain::legal::CaseId),
                    rate_bytes_per_sec: rate,
                    jobs: jobs.max(1),
                    older_than,
                    lease: None,
                },
                json,
            )
            .await?;
            if !report.clean() {
                return Err(format!(
                    "{} files failed verification, {} could not be read",
                    report.failures.len() as u64 - report.errors,
                    report.errors
                )
                .into());
            }
        }
        Command::Reconcile { fix, json } => {
            let wired = wiring::wire(&config).await?;
            let report = wired.service.reconcile_storage(fix).await?;
            cli::print_reconcile(&report, json)?;
            if !report.consistent(fix) {
                return Err("the store and the records disagree".into());
            }
        }
        Command::Export(ExportArgs {
            command:
                Some(ExportCommand::Verify {
                    path,
                    public_key,
                    json,
                }),
            ..
        }) => {
            let report = cli::verify_export(&path, public_key.as_deref(), json)
                .await
                .map_err(|e| malformed(e.0))?;
            if !report.problems.is_empty() {
                return Err(format!(
                    "the export does not verify: {} problems",
                    report.problems.len()
                )
                .into());
            }
        }
        Command::Export(ExportArgs {
            command: None,
            case_id,
            out,
            zip,
        }) => {
            let case_id = case_id.ok_or_else(|| malformed("--case ID is required".into()))?;
            let target = match (out, zip) {
                (Some(dir), None) => cli::ExportTarget::Dir(dir),
                (None, Some(file)) => cli::ExportTarget::Zip(file),
                _ => return Err(malformed("give --out DIR or --zip FILE".into())),
            };
            let wired = wiring::wire(&config).await?;
            let signer = casefile_app::checkpoint_signer(&config)?;
            cli::export(
                &wired.service,
                &signer,
                casefile_domain::legal::CaseId(case_id),
                target,
            )
            .await?;
        }
        Command::Audit(AuditArgs { command: None, .. }) => {
            return Err(malformed(
                "give a case (`casefile audit CASE`) or a subcommand (verify, public-key, verify-entry)"
                    .into(),
            ));
        }
        Command::Login { .. }
        | Command::Cases { .. }
        | Command::Ls { .. }
        | Command::Rm { .. }
        | Command::Upload { .. }
        | Command::Download { .. } => {
            // Handled by `remote_command` before the configuration is loaded.
            return Err("a client command reached the server's dispatcher".into());
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
            if let Some(metrics) = server.metrics_addr {
                println!("metrics on http://{metrics}/metrics");
            }
            if generated {
                println!(
                    "no JWT secret configured: using the one generated in {}; mint a token with\n  \
                     cargo run -p casefile-app -- token --user <uuid>",
                    config.data_dir.join("jwt.secret").display()
                );
            }
            let signal = shutdown_signal().await?;
            println!(
                "{signal}: shutting down (requests in flight have {} s to finish)",
                config.server.shutdown_grace_secs
            );
            server.stop().await?;
            println!("stopped");
        }
    }
    Ok(())
}
