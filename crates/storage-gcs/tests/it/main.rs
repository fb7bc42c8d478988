//! casefile-storage-gcs against fake-gcs-server. It does not check signatures or expiry, so
//! signing is proven offline by the conformance vectors (unit tests of `v4`); here the signed
//! URLs are exercised as a client would use them. `cargo xtask test` starts the server and sets
//! `CASEFILE_TEST_GCS_ENDPOINT`; without it these tests fail (they never skip).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod conformance;
mod gcs;
mod holds;
mod service;
