use casefile_storage_gcs::{GcsStorage, GcsStorageBuilder};

pub(crate) const KEY: &str = include_str!("../data/test_service_account.not-a-test.json");

pub(crate) fn endpoint() -> String {
    std::env::var("CASEFILE_TEST_GCS_ENDPOINT")
        .expect("CASEFILE_TEST_GCS_ENDPOINT is not set: run the tests with `cargo xtask test`, which starts fake-gcs-server")
}

/// A fresh bucket in the emulator (its JSON API, as a user of the emulator would).
pub(crate) async fn bucket() -> String {
    let name = format!("casefile-{}", uuid::Uuid::new_v4().simple());
    let response = reqwest::Client::new()
        .post(format!("{}/storage/v1/b?project=test", endpoint()))
        .json(&serde_json::json!({ "name": name }))
        .send()
        .await
        .expect("fake-gcs-server answers");
    assert!(
        response.status().is_success(),
        "create bucket: {}",
        response.status()
    );
    name
}

pub(crate) fn builder(bucket: &str) -> GcsStorageBuilder {
    GcsStorage::builder(bucket)
        .with_endpoint(endpoint())
        .with_service_account_json(KEY)
}

pub(crate) async fn storage() -> GcsStorage {
    builder(&bucket().await)
        .build()
        .await
        .expect("GCS storage against fake-gcs-server")
}
