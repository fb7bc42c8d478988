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

/// [`PoolStatus`] from a deadpool status's fields.
macro_rules! pool_status {
    ($status:expr) => {{
        let s = $status;
        $crate::PoolStatus {
            max: s.max_size,
            in_use: s.size.saturating_sub(s.available),
            idle: s.available,
            waiting: s.waiting,
        }
    }};
}

mod error;
#[macro_use]
mod repository;
#[cfg(feature = "postgres")]
mod pg;
#[cfg(feature = "postgres")]
mod pg_tls;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::time::Duration;

pub use error::schema_behind;
#[cfg(feature = "postgres")]
pub use pg::{
    AUDIT_LOCK as PG_AUDIT_LOCK, JOBS_LOCK as PG_JOBS_LOCK, MIGRATION_LOCK as PG_MIGRATION_LOCK,
    MIGRATIONS as PG_MIGRATIONS, PgCaseRepository, PgLeadership,
    run_migrations as run_pg_migrations,
};
#[cfg(feature = "sqlite")]
pub use sqlite::{
    MIGRATIONS as SQLITE_MIGRATIONS, SqliteCaseRepository, run_migrations as run_sqlite_migrations,
};

/// `url` fit to print: the password of a `scheme://user:password@host/…` URL, or the
/// `password=…` of a `key=value` connection string, replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url
            .split_whitespace()
            .map(|pair| match pair.split_once('=') {
                Some(("password", _)) => "password=***",
                _ => pair,
            })
            .collect::<Vec<_>>()
            .join(" ");
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority
        .rsplit_once('@')
        .and_then(|(userinfo, host)| Some((userinfo.split_once(':')?.0, host)))
    {
        Some((user, host)) => format!("{scheme}://{user}:***@{host}{tail}"),
        None => url.to_owned(),
    }
}

/// How a pool's connections are used at this moment (the `casefile_db_pool_*` gauges).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStatus {
    /// The most connections the pool opens.
    pub max: usize,
    /// Connections lent to a query or transaction now.
    pub in_use: usize,
    /// Open connections waiting in the pool.
    pub idle: usize,
    /// Callers waiting for a connection.
    pub waiting: usize,
}

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

/// The least string greater than every string that starts with `prefix`, in byte (= code point)
/// order: the last character that has a successor is incremented and what follows it dropped.
/// `None` when every character is `char::MAX` (no upper bound is needed then).
pub(crate) fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = u32::from(last) + 1;
        if (0xD800..=0xDFFF).contains(&next) {
            next = 0xE000;
        }
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod prefix_tests {
    use super::prefix_successor;

    #[test]
    fn successor_bounds_exactly_the_strings_with_the_prefix() {
        assert_eq!(
            prefix_successor("pleadings/com").as_deref(),
            Some("pleadings/con")
        );
        assert_eq!(prefix_successor("a/").as_deref(), Some("a0"));
        assert_eq!(prefix_successor("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(prefix_successor("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_successor("\u{10FFFF}"), None);
        let upper = prefix_successor("ab").unwrap_or_default();
        for inside in ["ab", "ab/c", "abz", "ab\u{10FFFF}"] {
            assert!(inside >= "ab" && inside < upper.as_str(), "{inside}");
        }
        for outside in ["aa", "ac", "b", "a"] {
            assert!(!(outside >= "ab" && outside < upper.as_str()), "{outside}");
        }
    }
}

#[cfg(test)]
mod redact_tests {
    use super::redact_url;

    #[test]
    fn passwords_never_print() {
        assert_eq!(
            redact_url("postgres://app:s3cr@t@db:5432/cf?sslrootcert=/a@b.pem"),
            "postgres://app:***@db:5432/cf?sslrootcert=/a@b.pem"
        );
        assert_eq!(
            redact_url("postgres://app@db/cf?sslmode=require"),
            "postgres://app@db/cf?sslmode=require",
            "no password: nothing to hide, and no pretend one"
        );
        assert_eq!(
            redact_url("host=db user=app password=hunter2 sslmode=require"),
            "host=db user=app password=*** sslmode=require"
        );
        assert_eq!(
            redact_url("./casefile-data/casefile.db"),
            "./casefile-data/casefile.db"
        );
    }
}
