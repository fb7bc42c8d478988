//! S3 Object Lock against moto server (which enforces legal holds and retention; s3s-fs answers
//! 501 to these calls): `cargo xtask test` starts it and sets `CASEFILE_TEST_S3_LOCK_ENDPOINT`.
//! What is proven is what the cloud itself refuses: a delete of the held object version, sent
//! straight through the SDK, not through casefile.

use bytes::Bytes;
use casefile_domain::StorageError;
use casefile_domain::storage::{ObjectKey, ObjectStorage, PutOptions, RetentionMode};
use casefile_storage_s3::S3Storage;

use crate::common::{REGION, credentials};

fn lock_endpoint() -> String {
    std::env::var("CASEFILE_TEST_S3_LOCK_ENDPOINT").expect(
        "CASEFILE_TEST_S3_LOCK_ENDPOINT is not set: run the tests with `cargo xtask test`, which starts moto server",
    )
}

fn client() -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new(REGION))
        .endpoint_url(lock_endpoint())
        .force_path_style(true)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "casefile-test-access",
            "casefile-test-secret-key-0123456789",
            None,
            None,
            "test",
        ))
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// A store on a fresh Object Lock bucket of moto's, and an SDK client of the same server.
async fn locked_storage(mode: Option<RetentionMode>) -> (S3Storage, aws_sdk_s3::Client, String) {
    let bucket = format!("casefile-lock-{}", uuid::Uuid::new_v4().simple());
    let client = client();
    client
        .create_bucket()
        .bucket(&bucket)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .expect("an Object Lock bucket on moto");
    let mut builder = S3Storage::builder(&bucket)
        .with_endpoint(lock_endpoint())
        .with_region(REGION)
        .with_path_style(true)
        .with_credentials(credentials());
    if let Some(mode) = mode {
        builder = builder.with_object_lock(mode);
    }
    let storage = builder.build().await.expect("S3 storage against moto");
    (storage, client, bucket)
}

async fn version_of(client: &aws_sdk_s3::Client, bucket: &str, key: &ObjectKey) -> String {
    client
        .head_object()
        .bucket(bucket)
        .key(key.as_str())
        .send()
        .await
        .expect("head")
        .version_id()
        .expect("a versioned bucket")
        .to_owned()
}

async fn delete_version(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &ObjectKey,
    version: &str,
) -> Result<(), String> {
    client
        .delete_object()
        .bucket(bucket)
        .key(key.as_str())
        .version_id(version)
        .send()
        .await
        .map(drop)
        .map_err(|e| format!("{:?}", e.into_service_error()))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_object_version_cannot_be_deleted_through_the_sdk() {
    let (storage, client, bucket) = locked_storage(Some(RetentionMode::Governance)).await;
    assert!(storage.capabilities().legal_hold && storage.capabilities().retention);
    let key = ObjectKey::new("cases/a/files/evidence").unwrap();
    // An Object Lock bucket takes the adapter's uploads (which carry their checksums).
    let stored = storage
        .upload(
            &key,
            Bytes::from_static(b"%PDF-1.7\nevidence"),
            PutOptions::default(),
        )
        .await
        .expect("upload to an Object Lock bucket");
    assert_eq!(stored.size, 17);
    assert!(!storage.legal_hold(&key).await.expect("read the hold"));
    storage.set_legal_hold(&key, true).await.expect("hold on");
    assert!(storage.legal_hold(&key).await.expect("read the hold"));
    let version = version_of(&client, &bucket, &key).await;
    let refused = delete_version(&client, &bucket, &key, &version).await;
    assert!(refused.is_err(), "the cloud refuses while held");
    assert_eq!(
        storage.download(&key).await.expect("still there").as_ref(),
        b"%PDF-1.7\nevidence"
    );
    storage.set_legal_hold(&key, false).await.expect("hold off");
    assert!(!storage.legal_hold(&key).await.expect("read the hold"));
    delete_version(&client, &bucket, &key, &version)
        .await
        .expect("released: the cloud deletes it");
    let missing = ObjectKey::new("cases/a/files/never-stored").unwrap();
    assert!(matches!(
        storage.legal_hold(&missing).await,
        Err(StorageError::NotFound { .. })
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retained_object_version_cannot_be_deleted_through_the_sdk() {
    let (storage, client, bucket) = locked_storage(Some(RetentionMode::Governance)).await;
    let key = ObjectKey::new("cases/a/files/retained").unwrap();
    storage
        .upload(&key, Bytes::from_static(b"kept"), PutOptions::default())
        .await
        .expect("upload");
    let until = chrono::Utc::now() + chrono::Duration::days(30);
    storage
        .set_retention(&key, until, RetentionMode::Governance)
        .await
        .expect("retention");
    let version = version_of(&client, &bucket, &key).await;
    let refused = delete_version(&client, &bucket, &key, &version).await;
    assert!(refused.is_err(), "the cloud refuses before the date");
    // (Shortening a GOVERNANCE date without the bypass header is refused by S3, not by moto:
    // casefile never asks for it — the service and the database refuse a shorter date first.)
}

#[tokio::test(flavor = "multi_thread")]
async fn without_object_lock_configured_holds_are_not_supported() {
    let (storage, _, _) = locked_storage(None).await;
    assert!(!storage.capabilities().legal_hold);
    let key = ObjectKey::new("x").unwrap();
    assert!(matches!(
        storage.set_legal_hold(&key, true).await,
        Err(StorageError::NotSupported { .. })
    ));
}

/// The service projects its registry onto Object Lock: a hold placed turns the object's legal
/// hold on (and the cloud then refuses a delete sent behind casefile's back), its release turns
/// it off; a file completed under an active case hold is locked at once; retention set on the
/// case becomes the object's retention.
#[tokio::test(flavor = "multi_thread")]
async fn holds_placed_in_casefile_lock_the_object_in_the_cloud() {
    use std::sync::Arc;

    use casefile_domain::legal::{Clock, NewHold, UserId};
    use casefile_testkit::InMemoryCaseRepository;
    use casefile_testkit::service::{ServiceEnv, declare, pdf_bytes};

    let (storage, client, bucket) = locked_storage(Some(RetentionMode::Governance)).await;
    let env = ServiceEnv::new(Arc::new(storage), Arc::new(InMemoryCaseRepository::new()));
    let s = &env.service;
    let owner = UserId::new();
    let case = s.create_case(owner, "Matter").await.expect("case");
    let content = pdf_bytes(64);
    let upload = |path: &'static str| {
        let content = content.clone();
        async move {
            s.upload_file(
                owner,
                case.id,
                declare(path, &content, None),
                casefile_testkit::data::once(content.clone()),
            )
            .await
            .expect("upload")
        }
    };
    let brief = upload("brief.pdf").await;
    assert!(!env.storage.legal_hold(&brief.storage_key).await.unwrap());
    let hold = s
        .place_hold(
            owner,
            case.id,
            NewHold {
                name: "Doe v. Roe".into(),
                reason: "litigation anticipated".into(),
                scope: None,
            },
        )
        .await
        .expect("hold");
    assert!(
        env.storage.legal_hold(&brief.storage_key).await.unwrap(),
        "projected on"
    );
    let version = version_of(&client, &bucket, &brief.storage_key).await;
    assert!(
        delete_version(&client, &bucket, &brief.storage_key, &version)
            .await
            .is_err(),
        "the cloud itself refuses"
    );
    let later = upload("reply.pdf").await;
    assert!(
        env.storage.legal_hold(&later.storage_key).await.unwrap(),
        "a file completed under a case hold is locked at once"
    );
    s.release_hold(owner, hold.id, "settled")
        .await
        .expect("release");
    assert!(
        !env.storage.legal_hold(&brief.storage_key).await.unwrap(),
        "projected off"
    );
    assert!(!env.storage.legal_hold(&later.storage_key).await.unwrap());
    let until = env.clock.now() + chrono::Duration::days(30);
    s.set_retention(owner, case.id, until)
        .await
        .expect("retention");
    let refused = delete_version(&client, &bucket, &brief.storage_key, &version).await;
    assert!(refused.is_err(), "retained by the cloud too");
}

/// Drift behind casefile's back — the object's legal hold turned off in the cloud while the
/// registry holds the file — is found by `reconcile_holds` and, with `fix`, set right.
#[tokio::test(flavor = "multi_thread")]
async fn reconciliation_finds_and_repairs_drift() {
    use std::sync::Arc;

    use casefile_domain::legal::{NewHold, UserId};
    use casefile_testkit::InMemoryCaseRepository;
    use casefile_testkit::service::{ServiceEnv, declare, pdf_bytes};

    let (storage, _, _) = locked_storage(Some(RetentionMode::Governance)).await;
    let env = ServiceEnv::new(Arc::new(storage), Arc::new(InMemoryCaseRepository::new()));
    let s = &env.service;
    let owner = UserId::new();
    let case = s.create_case(owner, "Matter").await.expect("case");
    let content = pdf_bytes(16);
    let file = s
        .upload_file(
            owner,
            case.id,
            declare("a.pdf", &content, None),
            casefile_testkit::data::once(content.clone()),
        )
        .await
        .expect("upload");
    let free_case = s.create_case(owner, "Other").await.expect("case");
    s.upload_file(
        owner,
        free_case.id,
        declare("b.pdf", &content, None),
        casefile_testkit::data::once(content.clone()),
    )
    .await
    .expect("upload");
    s.place_hold(
        owner,
        case.id,
        NewHold {
            name: "Doe".into(),
            reason: "litigation".into(),
            scope: None,
        },
    )
    .await
    .expect("hold");
    let clean = s.reconcile_holds(false).await.expect("reconcile");
    assert_eq!((clean.checked, clean.drifted.len()), (1, 0), "{clean:?}");
    // Behind casefile's back.
    env.storage
        .set_legal_hold(&file.storage_key, false)
        .await
        .expect("hold off in the cloud");
    let found = s.reconcile_holds(false).await.expect("reconcile");
    assert_eq!(found.drifted, vec![file.id]);
    assert_eq!(found.fixed, 0);
    assert!(
        !env.storage.legal_hold(&file.storage_key).await.unwrap(),
        "not fixed without --fix"
    );
    let fixed = s.reconcile_holds(true).await.expect("reconcile");
    assert_eq!((fixed.drifted.len(), fixed.fixed), (1, 1));
    assert!(env.storage.legal_hold(&file.storage_key).await.unwrap());
    let clean = s.reconcile_holds(false).await.expect("reconcile");
    assert!(clean.drifted.is_empty());
}

/// Object Lock buckets want a checksum on every upload: single PUTs carry the SHA-256 known
/// before sending, multipart parts a CRC32 each; both land and read back whole.
#[tokio::test(flavor = "multi_thread")]
async fn uploads_to_an_object_lock_bucket_carry_checksums() {
    let bucket = format!("casefile-lock-{}", uuid::Uuid::new_v4().simple());
    client()
        .create_bucket()
        .bucket(&bucket)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .expect("bucket");
    let storage = S3Storage::builder(&bucket)
        .with_endpoint(lock_endpoint())
        .with_region(REGION)
        .with_path_style(true)
        .with_credentials(credentials())
        .with_object_lock(RetentionMode::Compliance)
        .with_multipart(casefile_storage_s3::MIN_PART_SIZE, 2)
        .build()
        .await
        .expect("storage");
    let size = casefile_storage_s3::MIN_PART_SIZE * 2 + 1234;
    let content: Bytes = (0..size)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into();
    let key = ObjectKey::new("cases/a/files/big").unwrap();
    let stored = storage
        .upload(&key, content.clone(), PutOptions::default())
        .await
        .expect("a three-part upload with part checksums");
    assert_eq!(stored.size, size as u64);
    assert_eq!(storage.download(&key).await.expect("read back"), content);
    storage
        .set_legal_hold(&key, true)
        .await
        .expect("hold the multipart object");
}

/// Create-only writes (`If-None-Match: *`) against moto, which enforces the condition as S3
/// does: the storage conformance case.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_only_writes_once_on_moto() {
    let (storage, _, _) = locked_storage(None).await;
    assert!(
        casefile_domain::storage::ObjectStorage::capabilities(&storage).create_only,
        "on by default"
    );
    casefile_testkit::storage::create_only_writes_once(&storage).await;
}

/// The audit log's anchored checkpoints on an Object Lock bucket: written create-only and under
/// S3's own legal hold, so that neither casefile nor anyone with the bucket's credentials can
/// replace or delete one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anchored_checkpoints_are_create_only_and_held() {
    use casefile_domain::legal::audit_log::{CheckpointSigner, checkpoint_key};
    use casefile_domain::legal::{LegalFileService, ServiceConfig, SystemClock, UserId};
    use std::sync::Arc;
    let (storage, client, bucket) = locked_storage(Some(RetentionMode::Governance)).await;
    let storage = Arc::new(storage);
    let service = LegalFileService::new(
        storage.clone(),
        Arc::new(casefile_testkit::InMemoryCaseRepository::new()),
        Arc::new(SystemClock),
        ServiceConfig::default(),
    );
    service
        .create_case(UserId::new(), "Anchored")
        .await
        .expect("case");
    let signer = CheckpointSigner::from_seed("casefile.test/audit", [7; 32]).expect("signer");
    let note = service.make_checkpoint(&signer).await.expect("checkpoint");
    assert_eq!(service.make_checkpoint(&signer).await.expect("again"), note);
    let key = checkpoint_key(1);
    assert_eq!(
        storage.download(&key).await.expect("anchor"),
        note.as_bytes()
    );
    assert!(
        storage.legal_hold(&key).await.expect("hold"),
        "the anchor is held"
    );
    let forged = storage
        .upload_if_absent(&key, Bytes::from_static(b"forged"), PutOptions::default())
        .await;
    assert!(
        matches!(forged, Err(StorageError::AlreadyExists { .. })),
        "{forged:?}"
    );
    let version = version_of(&client, &bucket, &key).await;
    let refused = delete_version(&client, &bucket, &key, &version).await;
    assert!(refused.is_err(), "S3 refuses to delete a held anchor");
    assert_eq!(
        storage.download(&key).await.expect("anchor"),
        note.as_bytes()
    );
}
