//! Mapping of Diesel, pool and migration errors to the domain's `PersistenceError`.

use casefile_domain::legal::PersistenceError;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// An error inside a transaction: a driver error, or a domain answer that rolls it back.
#[derive(Debug)]
pub(crate) enum TxError {
    Diesel(DieselError),
    Domain(PersistenceError),
}

impl From<DieselError> for TxError {
    fn from(e: DieselError) -> Self {
        Self::Diesel(e)
    }
}

impl From<PersistenceError> for TxError {
    fn from(e: PersistenceError) -> Self {
        Self::Domain(e)
    }
}

impl From<TxError> for PersistenceError {
    fn from(e: TxError) -> Self {
        match e {
            TxError::Diesel(e) => map_diesel(e),
            TxError::Domain(e) => e,
        }
    }
}

pub(crate) fn not_found(what: &str) -> PersistenceError {
    PersistenceError::NotFound {
        what: what.to_owned(),
    }
}

pub(crate) fn conflict(what: impl Into<String>) -> PersistenceError {
    PersistenceError::Conflict { what: what.into() }
}

pub(crate) fn backend(e: impl std::error::Error + Send + Sync + 'static) -> PersistenceError {
    PersistenceError::Backend {
        source: Box::new(e),
    }
}

pub(crate) fn corrupt(what: String) -> PersistenceError {
    PersistenceError::Backend {
        source: what.into(),
    }
}

pub(crate) fn unavailable(
    message: impl Into<String>,
    source: impl std::error::Error + Send + Sync + 'static,
) -> PersistenceError {
    PersistenceError::Unavailable {
        message: message.into(),
        source: Some(Box::new(source)),
    }
}

/// The error for a database whose schema is behind the embedded migrations.
pub fn schema_behind(pending: usize) -> PersistenceError {
    PersistenceError::Unavailable {
        message: format!(
            "the database schema is behind: {pending} migration(s) pending; run `cargo xtask \
             migrate` (or connect with migrations enabled)"
        ),
        source: None,
    }
}

/// Diesel errors to domain errors, once, keeping the original.
pub(crate) fn map_diesel(e: DieselError) -> PersistenceError {
    match e {
        DieselError::NotFound => not_found("row"),
        // The driver's message names constraints and tables: it stays out of the error, whose
        // text may reach a client.
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
            conflict("another record already holds this unique value")
        }
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
            not_found("referenced row")
        }
        DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => {
            unavailable("the database connection closed", e)
        }
        // The preservation triggers (legal holds, retention): a refusal, not a failure.
        DieselError::DatabaseError(_, ref info) if info.message().contains("held or retained") => {
            conflict("the file is held or retained")
        }
        DieselError::DatabaseError(_, ref info) if info.message().starts_with("casefile: ") => {
            conflict(info.message().trim_start_matches("casefile: ").to_owned())
        }
        other => backend(other),
    }
}

/// Whether SQLite refused because another writer holds the lock (worth retrying).
#[cfg(feature = "sqlite")]
pub(crate) fn is_busy(e: &TxError) -> bool {
    match e {
        TxError::Diesel(DieselError::DatabaseError(_, info)) => {
            let m = info.message();
            m.contains("database is locked") || m.contains("busy")
        }
        _ => false,
    }
}
