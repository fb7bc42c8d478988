//! Running as a service: `casefile serve` on SIGTERM stops accepting, lets the requests in
//! flight finish (a streaming upload included), and exits 0.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_an_upload_in_flight_finish_then_exits_zero() {
    use tokio::io::AsyncBufReadExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    let user = UserId::new();
    let token = run_cli(
        data.clone(),
        data.clone(),
        &["token", "--user", &user.to_string()],
        vec![],
    )
    .await
    .trim()
    .to_owned();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_casefile"));
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("CASEFILE_")) {
        command.env_remove(name);
    }
    let mut child = command
        .arg("serve")
        .env("CASEFILE_DATA_DIR", &data)
        .env("CASEFILE_LISTEN", "127.0.0.1:0")
        .env("CASEFILE_SHUTDOWN_GRACE_SECS", "20")
        .env("CASEFILE_LOG_FORMAT", "json")
        .current_dir(&data)
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(dir.path().join("stderr.log")).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().unwrap();
    let base = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("{first}"))
        .to_owned();
    let client = reqwest::Client::new();
    let case: Value = client
        .post(format!("{base}/v1/cases"))
        .bearer_auth(&token)
        .json(&json!({"title": "Rolling restart"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let case_id = case["id"].as_str().unwrap().to_owned();
    // 20 chunks of 1 KiB, one every 100 ms: two seconds in flight.
    let chunks = futures::stream::unfold(0u32, |n| async move {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        (n < 20).then(|| (Ok::<_, std::io::Error>(vec![b'e'; 1024]), n + 1))
    });
    let upload = {
        let (client, base, token, case_id) =
            (client.clone(), base.clone(), token.clone(), case_id.clone());
        tokio::spawn(async move {
            client
                .put(format!(
                    "{base}/v1/cases/{case_id}/files?logical_path=slow.bin"
                ))
                .bearer_auth(token)
                .header("content-length", "20480")
                .body(reqwest::Body::wrap_stream(chunks))
                .send()
                .await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    loop {
        let said = lines
            .next_line()
            .await
            .unwrap()
            .expect("a line about the signal");
        if said.starts_with("SIGTERM: shutting down") {
            break;
        }
    }
    // The listener closes (the line is printed as the signal is handed to the server): a new
    // connection is refused while the upload still streams. A fresh client each time — a pooled
    // keep-alive connection would be an old connection, drained, not a new one.
    let mut refused = None;
    for _ in 0..40 {
        let fresh = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        match fresh.get(format!("{base}/healthz")).send().await {
            Err(e) => {
                refused = Some(e);
                break;
            }
            Ok(_) => tokio::time::sleep(std::time::Duration::from_millis(25)).await,
        }
    }
    assert!(refused.is_some(), "new connections refused after SIGTERM");
    assert!(!upload.is_finished(), "while the upload is still in flight");
    let response = upload.await.unwrap().unwrap();
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "the upload in flight completes"
    );
    let file: Value = response.json().await.unwrap();
    assert_eq!(file["file_size"], 20480, "{file}");
    let status = tokio::time::timeout(std::time::Duration::from_secs(20), child.wait())
        .await
        .expect("exits after the upload")
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("stopped"));

    // log.format = json: every line of the log is one JSON object, and the upload's access line
    // was written when it finished, during the shutdown.
    let log = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let access = lines
        .iter()
        .find(|l| l["target"] == "casefile::access" && l["route"] == "/v1/cases/{case_id}/files")
        .unwrap_or_else(|| panic!("the upload's access line in {log}"));
    assert_eq!(access["status"], 201, "{access}");
    assert_eq!(access["bytes_in"], 20480, "{access}");
    assert_eq!(access["method"], "PUT", "{access}");
    assert_eq!(access["user"], user.to_string(), "{access}");
    assert!(
        access["request_id"]
            .as_str()
            .is_some_and(|id| id.len() == 32),
        "{access}"
    );
}
