//! Sign-in from an identity provider: a real issuer on 127.0.0.1 (keys made by `openssl`, a JWKS
//! served over HTTP, tokens minted here), and the real server configured with its URL.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;

use super::*;

const ISSUER: &str = "https://idp.firm.example/realms/casefile";
const AUDIENCE: &str = "casefile-api";

/// A key of the issuer: its private half to sign with, its public JWK, and its PEM files.
struct IssuerKey {
    kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
    jwk: Jwk,
    public_pem: Vec<u8>,
}

fn openssl(args: &[&str]) {
    let status = std::process::Command::new("openssl")
        .args(args)
        .status()
        .expect("openssl is needed to make the test keys");
    assert!(status.success(), "openssl {args:?}");
}

fn make_key(dir: &std::path::Path, kid: &str, alg: Algorithm) -> IssuerKey {
    let private = dir.join(format!("{kid}.pem"));
    let public = dir.join(format!("{kid}.pub.pem"));
    let p = private.to_str().unwrap();
    match alg {
        Algorithm::RS256 => openssl(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            p,
        ]),
        Algorithm::ES256 => openssl(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            p,
        ]),
        Algorithm::EdDSA => openssl(&["genpkey", "-algorithm", "ED25519", "-out", p]),
        other => panic!("no test key for {other:?}"),
    }
    openssl(&[
        "pkey",
        "-in",
        p,
        "-pubout",
        "-out",
        public.to_str().unwrap(),
    ]);
    let pem = std::fs::read(&private).unwrap();
    let encoding = match alg {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(&pem),
        Algorithm::ES256 => EncodingKey::from_ec_pem(&pem),
        _ => EncodingKey::from_ed_pem(&pem),
    }
    .unwrap();
    let mut jwk = Jwk::from_encoding_key(&encoding, alg).unwrap();
    jwk.common.key_id = Some(kid.to_owned());
    IssuerKey {
        kid: kid.to_owned(),
        alg,
        encoding,
        jwk,
        public_pem: std::fs::read(&public).unwrap(),
    }
}

/// The issuer's JWKS endpoint: the keys it serves (changeable) and how often it was asked.
#[derive(Clone)]
struct Issuer {
    keys: Arc<Mutex<Vec<Jwk>>>,
    fetches: Arc<AtomicUsize>,
    url: String,
}

async fn serve_jwks(keys: Vec<Jwk>) -> Issuer {
    let keys = Arc::new(Mutex::new(keys));
    let fetches = Arc::new(AtomicUsize::new(0));
    let (k, f) = (keys.clone(), fetches.clone());
    let app = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            let (k, f) = (k.clone(), f.clone());
            async move {
                f.fetch_add(1, Ordering::SeqCst);
                let set = JwkSet {
                    keys: k.lock().unwrap().clone(),
                };
                axum::Json(set)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Issuer {
        keys,
        fetches,
        url: format!("http://{addr}/jwks"),
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn claims(sub: &str) -> Value {
    json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": sub,
        "iat": now(), "nbf": now() - 5, "exp": now() + 600,
        "name": "Avery Partner", "email": "avery@firm.example",
    })
}

fn sign(key: &IssuerKey, claims: &Value) -> String {
    let mut header = Header::new(key.alg);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.encoding).unwrap()
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_of_the_identity_provider() {
    let keys_dir = tempfile::tempdir().unwrap();
    let rsa = make_key(keys_dir.path(), "rsa-1", Algorithm::RS256);
    let ec = make_key(keys_dir.path(), "ec-1", Algorithm::ES256);
    let ed = make_key(keys_dir.path(), "ed-1", Algorithm::EdDSA);
    let issuer = serve_jwks(vec![rsa.jwk.clone(), ec.jwk.clone(), ed.jwk.clone()]).await;
    let url = issuer.url.clone();
    let app = start_with(move |c| {
        c.auth.jwks_url = Some(url);
        c.auth.issuer = Some(ISSUER.into());
        c.auth.audience = Some(AUDIENCE.into());
        c.auth.jwks_min_refresh_secs = 2;
    })
    .await;
    let get_cases = |token: String| {
        let app = &app;
        async move { app.call(Method::GET, "/v1/cases", Some(&token), None).await }
    };

    // RS256, ES256 and EdDSA tokens of the provider are accepted.
    let user = uuid::Uuid::new_v4().to_string();
    for key in [&rsa, &ec, &ed] {
        let (status, body) = get_cases(sign(key, &claims(&user))).await;
        assert_eq!(status, StatusCode::OK, "{:?}: {body}", key.alg);
    }
    assert_eq!(issuer.fetches.load(Ordering::SeqCst), 1, "keys are cached");

    // A subject that is not a UUID is a stable user: the case made with one token is found with
    // another; the profile of the token shows in the member list.
    let subject = "avery@firm.example";
    let token = sign(&rsa, &claims(subject));
    let case = new_case(&app, &token).await;
    let again = sign(&ec, &claims(subject));
    let (status, members) = app
        .call(
            Method::GET,
            &format!("/v1/cases/{case}/members"),
            Some(&again),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{members}");
    let me = &members["members"][0];
    assert_eq!(me["role"], "owner");
    assert_eq!(me["display_name"], "Avery Partner");
    assert_eq!(me["email"], "avery@firm.example");
    let expected_id = casefile_app::oidc::user_id_for(ISSUER, subject);
    assert_eq!(me["user_id"], expected_id.to_string());

    // Every refusal is the same 401, with no detail of why.
    let mut refused = Vec::new();
    let mut bad = |what: &str, token: String| refused.push((what.to_owned(), token));
    let mut c = claims(&user);
    c["exp"] = json!(now() - 120);
    c["iat"] = json!(now() - 700);
    bad("expired", sign(&rsa, &c));
    let mut c = claims(&user);
    c["nbf"] = json!(now() + 300);
    bad("not yet valid", sign(&rsa, &c));
    let mut c = claims(&user);
    c["iss"] = json!("https://evil.example");
    bad("wrong issuer", sign(&rsa, &c));
    let mut c = claims(&user);
    c["aud"] = json!("another-app");
    bad("wrong audience", sign(&rsa, &c));
    let mut c = claims(&user);
    c.as_object_mut().unwrap().remove("exp");
    bad("no exp", sign(&rsa, &c));
    let mut unknown = make_key(keys_dir.path(), "rsa-unknown", Algorithm::RS256);
    unknown.kid = "nobody-knows".into();
    bad("unknown kid", sign(&unknown, &claims(&user)));
    let mut wrong_key = make_key(keys_dir.path(), "rsa-other", Algorithm::RS256);
    wrong_key.kid = rsa.kid.clone();
    bad(
        "signed by another key under a known kid",
        sign(&wrong_key, &claims(&user)),
    );
    // Tampered: the payload says another user, the signature is the original's.
    let good = sign(&rsa, &claims(&user));
    let parts: Vec<&str> = good.split('.').collect();
    let forged_payload = b64(claims(&uuid::Uuid::new_v4().to_string())
        .to_string()
        .as_bytes());
    bad(
        "tampered payload",
        format!("{}.{forged_payload}.{}", parts[0], parts[2]),
    );
    // Algorithm confusion: HS256 keyed with the RSA public key, under the RSA key's kid.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(rsa.kid.clone());
    let confused = jsonwebtoken::encode(
        &header,
        &claims(&user),
        &EncodingKey::from_secret(&rsa.public_pem),
    )
    .unwrap();
    bad("HS256 with the RSA public key as secret", confused);
    let none_header = b64(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = b64(claims(&user).to_string().as_bytes());
    bad("alg none", format!("{none_header}.{payload}."));
    // The local secret's tokens, while a provider is configured.
    let local = casefile_app::auth::Tokens::new(&[7u8; 32]);
    bad(
        "a local HS256 token",
        local.mint(UserId::new(), 60).unwrap(),
    );
    let mut bodies = Vec::new();
    for (what, token) in &refused {
        let (status, body) = get_cases(token.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
        assert_eq!(code(&body), "unauthorized", "{what}");
        // Each answer has its own request id; nothing else may differ.
        let mut body = body;
        if let Some(error) = body["error"].as_object_mut() {
            error.remove("request_id");
        }
        bodies.push(body);
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "no detail of why: {bodies:?}"
    );

    // A flood of unknown kids fetches the keys at most once per jwks_min_refresh_secs.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let before = issuer.fetches.load(Ordering::SeqCst);
    let flood = (0..20).map(|i| {
        let mut key = make_key_clone(&unknown);
        key.kid = format!("made-up-{i}");
        get_cases(sign(&key, &claims(&user)))
    });
    for (status, _) in futures::future::join_all(flood).await {
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        issuer.fetches.load(Ordering::SeqCst) - before,
        1,
        "one fetch for twenty unknown kids"
    );

    // Rotation: a new key published by the provider is accepted without a restart.
    let rotated = make_key(keys_dir.path(), "rsa-2", Algorithm::RS256);
    issuer.keys.lock().unwrap().push(rotated.jwk.clone());
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (status, body) = get_cases(sign(&rotated, &claims(&user))).await;
    assert_eq!(status, StatusCode::OK, "rotated key: {body}");
    app.stop().await;
}

fn make_key_clone(key: &IssuerKey) -> IssuerKey {
    IssuerKey {
        kid: key.kid.clone(),
        alg: key.alg,
        encoding: key.encoding.clone(),
        jwk: key.jwk.clone(),
        public_pem: key.public_pem.clone(),
    }
}

/// `casefile token` refuses to mint local tokens while a provider is configured.
#[tokio::test(flavor = "multi_thread")]
async fn local_tokens_are_not_minted_under_a_provider() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("casefile.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n[auth]\njwks_url = \"https://idp.firm.example/keys\"\n\
             issuer = {ISSUER:?}\naudience = {AUDIENCE:?}\n",
            dir.path().join("data")
        ),
    )
    .unwrap();
    let config = config.to_string_lossy().into_owned();
    let (code, _, stderr) = casefile_cli(
        dir.path(),
        &dir.path().join("data"),
        &["--config", &config, "token"],
        Vec::new(),
    )
    .await;
    assert_ne!(code, Some(0));
    assert!(stderr.contains("identity provider"), "{stderr}");
}

/// Keys from a JWKS file, cached for `jwks_cache_secs`: a key the provider withdrew is refused
/// once the cache expires, and its replacement accepted — no restart.
#[tokio::test(flavor = "multi_thread")]
async fn withdrawn_keys_stop_working_when_the_cache_expires() {
    let keys_dir = tempfile::tempdir().unwrap();
    let old = make_key(keys_dir.path(), "old", Algorithm::ES256);
    let new = make_key(keys_dir.path(), "new", Algorithm::EdDSA);
    let file = keys_dir.path().join("jwks.json");
    let write = |keys: Vec<Jwk>| {
        std::fs::write(&file, serde_json::to_vec(&JwkSet { keys }).unwrap()).unwrap();
    };
    write(vec![old.jwk.clone()]);
    let path = file.clone();
    let app = start_with(move |c| {
        c.auth.jwks_file = Some(path);
        c.auth.issuer = Some(ISSUER.into());
        c.auth.audience = Some(AUDIENCE.into());
        c.auth.jwks_cache_secs = 1;
        c.auth.jwks_min_refresh_secs = 1;
    })
    .await;
    let user = uuid::Uuid::new_v4().to_string();
    let status = |token: String| {
        let app = &app;
        async move {
            app.call(Method::GET, "/v1/cases", Some(&token), None)
                .await
                .0
        }
    };
    assert_eq!(status(sign(&old, &claims(&user))).await, StatusCode::OK);
    write(vec![new.jwk.clone()]);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        status(sign(&old, &claims(&user))).await,
        StatusCode::UNAUTHORIZED,
        "withdrawn"
    );
    assert_eq!(status(sign(&new, &claims(&user))).await, StatusCode::OK);
    app.stop().await;
}
