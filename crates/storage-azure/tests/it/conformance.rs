//! The whole storage conformance suite against Azurite.
use crate::common::storage;

casefile_testkit::storage_conformance_tests!(storage());
