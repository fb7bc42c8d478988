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
    // Actions are rows of audit_actions: an unknown one is refused (and the list only grows).
    let forged = diesel::sql_query(format!(
        "INSERT INTO audit_log (id, at, action, outcome) VALUES ('{}', '2026-01-01 00:00:00', 'made_up', 'success')",
        uuid::Uuid::new_v4()
    ))
    .execute(&mut conn);
    assert!(
        forged
            .expect_err("unknown action")
            .to_string()
            .contains("unknown audit action")
    );
    let shrink = diesel::sql_query("DELETE FROM audit_actions").execute(&mut conn);
    assert!(shrink.is_err(), "audit actions are only added");
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
        6,
        "every migration applies"
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

/// The members migration on a database filled in the schema before it: every case's owner
/// becomes its owner member, the audit trail keeps every row (and stays append-only).
#[tokio::test(flavor = "multi_thread")]
async fn members_migration_makes_each_owner_an_owner_member() {
    use casefile_domain::legal::{CaseId, Role, UserId};
    use casefile_persistence::SQLITE_MIGRATIONS;
    use diesel_migrations::MigrationHarness;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("casefile.db");
    let mut conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    while conn.applied_migrations().unwrap().len() < 2 {
        conn.run_next_migration(SQLITE_MIGRATIONS).unwrap();
    }
    let (alice, bob) = (UserId::new(), UserId::new());
    let cases = [
        (CaseId::new(), alice),
        (CaseId::new(), bob),
        (CaseId::new(), alice),
    ];
    for (i, (case, owner)) in cases.iter().enumerate() {
        let at = format!("2026-0{}-02 03:04:05.000000+00:00", i + 1);
        diesel::sql_query(format!(
            "INSERT INTO cases (id, owner_id, title, file_count, total_size_bytes, created_at, updated_at) \
             VALUES ('{case}', '{owner}', 'Matter {i}', 0, 0, '{at}', '{at}')"
        ))
        .execute(&mut conn)
        .unwrap();
        diesel::sql_query(format!(
            "INSERT INTO audit_log (id, at, actor_id, case_id, action, outcome) \
             VALUES ('{}', '{at}', '{owner}', '{case}', 'case_created', 'success')",
            uuid::Uuid::new_v4()
        ))
        .execute(&mut conn)
        .unwrap();
    }
    conn.run_pending_migrations(SQLITE_MIGRATIONS).unwrap();
    drop(conn);

    let repo = SqliteCaseRepository::connect(path.to_str().unwrap(), PoolConfig::default())
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
    let mut conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    let err = diesel::sql_query("DELETE FROM audit_log")
        .execute(&mut conn)
        .expect_err("still append-only");
    assert!(err.to_string().contains("append-only"), "{err}");
}

/// The preservation triggers, by direct SQL (no code path of casefile in between): a held or
/// retained completed file cannot be marked deleted, purged or removed; holds are never deleted
/// and change once; retention is never shortened.
#[tokio::test(flavor = "multi_thread")]
async fn preservation_triggers_refuse_direct_sql() {
    use casefile_domain::legal::UserId;
    use casefile_domain::legal::{
        AuditAction, AuditEntry, AuditOutcome, HoldId, HoldScope, LegalHold,
    };
    let f = fixture().await;
    let repo = f.as_ref();
    let case = casefile_testkit::repository::new_case(repo, UserId::new()).await;
    let file =
        casefile_testkit::repository::completed_file(repo, &case, "a/evidence.pdf", 10).await;
    let hold = LegalHold {
        id: HoldId::new(),
        case_id: case.id,
        scope: HoldScope::Prefix {
            prefix: "a/".into(),
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
    let path = f._dir.path().join("casefile.db");
    let mut conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    let refused = |conn: &mut SqliteConnection, sql: &str| {
        let err = diesel::sql_query(sql)
            .execute(conn)
            .expect_err(sql)
            .to_string();
        assert!(err.contains("casefile:"), "{sql}: {err}");
    };
    let id = file.id;
    refused(
        &mut conn,
        &format!("UPDATE case_files SET status = 'deleted' WHERE id = '{id}'"),
    );
    refused(
        &mut conn,
        &format!(
            "UPDATE case_files SET purged_at = '2026-01-01 00:00:00.000000+00:00' WHERE id = '{id}'"
        ),
    );
    refused(
        &mut conn,
        &format!("DELETE FROM case_files WHERE id = '{id}'"),
    );
    refused(&mut conn, "DELETE FROM legal_holds");
    refused(&mut conn, "UPDATE legal_holds SET name = 'renamed'");
    refused(
        &mut conn,
        "UPDATE legal_holds SET scope = 'files', path_prefix = NULL",
    );
    // Released by hand, once: then the file can go, and the hold cannot change again.
    diesel::sql_query(format!(
        "UPDATE legal_holds SET released_by = '{}', released_at = '2026-01-01 00:00:00.000000+00:00', \
         release_reason = 'done' WHERE id = '{}'",
        case.created_by, hold.id
    ))
    .execute(&mut conn)
    .unwrap();
    refused(
        &mut conn,
        "UPDATE legal_holds SET release_reason = 'rewritten'",
    );
    // Retention: set by hand far ahead, never shortened, and it protects too.
    diesel::sql_query(format!(
        "UPDATE cases SET retain_until = '2999-01-01 00:00:00.000000+00:00' WHERE id = '{}'",
        case.id
    ))
    .execute(&mut conn)
    .unwrap();
    refused(
        &mut conn,
        &format!("UPDATE case_files SET status = 'deleted' WHERE id = '{id}'"),
    );
    refused(
        &mut conn,
        &format!(
            "UPDATE cases SET retain_until = '2998-01-01 00:00:00.000000+00:00' WHERE id = '{}'",
            case.id
        ),
    );
    refused(
        &mut conn,
        &format!(
            "UPDATE cases SET retain_until = NULL WHERE id = '{}'",
            case.id
        ),
    );
    // A file's own retention: never shortened either.
    diesel::sql_query(format!(
        "UPDATE case_files SET retain_until = '2999-01-01 00:00:00.000000+00:00' WHERE id = '{id}'"
    ))
    .execute(&mut conn)
    .unwrap();
    refused(
        &mut conn,
        &format!("UPDATE case_files SET retain_until = NULL WHERE id = '{id}'"),
    );
    let kept = repo.get_file(file.id).await.unwrap().unwrap();
    assert_eq!(kept.status, casefile_domain::legal::FileStatus::Completed);
}

/// Someone with the database file rewrites history (drops the append-only trigger, edits a row,
/// forges one): the rows no longer hash to the stored tree's root.
#[tokio::test(flavor = "multi_thread")]
async fn a_rewritten_audit_row_no_longer_matches_the_tree() {
    use casefile_domain::legal::audit_log;
    let f = fixture().await;
    let repo = f.as_ref();
    casefile_testkit::repository::new_case(repo, casefile_domain::legal::UserId::new()).await;
    casefile_testkit::repository::new_case(repo, casefile_domain::legal::UserId::new()).await;
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
    let path = f._dir.path().join("casefile.db");
    let mut conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    for sql in [
        "DROP TRIGGER audit_log_no_update",
        "DROP TRIGGER audit_log_no_delete",
    ] {
        diesel::sql_query(sql).execute(&mut conn).unwrap();
    }
    diesel::sql_query("UPDATE audit_log SET details = 'nothing happened' WHERE log_index = 1")
        .execute(&mut conn)
        .unwrap();
    assert_ne!(root_of_rows().await, head.root, "an edited row is found");
    let edited = audit_log::verify(repo, None).await.unwrap();
    let (index, what) = edited.problem.expect("found");
    assert_eq!(index, 1, "{what}");
    assert!(what.contains("changed"), "{what}");
    diesel::sql_query("DELETE FROM audit_log WHERE log_index = 1")
        .execute(&mut conn)
        .unwrap();
    let removed = audit_log::verify(repo, None).await.unwrap();
    let (index, what) = removed.problem.expect("found");
    assert_eq!(index, 1, "{what}");
    assert!(what.contains("removed"), "{what}");
    // The tree itself refuses to be rewritten to match.
    let rewrite = diesel::sql_query("UPDATE audit_tree SET hash = hash").execute(&mut conn);
    assert!(rewrite.is_err(), "the stored tree is append-only");
}
