//! The legal file service end to end on this adapter against its emulator (with the in-memory
//! repository): the same flow suite as the local stores — two-phase and direct uploads,
//! verification failures, access checks, listing, verified downloads, deletes.
use std::sync::Arc;

use casefile_testkit::InMemoryCaseRepository;
use casefile_testkit::service::ServiceEnv;

use crate::common::storage;

casefile_testkit::service_flow_tests!(async {
    ServiceEnv::new(
        Arc::new(storage().await),
        Arc::new(InMemoryCaseRepository::new()),
    )
});
