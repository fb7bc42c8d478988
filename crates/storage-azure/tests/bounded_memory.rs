//! Memory stays bounded: 64 MiB staged to Azurite and read back with peak RSS growth under
//! 64 MiB (4 MiB blocks, 4 in flight). Measured like the other adapters: `VmHWM` reset through
//! `/proc/self/clear_refs`, against `VmRSS` before; the only test of this binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use casefile_domain::storage::{ObjectKey, ObjectStorage, PutOptions};
use casefile_storage_azure::{AZURITE_ACCOUNT, AZURITE_KEY, AzureBlobStorage, AzureCredentials};
use casefile_testkit::data;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_64_mib_through_azure_keeps_rss_growth_under_64_mib() {
    let endpoint =
        std::env::var("CASEFILE_TEST_AZURE_ENDPOINT").expect("run with `cargo xtask test`");
    let name = format!("bounded-{}", uuid::Uuid::new_v4().simple());
    let creds = azure_storage::StorageCredentials::access_key(
        AZURITE_ACCOUNT,
        azure_core::auth::Secret::new(AZURITE_KEY),
    );
    let location = azure_storage::CloudLocation::Custom {
        account: AZURITE_ACCOUNT.into(),
        uri: endpoint.clone(),
    };
    azure_storage_blobs::prelude::ClientBuilder::with_location(location, creds)
        .container_client(name.clone())
        .create()
        .into_future()
        .await
        .unwrap();
    let az = AzureBlobStorage::builder(AZURITE_ACCOUNT, name)
        .with_endpoint(endpoint)
        .with_credentials(AzureCredentials::AccessKey(AZURITE_KEY.into()))
        .with_retry(0, std::time::Duration::from_secs(60))
        .build()
        .await
        .unwrap();
    let key = ObjectKey::new("bounded/large.bin").unwrap();
    let size = 64 * 1024 * 1024;
    let (expected, _) = data::random_stream_digest(13, size, 256 * 1024).await;
    let (_, growth) = casefile_testkit::memory::peak_rss_growth(async {
        let stored = az
            .upload_stream(
                &key,
                data::random_stream(13, size, 256 * 1024),
                PutOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!(stored.sha256, Some(expected));
        let found = az.download_stream(&key, None).await.unwrap();
        assert_eq!(
            data::digest_stream(found.body).await.unwrap(),
            (expected, size)
        );
    })
    .await;
    eprintln!(
        "peak RSS growth for 64 MiB through Azure: {} KiB",
        growth / 1024
    );
    assert!(
        growth < 64 * 1024 * 1024,
        "peak RSS grew by {} MiB",
        growth / (1024 * 1024)
    );
}
