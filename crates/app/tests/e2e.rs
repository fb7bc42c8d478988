//! End to end: the real server on an ephemeral port, driven by a real HTTP client, on the
//! embedded default (local files + SQLite): the whole flow, then the bad requests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use casefile_app::auth::Tokens;
use casefile_app::config::Config;
use casefile_domain::Sha256;
use casefile_domain::legal::UserId;
use reqwest::StatusCode;
use serde_json::{Value, json};

struct Running {
    base: String,
    tokens: Tokens,
    server: Option<casefile_app::Server>,
    _dir: tempfile::TempDir,
}

async fn start() -> Running {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    };
    let (server, description) = casefile_app::start(&config).await.expect("server starts");
    assert!(
        description.contains("fs") && description.contains("SQLite"),
        "{description}"
    );
    let (secret, generated) = casefile_app::jwt_secret(&config).unwrap();
    assert!(
        generated,
        "with no secret configured one is generated into the data directory"
    );
    Running {
        base: format!("http://{}", server.addr),
        tokens: Tokens::new(&secret),
        server: Some(server),
        _dir: dir,
    }
}

impl Running {
    fn token(&self, user: UserId) -> String {
        self.tokens.mint(user, 600).unwrap()
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = reqwest::Client::new().request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await.unwrap();
        }
    }
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<none>")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_flow_on_the_embedded_default() {
    use reqwest::Method as M;
    let app = start().await;
    let alice = app.token(UserId::new());
    let (status, case) = app
        .call(
            M::POST,
            "/v1/cases",
            Some(&alice),
            Some(json!({"title": "Doe v. Roe"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{case}");
    let case_id = case["id"].as_str().unwrap().to_owned();

    let content =
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer".to_vec();
    let sha = Sha256::digest(&content).to_hex();
    let (status, started) = app
        .call(M::POST, &format!("/v1/cases/{case_id}/uploads"), Some(&alice),
              Some(json!({"logical_path": "pleadings/motion.pdf", "file_size": content.len(), "content_hash": sha})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let file_id = started["file_id"].as_str().unwrap().to_owned();
    let upload = &started["upload"];
    assert_eq!(upload["method"], "PUT");
    let url = upload["url"].as_str().unwrap().to_owned();

    // Complete before the bytes arrive.
    let (status, body) = app
        .call(
            M::POST,
            &format!("/v1/files/{file_id}/complete"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "upload_missing")
    );

    // Upload exactly as the server said: the URL and its headers, no token.
    let put = |url: String, body: Vec<u8>| {
        let mut req = reqwest::Client::new().put(url);
        for (k, v) in upload["headers"].as_object().unwrap() {
            req = req.header(k, v.as_str().unwrap());
        }
        req.body(body).send()
    };
    let tampered = url.replace("cf-max-size=", "cf-max-size=9");
    assert_eq!(
        put(tampered, content.clone()).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let mut longer = content.clone();
    longer.push(b'!');
    assert_eq!(
        put(url.clone(), longer).await.unwrap().status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(
        put(url.clone(), content.clone()).await.unwrap().status(),
        StatusCode::CREATED
    );

    let (status, file) = app
        .call(
            M::POST,
            &format!("/v1/files/{file_id}/complete"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{file}");
    assert_eq!(file["status"], "completed");
    assert_eq!(file["content_hash"], sha.as_str());

    let (status, list) = app
        .call(
            M::GET,
            &format!("/v1/cases/{case_id}/files?prefix=pleadings"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["files"].as_array().unwrap().len(), 1);
    assert_eq!(list["next_cursor"], Value::Null);
    let (status, meta) = app
        .call(M::GET, &format!("/v1/files/{file_id}"), Some(&alice), None)
        .await;
    assert_eq!(
        (status, meta["file_size"].as_u64()),
        (StatusCode::OK, Some(content.len() as u64))
    );

    let whole = reqwest::Client::new()
        .get(format!("{}/v1/files/{file_id}/content", app.base))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(whole.status(), StatusCode::OK);
    assert!(
        whole.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("motion.pdf")
    );
    assert_eq!(whole.headers()["content-type"], "application/pdf");
    assert_eq!(whole.bytes().await.unwrap().to_vec(), content);
    let part = reqwest::Client::new()
        .get(format!("{}/v1/files/{file_id}/content", app.base))
        .bearer_auth(&alice)
        .header("range", "bytes=2-5")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 2-5/{}", content.len()).as_str()
    );
    assert_eq!(part.bytes().await.unwrap().to_vec(), content[2..6].to_vec());
    let past = reqwest::Client::new()
        .get(format!("{}/v1/files/{file_id}/content", app.base))
        .bearer_auth(&alice)
        .header("range", "bytes=9999-")
        .send()
        .await
        .unwrap();
    assert_eq!(past.status(), StatusCode::RANGE_NOT_SATISFIABLE);

    let (status, link) = app
        .call(
            M::GET,
            &format!("/v1/files/{file_id}/download-url"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let fetched = reqwest::get(link["url"].as_str().unwrap()).await.unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.bytes().await.unwrap().to_vec(), content);

    // Direct upload, streamed through the server.
    let other = b"second document".to_vec();
    let direct = reqwest::Client::new()
        .put(format!(
            "{}/v1/cases/{case_id}/files?logical_path=notes/second.txt",
            app.base
        ))
        .bearer_auth(&alice)
        .header("x-content-sha256", Sha256::digest(&other).to_hex())
        .header("content-type", "text/plain")
        .body(other.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status(), StatusCode::CREATED);

    let (status, _) = app
        .call(
            M::DELETE,
            &format!("/v1/files/{file_id}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app
        .call(M::GET, &format!("/v1/files/{file_id}"), Some(&alice), None)
        .await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "not_found"));

    let (status, audit) = app
        .call(
            M::GET,
            &format!("/v1/cases/{case_id}/audit?limit=1000"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for expected in [
        "case_created",
        "upload_initiated",
        "upload_completed",
        "file_downloaded",
        "download_url_issued",
        "files_listed",
        "file_deleted",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
    let health = reqwest::get(format!("{}/healthz", app.base)).await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_their_status_and_code() {
    use reqwest::Method as M;
    let app = start().await;
    let alice = app.token(UserId::new());
    let bob = app.token(UserId::new());
    let (_, case) = app
        .call(
            M::POST,
            "/v1/cases",
            Some(&alice),
            Some(json!({"title": "Mine"})),
        )
        .await;
    let case_id = case["id"].as_str().unwrap().to_owned();

    let (s, b) = app.call(M::GET, "/v1/cases", None, None).await;
    assert_eq!((s, code(&b)), (StatusCode::UNAUTHORIZED, "unauthorized"));
    let expired = app.tokens.mint(UserId::new(), -5).unwrap();
    assert_eq!(
        app.call(M::GET, "/v1/cases", Some(&expired), None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let forged = Tokens::new(&[9u8; 32]).mint(UserId::new(), 600).unwrap();
    assert_eq!(
        app.call(M::GET, "/v1/cases", Some(&forged), None).await.0,
        StatusCode::UNAUTHORIZED
    );

    let (s, b) = app
        .call(M::GET, &format!("/v1/cases/{case_id}"), Some(&bob), None)
        .await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::NOT_FOUND, "not_found"),
        "another user's case"
    );
    let (s, _) = app
        .call(
            M::GET,
            &format!("/v1/cases/{case_id}/files"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let sha = Sha256::digest(b"x").to_hex();
    for path in [
        "../etc/passwd",
        "a/../../b",
        "/abs",
        "a\u{0}b",
        "a\nb",
        "．．／x",
    ] {
        let (s, b) = app
            .call(
                M::POST,
                &format!("/v1/cases/{case_id}/uploads"),
                Some(&alice),
                Some(json!({"logical_path": path, "file_size": 1, "content_hash": sha})),
            )
            .await;
        assert_eq!(
            (s, code(&b)),
            (StatusCode::BAD_REQUEST, "invalid_input"),
            "{path:?}"
        );
    }
    let (s, b) = app
        .call(
            M::POST,
            &format!("/v1/cases/{case_id}/uploads"),
            Some(&alice),
            Some(json!({"logical_path": "big.bin", "file_size": 1u64 << 40, "content_hash": sha})),
        )
        .await;
    assert_eq!((s, code(&b)), (StatusCode::PAYLOAD_TOO_LARGE, "too_large"));

    // Declared one content, uploaded another (the local store refuses it at the door).
    let (_, started) = app
        .call(M::POST, &format!("/v1/cases/{case_id}/uploads"), Some(&alice),
              Some(json!({"logical_path": "x.txt", "file_size": 1, "content_hash": sha, "mime_type": "text/plain"})))
        .await;
    let url = started["upload"]["url"].as_str().unwrap();
    let wrong = reqwest::Client::new()
        .put(url)
        .header("content-type", "text/plain")
        .body("y")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let file_id = started["file_id"].as_str().unwrap();
    let (s, b) = app
        .call(
            M::POST,
            &format!("/v1/files/{file_id}/complete"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::NOT_FOUND, "not_found"),
        "another user's file"
    );

    let malformed = reqwest::Client::new()
        .post(format!("{}/v1/cases", app.base))
        .bearer_auth(&alice)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert!(
        malformed.status().is_client_error(),
        "{}",
        malformed.status()
    );
    let (s, b) = app
        .call(M::GET, "/v1/nothing-here", Some(&alice), None)
        .await;
    assert_eq!((s, code(&b)), (StatusCode::NOT_FOUND, "not_found"));
    app.stop().await;
}
