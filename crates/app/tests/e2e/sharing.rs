//! Shared cases over HTTP: every route × every role × a non-member, on SQLite and (with the
//! `postgres` feature) PostgreSQL; member routes' bad input; the service's role rules on both
//! databases.

use super::*;

/// What a route answered, as the authorization decision sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Got {
    /// Past the authorization decision (2xx, or a refusal that comes after it).
    Allowed,
    /// 403 `forbidden`.
    Forbidden,
    /// 404 `not_found`.
    NotFound,
}

fn judged(status: StatusCode, body: &Value, what: &str) -> Got {
    match status {
        StatusCode::FORBIDDEN => {
            assert_eq!(code(body), "forbidden", "{what}: {body}");
            Got::Forbidden
        }
        StatusCode::NOT_FOUND => {
            assert_eq!(code(body), "not_found", "{what}: {body}");
            Got::NotFound
        }
        s if s.is_success() => Got::Allowed,
        // A completion with nothing uploaded: allowed to try, and told why it cannot.
        StatusCode::CONFLICT if code(body) == "upload_missing" => Got::Allowed,
        other => panic!("{what}: unexpected {other} {body}"),
    }
}

/// A file of `case`, uploaded directly by `token`: its id.
async fn uploaded(app: &Running, token: &str, case: &str, path: &str) -> String {
    let response = app
        .put_file(
            token,
            case,
            path,
            &[],
            b"%PDF-1.7\nshared evidence".to_vec(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

/// Every route × owner, editor, viewer, auditor and a stranger.
async fn route_role_matrix(app: &Running) {
    use Got::{Allowed as A, Forbidden as F, NotFound as N};
    use reqwest::Method;
    let owner = UserId::new();
    let owner_token = app.token(owner);
    let case = new_case(app, &owner_token).await;
    let mut actors = vec![("owner", owner)];
    for role in ["editor", "viewer", "auditor"] {
        let user = UserId::new();
        let (status, body) = app
            .call(
                Method::PUT,
                &format!("/v1/cases/{case}/members/{user}"),
                Some(&owner_token),
                Some(json!({"role": role})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["role"], role);
        actors.push((role, user));
    }
    actors.push(("stranger", UserId::new()));
    let shared = uploaded(app, &owner_token, &case, "shared.pdf").await;
    let content = b"%PDF-1.7\nnew".to_vec();
    let hash = Sha256::digest(&content).to_hex();

    // owner, editor, viewer, auditor, stranger
    let table: [(&str, [Got; 5]); 20] = [
        ("GET case", [A, A, A, A, N]),
        ("GET files", [A, A, A, A, N]),
        ("GET file", [A, A, A, A, N]),
        ("GET content", [A, A, A, F, N]),
        ("GET download-url", [A, A, A, F, N]),
        ("GET export", [A, A, A, F, N]),
        ("POST uploads", [A, A, F, F, N]),
        ("PUT files", [A, A, F, F, N]),
        ("POST complete", [A, A, F, F, N]),
        ("DELETE file", [A, A, F, F, N]),
        ("GET audit", [A, F, F, A, N]),
        ("GET members", [A, A, A, A, N]),
        ("PUT member", [A, F, F, F, N]),
        ("DELETE member", [A, F, F, F, N]),
        ("GET cases", [A, A, A, A, N]),
        // Holds and retention last: a hold or a retention date changes what deletes do.
        ("POST holds", [A, F, F, F, N]),
        ("GET holds", [A, A, A, A, N]),
        ("POST release", [A, F, F, F, N]),
        ("PUT retention", [A, F, F, F, N]),
        ("PUT file retention", [A, F, F, F, N]),
    ];
    for (route, expected) in table {
        for ((name, user), want) in actors.iter().zip(expected) {
            let token = app.token(*user);
            let what = format!("{route} as {name}");
            let path = format!("{}/{name}.pdf", route.replace(' ', "-"));
            let got = match route {
                "GET case" => {
                    let (s, b) = app
                        .call(
                            Method::GET,
                            &format!("/v1/cases/{case}"),
                            Some(&token),
                            None,
                        )
                        .await;
                    if s.is_success() {
                        assert_eq!(b["role"], *name, "{what}: the caller's role");
                    }
                    judged(s, &b, &what)
                }
                "GET files" => {
                    let (s, b) = app
                        .call(
                            Method::GET,
                            &format!("/v1/cases/{case}/files"),
                            Some(&token),
                            None,
                        )
                        .await;
                    judged(s, &b, &what)
                }
                "GET file" => {
                    let (s, b) = app
                        .call(
                            Method::GET,
                            &format!("/v1/files/{shared}"),
                            Some(&token),
                            None,
                        )
                        .await;
                    judged(s, &b, &what)
                }
                "GET content" => {
                    let response = reqwest::Client::new()
                        .get(format!("{}/v1/files/{shared}/content", app.base))
                        .bearer_auth(&token)
                        .send()
                        .await
                        .unwrap();
                    let s = response.status();
                    let text = response.text().await.unwrap();
                    if s.is_success() {
                        assert_eq!(text, "%PDF-1.7\nshared evidence", "{what}");
                        A
                    } else {
                        judged(s, &serde_json::from_str(&text).unwrap(), &what)
                    }
                }
                "GET export" => {
                    let response = reqwest::Client::new()
                        .get(format!("{}/v1/cases/{case}/export.zip", app.base))
                        .bearer_auth(&token)
                        .send()
                        .await
                        .unwrap();
                    let s = response.status();
                    let body = response.bytes().await.unwrap();
                    if s.is_success() {
                        assert!(body.starts_with(b"PK\x03\x04"), "{what}: a ZIP");
                        A
                    } else {
                        judged(s, &serde_json::from_slice(&body).unwrap(), &what)
                    }
                }
                "GET download-url" => {
                    let (s, b) = app
                        .call(
                            Method::GET,
                            &format!("/v1/files/{shared}/download-url"),
                            Some(&token),
                            None,
                        )
                        .await;
                    judged(s, &b, &what)
                }
                "POST uploads" => {
                    let (s, b) = app
                        .call(
                            Method::POST,
                            &format!("/v1/cases/{case}/uploads"),
                            Some(&token),
                            Some(json!({"logical_path": path, "file_size": content.len(),
                                "content_hash": hash})),
                        )
                        .await;
                    judged(s, &b, &what)
                }
                "PUT files" => {
                    let response = app
                        .put_file(&token, &case, &path, &[], content.clone())
                        .await;
                    let s = response.status();
                    let b: Value = response.json().await.unwrap();
                    judged(s, &b, &what)
                }
                "POST complete" => {
                    let (s, b) = app
                        .call(
                            Method::POST,
                            &format!("/v1/cases/{case}/uploads"),
                            Some(&owner_token),
                            Some(json!({"logical_path": path, "file_size": content.len(),
                                "content_hash": hash})),
                        )
                        .await;
                    assert_eq!(s, StatusCode::CREATED, "{b}");
                    let pending = b["file_id"].as_str().unwrap().to_owned();
                    let (s, b) = app
                        .call(
                            Method::POST,
                            &format!("/v1/files/{pending}/complete"),
                            Some(&token),
                            None,
                        )
                        .await;
                    judged(s, &b, &what)
                }
                "DELETE file" => {
                    let file = uploaded(app, &owner_token, &case, &path).await;
                    let (s, b) = app
                        .call(
                            Method::DELETE,
                            &format!("/v1/files/{file}"),
                            Some(&token),
                            None,
                        )
                        .await;
                    let got = judged(s, &b, &what);
                    let (still, _) = app
                        .call(
                            Method::GET,
                            &format!("/v1/files/{file}"),
                            Some(&owner_token),
                            None,
                        )
                        .await;
                    assert_eq!(
                        still == StatusCode::OK,
                        got != A,
                        "{what}: kept unless allowed"
                    );
                    got
                }
                "GET audit" => {
                    let (s, b) = app
                        .call(
                            Method::GET,
                            &format!("/v1/cases/{case}/audit"),
                            Some(&token),
                            None,
                        )
                        .await;
                    judged(s, &b, &what)
                }
                "GET members" => {
                    let (s, b) = app
                        .call(
                            Method::GET,
                            &format!("/v1/cases/{case}/members"),
                            Some(&token),
                            None,
                        )
                        .await;
                    if s.is_success() {
                        assert_eq!(b["members"].as_array().unwrap().len(), 4, "{what}: {b}");
                    }
                    judged(s, &b, &what)
                }
                "PUT member" => {
                    let newcomer = UserId::new();
                    let (s, b) = app
                        .call(
                            Method::PUT,
                            &format!("/v1/cases/{case}/members/{newcomer}"),
                            Some(&token),
                            Some(json!({"role": "viewer"})),
                        )
                        .await;
                    let got = judged(s, &b, &what);
                    if got == A {
                        // Leave the member list as it was for the next callers.
                        let (s, _) = app
                            .call(
                                Method::DELETE,
                                &format!("/v1/cases/{case}/members/{newcomer}"),
                                Some(&owner_token),
                                None,
                            )
                            .await;
                        assert_eq!(s, StatusCode::NO_CONTENT);
                    }
                    got
                }
                "DELETE member" => {
                    let leaving = UserId::new();
                    let (s, _) = app
                        .call(
                            Method::PUT,
                            &format!("/v1/cases/{case}/members/{leaving}"),
                            Some(&owner_token),
                            Some(json!({"role": "viewer"})),
                        )
                        .await;
                    assert_eq!(s, StatusCode::OK);
                    let (s, b) = app
                        .call(
                            Method::DELETE,
                            &format!("/v1/cases/{case}/members/{leaving}"),
                            Some(&token),
                            None,
                        )
                        .await;
                    let got = judged(s, &b, &what);
                    if got != A {
                        let (s, _) = app
                            .call(
                                Method::DELETE,
                                &format!("/v1/cases/{case}/members/{leaving}"),
                                Some(&owner_token),
                                None,
                            )
                            .await;
                        assert_eq!(s, StatusCode::NO_CONTENT);
                    }
                    got
                }
                "GET cases" => {
                    let (s, b) = app.call(Method::GET, "/v1/cases", Some(&token), None).await;
                    assert_eq!(s, StatusCode::OK, "{what}");
                    let listed: Vec<(String, String)> = b["cases"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|c| {
                            (
                                c["id"].as_str().unwrap().to_owned(),
                                c["role"].as_str().unwrap().to_owned(),
                            )
                        })
                        .collect();
                    if listed.is_empty() {
                        N
                    } else {
                        assert_eq!(listed, vec![(case.clone(), (*name).to_owned())], "{what}");
                        A
                    }
                }
                "POST holds" => {
                    let (s, b) = app
                        .call(
                            Method::POST,
                            &format!("/v1/cases/{case}/holds"),
                            Some(&token),
                            Some(json!({"name": "Matrix", "reason": "checking roles"})),
                        )
                        .await;
                    let got = judged(s, &b, &what);
                    if got == A {
                        // Released at once, so that the rows before it stay valid.
                        let id = b["id"].as_str().unwrap();
                        let (s, _) = app
                            .call(
                                Method::POST,
                                &format!("/v1/holds/{id}/release"),
                                Some(&owner_token),
                                Some(json!({"reason": "matrix done"})),
                            )
                            .await;
                        assert_eq!(s, StatusCode::OK);
                    }
                    got
                }
                "GET holds" => {
                    let (s, b) = app
                        .call(
                            Method::GET,
                            &format!("/v1/cases/{case}/holds"),
                            Some(&token),
                            None,
                        )
                        .await;
                    judged(s, &b, &what)
                }
                "POST release" => {
                    let (s, hold) = app
                        .call(
                            Method::POST,
                            &format!("/v1/cases/{case}/holds"),
                            Some(&owner_token),
                            Some(json!({"name": "Matrix", "reason": "to release"})),
                        )
                        .await;
                    assert_eq!(s, StatusCode::CREATED);
                    let id = hold["id"].as_str().unwrap().to_owned();
                    let release = |token: String| {
                        let path = format!("/v1/holds/{id}/release");
                        async move {
                            app.call(
                                Method::POST,
                                &path,
                                Some(&token),
                                Some(json!({"reason": "done"})),
                            )
                            .await
                        }
                    };
                    let (s, b) = release(token.clone()).await;
                    let got = judged(s, &b, &what);
                    if got != A {
                        let (s, _) = release(owner_token.clone()).await;
                        assert_eq!(s, StatusCode::OK);
                    }
                    got
                }
                "PUT retention" => {
                    let (s, b) = app
                        .call(
                            Method::PUT,
                            &format!("/v1/cases/{case}/retention"),
                            Some(&token),
                            Some(json!({"retain_until": "2999-01-01T00:00:00Z"})),
                        )
                        .await;
                    judged(s, &b, &what)
                }
                "PUT file retention" => {
                    let (s, b) = app
                        .call(
                            Method::PUT,
                            &format!("/v1/files/{shared}/retention"),
                            Some(&token),
                            Some(json!({"retain_until": "3001-01-01T00:00:00Z"})),
                        )
                        .await;
                    judged(s, &b, &what)
                }
                other => unreachable!("{other}"),
            };
            assert_eq!(got, want, "{what}");
        }
    }

    // Every refusal is on the case's trail, where its owner reads it.
    let (status, audit) = app
        .call(
            Method::GET,
            &format!("/v1/cases/{case}/audit?limit=1000"),
            Some(&owner_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let denied = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "access_denied")
        .count();
    // Every route of a case refuses the stranger and the forbidden roles (`GET /v1/cases`
    // refuses nobody: it lists what the caller is a member of).
    let forbidden: usize = table
        .iter()
        .filter(|(route, _)| *route != "GET cases")
        .map(|(_, row)| row.iter().filter(|g| **g != A).count())
        .sum();
    assert_eq!(denied, forbidden, "{audit}");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_by_every_role_on_sqlite() {
    let app = start().await;
    route_role_matrix(&app).await;
    // The log the whole matrix wrote verifies, checkpoints included.
    let (exit, out) = audit_verify(&app, None).await;
    assert_eq!(exit, Some(0), "{out}");
    app.stop().await;
}

/// `casefile audit verify` on the data directory (and database) of `app`, after a checkpoint.
async fn audit_verify(app: &Running, database: Option<&str>) -> (Option<i32>, String) {
    let response = reqwest::Client::new()
        .get(format!("{}/v1/audit/checkpoint", app.base))
        .bearer_auth(app.token(UserId::new()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let extra = database
        .map(|url| vec![("CASEFILE_DATABASE_URL", url.to_owned())])
        .unwrap_or_default();
    let data = app._dir.path();
    let (code, stdout, _) = casefile_cli(data, data, &["audit", "verify"], extra).await;
    assert!(
        stdout.contains("checkpoints ") && !stdout.contains("checkpoints 0,"),
        "{stdout}"
    );
    (code, stdout)
}

#[cfg(feature = "postgres")]
pub(super) mod on_postgres {
    use super::*;

    /// A fresh database on the test server: its URL, and its name to drop.
    pub(crate) async fn fresh_database() -> (String, String) {
        use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
        let server = std::env::var("CASEFILE_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let name = format!("casefile_sharing_{}", uuid::Uuid::new_v4().simple());
        let mut admin = AsyncPgConnection::establish(&server)
            .await
            .expect("PostgreSQL is required: run the tests with `cargo xtask test`");
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let (base, _) = server.rsplit_once('/').unwrap();
        (format!("{base}/{name}"), name)
    }

    pub(crate) async fn drop_database(name: &str) {
        use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
        let server = std::env::var("CASEFILE_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let mut admin = AsyncPgConnection::establish(&server).await.unwrap();
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut admin)
            .await
            .unwrap();
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn every_route_by_every_role_on_postgres() {
        let (url, name) = fresh_database().await;
        let app = start_with({
            let url = url.clone();
            |c| {
                c.database.url = Some(url);
                c.database.migrate_on_start = true;
            }
        })
        .await;
        route_role_matrix(&app).await;
        // The log the whole matrix wrote verifies on PostgreSQL too; then someone with the
        // database rewrites an entry, and the verifier names it.
        let (exit, out) = audit_verify(&app, Some(&url)).await;
        assert_eq!(exit, Some(0), "{out}");
        {
            use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
            let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
            for sql in [
                "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_or_delete",
                "UPDATE audit_log SET details = 'rewritten' WHERE log_index = 3",
            ] {
                diesel::sql_query(sql).execute(&mut conn).await.unwrap();
            }
        }
        let (exit, out) = audit_verify(&app, Some(&url)).await;
        assert_eq!(exit, Some(1), "{out}");
        assert!(out.contains("tampered: index 3"), "{out}");
        app.stop().await;
        drop_database(&name).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn service_role_rules_on_postgres() {
        use std::sync::Arc;
        let (url, name) = fresh_database().await;
        let repo = casefile_persistence::PgCaseRepository::connect(
            &url,
            casefile_persistence::PoolConfig::default().migrating(),
        )
        .await
        .unwrap();
        let env = casefile_testkit::service::ServiceEnv::new(
            Arc::new(casefile_storage_local::MemoryStorage::new()),
            Arc::new(repo),
        );
        casefile_testkit::service::roles_decide_every_operation(&env).await;
        casefile_testkit::service::membership_rules(&env).await;
        drop(env);
        drop_database(&name).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn service_role_rules_on_sqlite() {
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("casefile.db");
    let repo = casefile_persistence::SqliteCaseRepository::connect(
        path.to_str().unwrap(),
        casefile_persistence::PoolConfig::default().migrating(),
    )
    .await
    .unwrap();
    let env = casefile_testkit::service::ServiceEnv::new(
        Arc::new(casefile_storage_local::MemoryStorage::new()),
        Arc::new(repo),
    );
    casefile_testkit::service::roles_decide_every_operation(&env).await;
    casefile_testkit::service::membership_rules(&env).await;
}

/// Bad input on the member routes: an unknown role and a user id that is not a UUID are 400; a
/// viewer adding members is 403; a stranger is 404; the last owner stays (409).
#[tokio::test(flavor = "multi_thread")]
async fn member_routes_refuse_bad_input() {
    use reqwest::Method;
    let app = start().await;
    let owner = UserId::new();
    let owner_token = app.token(owner);
    let case = new_case(&app, &owner_token).await;
    let viewer = UserId::new();
    let put = |user: String, role: Value, token: String| {
        let app = &app;
        let case = case.clone();
        async move {
            app.call(
                Method::PUT,
                &format!("/v1/cases/{case}/members/{user}"),
                Some(&token),
                Some(json!({"role": role})),
            )
            .await
        }
    };
    let (s, b) = put(viewer.to_string(), json!("viewer"), owner_token.clone()).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = put(
        UserId::new().to_string(),
        json!("admin"),
        owner_token.clone(),
    )
    .await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::BAD_REQUEST, "invalid_input"),
        "{b}"
    );
    let (s, b) = put("not-a-uuid".into(), json!("viewer"), owner_token.clone()).await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::BAD_REQUEST, "invalid_input"),
        "{b}"
    );
    let (s, b) = put(
        UserId::new().to_string(),
        json!("viewer"),
        app.token(viewer),
    )
    .await;
    assert_eq!((s, code(&b)), (StatusCode::FORBIDDEN, "forbidden"), "{b}");
    let (s, b) = put(
        UserId::new().to_string(),
        json!("viewer"),
        app.token(UserId::new()),
    )
    .await;
    assert_eq!((s, code(&b)), (StatusCode::NOT_FOUND, "not_found"), "{b}");
    let (s, b) = put(owner.to_string(), json!("editor"), owner_token.clone()).await;
    assert_eq!((s, code(&b)), (StatusCode::CONFLICT, "conflict"), "{b}");
    let (s, b) = app
        .call(
            Method::DELETE,
            &format!("/v1/cases/{case}/members/{owner}"),
            Some(&owner_token),
            None,
        )
        .await;
    assert_eq!((s, code(&b)), (StatusCode::CONFLICT, "conflict"), "{b}");
    let (s, b) = app
        .call(
            Method::DELETE,
            &format!("/v1/cases/{case}/members/{}", UserId::new()),
            Some(&owner_token),
            None,
        )
        .await;
    assert_eq!((s, code(&b)), (StatusCode::NOT_FOUND, "not_found"), "{b}");
    // The member list shows the change history's end state.
    let (s, b) = app
        .call(
            Method::GET,
            &format!("/v1/cases/{case}/members"),
            Some(&app.token(viewer)),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let roles: Vec<(String, String)> = b["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["user_id"].as_str().unwrap().to_owned(),
                m["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        vec![
            (owner.to_string(), "owner".to_owned()),
            (viewer.to_string(), "viewer".to_owned())
        ]
    );
    app.stop().await;
}
