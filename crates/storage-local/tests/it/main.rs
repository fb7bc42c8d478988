//! Integration tests of the local stores (one binary: links once).

mod conformance;
mod fs;
mod mock;
mod presign;
