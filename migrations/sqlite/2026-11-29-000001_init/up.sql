-- casefile schema, SQLite. Ids are TEXT (hyphenated UUIDs), times TEXT in UTC as diesel writes
-- them; TEXT compares by bytes (BINARY collation), the order of the domain's keyset pagination.

CREATE TABLE cases (
    id               TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 36),
    owner_id         TEXT NOT NULL CHECK (length(owner_id) = 36),
    title            TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    file_count       INTEGER NOT NULL DEFAULT 0 CHECK (file_count >= 0),
    total_size_bytes INTEGER NOT NULL DEFAULT 0 CHECK (total_size_bytes >= 0),
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX cases_by_owner ON cases (owner_id, created_at, id);

CREATE TABLE case_files (
    id            TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 36),
    case_id       TEXT NOT NULL REFERENCES cases (id),
    logical_path  TEXT NOT NULL CHECK (length(CAST(logical_path AS BLOB)) BETWEEN 1 AND 1024),
    file_name     TEXT NOT NULL CHECK (length(CAST(file_name AS BLOB)) BETWEEN 1 AND 255),
    mime_type     TEXT NOT NULL CHECK (length(mime_type) BETWEEN 3 AND 255),
    declared_size INTEGER NOT NULL CHECK (declared_size >= 0),
    actual_size   INTEGER CHECK (actual_size >= 0),
    sha256        TEXT NOT NULL CHECK (length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*'),
    storage_key   TEXT NOT NULL UNIQUE,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'completed', 'failed', 'deleted')),
    uploaded_by   TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    completed_at  TEXT,
    purged_at     TEXT,
    CHECK (status <> 'completed' OR (actual_size IS NOT NULL AND completed_at IS NOT NULL)),
    CHECK (purged_at IS NULL OR status IN ('failed', 'deleted'))
);
CREATE UNIQUE INDEX case_files_live_path ON case_files (case_id, logical_path)
    WHERE status IN ('pending', 'completed');
CREATE INDEX case_files_listing ON case_files (case_id, logical_path)
    WHERE status = 'completed';
CREATE INDEX case_files_to_purge ON case_files (updated_at, id)
    WHERE status IN ('failed', 'deleted') AND purged_at IS NULL;

CREATE TABLE audit_log (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    id       TEXT NOT NULL UNIQUE,
    at       TEXT NOT NULL,
    actor_id TEXT,
    case_id  TEXT,
    file_id  TEXT,
    action   TEXT NOT NULL CHECK (action IN (
        'case_created', 'case_viewed', 'cases_listed', 'upload_initiated', 'upload_completed',
        'upload_failed', 'file_viewed', 'file_downloaded', 'download_url_issued', 'files_listed',
        'file_deleted', 'object_purged', 'access_denied')),
    outcome  TEXT NOT NULL CHECK (outcome IN ('success', 'denied', 'failure')),
    details  TEXT
);
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
