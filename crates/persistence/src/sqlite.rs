//! SQLite: [`SqliteCaseRepository`], the embedded default.

use std::time::Duration;

use casefile_domain::legal::PersistenceError;
use diesel::{Connection, SqliteConnection};
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, SimpleAsyncConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures::FutureExt;

use crate::PoolConfig;
use crate::error::{schema_behind, unavailable};

/// The SQLite migrations (`migrations/sqlite`), embedded.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// How long a connection waits for the write lock before SQLite answers busy.
const BUSY_TIMEOUT_MS: u32 = 5_000;
/// How often a transaction refused as busy is tried again.
const MAX_BUSY_RETRIES: u32 = 20;

mod schema {
    diesel::table! {
        cases (id) {
            id -> Text,
            owner_id -> Text,
            title -> Text,
            file_count -> BigInt,
            total_size_bytes -> BigInt,
            created_at -> TimestamptzSqlite,
            updated_at -> TimestamptzSqlite,
            retain_until -> Nullable<TimestamptzSqlite>,
        }
    }
    diesel::table! {
        case_files (id) {
            id -> Text,
            case_id -> Text,
            logical_path -> Text,
            file_name -> Text,
            mime_type -> Text,
            declared_size -> BigInt,
            actual_size -> Nullable<BigInt>,
            sha256 -> Text,
            storage_key -> Text,
            status -> Text,
            uploaded_by -> Text,
            created_at -> TimestamptzSqlite,
            updated_at -> TimestamptzSqlite,
            completed_at -> Nullable<TimestamptzSqlite>,
            purged_at -> Nullable<TimestamptzSqlite>,
            retain_until -> Nullable<TimestamptzSqlite>,
        }
    }
    diesel::table! {
        audit_log (seq) {
            seq -> BigInt,
            id -> Text,
            at -> TimestamptzSqlite,
            actor_id -> Nullable<Text>,
            case_id -> Nullable<Text>,
            file_id -> Nullable<Text>,
            action -> Text,
            outcome -> Text,
            details -> Nullable<Text>,
            log_index -> Nullable<BigInt>,
        }
    }
    diesel::table! {
        audit_checkpoints (tree_size) {
            tree_size -> BigInt,
            note -> Text,
            made_at -> TimestamptzSqlite,
        }
    }
    diesel::table! {
        audit_tree (idx) {
            idx -> BigInt,
            hash -> Binary,
        }
    }
    diesel::table! {
        audit_log_head (id) {
            id -> Integer,
            tree_size -> BigInt,
        }
    }
    diesel::table! {
        case_members (case_id, user_id) {
            case_id -> Text,
            user_id -> Text,
            role -> Text,
            granted_by -> Nullable<Text>,
            added_at -> TimestamptzSqlite,
            updated_at -> TimestamptzSqlite,
        }
    }
    diesel::table! {
        users (id) {
            id -> Text,
            display_name -> Nullable<Text>,
            email -> Nullable<Text>,
            updated_at -> TimestamptzSqlite,
        }
    }
    diesel::table! {
        legal_holds (id) {
            id -> Text,
            case_id -> Text,
            scope -> Text,
            path_prefix -> Nullable<Text>,
            name -> Text,
            reason -> Text,
            placed_by -> Text,
            placed_at -> TimestamptzSqlite,
            released_by -> Nullable<Text>,
            released_at -> Nullable<TimestamptzSqlite>,
            release_reason -> Nullable<Text>,
        }
    }
    diesel::table! {
        legal_hold_files (hold_id, file_id) {
            hold_id -> Text,
            file_id -> Text,
        }
    }
    diesel::table! {
        scrub_runs (id) {
            id -> Text,
            case_id -> Nullable<Text>,
            started_at -> TimestamptzSqlite,
            heartbeat_at -> TimestamptzSqlite,
            finished_at -> Nullable<TimestamptzSqlite>,
            checked -> BigInt,
            failed -> BigInt,
            bytes -> BigInt,
        }
    }
    diesel::table! {
        file_fixity (file_id) {
            file_id -> Text,
            run_id -> Text,
            verified_at -> TimestamptzSqlite,
            outcome -> Text,
        }
    }
    diesel::joinable!(case_members -> cases (case_id));
    diesel::allow_tables_to_appear_in_same_query!(
        cases,
        case_files,
        audit_log,
        case_members,
        users,
        legal_holds,
        legal_hold_files,
        scrub_runs,
        file_fixity
    );
}

type Id = String;
type Conn = SyncConnectionWrapper<SqliteConnection>;

fn to_id(id: uuid::Uuid) -> Id {
    id.hyphenated().to_string()
}

fn from_id(id: &Id) -> Result<uuid::Uuid, PersistenceError> {
    uuid::Uuid::parse_str(id).map_err(|e| crate::error::corrupt(format!("stored id {id:?}: {e}")))
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(u64::from(attempt.min(10)) * 5 + u64::from(rand_jitter()))
}

fn rand_jitter() -> u8 {
    // Spread retries of concurrent writers; the low bits of the clock are enough.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    (nanos % 7) as u8
}

/// Runs `$body` (with `$conn` bound to a connection) in one transaction, again when SQLite's
/// single writer is busy.
macro_rules! in_tx {
    ($self:ident, $conn:ident => $body:expr) => {{
        let mut attempt = 0u32;
        loop {
            let mut pooled = $self.conn().await?;
            let result: Result<_, TxError> = pooled.transaction(async |$conn| $body).await;
            match result {
                Err(e) if crate::error::is_busy(&e) && attempt < MAX_BUSY_RETRIES => {
                    attempt += 1;
                    drop(pooled);
                    tokio::time::sleep(backoff(attempt)).await;
                }
                other => break other.map_err(Into::into),
            }
        }
    }};
}

/// The repository port on SQLite: one file, WAL mode, a busy timeout, retried writes.
#[derive(Clone)]
pub struct SqliteCaseRepository {
    pool: Pool<Conn>,
}

impl std::fmt::Debug for SqliteCaseRepository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteCaseRepository")
            .field("pool", &self.pool.status())
            .finish()
    }
}

async fn establish(path: String) -> diesel::ConnectionResult<Conn> {
    let mut conn = Conn::establish(&path).await?;
    conn.batch_execute(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
         PRAGMA busy_timeout = {BUSY_TIMEOUT_MS};"
    ))
    .await
    .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
    Ok(conn)
}

impl SqliteCaseRepository {
    /// Opens (creating it if missing) the database file at `path`, checks that the schema is
    /// current (or migrates it when `config.migrate`), and keeps a pool of connections.
    ///
    /// # Errors
    /// [`PersistenceError::Unavailable`] when the file cannot be opened or its schema is behind.
    pub async fn connect(path: &str, config: PoolConfig) -> Result<Self, PersistenceError> {
        run_migrations(path, config.migrate).await?;
        let mut manager_config = ManagerConfig::default();
        manager_config.custom_setup = Box::new(|url| establish(url.to_owned()).boxed());
        let manager = AsyncDieselConnectionManager::<Conn>::new_with_config(path, manager_config);
        let pool = Pool::builder(manager)
            .max_size(config.max_size)
            .wait_timeout(Some(config.timeout))
            .create_timeout(Some(config.timeout))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| unavailable("cannot build the SQLite pool", e))?;
        let repo = Self { pool };
        drop(repo.conn().await?);
        Ok(repo)
    }

    /// How the pool's connections are used now.
    pub fn pool_status(&self) -> crate::PoolStatus {
        pool_status!(self.pool.status())
    }

    async fn conn(&self) -> Result<Object<Conn>, PersistenceError> {
        self.pool
            .get()
            .await
            .map_err(|e| unavailable("no SQLite connection available", e))
    }
}

/// Applies (when `apply`) or checks the migrations of the database file at `path`; returns how
/// many were applied.
///
/// # Errors
/// [`PersistenceError::Unavailable`] when the file cannot be opened, a migration fails, or
/// (without `apply`) migrations are pending.
pub async fn run_migrations(path: &str, apply: bool) -> Result<usize, PersistenceError> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut conn = SqliteConnection::establish(&path)
            .map_err(|e| unavailable(format!("cannot open the SQLite database {path}"), e))?;
        // Another process (a second instance, a command) may hold the write lock for a moment.
        diesel::connection::SimpleConnection::batch_execute(
            &mut conn,
            &format!("PRAGMA busy_timeout = {BUSY_TIMEOUT_MS};"),
        )
        .map_err(|e| unavailable("cannot set the SQLite busy timeout", e))?;
        let pending = conn
            .pending_migrations(MIGRATIONS)
            .map_err(|e| migration("cannot read the applied migrations", e))?
            .len();
        if pending == 0 {
            return Ok(0);
        }
        if !apply {
            return Err(schema_behind(pending));
        }
        conn.run_pending_migrations(MIGRATIONS)
            .map_err(|e| migration("a migration failed", e))?;
        Ok(pending)
    })
    .await
    .map_err(crate::error::backend)?
}

fn migration(what: &str, e: Box<dyn std::error::Error + Send + Sync>) -> PersistenceError {
    PersistenceError::Unavailable {
        message: what.to_owned(),
        source: Some(e),
    }
}

/// SQLite has one writer at a time: `seq` is commit order already.
#[allow(clippy::unused_async)]
async fn serialize_audit(_conn: &mut Conn) -> Result<(), crate::error::TxError> {
    Ok(())
}

diesel_repository!(SqliteCaseRepository);
