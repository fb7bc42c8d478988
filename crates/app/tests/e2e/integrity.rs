//! Checking integrity and exporting a case (#17) on the local store, with SQLite and with
//! PostgreSQL: `casefile scrub`, `reconcile`, `export` and `export verify`, and the streamed
//! `GET /v1/cases/{id}/export.zip`.

use std::path::Path;

use reqwest::Method;

use super::*;

/// What the CLI needs besides the data directory (the database, the upload URL expiry).
fn cli_env(database: Option<&str>) -> Vec<(&'static str, String)> {
    let mut extra = vec![("CASEFILE_UPLOAD_URL_EXPIRY_SECS", "2".to_owned())];
    if let Some(url) = database {
        extra.push(("CASEFILE_DATABASE_URL", url.to_owned()));
    }
    extra
}

async fn cli(
    app: &Running,
    database: Option<&str>,
    args: &[&str],
) -> (Option<i32>, String, String) {
    let data = app._dir.path();
    casefile_cli(data, data, args, cli_env(database)).await
}

async fn json_cli(app: &Running, database: Option<&str>, args: &[&str]) -> (Option<i32>, Value) {
    let (code, stdout, stderr) = cli(app, database, args).await;
    let value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {stdout}{stderr}"));
    (code, value)
}

/// Uploads `content` at `path`: the file's id.
async fn put(app: &Running, token: &str, case: &str, path: &str, content: Vec<u8>) -> String {
    let headers: &[(&str, &str)] = if content.is_empty() {
        &[("content-length", "0")]
    } else {
        &[]
    };
    let response = app.put_file(token, case, path, headers, content).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{path}: {body}");
    body["id"].as_str().unwrap().to_owned()
}

fn bytes(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

async fn audit_actions(app: &Running, token: &str, case: &str) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/cases/{case}/audit?cursor={c}"),
            None => format!("/v1/cases/{case}/audit"),
        };
        let (status, page) = app.call(Method::GET, &path, Some(token), None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        entries.extend(page["entries"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return entries,
        }
    }
}

/// Removes a file's object from the local store behind casefile's back (its manifest: the
/// object is gone for every reader and every listing).
fn remove_object(app: &Running, case: &str, file: &str) {
    let manifest = app
        ._dir
        .path()
        .join("objects/objects/cases")
        .join(case.replace('-', ""))
        .join("files")
        .join(file.replace('-', ""));
    std::fs::remove_file(&manifest).unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
}

fn count(entries: &[Value], action: &str, file: Option<&str>) -> usize {
    entries
        .iter()
        .filter(|e| e["action"] == action && file.is_none_or(|f| e["file_id"] == f))
        .count()
}

/// Scrub: clean, then an altered byte and a deleted object are named, exit 1, audited once;
/// an interrupted scrub resumes and audits nothing twice.
async fn scrub_scenario(app: &Running, database: Option<&str>) {
    let owner = app.token(UserId::new());
    let case = new_case(app, &owner).await;
    let a = put(app, &owner, &case, "pleadings/a.bin", bytes(1, 100_001)).await;
    let b = put(app, &owner, &case, "evidence/b.bin", bytes(2, 100_002)).await;
    let c = put(app, &owner, &case, "evidence/c.bin", bytes(3, 100_003)).await;

    let (code, report) = json_cli(app, database, &["scrub", "--case", &case, "--json"]).await;
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(
        (report["checked"].as_u64(), report["failed"].as_u64()),
        (Some(3), Some(0))
    );

    // Behind casefile's back: one byte of b flipped, c's object removed.
    let blob = blob_of_size(app._dir.path(), 100_002);
    let mut altered = std::fs::read(&blob).unwrap();
    altered[50_000] ^= 0x01;
    std::fs::write(&blob, &altered).unwrap();
    remove_object(app, &case, &c);

    let (code, stdout, _) = cli(app, database, &["scrub", "--case", &case]).await;
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!("MISMATCH {b} evidence/b.bin")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("MISSING {c} evidence/c.bin")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("ok {a} pleadings/a.bin")),
        "{stdout}"
    );
    assert!(stdout.contains("checked 3, failed 2"), "{stdout}");
    let entries = audit_actions(app, &owner, &case).await;
    assert_eq!(count(&entries, "fixity_failed", Some(&b)), 1);
    assert_eq!(count(&entries, "fixity_failed", Some(&c)), 1);
    assert_eq!(count(&entries, "scrub_completed", None), 2);

    // JSON names the failures too.
    let (code, report) = json_cli(app, database, &["scrub", "--case", &case, "--json"]).await;
    assert_eq!(code, Some(1));
    let failed: Vec<&str> = report["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file_id"].as_str().unwrap())
        .collect();
    assert_eq!(failed.len(), 2, "{report}");
    assert!(failed.contains(&b.as_str()) && failed.contains(&c.as_str()));

    // --older-than: everything was verified just now, nothing is read.
    let (code, report) = json_cli(
        app,
        database,
        &["scrub", "--case", &case, "--older-than", "1h", "--json"],
    )
    .await;
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["checked"], 0);

    // An interrupted scrub: a second case of ten files read at 1 MiB/s, killed after its first
    // file; the next scrub resumes the run and verifies each file once.
    let slow = new_case(app, &owner).await;
    let mut ids = Vec::new();
    for i in 0..10u8 {
        ids.push(
            put(
                app,
                &owner,
                &slow,
                &format!("f{i}.bin"),
                bytes(10 + i, 300_000 + usize::from(i)),
            )
            .await,
        );
    }
    remove_object(app, &slow, &ids[4]);
    let data = app._dir.path();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_casefile"));
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("CASEFILE_")) {
        command.env_remove(name);
    }
    let mut child = command
        .args(["scrub", "--case", &slow, "--rate", "1", "--jobs", "1"])
        .env("CASEFILE_DATA_DIR", data)
        .envs(cli_env(database))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    {
        use tokio::io::AsyncBufReadExt;
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let mut seen = 0;
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.starts_with("ok ") || line.starts_with("MISSING ") {
                seen += 1;
                if seen == 2 {
                    break;
                }
            }
        }
        assert_eq!(seen, 2, "the scrub reported files before it was stopped");
    }
    child.kill().await.unwrap();
    let (code, stdout, _) = cli(app, database, &["scrub", "--case", &slow]).await;
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("(resumed): checked 10, failed 1"),
        "{stdout}"
    );
    let entries = audit_actions(app, &owner, &slow).await;
    assert_eq!(
        count(&entries, "fixity_failed", Some(&ids[4])),
        1,
        "audited once"
    );
    assert_eq!(count(&entries, "fixity_failed", None), 1);
    assert_eq!(
        count(&entries, "scrub_completed", None),
        1,
        "one summary per run"
    );
}

/// Reconcile: an unrecorded object, a missing one, an expired upload and its staging bytes;
/// `--fix` removes only the garbage.
async fn reconcile_scenario(app: &Running, database: Option<&str>) {
    let owner = app.token(UserId::new());
    let case = new_case(app, &owner).await;
    let kept = put(app, &owner, &case, "kept.bin", bytes(40, 200_040)).await;
    let lost = put(app, &owner, &case, "lost.bin", bytes(41, 200_041)).await;
    remove_object(app, &case, &lost);
    // Bytes sent to an upload URL, never completed; the URL expires.
    let content = bytes(42, 200_042);
    let (status, started) = app
        .call(
            Method::POST,
            &format!("/v1/cases/{case}/uploads"),
            Some(&owner),
            Some(
                json!({"logical_path": "never.bin", "file_size": content.len(),
                        "content_hash": Sha256::digest(&content).to_hex()}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let pending = started["file_id"].as_str().unwrap().to_owned();
    let mut request = reqwest::Client::new().put(started["upload"]["url"].as_str().unwrap());
    if let Some(headers) = started["upload"]["headers"].as_object() {
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str().unwrap());
        }
    }
    let sent = request.body(content).send().await.unwrap();
    assert!(sent.status().is_success(), "{:?}", sent.text().await);
    // An object no record knows of, written straight into the store.
    let store = casefile_storage_local::FsStorage::new(app._dir.path().join("objects")).unwrap();
    use casefile_domain::storage::{ObjectKey, ObjectStorage, PutOptions};
    let stray = ObjectKey::new("cases/stray/evidence.bin").unwrap();
    store
        .upload(
            &stray,
            bytes::Bytes::from_static(b"stray"),
            PutOptions::default(),
        )
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2_200)).await;

    let (code, report) = json_cli(app, database, &["reconcile", "--json"]).await;
    assert_eq!(code, Some(1), "{report}");
    let keys = |field: &str| -> Vec<String> {
        report[field]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["key"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        keys("unrecorded"),
        vec!["cases/stray/evidence.bin"],
        "{report}"
    );
    assert!(
        report["missing"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["file_id"] == lost.as_str()),
        "{report}"
    );
    let pending_simple = pending.replace('-', "");
    assert!(
        keys("garbage")
            .iter()
            .any(|k| k.starts_with("uploads/") && k.ends_with(&pending_simple)),
        "{report}"
    );
    assert!(
        report["expired_pending"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == pending.as_str()),
        "{report}"
    );

    let (code, report) = json_cli(app, database, &["reconcile", "--fix", "--json"]).await;
    assert_eq!(
        code,
        Some(1),
        "the unrecorded and the missing remain: {report}"
    );
    assert!(report["removed"].as_u64().unwrap() >= 1, "{report}");
    assert!(report["expired_failed"].as_u64().unwrap() >= 1, "{report}");
    // The fix never touches the completed file, nor the unrecorded object.
    assert!(store.head(&stray).await.unwrap().is_some());
    let (status, _) = app
        .call(
            Method::GET,
            &format!("/v1/files/{kept}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        blob_of_size(app._dir.path(), 200_040)
            .metadata()
            .unwrap()
            .len(),
        200_040
    );
    let (_, report) = json_cli(app, database, &["reconcile", "--json"]).await;
    assert_eq!(report["garbage"].as_array().unwrap().len(), 0, "{report}");
    assert_eq!(
        report["expired_pending"].as_array().unwrap().len(),
        0,
        "{report}"
    );
    let entries = audit_actions(app, &owner, &case).await;
    assert_eq!(count(&entries, "upload_expired", Some(&pending)), 1);
    // Leave the store consistent for the scenarios that follow.
    store.delete(&stray).await.unwrap();
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/v1/files/{lost}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

fn read_manifest(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap()
}

async fn verify(app: &Running, database: Option<&str>, path: &Path) -> (Option<i32>, String) {
    let (code, stdout, stderr) =
        cli(app, database, &["export", "verify", path.to_str().unwrap()]).await;
    (code, format!("{stdout}{stderr}"))
}

/// Copies a folder (an export) to a new place, to tamper with the copy.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Export: a folder and a ZIP that verify offline, every tampering named, a corrupted native
/// aborting the export, the streamed ZIP by role, an interrupted export redone.
async fn export_scenario(app: &Running, database: Option<&str>) {
    let owner_id = UserId::new();
    let owner = app.token(owner_id);
    let case = new_case(app, &owner).await;
    let files = [
        ("pleadings/complaint.pdf", b"%PDF-1.7\ncomplaint".to_vec()),
        ("evidence/photos/scène été.bin", bytes(50, 120_050)),
        ("evidence/empty.txt", Vec::new()),
        (
            "correspondence/ünïcödé — letter.txt",
            "a letter, þ and all".as_bytes().to_vec(),
        ),
    ];
    for (path, content) in &files {
        let encoded: String = url::form_urlencoded::byte_serialize(path.as_bytes()).collect();
        put(app, &owner, &case, &encoded, content.clone()).await;
    }
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("production");
    let out_s = out.to_str().unwrap().to_owned();
    let (code, stdout, stderr) =
        cli(app, database, &["export", "--case", &case, "--out", &out_s]).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("4 files"), "{stdout}");
    for (path, content) in &files {
        assert_eq!(
            &std::fs::read(out.join("natives").join(path)).unwrap(),
            content,
            "{path}"
        );
    }
    let manifest = read_manifest(&out);
    assert_eq!(manifest["files"].as_array().unwrap().len(), 4);
    assert!(
        manifest["audit"]["count"].as_u64().unwrap() >= 5,
        "{manifest}"
    );
    let dat = std::fs::read(out.join("loadfile.dat")).unwrap();
    assert!(
        dat.starts_with(b"\xef\xbb\xbf\xc3\xbeDOCID\xc3\xbe\x14\xc3\xbeFILENAME"),
        "BOM, þ and DC4"
    );
    let csv = std::fs::read_to_string(out.join("loadfile.csv")).unwrap();
    assert!(csv.starts_with("DOCID,FILENAME,LOGICAL_PATH,FILESIZE,SHA256,MIMETYPE,UPLOADED_BY,UPLOADED_AT,NATIVE\r\n"), "{csv}");
    let (code, said) = verify(app, database, &out).await;
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("the export verifies"), "{said}");
    // Each audit proof is also what `casefile audit verify-entry` reads.
    let proofs = std::fs::read_to_string(out.join("audit/proofs.jsonl")).unwrap();
    let one = work.path().join("one-proof.json");
    std::fs::write(&one, proofs.lines().next().unwrap()).unwrap();
    let (code, stdout, _) = cli(
        app,
        database,
        &["audit", "verify-entry", one.to_str().unwrap()],
    )
    .await;
    assert_eq!(code, Some(0), "{stdout}");

    // Tampering, each on its own copy, each named.
    let tampered = |name: &str| {
        let dir = work.path().join(name);
        copy_dir(&out, &dir);
        dir
    };
    let dir = tampered("flipped");
    let photo = dir.join("natives/evidence/photos/scène été.bin");
    let mut photo_bytes = std::fs::read(&photo).unwrap();
    photo_bytes[60_000] ^= 0x80;
    std::fs::write(&photo, photo_bytes).unwrap();
    let (code, said) = verify(app, database, &dir).await;
    assert_eq!(code, Some(1), "{said}");
    assert!(
        said.contains("evidence/photos/scène été.bin): the native does not match"),
        "{said}"
    );
    let dir = tampered("missing");
    std::fs::remove_file(dir.join("natives/pleadings/complaint.pdf")).unwrap();
    let (code, said) = verify(app, database, &dir).await;
    assert_eq!(code, Some(1), "{said}");
    assert!(
        said.contains("pleadings/complaint.pdf is missing"),
        "{said}"
    );
    let dir = tampered("manifest");
    let text = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    let sha = manifest["files"][0]["sha256"].as_str().unwrap();
    let forged = format!("{}0", &sha[..63]);
    std::fs::write(dir.join("manifest.json"), text.replacen(sha, &forged, 1)).unwrap();
    let (code, said) = verify(app, database, &dir).await;
    assert_eq!(code, Some(1), "{said}");
    assert!(
        said.contains("CF000001") && said.contains("does not match the manifest"),
        "{said}"
    );
    assert!(
        said.contains("loadfile.csv: row 2 (CF000001) does not agree"),
        "{said}"
    );
    let dir = tampered("loadfile");
    let dat_text = String::from_utf8(std::fs::read(dir.join("loadfile.dat")).unwrap()).unwrap();
    std::fs::write(
        dir.join("loadfile.dat"),
        dat_text.replacen("CF000002", "CF000009", 1),
    )
    .unwrap();
    let (code, said) = verify(app, database, &dir).await;
    assert_eq!(code, Some(1), "{said}");
    assert!(
        said.contains("loadfile.dat: row 3 (CF000002) does not agree"),
        "{said}"
    );
    let dir = tampered("audit");
    let entries = std::fs::read_to_string(dir.join("audit/entries.jsonl")).unwrap();
    let first = entries.lines().next().unwrap();
    let mut entry: Value = serde_json::from_str(first).unwrap();
    entry["details"] = json!("rewritten");
    std::fs::write(
        dir.join("audit/entries.jsonl"),
        entries.replacen(first, &entry.to_string(), 1),
    )
    .unwrap();
    let (code, said) = verify(app, database, &dir).await;
    assert_eq!(code, Some(1), "{said}");
    assert!(
        said.contains("differs from the entry its proof covers"),
        "{said}"
    );
    let (code, said) = verify(app, database, &work.path().join("nothing-here")).await;
    assert_eq!(code, Some(2), "{said}");

    // A ZIP, verified the same way.
    let zip = work.path().join("production.zip");
    let (code, stdout, stderr) = cli(
        app,
        database,
        &["export", "--case", &case, "--zip", zip.to_str().unwrap()],
    )
    .await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let (code, said) = verify(app, database, &zip).await;
    assert_eq!(code, Some(0), "{said}");

    // An interrupted export into a folder is redone; a finished one is refused.
    let again = work.path().join("again");
    std::fs::create_dir_all(again.join("natives")).unwrap();
    std::fs::write(again.join(".casefile-export"), b"").unwrap();
    std::fs::write(again.join("natives/half.casefile-partial"), b"half").unwrap();
    let (code, stdout, stderr) = cli(
        app,
        database,
        &["export", "--case", &case, "--out", again.to_str().unwrap()],
    )
    .await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(!again.join("natives/half.casefile-partial").exists());
    assert_eq!(verify(app, database, &again).await.0, Some(0));
    let (code, _, stderr) = cli(
        app,
        database,
        &["export", "--case", &case, "--out", again.to_str().unwrap()],
    )
    .await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("finished export already"), "{stderr}");

    // Over HTTP, by role.
    let viewer_id = UserId::new();
    let auditor_id = UserId::new();
    for (user, role) in [(viewer_id, "viewer"), (auditor_id, "auditor")] {
        let (s, b) = app
            .call(
                Method::PUT,
                &format!("/v1/cases/{case}/members/{user}"),
                Some(&owner),
                Some(json!({"role": role})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let fetch = |token: String| {
        let url = format!("{}/v1/cases/{case}/export.zip", app.base);
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    let response = fetch(owner.clone()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/zip");
    let body = response.bytes().await.unwrap();
    let http_zip = work.path().join("http.zip");
    std::fs::write(&http_zip, &body).unwrap();
    let (code, said) = verify(app, database, &http_zip).await;
    assert_eq!(code, Some(0), "{said}");
    let response = fetch(app.token(viewer_id)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let viewer_zip = work.path().join("viewer.zip");
    std::fs::write(&viewer_zip, response.bytes().await.unwrap()).unwrap();
    let (code, said) = verify(app, database, &viewer_zip).await;
    assert_eq!(code, Some(0), "{said}");
    assert!(
        !said.contains("audit checked"),
        "a viewer's export carries no audit trail: {said}"
    );
    let response = fetch(app.token(auditor_id)).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = fetch(app.token(UserId::new())).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let entries = audit_actions(app, &owner, &case).await;
    assert_eq!(
        count(&entries, "case_exported", None),
        5,
        "three CLI exports and two over HTTP"
    );

    // A native altered in the store stops the export, names the file, and is audited.
    let blob = blob_of_size(app._dir.path(), 120_050);
    let mut altered = std::fs::read(&blob).unwrap();
    altered[1] ^= 0x01;
    std::fs::write(&blob, &altered).unwrap();
    let broken = work.path().join("broken");
    let (code, stdout, stderr) = cli(
        app,
        database,
        &["export", "--case", &case, "--out", broken.to_str().unwrap()],
    )
    .await;
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("evidence/photos/scène été.bin"), "{stderr}");
    assert!(
        !broken.join("manifest.json").exists(),
        "an aborted export has no manifest"
    );
    let entries = audit_actions(app, &owner, &case).await;
    assert_eq!(count(&entries, "fixity_failed", None), 1, "{entries:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrub_reconcile_and_export_on_sqlite() {
    let app = start_with(|c| c.limits.upload_url_expiry_secs = 2).await;
    scrub_scenario(&app, None).await;
    reconcile_scenario(&app, None).await;
    export_scenario(&app, None).await;
    app.stop().await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrub_reconcile_and_export_on_postgres() {
    let (url, name) = super::sharing::on_postgres::fresh_database().await;
    let database = url.clone();
    let app = start_with(move |c| {
        c.limits.upload_url_expiry_secs = 2;
        c.database.url = Some(database);
    })
    .await;
    scrub_scenario(&app, Some(&url)).await;
    reconcile_scenario(&app, Some(&url)).await;
    export_scenario(&app, Some(&url)).await;
    app.stop().await;
    super::sharing::on_postgres::drop_database(&name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_scrub_audits_each_failure_once_across_instances() {
    // Bytes altered while casefile was down; two instances of `serve` on one database and store
    // then scrub every second: the file is named once in the audit trail, not once per instance
    // or per tick.
    let app = start().await;
    let owner_id = UserId::new();
    let owner = app.token(owner_id);
    let case = new_case(&app, &owner).await;
    let file = put(&app, &owner, &case, "evidence/tape.bin", bytes(7, 150_007)).await;
    let data = app._dir.path().to_path_buf();
    let base = app.base.clone();
    let server = {
        let mut app = app;
        let server = app.server.take();
        server.unwrap().stop().await.unwrap();
        app
    };
    let blob = blob_of_size(&data, 150_007);
    let mut altered = std::fs::read(&blob).unwrap();
    altered[3] ^= 0x04;
    std::fs::write(&blob, &altered).unwrap();

    let config = Config {
        data_dir: data.clone(),
        listen: "127.0.0.1:0".parse().unwrap(),
        scrub: casefile_app::config::ScrubConfig {
            interval_secs: 1,
            older_than_secs: Some(3600),
            ..casefile_app::config::ScrubConfig::default()
        },
        ..Config::default()
    };
    let (one, _) = casefile_app::start(&config).await.unwrap();
    let (two, _) = casefile_app::start(&config).await.unwrap();
    let running = Running {
        base: format!("http://{}", one.addr),
        tokens: server.tokens.clone(),
        secret: server.secret.clone(),
        server: Some(one),
        _dir: server._dir,
    };
    assert_ne!(running.base, base);
    let mut entries = Vec::new();
    for _ in 0..100 {
        entries = audit_actions(&running, &owner, &case).await;
        if count(&entries, "fixity_failed", Some(&file)) > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // A few more ticks on both instances.
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let entries_after = audit_actions(&running, &owner, &case).await;
    assert_eq!(
        count(&entries, "fixity_failed", Some(&file)),
        1,
        "{entries:?}"
    );
    assert_eq!(
        count(&entries_after, "fixity_failed", Some(&file)),
        1,
        "{entries_after:?}"
    );
    two.stop().await.unwrap();
    running.stop().await;
}
