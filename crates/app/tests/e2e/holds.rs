//! Legal holds over HTTP: place, delete refused, a second hold counted, release, delete allowed;
//! retention; who may do what; bad input.

use reqwest::Method;

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn holds_and_retention_over_http() {
    let app = start().await;
    let owner = UserId::new();
    let editor = UserId::new();
    let owner_token = app.token(owner);
    let editor_token = app.token(editor);
    let case = new_case(&app, &owner_token).await;
    let (s, _) = app
        .call(
            Method::PUT,
            &format!("/v1/cases/{case}/members/{editor}"),
            Some(&owner_token),
            Some(json!({"role": "editor"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let response = app
        .put_file(
            &owner_token,
            &case,
            "pleadings/brief.pdf",
            &[],
            b"%PDF-1.7\nbrief".to_vec(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let file: Value = response.json().await.unwrap();
    let file_id = file["id"].as_str().unwrap().to_owned();

    let place = |token: String, body: Value| {
        let app = &app;
        let case = case.clone();
        async move {
            app.call(
                Method::POST,
                &format!("/v1/cases/{case}/holds"),
                Some(&token),
                Some(body),
            )
            .await
        }
    };
    // Bad input and roles.
    let (s, b) = place(owner_token.clone(), json!({"name": "", "reason": "x"})).await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::BAD_REQUEST, "invalid_input"),
        "{b}"
    );
    let (s, b) = place(owner_token.clone(), json!({"name": "x", "reason": "  "})).await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::BAD_REQUEST, "invalid_input"),
        "{b}"
    );
    let (s, b) = place(editor_token.clone(), json!({"name": "x", "reason": "y"})).await;
    assert_eq!((s, code(&b)), (StatusCode::FORBIDDEN, "forbidden"), "{b}");
    let (s, b) = place(
        app.token(UserId::new()),
        json!({"name": "x", "reason": "y"}),
    )
    .await;
    assert_eq!((s, code(&b)), (StatusCode::NOT_FOUND, "not_found"), "{b}");
    // A file of another case.
    let other_case = new_case(&app, &owner_token).await;
    let other = app
        .put_file(
            &owner_token,
            &other_case,
            "x.pdf",
            &[],
            b"%PDF-1.7\nx".to_vec(),
        )
        .await;
    let other: Value = other.json().await.unwrap();
    let (s, b) = place(
        owner_token.clone(),
        json!({"name": "x", "reason": "y", "scope": {"kind": "files", "file_ids": [other["id"]]}}),
    )
    .await;
    assert_eq!((s, code(&b)), (StatusCode::NOT_FOUND, "not_found"), "{b}");

    // Two holds: the whole case, and a prefix.
    let (s, first) = place(
        owner_token.clone(),
        json!({"name": "Doe v. Roe", "reason": "litigation anticipated"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{first}");
    assert_eq!(first["scope"]["kind"], "case");
    let (s, second) = place(
        owner_token.clone(),
        json!({"name": "Subpoena 7", "reason": "subpoena",
               "scope": {"kind": "prefix", "prefix": "pleadings/"}}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{second}");
    let (s, listed) = app
        .call(
            Method::GET,
            &format!("/v1/cases/{case}/holds"),
            Some(&editor_token),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(listed["holds"].as_array().unwrap().len(), 2);
    let (s, meta) = app
        .call(
            Method::GET,
            &format!("/v1/files/{file_id}"),
            Some(&editor_token),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(meta["held"], true);
    assert_eq!(meta["holds"], json!([first["id"], second["id"]]));

    let delete = |token: String| {
        let app = &app;
        let file_id = file_id.clone();
        async move {
            app.call(
                Method::DELETE,
                &format!("/v1/files/{file_id}"),
                Some(&token),
                None,
            )
            .await
        }
    };
    let (s, b) = delete(editor_token.clone()).await;
    assert_eq!((s, code(&b)), (StatusCode::CONFLICT, "held"), "{b}");
    let message = b["error"]["message"].as_str().unwrap();
    assert!(message.contains(first["id"].as_str().unwrap()), "{message}");

    let release = |hold: &Value, token: String| {
        let app = &app;
        let id = hold["id"].as_str().unwrap().to_owned();
        async move {
            app.call(
                Method::POST,
                &format!("/v1/holds/{id}/release"),
                Some(&token),
                Some(json!({"reason": "settled"})),
            )
            .await
        }
    };
    let (s, b) = release(&first, editor_token.clone()).await;
    assert_eq!((s, code(&b)), (StatusCode::FORBIDDEN, "forbidden"), "{b}");
    let (s, b) = release(&first, owner_token.clone()).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["active"], false);
    let (s, b) = release(&first, owner_token.clone()).await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::CONFLICT, "conflict"),
        "released twice: {b}"
    );
    let (s, b) = delete(editor_token.clone()).await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::CONFLICT, "held"),
        "the second hold counts: {b}"
    );
    let (s, _) = release(&second, owner_token.clone()).await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = delete(editor_token.clone()).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");

    // Retention.
    let retention = |until: String, token: String| {
        let app = &app;
        let case = case.clone();
        async move {
            app.call(
                Method::PUT,
                &format!("/v1/cases/{case}/retention"),
                Some(&token),
                Some(json!({"retain_until": until})),
            )
            .await
        }
    };
    let (s, b) = retention("2001-01-01T00:00:00Z".into(), owner_token.clone()).await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::BAD_REQUEST, "invalid_input"),
        "{b}"
    );
    let (s, b) = retention("2999-01-01T00:00:00Z".into(), editor_token.clone()).await;
    assert_eq!((s, code(&b)), (StatusCode::FORBIDDEN, "forbidden"), "{b}");
    let (s, b) = retention("2999-01-01T00:00:00Z".into(), owner_token.clone()).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["retain_until"], "2999-01-01T00:00:00Z");
    let (s, b) = retention("2998-01-01T00:00:00Z".into(), owner_token.clone()).await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::CONFLICT, "conflict"),
        "shortened: {b}"
    );
    let response = app
        .put_file(
            &owner_token,
            &case,
            "notes/memo.pdf",
            &[],
            b"%PDF-1.7\nmemo".to_vec(),
        )
        .await;
    let memo: Value = response.json().await.unwrap();
    let (s, b) = app
        .call(
            Method::DELETE,
            &format!("/v1/files/{}", memo["id"].as_str().unwrap()),
            Some(&owner_token),
            None,
        )
        .await;
    assert_eq!((s, code(&b)), (StatusCode::CONFLICT, "retained"), "{b}");

    // A file's own retention, later than the case's.
    let memo_id = memo["id"].as_str().unwrap().to_owned();
    let file_retention = |until: &str, token: String| {
        let app = &app;
        let path = format!("/v1/files/{memo_id}/retention");
        let body = json!({"retain_until": until});
        async move { app.call(Method::PUT, &path, Some(&token), Some(body)).await }
    };
    let (s, b) = file_retention("2998-01-01T00:00:00Z", owner_token.clone()).await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::BAD_REQUEST, "invalid_input"),
        "not later than the case's: {b}"
    );
    let (s, b) = file_retention("3001-01-01T00:00:00Z", editor_token.clone()).await;
    assert_eq!((s, code(&b)), (StatusCode::FORBIDDEN, "forbidden"), "{b}");
    let (s, b) = file_retention("3001-01-01T00:00:00Z", owner_token.clone()).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["retain_until"], "3001-01-01T00:00:00Z");
    let (s, b) = file_retention("3000-06-01T00:00:00Z", owner_token.clone()).await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::CONFLICT, "conflict"),
        "shortened: {b}"
    );

    // Every step is on the trail.
    let (_, audit) = app
        .call(
            Method::GET,
            &format!("/v1/cases/{case}/audit?limit=1000"),
            Some(&owner_token),
            None,
        )
        .await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in [
        "hold_placed",
        "hold_released",
        "holds_listed",
        "retention_set",
        "delete_refused",
    ] {
        assert!(actions.contains(&action), "{action}: {actions:?}");
    }
    assert_eq!(
        actions.iter().filter(|a| **a == "delete_refused").count(),
        3,
        "{actions:?}"
    );
    // Every entry carries its place in the audit log, in order.
    let indexes: Vec<u64> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["log_index"].as_u64().expect("a log index"))
        .collect();
    assert!(indexes.windows(2).all(|w| w[0] < w[1]), "{indexes:?}");
    app.stop().await;
}

/// `casefile holds reconcile` on a store without a lock of its own says so and succeeds.
#[tokio::test(flavor = "multi_thread")]
async fn reconcile_on_the_local_store_has_nothing_to_compare() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = run_cli(
        dir.path().to_path_buf(),
        data,
        &["holds", "reconcile", "--fix"],
        Vec::new(),
    )
    .await;
    assert!(out.contains("nothing to reconcile"), "{out}");
}

/// `casefile audit verify` on the embedded default: a log written by the server verifies; a row
/// edited behind casefile's back (the append-only trigger dropped first) is named, exit code 1.
#[tokio::test(flavor = "multi_thread")]
async fn the_audit_log_verifies_and_names_an_edited_entry() {
    use diesel::{Connection, RunQueryDsl};
    let app = start().await;
    let token = app.token(UserId::new());
    new_case(&app, &token).await;
    new_case(&app, &token).await;
    // The server keeps running (SQLite in WAL mode takes a reader and a writer beside it).
    let data = app._dir.path().to_path_buf();
    let verify = |data: std::path::PathBuf| async move {
        let (code, stdout, _) = casefile_cli(&data, &data, &["audit", "verify"], Vec::new()).await;
        (code, stdout)
    };
    let (code, stdout) = verify(data.clone()).await;
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("entries 2, in the tree 2"), "{stdout}");
    assert!(stdout.contains("the audit log verifies"), "{stdout}");

    let db = data.join("casefile.db");
    let mut conn = diesel::SqliteConnection::establish(db.to_str().unwrap()).unwrap();
    for sql in [
        "DROP TRIGGER audit_log_no_update",
        "UPDATE audit_log SET details = 'never happened' WHERE log_index = 1",
    ] {
        diesel::sql_query(sql).execute(&mut conn).unwrap();
    }
    let (code, stdout) = verify(data).await;
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("tampered: index 1"), "{stdout}");
    app.stop().await;
}

/// Signed checkpoints: `GET /v1/audit/checkpoint` signs the log as it stands (kept in the
/// database and anchored in the store); `casefile audit verify` checks them all with the key
/// `casefile audit public-key` prints. An anchored checkpoint replaced by one signed with another
/// key is named; so is a database rolled back behind an anchored checkpoint.
#[tokio::test(flavor = "multi_thread")]
async fn checkpoints_are_signed_anchored_and_verified() {
    use casefile_domain::legal::audit_log::{self, CheckpointSigner, TreeHead};
    use casefile_domain::storage::{ObjectStorage, PutOptions};
    use diesel::{Connection, RunQueryDsl};
    let app = start().await;
    let data = app._dir.path().to_path_buf();
    let token = app.token(UserId::new());
    new_case(&app, &token).await;
    let cli = |args: &'static [&'static str], data: std::path::PathBuf| async move {
        let (code, stdout, _) = casefile_cli(&data, &data, args, Vec::new()).await;
        (code, stdout)
    };
    let checkpoint = || async {
        let response = reqwest::Client::new()
            .get(format!("{}/v1/audit/checkpoint", app.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.unwrap()
    };
    let note = checkpoint().await;
    assert!(note.starts_with("casefile.local/audit\n"), "{note}");
    let (code, key) = cli(&["audit", "public-key"], data.clone()).await;
    assert_eq!(code, Some(0));
    let key = key.trim().to_owned();
    let head = audit_log::open_checkpoint(&note, &key).expect("signed by the published key");
    assert!(head.size >= 1, "the case's creation at least: {head:?}");
    let (code, out) = cli(&["audit", "verify"], data.clone()).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("the audit log verifies"), "{out}");
    let (code, _) = cli(
        &["audit", "verify", "--public-key", "not-a-key"],
        data.clone(),
    )
    .await;
    assert_eq!(code, Some(2), "a malformed key is exit code 2");

    // Roll-back: a consistent copy of the database now, then the log grows and is checkpointed.
    let db = data.join("casefile.db");
    let snapshot = data.join("snapshot.db");
    let mut conn = diesel::SqliteConnection::establish(db.to_str().unwrap()).unwrap();
    diesel::sql_query(format!("VACUUM INTO '{}'", snapshot.display()))
        .execute(&mut conn)
        .unwrap();
    drop(conn);
    new_case(&app, &token).await;
    let later = audit_log::open_checkpoint(&checkpoint().await, &key).unwrap();
    assert!(later.size > head.size);

    // An anchored checkpoint replaced by one signed with another key.
    let store = casefile_storage_local::FsStorage::new(data.join("objects")).unwrap();
    let forger = CheckpointSigner::from_seed("casefile.local/audit", [9; 32]).unwrap();
    let forged = forger
        .sign(TreeHead {
            size: head.size,
            root: [0; 32],
        })
        .unwrap();
    let anchored = audit_log::checkpoint_key(head.size);
    let genuine = store.download(&anchored).await.expect("anchored");
    store
        .upload(&anchored, forged.into(), PutOptions::default())
        .await
        .unwrap();
    let (code, out) = cli(&["audit", "verify"], data.clone()).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("anchored") && out.contains("not signed"),
        "{out}"
    );
    store
        .upload(&anchored, genuine, PutOptions::default())
        .await
        .unwrap();

    // The database rolled back to the copy (the server keeps the old file open; the command
    // opens the copy): the anchored checkpoint of the larger log says so.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(data.join(format!("casefile.db{suffix}")));
    }
    std::fs::rename(&snapshot, &db).unwrap();
    let (code, out) = cli(&["audit", "verify"], data.clone()).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("rolled back"), "{out}");
    app.stop().await;
}

/// Proofs over HTTP: an owner proves an entry of their case against the latest signed checkpoint
/// and checks it offline with the published key; a later checkpoint is proven consistent with
/// the earlier one; a stranger gets 404; indexes and sizes past the log get 400.
#[tokio::test(flavor = "multi_thread")]
async fn entries_are_proven_in_the_log_and_the_log_only_grows() {
    use casefile_domain::legal::audit_log;
    let app = start().await;
    let owner = UserId::new();
    let token = app.token(owner);
    let case = new_case(&app, &token).await;
    let (_, trail) = app
        .call(
            Method::GET,
            &format!("/v1/cases/{case}/audit"),
            Some(&token),
            None,
        )
        .await;
    let index = trail["entries"][0]["log_index"].as_u64().unwrap();
    let (status, proof) = app
        .call(
            Method::GET,
            &format!("/v1/audit/entries/{index}/proof"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{proof}");
    let key = casefile_app::checkpoint_signer(&casefile_app::config::Config {
        data_dir: app._dir.path().to_path_buf(),
        ..casefile_app::config::Config::default()
    })
    .unwrap()
    .verifier_key();
    let signed = audit_log::open_checkpoint(proof["checkpoint"].as_str().unwrap(), &key).unwrap();
    let unhex = |v: &Value| -> [u8; 32] {
        let s = v.as_str().unwrap();
        let bytes: Vec<u8> = (0..64)
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect();
        bytes.try_into().unwrap()
    };
    assert_eq!(proof["tree_size"].as_u64(), Some(signed.size));
    assert_eq!(unhex(&proof["root"]), signed.root);
    let path: Vec<[u8; 32]> = proof["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(unhex)
        .collect();
    assert!(audit_log::check_inclusion(
        &path,
        signed.size,
        signed.root,
        index,
        unhex(&proof["leaf_hash"])
    ));

    // The log grows; the later checkpoint extends the earlier one.
    new_case(&app, &token).await;
    let response = reqwest::Client::new()
        .get(format!("{}/v1/audit/checkpoint", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let later = audit_log::open_checkpoint(&response.text().await.unwrap(), &key).unwrap();
    let (status, consistency) = app
        .call(
            Method::GET,
            &format!(
                "/v1/audit/consistency?from={}&to={}",
                signed.size, later.size
            ),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{consistency}");
    let path: Vec<[u8; 32]> = consistency["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(unhex)
        .collect();
    assert!(audit_log::check_consistency(
        &path,
        later.size,
        later.root,
        signed.size,
        signed.root
    ));

    // Exported and checked offline: as it is, edited, malformed, and with another key.
    let verify_entry = |json: String, key: Option<String>| {
        let dir = app._dir.path().to_path_buf();
        async move {
            let file = dir.join(format!("proof-{}.json", uuid::Uuid::new_v4().simple()));
            std::fs::write(&file, json).unwrap();
            let file = file.to_string_lossy().into_owned();
            let mut args = vec!["audit", "verify-entry", file.as_str()];
            if let Some(key) = &key {
                args.extend(["--public-key", key.as_str()]);
            }
            let (code, stdout, _) = casefile_cli(&dir, &dir, &args, Vec::new()).await;
            (code, stdout)
        }
    };
    let (exit, out) = verify_entry(proof.to_string(), None).await;
    assert_eq!(exit, Some(0), "{out}");
    assert!(
        out.contains(&format!("entry {index} is in the log")),
        "{out}"
    );
    let mut edited = proof.clone();
    edited["entry"]["details"] = json!("never happened");
    let (exit, out) = verify_entry(edited.to_string(), None).await;
    assert_eq!(exit, Some(1), "{out}");
    assert!(out.contains("edited"), "{out}");
    let (exit, _) = verify_entry("{not json".into(), None).await;
    assert_eq!(exit, Some(2), "malformed");
    let other = casefile_domain::legal::audit_log::CheckpointSigner::from_seed(
        "casefile.local/audit",
        [5; 32],
    )
    .unwrap()
    .verifier_key();
    let (exit, out) = verify_entry(proof.to_string(), Some(other)).await;
    assert_eq!(exit, Some(1), "another key: {out}");

    // A stranger; past the end; a tree larger than the log.
    let (status, body) = app
        .call(
            Method::GET,
            &format!("/v1/audit/entries/{index}/proof"),
            Some(&app.token(UserId::new())),
            None,
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "not_found"),
        "{body}"
    );
    for path in [
        format!("/v1/audit/entries/{}/proof", later.size + 10),
        format!(
            "/v1/audit/entries/{index}/proof?tree_size={}",
            later.size + 10
        ),
        format!("/v1/audit/consistency?from=0&to={}", later.size + 10),
        "/v1/audit/entries/abc/proof".to_owned(),
    ] {
        let (status, body) = app.call(Method::GET, &path, Some(&token), None).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_input"),
            "{path}: {body}"
        );
    }
    app.stop().await;
}
