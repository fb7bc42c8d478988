//! Memory stays bounded: 256 MiB streamed through `FsStorage`, up and down, with peak RSS growth
//! under 64 MiB, measured by `casefile_testkit::memory::peak_rss_growth` (Linux `VmHWM` after
//! `clear_refs`, against `VmRSS` before). This file holds a single test, so no other test shares
//! the process while it measures.

use casefile_domain::storage::{ObjectKey, ObjectStorage, PutOptions};
use casefile_storage_local::FsStorage;
use casefile_testkit::data;
use casefile_testkit::memory::peak_rss_growth;

const SIZE: u64 = 256 * 1024 * 1024;
const LIMIT: u64 = 64 * 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_256_mib_through_fs_storage_keeps_rss_growth_under_64_mib() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = FsStorage::new(dir.path()).expect("store");
    let key = ObjectKey::new("large/evidence.bin").expect("key");
    let chunk = 64 * 1024;
    let (expected, _) = data::random_stream_digest(42, SIZE, chunk).await;
    let (_, growth) = peak_rss_growth(async {
        let stored = store
            .upload_stream(
                &key,
                data::random_stream(42, SIZE, chunk),
                PutOptions::default(),
            )
            .await
            .expect("upload");
        assert_eq!((stored.size, stored.sha256), (SIZE, Some(expected)));
        let found = store.download_stream(&key, None).await.expect("download");
        let (digest, size) = data::digest_stream(found.body).await.expect("body");
        assert_eq!((digest, size), (expected, SIZE));
    })
    .await;
    eprintln!(
        "peak RSS growth while streaming 256 MiB: {} KiB",
        growth / 1024
    );
    assert!(
        growth < LIMIT,
        "peak RSS grew by {} MiB",
        growth / (1024 * 1024)
    );
}
