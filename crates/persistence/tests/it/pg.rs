use std::sync::Arc;

use casefile_domain::legal::{CaseRepository, FileQuery, PersistenceError, UserId};
use casefile_persistence::{PgCaseRepository, PoolConfig};
use diesel::sql_types::Text;
use diesel::{QueryableByName, sql_query};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

/// The server the tests create their databases on.
fn server_url() -> String {
    std::env::var("CASEFILE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// `url` with its database replaced by `db`.
fn with_database(url: &str, db: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("a database URL");
    format!("{base}/{db}")
}

/// A fresh database, dropped (forcibly) when the guard goes.
pub(crate) struct Database {
    pub(crate) url: String,
    name: String,
}

impl Database {
    pub(crate) async fn create() -> Self {
        let name = format!("casefile_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = AsyncPgConnection::establish(&server_url())
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL at {} is required for these tests: {e}",
                    server_url()
                )
            });
        sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create database");
        Self {
            url: with_database(&server_url(), &name),
            name,
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Async work cannot run in Drop: a short-lived runtime on its own thread drops it.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut admin = AsyncPgConnection::establish(&server_url()).await.ok()?;
                sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await
                    .ok()
            })
        })
        .join();
    }
}

pub(crate) struct Fixture {
    repo: Arc<dyn CaseRepository>,
    db: Database,
}

impl AsRef<dyn CaseRepository> for Fixture {
    fn as_ref(&self) -> &(dyn CaseRepository + 'static) {
        self.repo.as_ref()
    }
}

pub(crate) async fn fixture() -> Fixture {
    let db = Database::create().await;
    let repo = PgCaseRepository::connect(&db.url, PoolConfig::default().migrating())
        .await
        .expect("pg repository");
    Fixture {
        repo: Arc::new(repo),
        db,
    }
}

casefile_testkit::repository_conformance_tests!(fixture());

#[tokio::test(flavor = "multi_thread")]
async fn audit_log_is_append_only() {
    let f = fixture().await;
    casefile_testkit::repository::new_case(f.as_ref(), UserId::new()).await;
    let mut conn = AsyncPgConnection::establish(&f.db.url).await.unwrap();
    for statement in [
        "UPDATE audit_log SET details = 'rewritten'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ] {
        let err = sql_query(statement)
            .execute(&mut conn)
            .await
            .expect_err(statement)
            .to_string();
        assert!(err.contains("append-only"), "{statement}: {err}");
    }
    assert_eq!(
        f.as_ref()
            .list_audit(&Default::default())
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_schema_behind_the_migrations_is_a_clear_error() {
    let db = Database::create().await;
    match PgCaseRepository::connect(&db.url, PoolConfig::default()).await {
        Err(PersistenceError::Unavailable { message, .. }) => {
            assert!(message.contains("schema is behind"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        casefile_persistence::run_pg_migrations(&db.url, true)
            .await
            .unwrap(),
        6,
        "every migration applies"
    );
    assert_eq!(
        casefile_persistence::run_pg_migrations(&db.url, true)
            .await
            .unwrap(),
        0
    );
    PgCaseRepository::connect(&db.url, PoolConfig::default())
        .await
        .expect("now current");
}

/// #20: instances starting together on a fresh database migrate once, under the migration
/// lock: every one of them connects, and exactly six migrations were applied in all. Each
/// "instance" is a thread with a runtime of its own, as separate processes would be.
#[tokio::test(flavor = "multi_thread")]
async fn instances_starting_together_migrate_once() {
    let db = Database::create().await;
    let start = Arc::new(std::sync::Barrier::new(4));
    let instances: Vec<_> = (0..4)
        .map(|_| {
            let (url, start) = (db.url.clone(), start.clone());
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("runtime");
                start.wait();
                runtime.block_on(async {
                    tokio::time::timeout(
                        std::time::Duration::from_secs(120),
                        casefile_persistence::run_pg_migrations(&url, true),
                    )
                    .await
                })
            })
        })
        .collect();
    let applied: Vec<usize> = instances
        .into_iter()
        .map(|t| {
            t.join()
                .expect("the instance's thread")
                .expect("migrating ends")
                .expect("every instance migrates or finds nothing pending")
        })
        .collect();
    assert_eq!(applied.iter().sum::<usize>(), 6, "{applied:?}");
    assert_eq!(applied.iter().filter(|n| **n > 0).count(), 1, "{applied:?}");
    PgCaseRepository::connect(&db.url, PoolConfig::default())
        .await
        .expect("current");
}

/// #20: one instance at a time leads the background jobs; when the leader goes, another takes
/// over at its next look.
#[tokio::test(flavor = "multi_thread")]
async fn one_leader_at_a_time_and_failover() {
    let db = Database::create().await;
    let repo = PgCaseRepository::connect(&db.url, PoolConfig::default().migrating())
        .await
        .expect("pg repository");
    let (first, second) = (repo.leadership(), repo.leadership());
    assert!(first.is_leader().await, "the first to ask leads");
    assert!(first.is_leader().await, "and keeps leading");
    assert!(!second.is_leader().await, "the second does not");
    assert!(!second.is_leader().await, "nor on asking again");
    drop(first);
    // The lock goes with the first one's connection; the server notices the close at once.
    let mut took_over = false;
    for _ in 0..50 {
        if second.is_leader().await {
            took_over = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(took_over, "the second takes over when the first is gone");
    let third = repo.leadership();
    assert!(!third.is_leader().await);
    let status = repo.pool_status();
    assert_eq!(status.max, PoolConfig::default().max_size);
    assert_eq!(status.in_use, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_server_is_unavailable_and_names_no_password() {
    let err = PgCaseRepository::connect(
        "postgres://casefile:s3cret@127.0.0.1:1/none",
        PoolConfig::default(),
    )
    .await
    .expect_err("nothing listens on port 1");
    match err {
        PersistenceError::Unavailable { message, .. } => {
            assert!(message.contains("127.0.0.1:1"), "{message}");
            assert!(!message.contains("s3cret"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = Text)]
    #[diesel(column_name = "QUERY PLAN")]
    line: String,
}

/// 100,000 files in one case: listing a folder pages through with the partial index, never a
/// sequential scan or an OFFSET.
#[tokio::test(flavor = "multi_thread")]
async fn listing_100k_files_pages_by_index() {
    let f = fixture().await;
    let repo = f.as_ref();
    let case = casefile_testkit::repository::new_case(repo, UserId::new()).await;
    let mut conn = AsyncPgConnection::establish(&f.db.url).await.unwrap();
    sql_query(format!(
        "INSERT INTO case_files (id, case_id, logical_path, file_name, mime_type, declared_size, \
         actual_size, sha256, storage_key, status, uploaded_by, created_at, updated_at, completed_at) \
         SELECT gen_random_uuid(), '{case}', 'folder-' || (i % 10) || '/file-' || lpad(i::text, 6, '0') || '.pdf', \
                'f.pdf', 'application/pdf', 1, 1, repeat('a', 64), 'k/' || i, 'completed', '{owner}', now(), now(), now() \
         FROM generate_series(1, 100000) AS i",
        case = case.id, owner = case.created_by
    ))
    .execute(&mut conn)
    .await
    .expect("bulk insert");
    sql_query("ANALYZE case_files")
        .execute(&mut conn)
        .await
        .unwrap();

    let plan: Vec<PlanLine> = sql_query(format!(
        "EXPLAIN SELECT * FROM case_files WHERE case_id = '{}' AND status = 'completed' \
         AND logical_path > 'folder-3/file-050000.pdf' AND logical_path < 'folder-30' \
         ORDER BY logical_path LIMIT 1001",
        case.id
    ))
    .load(&mut conn)
    .await
    .unwrap();
    let plan: String = plan
        .into_iter()
        .map(|l| l.line)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        plan.contains("case_files_listing"),
        "the listing index is used:\n{plan}"
    );
    assert!(!plan.contains("Seq Scan"), "no sequential scan:\n{plan}");

    let prefix = "folder-3/".to_owned();
    let mut after = None;
    let mut seen = 0usize;
    let mut last: Option<String> = None;
    loop {
        let query = FileQuery {
            prefix: Some(prefix.clone()),
            after: after.clone(),
            from: None,
            limit: 1000,
        };
        let page = repo.list_files(case.id, &query).await.unwrap();
        for file in &page {
            assert!(file.logical_path.as_str().starts_with("folder-3/"));
            if let Some(prev) = &last {
                assert!(
                    prev.as_str() < file.logical_path.as_str(),
                    "strictly increasing"
                );
            }
            last = Some(file.logical_path.to_string());
        }
        seen += page.len();
        match page.last() {
            Some(f) if page.len() == 1000 => after = Some(f.logical_path.clone()),
            _ => break,
        }
    }
    assert_eq!(seen, 10_000, "every file of the folder once");
}

#[tokio::test(flavor = "multi_thread")]
async fn runtime_role_cannot_rewrite_the_audit_trail() {
    // docs/operations.md: the runtime role owns nothing; docs/sql/postgres-runtime-role.sql is
    // applied as it stands (with this test's role name).
    let f = fixture().await;
    let role = format!("casefile_app_{}", uuid::Uuid::new_v4().simple());
    let mut owner = AsyncPgConnection::establish(&f.db.url).await.unwrap();
    sql_query(format!("CREATE ROLE {role} LOGIN"))
        .execute(&mut owner)
        .await
        .unwrap();
    let script = include_str!("../../../../docs/sql/postgres-runtime-role.sql")
        .replace("casefile_app", &role);
    for statement in script
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n")
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        sql_query(statement)
            .execute(&mut owner)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    let (base, db) = f.db.url.rsplit_once('/').unwrap();
    let (scheme, host) = base.split_once("://").unwrap();
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let runtime_url = format!("{scheme}://{role}@{host}/{db}");
    // The runtime role runs the service: create, append, read.
    let repo = PgCaseRepository::connect(&runtime_url, PoolConfig::default())
        .await
        .expect("the runtime role connects with the schema current");
    casefile_testkit::repository::new_case(&repo, UserId::new()).await;
    let mut runtime = AsyncPgConnection::establish(&runtime_url).await.unwrap();
    for statement in [
        "UPDATE audit_log SET details = 'rewritten'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "DROP TRIGGER audit_log_no_update_or_delete ON audit_log",
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_or_delete",
        "DELETE FROM case_files",
        "DELETE FROM cases",
    ] {
        let err = sql_query(statement)
            .execute(&mut runtime)
            .await
            .expect_err(statement)
            .to_string();
        assert!(
            err.contains("permission denied") || err.contains("must be owner"),
            "{statement}: {err}"
        );
    }
    drop(runtime);
    drop(repo);
    sql_query(format!("DROP OWNED BY {role}"))
        .execute(&mut owner)
        .await
        .unwrap();
    drop(owner);
    drop(f);
    let mut admin = AsyncPgConnection::establish(&server_url()).await.unwrap();
    let _ = sql_query(format!("DROP ROLE IF EXISTS {role}"))
        .execute(&mut admin)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_appends_commit_in_seq_order() {
    // #13.8: an append waits while another transaction holds the audit lock (between its
    // insert and its commit), so a reader paging by seq cannot pass a row that commits later.
    let f = fixture().await;
    let case = casefile_testkit::repository::new_case(f.as_ref(), UserId::new()).await;
    let mut holder = AsyncPgConnection::establish(&f.db.url).await.unwrap();
    sql_query("BEGIN").execute(&mut holder).await.unwrap();
    sql_query(format!(
        "SELECT pg_advisory_xact_lock({})",
        casefile_persistence::PG_AUDIT_LOCK
    ))
    .execute(&mut holder)
    .await
    .unwrap();
    let repo = Arc::clone(&f.repo);
    let entry = casefile_domain::legal::AuditEntry::new(
        chrono::Utc::now(),
        None,
        casefile_domain::legal::AuditAction::CaseViewed,
        casefile_domain::legal::AuditOutcome::Success,
    )
    .case(case.id);
    let append = tokio::spawn(async move { repo.append_audit(&entry).await });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        !append.is_finished(),
        "an append must wait for the transaction holding the audit lock"
    );
    sql_query("COMMIT").execute(&mut holder).await.unwrap();
    append.await.unwrap().unwrap();
}

/// TLS to PostgreSQL, against the TLS-only throwaway cluster `cargo xtask test` starts (it
/// refuses cleartext on TCP; its certificate names `localhost` only and is signed by the root in
/// `CASEFILE_TEST_TLS_ROOT_CERT`).
mod tls {
    use super::*;

    fn env(name: &str) -> String {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is required: run the tests through `cargo xtask test` or `cargo xtask servers`")
        })
    }

    fn url(host: &str, params: &str) -> String {
        let url = env("CASEFILE_TEST_TLS_DATABASE_URL").replace("localhost", host);
        format!("{url}?{params}")
    }

    /// Connecting migrates the one database of the cluster: one test at a time.
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    async fn connect(url: &str) -> Result<PgCaseRepository, PersistenceError> {
        let _guard = ONE_AT_A_TIME.lock().await;
        PgCaseRepository::connect(
            url,
            PoolConfig {
                migrate: true,
                ..PoolConfig::default()
            },
        )
        .await
    }

    /// The error and its sources, as one line.
    fn chain(err: &PersistenceError) -> String {
        let mut text = err.to_string();
        let mut source = std::error::Error::source(err);
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        text
    }

    async fn works(repo: &PgCaseRepository) {
        let case = casefile_testkit::repository::new_case(repo, UserId::new()).await;
        assert!(repo.get_case(case.id).await.expect("read back").is_some());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn require_connects_over_verified_tls() {
        let root = env("CASEFILE_TEST_TLS_ROOT_CERT");
        let repo = connect(&url(
            "localhost",
            &format!("sslmode=require&sslrootcert={root}"),
        ))
        .await
        .unwrap_or_else(|e| panic!("{}", chain(&e)));
        // The server refuses cleartext on TCP: a working pool is an encrypted one.
        works(&repo).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_certificate_from_an_untrusted_root_is_refused() {
        let other = env("CASEFILE_TEST_TLS_OTHER_ROOT_CERT");
        let err = connect(&url(
            "localhost",
            &format!("sslmode=require&sslrootcert={other}"),
        ))
        .await
        .expect_err("a root that did not sign the server's certificate");
        let text = chain(&err);
        assert!(
            matches!(err, PersistenceError::Unavailable { .. }),
            "{text}"
        );
        assert!(text.contains("cannot connect"), "{text}");
        assert!(text.to_lowercase().contains("certificate"), "{text}");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn verify_full_compares_the_host_name_and_verify_ca_does_not() {
        let root = env("CASEFILE_TEST_TLS_ROOT_CERT");
        // The certificate names `localhost`, not 127.0.0.1.
        let err = connect(&url(
            "127.0.0.1",
            &format!("sslmode=verify-full&sslrootcert={root}"),
        ))
        .await
        .expect_err("a certificate for another name");
        assert!(
            chain(&err).to_lowercase().contains("certificate"),
            "{}",
            chain(&err)
        );
        let repo = connect(&url(
            "127.0.0.1",
            &format!("sslmode=verify-ca&sslrootcert={root}"),
        ))
        .await
        .unwrap_or_else(|e| panic!("{}", chain(&e)));
        works(&repo).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn sslmode_disable_is_cleartext_and_refused_by_a_tls_only_server() {
        let err = connect(&url("localhost", "sslmode=disable"))
            .await
            .expect_err("cleartext to a server that rejects it");
        assert!(chain(&err).contains("cannot connect"), "{}", chain(&err));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn prefer_encrypts_without_a_claim_about_the_peer() {
        // libpq's default: TLS when offered, the certificate not checked (here: any root).
        let repo = connect(&url("127.0.0.1", "sslmode=prefer"))
            .await
            .unwrap_or_else(|e| panic!("{}", chain(&e)));
        works(&repo).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn require_against_a_server_no_trusted_root_vouches_for_fails() {
        // The suite's main server: Debian's self-signed ("snakeoil") certificate, or no TLS at
        // all on a throwaway cluster. Either way `require` must not connect.
        let main = server_url();
        let separator = if main.contains('?') { '&' } else { '?' };
        let err = connect(&format!("{main}{separator}sslmode=require"))
            .await
            .expect_err("require to a server whose certificate nothing trusted signed");
        assert!(chain(&err).contains("cannot connect"), "{}", chain(&err));
    }
}

/// The members migration on a database filled in the schema before it: every case's owner
/// becomes its owner member; the audit trail keeps every row.
#[tokio::test(flavor = "multi_thread")]
async fn members_migration_makes_each_owner_an_owner_member() {
    use casefile_domain::legal::{CaseId, Role};
    use casefile_persistence::PG_MIGRATIONS;
    use diesel_async::AsyncMigrationHarness;
    use diesel_migrations::MigrationHarness;

    let db = Database::create().await;
    let conn = AsyncPgConnection::establish(&db.url).await.unwrap();
    let mut harness = AsyncMigrationHarness::new(conn);
    while harness.applied_migrations().unwrap().len() < 2 {
        harness.run_next_migration(PG_MIGRATIONS).unwrap();
    }
    let mut conn = harness.into_inner();
    let (alice, bob) = (UserId::new(), UserId::new());
    let cases = [
        (CaseId::new(), alice),
        (CaseId::new(), bob),
        (CaseId::new(), alice),
    ];
    for (i, (case, owner)) in cases.iter().enumerate() {
        sql_query(format!(
            "INSERT INTO cases (id, owner_id, title, file_count, total_size_bytes, created_at, updated_at) \
             VALUES ('{case}', '{owner}', 'Matter {i}', 0, 0, now() + interval '{i} seconds', now())"
        ))
        .execute(&mut conn)
        .await
        .unwrap();
        sql_query(format!(
            "INSERT INTO audit_log (id, at, actor_id, case_id, action, outcome) \
             VALUES ('{}', now(), '{owner}', '{case}', 'case_created', 'success')",
            uuid::Uuid::new_v4()
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let mut harness = AsyncMigrationHarness::new(conn);
    harness.run_pending_migrations(PG_MIGRATIONS).unwrap();
    drop(harness);

    let repo = PgCaseRepository::connect(&db.url, PoolConfig::default())
        .await
        .expect("the migrated schema is current");
    for (case, owner) in &cases {
        let (_, role) = repo.case_for_member(*case, *owner).await.unwrap().unwrap();
        assert_eq!(role, Some(Role::Owner));
        let members = repo.list_members(*case).await.unwrap();
        assert_eq!(members.len(), 1);
        assert_eq!((members[0].user_id, members[0].granted_by), (*owner, None));
    }
    let alices = repo.list_cases(alice, None, 10).await.unwrap();
    assert_eq!(
        alices
            .iter()
            .map(|c| (c.case.id, c.role))
            .collect::<Vec<_>>(),
        vec![(cases[0].0, Role::Owner), (cases[2].0, Role::Owner)],
        "oldest first, as before"
    );
    let trail = repo.list_audit(&Default::default()).await.unwrap();
    assert_eq!(trail.len(), 3, "every audit row kept");
    // They are the first leaves of the audit log, in seq order; the next append integrates them.
    assert_eq!(
        trail.iter().map(|e| e.log_index).collect::<Vec<_>>(),
        vec![Some(0), Some(1), Some(2)]
    );
    assert_eq!(
        repo.audit_tree_head().await.unwrap().size,
        0,
        "not yet integrated"
    );
    let next = casefile_domain::legal::AuditEntry::new(
        chrono::Utc::now(),
        None,
        casefile_domain::legal::AuditAction::CasesListed,
        casefile_domain::legal::AuditOutcome::Success,
    );
    repo.append_audit(&next).await.unwrap();
    let trail = repo.list_audit(&Default::default()).await.unwrap();
    let leaves: Vec<_> = trail
        .iter()
        .map(casefile_domain::legal::audit_log::leaf_hash)
        .collect();
    let head = repo.audit_tree_head().await.unwrap();
    assert_eq!(head.size, 4);
    assert_eq!(
        head.root,
        casefile_domain::legal::audit_log::root_of(&leaves)
    );
}

/// The preservation triggers, by direct SQL (no code path of casefile in between): a held or
/// retained completed file cannot be marked deleted, purged or removed; holds are never deleted
/// or truncated and change once; retention is never shortened.
#[tokio::test(flavor = "multi_thread")]
async fn preservation_triggers_refuse_direct_sql() {
    use casefile_domain::legal::{
        AuditAction, AuditEntry, AuditOutcome, HoldId, HoldScope, LegalHold,
    };
    let f = fixture().await;
    let repo = f.as_ref();
    let case = casefile_testkit::repository::new_case(repo, UserId::new()).await;
    let file = casefile_testkit::repository::completed_file(repo, &case, "evidence.pdf", 10).await;
    let hold = LegalHold {
        id: HoldId::new(),
        case_id: case.id,
        scope: HoldScope::Files {
            file_ids: vec![file.id],
        },
        name: "Preserve".into(),
        reason: "litigation".into(),
        placed_by: case.created_by,
        placed_at: casefile_testkit::repository::now(),
        release: None,
    };
    let audit = AuditEntry::new(
        casefile_testkit::repository::now(),
        None,
        AuditAction::HoldPlaced,
        AuditOutcome::Success,
    );
    repo.place_hold(&hold, &audit).await.unwrap();
    let mut conn = AsyncPgConnection::establish(&f.db.url).await.unwrap();
    let id = file.id;
    for sql in [
        format!("UPDATE case_files SET status = 'deleted' WHERE id = '{id}'"),
        format!("UPDATE case_files SET purged_at = now() WHERE id = '{id}'"),
        format!("DELETE FROM case_files WHERE id = '{id}'"),
        "DELETE FROM legal_holds".to_owned(),
        "TRUNCATE legal_holds CASCADE".to_owned(),
        "DELETE FROM legal_hold_files".to_owned(),
        "UPDATE legal_holds SET name = 'renamed'".to_owned(),
    ] {
        let err = sql_query(&sql)
            .execute(&mut conn)
            .await
            .expect_err(&sql)
            .to_string();
        assert!(err.contains("casefile:"), "{sql}: {err}");
    }
    sql_query(format!(
        "UPDATE legal_holds SET released_by = '{}', released_at = now(), release_reason = 'done' WHERE id = '{}'",
        case.created_by, hold.id
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let sql = "UPDATE legal_holds SET release_reason = 'rewritten'";
    let err = sql_query(sql)
        .execute(&mut conn)
        .await
        .expect_err(sql)
        .to_string();
    assert!(err.contains("casefile:"), "{err}");
    sql_query(format!(
        "UPDATE cases SET retain_until = now() + interval '10 years' WHERE id = '{}'",
        case.id
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    for sql in [
        format!("UPDATE case_files SET status = 'deleted' WHERE id = '{id}'"),
        format!(
            "UPDATE cases SET retain_until = now() WHERE id = '{}'",
            case.id
        ),
        format!(
            "UPDATE cases SET retain_until = NULL WHERE id = '{}'",
            case.id
        ),
    ] {
        let err = sql_query(&sql)
            .execute(&mut conn)
            .await
            .expect_err(&sql)
            .to_string();
        assert!(err.contains("casefile:"), "{sql}: {err}");
    }
    // A file's own retention: never shortened either.
    sql_query(format!(
        "UPDATE case_files SET retain_until = now() + interval '20 years' WHERE id = '{id}'"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let sql = format!("UPDATE case_files SET retain_until = now() WHERE id = '{id}'");
    let err = sql_query(&sql)
        .execute(&mut conn)
        .await
        .expect_err(&sql)
        .to_string();
    assert!(err.contains("casefile:"), "{sql}: {err}");
    let kept = repo.get_file(file.id).await.unwrap().unwrap();
    assert_eq!(kept.status, casefile_domain::legal::FileStatus::Completed);
}

/// Whoever administers the database rewrites history (disables the append-only trigger, edits a
/// row): the rows no longer hash to the stored tree's root.
#[tokio::test(flavor = "multi_thread")]
async fn a_rewritten_audit_row_no_longer_matches_the_tree() {
    use casefile_domain::legal::audit_log;
    let f = fixture().await;
    let repo = f.as_ref();
    casefile_testkit::repository::new_case(repo, UserId::new()).await;
    casefile_testkit::repository::new_case(repo, UserId::new()).await;
    let root_of_rows = || async {
        let entries = repo.list_audit(&Default::default()).await.unwrap();
        let leaves: Vec<_> = entries.iter().map(audit_log::leaf_hash).collect();
        audit_log::root_of(&leaves)
    };
    let head = repo.audit_tree_head().await.unwrap();
    assert_eq!((head.size, head.root), (2, root_of_rows().await));
    let clean = audit_log::verify(repo, None).await.unwrap();
    assert_eq!(
        (clean.entries, clean.tree_size, clean.problem),
        (2, 2, None)
    );
    let mut conn = AsyncPgConnection::establish(&f.db.url).await.unwrap();
    for sql in [
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_or_delete",
        "UPDATE audit_log SET details = 'nothing happened' WHERE log_index = 0",
    ] {
        sql_query(sql).execute(&mut conn).await.unwrap();
    }
    assert_ne!(root_of_rows().await, head.root, "an edited row is found");
    let edited = audit_log::verify(repo, None).await.unwrap();
    let (index, what) = edited.problem.expect("found");
    assert_eq!(index, 0, "{what}");
    assert!(what.contains("changed"), "{what}");
    // Two rows swap places (their log indexes): found at the first.
    for sql in [
        "UPDATE audit_log SET log_index = -1 WHERE log_index = 0",
        "UPDATE audit_log SET log_index = 0 WHERE log_index = 1",
        "UPDATE audit_log SET log_index = 1 WHERE log_index = -1",
    ] {
        let _ = sql_query(sql).execute(&mut conn).await;
    }
    let swapped = audit_log::verify(repo, None).await.unwrap();
    assert!(swapped.problem.is_some(), "a swap is found");
    let rewrite = sql_query("UPDATE audit_tree SET hash = hash")
        .execute(&mut conn)
        .await;
    assert!(rewrite.is_err(), "the stored tree is append-only");
}
