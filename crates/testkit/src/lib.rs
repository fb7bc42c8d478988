//! # casefile-testkit
//!
//! Shared test support for casefile's adapters and services (a dev-dependency only):
//!
//! - [`storage`]: the conformance suite of the
//!   [`ObjectStorage`](casefile_domain::storage::ObjectStorage) port — one `pub async fn` per
//!   behaviour, a [`storage::run_all`], and the [`storage_conformance_tests!`] macro that turns the
//!   suite into one `#[test]` per case for a backend;
//! - [`repository`]: the conformance suite of the
//!   [`CaseRepository`](casefile_domain::legal::CaseRepository) port, and
//!   [`InMemoryCaseRepository`], the fake that passes it;
//! - [`service`]: the legal file service end to end on real ports;
//! - [`data`]: deterministic test content, generated as streams so that large objects never sit
//!   in memory.
//!
//! Every case runs under its own random prefix and deletes what it wrote, so cases can run in
//! parallel against one bucket.

pub mod data;
pub mod files;
pub mod memory;
mod memory_repository;
pub mod repository;
pub mod service;
pub mod storage;

pub use memory_repository::InMemoryCaseRepository;
