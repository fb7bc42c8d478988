//! End to end on every cloud backend with PostgreSQL: the real server, a real HTTP client, and
//! the upload done exactly as the server says (POST form or PUT) against the emulators that
//! `cargo xtask test` starts (s3s-fs, Azurite, fake-gcs-server) and a fresh database.
#![cfg(all(
    feature = "s3",
    feature = "azure",
    feature = "gcs",
    feature = "postgres"
))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use casefile_app::auth::Tokens;
use casefile_app::config::{Config, DatabaseConfig};
use casefile_domain::Sha256;
use casefile_domain::legal::UserId;
use casefile_domain::storage::ObjectStorage;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the tests with `cargo xtask test`"))
}

fn server_url() -> String {
    std::env::var("CASEFILE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A fresh database: its name and URL.
async fn fresh_database() -> (String, String) {
    let server = server_url();
    let name = format!("casefile_e2e_{}", uuid::Uuid::new_v4().simple());
    let mut admin = AsyncPgConnection::establish(&server)
        .await
        .expect("PostgreSQL is required");
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let (base, _) = server.rsplit_once('/').unwrap();
    let url = format!("{base}/{name}");
    (name, url)
}

async fn drop_database(name: &str) {
    let mut admin = AsyncPgConnection::establish(&server_url()).await.unwrap();
    diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
}

/// The secrets instances on one PostgreSQL database must share (configured, never generated).
fn shared_secrets(mut config: Config) -> Config {
    config.auth.jwt_secret = Some("e2e-clouds-shared-jwt-secret-0123456789".into());
    config.audit.signing_key = Some("5a".repeat(32));
    config
}

async fn s3() -> Arc<dyn ObjectStorage> {
    s3_with_admin().await.0
}

/// An S3 store on a fresh bucket, with a plain SDK client of the same server and the bucket's
/// name (to act behind casefile's back).
async fn s3_with_admin() -> (Arc<dyn ObjectStorage>, aws_sdk_s3::Client, String) {
    let endpoint = env("CASEFILE_TEST_S3_ENDPOINT");
    let bucket = format!("casefile-e2e-{}", uuid::Uuid::new_v4().simple());
    let admin = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url(&endpoint)
            .force_path_style(true)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "casefile-test-access",
                "casefile-test-secret-key-0123456789",
                None,
                None,
                "test",
            ))
            .build(),
    );
    admin.create_bucket().bucket(&bucket).send().await.unwrap();
    let storage: Arc<dyn ObjectStorage> = Arc::new(
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
    (storage, admin, bucket)
}

async fn azure() -> Arc<dyn ObjectStorage> {
    use casefile_storage_azure::{
        AZURITE_ACCOUNT, AZURITE_KEY, AzureBlobStorage, AzureCredentials,
    };
    let endpoint = env("CASEFILE_TEST_AZURE_ENDPOINT");
    let container = format!("casefile-e2e-{}", uuid::Uuid::new_v4().simple());
    let creds = azure_storage::StorageCredentials::access_key(
        AZURITE_ACCOUNT,
        azure_core::auth::Secret::new(AZURITE_KEY),
    );
    let location = azure_storage::CloudLocation::Custom {
        account: AZURITE_ACCOUNT.into(),
        uri: endpoint.clone(),
    };
    azure_storage_blobs::prelude::ClientBuilder::with_location(location, creds)
        .container_client(container.clone())
        .create()
        .into_future()
        .await
        .unwrap();
    Arc::new(
        AzureBlobStorage::builder(AZURITE_ACCOUNT, container)
            .with_endpoint(endpoint)
            .with_credentials(AzureCredentials::AccessKey(AZURITE_KEY.into()))
            .with_retry(0, std::time::Duration::from_secs(30))
            .build()
            .await
            .unwrap(),
    )
}

async fn gcs() -> Arc<dyn ObjectStorage> {
    let endpoint = env("CASEFILE_TEST_GCS_ENDPOINT");
    let bucket = format!("casefile-e2e-{}", uuid::Uuid::new_v4().simple());
    reqwest::Client::new()
        .post(format!("{endpoint}/storage/v1/b?project=test"))
        .json(&json!({ "name": bucket }))
        .send()
        .await
        .unwrap();
    let key = include_str!("../../storage-gcs/tests/data/test_service_account.not-a-test.json");
    Arc::new(
        casefile_storage_gcs::GcsStorage::builder(bucket)
            .with_endpoint(endpoint)
            .with_service_account_json(key)
            .build()
            .await
            .unwrap(),
    )
}

/// `casefile` on `storage` with a fresh PostgreSQL database, and a token for one user.
struct Started {
    server: casefile_app::Server,
    base: String,
    token: String,
    database: String,
    _dir: tempfile::TempDir,
}

async fn start_on(storage: Arc<dyn ObjectStorage>) -> Started {
    let dir = tempfile::tempdir().unwrap();
    let (database, url) = fresh_database().await;
    let mut config = shared_secrets(Config {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        database: DatabaseConfig {
            url: Some(url),
            ..DatabaseConfig::default()
        },
        ..Config::default()
    });
    config.limits.max_file_size = 512 * 1024 * 1024;
    let (server, description) = casefile_app::start_with_storage(&config, storage)
        .await
        .unwrap();
    assert!(description.contains("PostgreSQL"), "{description}");
    let base = format!("http://{}", server.addr);
    let (secret, _) = casefile_app::jwt_secret(&config).unwrap();
    let token = Tokens::new(&secret).mint(UserId::new(), 600).unwrap();
    Started {
        server,
        base,
        token,
        database,
        _dir: dir,
    }
}

impl Started {
    async fn stop(self) {
        self.server.stop().await.unwrap();
        drop_database(&self.database).await;
    }
}

/// Sends `content` where and how the server's upload instructions say (a POST form or a PUT
/// with headers).
async fn send_as_told(client: &reqwest::Client, upload: &Value, content: Vec<u8>) -> StatusCode {
    let url = upload["url"].as_str().unwrap();
    match upload["method"].as_str().unwrap() {
        "POST" => {
            let mut form = reqwest::multipart::Form::new();
            for (k, v) in upload["fields"].as_object().unwrap() {
                form = form.text(k.clone(), v.as_str().unwrap().to_owned());
            }
            let part = reqwest::multipart::Part::bytes(content)
                .file_name("upload.pdf")
                .mime_str("application/pdf")
                .unwrap();
            client
                .post(url)
                .multipart(form.part("file", part))
                .send()
                .await
                .unwrap()
                .status()
        }
        _ => {
            let mut req = client.put(url);
            for (k, v) in upload["headers"].as_object().unwrap() {
                req = req.header(k, v.as_str().unwrap());
            }
            req.body(content).send().await.unwrap().status()
        }
    }
}

/// The whole flow through the API; the upload goes exactly where and how the server says.
async fn flow(storage: Arc<dyn ObjectStorage>) {
    let backend = storage.backend_name();
    let app = start_on(storage).await;
    let (base, token) = (app.base.clone(), app.token.clone());
    let client = reqwest::Client::new();
    let api = |method: reqwest::Method, path: &str| {
        client
            .request(method, format!("{base}{path}"))
            .bearer_auth(&token)
    };

    let case: Value = api(reqwest::Method::POST, "/v1/cases")
        .json(&json!({"title": "Doe v. Roe"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let case_id = case["id"].as_str().unwrap().to_owned();
    let content = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n".to_vec();
    let started: Value = api(reqwest::Method::POST, &format!("/v1/cases/{case_id}/uploads"))
        .json(&json!({"logical_path": "pleadings/motion.pdf", "file_size": content.len(), "content_hash": Sha256::digest(&content).to_hex()}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let status = send_as_told(&client, &started["upload"], content.clone()).await;
    assert!(
        status.is_success(),
        "{backend}: upload to the presigned URL: {status}"
    );
    let file_id = started["file_id"].as_str().unwrap();
    let done = api(
        reqwest::Method::POST,
        &format!("/v1/files/{file_id}/complete"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(done.status(), StatusCode::OK, "{backend}");
    let listed: Value = api(reqwest::Method::GET, &format!("/v1/cases/{case_id}/files"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["files"].as_array().unwrap().len(), 1, "{backend}");
    let whole = api(
        reqwest::Method::GET,
        &format!("/v1/files/{file_id}/content"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.bytes().await.unwrap().to_vec(), content, "{backend}");
    let part = api(
        reqwest::Method::GET,
        &format!("/v1/files/{file_id}/content"),
    )
    .header("range", "bytes=0-3")
    .send()
    .await
    .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.bytes().await.unwrap().to_vec(), b"%PDF".to_vec());
    let link: Value = api(
        reqwest::Method::GET,
        &format!("/v1/files/{file_id}/download-url"),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let fetched = client
        .get(link["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert!(
        fetched.status().is_success(),
        "{backend}: presigned download {}",
        fetched.status()
    );
    assert_eq!(
        fetched.bytes().await.unwrap().to_vec(),
        content,
        "{backend}"
    );
    let deleted = api(reqwest::Method::DELETE, &format!("/v1/files/{file_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let audit: Value = api(reqwest::Method::GET, &format!("/v1/cases/{case_id}/audit"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for expected in [
        "upload_completed",
        "file_downloaded",
        "download_url_issued",
        "file_deleted",
        "object_purged",
    ] {
        assert!(
            actions.contains(&expected),
            "{backend}: {expected} missing from {actions:?}"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_flow_on_s3_with_postgres() {
    flow(s3().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_flow_on_azure_with_postgres() {
    flow(azure().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_flow_on_gcs_with_postgres() {
    flow(gcs().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_object_overwritten_behind_casefile_is_never_served_whole() {
    // #13.1 on S3: the object is replaced through the SDK with bytes of the same length; the
    // download is cut off before its end and audited as `fixity_failed`.
    let (storage, admin, bucket) = s3_with_admin().await;
    let app = start_on(storage).await;
    let (base, token) = (app.base.clone(), app.token.clone());
    let client = reqwest::Client::new();
    let case: Value = client
        .post(format!("{base}/v1/cases"))
        .bearer_auth(&token)
        .json(&json!({"title": "Fixity on S3"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let case_id = case["id"].as_str().unwrap();
    let content: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let file: Value = client
        .put(format!(
            "{base}/v1/cases/{case_id}/files?logical_path=evidence/tape.bin"
        ))
        .bearer_auth(&token)
        .body(content.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let file_id = file["id"].as_str().unwrap();
    let objects = admin
        .list_objects_v2()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let key = objects
        .contents()
        .iter()
        .filter_map(|o| o.key())
        .find(|k| k.contains(&file_id.replace('-', "")))
        .unwrap()
        .to_owned();
    let mut forged = content.clone();
    forged[299_999] ^= 0xff;
    admin
        .put_object()
        .bucket(&bucket)
        .key(&key)
        .body(forged.clone().into())
        .send()
        .await
        .unwrap();
    let mut response = client
        .get(format!("{base}/v1/files/{file_id}/content"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.content_length(), Some(300_000));
    let mut received = Vec::new();
    let clean = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => received.extend_from_slice(&chunk),
            Ok(None) => break true,
            Err(_) => break false,
        }
    };
    assert!(
        !clean,
        "an overwritten object must not be served as a clean body"
    );
    assert!(received.len() < 300_000, "{} bytes served", received.len());
    let audit: Value = client
        .get(format!("{base}/v1/cases/{case_id}/audit"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "fixity_failed" && e["file_id"] == file_id),
        "{audit}"
    );
    app.stop().await;
}

/// `casefile` (the binary) on the S3 bucket and PostgreSQL database of a running test.
async fn cli_on_s3(
    data: &std::path::Path,
    bucket: &str,
    database: &str,
    args: &[&str],
) -> (Option<i32>, String, String) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_casefile"));
    for (name, _) in
        std::env::vars().filter(|(n, _)| n.starts_with("CASEFILE_") || n.starts_with("AWS_"))
    {
        command.env_remove(name);
    }
    if let Some((_, url)) = database.split_once('|') {
        command.env("CASEFILE_DATABASE_URL", url);
    }
    let out = command
        .args(args)
        .env("CASEFILE_DATA_DIR", data)
        .env("CASEFILE_STORAGE", "s3")
        .env("CASEFILE_S3_BUCKET", bucket)
        .env("CASEFILE_S3_FORCE_PATH_STYLE", "true")
        .env("AWS_ENDPOINT_URL_S3", env("CASEFILE_TEST_S3_ENDPOINT"))
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "casefile-test-access")
        .env(
            "AWS_SECRET_ACCESS_KEY",
            "casefile-test-secret-key-0123456789",
        )
        .current_dir(data)
        .output()
        .await
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrub_reconcile_and_export_on_s3_with_postgres() {
    integrity_on_s3(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrub_reconcile_and_export_on_s3_with_sqlite() {
    integrity_on_s3(false).await;
}

async fn integrity_on_s3(postgres: bool) {
    // #17 on S3: an object overwritten through the SDK and one deleted are named by the scrub
    // (exit 1, audited); an object PUT behind casefile's back is reported unrecorded and kept by
    // `reconcile --fix`; an export of the intact files verifies offline, and one whose native
    // was overwritten stops naming it.
    let (storage, admin, bucket) = s3_with_admin().await;
    let dir = tempfile::tempdir().unwrap();
    let (database, url) = if postgres {
        let (name, url) = fresh_database().await;
        (name, Some(url))
    } else {
        (String::new(), None)
    };
    let config = shared_secrets(Config {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        database: DatabaseConfig {
            url: url.clone(),
            ..DatabaseConfig::default()
        },
        ..Config::default()
    });
    let (server, description) = casefile_app::start_with_storage(&config, storage)
        .await
        .unwrap();
    let expected = if postgres { "PostgreSQL" } else { "SQLite" };
    assert!(description.contains(expected), "{description}");
    let base = format!("http://{}", server.addr);
    let (secret, _) = casefile_app::jwt_secret(&config).unwrap();
    let token = Tokens::new(&secret).mint(UserId::new(), 600).unwrap();
    let client = reqwest::Client::new();
    let db = url
        .map(|url| format!("{database}|{url}"))
        .unwrap_or_default();
    let cli = |args: Vec<String>| {
        let (data, bucket, db) = (dir.path().to_path_buf(), bucket.clone(), db.clone());
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            cli_on_s3(&data, &bucket, &db, &args).await
        }
    };
    let case: Value = client
        .post(format!("{base}/v1/cases"))
        .bearer_auth(&token)
        .json(&json!({"title": "Production"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let case_id = case["id"].as_str().unwrap().to_owned();
    let mut ids = Vec::new();
    for (i, path) in ["a/one.bin", "a/two.bin", "b/three.bin"].iter().enumerate() {
        let content: Vec<u8> = (0..200_000u32 + i as u32)
            .map(|n| (n % 241) as u8)
            .collect();
        let file: Value = client
            .put(format!(
                "{base}/v1/cases/{case_id}/files?logical_path={path}"
            ))
            .bearer_auth(&token)
            .body(content)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(file["id"].as_str().unwrap().to_owned());
    }
    let key_of = |id: &str| {
        format!(
            "cases/{}/files/{}",
            case_id.replace('-', ""),
            id.replace('-', "")
        )
    };
    // A clean export first, and its offline check.
    let out = dir.path().join("production");
    let (code, stdout, stderr) = cli(vec![
        "export".into(),
        "--case".into(),
        case_id.clone(),
        "--out".into(),
        out.to_str().unwrap().into(),
    ])
    .await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let (code, stdout, _) = cli(vec![
        "export".into(),
        "verify".into(),
        out.to_str().unwrap().into(),
    ])
    .await;
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("natives verified 3"), "{stdout}");

    let (code, stdout, _) = cli(vec!["scrub".into(), "--case".into(), case_id.clone()]).await;
    assert_eq!(code, Some(0), "{stdout}");
    // Behind casefile's back, through the SDK.
    let mut forged: Vec<u8> = (0..200_001u32).map(|n| (n % 241) as u8).collect();
    forged[7] ^= 0x10;
    admin
        .put_object()
        .bucket(&bucket)
        .key(key_of(&ids[1]))
        .body(forged.into())
        .send()
        .await
        .unwrap();
    admin
        .delete_object()
        .bucket(&bucket)
        .key(key_of(&ids[2]))
        .send()
        .await
        .unwrap();
    admin
        .put_object()
        .bucket(&bucket)
        .key("cases/stray.bin")
        .body(b"stray".to_vec().into())
        .send()
        .await
        .unwrap();
    let (code, stdout, _) = cli(vec!["scrub".into(), "--case".into(), case_id.clone()]).await;
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!("MISMATCH {} a/two.bin", ids[1])),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("MISSING {} b/three.bin", ids[2])),
        "{stdout}"
    );
    let audit: Value = client
        .get(format!("{base}/v1/cases/{case_id}/audit"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let failures = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "fixity_failed")
        .count();
    assert_eq!(failures, 2, "{audit}");

    let (code, stdout, _) = cli(vec!["reconcile".into(), "--fix".into(), "--json".into()]).await;
    assert_eq!(code, Some(1), "{stdout}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        report["unrecorded"][0]["key"], "cases/stray.bin",
        "{report}"
    );
    assert_eq!(report["missing"][0]["file_id"], ids[2].as_str(), "{report}");
    let kept = admin
        .head_object()
        .bucket(&bucket)
        .key("cases/stray.bin")
        .send()
        .await;
    assert!(kept.is_ok(), "an unrecorded object is never removed");

    // An export now stops at the overwritten native, naming it.
    let broken = dir.path().join("broken.zip");
    let (code, _, stderr) = cli(vec![
        "export".into(),
        "--case".into(),
        case_id.clone(),
        "--zip".into(),
        broken.to_str().unwrap().into(),
    ])
    .await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("a/two.bin"), "{stderr}");
    assert!(!broken.exists(), "no ZIP under the final name");
    server.stop().await.unwrap();
    if postgres {
        drop_database(&database).await;
    }
}

/// The JWT secret the instances of [`three_instances_behave_as_one_server`] share.
const SHARED_JWT: &str = "three-instances-share-this-jwt-secret-0123";

/// A `casefile serve` process on S3 and PostgreSQL, with its API and metrics addresses.
struct Instance {
    child: tokio::process::Child,
    base: String,
    metrics: String,
}

async fn serve_instance(data: &std::path::Path, database_url: &str, bucket: &str) -> Instance {
    use tokio::io::AsyncBufReadExt;
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_casefile"));
    for (name, _) in
        std::env::vars().filter(|(n, _)| n.starts_with("CASEFILE_") || n.starts_with("AWS_"))
    {
        command.env_remove(name);
    }
    // The access lines go to a file: a pipe nobody reads would block the server when full.
    let log = std::fs::File::create(data.join("stderr.log")).unwrap();
    let mut child = command
        .arg("serve")
        .env("CASEFILE_DATA_DIR", data)
        .env("CASEFILE_LISTEN", "127.0.0.1:0")
        .env("CASEFILE_METRICS_LISTEN", "127.0.0.1:0")
        .env("CASEFILE_DATABASE_URL", database_url)
        .env("CASEFILE_JWT_SECRET", SHARED_JWT)
        .env("CASEFILE_AUDIT_SIGNING_KEY", "5a".repeat(32))
        .env("CASEFILE_AUDIT_CHECKPOINT_INTERVAL_SECS", "1")
        .env("CASEFILE_STORAGE", "s3")
        .env("CASEFILE_S3_BUCKET", bucket)
        .env("CASEFILE_S3_FORCE_PATH_STYLE", "true")
        .env("CASEFILE_S3_ENDPOINT", env("CASEFILE_TEST_S3_ENDPOINT"))
        .env("CASEFILE_S3_REGION", "us-east-1")
        .env("CASEFILE_S3_ACCESS_KEY_ID", "casefile-test-access")
        .env(
            "CASEFILE_S3_SECRET_ACCESS_KEY",
            "casefile-test-secret-key-0123456789",
        )
        .current_dir(data)
        .stdout(std::process::Stdio::piped())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut base, mut metrics) = (None, None);
    while base.is_none() || metrics.is_none() {
        let line = tokio::time::timeout(std::time::Duration::from_secs(60), lines.next_line())
            .await
            .expect("the instance starts")
            .unwrap()
            .unwrap_or_else(|| {
                panic!(
                    "the instance exited: {}",
                    std::fs::read_to_string(data.join("stderr.log")).unwrap_or_default()
                )
            });
        if let Some(rest) = line.strip_prefix("casefile listening on ") {
            base = rest.split_whitespace().next().map(str::to_owned);
        }
        if let Some(rest) = line.strip_prefix("metrics on ") {
            metrics = Some(rest.trim().to_owned());
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Instance {
        child,
        base: base.unwrap(),
        metrics: metrics.unwrap(),
    }
}

/// How many checkpoint runs an instance made itself (not skipped for the leader).
async fn checkpoints_run(client: &reqwest::Client, instance: &Instance) -> f64 {
    let text = client
        .get(&instance.metrics)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| {
            l.starts_with("casefile_jobs_total{")
                && l.contains("job=\"checkpoint\"")
                && !l.contains("outcome=\"skipped\"")
        })
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}

/// #20: three instances started at once on a fresh PostgreSQL database and one bucket behave
/// as one server: they migrate once; one upload's init, completion and download each go to a
/// different instance; 50 concurrent uploads spread round-robin; the instance running the
/// background jobs is killed between their inits and completions, the others complete every
/// one and another instance takes the jobs over; counts and statistics are exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_behave_as_one_server() {
    let (_, admin, bucket) = s3_with_admin().await;
    let (database, url) = fresh_database().await;
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut instances: Vec<Instance> =
        futures::future::join_all(dirs.iter().map(|d| serve_instance(d.path(), &url, &bucket)))
            .await;
    let client = reqwest::Client::new();
    let token = Tokens::new(SHARED_JWT.as_bytes())
        .mint(UserId::new(), 600)
        .unwrap();
    let bases: Vec<String> = instances.iter().map(|i| i.base.clone()).collect();
    let api = |i: usize, method: reqwest::Method, path: &str| {
        client
            .request(method, format!("{}{path}", bases[i]))
            .bearer_auth(&token)
    };
    let case: Value = api(0, reqwest::Method::POST, "/v1/cases")
        .json(&json!({"title": "Three instances"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let case_id = case["id"].as_str().unwrap().to_owned();

    // One upload: begun on the first, completed on the second, downloaded from the third.
    let content = b"%PDF-1.7 one upload, three instances".to_vec();
    let started: Value = api(0, reqwest::Method::POST, &format!("/v1/cases/{case_id}/uploads"))
        .json(&json!({"logical_path": "one.pdf", "file_size": content.len(), "content_hash": Sha256::digest(&content).to_hex()}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        send_as_told(&client, &started["upload"], content.clone())
            .await
            .is_success()
    );
    let file_id = started["file_id"].as_str().unwrap().to_owned();
    let done = api(
        1,
        reqwest::Method::POST,
        &format!("/v1/files/{file_id}/complete"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    let fetched = api(
        2,
        reqwest::Method::GET,
        &format!("/v1/files/{file_id}/content"),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.bytes().await.unwrap().to_vec(), content);

    // One instance runs the background jobs, the others skip them.
    let mut leader = None;
    for _ in 0..100 {
        let mut running = Vec::new();
        for (i, instance) in instances.iter().enumerate() {
            if checkpoints_run(&client, instance).await > 0.0 {
                running.push(i);
            }
        }
        assert!(running.len() <= 1, "instances {running:?} all ran the jobs");
        if let [i] = running[..] {
            leader = Some(i);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let leader = leader.expect("one instance runs the jobs");

    // 50 uploads begun round-robin, at once.
    let files: Vec<(String, Vec<u8>, Value)> = futures::future::join_all((0..50usize).map(|n| {
        let body = format!("%PDF-1.7 file {n} {}", "x".repeat(n * 37)).into_bytes();
        let request = api(n % 3, reqwest::Method::POST, &format!("/v1/cases/{case_id}/uploads"))
            .json(&json!({"logical_path": format!("batch/{n:02}.pdf"), "file_size": body.len(), "content_hash": Sha256::digest(&body).to_hex()}));
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::CREATED, "upload {n}");
            let started: Value = response.json().await.unwrap();
            (started["file_id"].as_str().unwrap().to_owned(), body, started)
        }
    }))
    .await;
    // The bytes go to the bucket while the leader is killed.
    let sends = futures::future::join_all(
        files
            .iter()
            .map(|(_, body, started)| send_as_told(&client, &started["upload"], body.clone())),
    );
    let kill = async {
        instances[leader].child.start_kill().unwrap();
    };
    let (sent, ()) = tokio::join!(sends, kill);
    assert!(sent.iter().all(StatusCode::is_success), "{sent:?}");
    instances[leader].child.wait().await.unwrap();
    let alive: Vec<usize> = (0..3).filter(|i| *i != leader).collect();

    // The two left complete every upload, whichever instance began it.
    let completed = futures::future::join_all(files.iter().enumerate().map(|(n, (id, _, _))| {
        let request = api(
            alive[n % 2],
            reqwest::Method::POST,
            &format!("/v1/files/{id}/complete"),
        );
        async move { request.send().await.unwrap().status() }
    }))
    .await;
    assert!(
        completed.iter().all(|s| *s == StatusCode::OK),
        "{completed:?}"
    );

    // Exact counts and statistics, from either instance.
    let expected_bytes: u64 =
        content.len() as u64 + files.iter().map(|(_, b, _)| b.len() as u64).sum::<u64>();
    for i in &alive {
        let case: Value = api(*i, reqwest::Method::GET, &format!("/v1/cases/{case_id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(case["file_count"], 51, "{case}");
        assert_eq!(case["total_size_bytes"], expected_bytes, "{case}");
    }
    let listed: Value = api(
        alive[0],
        reqwest::Method::GET,
        &format!("/v1/cases/{case_id}/files?limit=100"),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(listed["files"].as_array().unwrap().len(), 51, "{listed}");
    let objects = admin
        .list_objects_v2()
        .bucket(&bucket)
        .send()
        .await
        .unwrap()
        .key_count()
        .unwrap_or_default();
    assert!(objects >= 51, "every file is in the bucket: {objects}");

    // Another instance takes the jobs over.
    let mut took_over = false;
    for _ in 0..150 {
        let mut running = 0.0;
        for i in &alive {
            running += checkpoints_run(&client, &instances[*i]).await;
        }
        if running > 0.0 {
            took_over = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(took_over, "the jobs fail over when their instance stops");

    for instance in &mut instances {
        let _ = instance.child.start_kill();
        let _ = instance.child.wait().await;
    }
    drop_database(&database).await;
}

/// The `casefile` command-line client against the server at `base`.
async fn client_cli(base: &str, token: &str, home: &std::path::Path, args: &[&str]) -> String {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_casefile"));
    for (name, _) in
        std::env::vars().filter(|(n, _)| n.starts_with("CASEFILE_") || n.starts_with("AWS_"))
    {
        command.env_remove(name);
    }
    let out = command
        .args(args)
        .env("CASEFILE_SERVER", base)
        .env("CASEFILE_TOKEN", token)
        .env("XDG_CONFIG_HOME", home)
        .current_dir(home)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// #18: `casefile upload` and `casefile download` through a server on a cloud store: a matter's
/// folder of 50 files (nested folders, Unicode names, an empty file, a 200 MiB file) goes
/// straight to the bucket the way the server says (an S3 POST form, a GCS POST form, an Azure
/// PUT), is recorded with the SHA-256 computed locally, and comes back verified.
async fn command_line_client_on(storage: Arc<dyn ObjectStorage>, method: &str) {
    use casefile_testkit::files::{matter_folder, sha256_of};
    let app = start_on(storage).await;
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("src");
    let made = matter_folder(&src, 200 * 1024 * 1024);
    let client = casefile_client::Client::new(&app.base, Some(app.token.clone())).unwrap();
    let case = client.create_case("Cloud client").await.unwrap();
    let probe = client
        .begin_upload(
            case.id,
            &casefile_api::UploadRequest {
                logical_path: "probe.pdf".into(),
                file_name: None,
                mime_type: None,
                file_size: 8,
                content_hash: Sha256::digest(b"%PDF-1.7").to_hex(),
            },
        )
        .await
        .unwrap();
    assert_eq!(probe.upload.method, method, "{:?}", probe.upload.url);
    let case_id = case.id.to_string();
    let out = client_cli(
        &app.base,
        &app.token,
        home.path(),
        &[
            "upload",
            &case_id,
            &src.display().to_string(),
            "--jobs",
            "4",
        ],
    )
    .await;
    assert!(
        out.contains("uploaded 50 (") && out.ends_with("failed 0\n"),
        "{out}"
    );
    let listed: Vec<casefile_api::FileView> =
        futures::TryStreamExt::try_collect(client.list_files(case.id, None))
            .await
            .unwrap();
    let mut recorded: Vec<(String, String)> = listed
        .into_iter()
        .map(|f| (f.logical_path, f.content_hash))
        .collect();
    recorded.sort();
    assert_eq!(recorded, made);
    let dest = home.path().join("out");
    let out = client_cli(
        &app.base,
        &app.token,
        home.path(),
        &["download", &case_id, "--out", &dest.display().to_string()],
    )
    .await;
    assert!(
        out.ends_with("downloaded 50, skipped 0, failed 0\n"),
        "{out}"
    );
    for (rel, sha) in &made {
        assert_eq!(&sha256_of(&dest.join(rel)), sha, "{rel}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_line_client_on_s3_post_policy() {
    command_line_client_on(s3().await, "POST").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_line_client_on_gcs() {
    command_line_client_on(gcs().await, "POST").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_line_client_on_azure() {
    command_line_client_on(azure().await, "PUT").await;
}
