//! The repository, written once over a backend's schema, id type and transaction macro.
//!
//! A backend module defines `schema` (its `table!`s), `Id` with `to_id`/`from_id`, `Conn`, and an
//! `in_tx!(self, conn => expr)` macro, then invokes `diesel_repository!(TypeName)`.

macro_rules! diesel_repository {
    ($repo:ident) => {
        use casefile_domain::Sha256;
        use casefile_domain::legal::{
            AuditAction, AuditEntry, AuditId, AuditOutcome, AuditQuery, Case, CaseFile, CaseId,
            CaseRepository, FileId, FileName, FileQuery, FileStatus, HoldId, HoldRelease, HoldScope,
            LegalHold, LogicalPath, Member, MemberCase, MemberChange, OpenUploads,
            PersistenceResult, Protection, Role, Transition, UserId, UserProfile,
        };
        use casefile_domain::storage::ObjectKey;
        use chrono::{DateTime, Utc};
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;

        use crate::error::{TxError, conflict, corrupt, not_found};
        use schema::{
            audit_checkpoints, audit_log, audit_log_head, audit_tree, case_files, case_members, cases, legal_hold_files,
            legal_holds, users, scrub_runs, file_fixity,
        };
        use casefile_domain::legal::fixity::{
            FixityOutcome, FixityRecord, ScrubBacklog, ScrubClaim, ScrubRun, ScrubRunId,
        };
        use casefile_domain::legal::audit_log as merkle;

        #[derive(Debug, Clone, Queryable, Selectable, Insertable)]
        #[diesel(table_name = cases)]
        struct CaseRow {
            id: Id,
            owner_id: Id,
            title: String,
            file_count: i64,
            total_size_bytes: i64,
            created_at: DateTime<Utc>,
            updated_at: DateTime<Utc>,
            retain_until: Option<DateTime<Utc>>,
        }

        #[derive(Debug, Clone, Queryable, Selectable, Insertable)]
        #[diesel(table_name = case_files)]
        struct FileRow {
            id: Id,
            case_id: Id,
            logical_path: String,
            file_name: String,
            mime_type: String,
            declared_size: i64,
            actual_size: Option<i64>,
            sha256: String,
            storage_key: String,
            status: String,
            uploaded_by: Id,
            created_at: DateTime<Utc>,
            updated_at: DateTime<Utc>,
            completed_at: Option<DateTime<Utc>>,
            purged_at: Option<DateTime<Utc>>,
        }

        #[derive(Debug, Clone, Queryable, Selectable, Insertable)]
        #[diesel(table_name = case_members)]
        struct MemberRow {
            case_id: Id,
            user_id: Id,
            role: String,
            granted_by: Option<Id>,
            added_at: DateTime<Utc>,
            updated_at: DateTime<Utc>,
        }

        impl MemberRow {
            fn new(m: &Member) -> Self {
                Self {
                    case_id: to_id(m.case_id.0),
                    user_id: to_id(m.user_id.0),
                    role: m.role.as_str().to_owned(),
                    granted_by: m.granted_by.map(|u| to_id(u.0)),
                    added_at: m.added_at,
                    updated_at: m.updated_at,
                }
            }

            fn into_domain(self, profile: Option<UserProfile>) -> PersistenceResult<Member> {
                Ok(Member {
                    case_id: CaseId(from_id(&self.case_id)?),
                    user_id: UserId(from_id(&self.user_id)?),
                    role: role_from_db(&self.role)?,
                    granted_by: self.granted_by.as_ref().map(from_id).transpose()?.map(UserId),
                    added_at: self.added_at,
                    updated_at: self.updated_at,
                    profile,
                })
            }
        }

        fn role_from_db(role: &str) -> PersistenceResult<Role> {
            Role::parse(role).ok_or_else(|| corrupt(format!("unknown role {role}")))
        }

        #[derive(Debug, Clone, Queryable, Selectable, Insertable)]
        #[diesel(table_name = audit_log)]
        struct AuditRow {
            id: Id,
            at: DateTime<Utc>,
            actor_id: Option<Id>,
            case_id: Option<Id>,
            file_id: Option<Id>,
            action: String,
            outcome: String,
            details: Option<String>,
            log_index: Option<i64>,
        }

        fn size_to_db(n: u64) -> Result<i64, TxError> {
            i64::try_from(n).map_err(|_| TxError::Domain(conflict("size over i64::MAX")))
        }

        fn size_from_db(n: i64) -> PersistenceResult<u64> {
            u64::try_from(n).map_err(|_| corrupt(format!("negative size {n}")))
        }

        impl CaseRow {
            fn new(c: &Case) -> Result<Self, TxError> {
                Ok(Self {
                    id: to_id(c.id.0),
                    owner_id: to_id(c.created_by.0),
                    title: c.title.clone(),
                    file_count: size_to_db(c.file_count)?,
                    total_size_bytes: size_to_db(c.total_size_bytes)?,
                    created_at: c.created_at,
                    updated_at: c.updated_at,
                    retain_until: c.retain_until,
                })
            }

            fn into_domain(self) -> PersistenceResult<Case> {
                Ok(Case {
                    id: CaseId(from_id(&self.id)?),
                    created_by: UserId(from_id(&self.owner_id)?),
                    title: self.title,
                    retain_until: self.retain_until,
                    file_count: size_from_db(self.file_count)?,
                    total_size_bytes: size_from_db(self.total_size_bytes)?,
                    created_at: self.created_at,
                    updated_at: self.updated_at,
                })
            }
        }

        impl FileRow {
            fn new(f: &CaseFile) -> Result<Self, TxError> {
                Ok(Self {
                    id: to_id(f.id.0),
                    case_id: to_id(f.case_id.0),
                    logical_path: f.logical_path.to_string(),
                    file_name: f.file_name.to_string(),
                    mime_type: f.mime_type.clone(),
                    declared_size: size_to_db(f.declared_size)?,
                    actual_size: f.actual_size.map(size_to_db).transpose()?,
                    sha256: f.sha256.to_hex(),
                    storage_key: f.storage_key.to_string(),
                    status: f.status.as_str().to_owned(),
                    uploaded_by: to_id(f.uploaded_by.0),
                    created_at: f.created_at,
                    updated_at: f.updated_at,
                    completed_at: f.completed_at,
                    purged_at: f.purged_at,
                })
            }

            fn into_domain(self) -> PersistenceResult<CaseFile> {
                let bad = |what: &str, e: String| corrupt(format!("stored {what} is invalid: {e}"));
                Ok(CaseFile {
                    id: FileId(from_id(&self.id)?),
                    case_id: CaseId(from_id(&self.case_id)?),
                    logical_path: LogicalPath::parse(&self.logical_path)
                        .map_err(|e| bad("logical path", e.to_string()))?,
                    file_name: FileName::parse(&self.file_name)
                        .map_err(|e| bad("file name", e.to_string()))?,
                    mime_type: self.mime_type,
                    declared_size: size_from_db(self.declared_size)?,
                    actual_size: self.actual_size.map(size_from_db).transpose()?,
                    sha256: Sha256::from_hex(&self.sha256)
                        .map_err(|e| bad("sha256", e.to_string()))?,
                    storage_key: ObjectKey::new(self.storage_key)
                        .map_err(|e| bad("storage key", e.to_string()))?,
                    status: FileStatus::parse(&self.status)
                        .ok_or_else(|| bad("status", self.status.clone()))?,
                    uploaded_by: UserId(from_id(&self.uploaded_by)?),
                    created_at: self.created_at,
                    updated_at: self.updated_at,
                    completed_at: self.completed_at,
                    purged_at: self.purged_at,
                })
            }
        }

        impl AuditRow {
            fn new(e: &AuditEntry) -> Self {
                Self {
                    id: to_id(e.id.0),
                    at: e.at,
                    actor_id: e.actor.map(|u| to_id(u.0)),
                    case_id: e.case_id.map(|c| to_id(c.0)),
                    file_id: e.file_id.map(|f| to_id(f.0)),
                    action: e.action.as_str().to_owned(),
                    outcome: e.outcome.as_str().to_owned(),
                    details: e.details.clone(),
                    log_index: None,
                }
            }

            fn into_domain(self) -> PersistenceResult<AuditEntry> {
                let opt = |id: &Option<Id>| id.as_ref().map(from_id).transpose();
                Ok(AuditEntry {
                    id: AuditId(from_id(&self.id)?),
                    at: self.at,
                    actor: opt(&self.actor_id)?.map(UserId),
                    case_id: opt(&self.case_id)?.map(CaseId),
                    file_id: opt(&self.file_id)?.map(FileId),
                    action: AuditAction::parse(&self.action)
                        .ok_or_else(|| corrupt(format!("unknown audit action {}", self.action)))?,
                    outcome: AuditOutcome::parse(&self.outcome)
                        .ok_or_else(|| corrupt(format!("unknown audit outcome {}", self.outcome)))?,
                    details: self.details,
                    log_index: self.log_index.map(u64::try_from).transpose().map_err(|_| corrupt("negative log index".to_owned()))?,
                })
            }
        }

        /// Appends an audit row: always the last write of its transaction, after the backend's
        /// `serialize_audit` (PostgreSQL: a transaction-scoped lock held to the commit), so that
        /// `seq` order is commit order and a reader paging by `seq` never skips a row that
        /// commits late.
        ///
        /// The entry takes the next log index (dense, in commit order: the same lock) and its leaf
        /// joins the audit log's Merkle tree in the same transaction, after any leaves the tree
        /// had not integrated yet (the entries that existed when the log was introduced).
        async fn insert_audit(conn: &mut Conn, audit: &AuditRow) -> Result<(), TxError> {
            serialize_audit(conn).await?;
            let last: Option<i64> = audit_log::table
                .select(diesel::dsl::max(audit_log::log_index))
                .first(conn)
                .await?;
            let index = last.map_or(0, |l| l + 1);
            let mut row = audit.clone();
            row.log_index = Some(index);
            diesel::insert_into(audit_log::table)
                .values(&row)
                .execute(conn)
                .await?;
            // The leaf of the row as stored: the encoding keeps microseconds, as the databases do,
            // so the entry in hand hashes exactly as its row will when a verifier reads it back
            // (the repository suite checks the stored root against the rows).
            let leaf = merkle::leaf_hash(&row.into_domain()?);
            integrate(conn, index, leaf).await
        }

        /// Adds the leaves of the entries with log index `tree_size..index` (read back: those the
        /// tree has not integrated yet), then `leaf` at `index`, to the tree.
        async fn integrate(conn: &mut Conn, index: i64, leaf: merkle::TreeHash) -> Result<(), TxError> {
            let mut tree_size: i64 = audit_log_head::table
                .select(audit_log_head::tree_size)
                .first(conn)
                .await?;
            while tree_size <= index {
                let leaf = if tree_size == index {
                    leaf
                } else {
                    let row: AuditRow = audit_log::table
                        .filter(audit_log::log_index.eq(tree_size))
                        .select(AuditRow::as_select())
                        .first(conn)
                        .await?;
                    merkle::leaf_hash(&row.into_domain()?)
                };
                let index = u64::try_from(tree_size).map_err(|_| corrupt("negative tree size".to_owned()))?;
                let reads = merkle::append_reads(index);
                let read = read_tree(conn, &reads).await?;
                let hashes = merkle::append_hashes(index, leaf, &read)
                    .ok_or_else(|| corrupt("the audit tree lacks hashes it must hold".to_owned()))?;
                for (idx, hash) in hashes {
                    let idx = i64::try_from(idx).map_err(|_| corrupt("tree index over i64".to_owned()))?;
                    diesel::insert_into(audit_tree::table)
                        .values((audit_tree::idx.eq(idx), audit_tree::hash.eq(hash.to_vec())))
                        .execute(conn)
                        .await?;
                }
                tree_size += 1;
            }
            diesel::update(audit_log_head::table)
                .set(audit_log_head::tree_size.eq(tree_size))
                .execute(conn)
                .await?;
            Ok(())
        }

        /// The stored tree hashes at these stored indexes, in their order (one query).
        async fn read_tree(conn: &mut Conn, indexes: &[u64]) -> Result<Vec<merkle::TreeHash>, TxError> {
            if indexes.is_empty() {
                return Ok(Vec::new());
            }
            let wanted: Vec<i64> = indexes.iter().filter_map(|i| i64::try_from(*i).ok()).collect();
            let rows: Vec<(i64, Vec<u8>)> = audit_tree::table
                .filter(audit_tree::idx.eq_any(&wanted))
                .select((audit_tree::idx, audit_tree::hash))
                .load(conn)
                .await?;
            let found: std::collections::HashMap<i64, Vec<u8>> = rows.into_iter().collect();
            wanted
                .iter()
                .map(|i| {
                    found
                        .get(i)
                        .and_then(|h| <merkle::TreeHash>::try_from(h.as_slice()).ok())
                        .ok_or_else(|| TxError::Domain(corrupt(format!("audit tree hash {i} missing or malformed"))))
                })
                .collect()
        }

        async fn read_file(conn: &mut Conn, id: &Id) -> Result<Option<FileRow>, TxError> {
            Ok(case_files::table
                .find(id)
                .select(FileRow::as_select())
                .first(conn)
                .await
                .optional()?)
        }

        fn file(row: FileRow) -> Result<CaseFile, TxError> {
            Ok(row.into_domain()?)
        }

        /// Moves a file from one status to another only if it is in `from` (compare-and-set).
        async fn cas_status(
            conn: &mut Conn,
            id: &Id,
            from: &str,
            to: &str,
            at: DateTime<Utc>,
        ) -> Result<bool, TxError> {
            let n = diesel::update(
                case_files::table
                    .filter(case_files::id.eq(id))
                    .filter(case_files::status.eq(from)),
            )
            .set((case_files::status.eq(to), case_files::updated_at.eq(at)))
            .execute(conn)
            .await?;
            Ok(n == 1)
        }

        async fn add_to_case(
            conn: &mut Conn,
            case: &Id,
            files: i64,
            bytes: i64,
            at: DateTime<Utc>,
        ) -> Result<(), TxError> {
            diesel::update(cases::table.find(case))
                .set((
                    cases::file_count.eq(cases::file_count + files),
                    cases::total_size_bytes.eq(cases::total_size_bytes + bytes),
                    cases::updated_at.eq(at),
                ))
                .execute(conn)
                .await?;
            Ok(())
        }

        /// The answer for a file whose compare-and-set did not apply.
        fn settled(row: Option<FileRow>, target: &str) -> Result<Transition, TxError> {
            let row = row.ok_or_else(|| TxError::Domain(not_found("file")))?;
            if row.status == target {
                Ok(Transition::Unchanged(file(row)?))
            } else {
                Err(TxError::Domain(conflict(format!("file is {}", row.status))))
            }
        }

        #[derive(Debug, Clone, Queryable, Selectable, Insertable)]
        #[diesel(table_name = legal_holds)]
        struct HoldRow {
            id: Id,
            case_id: Id,
            scope: String,
            path_prefix: Option<String>,
            name: String,
            reason: String,
            placed_by: Id,
            placed_at: DateTime<Utc>,
            released_by: Option<Id>,
            released_at: Option<DateTime<Utc>>,
            release_reason: Option<String>,
        }

        impl HoldRow {
            fn new(h: &LegalHold) -> Self {
                let release = h.release.as_ref();
                Self {
                    id: to_id(h.id.0),
                    case_id: to_id(h.case_id.0),
                    scope: h.scope.kind().to_owned(),
                    path_prefix: match &h.scope {
                        HoldScope::Prefix { prefix } => Some(prefix.clone()),
                        _ => None,
                    },
                    name: h.name.clone(),
                    reason: h.reason.clone(),
                    placed_by: to_id(h.placed_by.0),
                    placed_at: h.placed_at,
                    released_by: release.map(|r| to_id(r.released_by.0)),
                    released_at: release.map(|r| r.released_at),
                    release_reason: release.map(|r| r.reason.clone()),
                }
            }

            /// The hold, with the files of a `files` scope.
            fn into_domain(self, files: Vec<FileId>) -> PersistenceResult<LegalHold> {
                let scope = match (self.scope.as_str(), self.path_prefix) {
                    ("case", None) => HoldScope::Case,
                    ("prefix", Some(prefix)) => HoldScope::Prefix { prefix },
                    ("files", None) => HoldScope::Files { file_ids: files },
                    (other, _) => return Err(corrupt(format!("hold scope {other}"))),
                };
                let release = match (self.released_by, self.released_at, self.release_reason) {
                    (Some(by), Some(at), Some(reason)) => Some(HoldRelease {
                        released_by: UserId(from_id(&by)?),
                        released_at: at,
                        reason,
                    }),
                    (None, None, None) => None,
                    _ => return Err(corrupt("half a hold release".to_owned())),
                };
                Ok(LegalHold {
                    id: HoldId(from_id(&self.id)?),
                    case_id: CaseId(from_id(&self.case_id)?),
                    scope,
                    name: self.name,
                    reason: self.reason,
                    placed_by: UserId(from_id(&self.placed_by)?),
                    placed_at: self.placed_at,
                    release,
                })
            }
        }

        /// The holds of these rows, with the files of their `files` scopes.
        async fn holds_of(conn: &mut Conn, rows: Vec<HoldRow>) -> Result<Vec<LegalHold>, TxError> {
            let ids: Vec<Id> = rows.iter().filter(|r| r.scope == "files").map(|r| r.id.clone()).collect();
            let pairs: Vec<(Id, Id)> = if ids.is_empty() {
                Vec::new()
            } else {
                legal_hold_files::table
                    .filter(legal_hold_files::hold_id.eq_any(&ids))
                    .select((legal_hold_files::hold_id, legal_hold_files::file_id))
                    .order((legal_hold_files::hold_id.asc(), legal_hold_files::file_id.asc()))
                    .load(conn)
                    .await?
            };
            let mut holds = Vec::with_capacity(rows.len());
            for row in rows {
                let files = pairs
                    .iter()
                    .filter(|(hold, _)| *hold == row.id)
                    .map(|(_, file)| from_id(file).map(FileId))
                    .collect::<PersistenceResult<Vec<_>>>()?;
                holds.push(row.into_domain(files)?);
            }
            Ok(holds)
        }

        async fn place_hold_tx(conn: &mut Conn, hold: &HoldRow, files: &[Id], audit: &AuditRow) -> Result<(), TxError> {
            if !files.is_empty() {
                let of_case: i64 = case_files::table
                    .filter(case_files::id.eq_any(files))
                    .filter(case_files::case_id.eq(&hold.case_id))
                    .count()
                    .get_result(conn)
                    .await?;
                if usize::try_from(of_case).ok() != Some(files.len()) {
                    return Err(TxError::Domain(not_found("file")));
                }
            }
            diesel::insert_into(legal_holds::table).values(hold).execute(conn).await?;
            for file in files {
                diesel::insert_into(legal_hold_files::table)
                    .values((legal_hold_files::hold_id.eq(&hold.id), legal_hold_files::file_id.eq(file)))
                    .execute(conn)
                    .await?;
            }
            insert_audit(conn, audit).await
        }

        async fn release_hold_tx(
            conn: &mut Conn,
            id: &Id,
            by: &Id,
            at: DateTime<Utc>,
            reason: &str,
            audit: &AuditRow,
        ) -> Result<(), TxError> {
            let n = diesel::update(
                legal_holds::table
                    .filter(legal_holds::id.eq(id))
                    .filter(legal_holds::released_at.is_null()),
            )
            .set((
                legal_holds::released_by.eq(Some(by)),
                legal_holds::released_at.eq(Some(at)),
                legal_holds::release_reason.eq(Some(reason)),
            ))
            .execute(conn)
            .await?;
            if n == 0 {
                let exists: i64 = legal_holds::table.filter(legal_holds::id.eq(id)).count().get_result(conn).await?;
                return Err(TxError::Domain(if exists == 0 {
                    not_found("hold")
                } else {
                    conflict("the hold is released already")
                }));
            }
            insert_audit(conn, audit).await
        }

        async fn set_retention_tx(conn: &mut Conn, case: &Id, until: DateTime<Utc>, audit: &AuditRow) -> Result<(), TxError> {
            lock_case(conn, case).await?;
            let current: Option<DateTime<Utc>> = cases::table
                .find(case)
                .select(cases::retain_until)
                .first(conn)
                .await?;
            if current.is_some_and(|c| until < c) {
                return Err(TxError::Domain(conflict("retention can be extended, never shortened")));
            }
            diesel::update(cases::table.find(case))
                .set(cases::retain_until.eq(Some(until)))
                .execute(conn)
                .await?;
            insert_audit(conn, audit).await
        }

        async fn set_file_retention_tx(conn: &mut Conn, file: &Id, until: DateTime<Utc>, audit: &AuditRow) -> Result<(), TxError> {
            let current: Option<Option<DateTime<Utc>>> = case_files::table
                .find(file)
                .select(case_files::retain_until)
                .first(conn)
                .await
                .optional()?;
            let Some(current) = current else {
                return Err(TxError::Domain(not_found("file")));
            };
            if current.is_some_and(|c| until < c) {
                return Err(TxError::Domain(conflict("retention can be extended, never shortened")));
            }
            diesel::update(case_files::table.find(file))
                .set(case_files::retain_until.eq(Some(until)))
                .execute(conn)
                .await?;
            insert_audit(conn, audit).await
        }

        /// The active holds covering a file, and the later of its own and its case's retention
        /// dates.
        async fn protection_of(conn: &mut Conn, row: &FileRow) -> Result<Protection, TxError> {
            let of_case: Option<DateTime<Utc>> = cases::table
                .find(&row.case_id)
                .select(cases::retain_until)
                .first(conn)
                .await
                .optional()?
                .flatten();
            let own: Option<DateTime<Utc>> = case_files::table
                .find(&row.id)
                .select(case_files::retain_until)
                .first(conn)
                .await
                .optional()?
                .flatten();
            let retain_until = of_case.max(own);
            let active: Vec<HoldRow> = legal_holds::table
                .filter(legal_holds::case_id.eq(&row.case_id))
                .filter(legal_holds::released_at.is_null())
                .order((legal_holds::placed_at.asc(), legal_holds::id.asc()))
                .select(HoldRow::as_select())
                .load(conn)
                .await?;
            let file = FileId(from_id(&row.id)?);
            let holds = holds_of(conn, active)
                .await?
                .into_iter()
                .filter(|h| h.scope.covers(file, &row.logical_path))
                .map(|h| h.id)
                .collect();
            Ok(Protection { holds, retain_until })
        }

        async fn create_case_tx(conn: &mut Conn, case: &CaseRow, audit: &AuditRow) -> Result<(), TxError> {
            diesel::insert_into(cases::table).values(case).execute(conn).await?;
            let owner = MemberRow {
                case_id: case.id.clone(),
                user_id: case.owner_id.clone(),
                role: Role::Owner.as_str().to_owned(),
                granted_by: None,
                added_at: case.created_at,
                updated_at: case.created_at,
            };
            diesel::insert_into(case_members::table).values(&owner).execute(conn).await?;
            insert_audit(conn, audit).await
        }

        /// Locks the case row for the rest of the transaction (a no-op update: a row lock on
        /// PostgreSQL, the write lock on SQLite), so that membership changes of one case are
        /// serialized; `NotFound` when there is no such case.
        async fn lock_case(conn: &mut Conn, case: &Id) -> Result<(), TxError> {
            let n = diesel::update(cases::table.filter(cases::id.eq(case)))
                .set(cases::id.eq(case))
                .execute(conn)
                .await?;
            if n == 0 {
                return Err(TxError::Domain(not_found("case")));
            }
            Ok(())
        }

        async fn role_in(conn: &mut Conn, case: &Id, user: &Id) -> Result<Option<Role>, TxError> {
            let role: Option<String> = case_members::table
                .find((case, user))
                .select(case_members::role)
                .first(conn)
                .await
                .optional()?;
            Ok(role.as_deref().map(role_from_db).transpose()?)
        }

        /// Refuses a change that takes the owner role from the last owner.
        async fn keep_an_owner(conn: &mut Conn, case: &Id, current: Option<Role>) -> Result<(), TxError> {
            if current != Some(Role::Owner) {
                return Ok(());
            }
            let owners: i64 = case_members::table
                .filter(case_members::case_id.eq(case))
                .filter(case_members::role.eq(Role::Owner.as_str()))
                .count()
                .get_result(conn)
                .await?;
            if owners <= 1 {
                return Err(TxError::Domain(conflict("a case keeps at least one owner")));
            }
            Ok(())
        }

        fn check_expected(current: Option<Role>, expected: Option<Role>) -> Result<(), TxError> {
            if current == expected {
                Ok(())
            } else {
                Err(TxError::Domain(conflict("the member's role changed concurrently; read it again")))
            }
        }

        async fn put_member_tx(
            conn: &mut Conn,
            row: &MemberRow,
            role: Role,
            expected: Option<Role>,
            audit: &AuditRow,
        ) -> Result<MemberChange, TxError> {
            lock_case(conn, &row.case_id).await?;
            let current = role_in(conn, &row.case_id, &row.user_id).await?;
            if current == Some(role) {
                return Ok(MemberChange::Unchanged);
            }
            check_expected(current, expected)?;
            if role != Role::Owner {
                keep_an_owner(conn, &row.case_id, current).await?;
            }
            if current.is_none() {
                diesel::insert_into(case_members::table).values(row).execute(conn).await?;
            } else {
                diesel::update(case_members::table.find((&row.case_id, &row.user_id)))
                    .set((
                        case_members::role.eq(&row.role),
                        case_members::granted_by.eq(&row.granted_by),
                        case_members::updated_at.eq(row.updated_at),
                    ))
                    .execute(conn)
                    .await?;
            }
            insert_audit(conn, audit).await?;
            Ok(MemberChange::Applied { previous: current })
        }

        async fn remove_member_tx(
            conn: &mut Conn,
            case: &Id,
            user: &Id,
            expected: Role,
            audit: &AuditRow,
        ) -> Result<(), TxError> {
            lock_case(conn, case).await?;
            let current = role_in(conn, case, user).await?;
            if current.is_none() {
                return Err(TxError::Domain(not_found("member")));
            }
            check_expected(current, Some(expected))?;
            keep_an_owner(conn, case, current).await?;
            diesel::delete(case_members::table.find((case, user))).execute(conn).await?;
            insert_audit(conn, audit).await
        }

        async fn insert_pending_tx(
            conn: &mut Conn,
            row: &FileRow,
            before: DateTime<Utc>,
            audit: &AuditRow,
        ) -> Result<(), TxError> {
            // Starts with a write, so SQLite takes the write lock at once (a no-op update).
            diesel::update(cases::table.filter(cases::id.eq(&row.case_id)))
                .set(cases::id.eq(&row.case_id))
                .execute(conn)
                .await?;
            // A pending upload holding the path whose URL has expired gives it up, audited.
            let stale: Vec<Id> = case_files::table
                .filter(case_files::case_id.eq(&row.case_id))
                .filter(case_files::logical_path.eq(&row.logical_path))
                .filter(case_files::status.eq(FileStatus::Pending.as_str()))
                .filter(case_files::created_at.lt(before))
                .select(case_files::id)
                .load(conn)
                .await?;
            for id in &stale {
                if cas_status(conn, id, FileStatus::Pending.as_str(), FileStatus::Failed.as_str(), row.created_at).await? {
                    let superseded = AuditRow {
                        id: to_id(uuid::Uuid::new_v4()),
                        at: row.created_at,
                        actor_id: audit.actor_id.as_ref().map(from_id).transpose()?.map(to_id),
                        case_id: Some(to_id(from_id(&row.case_id)?)),
                        file_id: Some(to_id(from_id(id)?)),
                        action: AuditAction::UploadSuperseded.as_str().to_owned(),
                        outcome: AuditOutcome::Failure.as_str().to_owned(),
                        details: Some(format!(
                            "its upload URL had expired; {} was given to a new upload",
                            row.logical_path
                        )),
                        log_index: None,
                    };
                    insert_audit(conn, &superseded).await?;
                }
            }
            let case_exists: i64 = cases::table
                .filter(cases::id.eq(&row.case_id))
                .count()
                .get_result(conn)
                .await?;
            if case_exists == 0 {
                return Err(TxError::Domain(not_found("case")));
            }
            match diesel::insert_into(case_files::table).values(row).execute(conn).await {
                Ok(_) => {}
                Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                )) => {
                    return Err(TxError::Domain(conflict(format!(
                        "a live file already holds {}",
                        row.logical_path
                    ))));
                }
                Err(e) => return Err(e.into()),
            }
            insert_audit(conn, audit).await
        }

        async fn complete_tx(
            conn: &mut Conn,
            id: &Id,
            size: i64,
            mime_type: &str,
            at: DateTime<Utc>,
            audit: &AuditRow,
        ) -> Result<Transition, TxError> {
            let n = diesel::update(
                case_files::table
                    .filter(case_files::id.eq(id))
                    .filter(case_files::status.eq(FileStatus::Pending.as_str())),
            )
            .set((
                case_files::status.eq(FileStatus::Completed.as_str()),
                case_files::actual_size.eq(Some(size)),
                case_files::mime_type.eq(mime_type),
                case_files::completed_at.eq(Some(at)),
                case_files::updated_at.eq(at),
            ))
            .execute(conn)
            .await?;
            let row = read_file(conn, id).await?;
            if n == 0 {
                return settled(row, FileStatus::Completed.as_str());
            }
            let row = row.ok_or_else(|| TxError::Domain(not_found("file")))?;
            add_to_case(conn, &row.case_id, 1, size, at).await?;
            insert_audit(conn, audit).await?;
            Ok(Transition::Applied(file(row)?))
        }

        async fn fail_tx(conn: &mut Conn, id: &Id, at: DateTime<Utc>, audit: &AuditRow) -> Result<Transition, TxError> {
            let applied = cas_status(conn, id, FileStatus::Pending.as_str(), FileStatus::Failed.as_str(), at).await?;
            let row = read_file(conn, id).await?;
            if !applied {
                return settled(row, FileStatus::Failed.as_str());
            }
            insert_audit(conn, audit).await?;
            Ok(Transition::Applied(file(row.ok_or_else(|| TxError::Domain(not_found("file")))?)?))
        }

        async fn delete_tx(conn: &mut Conn, id: &Id, at: DateTime<Utc>, audit: &AuditRow) -> Result<Transition, TxError> {
            let deleted = FileStatus::Deleted.as_str();
            let was_completed = cas_status(conn, id, FileStatus::Completed.as_str(), deleted, at).await?;
            let applied = was_completed
                || cas_status(conn, id, FileStatus::Pending.as_str(), deleted, at).await?;
            let row = read_file(conn, id).await?;
            if !applied {
                return settled(row, deleted);
            }
            let row = row.ok_or_else(|| TxError::Domain(not_found("file")))?;
            if was_completed {
                let size = row.actual_size.unwrap_or(row.declared_size);
                add_to_case(conn, &row.case_id, -1, -size, at).await?;
            }
            insert_audit(conn, audit).await?;
            Ok(Transition::Applied(file(row)?))
        }

        async fn purge_tx(conn: &mut Conn, id: &Id, at: DateTime<Utc>, audit: &AuditRow) -> Result<Transition, TxError> {
            let n = diesel::update(
                case_files::table
                    .filter(case_files::id.eq(id))
                    .filter(case_files::status.eq_any([FileStatus::Failed.as_str(), FileStatus::Deleted.as_str()]))
                    .filter(case_files::purged_at.is_null()),
            )
            .set(case_files::purged_at.eq(Some(at)))
            .execute(conn)
            .await?;
            let row = read_file(conn, id).await?.ok_or_else(|| TxError::Domain(not_found("file")))?;
            if n == 0 {
                return if row.purged_at.is_some() {
                    Ok(Transition::Unchanged(file(row)?))
                } else {
                    Err(TxError::Domain(conflict(format!("file is {}", row.status))))
                };
            }
            insert_audit(conn, audit).await?;
            Ok(Transition::Applied(file(row)?))
        }

        #[derive(Debug, Clone, Queryable, Selectable, Insertable)]
        #[diesel(table_name = scrub_runs)]
        struct ScrubRunRow {
            id: Id,
            case_id: Option<Id>,
            started_at: DateTime<Utc>,
            heartbeat_at: DateTime<Utc>,
            finished_at: Option<DateTime<Utc>>,
            checked: i64,
            failed: i64,
            bytes: i64,
        }

        impl ScrubRunRow {
            fn into_domain(self) -> PersistenceResult<ScrubRun> {
                Ok(ScrubRun {
                    id: ScrubRunId(from_id(&self.id)?),
                    case_id: self.case_id.as_ref().map(from_id).transpose()?.map(CaseId),
                    started_at: self.started_at,
                    heartbeat_at: self.heartbeat_at,
                    finished_at: self.finished_at,
                    checked: size_from_db(self.checked)?,
                    failed: size_from_db(self.failed)?,
                    bytes: size_from_db(self.bytes)?,
                })
            }
        }

        #[derive(Debug, Clone, Queryable, Selectable, Insertable)]
        #[diesel(table_name = file_fixity)]
        struct FixityRow {
            file_id: Id,
            run_id: Id,
            verified_at: DateTime<Utc>,
            outcome: String,
        }

        async fn begin_scrub_tx(
            conn: &mut Conn,
            case: Option<Id>,
            new: &ScrubRunRow,
            stale_before: Option<DateTime<Utc>>,
        ) -> Result<ScrubClaim, TxError> {
            let mut q = scrub_runs::table.filter(scrub_runs::finished_at.is_null()).into_boxed();
            q = match case {
                Some(case) => q.filter(scrub_runs::case_id.eq(case)),
                None => q.filter(scrub_runs::case_id.is_null()),
            };
            let open: Option<ScrubRunRow> = q.select(ScrubRunRow::as_select()).first(conn).await.optional()?;
            let Some(mut run) = open else {
                diesel::insert_into(scrub_runs::table).values(new).execute(conn).await?;
                return Ok(ScrubClaim::Claimed { run: new.clone().into_domain()?, resumed: false });
            };
            if let Some(stale) = stale_before
                && run.heartbeat_at >= stale
            {
                return Ok(ScrubClaim::Busy(run.into_domain()?));
            }
            // A compare-and-set on the heartbeat: of two scrubbers resuming at once, one wins.
            let n = diesel::update(
                scrub_runs::table
                    .filter(scrub_runs::id.eq(&run.id))
                    .filter(scrub_runs::heartbeat_at.eq(run.heartbeat_at)),
            )
            .set(scrub_runs::heartbeat_at.eq(new.started_at))
            .execute(conn)
            .await?;
            if n == 0 {
                return Ok(ScrubClaim::Busy(run.into_domain()?));
            }
            run.heartbeat_at = new.started_at;
            Ok(ScrubClaim::Claimed { run: run.into_domain()?, resumed: true })
        }

        #[allow(clippy::too_many_arguments)]
        async fn record_fixity_tx(
            conn: &mut Conn,
            run: &Id,
            row: &FixityRow,
            since: DateTime<Utc>,
            failed: bool,
            bytes: i64,
            audit: Option<&AuditRow>,
        ) -> Result<bool, TxError> {
            // Replaced only when older than `since`; inserted only when absent: either way a
            // compare-and-set, so a file is recorded (and audited) once per run.
            let replaced = diesel::update(
                file_fixity::table
                    .filter(file_fixity::file_id.eq(&row.file_id))
                    .filter(file_fixity::verified_at.lt(since)),
            )
            .set((
                file_fixity::run_id.eq(&row.run_id),
                file_fixity::verified_at.eq(row.verified_at),
                file_fixity::outcome.eq(&row.outcome),
            ))
            .execute(conn)
            .await?;
            if replaced == 0 {
                let inserted = diesel::insert_into(file_fixity::table)
                    .values(row)
                    .on_conflict_do_nothing()
                    .execute(conn)
                    .await?;
                if inserted == 0 {
                    return Ok(false);
                }
            }
            let n = diesel::update(scrub_runs::table.filter(scrub_runs::id.eq(run)))
                .set((
                    scrub_runs::checked.eq(scrub_runs::checked + 1),
                    scrub_runs::failed.eq(scrub_runs::failed + i64::from(failed)),
                    scrub_runs::bytes.eq(scrub_runs::bytes + bytes),
                    scrub_runs::heartbeat_at.eq(row.verified_at),
                ))
                .execute(conn)
                .await?;
            if n == 0 {
                return Err(TxError::Domain(not_found("scrub run")));
            }
            if let Some(audit) = audit {
                insert_audit(conn, audit).await?;
            }
            Ok(true)
        }

        async fn finish_scrub_tx(conn: &mut Conn, id: &Id, at: DateTime<Utc>, audit: &AuditRow) -> Result<bool, TxError> {
            let n = diesel::update(
                scrub_runs::table
                    .filter(scrub_runs::id.eq(id))
                    .filter(scrub_runs::finished_at.is_null()),
            )
            .set(scrub_runs::finished_at.eq(Some(at)))
            .execute(conn)
            .await?;
            if n == 0 {
                let exists: Option<Id> = scrub_runs::table.find(id).select(scrub_runs::id).first(conn).await.optional()?;
                return match exists {
                    Some(_) => Ok(false),
                    None => Err(TxError::Domain(not_found("scrub run"))),
                };
            }
            insert_audit(conn, audit).await?;
            Ok(true)
        }

        #[async_trait::async_trait]
        impl CaseRepository for $repo {
            async fn create_case(&self, case: &Case, audit: &AuditEntry) -> PersistenceResult<()> {
                let row = CaseRow::new(case)?;
                let audit = AuditRow::new(audit);
                in_tx!(self, conn => create_case_tx(conn, &row, &audit).await)
            }

            async fn get_case(&self, id: CaseId) -> PersistenceResult<Option<Case>> {
                let mut conn = self.conn().await?;
                let row = cases::table
                    .find(to_id(id.0))
                    .select(CaseRow::as_select())
                    .first(&mut conn)
                    .await
                    .optional()
                    .map_err(crate::error::map_diesel)?;
                row.map(CaseRow::into_domain).transpose()
            }

            async fn case_for_member(&self, id: CaseId, user: UserId) -> PersistenceResult<Option<(Case, Option<Role>)>> {
                let mut conn = self.conn().await?;
                let row: Option<(CaseRow, Option<String>)> = cases::table
                    .left_join(
                        case_members::table.on(case_members::case_id
                            .eq(cases::id)
                            .and(case_members::user_id.eq(to_id(user.0)))),
                    )
                    .filter(cases::id.eq(to_id(id.0)))
                    .select((CaseRow::as_select(), case_members::role.nullable()))
                    .first(&mut conn)
                    .await
                    .optional()
                    .map_err(crate::error::map_diesel)?;
                let Some((case, role)) = row else {
                    return Ok(None);
                };
                Ok(Some((case.into_domain()?, role.as_deref().map(role_from_db).transpose()?)))
            }

            async fn list_members(&self, case: CaseId) -> PersistenceResult<Vec<Member>> {
                let mut conn = self.conn().await?;
                let rows: Vec<(MemberRow, Option<String>, Option<String>)> = case_members::table
                    .left_join(users::table.on(users::id.eq(case_members::user_id)))
                    .filter(case_members::case_id.eq(to_id(case.0)))
                    .order((case_members::added_at.asc(), case_members::user_id.asc()))
                    .select((
                        MemberRow::as_select(),
                        users::display_name.nullable(),
                        users::email.nullable(),
                    ))
                    .load(&mut conn)
                    .await
                    .map_err(crate::error::map_diesel)?;
                rows.into_iter()
                    .map(|(row, display_name, email)| {
                        let profile = UserProfile { display_name, email };
                        row.into_domain((!profile.is_empty()).then_some(profile))
                    })
                    .collect()
            }

            async fn put_member(&self, member: &Member, expected: Option<Role>, audit: &AuditEntry) -> PersistenceResult<MemberChange> {
                let row = MemberRow::new(member);
                let audit = AuditRow::new(audit);
                in_tx!(self, conn => put_member_tx(conn, &row, member.role, expected, &audit).await)
            }

            async fn remove_member(&self, case: CaseId, user: UserId, expected: Role, audit: &AuditEntry) -> PersistenceResult<()> {
                let (case, user, audit) = (to_id(case.0), to_id(user.0), AuditRow::new(audit));
                in_tx!(self, conn => remove_member_tx(conn, &case, &user, expected, &audit).await)
            }

            async fn remember_user(&self, user: UserId, profile: &UserProfile, at: DateTime<Utc>) -> PersistenceResult<()> {
                let mut conn = self.conn().await?;
                let values = (
                    users::id.eq(to_id(user.0)),
                    users::display_name.eq(profile.display_name.clone()),
                    users::email.eq(profile.email.clone()),
                    users::updated_at.eq(at),
                );
                diesel::insert_into(users::table)
                    .values(values.clone())
                    .on_conflict(users::id)
                    .do_update()
                    .set((
                        users::display_name.eq(profile.display_name.clone()),
                        users::email.eq(profile.email.clone()),
                        users::updated_at.eq(at),
                    ))
                    .execute(&mut conn)
                    .await
                    .map_err(crate::error::map_diesel)?;
                Ok(())
            }

            async fn place_hold(&self, hold: &LegalHold, audit: &AuditEntry) -> PersistenceResult<()> {
                let row = HoldRow::new(hold);
                let files: Vec<Id> = match &hold.scope {
                    HoldScope::Files { file_ids } => file_ids.iter().map(|f| to_id(f.0)).collect(),
                    _ => Vec::new(),
                };
                let audit = AuditRow::new(audit);
                in_tx!(self, conn => place_hold_tx(conn, &row, &files, &audit).await)
            }

            async fn list_holds(&self, case: CaseId) -> PersistenceResult<Vec<LegalHold>> {
                let mut conn = self.conn().await?;
                let rows: Vec<HoldRow> = legal_holds::table
                    .filter(legal_holds::case_id.eq(to_id(case.0)))
                    .order((legal_holds::placed_at.asc(), legal_holds::id.asc()))
                    .select(HoldRow::as_select())
                    .load(&mut conn)
                    .await
                    .map_err(crate::error::map_diesel)?;
                holds_of(&mut conn, rows).await.map_err(Into::into)
            }

            async fn get_hold(&self, id: HoldId) -> PersistenceResult<Option<LegalHold>> {
                let mut conn = self.conn().await?;
                let row: Option<HoldRow> = legal_holds::table
                    .find(to_id(id.0))
                    .select(HoldRow::as_select())
                    .first(&mut conn)
                    .await
                    .optional()
                    .map_err(crate::error::map_diesel)?;
                let Some(row) = row else { return Ok(None) };
                let mut holds = holds_of(&mut conn, vec![row]).await?;
                Ok(holds.pop())
            }

            async fn release_hold(&self, id: HoldId, release: &HoldRelease, audit: &AuditEntry) -> PersistenceResult<()> {
                let (id, by, audit) = (to_id(id.0), to_id(release.released_by.0), AuditRow::new(audit));
                let (at, reason) = (release.released_at, release.reason.clone());
                in_tx!(self, conn => release_hold_tx(conn, &id, &by, at, &reason, &audit).await)
            }

            async fn set_retention(&self, case: CaseId, until: DateTime<Utc>, audit: &AuditEntry) -> PersistenceResult<()> {
                let (case, audit) = (to_id(case.0), AuditRow::new(audit));
                in_tx!(self, conn => set_retention_tx(conn, &case, until, &audit).await)
            }

            async fn lock_candidates(&self, after: Option<FileId>, limit: usize) -> PersistenceResult<Vec<CaseFile>> {
                let mut conn = self.conn().await?;
                let mut q = case_files::table
                    .filter(case_files::completed_at.is_not_null())
                    .filter(case_files::purged_at.is_null())
                    .filter(
                        case_files::case_id
                            .eq_any(legal_holds::table.select(legal_holds::case_id))
                            .or(case_files::case_id.eq_any(
                                cases::table.filter(cases::retain_until.is_not_null()).select(cases::id),
                            ))
                            .or(case_files::retain_until.is_not_null()),
                    )
                    .into_boxed();
                if let Some(after) = after {
                    q = q.filter(case_files::id.gt(to_id(after.0)));
                }
                let rows = q
                    .order(case_files::id.asc())
                    .limit(i64::try_from(limit).unwrap_or(i64::MAX))
                    .select(FileRow::as_select())
                    .load(&mut conn)
                    .await
                    .map_err(crate::error::map_diesel)?;
                rows.into_iter().map(FileRow::into_domain).collect()
            }

            async fn set_file_retention(&self, file: FileId, until: DateTime<Utc>, audit: &AuditEntry) -> PersistenceResult<()> {
                let (file, audit) = (to_id(file.0), AuditRow::new(audit));
                in_tx!(self, conn => set_file_retention_tx(conn, &file, until, &audit).await)
            }

            async fn audit_tree_head(&self) -> PersistenceResult<merkle::TreeHead> {
                let mut conn = self.conn().await?;
                let size: i64 = audit_log_head::table
                    .select(audit_log_head::tree_size)
                    .first(&mut conn)
                    .await
                    .map_err(crate::error::map_diesel)?;
                let size = u64::try_from(size).map_err(|_| corrupt("negative tree size".to_owned()))?;
                let read = read_tree(&mut conn, &merkle::root_reads(size)).await?;
                let root = merkle::root(size, &read)
                    .ok_or_else(|| corrupt("the audit tree lacks hashes it must hold".to_owned()))?;
                Ok(merkle::TreeHead { size, root })
            }

            async fn audit_entry_at(&self, index: u64) -> PersistenceResult<Option<AuditEntry>> {
                let Ok(index) = i64::try_from(index) else { return Ok(None) };
                let mut conn = self.conn().await?;
                let row: Option<AuditRow> = audit_log::table
                    .filter(audit_log::log_index.eq(index))
                    .select(AuditRow::as_select())
                    .first(&mut conn)
                    .await
                    .optional()
                    .map_err(crate::error::map_diesel)?;
                row.map(AuditRow::into_domain).transpose()
            }

            async fn store_checkpoint(&self, tree_size: u64, note: &str, at: DateTime<Utc>) -> PersistenceResult<()> {
                let size = i64::try_from(tree_size).map_err(|_| conflict("tree size over i64"))?;
                let mut conn = self.conn().await?;
                let kept: Option<String> = audit_checkpoints::table
                    .find(size)
                    .select(audit_checkpoints::note)
                    .first(&mut conn)
                    .await
                    .optional()
                    .map_err(crate::error::map_diesel)?;
                match kept {
                    Some(kept) if kept == note => Ok(()),
                    Some(_) => Err(conflict("another checkpoint is kept at this size")),
                    None => diesel::insert_into(audit_checkpoints::table)
                        .values((
                            audit_checkpoints::tree_size.eq(size),
                            audit_checkpoints::note.eq(note),
                            audit_checkpoints::made_at.eq(at),
                        ))
                        .execute(&mut conn)
                        .await
                        .map(drop)
                        .map_err(crate::error::map_diesel),
                }
            }

            async fn checkpoints(&self) -> PersistenceResult<Vec<(u64, String)>> {
                let mut conn = self.conn().await?;
                let rows: Vec<(i64, String)> = audit_checkpoints::table
                    .order(audit_checkpoints::tree_size.asc())
                    .select((audit_checkpoints::tree_size, audit_checkpoints::note))
                    .load(&mut conn)
                    .await
                    .map_err(crate::error::map_diesel)?;
                rows.into_iter()
                    .map(|(s, n)| u64::try_from(s).map(|s| (s, n)).map_err(|_| corrupt("negative tree size".to_owned())))
                    .collect()
            }

            async fn read_audit_tree(&self, indexes: &[u64]) -> PersistenceResult<Vec<merkle::TreeHash>> {
                let mut conn = self.conn().await?;
                read_tree(&mut conn, indexes).await.map_err(|e| match e {
                    TxError::Domain(PersistenceError::Backend { .. }) => not_found("audit tree hash"),
                    other => other.into(),
                })
            }

            async fn protection(&self, file: FileId) -> PersistenceResult<Protection> {
                let mut conn = self.conn().await?;
                let Some(row) = read_file(&mut conn, &to_id(file.0)).await? else {
                    return Err(not_found("file"));
                };
                protection_of(&mut conn, &row).await.map_err(Into::into)
            }

            async fn list_cases(&self, member: UserId, after: Option<CaseId>, limit: usize) -> PersistenceResult<Vec<MemberCase>> {
                let mut conn = self.conn().await?;
                let mut query = cases::table
                    .inner_join(case_members::table)
                    .filter(case_members::user_id.eq(to_id(member.0)))
                    .into_boxed();
                if let Some(after) = after {
                    let cursor: Option<(DateTime<Utc>, Id)> = cases::table
                        .inner_join(case_members::table)
                        .filter(cases::id.eq(to_id(after.0)))
                        .filter(case_members::user_id.eq(to_id(member.0)))
                        .select((cases::created_at, cases::id))
                        .first(&mut conn)
                        .await
                        .optional()
                        .map_err(crate::error::map_diesel)?;
                    let (at, id) = cursor.ok_or_else(|| crate::error::not_found("case cursor"))?;
                    query = query.filter(
                        cases::created_at
                            .gt(at)
                            .or(cases::created_at.eq(at).and(cases::id.gt(id))),
                    );
                }
                let rows: Vec<(CaseRow, String)> = query
                    .order((cases::created_at.asc(), cases::id.asc()))
                    .limit(i64::try_from(limit).unwrap_or(i64::MAX))
                    .select((CaseRow::as_select(), case_members::role))
                    .load(&mut conn)
                    .await
                    .map_err(crate::error::map_diesel)?;
                rows.into_iter()
                    .map(|(case, role)| {
                        Ok(MemberCase { case: case.into_domain()?, role: role_from_db(&role)? })
                    })
                    .collect()
            }

            async fn insert_pending_file(
                &self,
                file: &CaseFile,
                supersede_pending_before: DateTime<Utc>,
                audit: &AuditEntry,
            ) -> PersistenceResult<()> {
                let row = FileRow::new(file)?;
                let audit = AuditRow::new(audit);
                in_tx!(self, conn => insert_pending_tx(conn, &row, supersede_pending_before, &audit).await)
            }

            async fn get_file(&self, id: FileId) -> PersistenceResult<Option<CaseFile>> {
                let mut conn = self.conn().await?;
                let row = read_file(&mut conn, &to_id(id.0)).await?;
                row.map(FileRow::into_domain).transpose()
            }

            async fn complete_file(
                &self,
                id: FileId,
                actual_size: u64,
                mime_type: &str,
                at: DateTime<Utc>,
                audit: &AuditEntry,
            ) -> PersistenceResult<Transition> {
                let size = size_to_db(actual_size)?;
                let (id, audit) = (to_id(id.0), AuditRow::new(audit));
                in_tx!(self, conn => complete_tx(conn, &id, size, mime_type, at, &audit).await)
            }

            async fn fail_file(&self, id: FileId, at: DateTime<Utc>, audit: &AuditEntry) -> PersistenceResult<Transition> {
                let (id, audit) = (to_id(id.0), AuditRow::new(audit));
                in_tx!(self, conn => fail_tx(conn, &id, at, &audit).await)
            }

            async fn delete_file(&self, id: FileId, at: DateTime<Utc>, audit: &AuditEntry) -> PersistenceResult<Transition> {
                let (id, audit) = (to_id(id.0), AuditRow::new(audit));
                in_tx!(self, conn => delete_tx(conn, &id, at, &audit).await)
            }

            async fn list_files(&self, case: CaseId, query: &FileQuery) -> PersistenceResult<Vec<CaseFile>> {
                let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
                // Keyset on (case_id, logical_path) of the partial index of completed files: a
                // string prefix `p` is the range [p, successor(p)) in byte order.
                let mut q = case_files::table
                    .filter(case_files::case_id.eq(to_id(case.0)))
                    .filter(case_files::status.eq(FileStatus::Completed.as_str()))
                    .into_boxed();
                if let Some(p) = &query.prefix {
                    q = q.filter(case_files::logical_path.ge(p.clone()));
                    if let Some(upper) = crate::prefix_successor(p) {
                        q = q.filter(case_files::logical_path.lt(upper));
                    }
                }
                if let Some(after) = &query.after {
                    q = q.filter(case_files::logical_path.gt(after.to_string()));
                }
                if let Some(from) = &query.from {
                    q = q.filter(case_files::logical_path.ge(from.clone()));
                }
                let mut conn = self.conn().await?;
                let rows = q
                    .order(case_files::logical_path.asc())
                    .limit(limit)
                    .select(FileRow::as_select())
                    .load(&mut conn)
                    .await
                    .map_err(crate::error::map_diesel)?;
                rows.into_iter().map(FileRow::into_domain).collect()
            }

            async fn open_uploads(&self, case: CaseId, user: UserId, since: DateTime<Utc>) -> PersistenceResult<OpenUploads> {
                let mut conn = self.conn().await?;
                let open = || {
                    case_files::table
                        .filter(case_files::status.eq(FileStatus::Pending.as_str()))
                        .filter(case_files::created_at.ge(since))
                };
                let in_case: i64 = open()
                    .filter(case_files::case_id.eq(to_id(case.0)))
                    .count()
                    .get_result(&mut conn)
                    .await
                    .map_err(crate::error::map_diesel)?;
                let by_user: i64 = open()
                    .filter(case_files::uploaded_by.eq(to_id(user.0)))
                    .count()
                    .get_result(&mut conn)
                    .await
                    .map_err(crate::error::map_diesel)?;
                Ok(OpenUploads {
                    in_case: u64::try_from(in_case).unwrap_or(0),
                    by_user: u64::try_from(by_user).unwrap_or(0),
                })
            }

            async fn pending_uploads(&self) -> PersistenceResult<u64> {
                let mut conn = self.conn().await?;
                let pending: i64 = case_files::table
                    .filter(case_files::status.eq(FileStatus::Pending.as_str()))
                    .count()
                    .get_result(&mut conn)
                    .await
                    .map_err(crate::error::map_diesel)?;
                Ok(u64::try_from(pending).unwrap_or(0))
            }

            async fn stale_pending_files(&self, created_before: DateTime<Utc>, limit: usize) -> PersistenceResult<Vec<CaseFile>> {
                let mut conn = self.conn().await?;
                let rows = case_files::table
                    .filter(case_files::status.eq(FileStatus::Pending.as_str()))
                    .filter(case_files::created_at.lt(created_before))
                    .order((case_files::created_at.asc(), case_files::id.asc()))
                    .limit(i64::try_from(limit).unwrap_or(i64::MAX))
                    .select(FileRow::as_select())
                    .load(&mut conn)
                    .await
                    .map_err(crate::error::map_diesel)?;
                rows.into_iter().map(FileRow::into_domain).collect()
            }

            async fn files_to_purge(&self, limit: usize) -> PersistenceResult<Vec<CaseFile>> {
                let mut conn = self.conn().await?;
                let batch = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
                let mut found = Vec::new();
                let mut after: Option<(DateTime<Utc>, Id)> = None;
                // Pages on (updated_at, id), leaving out protected files, so that held bytes
                // never starve the purge of the others.
                loop {
                    let mut q = case_files::table
                        .filter(case_files::status.eq_any([FileStatus::Failed.as_str(), FileStatus::Deleted.as_str()]))
                        .filter(case_files::purged_at.is_null())
                        .into_boxed();
                    if let Some((at, id)) = after.clone() {
                        q = q.filter(
                            case_files::updated_at
                                .gt(at)
                                .or(case_files::updated_at.eq(at).and(case_files::id.gt(id))),
                        );
                    }
                    let rows: Vec<FileRow> = q
                        .order((case_files::updated_at.asc(), case_files::id.asc()))
                        .limit(batch)
                        .select(FileRow::as_select())
                        .load(&mut conn)
                        .await
                        .map_err(crate::error::map_diesel)?;
                    let last_page = rows.len() < limit.max(1);
                    for row in rows {
                        after = Some((row.updated_at, row.id.clone()));
                        if row.completed_at.is_some() {
                            let p = protection_of(&mut conn, &row).await?;
                            if p.held() || p.retained_at(Utc::now()) {
                                continue;
                            }
                        }
                        found.push(row.into_domain()?);
                        if found.len() >= limit {
                            return Ok(found);
                        }
                    }
                    if last_page {
                        return Ok(found);
                    }
                }
            }

            async fn mark_purged(&self, id: FileId, at: DateTime<Utc>, audit: &AuditEntry) -> PersistenceResult<Transition> {
                let (id, audit) = (to_id(id.0), AuditRow::new(audit));
                in_tx!(self, conn => purge_tx(conn, &id, at, &audit).await)
            }

            async fn begin_scrub(
                &self,
                case: Option<CaseId>,
                new_id: ScrubRunId,
                at: DateTime<Utc>,
                stale_before: Option<DateTime<Utc>>,
            ) -> PersistenceResult<ScrubClaim> {
                let case = case.map(|c| to_id(c.0));
                let new = ScrubRunRow {
                    id: to_id(new_id.0),
                    case_id: case.clone(),
                    started_at: at,
                    heartbeat_at: at,
                    finished_at: None,
                    checked: 0,
                    failed: 0,
                    bytes: 0,
                };
                in_tx!(self, conn => begin_scrub_tx(conn, case.clone(), &new, stale_before).await)
            }

            async fn scrub_run(&self, id: ScrubRunId) -> PersistenceResult<Option<ScrubRun>> {
                let mut conn = self.conn().await?;
                let row: Option<ScrubRunRow> = scrub_runs::table
                    .find(to_id(id.0))
                    .select(ScrubRunRow::as_select())
                    .first(&mut conn)
                    .await
                    .optional()
                    .map_err(crate::error::map_diesel)?;
                row.map(ScrubRunRow::into_domain).transpose()
            }

            async fn scrub_candidates(
                &self,
                case: Option<CaseId>,
                verified_before: DateTime<Utc>,
                after: Option<FileId>,
                limit: usize,
            ) -> PersistenceResult<Vec<CaseFile>> {
                let mut conn = self.conn().await?;
                let verified = file_fixity::table
                    .filter(file_fixity::verified_at.ge(verified_before))
                    .select(file_fixity::file_id);
                let mut q = case_files::table
                    .filter(case_files::status.eq(FileStatus::Completed.as_str()))
                    .filter(case_files::id.ne_all(verified))
                    .into_boxed();
                if let Some(case) = case {
                    q = q.filter(case_files::case_id.eq(to_id(case.0)));
                }
                if let Some(after) = after {
                    q = q.filter(case_files::id.gt(to_id(after.0)));
                }
                let rows = q
                    .order(case_files::id.asc())
                    .limit(i64::try_from(limit).unwrap_or(i64::MAX))
                    .select(FileRow::as_select())
                    .load(&mut conn)
                    .await
                    .map_err(crate::error::map_diesel)?;
                rows.into_iter().map(FileRow::into_domain).collect()
            }

            async fn scrub_backlog(
                &self,
                case: Option<CaseId>,
                verified_before: DateTime<Utc>,
            ) -> PersistenceResult<ScrubBacklog> {
                // Counted a page at a time (keyset on id): memory stays bounded whatever the
                // number of files, and one query shape serves both databases (a SQL SUM of a
                // BIGINT is NUMERIC on PostgreSQL and BIGINT on SQLite).
                const PAGE: i64 = 10_000;
                let mut conn = self.conn().await?;
                let mut backlog = ScrubBacklog::default();
                let mut after: Option<Id> = None;
                loop {
                    let verified = file_fixity::table
                        .filter(file_fixity::verified_at.ge(verified_before))
                        .select(file_fixity::file_id);
                    let mut q = case_files::table
                        .filter(case_files::status.eq(FileStatus::Completed.as_str()))
                        .filter(case_files::id.ne_all(verified))
                        .into_boxed();
                    if let Some(case) = case {
                        q = q.filter(case_files::case_id.eq(to_id(case.0)));
                    }
                    if let Some(after) = after.take() {
                        q = q.filter(case_files::id.gt(after));
                    }
                    let page: Vec<(Id, Option<i64>)> = q
                        .order(case_files::id.asc())
                        .limit(PAGE)
                        .select((case_files::id, case_files::actual_size))
                        .load(&mut conn)
                        .await
                        .map_err(crate::error::map_diesel)?;
                    let full = page.len() as i64 == PAGE;
                    for (id, size) in page {
                        backlog.files += 1;
                        backlog.bytes += size_from_db(size.unwrap_or(0))?;
                        after = Some(id);
                    }
                    if !full {
                        return Ok(backlog);
                    }
                }
            }

            async fn record_fixity(
                &self,
                run: ScrubRunId,
                file: FileId,
                since: DateTime<Utc>,
                outcome: FixityOutcome,
                bytes: u64,
                at: DateTime<Utc>,
                audit: Option<AuditEntry>,
            ) -> PersistenceResult<bool> {
                let run = to_id(run.0);
                let row = FixityRow {
                    file_id: to_id(file.0),
                    run_id: run.clone(),
                    verified_at: at,
                    outcome: outcome.as_str().to_owned(),
                };
                let bytes = size_to_db(bytes)?;
                let audit = audit.as_ref().map(AuditRow::new);
                let failed = outcome != FixityOutcome::Ok;
                in_tx!(self, conn => record_fixity_tx(conn, &run, &row, since, failed, bytes, audit.as_ref()).await)
            }

            async fn finish_scrub(&self, id: ScrubRunId, at: DateTime<Utc>, audit: &AuditEntry) -> PersistenceResult<bool> {
                let (id, audit) = (to_id(id.0), AuditRow::new(audit));
                in_tx!(self, conn => finish_scrub_tx(conn, &id, at, &audit).await)
            }

            async fn fixity_of(&self, file: FileId) -> PersistenceResult<Option<FixityRecord>> {
                let mut conn = self.conn().await?;
                let row: Option<FixityRow> = file_fixity::table
                    .find(to_id(file.0))
                    .select(FixityRow::as_select())
                    .first(&mut conn)
                    .await
                    .optional()
                    .map_err(crate::error::map_diesel)?;
                row.map(|row| {
                    Ok(FixityRecord {
                        verified_at: row.verified_at,
                        outcome: FixityOutcome::parse(&row.outcome)
                            .ok_or_else(|| corrupt(format!("unknown fixity outcome {}", row.outcome)))?,
                        run: ScrubRunId(from_id(&row.run_id)?),
                    })
                })
                .transpose()
            }

            async fn files_in_key_order(
                &self,
                after: Option<(CaseId, FileId)>,
                limit: usize,
            ) -> PersistenceResult<Vec<CaseFile>> {
                let mut conn = self.conn().await?;
                let mut q = case_files::table.into_boxed();
                if let Some((case, file)) = after {
                    let (case, file) = (to_id(case.0), to_id(file.0));
                    q = q.filter(
                        case_files::case_id
                            .gt(case.clone())
                            .or(case_files::case_id.eq(case).and(case_files::id.gt(file))),
                    );
                }
                let rows = q
                    .order((case_files::case_id.asc(), case_files::id.asc()))
                    .limit(i64::try_from(limit).unwrap_or(i64::MAX))
                    .select(FileRow::as_select())
                    .load(&mut conn)
                    .await
                    .map_err(crate::error::map_diesel)?;
                rows.into_iter().map(FileRow::into_domain).collect()
            }

            async fn append_audit(&self, entry: &AuditEntry) -> PersistenceResult<()> {
                let row = AuditRow::new(entry);
                in_tx!(self, conn => insert_audit(conn, &row).await)
            }

            async fn list_audit(&self, query: &AuditQuery) -> PersistenceResult<Vec<AuditEntry>> {
                let mut q = audit_log::table.into_boxed();
                if let Some(case) = query.case_id {
                    q = q.filter(audit_log::case_id.eq(to_id(case.0)));
                }
                if let Some(file) = query.file_id {
                    q = q.filter(audit_log::file_id.eq(to_id(file.0)));
                }
                if let Some(limit) = query.limit {
                    q = q.limit(i64::try_from(limit).unwrap_or(i64::MAX));
                }
                let mut conn = self.conn().await?;
                if let Some(after) = query.after {
                    // The cursor must be an entry of the trail asked for, not of another case's.
                    let mut cursor = audit_log::table
                        .filter(audit_log::id.eq(to_id(after.0)))
                        .into_boxed();
                    if let Some(case) = query.case_id {
                        cursor = cursor.filter(audit_log::case_id.eq(to_id(case.0)));
                    }
                    if let Some(file) = query.file_id {
                        cursor = cursor.filter(audit_log::file_id.eq(to_id(file.0)));
                    }
                    let seq: Option<i64> = cursor
                        .select(audit_log::seq)
                        .first(&mut conn)
                        .await
                        .optional()
                        .map_err(crate::error::map_diesel)?;
                    let Some(seq) = seq else {
                        return Err(not_found("audit entry"));
                    };
                    q = q.filter(audit_log::seq.gt(seq));
                }
                let rows = q
                    .order(audit_log::seq.asc())
                    .select(AuditRow::as_select())
                    .load(&mut conn)
                    .await
                    .map_err(crate::error::map_diesel)?;
                rows.into_iter().map(AuditRow::into_domain).collect()
            }
        }
    };
}
