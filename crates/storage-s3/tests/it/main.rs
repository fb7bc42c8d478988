//! casefile-storage-s3 against s3s-fs, an S3 server that checks SigV4 signatures, expiry and
//! POST policies. `cargo xtask test` starts it and sets `CASEFILE_TEST_S3_ENDPOINT`; without
//! it these tests fail (they never skip). Object Lock runs against moto server
//! (`CASEFILE_TEST_S3_LOCK_ENDPOINT`), which enforces it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod conformance;
mod object_lock;
mod presign;
mod s3;
mod service;
