//! Running as a service (#20): request ids, the probes, and a database that goes away and comes
//! back without a restart.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_are_echoed_or_replaced() {
    let app = start().await;
    let client = reqwest::Client::new();
    let token = app.token(UserId::new());
    let missing = format!("{}/v1/cases/{}", app.base, uuid::Uuid::new_v4());

    // A well-formed id is echoed in the header and in the error body.
    let response = client
        .get(&missing)
        .bearer_auth(&token)
        .header("x-request-id", "trace-42.abc")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response.headers()["x-request-id"], "trace-42.abc");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["request_id"], "trace-42.abc", "{body}");

    // Too long, a space, a control character, not ASCII: replaced by a generated id.
    let generated = |v: &str| v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit());
    for bad in [
        "a".repeat(129).into_bytes(),
        b"two words".to_vec(),
        b"tab\there".to_vec(),
        "caf\u{e9}".as_bytes().to_vec(),
    ] {
        let response = client
            .get(&missing)
            .bearer_auth(&token)
            .header(
                "x-request-id",
                reqwest::header::HeaderValue::from_bytes(&bad).unwrap(),
            )
            .send()
            .await
            .unwrap();
        let echoed = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(generated(&echoed), "{bad:?} replaced, got {echoed:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["request_id"], echoed.as_str());
    }

    // None given: a new one per request, on successes too.
    let first = client
        .get(format!("{}/livez", app.base))
        .send()
        .await
        .unwrap();
    let second = client
        .get(format!("{}/livez", app.base))
        .send()
        .await
        .unwrap();
    let (a, b) = (
        first.headers()["x-request-id"].to_str().unwrap().to_owned(),
        second.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned(),
    );
    assert!(generated(&a) && generated(&b) && a != b, "{a} {b}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_answer_without_a_token() {
    let app = start().await;
    let live = reqwest::get(format!("{}/livez", app.base)).await.unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    assert_eq!(live.json::<Value>().await.unwrap(), json!({"status": "ok"}));
    let ready = reqwest::get(format!("{}/readyz", app.base)).await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(
        ready.json::<Value>().await.unwrap(),
        json!({"database": true, "storage": true, "migrations": true})
    );
    app.stop().await;
}

/// A TCP relay between the server and PostgreSQL that the test cuts (every connection closed,
/// new ones refused) and restores on the same port.
#[cfg(feature = "postgres")]
struct Relay {
    addr: std::net::SocketAddr,
    upstream: std::net::SocketAddr,
    tasks: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

#[cfg(feature = "postgres")]
impl Relay {
    async fn start(addr: std::net::SocketAddr, upstream: std::net::SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let tasks = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let accepting = {
            let tasks = tasks.clone();
            tokio::spawn(async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    let connection = tokio::spawn(async move {
                        if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    tasks.lock().unwrap().push(connection);
                }
            })
        };
        tasks.lock().unwrap().push(accepting);
        Self {
            addr,
            upstream,
            tasks,
        }
    }

    /// Closes the listener and every relayed connection.
    fn cut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

/// #20: the database going away makes `/readyz` 503 within a few seconds and requests fail with
/// 503 `unavailable` (not hang, not 500); when it comes back, so does the server, unrestarted.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_going_away_is_503_and_it_comes_back() {
    let (url, name) = super::sharing::on_postgres::fresh_database().await;
    let upstream_url = url::Url::parse(&url).unwrap();
    let upstream = tokio::net::lookup_host((
        upstream_url.host_str().unwrap(),
        upstream_url.port().unwrap_or(5432),
    ))
    .await
    .unwrap()
    .next()
    .unwrap();
    let relay = Relay::start("127.0.0.1:0".parse().unwrap(), upstream).await;
    let mut relayed = upstream_url.clone();
    relayed.set_port(Some(relay.addr.port())).unwrap();
    relayed.set_host(Some("127.0.0.1")).unwrap();
    let app = start_with({
        let relayed = relayed.to_string();
        move |c| c.database.url = Some(relayed)
    })
    .await;
    let client = reqwest::Client::new();
    let token = app.token(UserId::new());
    let ready = || async {
        client
            .get(format!("{}/readyz", app.base))
            .send()
            .await
            .unwrap()
    };
    assert_eq!(ready().await.status(), StatusCode::OK);
    let created = client
        .post(format!("{}/v1/cases", app.base))
        .bearer_auth(&token)
        .json(&json!({"title": "Before"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);

    relay.cut();
    // Bounds far above the probe's 2 s, only to tell an answer from a hang.
    let answered = std::time::Instant::now();
    let probe = ready().await;
    assert_eq!(probe.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = probe.json().await.unwrap();
    assert_eq!(body["database"], false, "{body}");
    assert!(answered.elapsed() < std::time::Duration::from_secs(20));
    let answered = std::time::Instant::now();
    let listed = client
        .get(format!("{}/v1/cases", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(listed.headers().contains_key("retry-after"));
    let body: Value = listed.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    assert!(answered.elapsed() < std::time::Duration::from_secs(20));

    let relay = Relay::start(relay.addr, relay.upstream).await;
    let mut back = false;
    for _ in 0..60 {
        if ready().await.status() == StatusCode::OK {
            back = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(back, "ready again once the database answers");
    let created = client
        .post(format!("{}/v1/cases", app.base))
        .bearer_auth(&token)
        .json(&json!({"title": "After"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    app.stop().await;
    relay.cut();
    super::sharing::on_postgres::drop_database(&name).await;
}

/// #20: `casefile config --check` validates without starting: exit 0 for a good configuration,
/// 1 naming the bad variable or setting otherwise; with PostgreSQL it names the shared secrets
/// to set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_check_validates_without_starting() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    let check = |extra: Vec<(&'static str, String)>| {
        let data = data.clone();
        async move { casefile_cli(&data, &data, &["config", "--check"], extra).await }
    };
    let (code, stdout, _) = check(vec![]).await;
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("the configuration is valid"));
    assert!(
        !data.join("casefile.db").exists(),
        "nothing was started or created"
    );
    for (name, value, named) in [
        (
            "CASEFILE_MIGRATE_ON_START",
            "maybe",
            "CASEFILE_MIGRATE_ON_START",
        ),
        (
            "CASEFILE_DATABASE_MAX_CONNECTIONS",
            "many",
            "CASEFILE_DATABASE_MAX_CONNECTIONS",
        ),
        (
            "CASEFILE_METRICS_LISTEN",
            "everywhere",
            "CASEFILE_METRICS_LISTEN",
        ),
        ("CASEFILE_LOG_FORMAT", "xml", "CASEFILE_LOG_FORMAT"),
        ("CASEFILE_STORAGE", "s3", "storage.s3.bucket"),
    ] {
        let (code, stdout, stderr) = check(vec![(name, value.to_owned())]).await;
        assert_eq!(code, Some(1), "{name}={value}: {stdout}{stderr}");
        assert!(stderr.contains(named), "{name}={value}: {stderr}");
    }
    let (code, _, stderr) = check(vec![(
        "CASEFILE_DATABASE_URL",
        "postgres://casefile@127.0.0.1:1/casefile".to_owned(),
    )])
    .await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("CASEFILE_JWT_SECRET") && stderr.contains("CASEFILE_AUDIT_SIGNING_KEY"),
        "{stderr}"
    );
    std::fs::write(data.join("bad.toml"), "[server]\nshutdown_grace = 3\n").unwrap();
    let (code, _, stderr) = casefile_cli(
        &data,
        &data,
        &["--config", "bad.toml", "config", "--check"],
        vec![],
    )
    .await;
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("unknown field") && stderr.contains("shutdown_grace"),
        "{stderr}"
    );
}

/// #19: browsers of the configured origins may call the API (CORS), no one else's; with none
/// configured (the default) no CORS header is ever sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_for_the_configured_origins_only() {
    let app = start_with(|c| {
        c.server.cors_allowed_origins = vec!["https://review.firm.example".into()];
    })
    .await;
    let client = reqwest::Client::new();
    let preflight = |origin: &'static str| {
        client
            .request(reqwest::Method::OPTIONS, format!("{}/v1/cases", app.base))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
    };
    let allowed = preflight("https://review.firm.example").await.unwrap();
    assert!(allowed.status().is_success(), "{}", allowed.status());
    let h = allowed.headers();
    assert_eq!(
        h["access-control-allow-origin"],
        "https://review.firm.example"
    );
    let methods = h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        methods.contains("POST") && methods.contains("DELETE"),
        "{methods}"
    );
    let headers = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(headers.contains("authorization"), "{headers}");
    assert!(
        h.get("access-control-allow-credentials").is_none(),
        "bearer tokens, not cookies"
    );
    let other = preflight("https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    // A real request from the allowed origin can read the request id.
    let token = app.token(UserId::new());
    let listed = client
        .get(format!("{}/v1/cases", app.base))
        .header("origin", "https://review.firm.example")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::OK);
    let exposed = listed.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(exposed.contains("x-request-id"), "{exposed}");
    app.stop().await;

    let closed = start().await;
    let response = reqwest::Client::new()
        .get(format!("{}/v1/cases", closed.base))
        .header("origin", "https://review.firm.example")
        .bearer_auth(closed.token(UserId::new()))
        .send()
        .await
        .unwrap();
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    closed.stop().await;
}
