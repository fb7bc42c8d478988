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
    secret: Vec<u8>,
    server: Option<casefile_app::Server>,
    _dir: tempfile::TempDir,
}

async fn start() -> Running {
    start_with(|_| {}).await
}

async fn start_with(tweak: impl FnOnce(&mut Config)) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    };
    tweak(&mut config);
    let postgres = config
        .database
        .url
        .as_deref()
        .is_some_and(|u| u.starts_with("postgres"));
    if postgres && config.auth.jwt_secret.is_none() {
        // With PostgreSQL the shared secrets must be configured: the ones generated into the
        // data directory are configured, so that the CLI run on that directory agrees.
        let jwt = casefile_app::secrets::load_or_create(&config.data_dir.join("jwt.secret"))
            .unwrap()
            .0;
        let audit =
            casefile_app::secrets::load_or_create(&config.data_dir.join("audit-signing.secret"))
                .unwrap()
                .0;
        config.auth.jwt_secret = Some(jwt);
        config.audit.signing_key = Some(audit);
    }
    let (server, description) = casefile_app::start(&config).await.expect("server starts");
    assert!(description.contains("fs"), "{description}");
    if config.database.url.is_none() {
        assert!(description.contains("SQLite"), "{description}");
    }
    let (secret, generated) = casefile_app::jwt_secret(&config).unwrap();
    assert!(
        generated || postgres,
        "with no secret configured one is generated into the data directory"
    );
    Running {
        base: format!("http://{}", server.addr),
        tokens: Tokens::new(&secret),
        secret: secret.clone(),
        server: Some(server),
        _dir: dir,
    }
}

impl Running {
    fn token(&self, user: UserId) -> String {
        self.tokens.mint(user, 600).unwrap()
    }

    /// A token with these claims, signed with the server's secret.
    fn signed(&self, claims: &Value) -> String {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            claims,
            &jsonwebtoken::EncodingKey::from_secret(&self.secret),
        )
        .unwrap()
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

    /// A direct upload (`PUT /v1/cases/{case}/files?logical_path=…`) with these headers.
    async fn put_file(
        &self,
        token: &str,
        case: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let mut request = reqwest::Client::new()
            .put(format!(
                "{}/v1/cases/{case}/files?logical_path={path}",
                self.base
            ))
            .bearer_auth(token);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(body).send().await.unwrap()
    }

    async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await.unwrap();
        }
    }
}

#[path = "e2e/client.rs"]
mod client;
#[path = "e2e/holds.rs"]
mod holds;
#[path = "e2e/integrity.rs"]
mod integrity;
#[path = "e2e/oidc.rs"]
mod oidc;
#[path = "e2e/ops.rs"]
mod ops;
#[path = "e2e/sharing.rs"]
mod sharing;
#[path = "e2e/shutdown.rs"]
mod shutdown;

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
    let direct = app
        .put_file(
            &alice,
            &case_id,
            "notes/second.txt",
            &[
                ("x-content-sha256", Sha256::digest(&other).to_hex().as_str()),
                ("content-type", "text/plain"),
            ],
            other.clone(),
        )
        .await;
    assert_eq!(direct.status(), StatusCode::CREATED);
    // Without x-content-sha256 the server computes and records it.
    let third = b"third document, hash computed by the server".to_vec();
    let direct = app
        .put_file(
            &alice,
            &case_id,
            "notes/third.txt",
            &[("content-type", "text/plain")],
            third.clone(),
        )
        .await;
    assert_eq!(direct.status(), StatusCode::CREATED);
    let recorded: serde_json::Value = direct.json().await.unwrap();
    assert_eq!(
        recorded["content_hash"],
        Sha256::digest(&third).to_hex().as_str()
    );
    assert_eq!(recorded["status"], "completed");
    // With one that does not match the body: refused, nothing kept.
    let other_hash = Sha256::digest(b"something else").to_hex();
    let refused = app
        .put_file(
            &alice,
            &case_id,
            "notes/fourth.txt",
            &[("x-content-sha256", &other_hash)],
            third.clone(),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refused: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(code(&refused), "integrity_mismatch");

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
    let expired = app.signed(&json!({"sub": UserId::new().to_string(),
        "iat": chrono::Utc::now().timestamp() - 60, "exp": chrono::Utc::now().timestamp() - 5}));
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

    // Another user's case and file, on every route: `not_found`, as if missing, and nothing of
    // Alice's changes.
    let kept = b"kept".to_vec();
    let alices = app
        .put_file(
            &alice,
            &case_id,
            "kept.txt",
            &[("content-type", "text/plain")],
            kept.clone(),
        )
        .await;
    assert_eq!(alices.status(), StatusCode::CREATED);
    let alices: Value = alices.json().await.unwrap();
    let alices = alices["id"].as_str().unwrap().to_owned();
    let routes: Vec<(M, String, Option<Value>)> = vec![
        (M::GET, format!("/v1/cases/{case_id}"), None),
        (
            M::POST,
            format!("/v1/cases/{case_id}/uploads"),
            Some(json!({"logical_path": "b.txt", "file_size": 1, "content_hash": sha})),
        ),
        (M::GET, format!("/v1/cases/{case_id}/files"), None),
        (M::GET, format!("/v1/cases/{case_id}/audit"), None),
        (M::GET, format!("/v1/files/{alices}"), None),
        (M::GET, format!("/v1/files/{alices}/content"), None),
        (M::GET, format!("/v1/files/{alices}/download-url"), None),
        (M::POST, format!("/v1/files/{alices}/complete"), None),
        (M::DELETE, format!("/v1/files/{alices}"), None),
    ];
    for (method, path, body) in routes {
        let (s, b) = app.call(method.clone(), &path, Some(&bob), body).await;
        assert_eq!(
            (s, code(&b)),
            (StatusCode::NOT_FOUND, "not_found"),
            "{method} {path} as another user"
        );
    }
    let intruding = app.put_file(&bob, &case_id, "intruder.txt", &[], "x").await;
    assert_eq!(intruding.status(), StatusCode::NOT_FOUND);
    let still = reqwest::Client::new()
        .get(format!("{}/v1/files/{alices}/content", app.base))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(still.status(), StatusCode::OK);
    assert_eq!(still.bytes().await.unwrap().to_vec(), kept);
    let (_, listing) = app
        .call(
            M::GET,
            &format!("/v1/cases/{case_id}/files"),
            Some(&alice),
            None,
        )
        .await;
    let paths: Vec<&str> = listing["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["logical_path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["kept.txt"], "nothing of Bob's reached Alice's case");

    let malformed = reqwest::Client::new()
        .post(format!("{}/v1/cases", app.base))
        .bearer_auth(&alice)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let malformed: Value = malformed.json().await.unwrap();
    assert_eq!(code(&malformed), "invalid_input");
    let untyped = reqwest::Client::new()
        .post(format!("{}/v1/cases", app.base))
        .bearer_auth(&alice)
        .body(r#"{"title":"no content type"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(untyped.status(), StatusCode::BAD_REQUEST);
    let (s, b) = app
        .call(
            M::POST,
            "/v1/cases",
            Some(&alice),
            Some(json!({"name": "wrong field"})),
        )
        .await;
    assert_eq!((s, code(&b)), (StatusCode::BAD_REQUEST, "invalid_input"));
    let (s, b) = app
        .call(
            M::GET,
            &format!("/v1/cases/{case_id}/files?limit=many"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!((s, code(&b)), (StatusCode::BAD_REQUEST, "invalid_input"));
    let (s, b) = app
        .call(M::GET, "/v1/nothing-here", Some(&alice), None)
        .await;
    assert_eq!((s, code(&b)), (StatusCode::NOT_FOUND, "not_found"));
    app.stop().await;
}

/// `GET /openapi.json`: a valid OpenAPI 3.1 document whose references all resolve, listing
/// exactly the API's routes — and every route it lists is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_is_valid_and_lists_every_route() {
    let app = start().await;
    let response = reqwest::get(format!("{}/openapi.json", app.base))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let text = response.text().await.unwrap();
    let spec = oas3::from_json(&text).expect("an OpenAPI 3.1 document");
    spec.validate_version()
        .expect("a supported OpenAPI version");

    let raw: Value = serde_json::from_str(&text).unwrap();
    fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    match (key.as_str(), v) {
                        ("$ref", Value::String(target)) => found.push(target),
                        _ => refs(v, found),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    refs(&raw, &mut found);
    assert!(!found.is_empty(), "the bodies are described by schemas");
    for target in found {
        let pointer = target.strip_prefix('#').expect("a local reference");
        assert!(raw.pointer(pointer).is_some(), "{target} resolves");
    }

    let mut documented: Vec<(String, String)> = spec
        .operations()
        .map(|(path, method, _)| (method.to_string(), path))
        .collect();
    documented.sort();
    let mut expected: Vec<(String, String)> = [
        ("GET", "/healthz"),
        ("GET", "/livez"),
        ("GET", "/readyz"),
        ("GET", "/openapi.json"),
        ("POST", "/v1/cases"),
        ("GET", "/v1/cases"),
        ("GET", "/v1/cases/{case_id}"),
        ("POST", "/v1/cases/{case_id}/uploads"),
        ("PUT", "/v1/cases/{case_id}/files"),
        ("GET", "/v1/cases/{case_id}/files"),
        ("GET", "/v1/cases/{case_id}/audit"),
        ("GET", "/v1/cases/{case_id}/export.zip"),
        ("GET", "/v1/files/{file_id}"),
        ("DELETE", "/v1/files/{file_id}"),
        ("POST", "/v1/files/{file_id}/complete"),
        ("GET", "/v1/files/{file_id}/content"),
        ("GET", "/v1/files/{file_id}/download-url"),
        ("PUT", "/v1/blobs/{key}"),
        ("GET", "/v1/blobs/{key}"),
        ("GET", "/v1/cases/{case_id}/members"),
        ("PUT", "/v1/cases/{case_id}/members/{user_id}"),
        ("DELETE", "/v1/cases/{case_id}/members/{user_id}"),
        ("POST", "/v1/cases/{case_id}/holds"),
        ("GET", "/v1/cases/{case_id}/holds"),
        ("POST", "/v1/holds/{hold_id}/release"),
        ("PUT", "/v1/cases/{case_id}/retention"),
        ("PUT", "/v1/files/{file_id}/retention"),
        ("GET", "/v1/audit/checkpoint"),
        ("GET", "/v1/audit/entries/{index}/proof"),
        ("GET", "/v1/audit/consistency"),
    ]
    .iter()
    .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
    .collect();
    expected.sort();
    assert_eq!(documented, expected);
    // The client covers every route the document lists, and nothing else (#18).
    let mut covered: Vec<(String, String)> = casefile_client::ROUTES
        .iter()
        .map(|(m, p, _)| ((*m).to_owned(), p.replace("{*key}", "{key}")))
        .collect();
    covered.sort();
    assert_eq!(
        covered, documented,
        "casefile_client::ROUTES and /openapi.json"
    );

    let token = app.token(UserId::new());
    let secured = raw["components"]["securitySchemes"]["bearer"].clone();
    assert_eq!(secured["scheme"], "bearer");
    for (method, path) in &documented {
        let operation = &raw["paths"][path][method.to_lowercase()];
        let open = ["/healthz", "/livez", "/readyz", "/openapi.json"].contains(&path.as_str())
            || path.starts_with("/v1/blobs/");
        if !open {
            assert!(
                operation["security"].is_array() && operation["responses"]["401"].is_object(),
                "{method} {path} declares its bearer token and its 401"
            );
        }
        let concrete = path
            .replace("{case_id}", &uuid::Uuid::new_v4().to_string())
            .replace("{file_id}", &uuid::Uuid::new_v4().to_string())
            .replace("{key}", "x");
        let response = reqwest::Client::new()
            .request(method.parse().unwrap(), format!("{}{concrete}", app.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_ne!(
            body["error"]["message"], "no such route",
            "{method} {path} is documented but not served ({status})"
        );
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
    }
    app.stop().await;
}

/// An upload whose body stalls (a client that announced more than it sends) is abandoned after
/// the idle timeout with 400 `invalid_input`, and nothing is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_upload_bodies_are_abandoned() {
    use reqwest::Method as M;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = start_with(|c| c.limits.body_idle_timeout_secs = 1).await;
    let alice = app.token(UserId::new());
    let (_, case) = app
        .call(
            M::POST,
            "/v1/cases",
            Some(&alice),
            Some(json!({"title": "T"})),
        )
        .await;
    let case_id = case["id"].as_str().unwrap().to_owned();
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "PUT /v1/cases/{case_id}/files?logical_path=stalled.txt HTTP/1.1\r\nhost: {addr}\r\n\
         authorization: Bearer {alice}\r\ncontent-type: text/plain\r\n\
         content-length: 100\r\n\r\nonly ten b"
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let started = std::time::Instant::now();
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), socket.read(&mut answer))
        .await
        .expect("answered before the test's own timeout")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]).into_owned();
    assert!(
        answer.starts_with("HTTP/1.1 400"),
        "after {:?}: {answer}",
        started.elapsed()
    );
    assert!(answer.contains("invalid_input"), "{answer}");
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
    let (_, listing) = app
        .call(
            M::GET,
            &format!("/v1/cases/{case_id}/files"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(listing["files"].as_array().unwrap().len(), 0);
    app.stop().await;
}

/// Expired presigned URLs of the local store (upload and download) are refused: 403 with code
/// `unauthorized`, and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_local_urls_are_refused() {
    use reqwest::Method as M;
    let app = start_with(|c| {
        c.limits.upload_url_expiry_secs = 1;
        c.limits.download_url_expiry_secs = 1;
    })
    .await;
    let alice = app.token(UserId::new());
    let (_, case) = app
        .call(
            M::POST,
            "/v1/cases",
            Some(&alice),
            Some(json!({"title": "T"})),
        )
        .await;
    let case_id = case["id"].as_str().unwrap().to_owned();
    let content = b"late".to_vec();
    let sha = Sha256::digest(&content).to_hex();
    let (_, started) = app
        .call(
            M::POST,
            &format!("/v1/cases/{case_id}/uploads"),
            Some(&alice),
            Some(json!({"logical_path": "late.txt", "file_size": 4, "content_hash": sha})),
        )
        .await;
    let file_id = started["file_id"].as_str().unwrap().to_owned();
    let direct = app
        .put_file(&alice, &case_id, "early.txt", &[], content.clone())
        .await;
    assert_eq!(direct.status(), StatusCode::CREATED);
    let early: Value = direct.json().await.unwrap();
    let (_, link) = app
        .call(
            M::GET,
            &format!("/v1/files/{}/download-url", early["id"].as_str().unwrap()),
            Some(&alice),
            None,
        )
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;

    let put = reqwest::Client::new()
        .put(started["upload"]["url"].as_str().unwrap())
        .header("content-type", "text/plain")
        .body(content.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::FORBIDDEN);
    let put: Value = put.json().await.unwrap();
    assert_eq!(code(&put), "unauthorized");
    let (s, b) = app
        .call(
            M::POST,
            &format!("/v1/files/{file_id}/complete"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::CONFLICT, "upload_missing"),
        "nothing was stored"
    );
    let get = reqwest::get(link["url"].as_str().unwrap()).await.unwrap();
    assert_eq!(get.status(), StatusCode::FORBIDDEN);
    app.stop().await;
}

/// The two README commands' first half, `casefile serve` on the embedded default with no
/// configuration, then the README's curl session run as it stands (between its markers) against
/// it: only its `API=` line is pointed at the server's port, and `cargo run -q -p casefile-app
/// --` is the `casefile` binary this test was built with. Ctrl-C stops the server gracefully.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_curl_session_runs() {
    use tokio::io::AsyncBufReadExt;
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let block = |name: &str| {
        readme
            .split(&format!("<!-- readme-{name}:start -->"))
            .nth(1)
            .and_then(|rest| rest.split(&format!("<!-- readme-{name}:end -->")).next())
            .and_then(|block| block.trim().strip_prefix("```sh"))
            .and_then(|s| s.strip_suffix("```"))
            .unwrap_or_else(|| panic!("the README marks its {name} block, one sh block"))
            .to_owned()
    };
    let script = block("session");
    let sharing = block("sharing");
    assert!(script.contains("API=http://127.0.0.1:8080\n"));
    assert!(sharing.contains("API=http://127.0.0.1:8080\n"));

    // The first README command, as a new user runs it: `casefile serve` with no configuration
    // in an empty directory (only the port is left to the system).
    let dir = tempfile::tempdir().unwrap();
    let mut serve = tokio::process::Command::new(env!("CARGO_BIN_EXE_casefile"));
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("CASEFILE_")) {
        serve.env_remove(name);
    }
    let mut server = serve
        .arg("serve")
        .env("CASEFILE_LISTEN", "127.0.0.1:0")
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut said = tokio::io::BufReader::new(server.stdout.take().unwrap()).lines();
    let listening = tokio::time::timeout(std::time::Duration::from_secs(30), said.next_line())
        .await
        .expect("serve starts")
        .unwrap()
        .expect("serve says where it listens");
    let addr = listening
        .strip_prefix("casefile listening on http://")
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("{listening}"))
        .to_owned();
    assert!(
        listening.contains("storage fs") && listening.contains("database SQLite"),
        "{listening}"
    );
    let hint = said.next_line().await.unwrap().unwrap_or_default();
    assert!(hint.contains("no JWT secret configured"), "{hint}");
    let script = script.replace(
        "API=http://127.0.0.1:8080\n",
        &format!("API=http://{addr}\n"),
    );
    let prelude = format!(
        "set -euo pipefail\ncargo() {{ while [ \"$1\" != -- ]; do shift; done; shift; \"{}\" \"$@\"; }}\n",
        env!("CARGO_BIN_EXE_casefile")
    );
    let mut command = tokio::process::Command::new("bash");
    command
        .arg("-c")
        .arg(format!("{prelude}{script}"))
        .current_dir(dir.path());
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("CASEFILE_")) {
        command.env_remove(name);
    }
    let output = command.output().await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the session failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    let lines: Vec<&str> = stdout.lines().collect();
    // complete, metadata, content, range, download URL, direct upload, listing, audit
    assert_eq!(lines.len(), 8, "{stdout}");
    let completed: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(completed["status"], "completed");
    assert_eq!(
        completed["content_hash"],
        Sha256::digest(b"Exhibit A: the signed lease.")
            .to_hex()
            .as_str()
    );
    let metadata: Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(metadata["logical_path"], "exhibits/a.txt");
    assert_eq!(lines[2], "Exhibit A: the signed lease.");
    assert_eq!(lines[3], "Exhibit A");
    assert_eq!(lines[4], "Exhibit A: the signed lease.");
    let direct: Value = serde_json::from_str(lines[5]).unwrap();
    assert_eq!(
        (direct["logical_path"].as_str(), direct["status"].as_str()),
        (Some("exhibits/b.txt"), Some("completed"))
    );
    let listing: Value = serde_json::from_str(lines[6]).unwrap();
    assert_eq!(listing["files"].as_array().unwrap().len(), 2);
    let audit: Value = serde_json::from_str(lines[7]).unwrap();
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "case_created",
            "upload_initiated",
            "upload_completed",
            "file_viewed",
            "file_downloaded",
            "file_downloaded",
            "download_url_issued",
            "upload_initiated",
            "upload_completed",
            "files_listed",
            "file_deleted",
            "object_purged",
        ]
    );
    // The sharing block, against the same server.
    let sharing = sharing.replace(
        "API=http://127.0.0.1:8080\n",
        &format!("API=http://{addr}\n"),
    );
    let mut command = tokio::process::Command::new("bash");
    command
        .arg("-c")
        .arg(format!("{prelude}{sharing}"))
        .current_dir(dir.path());
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("CASEFILE_")) {
        command.env_remove(name);
    }
    let output = command.output().await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the sharing block failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    // editor added, client added, members, the client's cases, 403, 404
    assert_eq!(lines.len(), 6, "{stdout}");
    let editor: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(editor["role"], "editor");
    let members: Value = serde_json::from_str(lines[2]).unwrap();
    let roles: Vec<&str> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["owner", "editor", "viewer"]);
    let cases: Value = serde_json::from_str(lines[3]).unwrap();
    assert_eq!(cases["cases"][0]["role"], "viewer");
    assert_eq!(cases["cases"].as_array().unwrap().len(), 1);
    assert_eq!((lines[4], lines[5]), ("403", "404"));

    // Ctrl-C: a graceful shutdown.
    let pid = server.id().unwrap().to_string();
    let interrupted = tokio::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .await
        .unwrap();
    assert!(interrupted.success());
    let exit = tokio::time::timeout(std::time::Duration::from_secs(30), server.wait())
        .await
        .expect("serve stops on Ctrl-C")
        .unwrap();
    assert!(exit.success(), "{exit}");
    let mut rest = Vec::new();
    while let Some(line) = said.next_line().await.unwrap() {
        rest.push(line);
    }
    assert!(
        rest.iter().any(|l| l.starts_with("SIGINT: shutting down")),
        "{rest:?}"
    );
    assert_eq!(rest.last().map(String::as_str), Some("stopped"), "{rest:?}");
}

/// The `casefile` binary's maintenance commands on the embedded default: `migrate` applies the
/// migrations to a fresh data directory, `purge` removes the bytes of an upload that was
/// superseded after its URL expired (once: a second run has nothing left), and `config` shows
/// the effective configuration with the JWT secret redacted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_migrate_purge_and_config() {
    use reqwest::Method as M;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cli = |args: &'static [&'static str], extra: Vec<(&'static str, String)>| {
        run_cli(dir.path().to_path_buf(), data.clone(), args, extra)
    };

    let migrated = cli(&["migrate"], vec![]).await;
    assert!(migrated.contains("migrations applied to"), "{migrated}");
    assert!(data.join("casefile.db").exists());

    let config = Config {
        data_dir: data.clone(),
        listen: "127.0.0.1:0".parse().unwrap(),
        limits: casefile_app::config::LimitsConfig {
            upload_url_expiry_secs: 1,
            ..Default::default()
        },
        ..Config::default()
    };
    let (server, _) = casefile_app::start(&config).await.expect("server starts");
    let (secret, _) = casefile_app::jwt_secret(&config).unwrap();
    let app = Running {
        base: format!("http://{}", server.addr),
        tokens: Tokens::new(&secret),
        secret: secret.clone(),
        server: Some(server),
        _dir: tempfile::tempdir().unwrap(),
    };
    let alice = app.token(UserId::new());
    let (_, case) = app
        .call(
            M::POST,
            "/v1/cases",
            Some(&alice),
            Some(json!({"title": "T"})),
        )
        .await;
    let case_id = case["id"].as_str().unwrap().to_owned();
    let declare = |content: &[u8]| {
        json!({"logical_path": "a.txt", "file_size": content.len(),
               "content_hash": Sha256::digest(content).to_hex()})
    };
    let stale = b"stale bytes".to_vec();
    let (status, first) = app
        .call(
            M::POST,
            &format!("/v1/cases/{case_id}/uploads"),
            Some(&alice),
            Some(declare(&stale)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let sent = reqwest::Client::new()
        .put(first["upload"]["url"].as_str().unwrap())
        .header("content-type", "text/plain")
        .body(stale)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::CREATED);
    // Never completed; once its URL has expired, a new upload to the path supersedes it.
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    let (status, _) = app
        .call(
            M::POST,
            &format!("/v1/cases/{case_id}/uploads"),
            Some(&alice),
            Some(declare(b"fresh")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    app.stop().await;

    assert_eq!(cli(&["purge"], vec![]).await.trim(), "purged 1, failed 0");
    assert_eq!(cli(&["purge"], vec![]).await.trim(), "purged 0, failed 0");

    let secret = "a-jwt-secret-of-more-than-32-bytes-0123456789";
    let shown = cli(
        &["config"],
        vec![("CASEFILE_JWT_SECRET", secret.to_owned())],
    )
    .await;
    assert!(!shown.contains(secret), "{shown}");
    assert!(shown.contains("<redacted>"), "{shown}");
    assert!(shown.contains(&*data.to_string_lossy()), "{shown}");
}

/// Runs the `casefile` binary in `cwd` with only `CASEFILE_DATA_DIR` and `extra` of the
/// `CASEFILE_*` variables: its exit code, standard output and standard error.
async fn casefile_cli(
    cwd: &std::path::Path,
    data: &std::path::Path,
    args: &[&str],
    extra: Vec<(&str, String)>,
) -> (Option<i32>, String, String) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_casefile"));
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("CASEFILE_")) {
        command.env_remove(name);
    }
    command
        .args(args)
        .env("CASEFILE_DATA_DIR", data)
        .envs(extra)
        .current_dir(cwd);
    let out = command.output().await.unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// [`casefile_cli`], which must succeed: its standard output.
async fn run_cli(
    cwd: std::path::PathBuf,
    data: std::path::PathBuf,
    args: &[&str],
    extra: Vec<(&str, String)>,
) -> String {
    let (code, stdout, stderr) = casefile_cli(&cwd, &data, args, extra).await;
    assert_eq!(code, Some(0), "{args:?}: {stdout}{stderr}");
    stdout
}

/// Reads a response's body to its end or its first error: the bytes received, and whether it
/// ended cleanly.
async fn read_all(mut response: reqwest::Response) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => out.extend_from_slice(&chunk),
            Ok(None) => return (out, true),
            Err(_) => return (out, false),
        }
    }
}

/// The local blob file holding exactly `size` bytes under the data directory.
fn blob_of_size(dir: &std::path::Path, size: u64) -> std::path::PathBuf {
    let blobs = dir.join("objects").join("blobs");
    std::fs::read_dir(&blobs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.metadata().unwrap().len() == size)
        .unwrap_or_else(|| panic!("no blob of {size} bytes in {}", blobs.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn altered_bytes_are_never_served_whole() {
    // #13.1: a 300,000-byte file whose last byte changes in the store is cut off before its end
    // (fewer bytes than Content-Length, an error for the client), and the failure is audited.
    let app = start().await;
    let alice = app.token(UserId::new());
    let (_, case) = app
        .call(
            reqwest::Method::POST,
            "/v1/cases",
            Some(&alice),
            Some(json!({"title": "Fixity"})),
        )
        .await;
    let case_id = case["id"].as_str().unwrap().to_owned();
    let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let put = app
        .put_file(&alice, &case_id, "evidence/tape.bin", &[], content.clone())
        .await;
    assert_eq!(put.status(), StatusCode::CREATED);
    let file: Value = put.json().await.unwrap();
    let file_id = file["id"].as_str().unwrap().to_owned();
    let url = format!("{}/v1/files/{file_id}/content", app.base);
    // Untouched: every byte, ending cleanly.
    let ok = reqwest::Client::new()
        .get(&url)
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    let (bytes, clean) = read_all(ok).await;
    assert!(clean);
    assert_eq!(bytes, content);

    let blob = blob_of_size(app._dir.path(), 300_000);
    let mut altered = std::fs::read(&blob).unwrap();
    *altered.last_mut().unwrap() ^= 0xff;
    std::fs::write(&blob, &altered).unwrap();
    let cut = reqwest::Client::new()
        .get(&url)
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(
        cut.status(),
        StatusCode::OK,
        "the status is sent before the bytes"
    );
    assert_eq!(cut.content_length(), Some(300_000));
    let (bytes, clean) = read_all(cut).await;
    assert!(!clean, "an altered body must not end cleanly");
    assert!(
        bytes.len() < 300_000,
        "{} bytes of 300,000 were served",
        bytes.len()
    );
    assert_eq!(bytes[..], altered[..bytes.len()]);

    let (_, audit) = app
        .call(
            reqwest::Method::GET,
            &format!("/v1/cases/{case_id}/audit"),
            Some(&alice),
            None,
        )
        .await;
    let failures = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "fixity_failed" && e["file_id"] == file_id.as_str())
        .count();
    assert_eq!(failures, 1, "{audit}");
    app.stop().await;
}

/// A case of `app`'s, created by `token`: its id.
async fn new_case(app: &Running, token: &str) -> String {
    let (status, case) = app
        .call(
            reqwest::Method::POST,
            "/v1/cases",
            Some(token),
            Some(json!({"title": "Limits"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    case["id"].as_str().unwrap().to_owned()
}

/// Reads until the server closes the connection (`true`) or the test's own guard passes.
async fn closed_by_server(socket: &mut tokio::net::TcpStream) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; 8192];
    let guard = std::time::Duration::from_secs(20);
    loop {
        match tokio::time::timeout(guard, socket.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_request_heads_and_silent_connections_are_closed() {
    // #13.6: hyper's header-read timeout is on (axum's default server leaves it off): a head
    // that never completes, and a kept-alive connection that sends nothing more, are closed.
    use tokio::io::AsyncWriteExt;
    let app = start_with(|c| c.limits.header_read_timeout_secs = 1).await;
    let addr = app.base.trim_start_matches("http://").to_owned();

    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    assert!(
        closed_by_server(&mut slow).await,
        "an unfinished head holds its connection"
    );

    let mut idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    // The answer arrives, then the silent kept-alive connection is closed.
    assert!(
        closed_by_server(&mut idle).await,
        "an idle keep-alive connection stays open"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_beyond_the_cap_get_503_until_a_slot_frees() {
    // #13.6: a cap on concurrent streamed requests; a download holds its slot while its body
    // moves, and frees it when the client goes.
    let app = start_with(|c| c.limits.max_concurrent_streams = 1).await;
    let alice = app.token(UserId::new());
    let case_id = new_case(&app, &alice).await;
    let content: Vec<u8> = (0..4_000_000u32).map(|i| (i % 253) as u8).collect();
    let put = app
        .put_file(&alice, &case_id, "big.bin", &[], content.clone())
        .await;
    assert_eq!(put.status(), StatusCode::CREATED);
    let file: Value = put.json().await.unwrap();
    let url = format!(
        "{}/v1/files/{}/content",
        app.base,
        file["id"].as_str().unwrap()
    );
    let client = reqwest::Client::new();
    let first = client.get(&url).bearer_auth(&alice).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    // The first body is not read: its stream is still open.
    let second = client.get(&url).bearer_auth(&alice).send().await.unwrap();
    assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        second.headers().get("retry-after").map(|v| v.as_bytes()),
        Some(&b"1"[..])
    );
    let body: Value = second.json().await.unwrap();
    assert_eq!(code(&body), "busy");
    let upload = app
        .put_file(&alice, &case_id, "other.bin", &[], vec![1u8; 10])
        .await;
    assert_eq!(
        upload.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "uploads share the slots"
    );
    let (bytes, clean) = read_all(first).await;
    assert!(clean && bytes == content);
    // Freed once the first body is done (the slot goes with the response body).
    let mut third = None;
    for _ in 0..50 {
        let response = client.get(&url).bearer_auth(&alice).send().await.unwrap();
        if response.status() == StatusCode::OK {
            third = Some(response);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (bytes, clean) = read_all(third.expect("a slot frees")).await;
    assert!(clean && bytes == content);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_slower_than_the_floor_is_refused_and_keeps_nothing() {
    // #13.6: a trickle that never stalls long enough for the idle timeout still ends.
    let app = start_with(|c| {
        c.limits.min_upload_bytes_per_sec = 1000;
        c.limits.upload_rate_window_secs = 1;
    })
    .await;
    let alice = app.token(UserId::new());
    let case_id = new_case(&app, &alice).await;
    let trickle = futures::stream::unfold(0u32, |n| async move {
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        (n < 20).then(|| (Ok::<_, std::io::Error>(vec![b'x'; 10]), n + 1))
    });
    let response = app
        .put_file(
            &alice,
            &case_id,
            "slow.txt",
            &[("content-length", "200"), ("content-type", "text/plain")],
            reqwest::Body::wrap_stream(trickle),
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(code(&body), "invalid_input", "{body}");
    let (_, listing) = app
        .call(
            reqwest::Method::GET,
            &format!("/v1/cases/{case_id}/files"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(listing["files"].as_array().unwrap().len(), 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_defaults_record_the_detected_type_and_prefixes_match_as_strings() {
    // #13.11: curl's default `application/x-www-form-urlencoded` on a PDF named a.pdf is not
    // the file's type; `prefix=pleadings/` and `prefix=pleadings/com` find
    // `pleadings/complaint.bin`.
    let app = start().await;
    let alice = app.token(UserId::new());
    let case_id = new_case(&app, &alice).await;
    let mut pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n".to_vec();
    pdf.extend(std::iter::repeat_n(b' ', 2000));
    let put = app
        .put_file(
            &alice,
            &case_id,
            "a.pdf",
            &[("content-type", "application/x-www-form-urlencoded")],
            pdf,
        )
        .await;
    assert_eq!(put.status(), StatusCode::CREATED);
    let file: Value = put.json().await.unwrap();
    assert_eq!(file["mime_type"], "application/pdf", "{file}");
    let content = reqwest::Client::new()
        .get(format!(
            "{}/v1/files/{}/content",
            app.base,
            file["id"].as_str().unwrap()
        ))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    let headers = content.headers();
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(
        headers["content-security-policy"],
        "sandbox; default-src 'none'"
    );

    let put = app
        .put_file(
            &alice,
            &case_id,
            "pleadings/complaint.bin",
            &[],
            vec![7u8; 100],
        )
        .await;
    assert_eq!(put.status(), StatusCode::CREATED);
    for prefix in ["pleadings/", "pleadings/com", "pleadings"] {
        let (status, listing) = app
            .call(
                reqwest::Method::GET,
                &format!("/v1/cases/{case_id}/files?prefix={prefix}"),
                Some(&alice),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{prefix}: {listing}");
        let paths: Vec<&str> = listing["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["logical_path"].as_str().unwrap())
            .collect();
        assert_eq!(paths, ["pleadings/complaint.bin"], "{prefix}");
    }
    let (_, none) = app
        .call(
            reqwest::Method::GET,
            &format!("/v1/cases/{case_id}/files?prefix=pleadings/x"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(none["files"].as_array().unwrap().len(), 0);
    app.stop().await;
}
