-- casefile schema, PostgreSQL. The schema enforces what the domain promises, so that a bug
-- elsewhere cannot corrupt it.

CREATE TABLE cases (
    id               UUID PRIMARY KEY,
    owner_id         UUID NOT NULL,
    title            TEXT NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    file_count       BIGINT NOT NULL DEFAULT 0 CHECK (file_count >= 0),
    total_size_bytes BIGINT NOT NULL DEFAULT 0 CHECK (total_size_bytes >= 0),
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX cases_by_owner ON cases (owner_id, created_at, id);

CREATE TABLE case_files (
    id            UUID PRIMARY KEY,
    case_id       UUID NOT NULL REFERENCES cases (id),
    -- "C": byte order, the order of the domain's keyset pagination.
    logical_path  TEXT COLLATE "C" NOT NULL CHECK (octet_length(logical_path) BETWEEN 1 AND 1024),
    file_name     TEXT NOT NULL CHECK (octet_length(file_name) BETWEEN 1 AND 255),
    mime_type     TEXT NOT NULL CHECK (octet_length(mime_type) BETWEEN 3 AND 255),
    declared_size BIGINT NOT NULL CHECK (declared_size >= 0),
    actual_size   BIGINT CHECK (actual_size >= 0),
    sha256        TEXT NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    storage_key   TEXT NOT NULL UNIQUE,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'completed', 'failed', 'deleted')),
    uploaded_by   UUID NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    completed_at  TIMESTAMPTZ,
    purged_at     TIMESTAMPTZ,
    CHECK (status <> 'completed' OR (actual_size IS NOT NULL AND completed_at IS NOT NULL)),
    CHECK (purged_at IS NULL OR status IN ('failed', 'deleted'))
);
-- One live file per logical path and case.
CREATE UNIQUE INDEX case_files_live_path ON case_files (case_id, logical_path)
    WHERE status IN ('pending', 'completed');
-- Listing a case's completed files by path prefix with keyset pagination.
CREATE INDEX case_files_listing ON case_files (case_id, logical_path)
    WHERE status = 'completed';
-- Finding objects still to purge.
CREATE INDEX case_files_to_purge ON case_files (updated_at, id)
    WHERE status IN ('failed', 'deleted') AND purged_at IS NULL;

CREATE TABLE audit_log (
    seq      BIGSERIAL PRIMARY KEY,
    id       UUID NOT NULL UNIQUE,
    at       TIMESTAMPTZ NOT NULL,
    actor_id UUID,
    -- No foreign keys: refused attempts name cases and files that may not exist.
    case_id  UUID,
    file_id  UUID,
    action   TEXT NOT NULL CHECK (action IN (
        'case_created', 'case_viewed', 'cases_listed', 'upload_initiated', 'upload_completed',
        'upload_failed', 'file_viewed', 'file_downloaded', 'download_url_issued', 'files_listed',
        'file_deleted', 'object_purged', 'access_denied')),
    outcome  TEXT NOT NULL CHECK (outcome IN ('success', 'denied', 'failure')),
    details  TEXT
);
CREATE INDEX audit_log_by_case ON audit_log (case_id, seq);
CREATE INDEX audit_log_by_file ON audit_log (file_id, seq);

-- The audit trail is append-only.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
END;
$$;
CREATE TRIGGER audit_log_no_update_or_delete
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
