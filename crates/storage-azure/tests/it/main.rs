//! casefile-storage-azure against Azurite, which checks SharedKey and SAS signatures,
//! permissions, expiry and blob scope. `cargo xtask test` starts it and sets
//! `CASEFILE_TEST_AZURE_ENDPOINT`; without it these tests fail (they never skip).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod azure;
mod common;
mod conformance;
mod service;
