use casefile_storage_s3::{RetryMode, S3Storage, S3StorageBuilder, StaticCredentials};

pub(crate) const ACCESS_KEY: &str = "casefile-test-access";
pub(crate) const SECRET_KEY: &str = "casefile-test-secret-key-0123456789";
pub(crate) const BUCKET: &str = "casefile-test";
pub(crate) const REGION: &str = "us-east-1";

pub(crate) fn endpoint() -> String {
    std::env::var("CASEFILE_TEST_S3_ENDPOINT").expect(
        "CASEFILE_TEST_S3_ENDPOINT is not set: run the tests with `cargo xtask test`, which starts s3s-fs",
    )
}

pub(crate) fn credentials() -> StaticCredentials {
    StaticCredentials {
        access_key_id: ACCESS_KEY.into(),
        secret_access_key: SECRET_KEY.into(),
        session_token: None,
    }
}

pub(crate) fn builder(bucket: &str) -> S3StorageBuilder {
    S3Storage::builder(bucket)
        .with_endpoint(endpoint())
        .with_region(REGION)
        .with_path_style(true)
        .with_credentials(credentials())
        .with_retry(RetryMode::Standard, 2)
        .with_connection_pool(8, std::time::Duration::from_secs(30))
}

/// The shared test bucket, created when missing.
pub(crate) async fn ensure_bucket(name: &str) {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new(REGION))
        .endpoint_url(endpoint())
        .force_path_style(true)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            ACCESS_KEY, SECRET_KEY, None, None, "test",
        ))
        .build();
    let client = aws_sdk_s3::Client::from_conf(config);
    if client.head_bucket().bucket(name).send().await.is_err() {
        let _ = client.create_bucket().bucket(name).send().await;
    }
    client
        .head_bucket()
        .bucket(name)
        .send()
        .await
        .expect("test bucket exists");
}

/// A store on a fresh bucket of its own: s3s-fs walks a whole bucket to list it, so tests that
/// share one race with each other's deletes (a 500 from the server, not an S3 behaviour).
pub(crate) async fn storage() -> S3Storage {
    let bucket = format!("casefile-test-{}", uuid::Uuid::new_v4().simple());
    ensure_bucket(&bucket).await;
    builder(&bucket)
        .build()
        .await
        .expect("S3 storage against s3s-fs")
}

pub(crate) fn raw_client() -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new(REGION))
        .endpoint_url(endpoint())
        .force_path_style(true)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            ACCESS_KEY, SECRET_KEY, None, None, "test",
        ))
        .build();
    aws_sdk_s3::Client::from_conf(config)
}
