//! Unit tests of `LegalFileService` against mockall mocks of its ports: the happy paths, each
//! port failing at each step (and what state that leaves), and the access rule.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use futures::{TryStreamExt, stream};

use crate::content::Sha256;
use crate::error::StorageError;
use crate::legal::*;
use crate::storage::{
    Capabilities, MockObjectStorage, ObjectStream, PresignedDownload, PresignedUpload,
    StorageObject, UploadMethod,
};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap()
}

fn alice() -> UserId {
    UserId(uuid::Uuid::from_u128(1))
}

fn bob() -> UserId {
    UserId(uuid::Uuid::from_u128(2))
}

fn case() -> Case {
    Case {
        id: CaseId(uuid::Uuid::from_u128(10)),
        retain_until: None,
        created_by: alice(),
        title: "Doe v. Roe".into(),
        file_count: 0,
        total_size_bytes: 0,
        created_at: t0(),
        updated_at: t0(),
    }
}

const CONTENT: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\nsome pdf body";

fn pending() -> CaseFile {
    let id = FileId(uuid::Uuid::from_u128(20));
    CaseFile {
        id,
        case_id: case().id,
        logical_path: LogicalPath::parse("pleadings/motion.pdf").unwrap(),
        file_name: FileName::parse("motion.pdf").unwrap(),
        mime_type: "application/pdf".into(),
        declared_size: CONTENT.len() as u64,
        actual_size: None,
        sha256: Sha256::digest(CONTENT),
        storage_key: LegalFileService::storage_key(case().id, id),
        status: FileStatus::Pending,
        uploaded_by: alice(),
        created_at: t0(),
        updated_at: t0(),
        completed_at: None,
        purged_at: None,
    }
}

fn completed() -> CaseFile {
    CaseFile {
        status: FileStatus::Completed,
        actual_size: Some(CONTENT.len() as u64),
        completed_at: Some(t0()),
        ..pending()
    }
}

fn stored(content: &[u8]) -> StorageObject {
    StorageObject {
        key: pending().storage_key,
        size: content.len() as u64,
        last_modified: t0(),
        etag: None,
        content_type: "application/pdf".into(),
        metadata: Default::default(),
        sha256: None,
    }
}

fn object_stream(content: &'static [u8]) -> ObjectStream {
    ObjectStream {
        object: stored(content),
        range: 0..content.len() as u64,
        body: Box::pin(stream::once(async move { Ok(Bytes::from_static(content)) })),
    }
}

fn request() -> NewUpload {
    NewUpload {
        logical_path: "pleadings/motion.pdf".into(),
        file_name: None,
        mime_type: None,
        file_size: CONTENT.len() as u64,
        content_hash: Some(Sha256::digest(CONTENT).to_hex()),
    }
}

fn storage() -> MockObjectStorage {
    let mut s = MockObjectStorage::new();
    s.expect_backend_name().return_const("mock");
    s.expect_capabilities()
        .return_const(Capabilities::minimal().with_presigned_upload(
            UploadMethod::Post,
            true,
            false,
        ));
    // Unless a test says otherwise, completion finds no staging object to move (as after a
    // completion that moved it and stopped before recording) and checks the stored key.
    s.expect_copy().returning(|from, _| {
        Err(crate::StorageError::NotFound {
            key: from.to_string(),
        })
    });
    s
}

fn service(storage: MockObjectStorage, repo: MockCaseRepository) -> LegalFileService {
    let mut clock = MockClock::new();
    clock.expect_now().return_const(t0());
    LegalFileService::new(
        Arc::new(storage),
        Arc::new(repo),
        Arc::new(clock),
        ServiceConfig::default(),
    )
}

/// Alice owns the case; nobody else is a member.
fn owns_case(repo: &mut MockCaseRepository) {
    repo.expect_case_for_member()
        .returning(|_, user| Ok(Some((case(), (user == alice()).then_some(Role::Owner)))));
}

fn has_file(repo: &mut MockCaseRepository, file: CaseFile) {
    repo.expect_get_file()
        .returning(move |_| Ok(Some(file.clone())));
}

fn db_down() -> PersistenceError {
    PersistenceError::Unavailable {
        message: "connection refused".into(),
        source: None,
    }
}

fn store_down() -> StorageError {
    StorageError::backend("mock", "503 Service Unavailable")
}

fn presigned() -> PresignedUpload {
    PresignedUpload {
        method: UploadMethod::Post,
        url: "https://bucket.test/".into(),
        fields: Default::default(),
        headers: Default::default(),
        expires_at: t0(),
    }
}

// ----- init_file_upload -----

/// The caller and the case have no upload open (checked against the URL's lifetime).
fn no_open_uploads(repo: &mut MockCaseRepository) {
    repo.expect_open_uploads()
        .withf(|case_id, user, since| {
            *case_id == case().id
                && *user == alice()
                && *since == t0() - chrono::Duration::minutes(15)
        })
        .returning(|_, _, _| Ok(OpenUploads::default()));
}

#[tokio::test]
async fn init_over_the_cap_presigns_and_records_nothing() {
    let mut s = storage();
    s.expect_presigned_upload().times(0);
    let mut repo = MockCaseRepository::new();
    owns_case(&mut repo);
    repo.expect_open_uploads().returning(|_, _, _| {
        Ok(OpenUploads {
            in_case: 0,
            by_user: crate::legal::DEFAULT_MAX_OPEN_UPLOADS_PER_USER,
        })
    });
    repo.expect_insert_pending_file().times(0);
    let err = service(s, repo)
        .init_file_upload(alice(), case().id, request())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ServiceError::TooManyOpenUploads {
                scope: "by this user",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn init_presigns_bound_to_declaration_then_records_pending_with_audit() {
    let mut s = storage();
    s.expect_presigned_upload()
        .withf(|key, req| {
            key.as_str().starts_with("uploads/")
                && !key.as_str().contains("motion")
                && req.content_type == "application/pdf"
                && req.max_size == CONTENT.len() as u64
                && req.sha256 == Some(Sha256::digest(CONTENT))
                && req.expires_in == Duration::from_secs(900)
        })
        .times(1)
        .returning(|_, _| Ok(presigned()));
    let mut repo = MockCaseRepository::new();
    owns_case(&mut repo);
    no_open_uploads(&mut repo);
    repo.expect_insert_pending_file()
        .withf(|file, stale_before, audit| {
            file.status == FileStatus::Pending
                && file.logical_path.as_str() == "pleadings/motion.pdf"
                && *stale_before == t0() - chrono::Duration::minutes(15)
                && audit.action == AuditAction::UploadInitiated
                && audit.file_id == Some(file.id)
                && audit.actor == Some(alice())
        })
        .times(1)
        .returning(|_, _, _| Ok(()));
    let started = service(s, repo)
        .init_file_upload(alice(), case().id, request())
        .await
        .unwrap();
    assert_eq!(started.upload, presigned());
    assert_eq!(started.file.mime_type, "application/pdf");
}

#[tokio::test]
async fn init_records_nothing_when_presigning_fails() {
    let mut s = storage();
    s.expect_presigned_upload()
        .returning(|_, _| Err(store_down()));
    let mut repo = MockCaseRepository::new();
    owns_case(&mut repo);
    no_open_uploads(&mut repo);
    repo.expect_insert_pending_file().times(0);
    let err = service(s, repo)
        .init_file_upload(alice(), case().id, request())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ServiceError::Storage(StorageError::Backend { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn init_maps_a_path_conflict() {
    let mut s = storage();
    s.expect_presigned_upload()
        .returning(|_, _| Ok(presigned()));
    let mut repo = MockCaseRepository::new();
    owns_case(&mut repo);
    no_open_uploads(&mut repo);
    repo.expect_insert_pending_file().returning(|_, _, _| {
        Err(PersistenceError::Conflict {
            what: "path held".into(),
        })
    });
    let err = service(s, repo)
        .init_file_upload(alice(), case().id, request())
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Conflict { .. }), "{err:?}");
}

#[tokio::test]
async fn init_fails_cleanly_when_the_database_is_down() {
    let mut s = storage();
    s.expect_presigned_upload().times(0);
    let mut repo = MockCaseRepository::new();
    repo.expect_case_for_member()
        .returning(|_, _| Err(db_down()));
    let err = service(s, repo)
        .init_file_upload(alice(), case().id, request())
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        ServiceError::Persistence(PersistenceError::Unavailable { .. })
    ));
}

#[tokio::test]
async fn init_on_someone_elses_case_is_not_found_and_audited_as_denied() {
    let mut s = storage();
    s.expect_presigned_upload().times(0);
    let mut repo = MockCaseRepository::new();
    owns_case(&mut repo);
    repo.expect_append_audit()
        .withf(|e| {
            e.action == AuditAction::AccessDenied
                && e.outcome == AuditOutcome::Denied
                && e.actor == Some(bob())
                && e.case_id == Some(case().id)
        })
        .times(1)
        .returning(|_| Ok(()));
    repo.expect_insert_pending_file().times(0);
    let err = service(s, repo)
        .init_file_upload(bob(), case().id, request())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ServiceError::NotFound { what: "case" }),
        "{err:?}"
    );
}

#[tokio::test]
async fn bad_input_touches_no_port() {
    let mut repo = MockCaseRepository::new();
    repo.expect_case_for_member().times(0);
    let svc = service(storage(), repo);
    let mut bad = request();
    bad.logical_path = "../../etc/passwd".into();
    let err = svc
        .init_file_upload(alice(), case().id, bad)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        ServiceError::InvalidInput {
            field: "logical_path",
            ..
        }
    ));
    let mut big = request();
    big.file_size = DEFAULT_MAX_FILE_SIZE + 1;
    let err = svc
        .init_file_upload(alice(), case().id, big)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        ServiceError::TooLarge {
            limit: DEFAULT_MAX_FILE_SIZE,
            ..
        }
    ));
}

// ----- complete_file_upload -----

#[tokio::test]
async fn complete_streams_the_object_verifies_and_completes_atomically() {
    let mut s = storage();
    s.expect_head().returning(|_| Ok(Some(stored(CONTENT))));
    s.expect_download_stream()
        .withf(|_, range| range.is_none())
        .times(1)
        .returning(|_, _| Ok(object_stream(CONTENT)));
    let mut repo = MockCaseRepository::new();
    has_file(&mut repo, pending());
    owns_case(&mut repo);
    repo.expect_complete_file()
        .withf(|id, size, _, _, audit| {
            *id == pending().id
                && *size == CONTENT.len() as u64
                && audit.action == AuditAction::UploadCompleted
        })
        .times(1)
        .returning(|_, _, _, _, _| Ok(Transition::Applied(completed())));
    let file = service(s, repo)
        .complete_file_upload(alice(), pending().id)
        .await
        .unwrap();
    assert_eq!(file.status, FileStatus::Completed);
}

#[tokio::test]
async fn complete_trusts_a_backend_that_verified_the_hash_and_reads_only_the_head() {
    let mut s = MockObjectStorage::new();
    s.expect_backend_name().return_const("mock");
    s.expect_capabilities()
        .return_const(Capabilities::minimal().with_presigned_upload(UploadMethod::Put, true, true));
    s.expect_copy().returning(|from, _| {
        Err(crate::StorageError::NotFound {
            key: from.to_string(),
        })
    });
    s.expect_head().returning(|_| {
        Ok(Some(StorageObject {
            sha256: Some(Sha256::digest(CONTENT)),
            ..stored(CONTENT)
        }))
    });
    s.expect_download_stream()
        .withf(|_, range| range.is_some())
        .times(1)
        .returning(|_, _| Ok(object_stream(CONTENT)));
    let mut repo = MockCaseRepository::new();
    has_file(&mut repo, pending());
    owns_case(&mut repo);
    repo.expect_complete_file()
        .times(1)
        .returning(|_, _, _, _, _| Ok(Transition::Applied(completed())));
    service(s, repo)
        .complete_file_upload(alice(), pending().id)
        .await
        .unwrap();
}

#[tokio::test]
async fn complete_with_storage_down_changes_nothing() {
    let mut s = storage();
    s.expect_head().returning(|_| Err(store_down()));
    s.expect_delete().times(0);
    let mut repo = MockCaseRepository::new();
    has_file(&mut repo, pending());
    owns_case(&mut repo);
    repo.expect_complete_file().times(0);
    repo.expect_fail_file().times(0);
    let err = service(s, repo)
        .complete_file_upload(alice(), pending().id)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Storage(_)), "{err:?}");
}

#[tokio::test]
async fn a_completion_running_for_the_file_refuses_a_second_until_it_ends() {
    let mut s = storage();
    // Nothing staged, nothing stored: reached only by the second attempt.
    s.expect_head().times(1).returning(|_| Ok(None));
    let mut repo = MockCaseRepository::new();
    has_file(&mut repo, pending());
    owns_case(&mut repo);
    repo.expect_append_audit().times(1).returning(|_| Ok(()));
    repo.expect_complete_file().times(0);
    let service = service(s, repo);
    let running = service.lease_completion(pending().id).unwrap();
    let err = service
        .complete_file_upload(alice(), pending().id)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ServiceError::Conflict { reason } if reason.contains("running")),
        "{err:?}"
    );
    drop(running);
    // The slot is free again: this one reaches the store (and finds nothing uploaded yet).
    let err = service
        .complete_file_upload(alice(), pending().id)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::UploadMissing), "{err:?}");
}

#[tokio::test]
async fn complete_before_upload_keeps_the_file_pending_and_audits_the_attempt() {
    let mut s = storage();
    s.expect_head().returning(|_| Ok(None));
    let mut repo = MockCaseRepository::new();
    has_file(&mut repo, pending());
    owns_case(&mut repo);
    repo.expect_append_audit()
        .withf(|e| e.action == AuditAction::UploadFailed && e.outcome == AuditOutcome::Failure)
        .times(1)
        .returning(|_| Ok(()));
    repo.expect_fail_file().times(0);
    let err = service(s, repo)
        .complete_file_upload(alice(), pending().id)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::UploadMissing));
}

#[tokio::test]
async fn size_mismatch_fails_the_file_then_removes_and_purges_the_object() {
    let mut s = storage();
    s.expect_head().returning(|_| Ok(Some(stored(b"short"))));
    // The staging object and the stored key: both removed.
    s.expect_delete().times(2).returning(|_| Ok(()));
    let mut repo = MockCaseRepository::new();
    has_file(&mut repo, pending());
    owns_case(&mut repo);
    let mut seq = mockall::Sequence::new();
    repo.expect_fail_file()
        .withf(|_, _, audit| {
            audit.action == AuditAction::UploadFailed
                && audit.details.as_deref().is_some_and(|d| d.contains("size"))
        })
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| {
            Ok(Transition::Applied(CaseFile {
                status: FileStatus::Failed,
                ..pending()
            }))
        });
    repo.expect_mark_purged()
        .withf(|_, _, audit| audit.action == AuditAction::ObjectPurged && audit.actor.is_none())
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(Transition::Applied(pending())));
    repo.expect_complete_file().times(0);
    match service(s, repo)
        .complete_file_upload(alice(), pending().id)
        .await
    {
        Err(ServiceError::IntegrityMismatch {
            field: IntegrityField::Size,
            expected,
            actual,
        }) => {
            assert_eq!(expected, CONTENT.len().to_string());
            assert_eq!(actual, "5");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_failed_removal_is_left_for_purge() {
    let mut s = storage();
    s.expect_head().returning(|_| Ok(Some(stored(b"short"))));
    s.expect_delete().times(1).returning(|_| Err(store_down()));
    let mut repo = MockCaseRepository::new();
    has_file(&mut repo, pending());
    owns_case(&mut repo);
    repo.expect_fail_file().returning(|_, _, _| {
        Ok(Transition::Applied(CaseFile {
            status: FileStatus::Failed,
            ..pending()
        }))
    });
    repo.expect_mark_purged().times(0);
    let err = service(s, repo)
        .complete_file_upload(alice(), pending().id)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::IntegrityMismatch { .. }));
}

#[tokio::test]
async fn hash_mismatch_names_both_digests() {
    let mut s = storage();
    let altered: &'static [u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\nsome pdf bodY";
    s.expect_head()
        .returning(move |_| Ok(Some(stored(altered))));
    s.expect_download_stream()
        .returning(move |_, _| Ok(object_stream(altered)));
    s.expect_delete().returning(|_| Ok(()));
    let mut repo = MockCaseRepository::new();
    has_file(&mut repo, pending());
    owns_case(&mut repo);
    repo.expect_fail_file()
        .times(1)
        .returning(|_, _, _| Ok(Transition::Unchanged(pending())));
    repo.expect_complete_file().times(0);
    match service(s, repo)
        .complete_file_upload(alice(), pending().id)
        .await
    {
        Err(ServiceError::IntegrityMismatch {
            field: IntegrityField::Sha256,
            expected,
            actual,
        }) => {
            assert_eq!(expected, Sha256::digest(CONTENT).to_hex());
            assert_eq!(actual, Sha256::digest(altered).to_hex());
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn database_down_at_completion_keeps_the_object_for_a_retry() {
    let mut s = storage();
    s.expect_head().returning(|_| Ok(Some(stored(CONTENT))));
    s.expect_download_stream()
        .returning(|_, _| Ok(object_stream(CONTENT)));
    s.expect_delete().times(0);
    let mut repo = MockCaseRepository::new();
    has_file(&mut repo, pending());
    owns_case(&mut repo);
    repo.expect_complete_file()
        .returning(|_, _, _, _, _| Err(db_down()));
    let err = service(s, repo)
        .complete_file_upload(alice(), pending().id)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Persistence(_)), "{err:?}");
}

#[tokio::test]
async fn completing_a_completed_file_touches_nothing() {
    let mut s = storage();
    s.expect_head().times(0);
    let mut repo = MockCaseRepository::new();
    has_file(&mut repo, completed());
    owns_case(&mut repo);
    repo.expect_complete_file().times(0);
    repo.expect_append_audit().times(0);
    let file = service(s, repo)
        .complete_file_upload(alice(), pending().id)
        .await
        .unwrap();
    assert_eq!(file, completed());
}

#[tokio::test]
async fn another_users_file_is_not_found_and_audited() {
    let mut s = storage();
    s.expect_head().times(0);
    let mut repo = MockCaseRepository::new();
    has_file(&mut repo, pending());
    owns_case(&mut repo);
    repo.expect_append_audit()
        .withf(|e| {
            e.action == AuditAction::AccessDenied
                && e.actor == Some(bob())
                && e.file_id == Some(pending().id)
        })
        .times(1)
        .returning(|_| Ok(()));
    let err = service(s, repo)
        .complete_file_upload(bob(), pending().id)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::NotFound { what: "file" }));
}

// ----- delete and purge -----

#[tokio::test]
async fn delete_commits_the_tombstone_before_touching_storage() {
    let mut s = storage();
    let mut repo = MockCaseRepository::new();
    repo.expect_protection()
        .returning(|_| Ok(Protection::default()));
    has_file(&mut repo, completed());
    owns_case(&mut repo);
    let mut seq = mockall::Sequence::new();
    repo.expect_delete_file()
        .withf(|_, _, a| a.action == AuditAction::FileDeleted)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| {
            Ok(Transition::Applied(CaseFile {
                status: FileStatus::Deleted,
                ..completed()
            }))
        });
    s.expect_delete()
        .times(2)
        .in_sequence(&mut seq)
        .returning(|_| Ok(()));
    repo.expect_mark_purged()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(Transition::Applied(completed())));
    service(s, repo)
        .delete_file(alice(), completed().id)
        .await
        .unwrap();
}

#[tokio::test]
async fn delete_with_database_down_never_removes_the_object() {
    let mut s = storage();
    s.expect_delete().times(0);
    let mut repo = MockCaseRepository::new();
    repo.expect_protection()
        .returning(|_| Ok(Protection::default()));
    has_file(&mut repo, completed());
    owns_case(&mut repo);
    repo.expect_delete_file()
        .returning(|_, _, _| Err(db_down()));
    let err = service(s, repo)
        .delete_file(alice(), completed().id)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Persistence(_)));
}

#[tokio::test]
async fn delete_succeeds_when_object_removal_fails_and_leaves_it_for_purge() {
    let mut s = storage();
    s.expect_delete().returning(|_| Err(store_down()));
    let mut repo = MockCaseRepository::new();
    repo.expect_protection()
        .returning(|_| Ok(Protection::default()));
    has_file(&mut repo, completed());
    owns_case(&mut repo);
    repo.expect_delete_file()
        .returning(|_, _, _| Ok(Transition::Applied(completed())));
    repo.expect_mark_purged().times(0);
    service(s, repo)
        .delete_file(alice(), completed().id)
        .await
        .unwrap();
}

#[tokio::test]
async fn purge_removes_what_it_can_and_counts_the_rest() {
    let mut s = storage();
    let ok_keys = [
        pending().storage_key,
        LegalFileService::staging_key(pending().case_id, pending().id),
    ];
    s.expect_list().returning(|_| {
        Ok(crate::storage::ListPage {
            objects: Vec::new(),
            next_token: None,
        })
    });
    s.expect_delete().returning(move |k| {
        if ok_keys.contains(k) {
            Ok(())
        } else {
            Err(store_down())
        }
    });
    let mut repo = MockCaseRepository::new();
    let other = CaseFile {
        id: FileId::new(),
        storage_key: LegalFileService::storage_key(case().id, FileId::new()),
        status: FileStatus::Deleted,
        ..pending()
    };
    let failed = CaseFile {
        status: FileStatus::Failed,
        ..pending()
    };
    repo.expect_stale_pending_files()
        .returning(|_, _| Ok(Vec::new()));
    repo.expect_files_to_purge()
        .withf(|limit| *limit == 10)
        .returning(move |_| Ok(vec![failed.clone(), other.clone()]));
    repo.expect_mark_purged()
        .times(1)
        .returning(|_, _, _| Ok(Transition::Applied(pending())));
    let report = service(s, repo).purge(10).await.unwrap();
    assert_eq!(
        report,
        PurgeReport {
            purged: 1,
            failed: 1,
            expired: 0,
            staging_swept: 0,
        }
    );
}

// ----- downloads and listing -----

#[tokio::test]
async fn download_is_audited_and_verified() {
    let mut s = storage();
    s.expect_download_stream()
        .returning(|_, _| Ok(object_stream(CONTENT)));
    let mut repo = MockCaseRepository::new();
    has_file(&mut repo, completed());
    owns_case(&mut repo);
    repo.expect_append_audit()
        .withf(|e| e.action == AuditAction::FileDownloaded)
        .times(1)
        .returning(|_| Ok(()));
    let download = service(s, repo)
        .download_file(alice(), completed().id)
        .await
        .unwrap();
    let body: Vec<Bytes> = download.body.try_collect().await.unwrap();
    assert_eq!(body.concat(), CONTENT);
}

#[tokio::test]
async fn download_fails_when_the_audit_cannot_be_written() {
    let mut s = storage();
    s.expect_download_stream()
        .returning(|_, _| Ok(object_stream(CONTENT)));
    let mut repo = MockCaseRepository::new();
    has_file(&mut repo, completed());
    owns_case(&mut repo);
    repo.expect_append_audit().returning(|_| Err(db_down()));
    let err = service(s, repo)
        .download_file(alice(), completed().id)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ServiceError::Persistence(_)),
        "no unaudited access"
    );
}

#[tokio::test]
async fn pending_files_cannot_be_downloaded() {
    let mut s = storage();
    s.expect_download_stream().times(0);
    s.expect_presigned_download().times(0);
    let mut repo = MockCaseRepository::new();
    has_file(&mut repo, pending());
    owns_case(&mut repo);
    let svc = service(s, repo);
    assert!(matches!(
        svc.download_file(alice(), pending().id).await,
        Err(ServiceError::NotFound { .. })
    ));
    assert!(matches!(
        svc.get_download_url(alice(), pending().id).await,
        Err(ServiceError::NotFound { .. })
    ));
}

#[tokio::test]
async fn download_url_is_short_lived_named_and_audited() {
    let mut s = storage();
    s.expect_presigned_download()
        .withf(|_, req| {
            req.expires_in == Duration::from_secs(300)
                && req.file_name.as_deref() == Some("motion.pdf")
        })
        .times(1)
        .returning(|_, _| {
            Ok(PresignedDownload {
                url: "https://x.test/".into(),
                expires_at: t0(),
            })
        });
    let mut repo = MockCaseRepository::new();
    has_file(&mut repo, completed());
    owns_case(&mut repo);
    repo.expect_append_audit()
        .withf(|e| e.action == AuditAction::DownloadUrlIssued)
        .times(1)
        .returning(|_| Ok(()));
    service(s, repo)
        .get_download_url(alice(), completed().id)
        .await
        .unwrap();
}

#[tokio::test]
async fn listing_asks_one_more_row_to_know_about_a_next_page() {
    let mut repo = MockCaseRepository::new();
    owns_case(&mut repo);
    repo.expect_list_files()
        .withf(|_, q| q.limit == 3 && q.prefix.as_deref() == Some("pleadings"))
        .returning(|_, _| Ok(vec![completed(), completed(), completed()]));
    repo.expect_append_audit()
        .withf(|e| e.action == AuditAction::FilesListed)
        .times(1)
        .returning(|_| Ok(()));
    let request = ListFiles {
        prefix: Some("pleadings".into()),
        cursor: None,
        limit: Some(2),
        delimiter: false,
    };
    let page = service(storage(), repo)
        .list_case_files(alice(), case().id, request)
        .await
        .unwrap();
    assert_eq!(page.files.len(), 2);
    assert_eq!(page.next_cursor.as_deref(), Some("pleadings/motion.pdf"));
}

#[tokio::test]
async fn create_case_writes_case_and_audit_in_one_call() {
    let mut repo = MockCaseRepository::new();
    repo.expect_create_case()
        .withf(|c, a| {
            c.created_by == alice()
                && a.action == AuditAction::CaseCreated
                && a.case_id == Some(c.id)
        })
        .times(1)
        .returning(|_, _| Ok(()));
    repo.expect_append_audit().times(0);
    let case = service(storage(), repo)
        .create_case(alice(), "Doe v. Roe")
        .await
        .unwrap();
    assert_eq!((case.file_count, case.total_size_bytes), (0, 0));
}

#[test]
fn mime_contradiction_rules() {
    assert!(mime_contradicts(
        "application/pdf",
        Some("application/x-executable")
    ));
    assert!(mime_contradicts(
        "text/plain",
        Some("application/x-sharedlib")
    ));
    assert!(mime_contradicts("application/pdf", Some("text/plain")));
    assert!(mime_contradicts("image/png", None));
    assert!(!mime_contradicts(
        "application/pdf",
        Some("application/pdf")
    ));
    assert!(!mime_contradicts(
        "application/PDF; x=y",
        Some("application/pdf")
    ));
    assert!(!mime_contradicts(
        "application/x-executable",
        Some("application/x-executable")
    ));
    assert!(!mime_contradicts("text/csv", Some("text/plain")));
    assert!(!mime_contradicts("application/octet-stream", None));
}

#[test]
fn recorded_type_comes_from_detection_and_keeps_only_consistent_claims() {
    use crate::legal::settled_mime_type;
    let pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n";
    // curl's default type for --data-binary says nothing about the file: the bytes decide.
    assert_eq!(
        settled_mime_type("application/x-www-form-urlencoded", "a.pdf", pdf),
        "application/pdf"
    );
    assert_eq!(
        settled_mime_type("multipart/form-data; boundary=x", "notes", b"plain words"),
        "text/plain"
    );
    assert_eq!(
        settled_mime_type(
            "application/x-www-form-urlencoded",
            "table.csv",
            b"a,b\n1,2\n"
        ),
        "text/csv"
    );
    // A claim the bytes confirm, or cannot judge, stays.
    assert_eq!(
        settled_mime_type("application/pdf", "a.pdf", pdf),
        "application/pdf"
    );
    assert_eq!(
        settled_mime_type("text/csv", "t.csv", b"a,b\n1,2\n"),
        "text/csv"
    );
    assert_eq!(
        settled_mime_type("text/markdown; charset=utf-8", "r", b"# Title\n"),
        "text/markdown; charset=utf-8"
    );
    // A claim the bytes contradict (and the name does not support) is replaced.
    assert_eq!(
        settled_mime_type("text/html", "a.bin", pdf),
        "application/pdf"
    );
}

#[tokio::test]
async fn a_held_file_is_never_deleted_and_its_bytes_stay() {
    let hold = HoldId(uuid::Uuid::from_u128(30));
    let mut s = storage();
    s.expect_delete().times(0);
    let mut repo = MockCaseRepository::new();
    owns_case(&mut repo);
    has_file(&mut repo, completed());
    repo.expect_protection().returning(move |_| {
        Ok(Protection {
            holds: vec![hold],
            retain_until: None,
        })
    });
    repo.expect_delete_file().times(0);
    repo.expect_append_audit()
        .withf(|a| {
            a.action == AuditAction::DeleteRefused
                && a.outcome == AuditOutcome::Denied
                && a.details.as_deref().is_some_and(|d| d.contains("held by"))
        })
        .times(1)
        .returning(|_| Ok(()));
    let err = service(s, repo)
        .delete_file(alice(), completed().id)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Held { holds } if holds == vec![hold]));
}

#[tokio::test]
async fn a_retained_file_is_never_deleted() {
    let until = t0() + chrono::Duration::days(1);
    let mut s = storage();
    s.expect_delete().times(0);
    let mut repo = MockCaseRepository::new();
    owns_case(&mut repo);
    has_file(&mut repo, completed());
    repo.expect_protection().returning(move |_| {
        Ok(Protection {
            holds: Vec::new(),
            retain_until: Some(until),
        })
    });
    repo.expect_delete_file().times(0);
    repo.expect_append_audit()
        .withf(|a| a.action == AuditAction::DeleteRefused)
        .times(1)
        .returning(|_| Ok(()));
    let err = service(s, repo)
        .delete_file(alice(), completed().id)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Retained { until: u } if u == until));
}

#[tokio::test]
async fn only_owners_place_holds_and_nothing_is_written_otherwise() {
    let mut repo = MockCaseRepository::new();
    repo.expect_case_for_member()
        .returning(|_, _| Ok(Some((case(), Some(Role::Editor)))));
    repo.expect_place_hold().times(0);
    repo.expect_append_audit()
        .withf(|a| a.action == AuditAction::AccessDenied)
        .times(1)
        .returning(|_| Ok(()));
    let request = NewHold {
        name: "Doe".into(),
        reason: "litigation".into(),
        scope: None,
    };
    let err = service(storage(), repo)
        .place_hold(alice(), case().id, request)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        ServiceError::Forbidden {
            role: Role::Editor,
            ..
        }
    ));
}
