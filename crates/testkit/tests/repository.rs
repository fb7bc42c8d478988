//! The in-memory fake passes the repository conformance suite, like the database adapters.

use std::sync::Arc;

use casefile_domain::legal::CaseRepository;
use casefile_testkit::InMemoryCaseRepository;

casefile_testkit::repository_conformance_tests!(async {
    Arc::new(InMemoryCaseRepository::new()) as Arc<dyn CaseRepository>
});
