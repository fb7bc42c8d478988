//! The legal file service, end to end, on real ports: a store and a repository (e.g.
//! `MemoryStorage` + [`InMemoryCaseRepository`](crate::InMemoryCaseRepository)). Each case
//! builds its own [`ServiceEnv`] from a factory, so stores and clocks are never shared.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use casefile_domain::StorageError;
use casefile_domain::legal::{
    AuditAction, AuditOutcome, CaseFile, CaseRepository, Clock, FileId, FileStatus, IntegrityField,
    LegalFileService, ListCases, ListFiles, NewUpload, ServiceConfig, ServiceError, UserId,
};
use casefile_domain::storage::{ObjectStorage, PutOptions, UploadMethod};
use casefile_domain::{Sha256, content::OCTET_STREAM};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;

use crate::data;

/// A clock that moves only when told.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock showing the current time.
    pub fn new() -> Self {
        Self(Mutex::new(crate::repository::now()))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *now += chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A service over real ports, with handles on them for the checks.
pub struct ServiceEnv {
    /// The store.
    pub storage: Arc<dyn ObjectStorage>,
    /// The repository.
    pub repository: Arc<dyn CaseRepository>,
    /// The clock.
    pub clock: Arc<ManualClock>,
    /// The service under test.
    pub service: LegalFileService,
}

impl ServiceEnv {
    /// A service with the default limits.
    pub fn new(storage: Arc<dyn ObjectStorage>, repository: Arc<dyn CaseRepository>) -> Self {
        Self::with_config(storage, repository, ServiceConfig::default())
    }

    /// A service with `config`.
    pub fn with_config(
        storage: Arc<dyn ObjectStorage>,
        repository: Arc<dyn CaseRepository>,
        config: ServiceConfig,
    ) -> Self {
        let clock = Arc::new(ManualClock::new());
        let service =
            LegalFileService::new(storage.clone(), repository.clone(), clock.clone(), config);
        Self {
            storage,
            repository,
            clock,
            service,
        }
    }

    /// What a client does with a presigned upload: put the bytes where the URL points (the
    /// upload's staging key).
    pub async fn client_upload(&self, file: &CaseFile, content: &Bytes) {
        self.storage
            .upload(
                &LegalFileService::staging_key(file.case_id, file.id),
                content.clone(),
                PutOptions::with_content_type(file.mime_type.clone()),
            )
            .await
            .expect("client upload");
    }

    /// What someone with access to the store behind casefile's back does: replace the bytes of
    /// a stored file.
    pub async fn tamper_stored(&self, file: &CaseFile, content: &Bytes) {
        self.storage
            .upload(
                &file.storage_key,
                content.clone(),
                PutOptions::with_content_type(file.mime_type.clone()),
            )
            .await
            .expect("tamper");
    }

    /// The case holds exactly one completed file of `size` bytes — in its statistics and in
    /// storage (refused uploads left no object).
    pub async fn assert_only_one_file(
        &self,
        user: UserId,
        case: casefile_domain::legal::CaseId,
        size: u64,
    ) {
        let now = self.service.get_case(user, case).await.expect("case");
        assert_eq!((now.case.file_count, now.case.total_size_bytes), (1, size));
        let listing = self
            .storage
            .list(casefile_domain::storage::ListOptions {
                prefix: Some(
                    casefile_domain::storage::ObjectKey::new(format!("cases/{}", case.0.simple()))
                        .expect("key"),
                ),
                ..Default::default()
            })
            .await
            .expect("storage listing");
        assert_eq!(
            listing.objects.len(),
            1,
            "refused uploads left no object: {:?}",
            listing.objects
        );
    }

    /// The actions of a case's audit trail, in order.
    pub async fn actions(
        &self,
        user: UserId,
        case: casefile_domain::legal::CaseId,
    ) -> Vec<AuditAction> {
        self.service
            .audit_trail(
                user,
                case,
                casefile_domain::legal::AuditTrailQuery {
                    limit: Some(casefile_domain::legal::MAX_FILE_PAGE),
                    ..Default::default()
                },
            )
            .await
            .expect("audit trail")
            .entries
            .iter()
            .map(|e| e.action)
            .collect()
    }

    async fn all_audit(&self) -> Vec<casefile_domain::legal::AuditEntry> {
        self.repository
            .list_audit(&Default::default())
            .await
            .expect("audit")
    }
}

/// A declared upload of `content` at `path`.
pub fn declare(path: &str, content: &[u8], mime: Option<&str>) -> NewUpload {
    NewUpload {
        logical_path: path.to_owned(),
        file_name: None,
        mime_type: mime.map(str::to_owned),
        file_size: content.len() as u64,
        content_hash: Some(Sha256::digest(content).to_hex()),
    }
}

/// The first bytes of a PDF, enough for sniffing.
pub fn pdf_bytes(extra: usize) -> Bytes {
    let mut pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n".to_vec();
    pdf.extend(data::random_bytes(extra as u64, extra));
    Bytes::from(pdf)
}

/// The first bytes of an x86-64 ELF executable.
pub fn elf_bytes() -> Bytes {
    let mut elf =
        b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x3e\x00".to_vec();
    elf.extend_from_slice(&[0u8; 200]);
    Bytes::from(elf)
}

fn field_of(err: &ServiceError) -> Option<IntegrityField> {
    match err {
        ServiceError::IntegrityMismatch { field, .. } => Some(*field),
        _ => None,
    }
}

/// The whole two-phase flow: case, init (a presigned upload bound as the store allows), client
/// upload, completion, download, download URL, listing — and exactly one audit entry for each.
pub async fn two_phase_upload(env: &ServiceEnv) {
    let alice = UserId::new();
    let case = env
        .service
        .create_case(alice, "  Doe v. Roe  ")
        .await
        .expect("case");
    assert_eq!(case.title, "Doe v. Roe");
    let content = pdf_bytes(50_000);
    let started = env
        .service
        .init_file_upload(
            alice,
            case.id,
            declare("pleadings/motion.pdf", &content, None),
        )
        .await
        .expect("init");
    let file = started.file.clone();
    assert_eq!(file.status, FileStatus::Pending);
    assert_eq!(file.mime_type, "application/pdf", "guessed from the name");
    assert_eq!(file.file_name.as_str(), "motion.pdf");
    assert!(
        !file.storage_key.as_str().contains("motion"),
        "keys never carry user input"
    );
    assert_eq!(
        Some(started.upload.method),
        env.storage.capabilities().presigned_upload
    );
    let carried_type = match started.upload.method {
        UploadMethod::Put => started
            .upload
            .headers
            .values()
            .any(|v| v == "application/pdf"),
        UploadMethod::Post => started
            .upload
            .fields
            .values()
            .any(|v| v == "application/pdf"),
    };
    assert!(carried_type, "the upload is bound to the declared type");
    let lifetime = started.upload.expires_at - env.clock.now();
    assert!(
        lifetime <= chrono::Duration::minutes(16) && lifetime >= chrono::Duration::minutes(14),
        "{lifetime}"
    );

    env.client_upload(&file, &content).await;
    let done = env
        .service
        .complete_file_upload(alice, file.id)
        .await
        .expect("complete");
    assert_eq!(done.status, FileStatus::Completed);
    assert_eq!(done.actual_size, Some(content.len() as u64));
    let case_now = env.service.get_case(alice, case.id).await.expect("case");
    assert_eq!(
        (case_now.case.file_count, case_now.case.total_size_bytes),
        (1, content.len() as u64)
    );

    let download = env
        .service
        .download_file(alice, file.id)
        .await
        .expect("download");
    let got: Vec<Bytes> = download.body.try_collect().await.expect("verified body");
    assert!(got.concat() == content, "downloaded bytes differ");
    let url = env
        .service
        .get_download_url(alice, file.id)
        .await
        .expect("url");
    let lifetime = url.expires_at - env.clock.now();
    assert!(
        lifetime <= chrono::Duration::minutes(6),
        "short default expiry: {lifetime}"
    );
    let page = env
        .service
        .list_case_files(alice, case.id, ListFiles::default())
        .await
        .expect("list");
    assert_eq!(page.files, vec![done.clone()]);
    assert_eq!(page.next_cursor, None);
    let cases = env
        .service
        .list_cases(alice, ListCases::default())
        .await
        .expect("cases");
    assert_eq!(
        cases.cases.iter().map(|c| c.case.id).collect::<Vec<_>>(),
        vec![case.id]
    );
    assert_eq!(cases.next_cursor, None);
    // A page at a time.
    env.clock.advance(Duration::from_secs(1));
    let second = env
        .service
        .create_case(alice, "Second")
        .await
        .expect("case");
    let page = env
        .service
        .list_cases(
            alice,
            ListCases {
                limit: Some(1),
                ..ListCases::default()
            },
        )
        .await
        .expect("page 1");
    assert_eq!(page.cases.len(), 1);
    let next = env
        .service
        .list_cases(
            alice,
            ListCases {
                limit: Some(1),
                cursor: page.next_cursor.clone(),
            },
        )
        .await
        .expect("page 2");
    assert_eq!(
        next.cases.iter().map(|c| c.case.id).collect::<Vec<_>>(),
        vec![second.id]
    );
    assert_eq!(next.next_cursor, None);
    for bad in [Some(0), Some(1001)] {
        assert!(matches!(
            env.service
                .list_cases(
                    alice,
                    ListCases {
                        limit: bad,
                        cursor: None
                    }
                )
                .await,
            Err(ServiceError::InvalidInput { field: "limit", .. })
        ));
    }
    assert!(matches!(
        env.service
            .list_cases(
                alice,
                ListCases {
                    limit: None,
                    cursor: Some("not-a-cursor".into())
                }
            )
            .await,
        Err(ServiceError::InvalidInput {
            field: "cursor",
            ..
        })
    ));

    assert_eq!(
        env.actions(alice, case.id).await,
        [
            AuditAction::CaseCreated,
            AuditAction::UploadInitiated,
            AuditAction::UploadCompleted,
            AuditAction::CaseViewed,
            AuditAction::FileDownloaded,
            AuditAction::DownloadUrlIssued,
            AuditAction::FilesListed,
        ]
    );
}

async fn started(
    env: &ServiceEnv,
    user: UserId,
    path: &str,
    declared: &[u8],
    mime: Option<&str>,
) -> (casefile_domain::legal::Case, CaseFile) {
    let case = env.service.create_case(user, "Matter").await.expect("case");
    let file = env
        .service
        .init_file_upload(user, case.id, declare(path, declared, mime))
        .await
        .expect("init")
        .file;
    (case, file)
}

async fn assert_failed_and_removed(env: &ServiceEnv, file: &CaseFile, why: &str) {
    let now = env
        .repository
        .get_file(file.id)
        .await
        .expect("get")
        .expect("kept");
    assert_eq!(now.status, FileStatus::Failed, "{why}");
    assert_eq!(
        env.storage.head(&file.storage_key).await.expect("head"),
        None,
        "{why}: object removed"
    );
    let audit = env.all_audit().await;
    let failure = audit
        .iter()
        .find(|e| e.file_id == Some(file.id) && e.action == AuditAction::UploadFailed)
        .expect("failure audited");
    assert_eq!(failure.outcome, AuditOutcome::Failure);
    assert!(
        failure
            .details
            .as_deref()
            .is_some_and(|d| d.contains("integrity mismatch")),
        "{failure:?}"
    );
}

/// Completion refuses what was not declared: a missing object (`UploadMissing`, still pending),
/// a short or long object (size), other bytes (SHA-256), an executable declared as a PDF (MIME).
/// Each mismatch fails the file, removes its object and is audited with what differed.
pub async fn completion_verifies_everything(env: &ServiceEnv) {
    let user = UserId::new();
    let content = pdf_bytes(10_000);

    let (_, missing) = started(env, user, "missing.pdf", &content, None).await;
    let err = env
        .service
        .complete_file_upload(user, missing.id)
        .await
        .expect_err("missing");
    assert!(matches!(err, ServiceError::UploadMissing), "{err:?}");
    let still = env
        .repository
        .get_file(missing.id)
        .await
        .expect("get")
        .expect("kept");
    assert_eq!(
        still.status,
        FileStatus::Pending,
        "the client may still upload"
    );
    env.client_upload(&missing, &content).await;
    env.service
        .complete_file_upload(user, missing.id)
        .await
        .expect("completes once uploaded");

    let (case, short) = started(env, user, "short.pdf", &content, None).await;
    env.client_upload(&short, &content.slice(..content.len() - 1))
        .await;
    let err = env
        .service
        .complete_file_upload(user, short.id)
        .await
        .expect_err("short");
    assert_eq!(field_of(&err), Some(IntegrityField::Size), "{err:?}");
    assert_failed_and_removed(env, &short, "short").await;
    assert_eq!(
        env.service
            .get_case(user, case.id)
            .await
            .expect("case")
            .case
            .file_count,
        0
    );
    let again = env
        .service
        .complete_file_upload(user, short.id)
        .await
        .expect_err("failed stays failed");
    assert!(matches!(again, ServiceError::Conflict { .. }), "{again:?}");

    let (_, long) = started(env, user, "long.pdf", &content, None).await;
    let mut longer = content.to_vec();
    longer.push(b'!');
    env.client_upload(&long, &Bytes::from(longer)).await;
    let err = env
        .service
        .complete_file_upload(user, long.id)
        .await
        .expect_err("long");
    assert_eq!(field_of(&err), Some(IntegrityField::Size));
    assert_failed_and_removed(env, &long, "long").await;

    let (_, altered) = started(env, user, "altered.pdf", &content, None).await;
    let mut other = content.to_vec();
    let last = other.len() - 1;
    other[last] ^= 0xff;
    env.client_upload(&altered, &Bytes::from(other)).await;
    match env.service.complete_file_upload(user, altered.id).await {
        Err(ServiceError::IntegrityMismatch {
            field: IntegrityField::Sha256,
            expected,
            actual,
        }) => {
            assert_eq!(expected, altered.sha256.to_hex());
            assert_ne!(actual, expected);
        }
        other => panic!("altered bytes gave {other:?}"),
    }
    assert_failed_and_removed(env, &altered, "altered").await;

    let elf = elf_bytes();
    let (_, disguised) = started(env, user, "invoice.pdf", &elf, Some("application/pdf")).await;
    env.client_upload(&disguised, &elf).await;
    match env.service.complete_file_upload(user, disguised.id).await {
        Err(ServiceError::IntegrityMismatch {
            field: IntegrityField::MimeType,
            actual,
            ..
        }) => {
            assert!(actual.contains("executable"), "{actual}");
        }
        other => panic!("an ELF declared as PDF gave {other:?}"),
    }
    assert_failed_and_removed(env, &disguised, "disguised").await;
}

/// Completing twice, or concurrently, yields one transition, one audit entry, one count.
pub async fn completion_is_idempotent(env: &ServiceEnv) {
    let user = UserId::new();
    let content = pdf_bytes(1000);
    let (case, file) = started(env, user, "twice.pdf", &content, None).await;
    env.client_upload(&file, &content).await;
    let (a, b) = futures::join!(
        env.service.complete_file_upload(user, file.id),
        env.service.complete_file_upload(user, file.id)
    );
    // One verification at a time: the concurrent one either finds it done or is told that a
    // completion is running; never a second transition.
    let (a, b) = match (a, b) {
        (Ok(a), Ok(b)) => (a, b),
        (Ok(done), Err(ServiceError::Conflict { reason }))
        | (Err(ServiceError::Conflict { reason }), Ok(done)) => {
            assert!(reason.contains("running"), "{reason}");
            (done.clone(), done)
        }
        other => panic!("concurrent completions gave {other:?}"),
    };
    assert_eq!(a.status, FileStatus::Completed);
    assert_eq!(a, b);
    let third = env
        .service
        .complete_file_upload(user, file.id)
        .await
        .expect("third");
    assert_eq!(third, a);
    let completions = env
        .actions(user, case.id)
        .await
        .iter()
        .filter(|a| **a == AuditAction::UploadCompleted)
        .count();
    assert_eq!(completions, 1);
    assert_eq!(
        env.service
            .get_case(user, case.id)
            .await
            .expect("case")
            .case
            .file_count,
        1
    );
}

/// User B with user A's case id or file id, on every operation: `NotFound`, exactly as for a
/// missing one, each refusal audited as denied with B as actor; A's data unchanged.
pub async fn other_users_are_refused_like_missing(env: &ServiceEnv) {
    let alice = UserId::new();
    let bob = UserId::new();
    let content = pdf_bytes(100);
    let (case, file) = started(env, alice, "secret.pdf", &content, None).await;
    env.client_upload(&file, &content).await;
    env.service
        .complete_file_upload(alice, file.id)
        .await
        .expect("complete");
    let missing_case = casefile_domain::legal::CaseId::new();
    let missing_file = FileId::new();

    let s = &env.service;
    let not_found = |r: Result<(), ServiceError>, what: &str| {
        assert!(
            matches!(r, Err(ServiceError::NotFound { .. })),
            "{what}: {r:?}"
        );
    };
    for case_id in [case.id, missing_case] {
        not_found(s.get_case(bob, case_id).await.map(drop), "get_case");
        not_found(
            s.init_file_upload(bob, case_id, declare("x.pdf", &content, None))
                .await
                .map(drop),
            "init",
        );
        not_found(
            s.upload_file(
                bob,
                case_id,
                declare("x.pdf", &content, None),
                data::once(content.clone()),
            )
            .await
            .map(drop),
            "upload",
        );
        not_found(
            s.list_case_files(bob, case_id, ListFiles::default())
                .await
                .map(drop),
            "list",
        );
        not_found(
            s.audit_trail(bob, case_id, Default::default())
                .await
                .map(drop),
            "audit trail",
        );
    }
    for file_id in [file.id, missing_file] {
        not_found(
            s.complete_file_upload(bob, file_id).await.map(drop),
            "complete",
        );
        not_found(s.download_file(bob, file_id).await.map(drop), "download");
        not_found(s.get_download_url(bob, file_id).await.map(drop), "url");
        not_found(s.delete_file(bob, file_id).await.map(drop), "delete");
    }
    assert!(
        s.list_cases(bob, ListCases::default())
            .await
            .expect("bob's cases")
            .cases
            .is_empty()
    );
    // Alice's case id is no cursor for bob.
    assert!(matches!(
        s.list_cases(
            bob,
            ListCases {
                cursor: Some(case.id.0.to_string()),
                limit: None
            }
        )
        .await,
        Err(ServiceError::InvalidInput {
            field: "cursor",
            ..
        })
    ));
    let denied: Vec<_> = env
        .all_audit()
        .await
        .into_iter()
        .filter(|e| e.actor == Some(bob) && e.action == AuditAction::AccessDenied)
        .collect();
    assert_eq!(denied.len(), 18, "every refusal is audited");
    assert!(denied.iter().all(|e| e.outcome == AuditOutcome::Denied));
    assert!(denied.iter().any(|e| e.case_id == Some(case.id)));
    assert!(denied.iter().any(|e| e.file_id == Some(file.id)));
    let after = s.get_case(alice, case.id).await.expect("alice's case");
    assert_eq!(after.case.file_count, 1);
    assert_eq!(
        env.repository
            .get_file(file.id)
            .await
            .expect("get")
            .expect("kept")
            .status,
        FileStatus::Completed
    );
}

/// Bad input is refused with the field named, before anything is recorded or stored.
pub async fn bad_input_is_refused_with_its_field(env: &ServiceEnv) {
    let user = UserId::new();
    let case = env.service.create_case(user, "Matter").await.expect("case");
    let before = env.all_audit().await.len();
    let content = pdf_bytes(10);
    let bad_paths = [
        "../x",
        "a/../../x",
        "/abs",
        "C:\\x",
        "a\\b",
        "a\0b",
        "a\rb",
        "a\nb",
        "．．／x",
        "",
        "a//b",
    ];
    let long_segment = "x".repeat(1000);
    for path in bad_paths.iter().copied().chain([long_segment.as_str()]) {
        match env
            .service
            .init_file_upload(user, case.id, declare(path, &content, None))
            .await
        {
            Err(ServiceError::InvalidInput {
                field: "logical_path",
                ..
            }) => {}
            other => panic!("{path:?} gave {other:?}"),
        }
    }
    let mut bad_hash = declare("ok.pdf", &content, None);
    bad_hash.content_hash = Some("abc".to_owned());
    assert!(matches!(
        env.service.init_file_upload(user, case.id, bad_hash).await,
        Err(ServiceError::InvalidInput {
            field: "content_hash",
            ..
        })
    ));
    let mut bad_mime = declare("ok.pdf", &content, None);
    bad_mime.mime_type = Some("pdf\r\nX: y".to_owned());
    assert!(matches!(
        env.service.init_file_upload(user, case.id, bad_mime).await,
        Err(ServiceError::InvalidInput {
            field: "mime_type",
            ..
        })
    ));
    let mut bad_name = declare("ok.pdf", &content, None);
    bad_name.file_name = Some("a\"b.pdf".to_owned());
    assert!(matches!(
        env.service.init_file_upload(user, case.id, bad_name).await,
        Err(ServiceError::InvalidInput {
            field: "file_name",
            ..
        })
    ));
    let mut too_large = declare("big.pdf", &content, None);
    too_large.file_size = env.service.config().max_file_size() + 1;
    assert!(matches!(
        env.service.init_file_upload(user, case.id, too_large).await,
        Err(ServiceError::TooLarge { .. })
    ));
    for title in ["", "   ", "a\nb"] {
        assert!(matches!(
            env.service.create_case(user, title).await,
            Err(ServiceError::InvalidInput { field: "title", .. })
        ));
    }
    assert_eq!(
        env.all_audit().await.len(),
        before,
        "refused input records nothing"
    );
    assert!(
        env.service
            .list_case_files(
                user,
                case.id,
                ListFiles {
                    limit: Some(0),
                    ..Default::default()
                }
            )
            .await
            .is_err()
    );
    let bad_cursor = ListFiles {
        cursor: Some("../x".into()),
        ..Default::default()
    };
    assert!(matches!(
        env.service.list_case_files(user, case.id, bad_cursor).await,
        Err(ServiceError::InvalidInput {
            field: "cursor",
            ..
        })
    ));
}

/// A live file holds its logical path: the same path again (also spelled in NFD) is a conflict,
/// until the pending upload's URL has expired.
pub async fn logical_path_conflicts(env: &ServiceEnv) {
    let user = UserId::new();
    let content = pdf_bytes(10);
    let (case, _) = started(env, user, "r\u{e9}sum\u{e9}.pdf", &content, None).await;
    let nfd = declare("re\u{301}sume\u{301}.pdf", &content, None);
    let err = env
        .service
        .init_file_upload(user, case.id, nfd.clone())
        .await
        .expect_err("same path");
    assert!(matches!(err, ServiceError::Conflict { .. }), "{err:?}");
    env.clock
        .advance(env.service.config().upload_url_expiry() + Duration::from_secs(1));
    let replacement = env
        .service
        .init_file_upload(user, case.id, nfd)
        .await
        .expect("stale upload superseded");
    assert_eq!(
        replacement.file.logical_path.as_str(),
        "r\u{e9}sum\u{e9}.pdf"
    );
}

/// Direct upload from a stream: verified as it passes; a wrong hash or a body longer or shorter
/// than declared is refused and leaves no object.
pub async fn direct_upload_from_a_stream(env: &ServiceEnv) {
    let user = UserId::new();
    let case = env.service.create_case(user, "Matter").await.expect("case");
    let content = pdf_bytes(300_000);
    let body = Box::pin(futures::stream::iter(
        content
            .chunks(7_777)
            .map(|c| Ok::<_, StorageError>(Bytes::copy_from_slice(c)))
            .collect::<Vec<_>>(),
    ));
    let file = env
        .service
        .upload_file(
            user,
            case.id,
            declare("direct/brief.pdf", &content, None),
            body,
        )
        .await
        .expect("direct upload");
    assert_eq!(file.status, FileStatus::Completed);
    let stored = env
        .storage
        .download(&file.storage_key)
        .await
        .expect("stored");
    assert!(stored == content);

    let mut wrong = declare("direct/wrong.pdf", &content, None);
    wrong.content_hash = Some(Sha256::digest(b"other").to_hex());
    let err = env
        .service
        .upload_file(user, case.id, wrong, data::once(content.clone()))
        .await
        .expect_err("wrong hash");
    assert_eq!(field_of(&err), Some(IntegrityField::Sha256), "{err:?}");

    let mut short_declared = declare("direct/long.pdf", &content, None);
    short_declared.file_size -= 10;
    let err = env
        .service
        .upload_file(user, case.id, short_declared, data::once(content.clone()))
        .await
        .expect_err("long body");
    assert_eq!(field_of(&err), Some(IntegrityField::Size), "{err:?}");

    let short_body = content.slice(..1000);
    let err = env
        .service
        .upload_file(
            user,
            case.id,
            declare("direct/short.pdf", &content, None),
            data::once(short_body),
        )
        .await
        .expect_err("short body");
    assert_eq!(field_of(&err), Some(IntegrityField::Size), "{err:?}");

    let page = env
        .service
        .list_case_files(user, case.id, ListFiles::default())
        .await
        .expect("list");
    assert_eq!(page.files.len(), 1, "only the verified upload is listed");
    env.assert_only_one_file(user, case.id, content.len() as u64)
        .await;
}

/// Direct upload without a declared SHA-256: the hash is computed as the bytes pass and recorded;
/// a presigned upload still needs one; a body of the wrong size, a taken path or content that
/// contradicts the declared type is refused and leaves no object.
pub async fn direct_upload_computes_the_hash(env: &ServiceEnv) {
    let user = UserId::new();
    let case = env.service.create_case(user, "Matter").await.expect("case");
    let content = pdf_bytes(200_000);
    let unhashed = |path: &str, content: &Bytes| {
        let mut request = declare(path, content, None);
        request.content_hash = None;
        request
    };

    let err = env
        .service
        .init_file_upload(user, case.id, unhashed("presigned.pdf", &content))
        .await
        .expect_err("presigned upload without a hash");
    assert!(
        matches!(
            err,
            ServiceError::InvalidInput {
                field: "content_hash",
                ..
            }
        ),
        "{err:?}"
    );

    let file = env
        .service
        .upload_file(
            user,
            case.id,
            unhashed("direct/brief.pdf", &content),
            data::chunked(content.clone(), 4_096),
        )
        .await
        .expect("direct upload without a hash");
    assert_eq!(file.status, FileStatus::Completed);
    assert_eq!(file.sha256, Sha256::digest(&content));
    assert_eq!(file.actual_size, Some(content.len() as u64));
    assert_eq!(file.mime_type, "application/pdf");
    let download = env
        .service
        .download_file(user, file.id)
        .await
        .expect("download");
    assert!(data::collect(download.body).await.expect("verified body") == content);

    let mut long = unhashed("direct/long.pdf", &content);
    long.file_size -= 1;
    let err = env
        .service
        .upload_file(user, case.id, long, data::once(content.clone()))
        .await
        .expect_err("longer than declared");
    assert_eq!(field_of(&err), Some(IntegrityField::Size), "{err:?}");

    let err = env
        .service
        .upload_file(
            user,
            case.id,
            unhashed("direct/short.pdf", &content),
            data::once(content.slice(..100)),
        )
        .await
        .expect_err("shorter than declared");
    assert_eq!(field_of(&err), Some(IntegrityField::Size), "{err:?}");

    let err = env
        .service
        .upload_file(
            user,
            case.id,
            unhashed("direct/brief.pdf", &content),
            data::once(content.clone()),
        )
        .await
        .expect_err("path taken");
    assert!(matches!(err, ServiceError::Conflict { .. }), "{err:?}");

    let text = Bytes::from_static(b"plain words, not a PDF at all");
    let err = env
        .service
        .upload_file(
            user,
            case.id,
            unhashed("direct/fake.pdf", &text),
            data::once(text.clone()),
        )
        .await
        .expect_err("content contradicts the declared type");
    assert_eq!(field_of(&err), Some(IntegrityField::MimeType), "{err:?}");

    let other = UserId::new();
    let err = env
        .service
        .upload_file(
            other,
            case.id,
            unhashed("direct/intruder.pdf", &content),
            data::once(content.clone()),
        )
        .await
        .expect_err("another user's case");
    assert!(
        matches!(err, ServiceError::NotFound { what: "case" }),
        "{err:?}"
    );

    env.assert_only_one_file(user, case.id, content.len() as u64)
        .await;
}

/// The audit trail reads a page at a time with a cursor, and the pages make up the whole trail;
/// a malformed or foreign cursor and a bad limit are `InvalidInput`.
pub async fn audit_trail_pages(env: &ServiceEnv) {
    use casefile_domain::legal::AuditTrailQuery;
    let user = UserId::new();
    let case = env.service.create_case(user, "Matter").await.expect("case");
    for _ in 0..6 {
        env.service
            .list_case_files(user, case.id, ListFiles::default())
            .await
            .expect("list");
    }
    let mut pages = 0;
    let mut read = Vec::new();
    let mut cursor = None;
    loop {
        let page = env
            .service
            .audit_trail(
                user,
                case.id,
                AuditTrailQuery {
                    cursor: cursor.take(),
                    limit: Some(3),
                },
            )
            .await
            .expect("page");
        assert!(page.entries.len() <= 3);
        pages += 1;
        read.extend(page.entries.into_iter().map(|e| (e.id, e.action)));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let whole: Vec<_> = env
        .repository
        .list_audit(&casefile_domain::legal::AuditQuery {
            case_id: Some(case.id),
            ..Default::default()
        })
        .await
        .expect("whole trail")
        .into_iter()
        .map(|e| (e.id, e.action))
        .collect();
    assert_eq!(whole.len(), 7, "created + six listings");
    assert_eq!(read, whole);
    assert_eq!(pages, 3);
    for (bad, field) in [
        (
            AuditTrailQuery {
                cursor: Some("not-a-cursor".into()),
                limit: None,
            },
            "cursor",
        ),
        (
            AuditTrailQuery {
                cursor: Some(uuid::Uuid::new_v4().to_string()),
                limit: None,
            },
            "cursor",
        ),
        (
            AuditTrailQuery {
                cursor: None,
                limit: Some(0),
            },
            "limit",
        ),
        (
            AuditTrailQuery {
                cursor: None,
                limit: Some(1001),
            },
            "limit",
        ),
    ] {
        let err = env
            .service
            .audit_trail(user, case.id, bad.clone())
            .await
            .expect_err("refused");
        assert!(
            matches!(&err, ServiceError::InvalidInput { field: f, .. } if *f == field),
            "{bad:?}: {err:?}"
        );
    }
}

/// Delete: gone from listing and downloads, statistics back, object removed, audited as deleted
/// then purged; a second delete is `NotFound`.
pub async fn delete_removes_and_audits(env: &ServiceEnv) {
    let user = UserId::new();
    let content = pdf_bytes(4096);
    let (case, file) = started(env, user, "to-delete.pdf", &content, None).await;
    env.client_upload(&file, &content).await;
    env.service
        .complete_file_upload(user, file.id)
        .await
        .expect("complete");
    env.service
        .delete_file(user, file.id)
        .await
        .expect("delete");
    assert_eq!(
        env.storage.head(&file.storage_key).await.expect("head"),
        None
    );
    let case_now = env.service.get_case(user, case.id).await.expect("case");
    assert_eq!(
        (case_now.case.file_count, case_now.case.total_size_bytes),
        (0, 0)
    );
    assert!(matches!(
        env.service.download_file(user, file.id).await,
        Err(ServiceError::NotFound { .. })
    ));
    assert!(matches!(
        env.service.delete_file(user, file.id).await,
        Err(ServiceError::NotFound { .. })
    ));
    let tail: Vec<AuditAction> = env
        .actions(user, case.id)
        .await
        .into_iter()
        .rev()
        .take(3)
        .collect();
    assert_eq!(
        tail,
        [
            AuditAction::CaseViewed,
            AuditAction::ObjectPurged,
            AuditAction::FileDeleted
        ]
    );
    assert_eq!(
        env.service.purge(100).await.expect("purge").purged,
        0,
        "nothing left to purge"
    );
}

/// Listing pages by cursor with no gap or duplicate, under a folder prefix.
pub async fn listing_pages(env: &ServiceEnv) {
    let user = UserId::new();
    let case = env.service.create_case(user, "Matter").await.expect("case");
    let mut expected = Vec::new();
    for i in 0..5 {
        let content = Bytes::from(format!("exhibit {i}"));
        let path = format!("exhibits/{i}.txt");
        env.service
            .upload_file(
                user,
                case.id,
                declare(&path, &content, Some("text/plain")),
                data::once(content.clone()),
            )
            .await
            .expect("upload");
        expected.push(path);
    }
    env.service
        .upload_file(
            user,
            case.id,
            declare("exhibits-other.txt", b"x", None),
            data::once(&b"x"[..]),
        )
        .await
        .expect("upload");
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let request = ListFiles {
            prefix: Some("exhibits/".into()),
            cursor,
            limit: Some(2),
            delimiter: false,
        };
        let page = env
            .service
            .list_case_files(user, case.id, request)
            .await
            .expect("page");
        pages += 1;
        seen.extend(page.files.iter().map(|f| f.logical_path.to_string()));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, expected);
}

/// A stored object altered after completion is caught on download: the stream ends with
/// `ChecksumMismatch` instead of passing the altered bytes off as the original.
pub async fn downloads_are_verified(env: &ServiceEnv) {
    let user = UserId::new();
    let content = pdf_bytes(2000);
    let (_, file) = started(env, user, "tampered.pdf", &content, None).await;
    env.client_upload(&file, &content).await;
    env.service
        .complete_file_upload(user, file.id)
        .await
        .expect("complete");
    let mut altered = content.to_vec();
    altered[100] ^= 1;
    env.tamper_stored(&file, &Bytes::from(altered)).await;
    let download = env
        .service
        .download_file(user, file.id)
        .await
        .expect("download starts");
    let result: Result<Vec<Bytes>, StorageError> = download.body.try_collect().await;
    assert!(
        matches!(result, Err(StorageError::ChecksumMismatch { .. })),
        "{result:?}"
    );
}

/// A file with no extension and no declared type is `application/octet-stream`; any content is
/// accepted for it.
pub async fn untyped_files(env: &ServiceEnv) {
    let user = UserId::new();
    let case = env.service.create_case(user, "Matter").await.expect("case");
    let content = data::random_bytes(9, 1000);
    let file = env
        .service
        .upload_file(
            user,
            case.id,
            declare("notes/README", &content, None),
            data::once(content.clone()),
        )
        .await
        .expect("upload");
    assert_eq!(file.mime_type, OCTET_STREAM);
}

/// #13.2: the upload URL writes a staging key; completion copies the verified bytes where no URL
/// reaches. Sending other bytes to the same URL after completion (or after a delete) changes
/// nothing that is served, and purge sweeps what was sent.
pub async fn upload_grant_is_spent_by_completion(env: &ServiceEnv) {
    let user = UserId::new();
    let content = pdf_bytes(3000);
    let (_, file) = started(env, user, "evidence.pdf", &content, None).await;
    let staging = LegalFileService::staging_key(file.case_id, file.id);
    assert_ne!(
        staging, file.storage_key,
        "the grant never names the verified key"
    );
    env.client_upload(&file, &content).await;
    env.service
        .complete_file_upload(user, file.id)
        .await
        .expect("complete");
    assert!(
        !env.storage.exists(&staging).await.expect("exists"),
        "completion removes the staging object"
    );
    // The grant replayed with other bytes of the same length.
    let mut swapped = content.to_vec();
    swapped[10] ^= 0x20;
    env.client_upload(&file, &Bytes::from(swapped)).await;
    let download = env
        .service
        .download_file(user, file.id)
        .await
        .expect("download");
    let got: Vec<Bytes> = download.body.try_collect().await.expect("verified");
    assert!(got.concat() == content, "the verified bytes are served");
    let report = env.service.purge(100).await.expect("purge");
    assert_eq!(report.staging_swept, 1, "{report:?}");
    assert!(!env.storage.exists(&staging).await.expect("exists"));
    // After a delete, bytes sent to the URL are swept as well.
    let (_, other) = started(env, user, "other.pdf", &content, None).await;
    env.service
        .delete_file(user, other.id)
        .await
        .expect("delete");
    env.client_upload(&other, &content).await;
    let report = env.service.purge(100).await.expect("purge");
    assert_eq!(report.staging_swept, 1, "{report:?}");
    assert!(
        !env.storage
            .exists(&LegalFileService::staging_key(other.case_id, other.id))
            .await
            .expect("exists")
    );
}

/// #13.3: a pending upload older than its URL is marked failed by purge (audited
/// `upload_expired`) and whatever was sent for it removed; a fresh one is left alone.
pub async fn expired_pending_uploads_are_failed_and_purged(env: &ServiceEnv) {
    let user = UserId::new();
    let content = pdf_bytes(500);
    let (case, stale) = started(env, user, "stale.pdf", &content, None).await;
    env.client_upload(&stale, &content).await;
    env.clock
        .advance(env.service.config().upload_url_expiry() + Duration::from_secs(1));
    let fresh_content = pdf_bytes(501);
    let (_, fresh) = started(env, user, "fresh.pdf", &fresh_content, None).await;
    let report = env.service.purge(100).await.expect("purge");
    assert_eq!(report.expired, 1, "{report:?}");
    let stale_now = env
        .repository
        .get_file(stale.id)
        .await
        .expect("get")
        .expect("kept");
    assert_eq!(stale_now.status, FileStatus::Failed);
    assert!(stale_now.purged_at.is_some(), "its bytes are purged");
    assert!(
        !env.storage
            .exists(&LegalFileService::staging_key(stale.case_id, stale.id))
            .await
            .expect("exists")
    );
    let fresh_now = env
        .repository
        .get_file(fresh.id)
        .await
        .expect("get")
        .expect("kept");
    assert_eq!(fresh_now.status, FileStatus::Pending);
    assert!(
        env.actions(user, case.id)
            .await
            .contains(&AuditAction::UploadExpired)
    );
    // Completing an expired upload is refused.
    assert!(matches!(
        env.service.complete_file_upload(user, stale.id).await,
        Err(ServiceError::Conflict { .. })
    ));
}

/// #13.8: someone probing another user's file id is recorded on that file's case, where its
/// owner reads it.
pub async fn probes_of_a_file_are_audited_on_its_case(env: &ServiceEnv) {
    let alice = UserId::new();
    let mallory = UserId::new();
    let content = pdf_bytes(100);
    let (case, file) = started(env, alice, "privileged.pdf", &content, None).await;
    assert!(matches!(
        env.service.get_file(mallory, file.id).await,
        Err(ServiceError::NotFound { .. })
    ));
    let trail = env
        .service
        .audit_trail(alice, case.id, Default::default())
        .await
        .expect("trail");
    assert!(
        trail
            .entries
            .iter()
            .any(|e| e.action == AuditAction::AccessDenied
                && e.actor == Some(mallory)
                && e.file_id == Some(file.id)),
        "{:?}",
        trail.entries
    );
}

/// #13.3: a cap on open uploads, per case and per user; what expires stops counting, and a
/// refused start records nothing.
pub async fn open_uploads_are_capped(env: &ServiceEnv) {
    let config = ServiceConfig::default()
        .with_open_upload_caps(3, 2)
        .expect("caps");
    let service = LegalFileService::new(
        env.storage.clone(),
        env.repository.clone(),
        env.clock.clone(),
        config,
    );
    let alice = UserId::new();
    let case = service.create_case(alice, "Matter").await.expect("case");
    let other = service.create_case(alice, "Other").await.expect("case");
    let content = pdf_bytes(100);
    let start =
        |case, path: &str| service.init_file_upload(alice, case, declare(path, &content, None));
    start(case.id, "a1.pdf").await.expect("first");
    start(case.id, "a2.pdf").await.expect("second");
    let err = start(case.id, "a3.pdf")
        .await
        .expect_err("a third open upload in the case");
    assert!(
        matches!(
            err,
            ServiceError::TooManyOpenUploads {
                scope: "in this case",
                limit: 2
            }
        ),
        "{err:?}"
    );
    start(other.id, "a4.pdf").await.expect("another case");
    let err = start(other.id, "a5.pdf")
        .await
        .expect_err("a fourth open upload of alice's");
    assert!(
        matches!(
            err,
            ServiceError::TooManyOpenUploads {
                scope: "by this user",
                limit: 3
            }
        ),
        "{err:?}"
    );
    // A direct upload counts the same, and is refused before a byte moves.
    let err = service
        .upload_file(
            alice,
            other.id,
            declare("a6.pdf", &content, None),
            data::once(content.clone()),
        )
        .await
        .expect_err("direct upload over the cap");
    assert!(
        matches!(err, ServiceError::TooManyOpenUploads { .. }),
        "{err:?}"
    );
    let trail = env.actions(alice, other.id).await;
    assert_eq!(
        trail
            .iter()
            .filter(|a| **a == AuditAction::UploadInitiated)
            .count(),
        1,
        "refused starts record no upload: {trail:?}"
    );
    // Expired uploads no longer count.
    env.clock
        .advance(config.upload_url_expiry() + Duration::from_secs(1));
    start(case.id, "a7.pdf").await.expect("after expiry");
}

/// #13.3: a delete while a direct upload's bytes are still arriving: the upload is refused
/// (409) and no byte stays in the store, under the final or the staging key.
pub async fn delete_racing_a_streaming_upload_leaves_no_bytes(env: &ServiceEnv) {
    let user = UserId::new();
    let case = env.service.create_case(user, "Matter").await.expect("case");
    let content = pdf_bytes(200_000);
    let (release, released) = futures::channel::oneshot::channel::<()>();
    let first = content.slice(..10_000);
    let rest = content.slice(10_000..);
    let body: casefile_domain::storage::ByteStream = Box::pin(futures::StreamExt::chain(
        futures::stream::once(async move { Ok::<_, StorageError>(first) }),
        futures::stream::once(async move {
            let _ = released.await;
            Ok::<_, StorageError>(rest)
        }),
    ));
    let service = env.service.clone();
    let upload = tokio::spawn(async move {
        service
            .upload_file(
                user,
                case.id,
                declare("race/brief.pdf", &content, None),
                body,
            )
            .await
    });
    // The pending file is recorded before the first byte moves.
    let far = crate::repository::now() + chrono::Duration::days(365);
    let pending = loop {
        let found = env
            .repository
            .stale_pending_files(far, 10)
            .await
            .expect("pending");
        if let Some(file) = found.into_iter().find(|f| f.case_id == case.id) {
            break file;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    env.service
        .delete_file(user, pending.id)
        .await
        .expect("delete of the upload in flight");
    // A purge between the delete and the last byte finds nothing to remove yet.
    env.service.purge(100).await.expect("purge");
    let _ = release.send(());
    let err = upload
        .await
        .expect("upload task")
        .expect_err("an upload deleted in flight");
    assert!(matches!(err, ServiceError::Conflict { .. }), "{err:?}");
    for key in [
        pending.storage_key.clone(),
        LegalFileService::staging_key(case.id, pending.id),
    ] {
        assert!(
            !env.storage.exists(&key).await.expect("exists"),
            "{key} left behind"
        );
    }
    let now = env
        .repository
        .get_file(pending.id)
        .await
        .expect("get")
        .expect("kept");
    assert_eq!(now.status, FileStatus::Deleted);
    let stats = env.service.get_case(user, case.id).await.expect("case");
    assert_eq!((stats.case.file_count, stats.case.total_size_bytes), (0, 0));
}

/// What an operation gave a caller, in the three ways the authorization decision can go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Allowed,
    Forbidden,
    NotFound,
}

fn outcome<T: std::fmt::Debug>(r: Result<T, ServiceError>, what: &str) -> Outcome {
    match r {
        Ok(_) => Outcome::Allowed,
        Err(ServiceError::Forbidden { .. }) => Outcome::Forbidden,
        Err(ServiceError::NotFound { .. }) => Outcome::NotFound,
        Err(e) => panic!("{what}: unexpected {e:?}"),
    }
}

/// Every operation of the service × every role × a non-member: allowed, 403 `Forbidden` or
/// 404 `NotFound` exactly as [`Role::allows`](casefile_domain::legal::Role::allows) says, each
/// refusal audited as denied on the case, and nothing changed by a refused call.
pub async fn roles_decide_every_operation(env: &ServiceEnv) {
    use Outcome::{Allowed as A, Forbidden as F, NotFound as N};
    use casefile_domain::legal::Role;
    let s = &env.service;
    let owner = UserId::new();
    let case = s.create_case(owner, "Matter").await.expect("case");
    let content = pdf_bytes(64);
    let member_of = |role: Role| async move {
        let user = UserId::new();
        s.set_member(owner, case.id, user, role).await.expect("add");
        user
    };
    let actors = [
        ("owner", owner),
        ("editor", member_of(Role::Editor).await),
        ("viewer", member_of(Role::Viewer).await),
        ("auditor", member_of(Role::Auditor).await),
        ("stranger", UserId::new()),
    ];
    let upload = |path: String| {
        let content = content.clone();
        async move {
            s.upload_file(
                owner,
                case.id,
                declare(&path, &content, None),
                data::once(content.clone()),
            )
            .await
            .expect("owner's upload")
        }
    };
    let shared = upload("shared.pdf".into()).await;
    // Expected outcome per operation, for owner, editor, viewer, auditor, stranger.
    let table: [(&str, [Outcome; 5]); 13] = [
        ("get case", [A, A, A, A, N]),
        ("list files", [A, A, A, A, N]),
        ("get file", [A, A, A, A, N]),
        ("download", [A, A, A, F, N]),
        ("download url", [A, A, A, F, N]),
        ("init upload", [A, A, F, F, N]),
        ("direct upload", [A, A, F, F, N]),
        ("complete", [A, A, F, F, N]),
        ("delete file", [A, A, F, F, N]),
        ("audit trail", [A, F, F, A, N]),
        ("list members", [A, A, A, A, N]),
        ("set member", [A, F, F, F, N]),
        ("remove member", [A, F, F, F, N]),
    ];
    let denied_before = env
        .all_audit()
        .await
        .iter()
        .filter(|e| e.outcome == AuditOutcome::Denied)
        .count();
    let mut refusals = 0;
    for (op, expected) in table {
        for ((name, user), want) in actors.iter().zip(expected) {
            let path = format!("{op}/{name}.pdf").replace(' ', "-");
            let got = match op {
                "get case" => outcome(s.get_case(*user, case.id).await, op),
                "list files" => outcome(
                    s.list_case_files(*user, case.id, ListFiles::default())
                        .await,
                    op,
                ),
                "get file" => outcome(s.get_file(*user, shared.id).await, op),
                "download" => match s.download_file(*user, shared.id).await {
                    Ok(d) => {
                        let body: Vec<Bytes> = d.body.try_collect().await.expect("verified body");
                        assert_eq!(body.concat(), content.to_vec());
                        A
                    }
                    Err(e) => outcome::<()>(Err(e), op),
                },
                "download url" => outcome(s.get_download_url(*user, shared.id).await, op),
                "init upload" => outcome(
                    s.init_file_upload(*user, case.id, declare(&path, &content, None))
                        .await,
                    op,
                ),
                "direct upload" => outcome(
                    s.upload_file(
                        *user,
                        case.id,
                        declare(&path, &content, None),
                        data::once(content.clone()),
                    )
                    .await,
                    op,
                ),
                "complete" => {
                    let pending = s
                        .init_file_upload(owner, case.id, declare(&path, &content, None))
                        .await
                        .expect("owner's init")
                        .file;
                    env.client_upload(&pending, &content).await;
                    outcome(s.complete_file_upload(*user, pending.id).await, op)
                }
                "delete file" => {
                    let file = upload(path.clone()).await;
                    let got = outcome(s.delete_file(*user, file.id).await, op);
                    let now = env.repository.get_file(file.id).await.expect("get");
                    let status = now.expect("kept").status;
                    assert_eq!(
                        status == FileStatus::Deleted,
                        got == A,
                        "{op} as {name}: deleted only when allowed"
                    );
                    got
                }
                "audit trail" => {
                    outcome(s.audit_trail(*user, case.id, Default::default()).await, op)
                }
                "list members" => outcome(s.list_members(*user, case.id).await, op),
                "set member" => {
                    let newcomer = UserId::new();
                    let got = outcome(
                        s.set_member(*user, case.id, newcomer, Role::Viewer).await,
                        op,
                    );
                    let listed = s.list_members(owner, case.id).await.expect("members");
                    assert_eq!(
                        listed.iter().any(|m| m.user_id == newcomer),
                        got == A,
                        "{op} as {name}: added only when allowed"
                    );
                    got
                }
                "remove member" => {
                    let leaving = member_of(Role::Viewer).await;
                    let got = outcome(s.remove_member(*user, case.id, leaving).await, op);
                    let listed = s.list_members(owner, case.id).await.expect("members");
                    assert_eq!(
                        listed.iter().any(|m| m.user_id == leaving),
                        got != A,
                        "{op} as {name}: removed only when allowed"
                    );
                    got
                }
                other => unreachable!("{other}"),
            };
            assert_eq!(got, want, "{op} as {name}");
            if got != A {
                refusals += 1;
            }
        }
    }
    let denied: Vec<_> = env
        .all_audit()
        .await
        .into_iter()
        .filter(|e| e.outcome == AuditOutcome::Denied)
        .collect();
    assert_eq!(
        denied.len() - denied_before,
        refusals,
        "every refusal audited"
    );
    assert!(
        denied
            .iter()
            .all(|e| e.action == AuditAction::AccessDenied && e.case_id == Some(case.id)),
        "recorded on the case, where its owners and auditors read them"
    );
}

/// Membership rules: the creator is the owner; a role changes (audited with old and new) and
/// setting the same role again writes nothing; a case always keeps an owner; a removed member
/// loses access at once; the case list shows each member's role.
pub async fn membership_rules(env: &ServiceEnv) {
    use casefile_domain::legal::Role;
    let s = &env.service;
    let alice = UserId::new();
    let bob = UserId::new();
    let case = s.create_case(alice, "Matter").await.expect("case");
    let members = s.list_members(alice, case.id).await.expect("members");
    assert_eq!(
        members
            .iter()
            .map(|m| (m.user_id, m.role))
            .collect::<Vec<_>>(),
        vec![(alice, Role::Owner)]
    );
    let conflict = |r: Result<(), ServiceError>, what: &str| {
        assert!(
            matches!(r, Err(ServiceError::Conflict { .. })),
            "{what}: {r:?}"
        );
    };
    conflict(
        s.set_member(alice, case.id, alice, Role::Editor)
            .await
            .map(drop),
        "demoting the last owner",
    );
    conflict(
        s.remove_member(alice, case.id, alice).await,
        "removing the last owner",
    );
    let added = s
        .set_member(alice, case.id, bob, Role::Viewer)
        .await
        .expect("add");
    assert_eq!((added.role, added.granted_by), (Role::Viewer, Some(alice)));
    let listed = s
        .list_cases(bob, ListCases::default())
        .await
        .expect("bob's cases");
    assert_eq!(
        listed
            .cases
            .iter()
            .map(|c| (c.case.id, c.role))
            .collect::<Vec<_>>(),
        vec![(case.id, Role::Viewer)]
    );
    let audit_len = env.all_audit().await.len();
    s.set_member(alice, case.id, bob, Role::Viewer)
        .await
        .expect("same role");
    let after = env.all_audit().await;
    assert_eq!(
        after
            .iter()
            .filter(|e| e.action == AuditAction::MemberRoleChanged)
            .count(),
        0,
        "setting the same role changes nothing"
    );
    assert!(after.len() <= audit_len + 1);
    s.set_member(alice, case.id, bob, Role::Owner)
        .await
        .expect("promote");
    let changed: Vec<_> = env
        .all_audit()
        .await
        .into_iter()
        .filter(|e| e.action == AuditAction::MemberRoleChanged)
        .collect();
    assert_eq!(changed.len(), 1);
    let details = changed[0].details.clone().unwrap_or_default();
    assert!(
        details.contains(&bob.to_string()) && details.contains("viewer -> owner"),
        "{details}"
    );
    assert_eq!(changed[0].actor, Some(alice));
    // Two owners: either may now step down, but not both.
    s.set_member(bob, case.id, alice, Role::Auditor)
        .await
        .expect("demote alice");
    conflict(
        s.remove_member(bob, case.id, bob).await,
        "the last owner again",
    );
    s.remove_member(bob, case.id, alice)
        .await
        .expect("remove alice");
    assert!(matches!(
        s.get_case(alice, case.id).await,
        Err(ServiceError::NotFound { .. })
    ));
    assert!(matches!(
        s.remove_member(bob, case.id, alice).await,
        Err(ServiceError::NotFound { what: "member" })
    ));
    let trail: Vec<_> = env
        .all_audit()
        .await
        .into_iter()
        .filter(|e| e.case_id == Some(case.id))
        .map(|e| e.action)
        .collect();
    for action in [
        AuditAction::MemberAdded,
        AuditAction::MemberRoleChanged,
        AuditAction::MemberRemoved,
        AuditAction::MembersListed,
    ] {
        assert!(trail.contains(&action), "{action:?} audited");
    }
    // A profile from the identity provider shows in member lists.
    s.remember_user(
        bob,
        &casefile_domain::legal::UserProfile {
            display_name: Some("Bob Counsel".into()),
            email: Some("bob@firm.example".into()),
        },
    )
    .await
    .expect("remember");
    let members = s.list_members(bob, case.id).await.expect("members");
    let bob_listed = members.iter().find(|m| m.user_id == bob).expect("bob");
    let profile = bob_listed.profile.clone().expect("profile");
    assert_eq!(profile.display_name.as_deref(), Some("Bob Counsel"));
    assert_eq!(profile.email.as_deref(), Some("bob@firm.example"));
}

/// Legal holds through the service: owners place and release, every member reads; a held file's
/// delete is refused with [`ServiceError::Held`] naming the holds, audited `delete_refused`, and
/// its bytes stay; two holds are counted; purge leaves held bytes alone; retention is set in the
/// future, extended, never shortened, and refuses deletes with [`ServiceError::Retained`].
pub async fn holds_preserve_files(env: &ServiceEnv) {
    use casefile_domain::legal::{HoldScope, NewHold, Role};
    let s = &env.service;
    let owner = UserId::new();
    let editor = UserId::new();
    let viewer = UserId::new();
    let case = s.create_case(owner, "Matter").await.expect("case");
    s.set_member(owner, case.id, editor, Role::Editor)
        .await
        .expect("editor");
    s.set_member(owner, case.id, viewer, Role::Viewer)
        .await
        .expect("viewer");
    let content = pdf_bytes(32);
    let upload = |path: &'static str| {
        let content = content.clone();
        async move {
            s.upload_file(
                owner,
                case.id,
                declare(path, &content, None),
                data::once(content.clone()),
            )
            .await
            .expect("upload")
        }
    };
    let brief = upload("pleadings/brief.pdf").await;
    let request = |name: &str, scope| NewHold {
        name: name.to_owned(),
        reason: "litigation anticipated".to_owned(),
        scope,
    };
    let forbidden = s.place_hold(editor, case.id, request("x", None)).await;
    assert!(
        matches!(forbidden, Err(ServiceError::Forbidden { .. })),
        "{forbidden:?}"
    );
    let empty = s.place_hold(owner, case.id, request("  ", None)).await;
    assert!(
        matches!(empty, Err(ServiceError::InvalidInput { field: "name", .. })),
        "{empty:?}"
    );
    let first = s
        .place_hold(owner, case.id, request("Doe v. Roe", None))
        .await
        .expect("hold");
    // Holds list in the order they were placed.
    env.clock.advance(Duration::from_secs(1));
    let second = s
        .place_hold(
            owner,
            case.id,
            request(
                "Subpoena 7",
                Some(HoldScope::Prefix {
                    prefix: "pleadings/".into(),
                }),
            ),
        )
        .await
        .expect("hold");
    let listed = s
        .list_holds(viewer, case.id)
        .await
        .expect("viewers read holds");
    assert_eq!(
        listed.iter().map(|h| h.id).collect::<Vec<_>>(),
        vec![first.id, second.id]
    );

    let refused = s.delete_file(editor, brief.id).await;
    match refused {
        Err(ServiceError::Held { holds }) => assert_eq!(holds, vec![first.id, second.id]),
        other => panic!("expected Held, got {other:?}"),
    }
    let kept = env
        .repository
        .get_file(brief.id)
        .await
        .expect("get")
        .expect("kept");
    assert_eq!(kept.status, FileStatus::Completed);
    assert!(
        env.storage
            .head(&brief.storage_key)
            .await
            .expect("head")
            .is_some(),
        "bytes kept"
    );
    let refusals = env
        .all_audit()
        .await
        .into_iter()
        .filter(|e| e.action == AuditAction::DeleteRefused && e.file_id == Some(brief.id))
        .count();
    assert_eq!(refusals, 1);

    s.release_hold(owner, first.id, "settled")
        .await
        .expect("release");
    let again = s.release_hold(owner, first.id, "settled").await;
    assert!(
        matches!(again, Err(ServiceError::Conflict { .. })),
        "{again:?}"
    );
    assert!(
        matches!(
            s.delete_file(owner, brief.id).await,
            Err(ServiceError::Held { .. })
        ),
        "counted"
    );
    let by_editor = s.release_hold(editor, second.id, "done").await;
    assert!(
        matches!(by_editor, Err(ServiceError::Forbidden { .. })),
        "{by_editor:?}"
    );
    let by_stranger = s.release_hold(UserId::new(), second.id, "done").await;
    assert!(
        matches!(by_stranger, Err(ServiceError::NotFound { .. })),
        "{by_stranger:?}"
    );
    s.release_hold(owner, second.id, "done")
        .await
        .expect("release");
    s.delete_file(editor, brief.id)
        .await
        .expect("nothing holds it now");

    // Retention.
    let memo = upload("notes/memo.pdf").await;
    let now = env.clock.now();
    let past = s
        .set_retention(owner, case.id, now - chrono::Duration::days(1))
        .await;
    assert!(
        matches!(past, Err(ServiceError::InvalidInput { .. })),
        "{past:?}"
    );
    let until = now + chrono::Duration::days(365);
    let set = s
        .set_retention(owner, case.id, until)
        .await
        .expect("retention");
    assert_eq!(set.case.retain_until, Some(until));
    let shorter = s
        .set_retention(owner, case.id, until - chrono::Duration::days(1))
        .await;
    assert!(
        matches!(shorter, Err(ServiceError::Conflict { .. })),
        "{shorter:?}"
    );
    match s.delete_file(owner, memo.id).await {
        Err(ServiceError::Retained { until: u }) => assert_eq!(u, until),
        other => panic!("expected Retained, got {other:?}"),
    }
    let protection = s.protection(&memo).await.expect("protection");
    assert_eq!(protection.retain_until, Some(until));
    // Purge never touches protected bytes.
    s.purge(1000).await.expect("purge");
    assert!(
        env.storage
            .head(&memo.storage_key)
            .await
            .expect("head")
            .is_some()
    );
}

/// Fixity on this store: a scrub names a replaced and a deleted object (each audited once, the
/// run once), reconcile finds the missing object and a stray one, and an export's natives are
/// verified as they stream (the replaced one fails before its end).
pub async fn scrub_reconcile_and_export_through_the_port(env: &ServiceEnv) {
    let count =
        |actions: Vec<AuditAction>, a: AuditAction| actions.into_iter().filter(|x| *x == a).count();
    use casefile_domain::legal::fixity::{FixityOutcome, ScrubOptions};
    let user = UserId::new();
    let case = env.service.create_case(user, "Matter").await.expect("case");
    let mut files = Vec::new();
    for (i, path) in ["a.pdf", "b.pdf", "c.pdf"].iter().enumerate() {
        let content = pdf_bytes(1000 + i);
        let file = env
            .service
            .init_file_upload(user, case.id, declare(path, &content, None))
            .await
            .expect("init")
            .file;
        env.client_upload(&file, &content).await;
        let done = env
            .service
            .complete_file_upload(user, file.id)
            .await
            .expect("complete");
        files.push((done, content));
    }
    let options = ScrubOptions {
        case_id: Some(case.id),
        jobs: 2,
        ..ScrubOptions::default()
    };
    let clean = env
        .service
        .scrub(options.clone(), &|_| {})
        .await
        .expect("scrub");
    assert!(clean.clean(), "{clean:?}");
    assert_eq!(
        (clean.checked, clean.bytes),
        (3, files.iter().map(|(_, c)| c.len() as u64).sum())
    );

    let mut altered = files[1].1.to_vec();
    altered[500] ^= 1;
    env.tamper_stored(&files[1].0, &Bytes::from(altered)).await;
    env.storage
        .delete(&files[2].0.storage_key)
        .await
        .expect("delete behind our back");
    env.clock.advance(Duration::from_secs(1));
    let found = env.service.scrub(options, &|_| {}).await.expect("scrub");
    assert_eq!(
        (found.checked, found.failed, found.errors),
        (3, 2, 0),
        "{found:?}"
    );
    let outcome = |id: FileId| {
        found
            .failures
            .iter()
            .find(|f| f.file_id == id)
            .and_then(|f| f.outcome)
    };
    assert_eq!(outcome(files[1].0.id), Some(FixityOutcome::Mismatch));
    assert_eq!(outcome(files[2].0.id), Some(FixityOutcome::Missing));
    let record = env
        .repository
        .fixity_of(files[0].0.id)
        .await
        .expect("fixity")
        .expect("kept");
    assert_eq!(record.outcome, FixityOutcome::Ok);
    assert_eq!(
        count(env.actions(user, case.id).await, AuditAction::FixityFailed),
        2
    );
    assert_eq!(
        count(
            env.actions(user, case.id).await,
            AuditAction::ScrubCompleted
        ),
        2
    );

    let stray = casefile_domain::storage::ObjectKey::new("cases/stray.bin").expect("key");
    env.storage
        .upload(&stray, Bytes::from_static(b"stray"), PutOptions::default())
        .await
        .expect("stray");
    let report = env
        .service
        .reconcile_storage(false)
        .await
        .expect("reconcile");
    assert_eq!(
        report
            .unrecorded
            .iter()
            .map(|o| o.key.as_str())
            .collect::<Vec<_>>(),
        vec!["cases/stray.bin"],
        "{report:?}"
    );
    assert_eq!(
        report.missing.iter().map(|m| m.file_id).collect::<Vec<_>>(),
        vec![files[2].0.id]
    );
    assert!(report.garbage.is_empty(), "{report:?}");
    assert_eq!(report.records, 3);

    let export = env
        .service
        .begin_export(Some(user), case.id, "a test")
        .await
        .expect("export");
    assert!(
        export.include_audit,
        "the owner's export carries the audit trail"
    );
    let listed = env
        .service
        .export_files(&export, None)
        .await
        .expect("files");
    assert_eq!(listed.len(), 3);
    let intact: Vec<Bytes> = env
        .service
        .export_native(&export, &files[0].0)
        .await
        .expect("native")
        .try_collect()
        .await
        .expect("intact bytes");
    assert_eq!(intact.concat(), files[0].1.to_vec());
    let replaced: Result<Vec<Bytes>, StorageError> = env
        .service
        .export_native(&export, &files[1].0)
        .await
        .expect("native")
        .try_collect()
        .await;
    assert!(
        matches!(replaced, Err(StorageError::ChecksumMismatch { .. })),
        "{replaced:?}"
    );
    assert_eq!(
        count(env.actions(user, case.id).await, AuditAction::FixityFailed),
        3,
        "the export's too"
    );
    assert_eq!(
        count(env.actions(user, case.id).await, AuditAction::CaseExported),
        1
    );
}

/// Generates one `#[tokio::test]` per service case. `$env` is an async expression yielding a
/// [`ServiceEnv`] (or a value that derefs to one).
#[macro_export]
macro_rules! service_flow_tests {
    ($env:expr) => {
        mod service_flow {
            #[allow(unused_imports)]
            use super::*;
            $crate::service_flow_tests!(@cases $env;
                two_phase_upload, completion_verifies_everything, completion_is_idempotent,
                other_users_are_refused_like_missing, bad_input_is_refused_with_its_field,
                logical_path_conflicts, direct_upload_from_a_stream, direct_upload_computes_the_hash,
                audit_trail_pages, delete_removes_and_audits,
                listing_pages, downloads_are_verified, untyped_files,
                upload_grant_is_spent_by_completion, expired_pending_uploads_are_failed_and_purged,
                probes_of_a_file_are_audited_on_its_case, open_uploads_are_capped,
                delete_racing_a_streaming_upload_leaves_no_bytes, roles_decide_every_operation,
                membership_rules, holds_preserve_files,
                scrub_reconcile_and_export_through_the_port);
        }
    };
    (@cases $env:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let env = $env.await;
                $crate::service::$case(&env).await;
            }
        )*
    };
}
