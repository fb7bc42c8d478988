//! # casefile-persistence
//!
//! Diesel adapters of the [`CaseRepository`](casefile_domain::legal::CaseRepository) port:
//!
//! - `postgres` feature: [`PgCaseRepository`] — `diesel-async`'s `AsyncPgConnection` (pure Rust,
//!   no libpq) in a deadpool pool; row locks through compare-and-set updates.
//! - `sqlite` feature: [`SqliteCaseRepository`] — `SyncConnectionWrapper<SqliteConnection>`
//!   (bundled SQLite, no system library) in a deadpool pool, WAL mode, a busy timeout, and
//!   transactions retried when the single writer is busy.
//!
//! Every state-changing operation of the port is one transaction that writes its audit entry
//! with it. Migrations live in the workspace's `migrations/{postgres,sqlite}` and are embedded
//! in the binary; [`PoolConfig::migrate`] applies them on connect, otherwise connecting to a
//! database whose schema is behind fails with a clear error. Diesel and driver errors never leave
//! this crate: they are mapped to [`PersistenceError`](casefile_domain::legal::PersistenceError)
//! with the original kept as `source`.
#![cfg_attr(not(any(feature = "postgres", feature = "sqlite")), allow(unused))]

mod error;
#[macro_use]
mod repository;
#[cfg(feature = "postgres")]
mod pg;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::time::Duration;

pub use error::schema_behind;
#[cfg(feature = "postgres")]
pub use pg::{MIGRATIONS as PG_MIGRATIONS, PgCaseRepository, run_migrations as run_pg_migrations};
#[cfg(feature = "sqlite")]
pub use sqlite::{
    MIGRATIONS as SQLITE_MIGRATIONS, SqliteCaseRepository, run_migrations as run_sqlite_migrations,
};

/// Settings of a connection pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConfig {
    /// The most connections open at once.
    pub max_size: usize,
    /// How long to wait for a free connection (and for a new one to be made).
    pub timeout: Duration,
    /// Apply pending migrations when connecting (otherwise a schema behind the migrations is an
    /// error).
    pub migrate: bool,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_size: 8,
            timeout: Duration::from_secs(10),
            migrate: false,
        }
    }
}

impl PoolConfig {
    /// These settings, applying migrations on connect.
    pub fn migrating(mut self) -> Self {
        self.migrate = true;
        self
    }
}
