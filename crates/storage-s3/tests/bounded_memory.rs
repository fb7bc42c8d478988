//! Memory stays bounded: a 96 MiB multipart upload and download through S3Storage with peak RSS
//! growth under 64 MiB (parts of 8 MiB, 4 in flight). Measured as in casefile-storage-local:
//! `VmHWM` after resetting it through `/proc/self/clear_refs`, against `VmRSS` before; one test
//! in this binary so nothing else shares the process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use casefile_domain::storage::{ObjectKey, ObjectStorage, PutOptions};
use casefile_storage_s3::{RetryMode, S3Storage, StaticCredentials};
use casefile_testkit::data;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_96_mib_through_s3_keeps_rss_growth_under_64_mib() {
    let endpoint = std::env::var("CASEFILE_TEST_S3_ENDPOINT").expect("run with `cargo xtask test`");
    let bucket = format!("casefile-bounded-{}", uuid::Uuid::new_v4().simple());
    let admin = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url(&endpoint)
            .force_path_style(true)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "casefile-test-access",
                "casefile-test-secret-key-0123456789",
                None,
                None,
                "test",
            ))
            .build(),
    );
    admin
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create the test bucket");
    let s3 = S3Storage::builder(&bucket)
        .with_endpoint(endpoint)
        .with_region("us-east-1")
        .with_path_style(true)
        .with_credentials(StaticCredentials {
            access_key_id: "casefile-test-access".into(),
            secret_access_key: "casefile-test-secret-key-0123456789".into(),
            session_token: None,
        })
        .with_retry(RetryMode::Standard, 2)
        .build()
        .await
        .expect("S3 storage against s3s-fs");
    let key = ObjectKey::new(format!("bounded/{}", uuid::Uuid::new_v4().simple())).unwrap();
    let size = 96 * 1024 * 1024;
    let (expected, _) = data::random_stream_digest(9, size, 256 * 1024).await;
    let (_, growth) = casefile_testkit::memory::peak_rss_growth(async {
        let stored = s3
            .upload_stream(
                &key,
                data::random_stream(9, size, 256 * 1024),
                PutOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!(stored.sha256, Some(expected));
        let found = s3.download_stream(&key, None).await.unwrap();
        assert_eq!(
            data::digest_stream(found.body).await.unwrap(),
            (expected, size)
        );
    })
    .await;
    eprintln!(
        "peak RSS growth for 96 MiB through S3: {} KiB",
        growth / 1024
    );
    s3.delete(&key).await.unwrap();
    assert!(
        growth < 64 * 1024 * 1024,
        "peak RSS grew by {} MiB",
        growth / (1024 * 1024)
    );
}
