//! Azure-specific behaviour: staged blocks, SAS scope and expiry, metadata names, builder errors.

use std::time::Duration;

use bytes::Bytes;
use casefile_domain::storage::{
    Metadata, ObjectKey, ObjectStorage, PresignDownloadRequest, PresignUploadRequest,
    PresignedUpload, PutOptions, UploadMethod,
};
use casefile_domain::{Sha256, StorageError};
use casefile_storage_azure::{AzureCredentials, encode_metadata_name};
use casefile_testkit::data;
use futures::StreamExt;

use crate::common::{builder, container, storage};

fn key(name: &str) -> ObjectKey {
    ObjectKey::new(format!("azure-tests/{name}")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staged_upload_of_40_mib_round_trips_by_hash() {
    let az = storage().await;
    let k = key("large.bin");
    let len = 40 * 1024 * 1024 + 7;
    let (expected, _) = data::random_stream_digest(11, len, 333_333).await;
    let stored = az
        .upload_stream(
            &k,
            data::random_stream(11, len, 333_333),
            PutOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!((stored.size, stored.sha256), (len, Some(expected)));
    let found = az.download_stream(&k, None).await.unwrap();
    assert_eq!(
        data::digest_stream(found.body).await.unwrap(),
        (expected, len)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_staged_upload_commits_nothing() {
    let az = storage().await;
    let k = key("broken.bin");
    let failing = data::random_stream(12, 10 * 1024 * 1024, 1024 * 1024).chain(
        futures::stream::once(async { Err(StorageError::invalid_input("body", "gone")) }),
    );
    let err = az
        .upload_stream(&k, Box::pin(failing), PutOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::InvalidInput { .. }), "{err:?}");
    assert_eq!(az.head(&k).await.unwrap(), None);
    assert!(
        az.list(Default::default())
            .await
            .unwrap()
            .objects
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_with_dashes_and_underscores_round_trips() {
    let az = storage().await;
    let k = key("meta.txt");
    let metadata = Metadata::from([
        ("case-id".into(), "42".into()),
        ("x_1".into(), "a".into()),
        ("a-b_c".into(), "b".into()),
    ]);
    az.upload(
        &k,
        Bytes::from_static(b"m"),
        PutOptions {
            content_type: None,
            metadata: metadata.clone(),
        },
    )
    .await
    .unwrap();
    assert_eq!(az.head(&k).await.unwrap().unwrap().metadata, metadata);
    // Upper case is not a port metadata name: refused before Azure is asked.
    let upper = Metadata::from([("Case-Id".into(), "1".into())]);
    let err = az
        .upload(
            &k,
            Bytes::new(),
            PutOptions {
                content_type: None,
                metadata: upper,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        StorageError::InvalidInput {
            field: "metadata",
            ..
        }
    ));
}

async fn put(
    upload: &PresignedUpload,
    url: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> reqwest::StatusCode {
    let mut req = reqwest::Client::new().put(url);
    for (k, v) in &upload.headers {
        if !headers.iter().any(|(h, _)| h == k) {
            req = req.header(k, v);
        }
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.body(body).send().await.unwrap().status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sas_upload_is_scoped_signed_and_expires() {
    let az = storage().await;
    let k = key("sas/upload.pdf");
    let content = Bytes::from_static(b"%PDF-1.7 sas");
    let request = PresignUploadRequest {
        content_type: "application/pdf".into(),
        expires_in: Duration::from_secs(300),
        max_size: content.len() as u64,
        sha256: Some(Sha256::digest(&content)),
    };
    let upload = az.presigned_upload(&k, request.clone()).await.unwrap();
    assert_eq!(upload.method, UploadMethod::Put);
    assert_eq!(upload.headers["x-ms-blob-type"], "BlockBlob");
    assert!(
        !az.capabilities().presigned_upload_enforces_max_size,
        "Azure cannot bind the size"
    );

    let tampered = upload.url.replace("sig=", "sig=A");
    assert!(
        put(&upload, &tampered, &[], content.clone())
            .await
            .is_client_error(),
        "tampered"
    );
    let other = upload.url.replace("sas/upload.pdf", "sas/other.pdf");
    assert!(
        put(&upload, &other, &[], content.clone())
            .await
            .is_client_error(),
        "another blob"
    );
    let read_only = az
        .presigned_download(
            &k,
            PresignDownloadRequest {
                expires_in: Duration::from_secs(60),
                file_name: None,
            },
        )
        .await
        .unwrap();
    assert!(
        put(&upload, &read_only.url, &[], content.clone())
            .await
            .is_client_error(),
        "read SAS used to write"
    );
    assert_eq!(
        az.head(&k).await.unwrap(),
        None,
        "nothing written by refused requests"
    );

    let ok = put(&upload, &upload.url, &[], content.clone()).await;
    assert!(ok.is_success(), "{ok}");
    let head = az.head(&k).await.unwrap().unwrap();
    assert_eq!(head.content_type, "application/pdf");
    assert_eq!(head.sha256, Some(Sha256::digest(&content)));

    let short = az
        .presigned_upload(
            &k,
            PresignUploadRequest {
                expires_in: Duration::from_secs(1),
                ..request
            },
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert!(
        put(&short, &short.url, &[], content.clone())
            .await
            .is_client_error(),
        "expired"
    );
    let _ = encode_metadata_name("x");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sas_download_carries_the_file_name_and_is_refused_when_tampered_or_expired() {
    let az = storage().await;
    let k = key("sas/evidence.pdf");
    az.upload(
        &k,
        Bytes::from_static(b"%PDF-1.7 evidence"),
        PutOptions::default(),
    )
    .await
    .unwrap();
    let url = az
        .presigned_download(
            &k,
            PresignDownloadRequest {
                expires_in: Duration::from_secs(60),
                file_name: Some("Exhibit A.pdf".into()),
            },
        )
        .await
        .unwrap()
        .url;
    let ok = reqwest::get(&url).await.unwrap();
    assert!(ok.status().is_success(), "{}", ok.status());
    let disposition = ok
        .headers()
        .get("content-disposition")
        .map(|v| v.to_str().unwrap().to_owned());
    assert!(
        disposition
            .as_deref()
            .is_some_and(|d| d.starts_with("attachment") && d.contains("Exhibit")),
        "{disposition:?}"
    );
    assert_eq!(ok.bytes().await.unwrap(), &b"%PDF-1.7 evidence"[..]);
    assert!(
        reqwest::get(url.replace("sig=", "sig=A"))
            .await
            .unwrap()
            .status()
            .is_client_error()
    );
    let short = az
        .presigned_download(
            &k,
            PresignDownloadRequest {
                expires_in: Duration::from_secs(1),
                file_name: None,
            },
        )
        .await
        .unwrap()
        .url;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert!(
        reqwest::get(&short)
            .await
            .unwrap()
            .status()
            .is_client_error(),
        "expired"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_refuses_a_missing_container_and_a_wrong_key() {
    let err = builder("casefile-no-such-container")
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::NotFound { .. }), "{err:?}");
    let name = container().await;
    let wrong = base64_of(b"not the key of the account at all");
    let err = builder(&name)
        .with_credentials(AzureCredentials::AccessKey(wrong))
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StorageError::Unauthenticated { .. } | StorageError::PermissionDenied { .. }
        ),
        "{err:?}"
    );
    let err = builder(&name)
        .with_credentials(AzureCredentials::AccessKey("%%%".into()))
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StorageError::InvalidInput {
                field: "access_key",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_reports_an_unreachable_endpoint() {
    let err = builder("x")
        .with_endpoint("http://127.0.0.1:1/devstoreaccount1")
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::Unavailable { .. }), "{err:?}");
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Legal holds and immutability policies cannot be set with `azure_storage_blobs` 0.21: the
/// store says so (no capability, `NotSupported`) instead of pretending; casefile's registry and
/// database triggers still hold the files.
#[tokio::test(flavor = "multi_thread")]
async fn legal_holds_are_reported_not_supported() {
    use casefile_domain::storage::{ObjectKey, ObjectStorage, RetentionMode};
    let storage = storage().await;
    let caps = storage.capabilities();
    assert!(!caps.legal_hold && !caps.retention);
    let key = ObjectKey::new("cases/a/files/x").unwrap();
    assert!(matches!(
        storage.set_legal_hold(&key, true).await,
        Err(StorageError::NotSupported { .. })
    ));
    assert!(matches!(
        storage
            .set_retention(&key, chrono::Utc::now(), RetentionMode::Compliance)
            .await,
        Err(StorageError::NotSupported { .. })
    ));
}
