use std::sync::Arc;

use casefile_domain::legal::{CaseRepository, PersistenceError};
use casefile_persistence::{PoolConfig, SqliteCaseRepository};
use diesel::{Connection, RunQueryDsl, SqliteConnection};

pub(crate) struct Fixture {
    repo: Arc<dyn CaseRepository>,
    _dir: tempfile::TempDir,
}

impl AsRef<dyn CaseRepository> for Fixture {
    fn as_ref(&self) -> &(dyn CaseRepository + 'static) {
        self.repo.as_ref()
    }
}

pub(crate) async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("casefile.db");
    let repo =
        SqliteCaseRepository::connect(path.to_str().unwrap(), PoolConfig::default().migrating())
            .await
            .expect("sqlite repository");
    Fixture {
        repo: Arc::new(repo),
        _dir: dir,
    }
}

casefile_testkit::repository_conformance_tests!(fixture());

#[tokio::test(flavor = "multi_thread")]
async fn audit_log_is_append_only() {
    let f = fixture().await;
    let case =
        casefile_testkit::repository::new_case(f.as_ref(), casefile_domain::legal::UserId::new())
            .await;
    let path = f._dir.path().join("casefile.db");
    let mut conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    let update = diesel::sql_query("UPDATE audit_log SET details = 'rewritten'").execute(&mut conn);
    let err = update
        .expect_err("UPDATE on the audit log must fail")
        .to_string();
    assert!(err.contains("append-only"), "{err}");
    let delete = diesel::sql_query("DELETE FROM audit_log").execute(&mut conn);
    assert!(
        delete
            .expect_err("DELETE must fail")
            .to_string()
            .contains("append-only")
    );
    let trail = f.as_ref().list_audit(&Default::default()).await.unwrap();
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].case_id, Some(case.id));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_schema_behind_the_migrations_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fresh.db");
    let path = path.to_str().unwrap();
    match SqliteCaseRepository::connect(path, PoolConfig::default()).await {
        Err(PersistenceError::Unavailable { message, .. }) => {
            assert!(message.contains("schema is behind"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        casefile_persistence::run_sqlite_migrations(path, true)
            .await
            .unwrap(),
        2,
        "both migrations apply"
    );
    assert_eq!(
        casefile_persistence::run_sqlite_migrations(path, true)
            .await
            .unwrap(),
        0
    );
    SqliteCaseRepository::connect(path, PoolConfig::default())
        .await
        .expect("now current");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unopenable_file_is_unavailable() {
    let err = SqliteCaseRepository::connect(
        "/nonexistent-dir/x/casefile.db",
        PoolConfig::default().migrating(),
    )
    .await
    .expect_err("cannot open");
    assert!(
        matches!(err, PersistenceError::Unavailable { .. }),
        "{err:?}"
    );
}
