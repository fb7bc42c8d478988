//! The page for people (#19) in a real browser: headless Chromium driven over WebDriver
//! (Debian's `chromium` and `chromium-driver`, which `cargo xtask test` installs when missing).
//! It signs in, creates a case, uploads two files (one in a folder) through the file input, sees
//! them with their SHA-256, opens the folder, downloads one and compares the bytes, deletes one,
//! reads the audit trail, and checks the page at 375 px. Screenshots go to
//! `target/tmp/casefile-screenshots/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use casefile_app::config::Config;
use casefile_domain::Sha256;
use casefile_domain::legal::UserId;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

fn driver_paths() -> (String, String) {
    let var =
        |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    let driver = var("CASEFILE_TEST_CHROMEDRIVER", "/usr/bin/chromedriver");
    let browser = var("CASEFILE_TEST_CHROMIUM", "/usr/bin/chromium");
    for path in [&driver, &browser] {
        assert!(
            Path::new(path).exists(),
            "{path} is missing: run the tests with `cargo xtask test`, which installs Debian's chromium and chromium-driver"
        );
    }
    (driver, browser)
}

struct Driver {
    child: std::process::Child,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn browser(downloads: &Path) -> (Client, Driver) {
    // Both rustls providers are in the tree (the AWS SDK's and others'): name one.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let (driver, chromium) = driver_paths();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(&driver)
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let guard = Driver { child };
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,1000"],
            "prefs": {
                "download.default_directory": downloads,
                "download.prompt_for_download": false,
            }
        }),
    );
    let mut last = None;
    for _ in 0..50 {
        match ClientBuilder::rustls()
            .unwrap()
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => return (client, guard),
            Err(e) => {
                last = Some(e);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    panic!("chromedriver did not start: {last:?}");
}

fn shots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("casefile-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(shots().join(format!("{name}.png")), png).unwrap();
}

/// Waits until `script` (a JS expression) is true in the page.
async fn until(c: &Client, what: &str, script: &str) {
    for _ in 0..200 {
        let v = c
            .execute(&format!("return Boolean({script});"), vec![])
            .await
            .unwrap();
        if v == json!(true) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = c
        .execute(
            "return document.getElementById('status').textContent",
            vec![],
        )
        .await
        .unwrap();
    panic!("{what}: not after 10 s (status: {status})");
}

async fn click(c: &Client, at: Locator<'_>) {
    c.find(at).await.unwrap().click().await.unwrap();
}

async fn type_in(c: &Client, at: Locator<'_>, text: &str) {
    c.find(at).await.unwrap().send_keys(text).await.unwrap();
}

async fn sha_shown(c: &Client, path: &str) -> String {
    let v = c
        .execute(
            "const row = [...document.querySelectorAll('#file-rows tr')].find(r => r.dataset.path === arguments[0]); return row ? row.querySelector('.sha').dataset.sha256 : null;",
            vec![json!(path)],
        )
        .await
        .unwrap();
    v.as_str().unwrap_or_default().to_owned()
}

async fn click_in_row(c: &Client, path: &str, label: &str) {
    c.execute(
        "const row = [...document.querySelectorAll('#file-rows tr')].find(r => r.dataset.path === arguments[0]); [...row.querySelectorAll('button')].find(b => b.textContent === arguments[1]).click();",
        vec![json!(path), json!(label)],
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().join("data"),
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    };
    let (server, _) = casefile_app::start(&config).await.unwrap();
    scenario(&config, server.addr, dir.path(), "local").await;
    server.stop().await.unwrap();
}

/// The same page on S3 (s3s-fs): the browser posts each file to the presigned S3 form (another
/// origin, whose answer it may not read without CORS rules), and completion verifies it.
#[cfg(feature = "s3")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_uploads_straight_to_s3() {
    let endpoint = std::env::var("CASEFILE_TEST_S3_ENDPOINT")
        .expect("CASEFILE_TEST_S3_ENDPOINT is not set: run the tests with `cargo xtask test`");
    let bucket = format!("casefile-browser-{}", uuid::Uuid::new_v4().simple());
    let credentials = || {
        aws_sdk_s3::config::Credentials::new(
            "casefile-test-access",
            "casefile-test-secret-key-0123456789",
            None,
            None,
            "test",
        )
    };
    let admin = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url(&endpoint)
            .force_path_style(true)
            .credentials_provider(credentials())
            .build(),
    );
    admin.create_bucket().bucket(&bucket).send().await.unwrap();
    let storage: std::sync::Arc<dyn casefile_domain::storage::ObjectStorage> = std::sync::Arc::new(
        casefile_storage_s3::S3Storage::builder(bucket.clone())
            .with_endpoint(endpoint)
            .with_path_style(true)
            .with_credentials(casefile_storage_s3::StaticCredentials {
                access_key_id: "casefile-test-access".into(),
                secret_access_key: "casefile-test-secret-key-0123456789".into(),
                session_token: None,
            })
            .build()
            .await
            .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().join("data"),
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    };
    let (server, description) = casefile_app::start_with_storage(&config, storage)
        .await
        .unwrap();
    assert!(description.contains("s3"), "{description}");
    scenario(&config, server.addr, dir.path(), "s3").await;
    let stored = admin
        .list_objects_v2()
        .bucket(&bucket)
        .send()
        .await
        .unwrap()
        .key_count()
        .unwrap_or_default();
    assert!(stored >= 1, "the bytes are in the bucket");
    server.stop().await.unwrap();
}

/// Sign in, a case, two uploads (one in a folder), SHA-256 shown, folder navigation, a download
/// compared byte for byte, a deletion, the audit trail, /docs, and 375 px.
async fn scenario(config: &Config, addr: std::net::SocketAddr, dir: &Path, name: &str) {
    let base = format!("http://{addr}");
    let (secret, _) = casefile_app::jwt_secret(config).unwrap();
    let token = casefile_app::tokens(config, &secret)
        .mint(UserId::new(), 3600)
        .unwrap();
    let shot = |c: &Client, step: &str| {
        let (c, step) = (c.clone(), format!("{name}-{step}"));
        async move { shot(&c, &step).await }
    };
    let files = dir.join("files");
    std::fs::create_dir_all(&files).unwrap();
    let a = b"%PDF-1.7\nthe complaint\n".to_vec();
    let b = b"%PDF-1.7\nexhibit B, signed\n".to_vec();
    std::fs::write(files.join("complaint.pdf"), &a).unwrap();
    std::fs::write(files.join("exhibit-b.pdf"), &b).unwrap();
    let downloads = dir.join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let (c, _driver) = browser(&downloads).await;

    // The page and its headers.
    let page = reqwest::get(&base).await.unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");

    // Sign in by pasting the token.
    c.goto(&base).await.unwrap();
    until(
        &c,
        "the sign-in form",
        "!document.getElementById('sign-in').hidden",
    )
    .await;
    shot(&c, "1-sign-in").await;
    type_in(&c, Locator::Id("token"), &token).await;
    click(&c, Locator::Id("sign-in-button")).await;
    until(
        &c,
        "the case list",
        "!document.getElementById('cases').hidden",
    )
    .await;
    let kept = c
        .execute(
            "return [sessionStorage.getItem('casefile-token') !== null, location.href];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(kept[0], json!(true), "the token is in sessionStorage");
    assert!(
        !kept[1].as_str().unwrap().contains(&token),
        "never in the URL"
    );

    // A case.
    type_in(&c, Locator::Id("new-case-title"), "Doe v. Roe").await;
    click(&c, Locator::Id("create-case")).await;
    until(
        &c,
        "the case",
        "document.getElementById('case-title').textContent === 'Doe v. Roe'",
    )
    .await;

    // Upload one file at the top, then one inside a folder.
    type_in(
        &c,
        Locator::Id("file-input"),
        &files.join("complaint.pdf").display().to_string(),
    )
    .await;
    click(&c, Locator::Id("upload-button")).await;
    until(
        &c,
        "the first upload",
        "document.getElementById('status').textContent.startsWith('Uploaded 1 file,')",
    )
    .await;
    until(
        &c,
        "the overall bar, full",
        "(b => b && b.getAttribute('aria-valuenow') === b.getAttribute('aria-valuemax'))(document.querySelector('[role=progressbar][aria-label^=\"All \"]'))",
    )
    .await;
    until(
        &c,
        "who uploaded it",
        "document.querySelector('#file-rows tr[data-path=\"complaint.pdf\"] .by')?.textContent === 'you'",
    )
    .await;
    let url = c.current_url().await.unwrap().to_string();
    let folder = format!("{}exhibits/", url.trim_end_matches('/').to_owned() + "/");
    c.goto(&folder).await.unwrap();
    until(
        &c,
        "the empty folder",
        "document.querySelector('#breadcrumbs [aria-current]')?.textContent === 'exhibits'",
    )
    .await;
    type_in(
        &c,
        Locator::Id("file-input"),
        &files.join("exhibit-b.pdf").display().to_string(),
    )
    .await;
    click(&c, Locator::Id("upload-button")).await;
    until(
        &c,
        "the second upload",
        "document.getElementById('status').textContent.startsWith('Uploaded 1 file,')",
    )
    .await;
    until(
        &c,
        "the file in the folder",
        "document.querySelector('#file-rows tr[data-path=\"exhibits/exhibit-b.pdf\"]')",
    )
    .await;
    assert_eq!(
        sha_shown(&c, "exhibits/exhibit-b.pdf").await,
        Sha256::digest(&b).to_hex()
    );
    shot(&c, "2-folder").await;

    // Back to the top: the file and the folder.
    click(&c, Locator::Css("#breadcrumbs a")).await;
    until(
        &c,
        "the top level",
        "document.querySelector('#file-rows a.folder')?.textContent === 'exhibits/'",
    )
    .await;
    assert_eq!(
        sha_shown(&c, "complaint.pdf").await,
        Sha256::digest(&a).to_hex()
    );
    shot(&c, "3-case").await;

    // Into the folder by its link; download the exhibit and compare the bytes.
    click(&c, Locator::Css("#file-rows a.folder")).await;
    until(
        &c,
        "the folder again",
        "document.querySelector('#file-rows tr[data-path=\"exhibits/exhibit-b.pdf\"]')",
    )
    .await;
    click_in_row(&c, "exhibits/exhibit-b.pdf", "Download").await;
    let saved = downloads.join("exhibit-b.pdf");
    for _ in 0..200 {
        if saved.exists() && std::fs::read(&saved).unwrap() == b {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(std::fs::read(&saved).unwrap(), b, "the downloaded bytes");

    // A legal hold on the case: the deletion is refused (and says why); released, it goes.
    click(&c, Locator::Css(".tabs [data-view=holds]")).await;
    type_in(&c, Locator::Id("hold-name"), "Preservation notice").await;
    type_in(
        &c,
        Locator::Id("hold-reason"),
        "Litigation reasonably anticipated",
    )
    .await;
    click(&c, Locator::Id("place-hold")).await;
    until(
        &c,
        "the hold",
        "document.querySelector('#hold-rows li.hold.active')",
    )
    .await;
    shot(&c, "3b-hold").await;
    click(&c, Locator::Css(".tabs [data-view=files]")).await;
    until(
        &c,
        "the folder, once more",
        "document.querySelector('#file-rows tr[data-path=\"exhibits/exhibit-b.pdf\"]')",
    )
    .await;
    click_in_row(&c, "exhibits/exhibit-b.pdf", "Delete").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    c.accept_alert().await.unwrap();
    until(
        &c,
        "the refusal",
        "document.getElementById('status').textContent.includes('legal hold')",
    )
    .await;
    click(&c, Locator::Css(".tabs [data-view=holds]")).await;
    until(
        &c,
        "the hold again",
        "document.querySelector('#hold-rows li.hold.active button')",
    )
    .await;
    type_in(&c, Locator::Id("release-reason"), "Matter settled").await;
    click(&c, Locator::Css("#hold-rows li.hold.active button")).await;
    until(&c, "the release", "document.querySelector('#hold-rows li.hold.released') && !document.querySelector('#hold-rows li.hold.active')").await;
    click(&c, Locator::Css(".tabs [data-view=files]")).await;
    until(
        &c,
        "the folder after the release",
        "document.querySelector('#file-rows tr[data-path=\"exhibits/exhibit-b.pdf\"]')",
    )
    .await;

    // Delete it (after the confirmation).
    click_in_row(&c, "exhibits/exhibit-b.pdf", "Delete").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    c.accept_alert().await.unwrap();
    until(
        &c,
        "the deletion",
        "document.getElementById('status').textContent.startsWith('Deleted')",
    )
    .await;
    until(
        &c,
        "the row gone",
        "!document.querySelector('#file-rows tr[data-path=\"exhibits/exhibit-b.pdf\"]')",
    )
    .await;

    // The audit trail.
    click(&c, Locator::Css(".tabs [data-view=audit]")).await;
    until(&c, "the audit trail", "[...document.querySelectorAll('#audit-rows .action')].some(t => t.textContent === 'file_deleted')").await;
    let actions = c
        .execute(
            "return [...document.querySelectorAll('#audit-rows .action')].map(t => t.textContent);",
            vec![],
        )
        .await
        .unwrap();
    for expected in [
        "case_created",
        "upload_completed",
        "file_downloaded",
        "file_deleted",
    ] {
        assert!(
            actions.as_array().unwrap().iter().any(|a| a == expected),
            "{expected} in {actions}"
        );
    }
    shot(&c, "4-audit").await;

    // A phone's width: nothing wider than the screen.
    c.set_window_size(375, 800).await.unwrap();
    click(&c, Locator::Css(".tabs [data-view=files]")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fits = c
        .execute(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1;",
            vec![],
        )
        .await
        .unwrap();
    shot(&c, "5-narrow").await;
    assert_eq!(fits, json!(true), "the page fits 375 px");

    // The API for people: /docs renders the OpenAPI document.
    let docs = reqwest::get(format!("{base}/docs")).await.unwrap();
    assert!(
        docs.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    c.set_window_size(1280, 1000).await.unwrap();
    c.goto(&format!("{base}/docs")).await.unwrap();
    until(&c, "the rendered document", "[...document.querySelectorAll('.signature')].some(s => s.textContent === 'POST /v1/cases/{case_id}/uploads')").await;
    shot(&c, "6-docs").await;

    c.close().await.unwrap();
}

/// An identity provider on 127.0.0.1 for the page's sign-in: `/authorize` answers at once with
/// a code bound to the PKCE challenge, `/token` exchanges it only with the matching verifier.
struct Provider {
    base: String,
    exchanged: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

async fn provider(
    encoding: jsonwebtoken::EncodingKey,
    kid: String,
    issuer: &'static str,
    audience: &'static str,
    user: uuid::Uuid,
) -> Provider {
    use axum::extract::{Form, Query};
    use axum::response::IntoResponse;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    type Pending = Arc<Mutex<HashMap<String, (String, String)>>>;
    let pending: Pending = Arc::default();
    let exchanged = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let authorize = {
        let pending = pending.clone();
        move |Query(q): Query<HashMap<String, String>>| {
            let pending = pending.clone();
            async move {
                assert_eq!(q["response_type"], "code");
                assert_eq!(q["client_id"], "casefile-web");
                assert_eq!(q["code_challenge_method"], "S256");
                let code = uuid::Uuid::new_v4().simple().to_string();
                pending.lock().unwrap().insert(
                    code.clone(),
                    (q["code_challenge"].clone(), q["redirect_uri"].clone()),
                );
                let mut to = url::Url::parse(&q["redirect_uri"]).unwrap();
                to.query_pairs_mut()
                    .append_pair("code", &code)
                    .append_pair("state", &q["state"]);
                axum::response::Redirect::to(to.as_str())
            }
        }
    };
    let token = {
        let (pending, exchanged) = (pending.clone(), exchanged.clone());
        move |Form(f): Form<HashMap<String, String>>| {
            let (pending, exchanged) = (pending.clone(), exchanged.clone());
            let (encoding, kid) = (encoding.clone(), kid.clone());
            async move {
                let cors = [(axum::http::header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")];
                let Some((challenge, redirect)) = pending.lock().unwrap().remove(&f["code"]) else {
                    return (axum::http::StatusCode::BAD_REQUEST, cors, "unknown code")
                        .into_response();
                };
                use base64::Engine;
                let proof = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(Sha256::digest(f["code_verifier"].as_bytes()).as_bytes());
                if proof != challenge || f["redirect_uri"] != redirect {
                    return (
                        axum::http::StatusCode::BAD_REQUEST,
                        cors,
                        "PKCE verification failed",
                    )
                        .into_response();
                }
                exchanged.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let now = chrono::Utc::now().timestamp();
                let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
                header.kid = Some(kid);
                let claims = json!({
                    "iss": issuer, "aud": audience, "sub": user.to_string(),
                    "iat": now, "exp": now + 600, "name": "Ada Associate",
                });
                let jwt = jsonwebtoken::encode(&header, &claims, &encoding).unwrap();
                (
                    cors,
                    axum::Json(json!({"access_token": jwt, "token_type": "Bearer"})),
                )
                    .into_response()
            }
        }
    };
    let app = axum::Router::new()
        .route("/authorize", axum::routing::get(authorize))
        .route("/token", axum::routing::post(token));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Provider { base, exchanged }
}

/// #19: with an identity provider configured, the page signs in there (authorization code
/// with PKCE, as a public client), takes the code out of the address, and works with the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_signs_in_at_the_identity_provider() {
    const ISSUER: &str = "http://idp.test/realms/casefile";
    const AUDIENCE: &str = "casefile-api";
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("idp.pem");
    let status = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "ED25519", "-out"])
        .arg(&key)
        .status()
        .expect("openssl makes the test key");
    assert!(status.success());
    let encoding = jsonwebtoken::EncodingKey::from_ed_pem(&std::fs::read(&key).unwrap()).unwrap();
    let mut jwk =
        jsonwebtoken::jwk::Jwk::from_encoding_key(&encoding, jsonwebtoken::Algorithm::EdDSA)
            .unwrap();
    jwk.common.key_id = Some("page-key".into());
    let jwks = dir.path().join("jwks.json");
    std::fs::write(
        &jwks,
        serde_json::to_vec(&jsonwebtoken::jwk::JwkSet { keys: vec![jwk] }).unwrap(),
    )
    .unwrap();
    let user = uuid::Uuid::new_v4();
    let idp = provider(encoding, "page-key".into(), ISSUER, AUDIENCE, user).await;
    let mut config = Config {
        data_dir: dir.path().join("data"),
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    };
    config.auth.jwks_file = Some(jwks);
    config.auth.issuer = Some(ISSUER.into());
    config.auth.audience = Some(AUDIENCE.into());
    config.auth.authorization_endpoint = Some(format!("{}/authorize", idp.base));
    config.auth.token_endpoint = Some(format!("{}/token", idp.base));
    config.auth.web_client_id = Some("casefile-web".into());
    config.validate().unwrap();
    let (server, _) = casefile_app::start(&config).await.unwrap();
    let base = format!("http://{}", server.addr);
    let downloads = dir.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let (c, _driver) = browser(&downloads).await;

    c.goto(&base).await.unwrap();
    until(
        &c,
        "the provider's button",
        "!document.getElementById('idp').hidden",
    )
    .await;
    click(&c, Locator::Id("idp-sign-in")).await;
    until(
        &c,
        "the case list after the round trip",
        "!document.getElementById('cases').hidden",
    )
    .await;
    assert_eq!(
        idp.exchanged.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one code exchanged, with the matching verifier"
    );
    let search = c.execute("return location.search;", vec![]).await.unwrap();
    assert_eq!(search, json!(""), "the code is out of the address");
    // The provider's token works: a case made through the page is the provider's user's.
    type_in(
        &c,
        Locator::Id("new-case-title"),
        "Signed in at the provider",
    )
    .await;
    click(&c, Locator::Id("create-case")).await;
    until(
        &c,
        "the case",
        "document.getElementById('case-title').textContent === 'Signed in at the provider'",
    )
    .await;
    let case_id = c
        .execute("return location.hash.split('/')[2];", vec![])
        .await
        .unwrap();
    let user_id = casefile_domain::legal::UserId(user);
    let owner = c
        .execute(
            "return fetch('/v1/cases/' + arguments[0], {headers: {authorization: 'Bearer ' + sessionStorage.getItem('casefile-token')}}).then(r => r.json()).then(c => c.created_by);",
            vec![case_id],
        )
        .await
        .unwrap();
    assert_eq!(owner, json!(user_id.to_string()));
    shot(&c, "oidc-signed-in").await;
    c.close().await.unwrap();
    server.stop().await.unwrap();
}
