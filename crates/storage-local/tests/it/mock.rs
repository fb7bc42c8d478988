//! A crate outside the domain unit-tests against the port with the mockall mock exported behind
//! the domain's `mock` feature.

use std::sync::Arc;

use casefile_domain::StorageError;
use casefile_domain::storage::{MockObjectStorage, ObjectKey, ObjectStorage};

/// Code under test that only knows the port.
async fn is_archived(store: &dyn ObjectStorage, key: &ObjectKey) -> Result<bool, StorageError> {
    store.exists(key).await
}

#[tokio::test]
async fn downstream_code_runs_against_the_mock() {
    let mut mock = MockObjectStorage::new();
    mock.expect_exists()
        .withf(|k| k.as_str() == "cases/1/files/a")
        .times(1)
        .returning(|_| Ok(true));
    mock.expect_exists()
        .withf(|k| k.as_str() == "cases/1/files/b")
        .times(1)
        .returning(|k| Err(StorageError::not_found(k.as_str())));
    let store: Arc<dyn ObjectStorage> = Arc::new(mock);
    assert!(
        is_archived(store.as_ref(), &ObjectKey::new("cases/1/files/a").unwrap())
            .await
            .unwrap()
    );
    let err = is_archived(store.as_ref(), &ObjectKey::new("cases/1/files/b").unwrap()).await;
    assert!(matches!(err, Err(StorageError::NotFound { .. })));
}
