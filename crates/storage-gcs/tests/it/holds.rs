//! Temporary holds (casefile's legal holds on GCS). fake-gcs-server drops holds, so the exact
//! requests the adapter sends are checked against a loopback stub of the JSON API that records
//! them and answers as GCS does.

use std::sync::{Arc, Mutex};

use casefile_domain::StorageError;
use casefile_domain::storage::{ObjectKey, ObjectStorage, RetentionMode};
use casefile_storage_gcs::GcsStorage;
use serde_json::{Value, json};

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    body: Value,
}

#[derive(Clone, Default)]
struct Stub {
    seen: Arc<Mutex<Vec<Seen>>>,
    held: Arc<Mutex<bool>>,
}

fn object(bucket: &str, name: &str, held: bool) -> Value {
    json!({
        "kind": "storage#object", "id": format!("{bucket}/{name}/1"), "name": name,
        "bucket": bucket, "generation": "1", "metageneration": "2", "size": "4",
        "contentType": "application/pdf", "etag": "CAI=", "storageClass": "STANDARD",
        "timeCreated": "2026-12-05T00:00:00Z", "updated": "2026-12-05T00:00:00Z",
        "selfLink": format!("http://stub/storage/v1/b/{bucket}/o/{name}"),
        "mediaLink": format!("http://stub/download/storage/v1/b/{bucket}/o/{name}?alt=media"),
        "temporaryHold": held,
    })
}

async fn serve_stub(bucket: &'static str) -> (Stub, String) {
    let stub = Stub::default();
    let state = stub.clone();
    let app = axum::Router::new().fallback(
        move |method: axum::http::Method, uri: axum::http::Uri, body: axum::body::Bytes| {
            let state = state.clone();
            async move {
                let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let path = uri.path().to_owned();
                state.seen.lock().unwrap().push(Seen {
                    method: method.to_string(),
                    path: path.clone(),
                    body: body.clone(),
                });
                if path == format!("/storage/v1/b/{bucket}") {
                    return axum::Json(json!({
                        "kind": "storage#bucket", "id": bucket, "name": bucket,
                        "projectNumber": "1", "metageneration": "1", "location": "US",
                        "storageClass": "STANDARD", "etag": "CAE=", "locationType": "multi-region",
                        "timeCreated": "2026-12-05T00:00:00Z", "updated": "2026-12-05T00:00:00Z",
                    }));
                }
                let name = path
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .replace("%2F", "/");
                if method == axum::http::Method::PATCH
                    && let Some(on) = body["temporaryHold"].as_bool()
                {
                    *state.held.lock().unwrap() = on;
                }
                let held = *state.held.lock().unwrap();
                axum::Json(object(bucket, &name, held))
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (stub, format!("http://{address}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_legal_hold_is_a_temporary_hold_patched_alone() {
    let bucket = "casefile-holds";
    let (stub, endpoint) = serve_stub(bucket).await;
    let storage = GcsStorage::builder(bucket)
        .with_endpoint(&endpoint)
        .with_temporary_holds()
        .build()
        .await
        .expect("the stub answers as GCS");
    assert!(storage.capabilities().legal_hold);
    assert!(
        !storage.capabilities().retention,
        "no object retention API in gcloud-storage 1.3"
    );
    let key = ObjectKey::new("cases/a/files/evidence").unwrap();
    storage.set_legal_hold(&key, true).await.expect("hold on");
    assert!(storage.legal_hold(&key).await.expect("read"));
    storage.set_legal_hold(&key, false).await.expect("hold off");
    assert!(!storage.legal_hold(&key).await.expect("read"));

    let seen = stub.seen.lock().unwrap().clone();
    let patches: Vec<&Seen> = seen.iter().filter(|s| s.method == "PATCH").collect();
    assert_eq!(patches.len(), 2, "{seen:?}");
    let object_path = format!("/storage/v1/b/{bucket}/o/cases%2Fa%2Ffiles%2Fevidence");
    for (patch, on) in patches.iter().zip([true, false]) {
        assert_eq!(patch.path, object_path);
        // Exactly one field: nothing else of the object (its type, its metadata with the
        // recorded SHA-256) is touched.
        assert_eq!(patch.body, json!({"temporaryHold": on}));
    }
    let retention = storage
        .set_retention(&key, chrono::Utc::now(), RetentionMode::Governance)
        .await;
    assert!(
        matches!(retention, Err(StorageError::NotSupported { .. })),
        "{retention:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_temporary_holds_configured_holds_are_not_supported() {
    let bucket = "casefile-no-holds";
    let (stub, endpoint) = serve_stub(bucket).await;
    let storage = GcsStorage::builder(bucket)
        .with_endpoint(&endpoint)
        .build()
        .await
        .unwrap();
    assert!(!storage.capabilities().legal_hold);
    let key = ObjectKey::new("x").unwrap();
    assert!(matches!(
        storage.set_legal_hold(&key, true).await,
        Err(StorageError::NotSupported { .. })
    ));
    assert!(
        stub.seen
            .lock()
            .unwrap()
            .iter()
            .all(|s| s.method != "PATCH"),
        "nothing sent"
    );
}
