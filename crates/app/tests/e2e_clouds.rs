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
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        database: DatabaseConfig {
            url: Some(url),
            ..DatabaseConfig::default()
        },
        ..Config::default()
    };
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
    let upload = &started["upload"];
    let url = upload["url"].as_str().unwrap();
    let status = match upload["method"].as_str().unwrap() {
        "POST" => {
            let mut form = reqwest::multipart::Form::new();
            for (k, v) in upload["fields"].as_object().unwrap() {
                form = form.text(k.clone(), v.as_str().unwrap().to_owned());
            }
            let part = reqwest::multipart::Part::bytes(content.clone())
                .file_name("motion.pdf")
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
            req.body(content.clone()).send().await.unwrap().status()
        }
    };
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
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        database: DatabaseConfig {
            url: url.clone(),
            ..DatabaseConfig::default()
        },
        ..Config::default()
    };
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
