//! The legal file service, end to end, on the local stores and the in-memory repository.

mod on_memory {
    use std::sync::Arc;

    use casefile_storage_local::MemoryStorage;
    use casefile_testkit::InMemoryCaseRepository;
    use casefile_testkit::service::ServiceEnv;

    casefile_testkit::service_flow_tests!(async {
        ServiceEnv::new(
            Arc::new(MemoryStorage::new()),
            Arc::new(InMemoryCaseRepository::new()),
        )
    });
}

mod on_fs {
    use std::sync::Arc;

    use casefile_storage_local::FsStorage;
    use casefile_testkit::InMemoryCaseRepository;
    use casefile_testkit::service::ServiceEnv;

    struct Env(ServiceEnv, #[allow(dead_code)] tempfile::TempDir);

    impl std::ops::Deref for Env {
        type Target = ServiceEnv;
        fn deref(&self) -> &ServiceEnv {
            &self.0
        }
    }

    async fn env() -> Env {
        let dir = tempfile::tempdir().expect("dir");
        let store = FsStorage::new(dir.path()).expect("fs");
        Env(
            ServiceEnv::new(Arc::new(store), Arc::new(InMemoryCaseRepository::new())),
            dir,
        )
    }

    casefile_testkit::service_flow_tests!(env());
}
