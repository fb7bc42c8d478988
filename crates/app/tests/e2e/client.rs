//! The command-line client (#18) against a real `casefile serve` on the local store: a folder of
//! 50 files (nested folders, Unicode names, an empty file, a 200 MiB file) up and down, an
//! interrupted upload re-run, downloads that do not match, a server that is down, a refused
//! token, `login`, the progress display under a pseudo-terminal, and memory bounded for 1 GiB.

use std::path::{Path, PathBuf};

use super::*;

use casefile_testkit::files::{matter_folder, sha256_of as sha_of, write_pattern};

/// The environment of a client command: the server, the token, and a config folder of its own.
fn client_env(app: &Running, token: &str, config: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("CASEFILE_SERVER", app.base.clone()),
        ("CASEFILE_TOKEN", token.to_owned()),
        ("XDG_CONFIG_HOME", config.display().to_string()),
    ]
}

fn lines_starting<'a>(out: &'a str, word: &str) -> Vec<&'a str> {
    out.lines().filter(|l| l.starts_with(word)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_of_50_files_up_and_down_verified() {
    let app = start_with(|c| c.limits.max_file_size = 512 * 1024 * 1024).await;
    let user = UserId::new();
    let token = app.token(user);
    let dir = tempfile::tempdir().unwrap();
    let (src, out, config) = (
        dir.path().join("src"),
        dir.path().join("out"),
        dir.path().join("config"),
    );
    let made = matter_folder(&src, 200 * 1024 * 1024);
    assert_eq!(made.len(), 50);
    let env = || client_env(&app, &token, &config);
    let cwd = dir.path().to_path_buf();

    let created = run_cli(
        cwd.clone(),
        cwd.clone(),
        &["cases", "create", "Doe v. Roe", "--json"],
        env(),
    )
    .await;
    let case: Value = serde_json::from_str(created.trim()).unwrap();
    let case_id = case["id"].as_str().unwrap().to_owned();

    // Plain lines (standard output is not a terminal): one per file, then the summary.
    let src_arg = src.display().to_string();
    let uploaded = run_cli(
        cwd.clone(),
        cwd.clone(),
        &[
            "upload", &case_id, &src_arg, "--to", "matter", "--jobs", "4",
        ],
        env(),
    )
    .await;
    assert_eq!(
        lines_starting(&uploaded, "uploaded  ").len(),
        50,
        "{uploaded}"
    );
    assert!(
        uploaded.contains("uploaded 50 (") && uploaded.ends_with("skipped 0, failed 0\n"),
        "{uploaded}"
    );

    // Every file is in the case under its relative path, with the SHA-256 computed here.
    let client = casefile_client::Client::new(&app.base, Some(token.clone())).unwrap();
    let listed: Vec<casefile_api::FileView> = futures::TryStreamExt::try_collect(
        client.list_files(uuid::Uuid::parse_str(&case_id).unwrap(), Some("matter/")),
    )
    .await
    .unwrap();
    let mut found: Vec<(String, String)> = listed
        .iter()
        .map(|f| {
            (
                f.logical_path.trim_start_matches("matter/").to_owned(),
                f.content_hash.clone(),
            )
        })
        .collect();
    found.sort();
    assert_eq!(found, made);

    // A re-run uploads nothing.
    let again = run_cli(
        cwd.clone(),
        cwd.clone(),
        &["upload", &case_id, &src_arg, "--to", "matter"],
        env(),
    )
    .await;
    assert!(
        again.ends_with("uploaded 0 (0 B), skipped 50, failed 0\n"),
        "{again}"
    );

    // Down again, verified, into the same relative paths.
    let out_arg = out.display().to_string();
    let downloaded = run_cli(
        cwd.clone(),
        cwd.clone(),
        &["download", &format!("{case_id}/matter/"), "--out", &out_arg],
        env(),
    )
    .await;
    assert!(
        downloaded.ends_with("downloaded 50, skipped 0, failed 0\n"),
        "{downloaded}"
    );
    for (rel, sha) in &made {
        assert_eq!(&sha_of(&out.join("matter").join(rel)), sha, "{rel}");
    }
    let leftovers: Vec<PathBuf> = walk(&out)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("casefile-partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // One file by its id, into a folder, under its name.
    let one = listed
        .iter()
        .find(|f| f.logical_path.ends_with("naïve résumé.pdf"))
        .unwrap();
    let single = dir.path().join("single");
    run_cli(
        cwd.clone(),
        cwd.clone(),
        &[
            "download",
            &one.id.to_string(),
            "--out",
            &single.display().to_string(),
        ],
        env(),
    )
    .await;
    assert_eq!(sha_of(&single.join("naïve résumé.pdf")), one.content_hash);

    // Browsing.
    let ls = run_cli(
        cwd.clone(),
        cwd.clone(),
        &["ls", &format!("{case_id}/matter/café/")],
        env(),
    )
    .await;
    assert_eq!(ls.lines().count(), 1, "{ls}");
    assert!(ls.contains("matter/café/naïve résumé.pdf"), "{ls}");
    let cases = run_cli(cwd.clone(), cwd.clone(), &["cases"], env()).await;
    assert!(
        cases.contains(&case_id) && cases.contains("50 files"),
        "{cases}"
    );
    let shown = run_cli(
        cwd.clone(),
        cwd.clone(),
        &["cases", "show", &case_id],
        env(),
    )
    .await;
    assert!(shown.contains("files     50"), "{shown}");
    let audit = run_cli(cwd.clone(), cwd.clone(), &["audit", &case_id], env()).await;
    assert_eq!(
        audit
            .lines()
            .filter(|l| l.contains("upload_completed"))
            .count(),
        50,
        "{audit}"
    );
    let removed = run_cli(
        cwd.clone(),
        cwd.clone(),
        &["rm", &one.id.to_string()],
        env(),
    )
    .await;
    assert!(removed.contains("deleted"), "{removed}");
    app.stop().await;
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// An upload killed mid-file, then run again: what was done is skipped, the file in flight is
/// sent again to its own pending upload (no conflict with it), the rest is uploaded, and no file
/// is uploaded twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_upload_rerun_sends_only_the_rest() {
    use tokio::io::AsyncBufReadExt;
    let app = start_with(|c| c.limits.max_file_size = 512 * 1024 * 1024).await;
    let token = app.token(UserId::new());
    let dir = tempfile::tempdir().unwrap();
    let (src, config) = (dir.path().join("src"), dir.path().join("config"));
    for n in 0..6u8 {
        write_pattern(&src.join(format!("a-{n}.pdf")), 10_000 + u64::from(n), n);
    }
    write_pattern(&src.join("m-big.bin"), 160 * 1024 * 1024, 7);
    for n in 0..6u8 {
        write_pattern(
            &src.join(format!("z-{n}.pdf")),
            20_000 + u64::from(n),
            100 + n,
        );
    }
    let cwd = dir.path().to_path_buf();
    let env = || client_env(&app, &token, &config);
    let created = run_cli(
        cwd.clone(),
        cwd.clone(),
        &["cases", "create", "Interrupted"],
        env(),
    )
    .await;
    let case_id = created
        .lines()
        .find_map(|l| l.strip_prefix("id        "))
        .unwrap()
        .to_owned();
    let src_arg = src.display().to_string();

    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_casefile"));
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("CASEFILE_")) {
        command.env_remove(name);
    }
    let mut child = command
        .args(["upload", &case_id, &src_arg, "--jobs", "1", "--json"])
        .envs(env())
        .current_dir(&cwd)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Killed once the big file's upload has begun (its journal entry is written) and before
    // it completes.
    let journal = config.join("casefile").join("pending-uploads.json");
    let mut events = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let reader = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Ok(Some(line)) = events.next_line().await {
            seen.push(line);
        }
        seen
    });
    let mut interrupted = false;
    for _ in 0..2000 {
        let text = std::fs::read_to_string(&journal).unwrap_or_default();
        if text.contains("m-big.bin") {
            child.start_kill().unwrap();
            interrupted = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(interrupted, "the big file's upload began");
    child.wait().await.unwrap();
    let first: Vec<Value> = reader
        .await
        .unwrap()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let done_first: Vec<&str> = first
        .iter()
        .filter(|e| e["event"] == "uploaded")
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        done_first.len(),
        6,
        "the a-* files, then the kill: {first:?}"
    );
    let pending: Value = serde_json::from_str(&std::fs::read_to_string(&journal).unwrap()).unwrap();
    let pending_id = pending["pending"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()["file_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let rerun = run_cli(
        cwd.clone(),
        cwd.clone(),
        &["upload", &case_id, &src_arg, "--jobs", "1", "--json"],
        env(),
    )
    .await;
    let second: Vec<Value> = rerun
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary = second.last().unwrap();
    assert_eq!(summary["uploaded"], 7, "{rerun}");
    assert_eq!(summary["skipped"], 6, "{rerun}");
    assert_eq!(summary["failed"], 0, "{rerun}");
    let big = second.iter().find(|e| e["path"] == "m-big.bin").unwrap();
    assert_eq!(big["event"], "uploaded");
    assert_eq!(
        big["file_id"],
        pending_id.as_str(),
        "the pending upload was resumed"
    );
    let audit = run_cli(cwd.clone(), cwd.clone(), &["audit", &case_id], env()).await;
    assert_eq!(
        audit
            .lines()
            .filter(|l| l.contains("upload_completed"))
            .count(),
        13,
        "each file once: {audit}"
    );
    app.stop().await;
}

/// Bytes on the server that differ from the record: the download fails naming the file, and
/// nothing is left under its final name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_that_does_not_match_leaves_no_file() {
    let app = start().await;
    let token = app.token(UserId::new());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let cwd = dir.path().to_path_buf();
    let env = || client_env(&app, &token, &config);
    let created = run_cli(
        cwd.clone(),
        cwd.clone(),
        &["cases", "create", "Tampered", "--json"],
        env(),
    )
    .await;
    let case: Value = serde_json::from_str(created.trim()).unwrap();
    let case_id = case["id"].as_str().unwrap().to_owned();
    let file = dir.path().join("exhibit.pdf");
    write_pattern(&file, 123_457, 3);
    run_cli(
        cwd.clone(),
        cwd.clone(),
        &["upload", &case_id, &file.display().to_string()],
        env(),
    )
    .await;
    // Someone with access to the disk changes the stored bytes (same size).
    let blob = blob_of_size(app._dir.path(), 123_457);
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[1000] ^= 0xff;
    std::fs::write(&blob, bytes).unwrap();
    let out = dir.path().join("out");
    let (code, stdout, stderr) = casefile_cli(
        &cwd,
        &cwd,
        &[
            "download",
            &format!("{case_id}/"),
            "--out",
            &out.display().to_string(),
        ],
        env(),
    )
    .await;
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("failed      exhibit.pdf"), "{stdout}");
    assert!(
        !out.join("exhibit.pdf").exists(),
        "nothing under the final name"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_down_a_refused_token_and_login() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().to_path_buf();
    let config = dir.path().join("config");
    let down = vec![
        ("CASEFILE_SERVER", "http://127.0.0.1:1".to_owned()),
        ("CASEFILE_TOKEN", "t".to_owned()),
        ("XDG_CONFIG_HOME", config.display().to_string()),
    ];
    let (code, stdout, stderr) = casefile_cli(&cwd, &cwd, &["cases"], down).await;
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert!(
        stderr.contains("cannot reach the server at http://127.0.0.1:1"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );

    let app = start().await;
    let refused = vec![
        ("CASEFILE_SERVER", app.base.clone()),
        ("CASEFILE_TOKEN", "not-a-token".to_owned()),
        ("XDG_CONFIG_HOME", config.display().to_string()),
    ];
    let (code, _, stderr) = casefile_cli(&cwd, &cwd, &["cases"], refused).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("invalid or expired") && stderr.contains("casefile login"),
        "{stderr}"
    );
    let (code, _, stderr) = casefile_cli(
        &cwd,
        &cwd,
        &["ls", "not-a-case"],
        vec![("XDG_CONFIG_HOME", config.display().to_string())],
    )
    .await;
    assert_eq!(code, Some(2), "not signed in: {stderr}");
    assert!(stderr.contains("casefile login"), "{stderr}");

    // Login checks the token, then keeps server and token privately; later commands use them.
    let token = app.token(UserId::new());
    let keep = vec![("XDG_CONFIG_HOME", config.display().to_string())];
    let (code, _, _) = casefile_cli(
        &cwd,
        &cwd,
        &["login", "--server", &app.base, "--token", "not-a-token"],
        keep.clone(),
    )
    .await;
    assert_eq!(code, Some(1), "a refused token is not kept");
    assert!(!config.join("casefile/client.toml").exists());
    let said = run_cli(
        cwd.clone(),
        cwd.clone(),
        &["login", "--server", &app.base, "--token", &token],
        keep.clone(),
    )
    .await;
    assert!(said.contains("signed in"), "{said}");
    let kept = config.join("casefile/client.toml");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&kept).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let created = run_cli(
        cwd.clone(),
        cwd.clone(),
        &["cases", "create", "After login"],
        keep,
    )
    .await;
    assert!(created.contains("title     After login"), "{created}");
    app.stop().await;
}

/// Under a pseudo-terminal the upload draws progress bars (bytes, rate, ETA) on standard error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_bars_under_a_terminal() {
    let app = start_with(|c| c.limits.max_file_size = 512 * 1024 * 1024).await;
    let token = app.token(UserId::new());
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().to_path_buf();
    let config = dir.path().join("config");
    let created = run_cli(
        cwd.clone(),
        cwd.clone(),
        &["cases", "create", "Terminal", "--json"],
        client_env(&app, &token, &config),
    )
    .await;
    let case: Value = serde_json::from_str(created.trim()).unwrap();
    let file = dir.path().join("big.bin");
    write_pattern(&file, 96 * 1024 * 1024, 5);
    // `script` runs the command on a pseudo-terminal and copies what it draws.
    let command = format!(
        "{} upload {} {}",
        env!("CARGO_BIN_EXE_casefile"),
        case["id"].as_str().unwrap(),
        file.display()
    );
    let mut script = tokio::process::Command::new("script");
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("CASEFILE_")) {
        script.env_remove(name);
    }
    let out = script
        .args(["-qefc", &command, "/dev/null"])
        .envs(client_env(&app, &token, &config))
        .env("TERM", "xterm")
        .current_dir(&cwd)
        .output()
        .await
        .expect("script (util-linux) runs the command on a pseudo-terminal");
    let drawn = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{drawn}");
    assert!(drawn.contains("total ["), "a total bar: {drawn}");
    assert!(drawn.contains("ETA"), "with an ETA: {drawn}");
    assert!(drawn.contains("uploaded 1 ("), "the summary: {drawn}");
    app.stop().await;
}

/// The peak resident memory of a command (VmHWM, read until it exits), in KiB.
async fn peak_rss_kib(mut command: tokio::process::Command) -> (Option<i32>, u64) {
    let mut child = command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let mut peak = 0u64;
    loop {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status"))
            && let Some(kib) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code(), peak);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A 1 GiB upload and download stream: the client's memory stays bounded (far below the file).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_1_gib_transfer_stays_bounded_in_memory() {
    let app = start_with(|c| c.limits.max_file_size = 2 * 1024 * 1024 * 1024).await;
    let token = app.token(UserId::new());
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().to_path_buf();
    let config = dir.path().join("config");
    let env = client_env(&app, &token, &config);
    let created = run_cli(
        cwd.clone(),
        cwd.clone(),
        &["cases", "create", "Large", "--json"],
        env.clone(),
    )
    .await;
    let case: Value = serde_json::from_str(created.trim()).unwrap();
    let case_id = case["id"].as_str().unwrap().to_owned();
    let file = dir.path().join("production.bin");
    write_pattern(&file, 1024 * 1024 * 1024, 11);
    let command = |args: &[&str]| {
        let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_casefile"));
        for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("CASEFILE_")) {
            c.env_remove(name);
        }
        c.args(args).envs(env.clone()).current_dir(&cwd);
        c
    };
    let (code, up) =
        peak_rss_kib(command(&["upload", &case_id, &file.display().to_string()])).await;
    assert_eq!(code, Some(0));
    let out = dir.path().join("out");
    let (code, down) = peak_rss_kib(command(&[
        "download",
        &format!("{case_id}/"),
        "--out",
        &out.display().to_string(),
    ]))
    .await;
    assert_eq!(code, Some(0));
    assert_eq!(
        std::fs::metadata(out.join("production.bin")).unwrap().len(),
        1 << 30
    );
    // A buffered transfer would hold the file: 1 GiB. Streaming holds chunks.
    for (what, kib) in [("upload", up), ("download", down)] {
        assert!(kib > 0, "{what}: VmHWM read");
        assert!(
            kib < 96 * 1024,
            "{what}: peak RSS {kib} KiB for a 1 GiB file"
        );
    }
    app.stop().await;
}

/// A download killed midway leaves only its hidden partial file; the re-run resumes it (with
/// `Range`) and verifies the whole. A partial file whose bytes were changed is not trusted: the
/// result fails its SHA-256, nothing is kept, and the next run starts over and succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_download_resumes_and_a_bad_partial_is_not_trusted() {
    let app = start_with(|c| c.limits.max_file_size = 512 * 1024 * 1024).await;
    let token = app.token(UserId::new());
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().to_path_buf();
    let config = dir.path().join("config");
    let env = || client_env(&app, &token, &config);
    let created = run_cli(
        cwd.clone(),
        cwd.clone(),
        &["cases", "create", "Resume", "--json"],
        env(),
    )
    .await;
    let case: Value = serde_json::from_str(created.trim()).unwrap();
    let case_id = case["id"].as_str().unwrap().to_owned();
    let file = dir.path().join("src").join("big.bin");
    write_pattern(&file, 192 * 1024 * 1024, 21);
    let expected = sha_of(&file);
    run_cli(
        cwd.clone(),
        cwd.clone(),
        &["upload", &case_id, &file.display().to_string()],
        env(),
    )
    .await;

    let out = dir.path().join("out");
    let (dest, partial) = (out.join("big.bin"), out.join(".big.bin.casefile-partial"));
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_casefile"));
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("CASEFILE_")) {
        command.env_remove(name);
    }
    let mut child = command
        .args([
            "download",
            &format!("{case_id}/"),
            "--out",
            &out.display().to_string(),
        ])
        .envs(env())
        .current_dir(&cwd)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut killed_at = 0;
    for _ in 0..4000 {
        let have = std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
        if have > 8 * 1024 * 1024 {
            child.start_kill().unwrap();
            killed_at = have;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    child.wait().await.unwrap();
    assert!(killed_at > 0, "the download was under way");
    assert!(
        !dest.exists(),
        "nothing under the final name after the kill"
    );
    let kept = std::fs::metadata(&partial).unwrap().len();
    assert!(
        kept > 0 && kept < 192 * 1024 * 1024,
        "a partial file of {kept} bytes"
    );

    let resumed = run_cli(
        cwd.clone(),
        cwd.clone(),
        &[
            "download",
            &format!("{case_id}/"),
            "--out",
            &out.display().to_string(),
        ],
        env(),
    )
    .await;
    assert!(resumed.contains("downloaded 1"), "{resumed}");
    assert_eq!(sha_of(&dest), expected);
    assert!(!partial.exists());

    // A partial file whose bytes were changed: the resumed whole does not match, nothing is kept.
    std::fs::remove_file(&dest).unwrap();
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.truncate(5 * 1024 * 1024);
    bytes[4096] ^= 0x20;
    std::fs::write(&partial, &bytes).unwrap();
    let (code, stdout, _) = casefile_cli(
        &cwd,
        &cwd,
        &[
            "download",
            &format!("{case_id}/"),
            "--out",
            &out.display().to_string(),
        ],
        env(),
    )
    .await;
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("SHA-256"), "{stdout}");
    assert!(!dest.exists() && !partial.exists(), "nothing kept");
    let again = run_cli(
        cwd.clone(),
        cwd.clone(),
        &[
            "download",
            &format!("{case_id}/"),
            "--out",
            &out.display().to_string(),
        ],
        env(),
    )
    .await;
    assert!(again.contains("downloaded 1"), "{again}");
    assert_eq!(sha_of(&dest), expected);
    app.stop().await;
}

/// A file that cannot be read is named in the summary; the others are uploaded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_local_file_is_named_and_the_others_go_on() {
    let app = start().await;
    let token = app.token(UserId::new());
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path().to_path_buf();
    let config = dir.path().join("config");
    let env = || client_env(&app, &token, &config);
    let src = dir.path().join("src");
    write_pattern(&src.join("a.pdf"), 5000, 1);
    write_pattern(&src.join("c.pdf"), 6000, 2);
    // A link to nothing: listed in the folder, unreadable (root reads any mode, so no chmod).
    std::os::unix::fs::symlink(dir.path().join("gone.pdf"), src.join("b.pdf")).unwrap();
    let created = run_cli(
        cwd.clone(),
        cwd.clone(),
        &["cases", "create", "Unreadable", "--json"],
        env(),
    )
    .await;
    let case: Value = serde_json::from_str(created.trim()).unwrap();
    let (code, stdout, stderr) = casefile_cli(
        &cwd,
        &cwd,
        &[
            "upload",
            case["id"].as_str().unwrap(),
            &src.display().to_string(),
        ],
        env(),
    )
    .await;
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("failed    ") && stdout.contains("b.pdf"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("uploaded 2 (10.74 KiB), skipped 0, failed 1\n"),
        "{stdout}"
    );
    assert!(stderr.contains("1 files failed"), "{stderr}");
    app.stop().await;
}

/// Folder browsing (#19): `delimiter=/` lists one level — the files directly under the prefix
/// and each sub-folder once — in path order, a page at a time, a folder's cursor resuming after
/// everything in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folders_one_level_at_a_time() {
    let app = start().await;
    let token = app.token(UserId::new());
    let client = casefile_client::Client::new(&app.base, Some(token.clone())).unwrap();
    let case = client.create_case("Folders").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (n, path) in [
        "a.pdf",
        "docs/b.pdf",
        "docs/x/c.pdf",
        "docs/x/deeper/d.pdf",
        "docs/y.pdf",
        "docs0.pdf",
        "z/e.pdf",
        "z/f.pdf",
    ]
    .iter()
    .enumerate()
    {
        let local = dir.path().join(format!("{n}.pdf"));
        write_pattern(&local, 100 + n as u64, n as u8);
        client
            .upload_file(case.id, path, &local, &|_| {})
            .await
            .unwrap();
    }
    let level = |prefix: Option<&'static str>, cursor: Option<String>, limit: Option<usize>| {
        let client = client.clone();
        async move {
            client
                .list_level(case.id, prefix, cursor.as_deref(), limit)
                .await
                .unwrap()
        }
    };
    let names = |page: &casefile_api::FileList| {
        page.files
            .iter()
            .map(|f| f.logical_path.clone())
            .collect::<Vec<_>>()
    };
    let top = level(None, None, None).await;
    assert_eq!(names(&top), ["a.pdf", "docs0.pdf"]);
    assert_eq!(top.folders.as_deref().unwrap(), ["docs/", "z/"]);
    assert_eq!(top.next_cursor, None);
    let docs = level(Some("docs/"), None, None).await;
    assert_eq!(names(&docs), ["docs/b.pdf", "docs/y.pdf"]);
    assert_eq!(docs.folders.as_deref().unwrap(), ["docs/x/"]);
    // One entry a page: a.pdf, docs/, docs0.pdf, z/ — the cursor of a folder skips its files.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = level(None, cursor.clone(), Some(1)).await;
        seen.extend(names(&page));
        seen.extend(page.folders.clone().unwrap());
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, ["a.pdf", "docs/", "docs0.pdf", "z/"]);
    // Without a delimiter, no `folders` and every file under the prefix.
    let flat: Value = reqwest::Client::new()
        .get(format!(
            "{}/v1/cases/{}/files?prefix=docs/",
            app.base, case.id
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(flat.get("folders").is_none(), "{flat}");
    assert_eq!(flat["files"].as_array().unwrap().len(), 4);
    let refused = reqwest::Client::new()
        .get(format!(
            "{}/v1/cases/{}/files?delimiter=%5C",
            app.base, case.id
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_input");
    app.stop().await;
}
