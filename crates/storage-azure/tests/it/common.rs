use std::time::Duration;

use azure_storage::{CloudLocation, StorageCredentials};
use azure_storage_blobs::prelude::ClientBuilder;
use casefile_storage_azure::{
    AZURITE_ACCOUNT, AZURITE_KEY, AzureBlobStorage, AzureBlobStorageBuilder, AzureCredentials,
};

pub(crate) fn endpoint() -> String {
    std::env::var("CASEFILE_TEST_AZURE_ENDPOINT")
        .expect("CASEFILE_TEST_AZURE_ENDPOINT is not set: run the tests with `cargo xtask test`, which starts Azurite")
}

/// A fresh container in Azurite.
pub(crate) async fn container() -> String {
    let name = format!("casefile-{}", uuid::Uuid::new_v4().simple());
    let creds =
        StorageCredentials::access_key(AZURITE_ACCOUNT, azure_core::auth::Secret::new(AZURITE_KEY));
    let location = CloudLocation::Custom {
        account: AZURITE_ACCOUNT.into(),
        uri: endpoint(),
    };
    ClientBuilder::with_location(location, creds)
        .retry(azure_core::RetryOptions::none())
        .container_client(name.clone())
        .create()
        .into_future()
        .await
        .expect("create a container in Azurite");
    name
}

pub(crate) fn builder(container: &str) -> AzureBlobStorageBuilder {
    AzureBlobStorage::builder(AZURITE_ACCOUNT, container)
        .with_endpoint(endpoint())
        .with_credentials(AzureCredentials::AccessKey(AZURITE_KEY.into()))
        .with_retry(0, Duration::from_secs(30))
}

pub(crate) async fn storage() -> AzureBlobStorage {
    builder(&container().await)
        .build()
        .await
        .expect("Azure storage against Azurite")
}
