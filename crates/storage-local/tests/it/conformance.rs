//! The whole storage conformance suite against both local stores.

mod memory {
    use casefile_storage_local::MemoryStorage;
    casefile_testkit::storage_conformance_tests!(async { MemoryStorage::new() });
}

mod fs {
    use casefile_storage_local::FsStorage;
    use casefile_testkit::storage::Guarded;

    async fn fixture() -> Guarded<FsStorage, tempfile::TempDir> {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = FsStorage::new(dir.path()).expect("fs store");
        Guarded(store, dir)
    }

    casefile_testkit::storage_conformance_tests!(fixture());
}

#[tokio::test]
async fn run_all_in_sequence_on_memory() {
    let store = casefile_storage_local::MemoryStorage::new();
    casefile_testkit::storage::run_all(&store).await;
}
