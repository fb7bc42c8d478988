//! # casefile-testkit
//!
//! Shared test support for casefile's adapters and services (a dev-dependency only):
//!
//! - [`storage`]: the conformance suite of the
//!   [`ObjectStorage`](casefile_domain::storage::ObjectStorage) port — one `pub async fn` per
//!   behaviour, a [`storage::run_all`], and the [`storage_conformance_tests!`] macro that turns the
//!   suite into one `#[test]` per case for a backend;
//! - [`data`]: deterministic test content, generated as streams so that large objects never sit
//!   in memory.
//!
//! Every case runs under its own random prefix and deletes what it wrote, so cases can run in
//! parallel against one bucket.

pub mod data;
pub mod storage;
