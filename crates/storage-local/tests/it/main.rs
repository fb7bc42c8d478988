//! Integration tests of the local stores (one binary: links once).
#![allow(clippy::unwrap_used)] // test helpers may panic

mod conformance;
mod fs;
mod mock;
mod presign;
mod service;
