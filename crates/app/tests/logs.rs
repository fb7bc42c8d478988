//! #13.10: presigned capability URLs never reach the log, even at the most verbose level; #20:
//! every request has its access line (route template, status, user, request id), no bearer token
//! or secret is ever logged, and the Prometheus endpoint counts what the flow did. Its own test
//! binary: it installs the process-wide subscriber and metrics recorder.
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
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    };
    config.metrics.listen = Some("127.0.0.1:0".parse().unwrap());
    let (server, _) = casefile_app::start(&config).await.unwrap();
    let metrics_url = format!("http://{}/metrics", server.metrics_addr.unwrap());
    let base = format!("http://{}", server.addr);
    let (secret, _) = casefile_app::jwt_secret(&config).unwrap();
    let token_user = UserId::new();
    let token = casefile_app::tokens(&config, &secret)
        .mint(token_user, 600)
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
    let streamed = client
        .get(format!("{base}/v1/files/{file_id}/content"))
        .bearer_auth(&token)
        .header("x-request-id", "logs-test-download")
        .send()
        .await
        .unwrap();
    assert_eq!(streamed.bytes().await.unwrap().to_vec(), content);
    let refused = client
        .get(format!("{base}/v1/cases"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    // Pending: one upload begun and never sent.
    let pending = client
        .post(format!(
            "{base}/v1/cases/{}/uploads",
            case["id"].as_str().unwrap()
        ))
        .bearer_auth(&token)
        .json(&json!({
            "logical_path": "b.pdf",
            "file_size": 4,
            "content_hash": Sha256::digest(b"%PDF").to_hex(),
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(pending.status(), 201);

    let scraped = client
        .get(&metrics_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    server.stop().await.unwrap();

    // The metrics count what the flow did.
    let value = |prefix: &str| -> f64 {
        scraped
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in\n{scraped}"))
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let counted = |name: &str, labels: &[&str]| -> f64 {
        scraped
            .lines()
            .filter(|l| l.starts_with(name) && labels.iter().all(|x| l.contains(x)))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum()
    };
    assert_eq!(
        counted(
            "casefile_http_requests_total{",
            &["route=\"/v1/cases\"", "method=\"POST\"", "status=\"201\""]
        ),
        1.0,
        "{scraped}"
    );
    assert_eq!(
        counted(
            "casefile_http_requests_total{",
            &["route=\"/v1/cases/{case_id}/uploads\"", "status=\"201\""]
        ),
        2.0
    );
    assert_eq!(
        counted("casefile_http_requests_total{", &["status=\"401\""]),
        1.0
    );
    assert_eq!(
        counted(
            "casefile_http_request_duration_seconds_count{",
            &["route=\"/v1/files/{file_id}/complete\""]
        ),
        1.0
    );
    assert_eq!(
        counted(
            "casefile_http_sent_bytes_total{",
            &["route=\"/v1/files/{file_id}/content\""]
        ),
        content.len() as f64,
        "the download's bytes"
    );
    assert_eq!(
        counted(
            "casefile_http_received_bytes_total{",
            &["route=\"/v1/blobs/{*key}\""]
        ),
        content.len() as f64,
        "the upload's bytes"
    );
    assert!(
        counted(
            "casefile_storage_operations_total{",
            &["backend=\"fs\"", "outcome=\"ok\""]
        ) >= 3.0
    );
    assert!(
        counted(
            "casefile_storage_operation_duration_seconds_count{",
            &["operation=\"download\""]
        ) >= 1.0
    );
    assert_eq!(value("casefile_uploads_pending "), 1.0);
    assert_eq!(value("casefile_db_pool_connections{state=\"max\"}"), 8.0);
    assert_eq!(value("casefile_db_pool_waiting "), 0.0);

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

    // One access line per request, by route template, with the caller and the request id.
    let access: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("casefile::access"))
        .collect();
    assert!(access.len() >= 9, "{}", access.join("\n"));
    let download = access
        .iter()
        .find(|l| l.contains("request_id=logs-test-download"))
        .unwrap_or_else(|| panic!("the download's access line: {log}"));
    for part in [
        "method=GET",
        "route=/v1/files/{file_id}/content",
        "status=200",
        &format!("bytes_out={}", content.len()),
        "complete=true",
    ] {
        assert!(download.contains(part), "{part} in {download}");
    }
    assert!(
        download.contains(&format!("user={}", token_user)),
        "{download}"
    );
    assert!(
        access.iter().any(|l| l.contains("route=/v1/cases")
            && l.contains("status=401")
            && l.contains("user=-")),
        "the refused request is logged, without a user"
    );
    // No bearer token, nor any secret of the data directory, anywhere in the log.
    assert!(!log.contains(&token), "a bearer token is in the log");
    assert!(
        !log.contains("not-a-token"),
        "a refused bearer token is in the log"
    );
    for secret in ["jwt.secret", "blob-url.secret", "audit-signing.secret"] {
        let value = std::fs::read_to_string(dir.path().join(secret)).unwrap();
        assert!(!log.contains(value.trim()), "{secret} is in the log");
    }
}
