//! #13.10: presigned capability URLs never reach the log, even at the most verbose level. Its
//! own test binary: it installs the process-wide subscriber that captures everything.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use casefile_app::config::Config;
use casefile_domain::Sha256;
use casefile_domain::legal::UserId;
use serde_json::{Value, json};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presigned_urls_never_reach_the_log() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish(),
    )
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    };
    let (server, _) = casefile_app::start(&config).await.unwrap();
    let base = format!("http://{}", server.addr);
    let (secret, _) = casefile_app::jwt_secret(&config).unwrap();
    let token = casefile_app::tokens(&config, &secret)
        .mint(UserId::new(), 600)
        .unwrap();
    let client = reqwest::Client::new();
    let case: Value = client
        .post(format!("{base}/v1/cases"))
        .bearer_auth(&token)
        .json(&json!({"title": "Logs"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let content = b"%PDF-1.7 logged?".to_vec();
    let started: Value = client
        .post(format!(
            "{base}/v1/cases/{}/uploads",
            case["id"].as_str().unwrap()
        ))
        .bearer_auth(&token)
        .json(&json!({
            "logical_path": "a.pdf",
            "file_size": content.len(),
            "content_hash": Sha256::digest(&content).to_hex(),
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let upload_url = started["upload"]["url"].as_str().unwrap().to_owned();
    let mut put = client.put(&upload_url);
    for (name, value) in started["upload"]["headers"].as_object().unwrap() {
        put = put.header(name, value.as_str().unwrap());
    }
    assert!(
        put.body(content.clone())
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
    let file_id = started["file_id"].as_str().unwrap();
    let done = client
        .post(format!("{base}/v1/files/{file_id}/complete"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(done.status().is_success());
    let link: Value = client
        .get(format!("{base}/v1/files/{file_id}/download-url"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let download_url = link["url"].as_str().unwrap().to_owned();
    let fetched = client.get(&download_url).send().await.unwrap();
    assert_eq!(fetched.bytes().await.unwrap().to_vec(), content);
    server.stop().await.unwrap();

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        log.contains("/v1/blobs/"),
        "the blob requests are logged at all: {log}"
    );
    for url in [&upload_url, &download_url] {
        let parsed = url::Url::parse(url).unwrap();
        let query = parsed.query().unwrap_or_default();
        assert!(
            !query.is_empty(),
            "a presigned URL has its grant in the query"
        );
        for (name, value) in parsed.query_pairs() {
            if value.len() >= 16 {
                assert!(
                    !log.contains(value.as_ref()),
                    "{name} of a presigned URL is in the log"
                );
            }
        }
        assert!(!log.contains(query), "a presigned query is in the log");
    }
}
