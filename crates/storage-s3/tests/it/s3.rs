//! S3-specific behaviour: multipart, aborts, builder errors.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use casefile_domain::StorageError;
use casefile_domain::storage::{ObjectKey, ObjectStorage, PutOptions};
use casefile_storage_s3::{RetryMode, S3Storage, StaticCredentials};
use casefile_testkit::data;
use futures::StreamExt;

use crate::common::{BUCKET, builder, ensure_bucket, raw_client, storage};

fn key(name: &str) -> ObjectKey {
    ObjectKey::new(format!("s3-tests/{}/{name}", uuid::Uuid::new_v4().simple())).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_upload_of_40_mib_from_a_stream_round_trips_by_hash() {
    let s3 = storage().await;
    let k = key("large.bin");
    let len = 40 * 1024 * 1024 + 123;
    let (expected, _) = data::random_stream_digest(4, len, 300_000).await;
    let stored = s3
        .upload_stream(
            &k,
            data::random_stream(4, len, 300_000),
            PutOptions::with_content_type("application/pdf"),
        )
        .await
        .unwrap();
    assert_eq!((stored.size, stored.sha256), (len, Some(expected)));
    assert_eq!(stored.content_type, "application/pdf");
    let head = s3.head(&k).await.unwrap().unwrap();
    assert_eq!(
        head.sha256,
        Some(expected),
        "the SHA-256 is recorded after a multipart upload"
    );
    let found = s3.download_stream(&k, None).await.unwrap();
    assert_eq!(
        data::digest_stream(found.body).await.unwrap(),
        (expected, len)
    );
    s3.delete(&k).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_midway_through_multipart_leaves_no_object_and_no_open_upload() {
    ensure_bucket(BUCKET).await;
    let uploads: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = uploads.clone();
    let s3 = builder(BUCKET)
        .with_upload_observer(Arc::new(move |id: &str| {
            seen.lock().unwrap().push(id.to_owned())
        }))
        .build()
        .await
        .unwrap();
    let k = key("broken.bin");
    let good = data::random_stream(5, 20 * 1024 * 1024, 1024 * 1024);
    let failing = good.chain(futures::stream::once(async {
        Err(StorageError::invalid_input("body", "client disconnected"))
    }));
    let err = s3
        .upload_stream(&k, Box::pin(failing), PutOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, StorageError::InvalidInput { field: "body", .. }),
        "{err:?}"
    );
    assert_eq!(s3.head(&k).await.unwrap(), None, "no object");
    let ids = uploads.lock().unwrap().clone();
    assert_eq!(ids.len(), 1, "one multipart upload was started");
    assert!(!upload_is_open(&k, &ids[0]).await, "the upload was aborted");
}

/// Whether a multipart upload still takes parts. s3s-fs has no ListMultipartUploads and its
/// ListParts lists part files without checking the upload id, so the probe is UploadPart: it
/// succeeds on an open upload and is refused (AccessDenied on s3s-fs, NoSuchUpload on AWS) on an
/// aborted or unknown one.
async fn upload_is_open(key: &ObjectKey, upload_id: &str) -> bool {
    raw_client()
        .upload_part()
        .bucket(BUCKET)
        .key(key.as_str())
        .upload_id(upload_id)
        .part_number(999)
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"probe"))
        .send()
        .await
        .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_open_upload_probe_tells_open_from_aborted() {
    ensure_bucket(BUCKET).await;
    let k = key("probe.bin");
    let created = raw_client()
        .create_multipart_upload()
        .bucket(BUCKET)
        .key(k.as_str())
        .send()
        .await
        .unwrap();
    let id = created.upload_id.unwrap();
    assert!(upload_is_open(&k, &id).await);
    raw_client()
        .abort_multipart_upload()
        .bucket(BUCKET)
        .key(k.as_str())
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    assert!(!upload_is_open(&k, &id).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_multipart_upload_is_aborted_in_the_background() {
    ensure_bucket(BUCKET).await;
    let uploads: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = uploads.clone();
    let s3 = builder(BUCKET)
        .with_upload_observer(Arc::new(move |id: &str| {
            seen.lock().unwrap().push(id.to_owned())
        }))
        .build()
        .await
        .unwrap();
    let k = key("stalled.bin");
    let stalled =
        data::random_stream(6, 12 * 1024 * 1024, 1024 * 1024).chain(futures::stream::pending());
    let upload = s3.upload_stream(&k, Box::pin(stalled), PutOptions::default());
    assert!(
        tokio::time::timeout(Duration::from_secs(3), upload)
            .await
            .is_err()
    );
    let id = uploads
        .lock()
        .unwrap()
        .first()
        .cloned()
        .expect("multipart started");
    let mut gone = false;
    for _ in 0..50 {
        if !upload_is_open(&k, &id).await {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "the abandoned upload was aborted");
    assert_eq!(s3.head(&k).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_objects_are_single_puts_with_their_hash() {
    let s3 = storage().await;
    let k = key("small.txt");
    let stored = s3
        .upload(&k, Bytes::from_static(b"hello"), PutOptions::default())
        .await
        .unwrap();
    assert_eq!(stored.content_type, "text/plain");
    assert_eq!(
        stored.sha256,
        Some(casefile_domain::Sha256::digest(b"hello"))
    );
    assert!(stored.etag.is_some());
    s3.delete(&k).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_refuses_a_missing_bucket() {
    let err = builder("casefile-no-such-bucket")
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::NotFound { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_refuses_bad_credentials() {
    ensure_bucket(BUCKET).await;
    let wrong_secret = StaticCredentials {
        access_key_id: crate::common::ACCESS_KEY.into(),
        secret_access_key: "not-the-secret".into(),
        session_token: None,
    };
    let err = builder(BUCKET)
        .with_credentials(wrong_secret)
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(err, StorageError::Unauthenticated { .. }),
        "{err:?}"
    );
    let unknown_key = StaticCredentials {
        access_key_id: "nobody".into(),
        secret_access_key: "x".into(),
        session_token: None,
    };
    let err = builder(BUCKET)
        .with_credentials(unknown_key)
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(err, StorageError::Unauthenticated { .. }),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_reports_an_unreachable_endpoint() {
    let err = S3Storage::builder(BUCKET)
        .with_endpoint("http://127.0.0.1:1")
        .with_region("us-east-1")
        .with_path_style(true)
        .with_credentials(crate::common::credentials())
        .with_retry(RetryMode::Standard, 1)
        .with_timeouts(Duration::from_secs(1), Some(Duration::from_secs(2)))
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::Unavailable { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_checks_its_settings() {
    assert!(matches!(
        S3Storage::builder("").build().await,
        Err(StorageError::InvalidInput {
            field: "bucket",
            ..
        })
    ));
    assert!(matches!(
        builder(BUCKET).with_multipart(1024, 4).build().await,
        Err(StorageError::InvalidInput {
            field: "part_size",
            ..
        })
    ));
}
