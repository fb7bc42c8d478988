//! The persistence adapters against real databases: SQLite files, and PostgreSQL (a fresh
//! database per test, on the server of `CASEFILE_TEST_DATABASE_URL`, by default
//! `postgres://postgres@127.0.0.1:5432/postgres`). A server that does not answer fails the
//! tests: they never skip.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(feature = "postgres")]
mod pg;
#[cfg(feature = "sqlite")]
mod sqlite;
