-- Shared cases: every case has members, one role each; `cases.owner_id` now only records who
-- created the case (its first owner).

-- What identity providers said about users (name, e-mail), for readable member lists. Not a
-- grant: users stay UUIDs, and a user need not be here to be a member.
CREATE TABLE users (
    id           TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 36),
    display_name TEXT CHECK (length(display_name) BETWEEN 1 AND 200),
    email        TEXT CHECK (length(email) BETWEEN 3 AND 254),
    updated_at   TEXT NOT NULL
);

CREATE TABLE case_members (
    case_id    TEXT NOT NULL REFERENCES cases (id),
    user_id    TEXT NOT NULL CHECK (length(user_id) = 36),
    role       TEXT NOT NULL CHECK (role IN ('owner', 'editor', 'viewer', 'auditor')),
    granted_by TEXT CHECK (length(granted_by) = 36),
    added_at   TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (case_id, user_id)
) WITHOUT ROWID;
-- The cases of a member, for the case list.
CREATE INDEX case_members_by_user ON case_members (user_id, case_id);

-- Every existing case's owner becomes its owner member.
INSERT INTO case_members (case_id, user_id, role, granted_by, added_at, updated_at)
    SELECT id, owner_id, 'owner', NULL, created_at, created_at FROM cases;

-- Cases are listed by membership now; the creation order of the list stays.
DROP INDEX cases_by_owner;
CREATE INDEX cases_by_creation ON cases (created_at, id);

-- New audit actions. SQLite cannot alter a CHECK: the table is rebuilt with every row, seq kept
-- (DROP TABLE fires no trigger), then its indexes and append-only triggers are made again.
CREATE TABLE audit_log_v3 (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    id       TEXT NOT NULL UNIQUE,
    at       TEXT NOT NULL,
    actor_id TEXT,
    case_id  TEXT,
    file_id  TEXT,
    action   TEXT NOT NULL CHECK (action IN (
        'case_created', 'case_viewed', 'cases_listed', 'upload_initiated', 'upload_completed',
        'upload_failed', 'file_viewed', 'file_downloaded', 'download_url_issued', 'files_listed',
        'file_deleted', 'object_purged', 'access_denied',
        'fixity_failed', 'upload_expired', 'upload_superseded',
        'members_listed', 'member_added', 'member_role_changed', 'member_removed')),
    outcome  TEXT NOT NULL CHECK (outcome IN ('success', 'denied', 'failure')),
    details  TEXT
);
INSERT INTO audit_log_v3 (seq, id, at, actor_id, case_id, file_id, action, outcome, details)
    SELECT seq, id, at, actor_id, case_id, file_id, action, outcome, details FROM audit_log;
DROP TABLE audit_log;
ALTER TABLE audit_log_v3 RENAME TO audit_log;
CREATE INDEX audit_log_by_case ON audit_log (case_id, seq);
CREATE INDEX audit_log_by_file ON audit_log (file_id, seq);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused');
END;
