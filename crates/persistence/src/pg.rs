//! PostgreSQL: [`PgCaseRepository`].

use casefile_domain::legal::PersistenceError;
use std::sync::Arc;

use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::{AsyncConnection, AsyncMigrationHarness, AsyncPgConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures::FutureExt;

use crate::PoolConfig;
use crate::error::{schema_behind, unavailable};
use crate::pg_tls::PgTarget;

/// The PostgreSQL migrations (`migrations/postgres`), embedded.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

mod schema {
    diesel::table! {
        cases (id) {
            id -> Uuid,
            owner_id -> Uuid,
            title -> Text,
            file_count -> BigInt,
            total_size_bytes -> BigInt,
            created_at -> Timestamptz,
            updated_at -> Timestamptz,
            retain_until -> Nullable<Timestamptz>,
        }
    }
    diesel::table! {
        case_files (id) {
            id -> Uuid,
            case_id -> Uuid,
            logical_path -> Text,
            file_name -> Text,
            mime_type -> Text,
            declared_size -> BigInt,
            actual_size -> Nullable<BigInt>,
            sha256 -> Text,
            storage_key -> Text,
            status -> Text,
            uploaded_by -> Uuid,
            created_at -> Timestamptz,
            updated_at -> Timestamptz,
            completed_at -> Nullable<Timestamptz>,
            purged_at -> Nullable<Timestamptz>,
            retain_until -> Nullable<Timestamptz>,
        }
    }
    diesel::table! {
        audit_log (seq) {
            seq -> BigInt,
            id -> Uuid,
            at -> Timestamptz,
            actor_id -> Nullable<Uuid>,
            case_id -> Nullable<Uuid>,
            file_id -> Nullable<Uuid>,
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
            made_at -> Timestamptz,
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
            id -> SmallInt,
            tree_size -> BigInt,
        }
    }
    diesel::table! {
        case_members (case_id, user_id) {
            case_id -> Uuid,
            user_id -> Uuid,
            role -> Text,
            granted_by -> Nullable<Uuid>,
            added_at -> Timestamptz,
            updated_at -> Timestamptz,
        }
    }
    diesel::table! {
        users (id) {
            id -> Uuid,
            display_name -> Nullable<Text>,
            email -> Nullable<Text>,
            updated_at -> Timestamptz,
        }
    }
    diesel::table! {
        legal_holds (id) {
            id -> Uuid,
            case_id -> Uuid,
            scope -> Text,
            path_prefix -> Nullable<Text>,
            name -> Text,
            reason -> Text,
            placed_by -> Uuid,
            placed_at -> Timestamptz,
            released_by -> Nullable<Uuid>,
            released_at -> Nullable<Timestamptz>,
            release_reason -> Nullable<Text>,
        }
    }
    diesel::table! {
        legal_hold_files (hold_id, file_id) {
            hold_id -> Uuid,
            file_id -> Uuid,
        }
    }
    diesel::table! {
        scrub_runs (id) {
            id -> Uuid,
            case_id -> Nullable<Uuid>,
            started_at -> Timestamptz,
            heartbeat_at -> Timestamptz,
            finished_at -> Nullable<Timestamptz>,
            checked -> BigInt,
            failed -> BigInt,
            bytes -> BigInt,
        }
    }
    diesel::table! {
        file_fixity (file_id) {
            file_id -> Uuid,
            run_id -> Uuid,
            verified_at -> Timestamptz,
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

type Id = uuid::Uuid;
type Conn = AsyncPgConnection;

fn to_id(id: uuid::Uuid) -> Id {
    id
}

fn from_id(id: &Id) -> Result<uuid::Uuid, PersistenceError> {
    Ok(*id)
}

/// Runs `$body` (with `$conn` bound to a connection) in one transaction.
macro_rules! in_tx {
    ($self:ident, $conn:ident => $body:expr) => {{
        let mut pooled = $self.conn().await?;
        let result: Result<_, TxError> = pooled.transaction(async |$conn| $body).await;
        result.map_err(Into::into)
    }};
}

/// The repository port on PostgreSQL.
#[derive(Clone)]
pub struct PgCaseRepository {
    pool: Pool<AsyncPgConnection>,
    target: Arc<PgTarget>,
}

impl std::fmt::Debug for PgCaseRepository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgCaseRepository")
            .field("pool", &self.pool.status())
            .finish()
    }
}

impl PgCaseRepository {
    /// Connects to `url` (`postgres://user@host:port/db`), checks that the schema is current
    /// (or migrates it when `config.migrate`), and keeps a pool of `config.max_size` connections.
    ///
    /// # Errors
    /// [`PersistenceError::Unavailable`] when the database cannot be reached or its schema is
    /// behind the migrations.
    pub async fn connect(url: &str, config: PoolConfig) -> Result<Self, PersistenceError> {
        let target = Arc::new(PgTarget::parse(url)?);
        migrate_or_check(&target, url, config.migrate).await?;
        let mut manager_config = ManagerConfig::default();
        let setup_target = Arc::clone(&target);
        manager_config.custom_setup = Box::new(move |_url| {
            let target = Arc::clone(&setup_target);
            async move { target.establish().await }.boxed()
        });
        let manager =
            AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, manager_config);
        let pool = Pool::builder(manager)
            .max_size(config.max_size)
            .wait_timeout(Some(config.timeout))
            .create_timeout(Some(config.timeout))
            .recycle_timeout(Some(config.timeout))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| unavailable("cannot build the PostgreSQL pool", e))?;
        Ok(Self { pool, target })
    }

    /// How the pool's connections are used now.
    pub fn pool_status(&self) -> crate::PoolStatus {
        pool_status!(self.pool.status())
    }

    /// The leadership of background jobs among every instance on this database (see
    /// [`PgLeadership`]).
    pub fn leadership(&self) -> PgLeadership {
        PgLeadership {
            target: Arc::clone(&self.target),
            key: JOBS_LOCK,
            session: tokio::sync::Mutex::new(None),
        }
    }

    async fn conn(&self) -> Result<Object<AsyncPgConnection>, PersistenceError> {
        self.pool
            .get()
            .await
            .map_err(|e| unavailable("no PostgreSQL connection available", e))
    }
}

/// Applies (when `apply`) or checks the migrations on a dedicated connection to `url`; returns
/// how many were applied. Needs a multi-threaded Tokio runtime.
///
/// # Errors
/// [`PersistenceError::Unavailable`] when the database cannot be reached, a migration fails, or
/// (without `apply`) migrations are pending.
pub async fn run_migrations(url: &str, apply: bool) -> Result<usize, PersistenceError> {
    migrate_or_check(&PgTarget::parse(url)?, url, apply).await
}

async fn migrate_or_check(
    target: &PgTarget,
    url: &str,
    apply: bool,
) -> Result<usize, PersistenceError> {
    let conn = target.establish().await.map_err(|e| {
        unavailable(
            format!("cannot connect to PostgreSQL at {}", crate::redact_url(url)),
            e,
        )
    })?;
    if !apply {
        // Read the applied versions directly: diesel's harness first creates its bookkeeping
        // table if missing, which a runtime role without CREATE on the schema may not do.
        return check_migrations(conn).await;
    }
    // Instances starting together migrate one at a time: each waits for the session lock, then
    // finds nothing pending. The lock lives on its own connection and goes with it.
    let mut lock = target.establish().await.map_err(|e| {
        unavailable(
            format!("cannot connect to PostgreSQL at {}", crate::redact_url(url)),
            e,
        )
    })?;
    {
        use diesel_async::RunQueryDsl;
        diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
            .execute(&mut lock)
            .await
            .map_err(|e| unavailable("cannot take the migration lock", e))?;
    }
    let result = apply_pending(conn).await;
    drop(lock);
    result
}

async fn apply_pending(conn: AsyncPgConnection) -> Result<usize, PersistenceError> {
    let mut harness = AsyncMigrationHarness::new(conn);
    let pending = harness
        .pending_migrations(MIGRATIONS)
        .map_err(|e| migration_error("cannot read the applied migrations", e))?
        .len();
    if pending == 0 {
        return Ok(0);
    }
    harness
        .run_pending_migrations(MIGRATIONS)
        .map_err(|e| migration_error("a migration failed", e))?;
    Ok(pending)
}

/// Whether every embedded migration is applied, by reading `__diesel_schema_migrations`.
async fn check_migrations(mut conn: AsyncPgConnection) -> Result<usize, PersistenceError> {
    use diesel::QueryableByName;
    use diesel::migration::MigrationSource;
    use diesel_async::RunQueryDsl;
    #[derive(QueryableByName)]
    struct Applied {
        #[diesel(sql_type = diesel::sql_types::Text)]
        version: String,
    }
    let applied: Vec<Applied> = diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
        .load(&mut conn)
        .await
        .unwrap_or_default();
    let embedded = MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS)
        .map_err(|e| migration_error("cannot read the embedded migrations", e))?;
    let pending = embedded
        .iter()
        .filter(|m| {
            let version = m.name().version().to_string();
            !applied.iter().any(|a| a.version == version)
        })
        .count();
    if pending == 0 {
        Ok(0)
    } else {
        Err(schema_behind(pending))
    }
}

pub(crate) fn migration_error(
    what: &str,
    e: Box<dyn std::error::Error + Send + Sync>,
) -> PersistenceError {
    PersistenceError::Unavailable {
        message: what.to_owned(),
        source: Some(e),
    }
}

/// The key of the session advisory lock under which migrations are applied.
pub const MIGRATION_LOCK: i64 = 0x6361_7365_6d69_6772; // "casemigr"

/// The key of the session advisory lock whose holder runs the background jobs.
pub const JOBS_LOCK: i64 = 0x6361_7365_6a6f_6273; // "casejobs"

/// Which of the instances sharing one PostgreSQL database runs the background jobs (purge,
/// checkpoints, hold reconciliation, scheduled scrubs): the one holding a session advisory lock
/// on a connection of its own. When that instance stops or loses its connection, PostgreSQL
/// releases the lock and the next instance to ask takes it over.
///
/// Leadership is checked when a job is due, so for a moment two instances may both believe they
/// lead (the old leader's connection died mid-job): every job is safe to run twice at once —
/// their state changes are compare-and-set transitions — and leadership only saves the
/// duplicate work.
pub struct PgLeadership {
    target: Arc<PgTarget>,
    key: i64,
    session: tokio::sync::Mutex<Option<LeaderSession>>,
}

struct LeaderSession {
    conn: AsyncPgConnection,
    held: bool,
}

impl PgLeadership {
    /// Whether this instance leads now: it already holds the lock and its connection answers,
    /// or it takes the lock now. Never waits for the lock.
    pub async fn is_leader(&self) -> bool {
        use diesel::QueryableByName;
        use diesel_async::RunQueryDsl;
        #[derive(QueryableByName)]
        struct Taken {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            taken: bool,
        }
        let mut session = self.session.lock().await;
        if session.is_none() {
            match self.target.establish().await {
                Ok(conn) => *session = Some(LeaderSession { conn, held: false }),
                Err(_) => return false,
            }
        }
        let Some(current) = session.as_mut() else {
            return false;
        };
        if current.held {
            if diesel::sql_query("SELECT 1")
                .execute(&mut current.conn)
                .await
                .is_ok()
            {
                return true;
            }
            // The connection is gone, and the lock with it: ask again next time.
            *session = None;
            return false;
        }
        let taken = diesel::sql_query(format!(
            "SELECT pg_try_advisory_lock({}) AS taken",
            self.key
        ))
        .get_result::<Taken>(&mut current.conn)
        .await;
        match taken {
            Ok(Taken { taken: true }) => {
                current.held = true;
                true
            }
            Ok(Taken { taken: false }) => false,
            Err(_) => {
                *session = None;
                false
            }
        }
    }
}

/// The key of the transaction-scoped advisory lock that orders audit appends.
pub const AUDIT_LOCK: i64 = 0x6361_7365_6669_6c65; // "casefile"

/// Takes the audit lock for the rest of the transaction: appends queue only for the moment
/// between their insert and their commit, and `seq` is assigned in commit order.
async fn serialize_audit(conn: &mut Conn) -> Result<(), crate::error::TxError> {
    use diesel_async::RunQueryDsl;
    diesel::sql_query(format!("SELECT pg_advisory_xact_lock({AUDIT_LOCK})"))
        .execute(conn)
        .await?;
    Ok(())
}

diesel_repository!(PgCaseRepository);
