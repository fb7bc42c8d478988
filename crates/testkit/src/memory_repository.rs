//! [`InMemoryCaseRepository`]: an honest in-memory fake of the persistence port.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use casefile_domain::legal::fixity::{
    FixityOutcome, FixityRecord, ScrubBacklog, ScrubClaim, ScrubRun, ScrubRunId,
};
use casefile_domain::legal::{
    AuditEntry, AuditQuery, Case, CaseFile, CaseId, CaseRepository, FileId, FileQuery, FileStatus,
    HoldId, HoldRelease, HoldScope, LegalHold, Member, MemberCase, MemberChange, OpenUploads,
    PersistenceError, PersistenceResult, Protection, Role, Transition, UserId, UserProfile,
};
use chrono::{DateTime, Utc};

#[derive(Debug, Default)]
struct State {
    cases: BTreeMap<CaseId, Case>,
    files: BTreeMap<FileId, CaseFile>,
    members: BTreeMap<(CaseId, UserId), Member>,
    users: BTreeMap<UserId, UserProfile>,
    holds: BTreeMap<HoldId, LegalHold>,
    checkpoints: BTreeMap<u64, String>,
    file_retention: BTreeMap<FileId, DateTime<Utc>>,
    scrub_runs: BTreeMap<ScrubRunId, ScrubRun>,
    fixity: BTreeMap<FileId, FixityRecord>,
    audit: Vec<AuditEntry>,
}

/// Cases, files and audit entries in memory. Every operation runs under one lock, so each is
/// atomic exactly as the port requires; it passes the repository conformance suite
/// ([`crate::repository`]) like the database adapters do.
#[derive(Debug, Default)]
pub struct InMemoryCaseRepository {
    state: Mutex<State>,
}

impl InMemoryCaseRepository {
    /// An empty repository.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn not_found(what: &str) -> PersistenceError {
    PersistenceError::NotFound {
        what: what.to_owned(),
    }
}

fn conflict(what: impl Into<String>) -> PersistenceError {
    PersistenceError::Conflict { what: what.into() }
}

impl State {
    /// Appends an entry at the next log index (the leaf of the audit log's tree).
    fn log(&mut self, entry: &AuditEntry) {
        let mut entry = entry.clone();
        entry.log_index = Some(self.audit.len() as u64);
        self.audit.push(entry);
    }

    /// Completed files of `case` not verified at or after `before`, by id.
    fn scrub_candidates(
        &self,
        case: Option<CaseId>,
        before: DateTime<Utc>,
    ) -> impl Iterator<Item = &CaseFile> {
        self.files.values().filter(move |f| {
            f.status == FileStatus::Completed
                && case.is_none_or(|c| f.case_id == c)
                && self
                    .fixity
                    .get(&f.id)
                    .is_none_or(|r| r.verified_at < before)
        })
    }

    fn file_mut(&mut self, id: FileId) -> PersistenceResult<&mut CaseFile> {
        self.files.get_mut(&id).ok_or_else(|| not_found("file"))
    }

    fn case_mut(&mut self, id: CaseId) -> PersistenceResult<&mut Case> {
        self.cases.get_mut(&id).ok_or_else(|| not_found("case"))
    }

    fn role(&self, case: CaseId, user: UserId) -> Option<Role> {
        self.members.get(&(case, user)).map(|m| m.role)
    }

    /// Refuses a change that takes the owner role from the last owner.
    fn keep_an_owner(&self, case: CaseId, current: Option<Role>) -> PersistenceResult<()> {
        if current != Some(Role::Owner) {
            return Ok(());
        }
        let owners = self
            .members
            .values()
            .filter(|m| m.case_id == case && m.role == Role::Owner)
            .count();
        if owners <= 1 {
            return Err(conflict("a case keeps at least one owner"));
        }
        Ok(())
    }

    /// The active holds covering `file`, and its case's retention date.
    fn protection_of(&self, file: &CaseFile) -> Protection {
        let mut holds: Vec<&LegalHold> = self
            .holds
            .values()
            .filter(|h| {
                h.case_id == file.case_id
                    && h.is_active()
                    && h.scope.covers(file.id, file.logical_path.as_str())
            })
            .collect();
        holds.sort_by_key(|h| (h.placed_at, h.id));
        Protection {
            holds: holds.into_iter().map(|h| h.id).collect(),
            retain_until: self
                .cases
                .get(&file.case_id)
                .and_then(|c| c.retain_until)
                .max(self.file_retention.get(&file.id).copied()),
        }
    }

    /// What the database triggers refuse: a once-completed file that is held or retained is
    /// never marked deleted or purged.
    fn refuse_if_protected(&self, file: &CaseFile) -> PersistenceResult<()> {
        let p = self.protection_of(file);
        if file.completed_at.is_some() && (p.held() || p.retained_at(Utc::now())) {
            return Err(conflict("the file is held or retained"));
        }
        Ok(())
    }
}

fn changed_concurrently() -> PersistenceError {
    conflict("the member's role changed concurrently; read it again")
}

#[async_trait]
impl CaseRepository for InMemoryCaseRepository {
    async fn create_case(&self, case: &Case, audit: &AuditEntry) -> PersistenceResult<()> {
        let mut state = self.lock();
        if state.cases.contains_key(&case.id) {
            return Err(conflict("case id exists"));
        }
        state.cases.insert(case.id, case.clone());
        state.members.insert(
            (case.id, case.created_by),
            Member {
                case_id: case.id,
                user_id: case.created_by,
                role: Role::Owner,
                granted_by: None,
                added_at: case.created_at,
                updated_at: case.created_at,
                profile: None,
            },
        );
        state.log(audit);
        Ok(())
    }

    async fn case_for_member(
        &self,
        id: CaseId,
        user: UserId,
    ) -> PersistenceResult<Option<(Case, Option<Role>)>> {
        let state = self.lock();
        Ok(state
            .cases
            .get(&id)
            .map(|c| (c.clone(), state.role(id, user))))
    }

    async fn list_members(&self, case: CaseId) -> PersistenceResult<Vec<Member>> {
        let state = self.lock();
        let mut members: Vec<Member> = state
            .members
            .values()
            .filter(|m| m.case_id == case)
            .map(|m| Member {
                profile: state.users.get(&m.user_id).cloned(),
                ..m.clone()
            })
            .collect();
        members.sort_by_key(|m| (m.added_at, m.user_id));
        Ok(members)
    }

    async fn put_member(
        &self,
        member: &Member,
        expected: Option<Role>,
        audit: &AuditEntry,
    ) -> PersistenceResult<MemberChange> {
        let mut state = self.lock();
        if !state.cases.contains_key(&member.case_id) {
            return Err(not_found("case"));
        }
        let key = (member.case_id, member.user_id);
        let current = state.role(member.case_id, member.user_id);
        if current == Some(member.role) {
            return Ok(MemberChange::Unchanged);
        }
        if current != expected {
            return Err(changed_concurrently());
        }
        if member.role != Role::Owner {
            state.keep_an_owner(member.case_id, current)?;
        }
        let added_at = state
            .members
            .get(&key)
            .map_or(member.added_at, |m| m.added_at);
        state.members.insert(
            key,
            Member {
                added_at,
                profile: None,
                ..member.clone()
            },
        );
        state.log(audit);
        Ok(MemberChange::Applied { previous: current })
    }

    async fn remove_member(
        &self,
        case: CaseId,
        user: UserId,
        expected: Role,
        audit: &AuditEntry,
    ) -> PersistenceResult<()> {
        let mut state = self.lock();
        let current = state.role(case, user);
        if current.is_none() {
            return Err(not_found("member"));
        }
        if current != Some(expected) {
            return Err(changed_concurrently());
        }
        state.keep_an_owner(case, current)?;
        state.members.remove(&(case, user));
        state.log(audit);
        Ok(())
    }

    async fn remember_user(
        &self,
        user: UserId,
        profile: &UserProfile,
        _at: DateTime<Utc>,
    ) -> PersistenceResult<()> {
        self.lock().users.insert(user, profile.clone());
        Ok(())
    }

    async fn get_case(&self, id: CaseId) -> PersistenceResult<Option<Case>> {
        Ok(self.lock().cases.get(&id).cloned())
    }

    async fn list_cases(
        &self,
        member: UserId,
        after: Option<CaseId>,
        limit: usize,
    ) -> PersistenceResult<Vec<MemberCase>> {
        let state = self.lock();
        let cursor = match after {
            Some(id) => match state.cases.get(&id) {
                Some(c) if state.role(id, member).is_some() => Some((c.created_at, c.id)),
                _ => {
                    return Err(PersistenceError::NotFound {
                        what: "case cursor".to_owned(),
                    });
                }
            },
            None => None,
        };
        let mut cases: Vec<MemberCase> = state
            .cases
            .values()
            .filter(|c| cursor.is_none_or(|at| (c.created_at, c.id) > at))
            .filter_map(|c| {
                let role = state.role(c.id, member)?;
                Some(MemberCase {
                    case: c.clone(),
                    role,
                })
            })
            .collect();
        cases.sort_by_key(|c| (c.case.created_at, c.case.id));
        cases.truncate(limit);
        Ok(cases)
    }

    async fn insert_pending_file(
        &self,
        file: &CaseFile,
        supersede_pending_before: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> PersistenceResult<()> {
        let mut state = self.lock();
        if !state.cases.contains_key(&file.case_id) {
            return Err(not_found("case"));
        }
        if state.files.contains_key(&file.id) {
            return Err(conflict("file id exists"));
        }
        let holders: Vec<(FileId, FileStatus, DateTime<Utc>)> = state
            .files
            .values()
            .filter(|f| f.case_id == file.case_id && f.logical_path == file.logical_path)
            .filter(|f| f.status.is_live())
            .map(|f| (f.id, f.status, f.created_at))
            .collect();
        let blocking = holders.iter().any(|(_, status, created)| {
            *status == FileStatus::Completed || *created >= supersede_pending_before
        });
        if blocking {
            return Err(conflict(format!(
                "a live file already holds {}",
                file.logical_path
            )));
        }
        for (stale, _, _) in holders {
            let f = state.file_mut(stale)?;
            f.status = FileStatus::Failed;
            f.updated_at = file.created_at;
            let mut superseded = AuditEntry::new(
                file.created_at,
                audit.actor,
                casefile_domain::legal::AuditAction::UploadSuperseded,
                casefile_domain::legal::AuditOutcome::Failure,
            )
            .case(file.case_id)
            .file(stale);
            superseded.details = Some(format!(
                "its upload URL had expired; {} was given to a new upload",
                file.logical_path
            ));
            state.log(&superseded);
        }
        state.files.insert(file.id, file.clone());
        state.log(audit);
        Ok(())
    }

    async fn get_file(&self, id: FileId) -> PersistenceResult<Option<CaseFile>> {
        Ok(self.lock().files.get(&id).cloned())
    }

    async fn complete_file(
        &self,
        id: FileId,
        actual_size: u64,
        mime_type: &str,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> PersistenceResult<Transition> {
        let mut state = self.lock();
        let file = state.file_mut(id)?;
        match file.status {
            FileStatus::Completed => return Ok(Transition::Unchanged(file.clone())),
            FileStatus::Failed | FileStatus::Deleted => {
                return Err(conflict(format!("file is {}", file.status.as_str())));
            }
            FileStatus::Pending => {}
        }
        file.status = FileStatus::Completed;
        file.actual_size = Some(actual_size);
        mime_type.clone_into(&mut file.mime_type);
        file.completed_at = Some(at);
        file.updated_at = at;
        let done = file.clone();
        let case = state.case_mut(done.case_id)?;
        case.file_count += 1;
        case.total_size_bytes += actual_size;
        case.updated_at = at;
        state.log(audit);
        Ok(Transition::Applied(done))
    }

    async fn fail_file(
        &self,
        id: FileId,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> PersistenceResult<Transition> {
        let mut state = self.lock();
        let file = state.file_mut(id)?;
        match file.status {
            FileStatus::Failed => return Ok(Transition::Unchanged(file.clone())),
            FileStatus::Completed | FileStatus::Deleted => {
                return Err(conflict(format!("file is {}", file.status.as_str())));
            }
            FileStatus::Pending => {}
        }
        file.status = FileStatus::Failed;
        file.updated_at = at;
        let failed = file.clone();
        state.log(audit);
        Ok(Transition::Applied(failed))
    }

    async fn place_hold(&self, hold: &LegalHold, audit: &AuditEntry) -> PersistenceResult<()> {
        let mut state = self.lock();
        if !state.cases.contains_key(&hold.case_id) {
            return Err(not_found("case"));
        }
        if let HoldScope::Files { file_ids } = &hold.scope
            && file_ids
                .iter()
                .any(|f| state.files.get(f).is_none_or(|f| f.case_id != hold.case_id))
        {
            return Err(not_found("file"));
        }
        if state.holds.contains_key(&hold.id) {
            return Err(conflict("another record already holds this unique value"));
        }
        state.holds.insert(hold.id, hold.clone());
        state.log(audit);
        Ok(())
    }

    async fn list_holds(&self, case: CaseId) -> PersistenceResult<Vec<LegalHold>> {
        let mut holds: Vec<LegalHold> = self
            .lock()
            .holds
            .values()
            .filter(|h| h.case_id == case)
            .cloned()
            .collect();
        holds.sort_by_key(|h| (h.placed_at, h.id));
        Ok(holds)
    }

    async fn get_hold(&self, id: HoldId) -> PersistenceResult<Option<LegalHold>> {
        Ok(self.lock().holds.get(&id).cloned())
    }

    async fn release_hold(
        &self,
        id: HoldId,
        release: &HoldRelease,
        audit: &AuditEntry,
    ) -> PersistenceResult<()> {
        let mut state = self.lock();
        let hold = state.holds.get_mut(&id).ok_or_else(|| not_found("hold"))?;
        if hold.release.is_some() {
            return Err(conflict("the hold is released already"));
        }
        hold.release = Some(release.clone());
        state.log(audit);
        Ok(())
    }

    async fn set_retention(
        &self,
        case: CaseId,
        until: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> PersistenceResult<()> {
        let mut state = self.lock();
        let case = state.case_mut(case)?;
        if case.retain_until.is_some_and(|c| until < c) {
            return Err(conflict("retention can be extended, never shortened"));
        }
        case.retain_until = Some(until);
        state.log(audit);
        Ok(())
    }

    async fn lock_candidates(
        &self,
        after: Option<FileId>,
        limit: usize,
    ) -> PersistenceResult<Vec<CaseFile>> {
        let state = self.lock();
        let locked_case = |case: CaseId| {
            state.holds.values().any(|h| h.case_id == case)
                || state
                    .cases
                    .get(&case)
                    .is_some_and(|c| c.retain_until.is_some())
        };
        Ok(state
            .files
            .values()
            .filter(|f| f.completed_at.is_some() && f.purged_at.is_none())
            .filter(|f| after.is_none_or(|a| f.id > a))
            .filter(|f| locked_case(f.case_id) || state.file_retention.contains_key(&f.id))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn set_file_retention(
        &self,
        file: FileId,
        until: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> PersistenceResult<()> {
        let mut state = self.lock();
        if !state.files.contains_key(&file) {
            return Err(not_found("file"));
        }
        if state.file_retention.get(&file).is_some_and(|c| until < *c) {
            return Err(conflict("retention can be extended, never shortened"));
        }
        state.file_retention.insert(file, until);
        state.log(audit);
        Ok(())
    }

    async fn audit_tree_head(
        &self,
    ) -> PersistenceResult<casefile_domain::legal::audit_log::TreeHead> {
        use casefile_domain::legal::audit_log;
        let state = self.lock();
        let leaves: Vec<audit_log::TreeHash> =
            state.audit.iter().map(audit_log::leaf_hash).collect();
        Ok(audit_log::TreeHead {
            size: leaves.len() as u64,
            root: audit_log::root_of(&leaves),
        })
    }

    async fn audit_entry_at(&self, index: u64) -> PersistenceResult<Option<AuditEntry>> {
        Ok(usize::try_from(index)
            .ok()
            .and_then(|i| self.lock().audit.get(i).cloned()))
    }

    async fn store_checkpoint(
        &self,
        tree_size: u64,
        note: &str,
        _at: DateTime<Utc>,
    ) -> PersistenceResult<()> {
        let mut state = self.lock();
        match state.checkpoints.get(&tree_size) {
            Some(kept) if kept == note => Ok(()),
            Some(_) => Err(conflict("another checkpoint is kept at this size")),
            None => {
                state.checkpoints.insert(tree_size, note.to_owned());
                Ok(())
            }
        }
    }

    async fn checkpoints(&self) -> PersistenceResult<Vec<(u64, String)>> {
        Ok(self
            .lock()
            .checkpoints
            .iter()
            .map(|(s, n)| (*s, n.clone()))
            .collect())
    }

    async fn read_audit_tree(
        &self,
        indexes: &[u64],
    ) -> PersistenceResult<Vec<casefile_domain::legal::audit_log::TreeHash>> {
        use casefile_domain::legal::audit_log;
        let state = self.lock();
        let mut stored = std::collections::HashMap::new();
        for (index, entry) in (0u64..).zip(&state.audit) {
            let reads: Vec<audit_log::TreeHash> = audit_log::append_reads(index)
                .iter()
                .filter_map(|i| stored.get(i).copied())
                .collect();
            stored.extend(
                audit_log::append_hashes(index, audit_log::leaf_hash(entry), &reads)
                    .unwrap_or_default(),
            );
        }
        indexes
            .iter()
            .map(|i| {
                stored
                    .get(i)
                    .copied()
                    .ok_or_else(|| not_found("audit tree hash"))
            })
            .collect()
    }

    async fn protection(&self, file: FileId) -> PersistenceResult<Protection> {
        let state = self.lock();
        let file = state.files.get(&file).ok_or_else(|| not_found("file"))?;
        Ok(state.protection_of(file))
    }

    async fn delete_file(
        &self,
        id: FileId,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> PersistenceResult<Transition> {
        let mut state = self.lock();
        let file = state.file_mut(id)?;
        let was = file.status;
        match was {
            FileStatus::Deleted => return Ok(Transition::Unchanged(file.clone())),
            FileStatus::Failed => return Err(conflict("file is failed")),
            FileStatus::Pending | FileStatus::Completed => {}
        }
        let snapshot = file.clone();
        state.refuse_if_protected(&snapshot)?;
        let file = state.file_mut(id)?;
        file.status = FileStatus::Deleted;
        file.updated_at = at;
        let deleted = file.clone();
        if was == FileStatus::Completed {
            let size = deleted.actual_size.unwrap_or(deleted.declared_size);
            let case = state.case_mut(deleted.case_id)?;
            case.file_count -= 1;
            case.total_size_bytes -= size;
            case.updated_at = at;
        }
        state.log(audit);
        Ok(Transition::Applied(deleted))
    }

    async fn list_files(
        &self,
        case: CaseId,
        query: &FileQuery,
    ) -> PersistenceResult<Vec<CaseFile>> {
        let state = self.lock();
        let mut files: Vec<CaseFile> = state
            .files
            .values()
            .filter(|f| f.case_id == case && f.status == FileStatus::Completed)
            .filter(|f| {
                query
                    .prefix
                    .as_ref()
                    .is_none_or(|p| f.logical_path.as_str().starts_with(p.as_str()))
            })
            .filter(|f| query.after.as_ref().is_none_or(|a| f.logical_path > *a))
            .filter(|f| {
                query
                    .from
                    .as_ref()
                    .is_none_or(|from| f.logical_path.as_str() >= from.as_str())
            })
            .cloned()
            .collect();
        files.sort_by(|a, b| a.logical_path.as_str().cmp(b.logical_path.as_str()));
        files.truncate(query.limit);
        Ok(files)
    }

    async fn open_uploads(
        &self,
        case: CaseId,
        user: UserId,
        since: DateTime<Utc>,
    ) -> PersistenceResult<OpenUploads> {
        let state = self.lock();
        let open = || {
            state
                .files
                .values()
                .filter(move |f| f.status == FileStatus::Pending && f.created_at >= since)
        };
        Ok(OpenUploads {
            in_case: open().filter(|f| f.case_id == case).count() as u64,
            by_user: open().filter(|f| f.uploaded_by == user).count() as u64,
        })
    }

    async fn pending_uploads(&self) -> PersistenceResult<u64> {
        let state = self.lock();
        Ok(state
            .files
            .values()
            .filter(|f| f.status == FileStatus::Pending)
            .count() as u64)
    }

    async fn stale_pending_files(
        &self,
        created_before: DateTime<Utc>,
        limit: usize,
    ) -> PersistenceResult<Vec<CaseFile>> {
        let state = self.lock();
        let mut files: Vec<CaseFile> = state
            .files
            .values()
            .filter(|f| f.status == FileStatus::Pending && f.created_at < created_before)
            .cloned()
            .collect();
        files.sort_by_key(|f| (f.created_at, f.id));
        files.truncate(limit);
        Ok(files)
    }

    async fn files_to_purge(&self, limit: usize) -> PersistenceResult<Vec<CaseFile>> {
        let state = self.lock();
        let mut files: Vec<CaseFile> = state
            .files
            .values()
            .filter(|f| !f.status.is_live() && f.purged_at.is_none())
            .filter(|f| state.refuse_if_protected(f).is_ok())
            .cloned()
            .collect();
        files.sort_by_key(|f| (f.updated_at, f.id));
        files.truncate(limit);
        Ok(files)
    }

    async fn mark_purged(
        &self,
        id: FileId,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> PersistenceResult<Transition> {
        let mut state = self.lock();
        let file = state.file_mut(id)?;
        if file.status.is_live() {
            return Err(conflict(format!("file is {}", file.status.as_str())));
        }
        if file.purged_at.is_some() {
            return Ok(Transition::Unchanged(file.clone()));
        }
        let snapshot = file.clone();
        state.refuse_if_protected(&snapshot)?;
        let file = state.file_mut(id)?;
        file.purged_at = Some(at);
        let purged = file.clone();
        state.log(audit);
        Ok(Transition::Applied(purged))
    }

    async fn begin_scrub(
        &self,
        case: Option<CaseId>,
        new_id: ScrubRunId,
        at: DateTime<Utc>,
        stale_before: Option<DateTime<Utc>>,
    ) -> PersistenceResult<ScrubClaim> {
        let mut state = self.lock();
        let open = state
            .scrub_runs
            .values_mut()
            .find(|r| r.case_id == case && r.finished_at.is_none());
        if let Some(run) = open {
            if stale_before.is_some_and(|stale| run.heartbeat_at >= stale) {
                return Ok(ScrubClaim::Busy(run.clone()));
            }
            run.heartbeat_at = at;
            return Ok(ScrubClaim::Claimed {
                run: run.clone(),
                resumed: true,
            });
        }
        let run = ScrubRun {
            id: new_id,
            case_id: case,
            started_at: at,
            heartbeat_at: at,
            finished_at: None,
            checked: 0,
            failed: 0,
            bytes: 0,
        };
        state.scrub_runs.insert(new_id, run.clone());
        Ok(ScrubClaim::Claimed {
            run,
            resumed: false,
        })
    }

    async fn scrub_run(&self, id: ScrubRunId) -> PersistenceResult<Option<ScrubRun>> {
        Ok(self.lock().scrub_runs.get(&id).cloned())
    }

    async fn scrub_candidates(
        &self,
        case: Option<CaseId>,
        verified_before: DateTime<Utc>,
        after: Option<FileId>,
        limit: usize,
    ) -> PersistenceResult<Vec<CaseFile>> {
        let state = self.lock();
        Ok(state
            .scrub_candidates(case, verified_before)
            .filter(|f| after.is_none_or(|a| f.id > a))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn scrub_backlog(
        &self,
        case: Option<CaseId>,
        verified_before: DateTime<Utc>,
    ) -> PersistenceResult<ScrubBacklog> {
        let state = self.lock();
        Ok(state
            .scrub_candidates(case, verified_before)
            .fold(ScrubBacklog::default(), |b, f| ScrubBacklog {
                files: b.files + 1,
                bytes: b.bytes + f.actual_size.unwrap_or(0),
            }))
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
        let mut state = self.lock();
        if state
            .fixity
            .get(&file)
            .is_some_and(|r| r.verified_at >= since)
        {
            return Ok(false);
        }
        let counters = state
            .scrub_runs
            .get_mut(&run)
            .ok_or_else(|| not_found("scrub run"))?;
        counters.checked += 1;
        counters.failed += u64::from(outcome != FixityOutcome::Ok);
        counters.bytes += bytes;
        counters.heartbeat_at = at;
        state.fixity.insert(
            file,
            FixityRecord {
                verified_at: at,
                outcome,
                run,
            },
        );
        if let Some(audit) = audit {
            state.log(&audit);
        }
        Ok(true)
    }

    async fn finish_scrub(
        &self,
        id: ScrubRunId,
        at: DateTime<Utc>,
        audit: &AuditEntry,
    ) -> PersistenceResult<bool> {
        let mut state = self.lock();
        let run = state
            .scrub_runs
            .get_mut(&id)
            .ok_or_else(|| not_found("scrub run"))?;
        if run.finished_at.is_some() {
            return Ok(false);
        }
        run.finished_at = Some(at);
        state.log(audit);
        Ok(true)
    }

    async fn fixity_of(&self, file: FileId) -> PersistenceResult<Option<FixityRecord>> {
        Ok(self.lock().fixity.get(&file).copied())
    }

    async fn files_in_key_order(
        &self,
        after: Option<(CaseId, FileId)>,
        limit: usize,
    ) -> PersistenceResult<Vec<CaseFile>> {
        let state = self.lock();
        let mut files: Vec<CaseFile> = state
            .files
            .values()
            .filter(|f| after.is_none_or(|a| (f.case_id, f.id) > a))
            .cloned()
            .collect();
        files.sort_by_key(|f| (f.case_id, f.id));
        files.truncate(limit);
        Ok(files)
    }

    async fn append_audit(&self, entry: &AuditEntry) -> PersistenceResult<()> {
        self.lock().log(entry);
        Ok(())
    }

    async fn list_audit(&self, query: &AuditQuery) -> PersistenceResult<Vec<AuditEntry>> {
        let state = self.lock();
        let start = match query.after {
            Some(after) => match state.audit.iter().position(|e| {
                e.id == after
                    && query.case_id.is_none_or(|c| e.case_id == Some(c))
                    && query.file_id.is_none_or(|f| e.file_id == Some(f))
            }) {
                Some(at) => at + 1,
                None => {
                    return Err(PersistenceError::NotFound {
                        what: "audit entry".into(),
                    });
                }
            },
            None => 0,
        };
        let matching = state
            .audit
            .iter()
            .skip(start)
            .filter(|e| query.case_id.is_none_or(|c| e.case_id == Some(c)))
            .filter(|e| query.file_id.is_none_or(|f| e.file_id == Some(f)))
            .take(query.limit.unwrap_or(usize::MAX))
            .cloned()
            .collect();
        Ok(matching)
    }
}
