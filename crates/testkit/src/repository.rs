//! The conformance suite of the [`CaseRepository`] port: every persistence adapter (and the
//! in-memory fake) must pass it. Each case uses fresh random ids, so cases can share a database.

use casefile_domain::Sha256;
use casefile_domain::legal::{
    AuditAction, AuditEntry, AuditOutcome, AuditQuery, Case, CaseFile, CaseId, CaseRepository,
    FileId, FileName, FileQuery, FileStatus, HoldId, HoldRelease, HoldScope, LegalFileService,
    LegalHold, LogicalPath, OpenUploads, PersistenceError, Protection, Transition, UserId,
};
use chrono::{DateTime, Duration, DurationRound, Utc};
use futures::future::join_all;

/// Now, truncated to microseconds (what databases keep).
pub fn now() -> DateTime<Utc> {
    Utc::now()
        .duration_trunc(Duration::microseconds(1))
        .unwrap_or_else(|_| Utc::now())
}

fn audit(actor: Option<UserId>, action: AuditAction) -> AuditEntry {
    AuditEntry::new(now(), actor, action, AuditOutcome::Success)
}

/// A new case of `owner`, stored with its audit entry.
pub async fn new_case(repo: &dyn CaseRepository, owner: UserId) -> Case {
    let at = now();
    let case = Case {
        id: CaseId::new(),
        retain_until: None,
        created_by: owner,
        title: "Doe v. Roe".to_owned(),
        file_count: 0,
        total_size_bytes: 0,
        created_at: at,
        updated_at: at,
    };
    let entry = audit(Some(owner), AuditAction::CaseCreated).case(case.id);
    repo.create_case(&case, &entry).await.expect("create case");
    case
}

/// A pending file (not stored) of `case` at `path`.
pub fn pending_file(case: &Case, path: &str, size: u64, created_at: DateTime<Utc>) -> CaseFile {
    let id = FileId::new();
    let logical_path = LogicalPath::parse(path).expect("test path");
    CaseFile {
        id,
        case_id: case.id,
        file_name: FileName::parse(logical_path.file_name()).expect("name"),
        logical_path,
        mime_type: "application/pdf".to_owned(),
        declared_size: size,
        actual_size: None,
        sha256: Sha256::digest(path.as_bytes()),
        storage_key: LegalFileService::storage_key(case.id, id),
        status: FileStatus::Pending,
        uploaded_by: case.created_by,
        created_at,
        updated_at: created_at,
        completed_at: None,
        purged_at: None,
    }
}

async fn insert(repo: &dyn CaseRepository, file: &CaseFile) -> Result<(), PersistenceError> {
    let entry = audit(Some(file.uploaded_by), AuditAction::UploadInitiated)
        .case(file.case_id)
        .file(file.id);
    // Pending files created in the last hour hold their path.
    repo.insert_pending_file(file, now() - Duration::hours(1), &entry)
        .await
}

/// A completed file of `case` at `path` with `size` bytes.
pub async fn completed_file(
    repo: &dyn CaseRepository,
    case: &Case,
    path: &str,
    size: u64,
) -> CaseFile {
    let file = pending_file(case, path, size, now());
    insert(repo, &file).await.expect("insert pending");
    complete(repo, &file).await.expect("complete").into_file()
}

async fn complete(
    repo: &dyn CaseRepository,
    file: &CaseFile,
) -> Result<Transition, PersistenceError> {
    let entry = audit(Some(file.uploaded_by), AuditAction::UploadCompleted)
        .case(file.case_id)
        .file(file.id);
    repo.complete_file(file.id, file.declared_size, &file.mime_type, now(), &entry)
        .await
}

async fn audit_of(repo: &dyn CaseRepository, case: CaseId) -> Vec<AuditEntry> {
    repo.list_audit(&AuditQuery {
        case_id: Some(case),
        ..AuditQuery::default()
    })
    .await
    .expect("list audit")
}

async fn case_of(repo: &dyn CaseRepository, id: CaseId) -> Case {
    repo.get_case(id)
        .await
        .expect("get case")
        .expect("case exists")
}

/// Cases: stored with their audit entry, read back equal, listed per owner only; a duplicate id
/// is a conflict that appends nothing.
pub async fn cases_round_trip(repo: &dyn CaseRepository) {
    let alice = UserId::new();
    let bob = UserId::new();
    let a1 = new_case(repo, alice).await;
    let a2 = new_case(repo, alice).await;
    let b1 = new_case(repo, bob).await;
    assert_eq!(repo.get_case(a1.id).await.expect("get"), Some(a1.clone()));
    assert_eq!(repo.get_case(CaseId::new()).await.expect("get"), None);
    let alices: Vec<CaseId> = repo
        .list_cases(alice, None, 10)
        .await
        .expect("list")
        .iter()
        .map(|c| c.case.id)
        .collect();
    assert_eq!(alices.len(), 2);
    assert!(alices.contains(&a1.id) && alices.contains(&a2.id) && !alices.contains(&b1.id));
    // Pages: oldest first, after a cursor of the owner's, at most `limit`.
    let a3 = new_case(repo, alice).await;
    let all: Vec<CaseId> = repo
        .list_cases(alice, None, 10)
        .await
        .expect("list")
        .iter()
        .map(|c| c.case.id)
        .collect();
    assert_eq!(all.len(), 3);
    assert_eq!(all[2], a3.id, "oldest first: {all:?}");
    let first = repo.list_cases(alice, None, 2).await.expect("page 1");
    assert_eq!(
        first.iter().map(|c| c.case.id).collect::<Vec<_>>(),
        all[..2]
    );
    let second = repo
        .list_cases(alice, Some(first[1].case.id), 2)
        .await
        .expect("page 2");
    assert_eq!(
        second.iter().map(|c| c.case.id).collect::<Vec<_>>(),
        all[2..]
    );
    let err = repo
        .list_cases(alice, Some(b1.id), 2)
        .await
        .expect_err("bob's case is no cursor of alice's");
    assert!(matches!(err, PersistenceError::NotFound { .. }), "{err:?}");
    let trail = audit_of(repo, a1.id).await;
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].action, AuditAction::CaseCreated);
    let again = audit(Some(alice), AuditAction::CaseCreated).case(a1.id);
    let err = repo
        .create_case(&a1, &again)
        .await
        .expect_err("duplicate id");
    assert!(matches!(err, PersistenceError::Conflict { .. }), "{err:?}");
    assert_eq!(
        audit_of(repo, a1.id).await.len(),
        1,
        "a refused change appends no audit entry"
    );
}

/// A live file holds its logical path in its case: a second pending or completed file there is a
/// conflict (appending nothing); other paths and other cases are free; a missing case is
/// `NotFound`.
pub async fn logical_path_is_unique_among_live_files(repo: &dyn CaseRepository) {
    let owner = UserId::new();
    let case = new_case(repo, owner).await;
    let other = new_case(repo, owner).await;
    let first = pending_file(&case, "pleadings/motion.pdf", 10, now());
    insert(repo, &first).await.expect("first");
    let before = audit_of(repo, case.id).await.len();
    let clash = pending_file(&case, "pleadings/motion.pdf", 20, now());
    assert!(matches!(
        insert(repo, &clash).await,
        Err(PersistenceError::Conflict { .. })
    ));
    assert_eq!(audit_of(repo, case.id).await.len(), before);
    assert_eq!(repo.get_file(clash.id).await.expect("get"), None);
    complete(repo, &first).await.expect("complete");
    assert!(matches!(
        insert(repo, &clash).await,
        Err(PersistenceError::Conflict { .. })
    ));
    insert(
        repo,
        &pending_file(&case, "pleadings/motion2.pdf", 1, now()),
    )
    .await
    .expect("other path");
    insert(
        repo,
        &pending_file(&other, "pleadings/motion.pdf", 1, now()),
    )
    .await
    .expect("other case");
    let ghost = Case {
        id: CaseId::new(),
        retain_until: None,
        ..case.clone()
    };
    let orphan = pending_file(&ghost, "x.pdf", 1, now());
    assert!(matches!(
        insert(repo, &orphan).await,
        Err(PersistenceError::NotFound { .. })
    ));
}

/// A pending file older than the supersede instant (its URL expired) gives its path up: it is
/// failed in the same operation that inserts the new one.
pub async fn stale_pending_upload_is_superseded(repo: &dyn CaseRepository) {
    let case = new_case(repo, UserId::new()).await;
    let stale = pending_file(&case, "exhibits/a.pdf", 10, now() - Duration::hours(2));
    insert(repo, &stale).await.expect("stale");
    let fresh = pending_file(&case, "exhibits/a.pdf", 10, now());
    insert(repo, &fresh)
        .await
        .expect("supersedes the stale upload");
    let old = repo.get_file(stale.id).await.expect("get").expect("kept");
    assert_eq!(old.status, FileStatus::Failed);
    let to_purge: Vec<FileId> = repo
        .files_to_purge(10_000)
        .await
        .expect("purge list")
        .iter()
        .map(|f| f.id)
        .collect();
    assert!(
        to_purge.contains(&stale.id),
        "a superseded upload's object is purged"
    );
    let superseded: Vec<AuditEntry> = audit_of(repo, case.id)
        .await
        .into_iter()
        .filter(|e| e.action == AuditAction::UploadSuperseded)
        .collect();
    assert_eq!(superseded.len(), 1, "superseding is audited once");
    assert_eq!(superseded[0].file_id, Some(stale.id));
    // Stale pending uploads are found for expiry, fresh ones are not.
    let other = pending_file(&case, "exhibits/b.pdf", 10, now() - Duration::hours(3));
    insert(repo, &other).await.expect("another stale upload");
    let stale_ids: Vec<FileId> = repo
        .stale_pending_files(now() - Duration::hours(1), 100)
        .await
        .expect("stale list")
        .iter()
        .map(|f| f.id)
        .collect();
    assert_eq!(stale_ids, [other.id]);
}

/// Completion happens once: statistics grow once, one audit entry; completing again is
/// `Unchanged` and appends nothing; failing or completing a failed file is a conflict.
pub async fn completion_is_one_transition(repo: &dyn CaseRepository) {
    let case = new_case(repo, UserId::new()).await;
    let file = pending_file(&case, "a.pdf", 1234, now());
    insert(repo, &file).await.expect("insert");
    let stored = repo.get_file(file.id).await.expect("get").expect("exists");
    assert_eq!(stored, file, "a file reads back as written");
    let done = match complete(repo, &file).await.expect("complete") {
        Transition::Applied(f) => f,
        other => panic!("{other:?}"),
    };
    assert_eq!(done.status, FileStatus::Completed);
    assert_eq!(done.actual_size, Some(1234));
    assert!(done.completed_at.is_some());
    let after = case_of(repo, case.id).await;
    assert_eq!((after.file_count, after.total_size_bytes), (1, 1234));
    let entries = audit_of(repo, case.id).await.len();
    assert!(matches!(
        complete(repo, &file).await,
        Ok(Transition::Unchanged(_))
    ));
    assert_eq!(
        audit_of(repo, case.id).await.len(),
        entries,
        "no second entry"
    );
    assert_eq!(
        case_of(repo, case.id).await.file_count,
        1,
        "no second count"
    );
    let entry = audit(None, AuditAction::UploadFailed);
    assert!(matches!(
        repo.fail_file(file.id, now(), &entry).await,
        Err(PersistenceError::Conflict { .. })
    ));

    let failing = pending_file(&case, "b.pdf", 1, now());
    insert(repo, &failing).await.expect("insert");
    let entry = audit(None, AuditAction::UploadFailed)
        .case(case.id)
        .file(failing.id);
    assert!(matches!(
        repo.fail_file(failing.id, now(), &entry).await,
        Ok(Transition::Applied(_))
    ));
    assert!(matches!(
        repo.fail_file(failing.id, now(), &entry).await,
        Ok(Transition::Unchanged(_))
    ));
    assert!(matches!(
        complete(repo, &failing).await,
        Err(PersistenceError::Conflict { .. })
    ));
    assert_eq!(
        case_of(repo, case.id).await.file_count,
        1,
        "a failed file does not count"
    );
}

/// Ten concurrent completions of one file: exactly one applies, one audit entry, count 1.
pub async fn concurrent_completions_apply_once(repo: &dyn CaseRepository) {
    let case = new_case(repo, UserId::new()).await;
    let file = pending_file(&case, "race.pdf", 77, now());
    insert(repo, &file).await.expect("insert");
    let results = join_all((0..10).map(|_| complete(repo, &file))).await;
    let applied = results
        .iter()
        .filter(|r| matches!(r, Ok(Transition::Applied(_))))
        .count();
    let unchanged = results
        .iter()
        .filter(|r| matches!(r, Ok(Transition::Unchanged(_))))
        .count();
    assert_eq!((applied, unchanged), (1, 9), "{results:?}");
    let completed = audit_of(repo, case.id)
        .await
        .iter()
        .filter(|e| e.action == AuditAction::UploadCompleted)
        .count();
    assert_eq!(completed, 1);
    let after = case_of(repo, case.id).await;
    assert_eq!((after.file_count, after.total_size_bytes), (1, 77));
}

/// 50 concurrent operations in one case (completions of 30 files, deletions of 20 completed
/// ones) end with exact statistics.
pub async fn statistics_exact_under_concurrency(repo: &dyn CaseRepository) {
    let case = new_case(repo, UserId::new()).await;
    let mut to_delete = Vec::new();
    for i in 0..20u64 {
        to_delete.push(completed_file(repo, &case, &format!("old/{i}.pdf"), 100 + i).await);
    }
    let mut to_complete = Vec::new();
    for i in 0..30u64 {
        let f = pending_file(&case, &format!("new/{i}.pdf"), 1000 + i, now());
        insert(repo, &f).await.expect("insert");
        to_complete.push(f);
    }
    let completions = to_complete
        .iter()
        .map(|f| async move { complete(repo, f).await.map(|_| ()) });
    let deletions = to_delete.iter().map(|f| async move {
        let entry = audit(None, AuditAction::FileDeleted)
            .case(f.case_id)
            .file(f.id);
        repo.delete_file(f.id, now(), &entry).await.map(|_| ())
    });
    let (c, d) = futures::join!(join_all(completions), join_all(deletions));
    assert!(c.iter().chain(d.iter()).all(Result::is_ok), "{c:?} {d:?}");
    let after = case_of(repo, case.id).await;
    let expected_size: u64 = (0..30u64).map(|i| 1000 + i).sum();
    assert_eq!(
        (after.file_count, after.total_size_bytes),
        (30, expected_size)
    );
}

/// Delete is a tombstone: statistics shrink, the path is freed, the file is no longer listed but
/// is offered for purge; deleting again is `Unchanged`; purge is recorded once.
pub async fn delete_and_purge(repo: &dyn CaseRepository) {
    let case = new_case(repo, UserId::new()).await;
    let file = completed_file(repo, &case, "brief.pdf", 500).await;
    let entry = audit(None, AuditAction::FileDeleted)
        .case(case.id)
        .file(file.id);
    let deleted = repo
        .delete_file(file.id, now(), &entry)
        .await
        .expect("delete")
        .into_file();
    assert_eq!(deleted.status, FileStatus::Deleted);
    let after = case_of(repo, case.id).await;
    assert_eq!((after.file_count, after.total_size_bytes), (0, 0));
    assert!(matches!(
        repo.delete_file(file.id, now(), &entry).await,
        Ok(Transition::Unchanged(_))
    ));
    let query = FileQuery {
        prefix: None,
        after: None,
        from: None,
        limit: 100,
    };
    assert!(
        repo.list_files(case.id, &query)
            .await
            .expect("list")
            .is_empty()
    );
    insert(repo, &pending_file(&case, "brief.pdf", 1, now()))
        .await
        .expect("path freed");
    let purge: Vec<FileId> = repo
        .files_to_purge(10_000)
        .await
        .expect("to purge")
        .iter()
        .map(|f| f.id)
        .collect();
    assert!(purge.contains(&file.id));
    let entry = audit(None, AuditAction::ObjectPurged)
        .case(case.id)
        .file(file.id);
    let purged = repo
        .mark_purged(file.id, now(), &entry)
        .await
        .expect("purge");
    assert!(
        matches!(&purged, Transition::Applied(f) if f.purged_at.is_some()),
        "{purged:?}"
    );
    assert!(matches!(
        repo.mark_purged(file.id, now(), &entry).await,
        Ok(Transition::Unchanged(_))
    ));
    let purge: Vec<FileId> = repo
        .files_to_purge(10_000)
        .await
        .expect("to purge")
        .iter()
        .map(|f| f.id)
        .collect();
    assert!(!purge.contains(&file.id));
    let live = completed_file(repo, &case, "live.pdf", 1).await;
    assert!(matches!(
        repo.mark_purged(live.id, now(), &entry).await,
        Err(PersistenceError::Conflict { .. })
    ));
    let purges = audit_of(repo, case.id)
        .await
        .iter()
        .filter(|e| e.action == AuditAction::ObjectPurged)
        .count();
    assert_eq!(purges, 1);
}

/// Operations on an unknown file id are `NotFound` and append nothing.
pub async fn unknown_files(repo: &dyn CaseRepository) {
    let ghost = FileId::new();
    assert_eq!(repo.get_file(ghost).await.expect("get"), None);
    let entry = audit(None, AuditAction::UploadCompleted).file(ghost);
    assert!(matches!(
        repo.complete_file(ghost, 1, "text/plain", now(), &entry)
            .await,
        Err(PersistenceError::NotFound { .. })
    ));
    assert!(matches!(
        repo.fail_file(ghost, now(), &entry).await,
        Err(PersistenceError::NotFound { .. })
    ));
    assert!(matches!(
        repo.delete_file(ghost, now(), &entry).await,
        Err(PersistenceError::NotFound { .. })
    ));
    assert!(matches!(
        repo.mark_purged(ghost, now(), &entry).await,
        Err(PersistenceError::NotFound { .. })
    ));
    let query = AuditQuery {
        file_id: Some(ghost),
        ..AuditQuery::default()
    };
    assert!(repo.list_audit(&query).await.expect("audit").is_empty());
}

/// Listing: completed files only, by logical path in byte order, under a plain string prefix
/// (`a/b` holds `a/bc.pdf` and `a/b.pdf` too; `a/b/` only what is inside `a/b`), after a keyset
/// cursor, at most `limit`.
pub async fn list_files_by_prefix_and_cursor(repo: &dyn CaseRepository) {
    let case = new_case(repo, UserId::new()).await;
    for path in [
        "a/b/1.pdf",
        "a/b/2.pdf",
        "a/b/deep/3.pdf",
        "a/bc.pdf",
        "a/b.pdf",
        "z.pdf",
    ] {
        completed_file(repo, &case, path, 1).await;
    }
    insert(repo, &pending_file(&case, "a/b/pending.pdf", 1, now()))
        .await
        .expect("pending");
    let list = |prefix: Option<&str>, after: Option<&str>, limit: usize| {
        let query = FileQuery {
            prefix: prefix.map(str::to_owned),
            after: after.map(|p| LogicalPath::parse(p).expect("cursor")),
            from: None,
            limit,
        };
        async move {
            repo.list_files(case.id, &query)
                .await
                .expect("list")
                .into_iter()
                .map(|f| f.logical_path.to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        list(Some("a/b/"), None, 100).await,
        ["a/b/1.pdf", "a/b/2.pdf", "a/b/deep/3.pdf"]
    );
    assert_eq!(
        list(Some("a/b"), None, 100).await,
        [
            "a/b.pdf",
            "a/b/1.pdf",
            "a/b/2.pdf",
            "a/b/deep/3.pdf",
            "a/bc.pdf"
        ]
    );
    assert_eq!(
        list(Some("a/b/"), Some("a/b/1.pdf"), 1).await,
        ["a/b/2.pdf"]
    );
    assert_eq!(list(Some("a/b/d"), None, 100).await, ["a/b/deep/3.pdf"]);
    assert_eq!(
        list(Some("a/b"), Some("a/b/deep/3.pdf"), 100).await,
        ["a/bc.pdf"]
    );
    assert_eq!(
        list(None, None, 100).await,
        [
            "a/b.pdf",
            "a/b/1.pdf",
            "a/b/2.pdf",
            "a/b/deep/3.pdf",
            "a/bc.pdf",
            "z.pdf"
        ]
    );
    assert_eq!(list(None, Some("a/bc.pdf"), 100).await, ["z.pdf"]);
    assert!(list(Some("nothing"), None, 100).await.is_empty());
    // `from` is an inclusive bound in byte order: from `a/b0`, past everything in `a/b/`.
    let skip = FileQuery {
        prefix: Some("a/".into()),
        after: None,
        from: Some("a/b0".into()),
        limit: 100,
    };
    let rest: Vec<String> = repo
        .list_files(case.id, &skip)
        .await
        .expect("list")
        .into_iter()
        .map(|f| f.logical_path.to_string())
        .collect();
    assert_eq!(rest, ["a/bc.pdf"]);
    let inclusive = FileQuery {
        from: Some("a/b/2.pdf".into()),
        ..skip
    };
    assert_eq!(
        repo.list_files(case.id, &inclusive)
            .await
            .expect("list")
            .len(),
        3,
        "a/b/2.pdf itself, a/b/deep/3.pdf, a/bc.pdf"
    );
}

/// The audit trail keeps entries in the order appended, filters by case and file, and limits.
pub async fn audit_trail_order_and_filters(repo: &dyn CaseRepository) {
    let owner = UserId::new();
    let case = new_case(repo, owner).await;
    let file = FileId::new();
    let actions = [
        AuditAction::CaseViewed,
        AuditAction::FilesListed,
        AuditAction::AccessDenied,
    ];
    for action in actions {
        let entry = AuditEntry::new(now(), Some(owner), action, AuditOutcome::Denied)
            .case(case.id)
            .file(file)
            .details("détails: «quoted» \"and\" 'single'");
        repo.append_audit(&entry).await.expect("append");
    }
    let all = audit_of(repo, case.id).await;
    let got: Vec<AuditAction> = all.iter().map(|e| e.action).collect();
    assert_eq!(
        got,
        [AuditAction::CaseCreated, actions[0], actions[1], actions[2]]
    );
    assert_eq!(
        all[1].details.as_deref(),
        Some("détails: «quoted» \"and\" 'single'")
    );
    assert_eq!(all[1].outcome, AuditOutcome::Denied);
    assert_eq!(all[1].actor, Some(owner));
    let by_file = repo
        .list_audit(&AuditQuery {
            file_id: Some(file),
            ..AuditQuery::default()
        })
        .await
        .expect("by file");
    assert_eq!(by_file.len(), 3);
    let limited = repo
        .list_audit(&AuditQuery {
            case_id: Some(case.id),
            limit: Some(2),
            ..AuditQuery::default()
        })
        .await
        .expect("limited");
    assert_eq!(limited.len(), 2);
    assert_eq!(limited[0].action, AuditAction::CaseCreated);
    let after = repo
        .list_audit(&AuditQuery {
            case_id: Some(case.id),
            after: Some(all[1].id),
            limit: Some(1),
            ..AuditQuery::default()
        })
        .await
        .expect("after");
    assert_eq!(
        after.iter().map(|e| e.id).collect::<Vec<_>>(),
        [all[2].id],
        "keyset: strictly after, in append order"
    );
    let past_the_end = repo
        .list_audit(&AuditQuery {
            case_id: Some(case.id),
            after: Some(all[3].id),
            ..AuditQuery::default()
        })
        .await
        .expect("after the last");
    assert!(past_the_end.is_empty());
    let unknown = repo
        .list_audit(&AuditQuery {
            after: Some(casefile_domain::legal::AuditId(uuid::Uuid::new_v4())),
            ..AuditQuery::default()
        })
        .await
        .expect_err("an unknown cursor");
    assert!(
        matches!(unknown, PersistenceError::NotFound { .. }),
        "{unknown:?}"
    );
}

/// An audit cursor is an entry of the trail it pages: another case's entry is `NotFound`, never
/// a position in this one.
pub async fn audit_cursor_belongs_to_its_case(repo: &dyn CaseRepository) {
    let owner = UserId::new();
    let mine = new_case(repo, owner).await;
    let theirs = new_case(repo, UserId::new()).await;
    let their_entry = audit_of(repo, theirs.id).await[0].id;
    let err = repo
        .list_audit(&AuditQuery {
            case_id: Some(mine.id),
            after: Some(their_entry),
            ..AuditQuery::default()
        })
        .await
        .expect_err("another case's cursor");
    assert!(matches!(err, PersistenceError::NotFound { .. }), "{err:?}");
    let own = audit_of(repo, mine.id).await[0].id;
    let after_own = repo
        .list_audit(&AuditQuery {
            case_id: Some(mine.id),
            after: Some(own),
            ..AuditQuery::default()
        })
        .await
        .expect("own cursor");
    assert!(after_own.is_empty());
}

/// #13.3: open uploads are pending files created since the given instant, counted in the case
/// (by anyone) and by the user (in any case); completed, failed and older ones do not count.
pub async fn open_uploads_are_counted(repo: &dyn CaseRepository) {
    let pending_before = repo.pending_uploads().await.expect("pending count");
    let owner = UserId::new();
    let (a, b) = (new_case(repo, owner).await, new_case(repo, owner).await);
    let since = now() - Duration::minutes(15);
    for path in ["x/1.pdf", "x/2.pdf"] {
        insert(repo, &pending_file(&a, path, 10, now()))
            .await
            .expect("pending");
    }
    insert(repo, &pending_file(&b, "y/1.pdf", 10, now()))
        .await
        .expect("pending");
    // Created before `since`: its URL has expired.
    insert(
        repo,
        &pending_file(&a, "x/old.pdf", 10, since - Duration::minutes(1)),
    )
    .await
    .expect("old pending");
    completed_file(repo, &a, "x/done.pdf", 10).await;
    let failed = pending_file(&a, "x/failed.pdf", 10, now());
    insert(repo, &failed).await.expect("pending");
    let entry = audit(None, AuditAction::UploadFailed)
        .case(a.id)
        .file(failed.id);
    repo.fail_file(failed.id, now(), &entry)
        .await
        .expect("fail");
    let mut strangers = new_case(repo, UserId::new()).await;
    strangers.created_by = UserId::new();
    insert(repo, &pending_file(&strangers, "z/1.pdf", 10, now()))
        .await
        .expect("pending");

    // Five pending (the expired one included); the completed and the failed ones are not.
    let pending_after = repo.pending_uploads().await.expect("pending count");
    assert_eq!(
        pending_after,
        pending_before + 5,
        "pending uploads in all cases"
    );
    let open = repo.open_uploads(a.id, owner, since).await.expect("count");
    assert_eq!(
        open,
        OpenUploads {
            in_case: 2,
            by_user: 3
        }
    );
    let open = repo
        .open_uploads(strangers.id, owner, since)
        .await
        .expect("count");
    assert_eq!(
        open,
        OpenUploads {
            in_case: 1,
            by_user: 3
        }
    );
}

fn member(
    case: CaseId,
    user: UserId,
    role: casefile_domain::legal::Role,
) -> casefile_domain::legal::Member {
    casefile_domain::legal::Member {
        case_id: case,
        user_id: user,
        role,
        granted_by: None,
        added_at: now(),
        updated_at: now(),
        profile: None,
    }
}

/// Members: the creator is the owner member; a change names the role it expects and is refused
/// when that is stale; the last owner cannot be demoted or removed, even by two owners demoting
/// each other at once; a profile is kept and replaced; an unknown case or member is `NotFound`.
pub async fn members_round_trip(repo: &dyn CaseRepository) {
    use casefile_domain::legal::{MemberChange, Role, UserProfile};
    let alice = UserId::new();
    let bob = UserId::new();
    let case = new_case(repo, alice).await;
    let got = repo.case_for_member(case.id, alice).await.expect("read");
    assert_eq!(
        got.map(|(c, r)| (c.id, r)),
        Some((case.id, Some(Role::Owner)))
    );
    let got = repo.case_for_member(case.id, bob).await.expect("read");
    assert_eq!(got.map(|(c, r)| (c.id, r)), Some((case.id, None)));
    assert!(
        repo.case_for_member(CaseId::new(), alice)
            .await
            .expect("read")
            .is_none()
    );

    let entry = |action| audit(Some(alice), action).case(case.id);
    let put = |m, expected| async move {
        repo.put_member(&m, expected, &entry(AuditAction::MemberAdded))
            .await
    };
    assert_eq!(
        put(member(case.id, bob, Role::Editor), None)
            .await
            .expect("add"),
        MemberChange::Applied { previous: None }
    );
    assert_eq!(
        put(member(case.id, bob, Role::Editor), Some(Role::Editor))
            .await
            .expect("same"),
        MemberChange::Unchanged
    );
    let stale = put(member(case.id, bob, Role::Viewer), None).await;
    assert!(
        matches!(stale, Err(PersistenceError::Conflict { .. })),
        "{stale:?}"
    );
    let last = put(member(case.id, alice, Role::Viewer), Some(Role::Owner)).await;
    assert!(
        matches!(last, Err(PersistenceError::Conflict { .. })),
        "{last:?}"
    );
    let last = repo
        .remove_member(
            case.id,
            alice,
            Role::Owner,
            &entry(AuditAction::MemberRemoved),
        )
        .await;
    assert!(
        matches!(last, Err(PersistenceError::Conflict { .. })),
        "{last:?}"
    );
    let missing = put(member(CaseId::new(), bob, Role::Viewer), None).await;
    assert!(
        matches!(missing, Err(PersistenceError::NotFound { .. })),
        "{missing:?}"
    );

    // Two owners demote each other at the same time: one wins, the case keeps an owner.
    put(member(case.id, bob, Role::Owner), Some(Role::Editor))
        .await
        .expect("promote");
    let (a, b) = tokio::join!(
        put(member(case.id, alice, Role::Viewer), Some(Role::Owner)),
        put(member(case.id, bob, Role::Viewer), Some(Role::Owner)),
    );
    assert_eq!(
        usize::from(a.is_ok()) + usize::from(b.is_ok()),
        1,
        "exactly one demotion applies: {a:?} {b:?}"
    );
    let members = repo.list_members(case.id).await.expect("members");
    assert_eq!(members.iter().filter(|m| m.role == Role::Owner).count(), 1);
    let cases = repo.list_cases(bob, None, 10).await.expect("bob's cases");
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0].case.id, case.id);

    let profile = UserProfile {
        display_name: Some("Bob".into()),
        email: Some("bob@firm.example".into()),
    };
    repo.remember_user(bob, &profile, now())
        .await
        .expect("remember");
    let renamed = UserProfile {
        display_name: Some("Robert".into()),
        email: None,
    };
    repo.remember_user(bob, &renamed, now())
        .await
        .expect("replace");
    let members = repo.list_members(case.id).await.expect("members");
    let listed = members.iter().find(|m| m.user_id == bob).expect("bob");
    assert_eq!(listed.profile, Some(renamed));
    let viewer = members
        .iter()
        .find(|m| m.role != Role::Owner)
        .expect("the demoted one");
    repo.remove_member(
        case.id,
        viewer.user_id,
        Role::Viewer,
        &entry(AuditAction::MemberRemoved),
    )
    .await
    .expect("remove");
    let again = repo
        .remove_member(
            case.id,
            viewer.user_id,
            Role::Viewer,
            &entry(AuditAction::MemberRemoved),
        )
        .await;
    assert!(
        matches!(again, Err(PersistenceError::NotFound { .. })),
        "{again:?}"
    );
    let trail = repo
        .list_audit(&AuditQuery {
            case_id: Some(case.id),
            ..AuditQuery::default()
        })
        .await
        .expect("audit");
    // case created, bob added, bob promoted, one demotion, one removal — refused changes
    // append nothing.
    assert_eq!(trail.len(), 5, "{trail:?}");
}

fn hold(case: &Case, scope: HoldScope) -> LegalHold {
    LegalHold {
        id: HoldId::new(),
        case_id: case.id,
        scope,
        name: "Doe v. Roe preservation".to_owned(),
        reason: "litigation anticipated".to_owned(),
        placed_by: case.created_by,
        placed_at: now(),
        release: None,
    }
}

fn release() -> HoldRelease {
    HoldRelease {
        released_by: UserId::new(),
        released_at: now(),
        reason: "matter closed".to_owned(),
    }
}

/// Holds and retention: a hold covers by case, prefix (files uploaded later too) or listed
/// files; a held or retained completed file cannot be marked deleted or purged; holds are
/// counted (releasing one of two leaves the file held); a hold is released once; retention is
/// extended, never shortened; purge candidates leave protected files out.
pub async fn holds_and_retention(repo: &dyn CaseRepository) {
    let case = new_case(repo, UserId::new()).await;
    let other = new_case(repo, UserId::new()).await;
    let brief = completed_file(repo, &case, "pleadings/brief.pdf", 10).await;
    let memo = completed_file(repo, &case, "notes/memo.pdf", 10).await;
    let stranger = completed_file(repo, &other, "x.pdf", 10).await;
    let entry = |action| audit(Some(case.created_by), action).case(case.id);
    let protection = |id| async move { repo.protection(id).await.expect("protection") };
    assert_eq!(protection(brief.id).await, Protection::default());

    let files_of_other = hold(
        &case,
        HoldScope::Files {
            file_ids: vec![brief.id, stranger.id],
        },
    );
    let refused = repo
        .place_hold(&files_of_other, &entry(AuditAction::HoldPlaced))
        .await;
    assert!(
        matches!(refused, Err(PersistenceError::NotFound { .. })),
        "{refused:?}"
    );
    assert!(
        repo.get_hold(files_of_other.id)
            .await
            .expect("get")
            .is_none()
    );

    let mut by_prefix = hold(
        &case,
        HoldScope::Prefix {
            prefix: "pleadings/".into(),
        },
    );
    by_prefix.placed_at -= Duration::seconds(1);
    repo.place_hold(&by_prefix, &entry(AuditAction::HoldPlaced))
        .await
        .expect("place");
    let by_file = hold(
        &case,
        HoldScope::Files {
            file_ids: vec![brief.id],
        },
    );
    repo.place_hold(&by_file, &entry(AuditAction::HoldPlaced))
        .await
        .expect("place");
    assert_eq!(
        protection(brief.id).await.holds,
        vec![by_prefix.id, by_file.id]
    );
    assert!(protection(memo.id).await.holds.is_empty());
    let later = completed_file(repo, &case, "pleadings/reply.pdf", 10).await;
    assert_eq!(
        protection(later.id).await.holds,
        vec![by_prefix.id],
        "covers later files"
    );
    assert_eq!(
        repo.list_holds(case.id).await.expect("list"),
        vec![by_prefix.clone(), by_file.clone()]
    );

    let delete = |id| async move {
        repo.delete_file(id, now(), &entry(AuditAction::FileDeleted))
            .await
    };
    let held = delete(brief.id).await;
    assert!(
        matches!(held, Err(PersistenceError::Conflict { .. })),
        "{held:?}"
    );
    assert_eq!(
        repo.get_file(brief.id)
            .await
            .expect("get")
            .expect("kept")
            .status,
        FileStatus::Completed
    );

    // Counted: one release leaves the other hold.
    repo.release_hold(by_prefix.id, &release(), &entry(AuditAction::HoldReleased))
        .await
        .expect("release");
    let twice = repo
        .release_hold(by_prefix.id, &release(), &entry(AuditAction::HoldReleased))
        .await;
    assert!(
        matches!(twice, Err(PersistenceError::Conflict { .. })),
        "{twice:?}"
    );
    let unknown = repo
        .release_hold(HoldId::new(), &release(), &entry(AuditAction::HoldReleased))
        .await;
    assert!(
        matches!(unknown, Err(PersistenceError::NotFound { .. })),
        "{unknown:?}"
    );
    assert_eq!(protection(brief.id).await.holds, vec![by_file.id]);
    assert!(
        delete(brief.id).await.is_err(),
        "still held by the second hold"
    );
    assert!(
        delete(later.id).await.is_ok(),
        "the prefix hold is released"
    );
    repo.release_hold(by_file.id, &release(), &entry(AuditAction::HoldReleased))
        .await
        .expect("release");
    assert!(delete(brief.id).await.is_ok());
    let released = repo.get_hold(by_file.id).await.expect("get").expect("kept");
    assert!(!released.is_active());

    // A hold placed after a delete keeps the bytes: purge leaves the file out, and marking it
    // purged is refused.
    let whole = hold(&case, HoldScope::Case);
    repo.place_hold(&whole, &entry(AuditAction::HoldPlaced))
        .await
        .expect("place");
    let candidates: Vec<FileId> = repo
        .files_to_purge(10_000)
        .await
        .expect("purge")
        .iter()
        .map(|f| f.id)
        .collect();
    assert!(
        !candidates.contains(&brief.id) && !candidates.contains(&later.id),
        "{candidates:?}"
    );
    let purged = repo
        .mark_purged(brief.id, now(), &entry(AuditAction::ObjectPurged))
        .await;
    assert!(
        matches!(purged, Err(PersistenceError::Conflict { .. })),
        "{purged:?}"
    );
    repo.release_hold(whole.id, &release(), &entry(AuditAction::HoldReleased))
        .await
        .expect("release");
    let candidates: Vec<FileId> = repo
        .files_to_purge(10_000)
        .await
        .expect("purge")
        .iter()
        .map(|f| f.id)
        .collect();
    assert!(candidates.contains(&brief.id), "{candidates:?}");

    // Retention: extended, never shortened; it protects like a hold while in the future.
    let until = now() + Duration::days(30);
    repo.set_retention(case.id, until, &entry(AuditAction::RetentionSet))
        .await
        .expect("set");
    let shorter = repo
        .set_retention(
            case.id,
            until - Duration::days(1),
            &entry(AuditAction::RetentionSet),
        )
        .await;
    assert!(
        matches!(shorter, Err(PersistenceError::Conflict { .. })),
        "{shorter:?}"
    );
    repo.set_retention(
        case.id,
        until + Duration::days(1),
        &entry(AuditAction::RetentionSet),
    )
    .await
    .expect("extend");
    assert_eq!(
        protection(memo.id).await.retain_until,
        Some(until + Duration::days(1))
    );
    let retained = delete(memo.id).await;
    assert!(
        matches!(retained, Err(PersistenceError::Conflict { .. })),
        "{retained:?}"
    );
    let purged = repo
        .mark_purged(brief.id, now(), &entry(AuditAction::ObjectPurged))
        .await;
    assert!(
        matches!(purged, Err(PersistenceError::Conflict { .. })),
        "retained: {purged:?}"
    );
    assert!(
        delete(stranger.id).await.is_ok(),
        "another case is not retained"
    );
    // A file's own retention: in a case without any.
    let solo = completed_file(repo, &other, "solo.pdf", 10).await;
    let own = now() + Duration::days(400);
    let other_entry = audit(Some(other.created_by), AuditAction::RetentionSet).case(other.id);
    repo.set_file_retention(solo.id, own, &other_entry)
        .await
        .expect("file retention");
    assert_eq!(protection(solo.id).await.retain_until, Some(own));
    let shorter = repo
        .set_file_retention(solo.id, own - Duration::days(1), &other_entry)
        .await;
    assert!(
        matches!(shorter, Err(PersistenceError::Conflict { .. })),
        "{shorter:?}"
    );
    let retained = repo
        .delete_file(solo.id, now(), &audit(None, AuditAction::FileDeleted))
        .await;
    assert!(
        matches!(retained, Err(PersistenceError::Conflict { .. })),
        "{retained:?}"
    );
    let unknown = repo
        .set_file_retention(FileId::new(), own, &other_entry)
        .await;
    assert!(
        matches!(unknown, Err(PersistenceError::NotFound { .. })),
        "{unknown:?}"
    );
    let candidates: Vec<FileId> = repo
        .lock_candidates(None, 10_000)
        .await
        .expect("candidates")
        .iter()
        .map(|f| f.id)
        .collect();
    assert!(candidates.contains(&memo.id), "{candidates:?}");
    assert!(
        candidates.contains(&solo.id),
        "its own retention: {candidates:?}"
    );
    assert!(
        !candidates.contains(&stranger.id),
        "no hold or retention in its case"
    );
    let missing = repo
        .set_retention(CaseId::new(), until, &entry(AuditAction::RetentionSet))
        .await;
    assert!(
        matches!(missing, Err(PersistenceError::NotFound { .. })),
        "{missing:?}"
    );
}

/// The audit log is a Merkle tree: every appended entry gets the next log index (dense, in the
/// order entries commit, concurrent appends included), and the stored tree's root is the RFC 6962
/// root over the leaves recomputed from the entries as read back.
pub async fn audit_log_is_a_merkle_tree(repo: &dyn CaseRepository) {
    use casefile_domain::legal::audit_log;
    let empty = repo.audit_tree_head().await.expect("head");
    assert_eq!(empty.size, 0);
    assert_eq!(empty.root, audit_log::root_of(&[]));
    let owner = UserId::new();
    let case = new_case(repo, owner).await;
    completed_file(repo, &case, "a.pdf", 10).await;
    let appends = (0..8).map(|i| {
        let entry = audit(Some(owner), AuditAction::CaseViewed)
            .case(case.id)
            .details(format!("view {i}"));
        async move { repo.append_audit(&entry).await }
    });
    for appended in join_all(appends).await {
        appended.expect("append");
    }
    // An instant with nanoseconds, as a real clock gives: the leaf is what the stored row hashes to.
    let precise = AuditEntry::new(
        Utc::now() + Duration::nanoseconds(789),
        Some(owner),
        AuditAction::CaseViewed,
        AuditOutcome::Success,
    );
    repo.append_audit(&precise).await.expect("append");
    let entries = repo.list_audit(&AuditQuery::default()).await.expect("list");
    let indexes: Vec<Option<u64>> = entries.iter().map(|e| e.log_index).collect();
    let expected: Vec<Option<u64>> = (0..entries.len() as u64).map(Some).collect();
    assert_eq!(
        indexes, expected,
        "dense, in the order the trail lists them"
    );
    let head = repo.audit_tree_head().await.expect("head");
    assert_eq!(head.size, entries.len() as u64);
    let leaves: Vec<audit_log::TreeHash> = entries.iter().map(audit_log::leaf_hash).collect();
    assert_eq!(
        head.root,
        audit_log::root_of(&leaves),
        "the stored tree is the entries' tree"
    );
}

/// Fixity: a scrub run of a case is claimed once (resumed while unfinished, busy while its
/// heartbeat is fresh); each file is recorded — and its failure audited — once per run, however
/// often or concurrently it is recorded; the run's counters add up; a finished run is not
/// finished again, and the next run starts afresh.
pub async fn fixity_is_recorded_once_per_run(repo: &dyn CaseRepository) {
    use casefile_domain::legal::fixity::{FixityOutcome, ScrubClaim, ScrubRunId};
    let owner = UserId::new();
    let case = new_case(repo, owner).await;
    let a = completed_file(repo, &case, "a.bin", 10).await;
    let b = completed_file(repo, &case, "b.bin", 20).await;
    let pending = pending_file(&case, "c.bin", 5, now());
    insert(repo, &pending).await.expect("insert pending");

    let t0 = now();
    let ScrubClaim::Claimed { run, resumed } = repo
        .begin_scrub(Some(case.id), ScrubRunId(uuid::Uuid::new_v4()), t0, None)
        .await
        .expect("begin")
    else {
        panic!("a first scrub is claimed")
    };
    assert!(!resumed);
    let backlog = repo
        .scrub_backlog(Some(case.id), t0)
        .await
        .expect("backlog");
    assert_eq!(
        (backlog.files, backlog.bytes),
        (2, 30),
        "completed files only"
    );
    // Another scrubber, with a lease, finds the fresh run busy; an operator resumes it.
    let busy = repo
        .begin_scrub(
            Some(case.id),
            ScrubRunId(uuid::Uuid::new_v4()),
            t0,
            Some(t0 - Duration::minutes(5)),
        )
        .await
        .expect("begin again");
    assert!(
        matches!(busy, ScrubClaim::Busy(ref r) if r.id == run.id),
        "{busy:?}"
    );
    let ScrubClaim::Claimed {
        run: again,
        resumed,
    } = repo
        .begin_scrub(Some(case.id), ScrubRunId(uuid::Uuid::new_v4()), t0, None)
        .await
        .expect("resume")
    else {
        panic!("the operator resumes")
    };
    assert!(resumed);
    assert_eq!(again.id, run.id);

    let candidates = repo
        .scrub_candidates(Some(case.id), t0, None, 10)
        .await
        .expect("candidates");
    let mut ids: Vec<FileId> = vec![a.id, b.id];
    ids.sort();
    assert_eq!(candidates.iter().map(|f| f.id).collect::<Vec<_>>(), ids);
    let page = repo
        .scrub_candidates(Some(case.id), t0, Some(ids[0]), 10)
        .await
        .expect("after");
    assert_eq!(page.iter().map(|f| f.id).collect::<Vec<_>>(), vec![ids[1]]);

    let failure = audit(None, AuditAction::FixityFailed)
        .case(case.id)
        .file(b.id);
    let at = now();
    // Four concurrent records of b's mismatch: one applies, one audit entry.
    let records = futures::future::join_all((0..4).map(|_| {
        repo.record_fixity(
            run.id,
            b.id,
            t0,
            FixityOutcome::Mismatch,
            20,
            at,
            Some(failure.clone()),
        )
    }))
    .await;
    let applied = records
        .into_iter()
        .filter(|r| *r.as_ref().expect("record"))
        .count();
    assert_eq!(applied, 1, "recorded once");
    assert!(
        repo.record_fixity(run.id, a.id, t0, FixityOutcome::Ok, 10, at, None)
            .await
            .expect("record a")
    );
    let record = repo
        .fixity_of(b.id)
        .await
        .expect("fixity")
        .expect("recorded");
    assert_eq!(
        (record.outcome, record.run),
        (FixityOutcome::Mismatch, run.id)
    );
    assert!(repo.fixity_of(pending.id).await.expect("fixity").is_none());
    assert!(
        repo.scrub_candidates(Some(case.id), t0, None, 10)
            .await
            .expect("candidates")
            .is_empty(),
        "both verified in this run"
    );
    let counted = repo.scrub_run(run.id).await.expect("run").expect("exists");
    assert_eq!((counted.checked, counted.failed, counted.bytes), (2, 1, 30));
    let failures = audit_of(repo, case.id)
        .await
        .into_iter()
        .filter(|e| e.action == AuditAction::FixityFailed)
        .count();
    assert_eq!(failures, 1);

    let summary = audit(None, AuditAction::ScrubCompleted).case(case.id);
    assert!(
        repo.finish_scrub(run.id, now(), &summary)
            .await
            .expect("finish")
    );
    assert!(
        !repo
            .finish_scrub(run.id, now(), &summary)
            .await
            .expect("finish again")
    );
    assert!(matches!(
        repo.finish_scrub(ScrubRunId(uuid::Uuid::new_v4()), now(), &summary)
            .await,
        Err(PersistenceError::NotFound { .. })
    ));
    let t1 = now();
    let ScrubClaim::Claimed { run: next, resumed } = repo
        .begin_scrub(Some(case.id), ScrubRunId(uuid::Uuid::new_v4()), t1, None)
        .await
        .expect("next run")
    else {
        panic!("a new run after the finished one")
    };
    assert!(!resumed);
    assert_ne!(next.id, run.id);
    assert_eq!(
        repo.scrub_candidates(Some(case.id), t1, None, 10)
            .await
            .expect("candidates")
            .len(),
        2,
        "a new run verifies everything again"
    );
}

/// Files by storage-key order (case id, then file id), every status, paged by `after`: the order
/// a store lists `cases/<case>/files/<file>` in.
pub async fn files_in_key_order(repo: &dyn CaseRepository) {
    let owner = UserId::new();
    let one = new_case(repo, owner).await;
    let two = new_case(repo, owner).await;
    let mut made = Vec::new();
    for (i, case) in [&one, &two, &one, &two, &one].into_iter().enumerate() {
        made.push(completed_file(repo, case, &format!("f{i}.bin"), 1).await);
    }
    let pending = pending_file(&two, "p.bin", 1, now());
    insert(repo, &pending).await.expect("insert pending");
    made.push(pending);
    let mut expected: Vec<(CaseId, FileId)> = made.iter().map(|f| (f.case_id, f.id)).collect();
    expected.sort();
    let keys: Vec<String> = {
        let mut k: Vec<String> = made.iter().map(|f| f.storage_key.to_string()).collect();
        k.sort();
        k
    };
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = repo.files_in_key_order(after, 2).await.expect("page");
        let Some(last) = page.last() else { break };
        after = Some((last.case_id, last.id));
        seen.extend(
            page.into_iter()
                .filter(|f| f.case_id == one.id || f.case_id == two.id),
        );
    }
    assert_eq!(
        seen.iter().map(|f| (f.case_id, f.id)).collect::<Vec<_>>(),
        expected
    );
    assert_eq!(
        seen.iter()
            .map(|f| f.storage_key.to_string())
            .collect::<Vec<_>>(),
        keys,
        "the same order as the storage keys"
    );
}

/// Generates one `#[tokio::test]` per repository conformance case, in a module
/// `repository_conformance`. `$fixture` is an async expression yielding a value whose
/// `as_ref()` is a `&dyn CaseRepository` (e.g. `Arc<dyn CaseRepository>`).
#[macro_export]
macro_rules! repository_conformance_tests {
    ($fixture:expr) => {
        mod repository_conformance {
            #[allow(unused_imports)]
            use super::*;
            $crate::repository_conformance_tests!(@cases $fixture;
                cases_round_trip, logical_path_is_unique_among_live_files,
                stale_pending_upload_is_superseded, completion_is_one_transition,
                concurrent_completions_apply_once, statistics_exact_under_concurrency,
                delete_and_purge, unknown_files, list_files_by_prefix_and_cursor,
                audit_trail_order_and_filters, audit_cursor_belongs_to_its_case,
                open_uploads_are_counted, members_round_trip, holds_and_retention,
                audit_log_is_a_merkle_tree, fixity_is_recorded_once_per_run,
                files_in_key_order);
        }
    };
    (@cases $fixture:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let fixture = $fixture.await;
                $crate::repository::$case(fixture.as_ref()).await;
            }
        )*
    };
}
