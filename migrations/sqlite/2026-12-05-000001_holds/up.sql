-- Legal holds and retention. What an active hold covers, or a case's retention protects, cannot be
-- deleted or purged by any path: the service refuses first, and these triggers refuse whatever
-- gets past it (a bug, a hand-written UPDATE). Holds are never deleted, only released, once.

ALTER TABLE cases ADD COLUMN retain_until TEXT;
-- A file's own retention, later than its case's.
ALTER TABLE case_files ADD COLUMN retain_until TEXT;

CREATE TABLE legal_holds (
    id             TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 36),
    case_id        TEXT NOT NULL REFERENCES cases (id),
    scope          TEXT NOT NULL CHECK (scope IN ('case', 'prefix', 'files')),
    path_prefix    TEXT CHECK ((scope = 'prefix') = (path_prefix IS NOT NULL)),
    name           TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    reason         TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    placed_by      TEXT NOT NULL CHECK (length(placed_by) = 36),
    placed_at      TEXT NOT NULL,
    released_by    TEXT CHECK (length(released_by) = 36),
    released_at    TEXT,
    release_reason TEXT CHECK (length(release_reason) BETWEEN 1 AND 2000),
    CHECK ((released_at IS NULL) = (released_by IS NULL)
       AND (released_at IS NULL) = (release_reason IS NULL))
);
CREATE INDEX legal_holds_by_case ON legal_holds (case_id, placed_at, id);

CREATE TABLE legal_hold_files (
    hold_id TEXT NOT NULL REFERENCES legal_holds (id),
    file_id TEXT NOT NULL REFERENCES case_files (id),
    PRIMARY KEY (hold_id, file_id)
) WITHOUT ROWID;
CREATE INDEX legal_hold_files_by_file ON legal_hold_files (file_id);

-- The once-completed files (completed_at set: verified evidence) that an active hold covers or
-- their case's retention protects now. Times are stored as 'YYYY-MM-DD HH:MM:SS.ffffff+00:00'.
CREATE VIEW protected_files AS
SELECT f.id FROM case_files f
WHERE f.completed_at IS NOT NULL
  AND (EXISTS (SELECT 1 FROM legal_holds h
               WHERE h.case_id = f.case_id AND h.released_at IS NULL
                 AND (h.scope = 'case'
                      OR (h.scope = 'prefix'
                          AND substr(f.logical_path, 1, length(h.path_prefix)) = h.path_prefix)
                      OR (h.scope = 'files' AND EXISTS (
                          SELECT 1 FROM legal_hold_files hf
                          WHERE hf.hold_id = h.id AND hf.file_id = f.id))))
       OR EXISTS (SELECT 1 FROM cases c
                  WHERE c.id = f.case_id AND c.retain_until IS NOT NULL
                    AND julianday(substr(c.retain_until, 1, 19)) > julianday('now'))
       OR (f.retain_until IS NOT NULL
           AND julianday(substr(f.retain_until, 1, 19)) > julianday('now')));

-- A protected file is never marked deleted, never purged, never removed.
CREATE TRIGGER case_files_preserve_update BEFORE UPDATE OF status, purged_at ON case_files
WHEN ((NEW.status = 'deleted' AND OLD.status <> 'deleted')
      OR (NEW.purged_at IS NOT NULL AND OLD.purged_at IS NULL))
 AND OLD.id IN (SELECT id FROM protected_files)
BEGIN
    SELECT RAISE(ABORT, 'casefile: the file is held or retained: delete or purge refused');
END;

CREATE TRIGGER case_files_preserve_delete BEFORE DELETE ON case_files
WHEN OLD.id IN (SELECT id FROM protected_files)
BEGIN
    SELECT RAISE(ABORT, 'casefile: the file is held or retained: DELETE refused');
END;

-- A hold changes once, when it is released; it is never deleted.
CREATE TRIGGER legal_holds_no_delete BEFORE DELETE ON legal_holds
BEGIN
    SELECT RAISE(ABORT, 'casefile: legal holds are released once and never deleted: DELETE refused');
END;
CREATE TRIGGER legal_holds_release_once BEFORE UPDATE ON legal_holds
WHEN OLD.released_at IS NOT NULL OR NEW.released_at IS NULL
  OR NEW.id IS NOT OLD.id OR NEW.case_id IS NOT OLD.case_id OR NEW.scope IS NOT OLD.scope
  OR NEW.path_prefix IS NOT OLD.path_prefix OR NEW.name IS NOT OLD.name
  OR NEW.reason IS NOT OLD.reason OR NEW.placed_by IS NOT OLD.placed_by
  OR NEW.placed_at IS NOT OLD.placed_at
BEGIN
    SELECT RAISE(ABORT, 'casefile: legal holds are released once and never deleted: UPDATE refused');
END;
CREATE TRIGGER legal_hold_files_no_update BEFORE UPDATE ON legal_hold_files
BEGIN
    SELECT RAISE(ABORT, 'casefile: the files of a legal hold are fixed: UPDATE refused');
END;
CREATE TRIGGER legal_hold_files_no_delete BEFORE DELETE ON legal_hold_files
BEGIN
    SELECT RAISE(ABORT, 'casefile: the files of a legal hold are fixed: DELETE refused');
END;

-- Retention is extended, never shortened or removed.
CREATE TRIGGER case_files_retention_extends BEFORE UPDATE OF retain_until ON case_files
WHEN OLD.retain_until IS NOT NULL
 AND (NEW.retain_until IS NULL OR NEW.retain_until < OLD.retain_until)
BEGIN
    SELECT RAISE(ABORT, 'casefile: retention can be extended, never shortened');
END;
CREATE TRIGGER cases_retention_extends BEFORE UPDATE OF retain_until ON cases
WHEN OLD.retain_until IS NOT NULL
 AND (NEW.retain_until IS NULL OR NEW.retain_until < OLD.retain_until)
BEGIN
    SELECT RAISE(ABORT, 'casefile: retention can be extended, never shortened');
END;

-- Audit actions become rows of `audit_actions`, checked by a trigger: a new action is one INSERT
-- from now on. SQLite cannot drop a CHECK: the table is rebuilt once more with every row, seq
-- kept (DROP TABLE fires no trigger), then its indexes and append-only triggers are made again.
CREATE TABLE audit_actions (name TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID;
INSERT INTO audit_actions (name) VALUES
    ('case_created'), ('case_viewed'), ('cases_listed'), ('upload_initiated'),
    ('upload_completed'), ('upload_failed'), ('file_viewed'), ('file_downloaded'),
    ('download_url_issued'), ('files_listed'), ('file_deleted'), ('object_purged'),
    ('access_denied'), ('fixity_failed'), ('upload_expired'), ('upload_superseded'),
    ('members_listed'), ('member_added'), ('member_role_changed'), ('member_removed'),
    ('hold_placed'), ('hold_released'), ('holds_listed'), ('retention_set'), ('delete_refused');
CREATE TRIGGER audit_actions_fixed_update BEFORE UPDATE ON audit_actions
BEGIN
    SELECT RAISE(ABORT, 'casefile: audit actions are only added');
END;
CREATE TRIGGER audit_actions_fixed_delete BEFORE DELETE ON audit_actions
BEGIN
    SELECT RAISE(ABORT, 'casefile: audit actions are only added');
END;
CREATE TABLE audit_log_v4 (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    id       TEXT NOT NULL UNIQUE,
    at       TEXT NOT NULL,
    actor_id TEXT,
    case_id  TEXT,
    file_id  TEXT,
    action   TEXT NOT NULL,
    outcome  TEXT NOT NULL CHECK (outcome IN ('success', 'denied', 'failure')),
    details  TEXT
);
INSERT INTO audit_log_v4 (seq, id, at, actor_id, case_id, file_id, action, outcome, details)
    SELECT seq, id, at, actor_id, case_id, file_id, action, outcome, details FROM audit_log;
DROP TABLE audit_log;
ALTER TABLE audit_log_v4 RENAME TO audit_log;
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
CREATE TRIGGER audit_log_known_action BEFORE INSERT ON audit_log
WHEN NOT EXISTS (SELECT 1 FROM audit_actions WHERE name = NEW.action)
BEGIN
    SELECT RAISE(ABORT, 'casefile: unknown audit action');
END;
