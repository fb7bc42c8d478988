//! Memory stays bounded: 64 MiB through resumable chunks of 8 MiB and back, peak RSS growth
//! under 64 MiB. Measured like the other adapters (`VmHWM` after `clear_refs`, against `VmRSS`);
//! the only test of this binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use casefile_domain::storage::{ObjectKey, ObjectStorage, PutOptions};
use casefile_storage_gcs::GcsStorage;
use casefile_testkit::data;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_64_mib_through_gcs_keeps_rss_growth_under_64_mib() {
    let endpoint =
        std::env::var("CASEFILE_TEST_GCS_ENDPOINT").expect("run with `cargo xtask test`");
    let name = format!("bounded-{}", uuid::Uuid::new_v4().simple());
    reqwest::Client::new()
        .post(format!("{endpoint}/storage/v1/b?project=test"))
        .json(&serde_json::json!({ "name": name }))
        .send()
        .await
        .unwrap();
    let gcs = GcsStorage::builder(name)
        .with_endpoint(endpoint)
        .build()
        .await
        .unwrap();
    let key = ObjectKey::new("bounded/large.bin").unwrap();
    let size = 64 * 1024 * 1024;
    let (expected, _) = data::random_stream_digest(24, size, 256 * 1024).await;
    let (_, growth) = casefile_testkit::memory::peak_rss_growth(async {
        let stored = gcs
            .upload_stream(
                &key,
                data::random_stream(24, size, 256 * 1024),
                PutOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!(stored.sha256, Some(expected));
        let found = gcs.download_stream(&key, None).await.unwrap();
        assert_eq!(
            data::digest_stream(found.body).await.unwrap(),
            (expected, size)
        );
    })
    .await;
    eprintln!(
        "peak RSS growth for 64 MiB through GCS: {} KiB",
        growth / 1024
    );
    assert!(
        growth < 64 * 1024 * 1024,
        "peak RSS grew by {} MiB",
        growth / (1024 * 1024)
    );
}
