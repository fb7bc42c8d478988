//! `cargo xtask <task>`: casefile's development tasks.
//!
//! - `test`: THE test command — everything CI runs: prerequisites (the MIME database), `cargo fmt
//!   --check`, clippy with `-D warnings` on all targets and features, and the whole test suite.
//! - `deny`: `cargo deny check bans licenses sources`, installing cargo-deny when missing.
//! - `fmt`: format the workspace.
//!
//! Few dependencies on purpose: it shells out to `$CARGO`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

type Result<T = ()> = std::result::Result<T, String>;

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  test    fmt check, clippy -D warnings, and the whole test suite (what CI runs)
  deny    cargo deny check bans licenses sources (installs cargo-deny if missing)
  fmt     cargo fmt --all";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("deny") => deny(),
        Some("fmt") => cargo(&["fmt", "--all"]),
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

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn cargo_bin() -> String {
    env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

fn run(program: &str, args: &[&str]) -> Result {
    eprintln!("xtask: $ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
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
    step("prerequisites");
    ensure_mime_database()?;

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

    step("tests");
    let mut args = vec!["test", "--workspace", "--all-features", "--no-fail-fast"];
    args.extend(extra.iter().map(String::as_str));
    cargo(&args)?;
    eprintln!("\nxtask: all checks and tests passed");
    Ok(())
}

/// tree_magic_mini reads the freedesktop MIME database at run time; without it, content-type
/// detection by magic bytes cannot work and its tests fail. Install it where we can.
fn ensure_mime_database() -> Result {
    let magic = Path::new("/usr/share/mime/magic");
    if magic.exists() {
        eprintln!("xtask: MIME database present ({})", magic.display());
        return Ok(());
    }
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if !is_root {
        return Err(
            "the freedesktop MIME database (/usr/share/mime/magic) is missing: install the \
             `shared-mime-info` package (apt-get install shared-mime-info) and run again"
                .to_owned(),
        );
    }
    run("apt-get", &["update", "-qq"])?;
    run("apt-get", &["install", "-y", "-qq", "shared-mime-info"])?;
    if magic.exists() {
        Ok(())
    } else {
        Err("shared-mime-info installed but /usr/share/mime/magic is still missing".to_owned())
    }
}

fn deny() -> Result {
    let installed = Command::new(cargo_bin())
        .args(["deny", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !installed {
        step("installing cargo-deny");
        cargo(&["install", "cargo-deny", "--locked"])?;
    }
    step("cargo deny");
    cargo(&["deny", "check", "bans", "licenses", "sources"])
}
