-- New audit actions: fixity failures of downloads, expired and superseded pending uploads.
-- SQLite cannot alter a CHECK: the table is rebuilt with every row, seq kept (DROP TABLE fires
-- no trigger), then its indexes and append-only triggers are made again.
CREATE TABLE audit_log_v2 (
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
        'fixity_failed', 'upload_expired', 'upload_superseded')),
    outcome  TEXT NOT NULL CHECK (outcome IN ('success', 'denied', 'failure')),
    details  TEXT
);
INSERT INTO audit_log_v2 (seq, id, at, actor_id, case_id, file_id, action, outcome, details)
    SELECT seq, id, at, actor_id, case_id, file_id, action, outcome, details FROM audit_log;
DROP TABLE audit_log;
ALTER TABLE audit_log_v2 RENAME TO audit_log;
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
-- Finding pending uploads whose URL has expired.
CREATE INDEX case_files_pending ON case_files (created_at, id) WHERE status = 'pending';
