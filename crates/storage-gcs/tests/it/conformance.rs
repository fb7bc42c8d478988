//! The storage conformance suite against fake-gcs-server.
use crate::common::storage;

casefile_testkit::storage_conformance_tests!(storage());
