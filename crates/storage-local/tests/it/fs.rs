//! Behaviour of `FsStorage` beyond the shared suite: key safety, durability, atomicity.

use std::path::Path;

use bytes::Bytes;
use casefile_domain::storage::{ListOptions, Metadata, ObjectKey, ObjectStorage, PutOptions};
use casefile_domain::{Sha256, StorageError};
use casefile_storage_local::{FsStorage, UploadLimits};
use casefile_testkit::data;
use futures::{StreamExt, stream};

fn key(s: &str) -> ObjectKey {
    ObjectKey::new(s).unwrap()
}

fn store() -> (FsStorage, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (FsStorage::new(dir.path().join("root")).unwrap(), dir)
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn symlinked_directory_inside_root_is_never_followed() {
    let (fs, dir) = store();
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("secret"), b"top secret").unwrap();
    std::os::unix::fs::symlink(&outside, fs.root().join("objects/evil")).unwrap();

    let err = fs
        .upload(
            &key("evil/planted"),
            Bytes::from_static(b"x"),
            PutOptions::default(),
        )
        .await;
    assert!(
        matches!(err, Err(StorageError::PermissionDenied { .. })),
        "{err:?}"
    );
    let err = fs
        .upload(
            &key("evil/new/deeper"),
            Bytes::from_static(b"x"),
            PutOptions::default(),
        )
        .await;
    assert!(
        matches!(err, Err(StorageError::PermissionDenied { .. })),
        "{err:?}"
    );
    assert_eq!(
        files_in(&outside),
        vec!["secret"],
        "nothing written outside the root"
    );

    assert!(matches!(
        fs.head(&key("evil/secret")).await,
        Err(StorageError::PermissionDenied { .. })
    ));
    assert!(matches!(
        fs.download(&key("evil/secret")).await,
        Err(StorageError::PermissionDenied { .. })
    ));
    let listed = fs
        .list(ListOptions {
            prefix: Some(key("evil")),
            ..ListOptions::default()
        })
        .await;
    assert!(
        matches!(listed, Err(StorageError::PermissionDenied { .. })),
        "{listed:?}"
    );
    let all = fs.list(ListOptions::default()).await.unwrap();
    assert!(
        all.objects.is_empty(),
        "symlinks are not listed: {:?}",
        all.objects
    );
    fs.delete(&key("evil/secret"))
        .await
        .expect_err("delete through a symlink is refused");
    assert!(outside.join("secret").exists());
}

#[tokio::test]
async fn symlinked_manifest_is_never_read() {
    let (fs, dir) = store();
    let outside = dir.path().join("passwd");
    std::fs::write(&outside, br#"{"not":"a manifest"}"#).unwrap();
    std::os::unix::fs::symlink(&outside, fs.root().join("objects/link")).unwrap();
    assert!(matches!(
        fs.head(&key("link")).await,
        Err(StorageError::PermissionDenied { .. })
    ));
    let err = fs
        .upload(
            &key("link"),
            Bytes::from_static(b"x"),
            PutOptions::default(),
        )
        .await;
    assert!(
        matches!(err, Err(StorageError::PermissionDenied { .. })),
        "{err:?}"
    );
    assert_eq!(std::fs::read(&outside).unwrap(), br#"{"not":"a manifest"}"#);
}

#[tokio::test]
async fn overlong_segment_is_refused_before_any_io() {
    let (fs, _dir) = store();
    let long = format!("a/{}", "x".repeat(256));
    let err = fs
        .upload(&key(&long), Bytes::from_static(b"x"), PutOptions::default())
        .await;
    assert!(
        matches!(err, Err(StorageError::InvalidKey { .. })),
        "{err:?}"
    );
    assert!(matches!(
        fs.head(&key(&long)).await,
        Err(StorageError::InvalidKey { .. })
    ));
    assert!(files_in(&fs.root().join("tmp")).is_empty());
    assert!(files_in(&fs.root().join("objects")).is_empty());
    // 255 bytes is fine.
    let ok = format!("a/{}", "x".repeat(255));
    fs.upload(&key(&ok), Bytes::from_static(b"x"), PutOptions::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn metadata_survives_a_restart() {
    let (fs, _dir) = store();
    let root = fs.root().to_path_buf();
    let options = PutOptions {
        content_type: Some("application/pdf".into()),
        metadata: Metadata::from([("case-id".into(), "42".into())]),
    };
    let written = fs
        .upload(
            &key("cases/42/brief"),
            Bytes::from_static(b"%PDF-"),
            options,
        )
        .await
        .unwrap();
    drop(fs);
    let reopened = FsStorage::new(&root).unwrap();
    let head = reopened
        .head(&key("cases/42/brief"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(head, written);
    assert_eq!(head.sha256, Some(Sha256::digest(b"%PDF-")));
    assert_eq!(
        reopened.download(&key("cases/42/brief")).await.unwrap(),
        &b"%PDF-"[..]
    );
}

#[tokio::test]
async fn leftovers_of_a_crash_are_ignored() {
    let (fs, _dir) = store();
    fs.upload(
        &key("doc"),
        Bytes::from_static(b"committed"),
        PutOptions::default(),
    )
    .await
    .unwrap();
    // A crash mid-upload leaves a partial temp file, a crash before the commit an unreferenced blob.
    std::fs::write(fs.root().join("tmp/partial"), b"half of a new ver").unwrap();
    std::fs::write(fs.root().join("blobs/orphan"), b"never committed").unwrap();
    let page = fs.list(ListOptions::default()).await.unwrap();
    assert_eq!(
        page.objects
            .iter()
            .map(|o| o.key.as_str())
            .collect::<Vec<_>>(),
        vec!["doc"]
    );
    assert_eq!(fs.download(&key("doc")).await.unwrap(), &b"committed"[..]);
}

#[tokio::test]
async fn cancelled_upload_leaves_no_temp_file_and_no_object() {
    let (fs, _dir) = store();
    let body = Box::pin(
        stream::iter([Ok(data::random_bytes(1, 4 * 1024 * 1024))]).chain(stream::pending()),
    );
    let stalled = key("stalled");
    let upload = fs.upload_stream(&stalled, body, PutOptions::default());
    let timed_out = tokio::time::timeout(std::time::Duration::from_millis(300), upload).await;
    assert!(timed_out.is_err(), "the upload waits for more data");
    assert!(
        files_in(&fs.root().join("tmp")).is_empty(),
        "temp file removed on cancel"
    );
    assert_eq!(fs.head(&key("stalled")).await.unwrap(), None);
}

#[tokio::test]
async fn limits_refuse_oversize_and_mismatched_content_and_keep_the_old_object() {
    let (fs, _dir) = store();
    let k = key("evidence");
    fs.upload(&k, Bytes::from_static(b"old"), PutOptions::default())
        .await
        .unwrap();
    let content = data::random_bytes(2, 10_000);
    let sha = Sha256::digest(&content);

    let too_large = UploadLimits {
        if_absent: false,
        max_size: Some(9_999),
        sha256: Some(sha),
    };
    let err = fs
        .upload_with_limits(
            &k,
            data::once(content.clone()),
            PutOptions::default(),
            too_large,
        )
        .await;
    assert!(
        matches!(err, Err(StorageError::TooLarge { limit: 9_999 })),
        "{err:?}"
    );

    let wrong = Sha256::digest(b"something else");
    let mismatch = UploadLimits {
        if_absent: false,
        max_size: Some(10_000),
        sha256: Some(wrong),
    };
    match fs
        .upload_with_limits(
            &k,
            data::once(content.clone()),
            PutOptions::default(),
            mismatch,
        )
        .await
    {
        Err(StorageError::ChecksumMismatch { expected, actual }) => {
            assert_eq!((expected, actual), (wrong, sha));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        fs.download(&k).await.unwrap(),
        &b"old"[..],
        "old object intact"
    );
    assert!(files_in(&fs.root().join("tmp")).is_empty());

    let exact = UploadLimits {
        if_absent: false,
        max_size: Some(10_000),
        sha256: Some(sha),
    };
    let stored = fs
        .upload_with_limits(
            &k,
            data::once(content.clone()),
            PutOptions::default(),
            exact,
        )
        .await
        .unwrap();
    assert_eq!(stored.sha256, Some(sha));
    assert_eq!(fs.download(&k).await.unwrap(), content);
}

#[tokio::test]
async fn concurrent_overwrites_end_with_one_whole_object_and_no_orphans() {
    let (fs, _dir) = store();
    let k = key("contested");
    let writers = (0..8u64).map(|i| {
        let fs = fs.clone();
        let k = k.clone();
        tokio::spawn(async move {
            fs.upload(
                &k,
                data::random_bytes(i, 200_000 + i as usize),
                PutOptions::default(),
            )
            .await
        })
    });
    for w in writers {
        w.await.unwrap().unwrap();
    }
    let head = fs.head(&k).await.unwrap().unwrap();
    let content = fs.download(&k).await.unwrap();
    assert_eq!(
        Some(Sha256::digest(&content)),
        head.sha256,
        "content matches its manifest"
    );
    assert_eq!(content.len() as u64, head.size);
    assert_eq!(
        files_in(&fs.root().join("blobs")).len(),
        1,
        "replaced blobs are removed"
    );
    fs.delete(&k).await.unwrap();
    assert!(
        files_in(&fs.root().join("blobs")).is_empty(),
        "delete removes the blob"
    );
    assert!(files_in(&fs.root().join("objects")).is_empty());
}

/// A delete prunes the directories it empties; an upload that is making its directories at that
/// moment must still land (found by the command-line client's parallel uploads into one case:
/// completing an upload deletes its staging object, which emptied `uploads/` while another
/// upload was making `uploads/<case>/`, and that upload failed as "not found").
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn uploads_beside_deletes_that_prune_their_directory_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStorage::new(dir.path()).unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                for n in 0..60 {
                    // Each object in a directory of its own: every delete empties `uploads/`
                    // whenever no other object is there.
                    let key = ObjectKey::new(format!("uploads/c{task}-{n}/file")).unwrap();
                    store
                        .upload(
                            &key,
                            Bytes::from_static(b"%PDF-1.7 x"),
                            PutOptions::default(),
                        )
                        .await
                        .map_err(|e| format!("upload {key}: {e}"))?;
                    store
                        .delete(&key)
                        .await
                        .map_err(|e| format!("delete {key}: {e}"))?;
                }
                Ok::<_, String>(())
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
}
