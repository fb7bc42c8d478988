//! The persistence ports of the legal file service, and its clock.
//!
//! Every method that changes state takes the [`AuditEntry`] describing the change and MUST apply
//! the change and append the entry in ONE atomic operation (one database transaction): both
//! happen or neither does. A change that does not happen (an `Unchanged` transition, an error)
//! appends nothing.

use chrono::{DateTime, Utc};

use crate::error::BoxError;
use crate::legal::fixity::{
    FixityOutcome, FixityRecord, ScrubBacklog, ScrubClaim, ScrubRun, ScrubRunId,
};
use crate::legal::{
    AuditEntry, AuditId, Case, CaseFile, CaseId, FileId, HoldId, HoldRelease, LegalHold,
    LogicalPath, Member, MemberCase, Protection, Role, UserId, UserProfile,
};

/// An error of a persistence adapter, mapped from its driver's errors at its boundary.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PersistenceError {
    /// A row the operation needs does not exist.
    #[error("not found: {what}")]
    NotFound {
        /// What was missing.
        what: String,
    },
    /// A uniqueness rule or a state rule refused the change (e.g. a live file already holds
    /// the logical path, or the file is not in a state that allows the transition).
    #[error("conflict: {what}")]
    Conflict {
        /// What conflicted.
        what: String,
    },
    /// The database cannot be reached or is not ready (including a schema behind the
    /// migrations).
    #[error("database unavailable: {message}")]
    Unavailable {
        /// What is wrong.
        message: String,
        /// The driver's error.
        #[source]
        source: Option<BoxError>,
    },
    /// Any other failure of the database.
    #[error("database error: {source}")]
    Backend {
        /// The driver's error.
        #[source]
        source: BoxError,
    },
}

/// The result of persistence operations.
pub type PersistenceResult<T> = Result<T, PersistenceError>;

/// The result of a state transition: applied now, or already in the target state (idempotent:
/// nothing changed and no audit entry was appended).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// The transition happened now; the file as it is after it.
    Applied(CaseFile),
    /// The file was already in the target state; the file as it is.
    Unchanged(CaseFile),
}

impl Transition {
    /// The file, either way.
    pub fn into_file(self) -> CaseFile {
        match self {
            Self::Applied(f) | Self::Unchanged(f) => f,
        }
    }
}

/// What a membership change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberChange {
    /// Written now (with its audit entry); `previous` is the role before (`None`: the user was
    /// not a member).
    Applied {
        /// The role before the change.
        previous: Option<Role>,
    },
    /// The member already had that role: nothing was written.
    Unchanged,
}

/// Which completed files of a case to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileQuery {
    /// Only files whose logical path starts with this string: a plain string prefix, so
    /// `pleadings/com` holds `pleadings/complaint.bin`, and `a/b/` only what is inside `a/b`.
    pub prefix: Option<String>,
    /// Only files whose logical path sorts strictly after this one (keyset pagination).
    pub after: Option<LogicalPath>,
    /// Only files whose logical path sorts at or after this string, byte by byte (to skip a
    /// whole folder `a/b/`: from `a/b0`).
    pub from: Option<String>,
    /// At most this many.
    pub limit: usize,
}

/// Which audit entries to read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditQuery {
    /// Only entries about this case.
    pub case_id: Option<CaseId>,
    /// Only entries about this file.
    pub file_id: Option<FileId>,
    /// Only entries appended after this one (keyset paging: pass the last entry of the
    /// previous page).
    pub after: Option<AuditId>,
    /// At most this many (the oldest first); `None` for all.
    pub limit: Option<usize>,
}

/// Counts of open uploads, for the caps of [`ServiceConfig`](crate::legal::ServiceConfig).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenUploads {
    /// Open uploads in the case, by anyone.
    pub in_case: u64,
    /// Open uploads by the user, in any case.
    pub by_user: u64,
}

/// Cases, files and the audit trail.
///
/// # Contract
///
/// Implementations pass the repository conformance suite of `casefile-testkit`. Each method
/// documents what it MUST do; "atomically" means: the change and its audit entry are written in
/// one transaction, and under concurrency every transition happens at most once (a compare-and-set
/// on the status), so case statistics stay exact.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait::async_trait]
pub trait CaseRepository: Send + Sync {
    /// Inserts `case`, makes its creator (`case.created_by`) its owner member, and appends
    /// `audit`, atomically.
    /// MUST return [`PersistenceError::Conflict`] if the id exists.
    async fn create_case(&self, case: &Case, audit: &AuditEntry) -> PersistenceResult<()>;

    /// The case with this id, or `None`.
    async fn get_case(&self, id: CaseId) -> PersistenceResult<Option<Case>>;

    /// The case with this id and `user`'s role in it: `None` when the case does not exist,
    /// `Some((case, None))` when `user` is not a member. One read, so that every operation's
    /// authorization costs one round trip.
    async fn case_for_member(
        &self,
        id: CaseId,
        user: UserId,
    ) -> PersistenceResult<Option<(Case, Option<Role>)>>;

    /// The cases `member` is a member of, with their role, oldest first (by creation instant,
    /// then id): at most `limit`, those after the case `after` when given.
    /// MUST return [`PersistenceError::NotFound`] when `after` is not a case of `member`.
    async fn list_cases(
        &self,
        member: UserId,
        after: Option<CaseId>,
        limit: usize,
    ) -> PersistenceResult<Vec<MemberCase>>;

    /// The members of `case`, by the instant they were added, then user id, each with the
    /// profile kept for them (see [`remember_user`](Self::remember_user)).
    async fn list_members(&self, case: CaseId) -> PersistenceResult<Vec<Member>>;

    /// Gives `member.user_id` the role `member.role` in `member.case_id` (adding them when
    /// they are not a member; `added_at` is kept when they are), and appends `audit` —
    /// atomically, serialized with every other membership change of the case.
    ///
    /// `expected` is the role the caller saw (`None`: not a member); when the member already has
    /// `member.role`, nothing is written and the answer is [`MemberChange::Unchanged`].
    /// MUST return [`PersistenceError::Conflict`] when the current role is not `expected`
    /// (changed concurrently), or when the change would leave the case without an owner;
    /// [`PersistenceError::NotFound`] when the case does not exist.
    async fn put_member(
        &self,
        member: &Member,
        expected: Option<Role>,
        audit: &AuditEntry,
    ) -> PersistenceResult<MemberChange>;

    /// Removes `user` from `case`, appending `audit`, atomically and serialized as
    /// [`put_member`](Self::put_member).
    /// MUST return [`PersistenceError::NotFound`] when they are not a member;
    /// [`PersistenceError::Conflict`] when their role is not `expected`, or they are the last
    /// owner.
    async fn remove_member(
        &self,
        case: CaseId,
        user: UserId,
        expected: Role,
        audit: &AuditEntry,
    ) -> PersistenceResult<()>;

    /// Keeps what the identity provider said about `user` (replacing what was kept), at `at`.
    /// Not audited: a profile is a label for member lists, never a grant.
    async fn remember_user(
        &self,
        user: UserId,
        profile: &UserProfile,
        at: DateTime<Utc>,
    ) -> PersistenceResult<()>;

    /// Records `file` (status pending) and appends `audit`, atomically.
    ///
    /// MUST return [`PersistenceError::Conflict`] when a completed file of the case, or a pending
    /// one created at or after `supersede_pending_before`, holds the same logical path. A pending
    /// file holding it that was created before that instant (its upload URL has expired) is
    /// marked failed in the same transaction, freeing the path.
    /// MUST return [`PersistenceError::NotFound`] when the case does not exist.
    async fn insert_pending_file(
        &self,
        file: &CaseFile,
        supersede_pending_before: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> PersistenceResult<()>;

    /// The file with this id (in any status), or `None`.
    async fn get_file(&self, id: FileId) -> PersistenceResult<Option<CaseFile>>;

    /// Pending → completed with `actual_size` and the `mime_type` that verification settled
    /// on: sets `actual_size`, `mime_type`, `completed_at` and `updated_at` to `at`, adds one
    /// file and `actual_size` bytes to the case's statistics, and appends `audit` — atomically.
    ///
    /// Already completed: `Unchanged`, nothing written. Failed or deleted:
    /// [`PersistenceError::Conflict`]. Unknown id: [`PersistenceError::NotFound`].
    async fn complete_file(
        &self,
        id: FileId,
        actual_size: u64,
        mime_type: &str,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> PersistenceResult<Transition>;

    /// Pending → failed, appending `audit`, atomically. Already failed: `Unchanged`. Completed or
    /// deleted: [`PersistenceError::Conflict`]. Unknown id: [`PersistenceError::NotFound`].
    async fn fail_file(
        &self,
        id: FileId,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> PersistenceResult<Transition>;

    /// Records `hold` (with the files of a [`HoldScope::Files`](crate::legal::HoldScope) scope)
    /// and appends `audit`, atomically.
    /// MUST return [`PersistenceError::NotFound`] when the case does not exist or a listed file
    /// is not a file of the hold's case (then nothing is written).
    async fn place_hold(&self, hold: &LegalHold, audit: &AuditEntry) -> PersistenceResult<()>;

    /// The holds of `case`, active and released, by the instant they were placed, then id.
    async fn list_holds(&self, case: CaseId) -> PersistenceResult<Vec<LegalHold>>;

    /// The hold with this id, or `None`.
    async fn get_hold(&self, id: HoldId) -> PersistenceResult<Option<LegalHold>>;

    /// Releases an active hold and appends `audit`, atomically. A hold is released once: MUST
    /// return [`PersistenceError::Conflict`] when it is released already,
    /// [`PersistenceError::NotFound`] for an unknown id.
    async fn release_hold(
        &self,
        id: HoldId,
        release: &HoldRelease,
        audit: &AuditEntry,
    ) -> PersistenceResult<()>;

    /// Sets the case's `retain_until` and appends `audit`, atomically. Retention is extended,
    /// never shortened: MUST return [`PersistenceError::Conflict`] when `until` is before the
    /// date in force; [`PersistenceError::NotFound`] for an unknown case.
    async fn set_retention(
        &self,
        case: CaseId,
        until: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> PersistenceResult<()>;

    /// Sets a file's own retention date and appends `audit`, atomically. Extended, never
    /// shortened: MUST return [`PersistenceError::Conflict`] when `until` is before the file's
    /// date in force; [`PersistenceError::NotFound`] for an unknown file.
    async fn set_file_retention(
        &self,
        file: FileId,
        until: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> PersistenceResult<()>;

    /// The files whose store-side lock may need to match the registry: completed, not purged,
    /// in a case that has (or had) a hold or has a retention date, or with a retention date of
    /// its own — by id, after `after`, at
    /// most `limit`.
    async fn lock_candidates(
        &self,
        after: Option<FileId>,
        limit: usize,
    ) -> PersistenceResult<Vec<CaseFile>>;

    /// The audit log's Merkle tree as it stands: how many entries it holds, and its root
    /// (see [`audit_log`](crate::legal::audit_log)). Every appended entry MUST be a leaf by the
    /// time its transaction commits, at its `log_index`.
    async fn audit_tree_head(&self) -> PersistenceResult<crate::legal::audit_log::TreeHead>;

    /// The audit entry at this log index, or `None`.
    async fn audit_entry_at(&self, index: u64) -> PersistenceResult<Option<AuditEntry>>;

    /// Keeps a signed checkpoint of the audit log at `tree_size`. Checkpoints are never changed:
    /// keeping the same note again is a no-op; MUST return [`PersistenceError::Conflict`] for
    /// another note at a size already kept.
    async fn store_checkpoint(
        &self,
        tree_size: u64,
        note: &str,
        at: DateTime<Utc>,
    ) -> PersistenceResult<()>;

    /// The kept checkpoints, by tree size.
    async fn checkpoints(&self) -> PersistenceResult<Vec<(u64, String)>>;

    /// The audit tree's stored hashes at these stored indexes, in their order (see
    /// [`audit_log`](crate::legal::audit_log)). MUST return [`PersistenceError::NotFound`] when
    /// one is not stored.
    async fn read_audit_tree(
        &self,
        indexes: &[u64],
    ) -> PersistenceResult<Vec<crate::legal::audit_log::TreeHash>>;

    /// What protects a file now: the active holds covering it (by placement order) and the later
    /// of its own and its case's retention dates. MUST return [`PersistenceError::NotFound`] for an unknown file.
    async fn protection(&self, file: FileId) -> PersistenceResult<Protection>;

    /// Pending or completed → deleted (a tombstone: the row stays, the path is freed); a completed
    /// file's size and count leave the case's statistics; `audit` is appended — atomically.
    /// Already deleted: `Unchanged`. Failed: [`PersistenceError::Conflict`]. Unknown id:
    /// [`PersistenceError::NotFound`]. A completed file that is held or retained MUST be refused
    /// with [`PersistenceError::Conflict`] (the databases enforce it by trigger, whatever the
    /// caller checked before).
    async fn delete_file(
        &self,
        id: FileId,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> PersistenceResult<Transition>;

    /// Completed files of `case` matching `query`, in ascending byte order of logical path.
    async fn list_files(&self, case: CaseId, query: &FileQuery)
    -> PersistenceResult<Vec<CaseFile>>;

    /// How many uploads are open — pending files created at or after `since` (their upload URL
    /// is still valid) — in `case`, and by `user` across all cases.
    async fn open_uploads(
        &self,
        case: CaseId,
        user: UserId,
        since: DateTime<Utc>,
    ) -> PersistenceResult<OpenUploads>;

    /// How many files are pending (uploads begun, neither completed nor failed yet), in every
    /// case: the `casefile_uploads_pending` gauge.
    async fn pending_uploads(&self) -> PersistenceResult<u64>;

    /// Pending files created before `created_before` (their upload URL has expired), oldest
    /// first, at most `limit`.
    async fn stale_pending_files(
        &self,
        created_before: DateTime<Utc>,
        limit: usize,
    ) -> PersistenceResult<Vec<CaseFile>>;

    /// Failed or deleted files whose object has not been removed yet (`purged_at` unset), oldest
    /// first, at most `limit` — leaving out every once-completed file that is held or retained
    /// (see [`protection`](Self::protection)).
    async fn files_to_purge(&self, limit: usize) -> PersistenceResult<Vec<CaseFile>>;

    /// Records that the object of a failed or deleted file is gone (`purged_at` = `at`),
    /// appending `audit`, atomically. Already purged: `Unchanged`. Pending or completed:
    /// [`PersistenceError::Conflict`]. Unknown id: [`PersistenceError::NotFound`]. A
    /// once-completed file that is held or retained MUST be refused with
    /// [`PersistenceError::Conflict`].
    async fn mark_purged(
        &self,
        id: FileId,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> PersistenceResult<Transition>;

    /// Claims the scrub of `case` (`None`: every case). An unfinished run of that scope is
    /// resumed — always when `stale_before` is `None`, else only when its heartbeat is before
    /// `stale_before` (its scrubber stopped) — and its heartbeat set to `at`; while it is fresh
    /// the answer is [`ScrubClaim::Busy`]. Without an unfinished run, a run `new_id` starts at
    /// `at`. Atomic: two scrubbers never both claim one run as new.
    async fn begin_scrub(
        &self,
        case: Option<CaseId>,
        new_id: ScrubRunId,
        at: DateTime<Utc>,
        stale_before: Option<DateTime<Utc>>,
    ) -> PersistenceResult<ScrubClaim>;

    /// The scrub run with this id, or `None`.
    async fn scrub_run(&self, id: ScrubRunId) -> PersistenceResult<Option<ScrubRun>>;

    /// Completed files of `case` (`None`: every case) not verified at or after
    /// `verified_before`, by id, after `after`, at most `limit`.
    async fn scrub_candidates(
        &self,
        case: Option<CaseId>,
        verified_before: DateTime<Utc>,
        after: Option<FileId>,
        limit: usize,
    ) -> PersistenceResult<Vec<CaseFile>>;

    /// How many files [`scrub_candidates`](Self::scrub_candidates) would return in all, and
    /// their recorded bytes.
    async fn scrub_backlog(
        &self,
        case: Option<CaseId>,
        verified_before: DateTime<Utc>,
    ) -> PersistenceResult<ScrubBacklog>;

    /// Records that run `run` read `file` at `at` and found `outcome` (`bytes` read), unless
    /// the file was verified at or after `since` already: then nothing is written and the answer
    /// is `false`. Otherwise, atomically: the file's [`FixityRecord`] is replaced, the run's
    /// counters grow and its heartbeat is set to `at`, and `audit` (if any) is appended.
    #[allow(clippy::too_many_arguments)]
    async fn record_fixity(
        &self,
        run: ScrubRunId,
        file: FileId,
        since: DateTime<Utc>,
        outcome: FixityOutcome,
        bytes: u64,
        at: DateTime<Utc>,
        audit: Option<AuditEntry>,
    ) -> PersistenceResult<bool>;

    /// Finishes run `id` at `at` and appends `audit`, atomically; `false` (nothing written)
    /// when it was finished already. [`PersistenceError::NotFound`] for an unknown run.
    async fn finish_scrub(
        &self,
        id: ScrubRunId,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> PersistenceResult<bool>;

    /// The last recorded verification of `file`, or `None` when it was never scrubbed.
    async fn fixity_of(&self, file: FileId) -> PersistenceResult<Option<FixityRecord>>;

    /// Every file (in any status) by storage-key order — case id, then file id, as the hex of
    /// [`storage_key`](crate::legal::LegalFileService::storage_key) sorts — after `after`, at
    /// most `limit`: a merge join with the store's listing.
    async fn files_in_key_order(
        &self,
        after: Option<(CaseId, FileId)>,
        limit: usize,
    ) -> PersistenceResult<Vec<CaseFile>>;

    /// Appends one entry to the audit trail (for actions that change nothing else).
    async fn append_audit(&self, entry: &AuditEntry) -> PersistenceResult<()>;

    /// Audit entries matching `query`, in the order they were appended.
    /// MUST return [`PersistenceError::NotFound`] when `query.after` names no entry.
    async fn list_audit(&self, query: &AuditQuery) -> PersistenceResult<Vec<AuditEntry>>;
}

/// The time, as the service sees it (a port so that tests control expiry).
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait Clock: Send + Sync {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
