//! The conformance suite of the [`ObjectStorage`] port.
//!
//! Each case is a `pub async fn` taking `&dyn ObjectStorage`; it panics (with a message naming
//! the backend and what differed) on any deviation from the port's contract. Differences between
//! backends are read from [`ObjectStorage::capabilities`] and checked, never skipped: a backend
//! without presigned uploads must answer `NotSupported`, for instance.
//!
//! Use [`storage_conformance_tests!`](crate::storage_conformance_tests) to get one test per case,
//! or [`run_all`] to run them in sequence.

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use casefile_domain::content::OCTET_STREAM;
use casefile_domain::storage::{
    ByteRange, ListOptions, MAX_PRESIGN_EXPIRY, Metadata, ObjectKey, ObjectStorage,
    ObjectStorageExt, PresignDownloadRequest, PresignUploadRequest, PutOptions, UploadMethod,
};
use casefile_domain::{Sha256, StorageError};
use futures::{StreamExt, TryStreamExt, stream};

use crate::data;

/// The size of the object of [`large_stream_round_trip`]: 32 MiB, past every multipart threshold.
pub const LARGE_OBJECT: u64 = 32 * 1024 * 1024;

/// A random prefix for one case, and the cleanup of everything under it.
pub struct Scope<'a> {
    store: &'a dyn ObjectStorage,
    root: ObjectKey,
}

impl<'a> Scope<'a> {
    /// A fresh prefix `conformance/<uuid>` in `store`.
    pub fn new(store: &'a dyn ObjectStorage) -> Self {
        let root = ObjectKey::new(format!("conformance/{}", uuid::Uuid::new_v4().simple()))
            .expect("the scope prefix is a valid key");
        Self { store, root }
    }

    /// The prefix of this scope.
    pub fn root(&self) -> &ObjectKey {
        &self.root
    }

    /// `name` under the scope's prefix.
    pub fn key(&self, name: &str) -> ObjectKey {
        self.root.join(name).expect("test keys are valid")
    }

    /// Deletes every object under the prefix and checks that none is left.
    pub async fn cleanup(self) {
        let keys: Vec<_> = self
            .store
            .list_all(Some(self.root.clone()), 1000)
            .map_ok(|o| o.key)
            .try_collect()
            .await
            .expect("listing for cleanup");
        stream::iter(keys)
            .for_each_concurrent(16, |key| async move {
                self.store.delete(&key).await.expect("delete for cleanup");
            })
            .await;
        let left = self
            .store
            .list(ListOptions {
                prefix: Some(self.root.clone()),
                ..ListOptions::default()
            })
            .await
            .expect("listing after cleanup");
        assert!(left.objects.is_empty(), "cleanup left {:?}", left.objects);
    }
}

fn name(store: &dyn ObjectStorage) -> &'static str {
    store.backend_name()
}

async fn put(store: &dyn ObjectStorage, key: &ObjectKey, data: impl Into<Bytes>) -> Sha256 {
    let data = data.into();
    let object = store
        .upload(key, data.clone(), PutOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{}: upload {key}: {e}", name(store)));
    assert_eq!(
        object.size,
        data.len() as u64,
        "{}: size of {key}",
        name(store)
    );
    let sha = Sha256::digest(&data);
    assert_eq!(object.sha256, Some(sha), "{}: sha256 of {key}", name(store));
    sha
}

/// Upload and download of random content of several sizes: same bytes, same size, same SHA-256.
pub async fn round_trip(store: &dyn ObjectStorage) {
    let scope = Scope::new(store);
    for (i, size) in [1usize, 1000, 64 * 1024 + 3, 1024 * 1024 + 17]
        .into_iter()
        .enumerate()
    {
        let key = scope.key(&format!("round-trip-{i}"));
        let content = data::random_bytes(i as u64, size);
        let sha = put(store, &key, content.clone()).await;
        let got = store.download(&key).await.expect("download");
        assert!(
            got == content,
            "{}: content of {size} bytes differs",
            name(store)
        );
        let head = store
            .head(&key)
            .await
            .expect("head")
            .expect("object exists");
        assert_eq!(head.size, size as u64);
        assert_eq!(
            head.sha256,
            Some(sha),
            "{}: head reports the SHA-256",
            name(store)
        );
        assert!(head.etag.is_some(), "{}: head reports an ETag", name(store));
        let streamed = store.download_stream(&key, None).await.expect("stream");
        assert_eq!(streamed.range, 0..size as u64);
        let (digest, len) = data::digest_stream(streamed.body).await.expect("body");
        assert_eq!((digest, len), (sha, size as u64));
    }
    scope.cleanup().await;
}

/// A zero-byte object: uploads, has size 0 and the SHA-256 of nothing, downloads empty.
pub async fn empty_object(store: &dyn ObjectStorage) {
    let scope = Scope::new(store);
    let key = scope.key("empty");
    let sha = put(store, &key, Bytes::new()).await;
    assert_eq!(
        sha.to_hex(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let head = store.head(&key).await.expect("head").expect("exists");
    assert_eq!((head.size, head.sha256), (0, Some(sha)));
    assert_eq!(
        head.content_type,
        OCTET_STREAM,
        "{}: empty has no type",
        name(store)
    );
    assert!(store.download(&key).await.expect("download").is_empty());
    let (digest, size) =
        data::digest_stream(store.download_stream(&key, None).await.expect("get").body)
            .await
            .expect("body");
    assert_eq!((digest, size), (sha, 0));
    scope.cleanup().await;
}

/// An object of [`LARGE_OBJECT`] bytes uploaded from a stream of unknown length and read back as
/// a stream, compared by SHA-256 (the two copies are never in memory).
pub async fn large_stream_round_trip(store: &dyn ObjectStorage) {
    let scope = Scope::new(store);
    let key = scope.key("large.bin");
    let chunk = 256 * 1024 + 13; // not a multiple of any part size
    let (expected, size) = data::random_stream_digest(99, LARGE_OBJECT, chunk).await;
    let object = store
        .upload_stream(
            &key,
            data::random_stream(99, LARGE_OBJECT, chunk),
            PutOptions::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{}: streaming upload: {e}", name(store)));
    assert_eq!((object.size, object.sha256), (size, Some(expected)));
    let found = store.download_stream(&key, None).await.expect("download");
    assert_eq!(found.object.size, size);
    let (digest, len) = data::digest_stream(found.body).await.expect("body");
    assert_eq!(
        (digest, len),
        (expected, size),
        "{}: large object differs",
        name(store)
    );
    scope.cleanup().await;
}

/// A stream that fails midway stores nothing and leaves an existing object unchanged.
pub async fn failed_upload_leaves_nothing(store: &dyn ObjectStorage) {
    let scope = Scope::new(store);
    let fresh = scope.key("never-written");
    let err = store
        .upload_stream(
            &fresh,
            data::failing_stream(data::random_bytes(1, 100_000)),
            PutOptions::default(),
        )
        .await
        .expect_err("a failing stream fails the upload");
    assert!(
        matches!(err, StorageError::InvalidInput { field: "body", .. }),
        "{err:?}"
    );
    assert_eq!(
        store.head(&fresh).await.expect("head"),
        None,
        "{}: partial object",
        name(store)
    );

    let existing = scope.key("kept");
    let sha = put(store, &existing, &b"original"[..]).await;
    store
        .upload_stream(
            &existing,
            data::failing_stream(Bytes::from_static(b"new")),
            PutOptions::default(),
        )
        .await
        .expect_err("a failing stream fails the upload");
    assert_eq!(
        store.download(&existing).await.expect("get"),
        &b"original"[..]
    );
    let head = store.head(&existing).await.expect("head").expect("exists");
    assert_eq!(head.sha256, Some(sha));
    scope.cleanup().await;
}

/// Keys with spaces, `#`, `?`, `%`, `+`, `=`, `&`, quotes, non-ASCII letters, CJK and emoji:
/// upload, head, download, list, copy and delete all work; a percent-encoded key is stored
/// literally.
pub async fn special_character_keys(store: &dyn ObjectStorage) {
    let scope = Scope::new(store);
    let names = [
        "with space/file name.txt",
        "sym#bols?q=1&x+y=z%20;',!@$^().txt",
        "I'm a < & weird path.txt",
        "ünïcödé/Straße/Ærøskøbing.txt",
        "日本語/文件.txt",
        "emoji/📁/😀🎉.txt",
        "%48%45%4C%4C%4F",
    ];
    for (i, n) in names.iter().enumerate() {
        let key = scope.key(n);
        let content = format!("content {i}");
        put(store, &key, content.clone()).await;
        assert_eq!(
            store.download(&key).await.expect("get"),
            content.as_bytes(),
            "{n}"
        );
        assert!(store.exists(&key).await.expect("exists"), "{n}");
        let copy = scope.key(&format!("copies/{n}"));
        store
            .copy(&key, &copy)
            .await
            .unwrap_or_else(|e| panic!("copy {n}: {e}"));
        assert_eq!(
            store.download(&copy).await.expect("get copy"),
            content.as_bytes()
        );
    }
    assert!(
        !store.exists(&scope.key("HELLO")).await.expect("exists"),
        "{}: a percent-encoded key was decoded",
        name(store)
    );
    let listed: BTreeSet<String> = store
        .list_all(Some(scope.root().clone()), 1000)
        .map_ok(|o| o.key.to_string())
        .try_collect()
        .await
        .expect("list");
    for n in names {
        assert!(
            listed.contains(scope.key(n).as_str()),
            "{}: {n} not listed",
            name(store)
        );
    }
    let spaced: Vec<_> = store
        .list_all(Some(scope.key("with space")), 1000)
        .map_ok(|o| o.key.to_string())
        .try_collect()
        .await
        .expect("list");
    assert_eq!(
        spaced,
        vec![scope.key("with space/file name.txt").to_string()]
    );
    for n in names {
        store.delete(&scope.key(n)).await.expect("delete");
        assert!(!store.exists(&scope.key(n)).await.expect("exists"));
    }
    scope.cleanup().await;
}

/// A missing key: `head` is `None`, `exists` is `false`, downloads and copies are `NotFound`,
/// delete succeeds (twice).
pub async fn missing_objects(store: &dyn ObjectStorage) {
    let scope = Scope::new(store);
    let missing = scope.key("missing");
    assert_eq!(store.head(&missing).await.expect("head"), None);
    assert!(
        !store.exists(&missing).await.expect("exists"),
        "{}: exists of missing",
        name(store)
    );
    let not_found = |r: Result<_, StorageError>, what: &str| match r {
        Err(StorageError::NotFound { .. }) => {}
        Err(e) => panic!("{}: {what} of a missing key gave {e:?}", name(store)),
        Ok(_) => panic!("{}: {what} of a missing key succeeded", name(store)),
    };
    not_found(store.download(&missing).await.map(|_| ()), "download");
    not_found(
        store.download_stream(&missing, None).await.map(|_| ()),
        "download_stream",
    );
    not_found(
        store
            .download_stream(&missing, Some(ByteRange::bounded(0, 1)))
            .await
            .map(|_| ()),
        "ranged download",
    );
    not_found(
        store.copy(&missing, &scope.key("target")).await.map(|_| ()),
        "copy",
    );
    assert!(!store.exists(&scope.key("target")).await.expect("exists"));
    store
        .delete(&missing)
        .await
        .expect("delete of a missing key");
    store.delete(&missing).await.expect("delete twice");

    let present = scope.key("present");
    put(store, &present, &b"here"[..]).await;
    assert!(store.exists(&present).await.expect("exists"));
    store.delete(&present).await.expect("delete");
    assert!(!store.exists(&present).await.expect("exists after delete"));
    not_found(
        store.download(&present).await.map(|_| ()),
        "download after delete",
    );
    scope.cleanup().await;
}

/// A key that is only the prefix of other keys (a "directory") is no object: `head` is `None`,
/// `exists` is `false`, and deleting it deletes nothing.
pub async fn directory_prefix_is_not_an_object(store: &dyn ObjectStorage) {
    let scope = Scope::new(store);
    put(store, &scope.key("dir/child"), &b"x"[..]).await;
    assert_eq!(
        store.head(&scope.key("dir")).await.expect("head"),
        None,
        "directory prefix"
    );
    assert!(!store.exists(&scope.key("dir")).await.expect("exists"));
    store
        .delete(&scope.key("dir"))
        .await
        .expect("delete of a prefix");
    assert!(
        store.exists(&scope.key("dir/child")).await.expect("exists"),
        "child survives"
    );
    scope.cleanup().await;
}

/// Listing by prefix is by directory: `a/b` lists `a/b/…` and never `a/bc…` or `a/b` itself; a
/// missing prefix is an empty page; keys come in byte order.
pub async fn list_by_prefix(store: &dyn ObjectStorage) {
    let scope = Scope::new(store);
    for n in [
        "a/b/1",
        "a/b/2",
        "a/b/deep/3",
        "a/bc",
        "a/bcd/4",
        "a/b.txt",
        "z",
    ] {
        put(store, &scope.key(n), n.as_bytes().to_vec()).await;
    }
    let keys = |prefix: &str| {
        let prefix = scope.key(prefix);
        async move {
            let page = store
                .list(ListOptions {
                    prefix: Some(prefix),
                    ..ListOptions::default()
                })
                .await
                .expect("list");
            assert_eq!(page.next_token, None);
            page.objects
                .into_iter()
                .map(|o| o.key.to_string())
                .collect::<Vec<_>>()
        }
    };
    let expected: Vec<String> = ["a/b/1", "a/b/2", "a/b/deep/3"]
        .iter()
        .map(|n| scope.key(n).to_string())
        .collect();
    assert_eq!(keys("a/b").await, expected, "{}: prefix a/b", name(store));
    assert_eq!(keys("a/bcd").await, vec![scope.key("a/bcd/4").to_string()]);
    assert!(
        keys("a/bc").await.is_empty(),
        "{}: an object is not its own prefix",
        name(store)
    );
    assert!(keys("nothing/here").await.is_empty(), "missing prefix");
    let all = keys("a").await;
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted, "{}: listing in byte order", name(store));
    assert_eq!(all.len(), 6);
    let page = store
        .list(ListOptions {
            prefix: Some(scope.key("a/b")),
            ..ListOptions::default()
        })
        .await
        .expect("list");
    let first = &page.objects[0];
    assert_eq!(first.size, 5, "{}: listed size", name(store));
    assert!(
        store
            .list(ListOptions {
                max_keys: Some(0),
                ..ListOptions::default()
            })
            .await
            .is_err()
    );
    scope.cleanup().await;
}

/// A key that is also the prefix of other keys (`a` and `a/b`): stored side by side where
/// [`Capabilities::object_under_object`](casefile_domain::storage::Capabilities) says so;
/// otherwise the second write is `AlreadyExists` and the first object is intact.
pub async fn object_and_prefix(store: &dyn ObjectStorage) {
    let scope = Scope::new(store);
    let parent = scope.key("doc");
    let child = scope.key("doc/attachment");
    put(store, &parent, &b"parent"[..]).await;
    let result = store
        .upload(&child, Bytes::from_static(b"child"), PutOptions::default())
        .await;
    if store.capabilities().object_under_object {
        result.unwrap_or_else(|e| panic!("{}: child of an object: {e}", name(store)));
        assert_eq!(store.download(&child).await.expect("child"), &b"child"[..]);
        let listed: Vec<_> = store
            .list_all(Some(parent.clone()), 10)
            .map_ok(|o| o.key)
            .try_collect()
            .await
            .expect("list");
        assert_eq!(listed, vec![child.clone()]);
    } else {
        match result {
            Err(StorageError::AlreadyExists { .. }) => {}
            other => panic!("{}: child of an object gave {other:?}", name(store)),
        }
        assert_eq!(store.head(&child).await.expect("head"), None);
        // And the other way round: an object where others have it as their prefix.
        let other_child = scope.key("folder/file");
        put(store, &other_child, &b"f"[..]).await;
        let clash = store
            .upload(&scope.key("folder"), Bytes::new(), PutOptions::default())
            .await;
        assert!(
            matches!(clash, Err(StorageError::AlreadyExists { .. })),
            "{clash:?}"
        );
        assert_eq!(
            store.download(&other_child).await.expect("intact"),
            &b"f"[..]
        );
    }
    assert_eq!(
        store.download(&parent).await.expect("parent intact"),
        &b"parent"[..]
    );
    scope.cleanup().await;
}

/// 2,500 objects listed with `max_keys` 1000: exactly 3 pages (1000, 1000, 500), every key once,
/// in order; and the same through [`ObjectStorageExt::list_all`].
pub async fn list_pagination(store: &dyn ObjectStorage) {
    let scope = Scope::new(store);
    let expected: Vec<String> = (0..2500)
        .map(|i| scope.key(&format!("item-{i:05}")).to_string())
        .collect();
    stream::iter(expected.iter())
        .for_each_concurrent(32, |k| async move {
            let key = ObjectKey::new(k.as_str()).expect("key");
            store
                .upload(&key, Bytes::from_static(b"x"), PutOptions::default())
                .await
                .expect("put");
        })
        .await;
    let mut pages = Vec::new();
    let mut token = None;
    loop {
        let page = store
            .list(ListOptions {
                prefix: Some(scope.root().clone()),
                max_keys: Some(1000),
                continuation_token: token.take(),
            })
            .await
            .expect("list page");
        pages.push(
            page.objects
                .iter()
                .map(|o| o.key.to_string())
                .collect::<Vec<_>>(),
        );
        match page.next_token {
            Some(t) => token = Some(t),
            None => break,
        }
        assert!(pages.len() <= 3, "{}: more than 3 pages", name(store));
    }
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![1000, 1000, 500], "{}: page sizes", name(store));
    assert_eq!(
        pages.concat(),
        expected,
        "{}: no gap, no duplicate, in order",
        name(store)
    );
    let streamed: Vec<String> = store
        .list_all(Some(scope.root().clone()), 700)
        .map_ok(|o| o.key.to_string())
        .try_collect()
        .await
        .expect("list_all");
    assert_eq!(streamed, expected);
    scope.cleanup().await;
}

/// Copy keeps content, content type, metadata and SHA-256; the source stays; copy overwrites.
pub async fn copy_keeps_attributes(store: &dyn ObjectStorage) {
    let scope = Scope::new(store);
    let from = scope.key("source.bin");
    let metadata = Metadata::from([
        ("case-id".to_owned(), "42".to_owned()),
        ("uploaded_by".to_owned(), "alice".to_owned()),
    ]);
    let options = PutOptions {
        content_type: Some("application/x-casefile-test".to_owned()),
        metadata: metadata.clone(),
    };
    let content = data::random_bytes(3, 5000);
    store
        .upload(&from, content.clone(), options)
        .await
        .expect("put");
    let to = scope.key("copies/target.bin");
    put(store, &to, &b"to be replaced"[..]).await;
    let copied = store.copy(&from, &to).await.expect("copy");
    assert_eq!(copied.key, to);
    let head = store.head(&to).await.expect("head").expect("copy exists");
    assert_eq!(
        head.content_type,
        "application/x-casefile-test",
        "{}: copied type",
        name(store)
    );
    assert_eq!(head.metadata, metadata, "{}: copied metadata", name(store));
    assert_eq!(
        head.sha256,
        Some(Sha256::digest(&content)),
        "{}: copied sha",
        name(store)
    );
    assert_eq!(head.size, 5000);
    assert_eq!(store.download(&to).await.expect("get"), content);
    assert!(store.exists(&from).await.expect("source stays"));
    store.delete(&from).await.expect("delete source");
    assert_eq!(store.download(&to).await.expect("copy survives"), content);
    scope.cleanup().await;
}

/// Uploading over an object replaces content, size, SHA-256, type and metadata.
pub async fn overwrite(store: &dyn ObjectStorage) {
    let scope = Scope::new(store);
    let key = scope.key("doc");
    let first = PutOptions {
        content_type: Some("text/plain".to_owned()),
        metadata: Metadata::from([("version".to_owned(), "1".to_owned())]),
    };
    store
        .upload(&key, Bytes::from_static(b"first version, longer"), first)
        .await
        .expect("put 1");
    let second = PutOptions {
        content_type: Some("application/json".to_owned()),
        metadata: Metadata::from([("version".to_owned(), "2".to_owned())]),
    };
    store
        .upload(&key, Bytes::from_static(b"{\"v\":2}"), second)
        .await
        .expect("put 2");
    assert_eq!(store.download(&key).await.expect("get"), &b"{\"v\":2}"[..]);
    let head = store.head(&key).await.expect("head").expect("exists");
    assert_eq!(head.size, 7);
    assert_eq!(head.sha256, Some(Sha256::digest(b"{\"v\":2}")));
    assert_eq!(head.content_type, "application/json");
    assert_eq!(head.metadata.get("version").map(String::as_str), Some("2"));
    scope.cleanup().await;
}

/// Create-only writes: where the store has them, the first write of a key wins and every later
/// one — sequential or concurrent — gets `AlreadyExists` and changes nothing; elsewhere the call
/// is `NotSupported`.
pub async fn create_only_writes_once(store: &dyn ObjectStorage) {
    let scope = Scope::new(store);
    let key = scope.key("anchor.txt");
    let options = || PutOptions::with_content_type("text/plain");
    if !store.capabilities().create_only {
        let refused = store
            .upload_if_absent(&key, Bytes::from_static(b"one"), options())
            .await;
        assert!(
            matches!(refused, Err(StorageError::NotSupported { .. })),
            "{refused:?}"
        );
        assert!(store.head(&key).await.expect("head").is_none());
        return;
    }
    let first = store
        .upload_if_absent(&key, Bytes::from_static(b"one"), options())
        .await
        .expect("first write");
    assert_eq!(first.sha256, Some(Sha256::digest(b"one")));
    let second = store
        .upload_if_absent(&key, Bytes::from_static(b"two"), options())
        .await;
    assert!(
        matches!(second, Err(StorageError::AlreadyExists { .. })),
        "{second:?}"
    );
    assert_eq!(store.download(&key).await.expect("get"), &b"one"[..]);
    let raced = scope.key("raced.txt");
    let results = futures::future::join_all(
        (0..4u8).map(|i| store.upload_if_absent(&raced, Bytes::from(vec![b'a' + i; 8]), options())),
    )
    .await;
    let won: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(won.len(), 1, "{results:?}");
    assert!(
        results
            .iter()
            .filter(|r| r.is_err())
            .all(|r| matches!(r, Err(StorageError::AlreadyExists { .. }))),
        "{results:?}"
    );
    let kept = store.download(&raced).await.expect("get");
    assert_eq!(Some(Sha256::digest(&kept)), won[0].sha256);
    scope.cleanup().await;
}

/// Content type: the given one wins; else the extension; else the magic bytes (a PDF with no
/// extension); else `application/octet-stream` — for byte and stream uploads alike.
pub async fn content_type_detection(store: &dyn ObjectStorage) {
    let scope = Scope::new(store);
    let pdf =
        Bytes::from_static(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n");
    let cases: [(&str, Option<&str>, Bytes, &str); 5] = [
        (
            "given.pdf",
            Some("text/x-given"),
            pdf.clone(),
            "text/x-given",
        ),
        (
            "by-extension.json",
            None,
            Bytes::from_static(b"\x00\x01 not json"),
            "application/json",
        ),
        ("by-magic", None, pdf.clone(), "application/pdf"),
        (
            "fallback",
            None,
            Bytes::from_static(&[0, 159, 146, 150, 0, 1, 2]),
            OCTET_STREAM,
        ),
        (
            "by-extension.pdf",
            None,
            Bytes::from_static(b"plain text really"),
            "application/pdf",
        ),
    ];
    for (n, given, content, expected) in cases {
        let options = PutOptions {
            content_type: given.map(str::to_owned),
            ..PutOptions::default()
        };
        let key = scope.key(n);
        let stored = store
            .upload(&key, content.clone(), options.clone())
            .await
            .expect("put");
        assert_eq!(
            stored.content_type,
            expected,
            "{}: {n} (bytes)",
            name(store)
        );
        let head = store.head(&key).await.expect("head").expect("exists");
        assert_eq!(head.content_type, expected, "{}: {n} (head)", name(store));
        let streamed_key = scope.key(&format!("streamed/{n}"));
        // Magic detection must look past a first chunk that is too short to tell.
        let (a, b) = content.split_at(3.min(content.len()));
        let body = Box::pin(stream::iter([
            Ok(Bytes::copy_from_slice(a)),
            Ok(Bytes::copy_from_slice(b)),
        ]));
        let stored = store
            .upload_stream(&streamed_key, body, options)
            .await
            .expect("put stream");
        assert_eq!(
            stored.content_type,
            expected,
            "{}: {n} (stream)",
            name(store)
        );
        assert_eq!(
            store.download(&streamed_key).await.expect("get"),
            content,
            "{n}: bytes kept"
        );
    }
    scope.cleanup().await;
}

/// User metadata round-trips exactly; invalid metadata or content type is refused with
/// `InvalidInput` and nothing is written.
pub async fn metadata_and_validation(store: &dyn ObjectStorage) {
    let scope = Scope::new(store);
    let key = scope.key("with-metadata");
    let metadata = Metadata::from([
        ("case-id".to_owned(), "c0ffee".to_owned()),
        (
            "note".to_owned(),
            "Exhibit A: signed 2024-01-02 (copy) & more!".to_owned(),
        ),
        ("x_1".to_owned(), String::new()),
    ]);
    let options = PutOptions {
        content_type: None,
        metadata: metadata.clone(),
    };
    store
        .upload(&key, Bytes::from_static(b"m"), options)
        .await
        .expect("put");
    let head = store.head(&key).await.expect("head").expect("exists");
    assert_eq!(
        head.metadata,
        metadata,
        "{}: metadata round trip",
        name(store)
    );
    let found = store.download_stream(&key, None).await.expect("get");
    assert_eq!(found.object.metadata, metadata);

    let rejected = scope.key("rejected");
    let bad_options = [
        PutOptions {
            metadata: Metadata::from([("Bad Name".to_owned(), "v".to_owned())]),
            ..PutOptions::default()
        },
        PutOptions {
            metadata: Metadata::from([("ok".to_owned(), "line\nbreak".to_owned())]),
            ..PutOptions::default()
        },
        PutOptions {
            metadata: Metadata::from([("casefile-sha256".to_owned(), "0".to_owned())]),
            ..PutOptions::default()
        },
        PutOptions::with_content_type("not a type"),
        PutOptions::with_content_type("text/plain\r\nx-injected: 1"),
    ];
    for options in bad_options {
        let err = store
            .upload(&rejected, Bytes::from_static(b"x"), options.clone())
            .await
            .expect_err("invalid options are refused");
        assert!(
            matches!(err, StorageError::InvalidInput { .. }),
            "{options:?}: {err:?}"
        );
        assert_eq!(
            store.head(&rejected).await.expect("head"),
            None,
            "nothing written"
        );
    }
    scope.cleanup().await;
}

/// Ranged reads: start, middle, end, clamped end, suffix, offset; past the end is
/// `RangeNotSatisfiable` and an empty range `InvalidInput`.
pub async fn ranged_reads(store: &dyn ObjectStorage) {
    let scope = Scope::new(store);
    let key = scope.key("ranged");
    let content = data::random_bytes(5, 100_000);
    put(store, &key, content.clone()).await;
    let cases = [
        (ByteRange::bounded(0, 10), 0..10),
        (ByteRange::bounded(2, 5), 2..5),
        (ByteRange::bounded(50_000, 50_001), 50_000..50_001),
        (ByteRange::bounded(99_990, 100_000), 99_990..100_000),
        (ByteRange::bounded(99_990, 200_000), 99_990..100_000),
        (ByteRange::From(70_000), 70_000..100_000),
        (ByteRange::Suffix(2), 99_998..100_000),
    ];
    for (range, expected) in cases {
        let found = store
            .download_stream(&key, Some(range))
            .await
            .expect("ranged get");
        assert_eq!(
            found.range,
            expected.clone(),
            "{}: range {range}",
            name(store)
        );
        assert_eq!(
            found.object.size,
            100_000,
            "{}: full size reported",
            name(store)
        );
        let body: Vec<Bytes> = found.body.try_collect().await.expect("body");
        let (s, e) = (expected.start as usize, expected.end as usize);
        assert!(
            body.concat() == content[s..e],
            "{}: bytes of {range}",
            name(store)
        );
        assert_eq!(
            store.download_range(&key, range).await.expect("range"),
            content.slice(s..e)
        );
    }
    for range in [
        ByteRange::From(100_000),
        ByteRange::bounded(100_000, 100_010),
        ByteRange::From(200_000),
    ] {
        match store.download_stream(&key, Some(range)).await {
            Err(StorageError::RangeNotSatisfiable { size: 100_000, .. }) => {}
            other => panic!("{}: {range} gave {:?}", name(store), other.map(|o| o.range)),
        }
    }
    for range in [
        ByteRange::bounded(5, 5),
        ByteRange::bounded(6, 5),
        ByteRange::Suffix(0),
    ] {
        match store.download_stream(&key, Some(range)).await {
            Err(StorageError::InvalidInput { field: "range", .. }) => {}
            other => panic!("{}: {range} gave {:?}", name(store), other.map(|o| o.range)),
        }
    }
    scope.cleanup().await;
}

/// A suffix range longer than the object is the whole object (as HTTP says).
pub async fn suffix_longer_than_object(store: &dyn ObjectStorage) {
    let scope = Scope::new(store);
    let key = scope.key("short");
    put(store, &key, &b"0123456789"[..]).await;
    let found = store
        .download_stream(&key, Some(ByteRange::Suffix(500)))
        .await
        .unwrap_or_else(|e| panic!("{}: suffix past the start: {e}", name(store)));
    assert_eq!(found.range, 0..10);
    let body: Vec<Bytes> = found.body.try_collect().await.expect("body");
    assert_eq!(body.concat(), b"0123456789");
    scope.cleanup().await;
}

/// Invalid keys never reach a backend: [`ObjectKey`] refuses them with `InvalidKey`.
pub async fn invalid_keys_rejected(store: &dyn ObjectStorage) {
    let scope = Scope::new(store);
    for bad in [
        "",
        "/abs",
        "../x",
        "a/../../x",
        "./x",
        "a//b",
        "a/",
        "C:\\x",
        "..\\..\\x",
        "a\0b",
        "a\rb",
        "a\nb",
        "a\u{7f}b",
    ] {
        assert!(
            matches!(ObjectKey::new(bad), Err(StorageError::InvalidKey { .. })),
            "{bad:?} accepted as a key"
        );
    }
    assert!(ObjectKey::new("k".repeat(1025)).is_err());
    assert!(scope.root().join("..").is_err());
    // Nothing was written under the scope by any of it.
    let page = store
        .list(ListOptions {
            prefix: Some(scope.root().clone()),
            ..ListOptions::default()
        })
        .await
        .expect("list");
    assert!(page.objects.is_empty());
    scope.cleanup().await;
}

/// Presigned URLs: as the capabilities say. Supported: a URL with the right method, fields or
/// headers carrying the content type, and an expiry in the future; expiry over 7 days or zero
/// refused. Unsupported: `NotSupported`.
pub async fn presigned_urls(store: &dyn ObjectStorage) {
    let scope = Scope::new(store);
    let key = scope.key("presigned/file name.pdf");
    let caps = store.capabilities();
    let upload = |expires_in| PresignUploadRequest {
        content_type: "application/pdf".to_owned(),
        expires_in,
        max_size: 1234,
        sha256: Some(Sha256::digest(b"x")),
    };
    let before = chrono::Utc::now();
    match (
        caps.presigned_upload,
        store
            .presigned_upload(&key, upload(Duration::from_secs(900)))
            .await,
    ) {
        (Some(method), Ok(p)) => {
            assert_eq!(p.method, method);
            assert!(
                p.url.starts_with("http://") || p.url.starts_with("https://"),
                "{}",
                p.url
            );
            let carries_type = match method {
                UploadMethod::Post => p.fields.values().any(|v| v == "application/pdf"),
                UploadMethod::Put => p.headers.values().any(|v| v == "application/pdf"),
            };
            assert!(
                carries_type,
                "{}: presigned upload binds the content type",
                name(store)
            );
            let lifetime = p.expires_at - before;
            assert!(
                lifetime > chrono::Duration::seconds(890)
                    && lifetime <= chrono::Duration::seconds(901)
            );
        }
        (None, Err(StorageError::NotSupported { .. })) => {}
        (caps, other) => panic!(
            "{}: capability {caps:?} but presign gave {other:?}",
            name(store)
        ),
    }
    for bad in [Duration::ZERO, MAX_PRESIGN_EXPIRY + Duration::from_secs(1)] {
        let err = store
            .presigned_upload(&key, upload(bad))
            .await
            .expect_err("bad expiry");
        assert!(
            matches!(
                err,
                StorageError::InvalidInput { .. } | StorageError::NotSupported { .. }
            ),
            "{err:?}"
        );
    }
    let download = PresignDownloadRequest {
        expires_in: Duration::from_secs(300),
        file_name: Some("Exhibit A.pdf".to_owned()),
    };
    match (
        caps.presigned_download,
        store.presigned_download(&key, download).await,
    ) {
        (true, Ok(p)) => {
            assert!(p.url.starts_with("http"), "{}", p.url);
            assert!(p.expires_at > before);
        }
        (false, Err(StorageError::NotSupported { .. })) => {}
        (caps, other) => panic!(
            "{}: capability {caps} but presign gave {other:?}",
            name(store)
        ),
    }
    let too_long = PresignDownloadRequest {
        expires_in: MAX_PRESIGN_EXPIRY * 2,
        file_name: None,
    };
    assert!(store.presigned_download(&key, too_long).await.is_err());
    scope.cleanup().await;
}

/// What a conformance test runs against: a store, possibly with something to keep alive beside it.
pub trait Fixture: Send + Sync {
    /// The store under test.
    fn storage(&self) -> &dyn ObjectStorage;
}

impl<T: ObjectStorage> Fixture for T {
    fn storage(&self) -> &dyn ObjectStorage {
        self
    }
}

/// A store with a guard (a `TempDir`, a server handle, ...) dropped after the test.
pub struct Guarded<T, G>(pub T, pub G);

impl<T: ObjectStorage, G: Send + Sync> Fixture for Guarded<T, G> {
    fn storage(&self) -> &dyn ObjectStorage {
        &self.0
    }
}

/// Every case in sequence, against one store.
pub async fn run_all(store: &dyn ObjectStorage) {
    round_trip(store).await;
    empty_object(store).await;
    large_stream_round_trip(store).await;
    failed_upload_leaves_nothing(store).await;
    special_character_keys(store).await;
    missing_objects(store).await;
    directory_prefix_is_not_an_object(store).await;
    list_by_prefix(store).await;
    object_and_prefix(store).await;
    list_pagination(store).await;
    copy_keeps_attributes(store).await;
    overwrite(store).await;
    content_type_detection(store).await;
    metadata_and_validation(store).await;
    ranged_reads(store).await;
    suffix_longer_than_object(store).await;
    invalid_keys_rejected(store).await;
    presigned_urls(store).await;
}

/// Generates one `#[tokio::test]` per conformance case, in a module `conformance`.
///
/// `$fixture` is an async expression evaluated once per test, yielding a [`Fixture`]: a store, or
/// a [`Guarded`] store that keeps a `TempDir` or server handle alive:
///
/// ```text
/// casefile_testkit::storage_conformance_tests!(async { MemoryStorage::new() });
/// ```
#[macro_export]
macro_rules! storage_conformance_tests {
    ($fixture:expr) => {
        $crate::storage_conformance_tests!(@cases $fixture;
            round_trip, empty_object, large_stream_round_trip, failed_upload_leaves_nothing,
            special_character_keys, missing_objects, directory_prefix_is_not_an_object,
            list_by_prefix, object_and_prefix, list_pagination, copy_keeps_attributes, overwrite,
            content_type_detection, metadata_and_validation, ranged_reads,
            suffix_longer_than_object, invalid_keys_rejected, presigned_urls,
            create_only_writes_once);
    };
    (@cases $fixture:expr; $($case:ident),* $(,)?) => {
        mod conformance {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let fixture = $fixture.await;
                    $crate::storage::$case($crate::storage::Fixture::storage(&fixture)).await;
                }
            )*
        }
    };
}
