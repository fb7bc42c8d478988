-- Fixity scrubs: each run, and each file's last verification.
CREATE TABLE scrub_runs (
    id           UUID PRIMARY KEY,
    case_id      UUID REFERENCES cases (id),
    started_at   TIMESTAMPTZ NOT NULL,
    heartbeat_at TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ,
    checked      BIGINT NOT NULL DEFAULT 0 CHECK (checked >= 0),
    failed       BIGINT NOT NULL DEFAULT 0 CHECK (failed >= 0),
    bytes        BIGINT NOT NULL DEFAULT 0 CHECK (bytes >= 0)
);
-- One unfinished run per scope (a case, or every case): the next scrub resumes it.
CREATE UNIQUE INDEX scrub_runs_one_open
    ON scrub_runs (COALESCE(case_id, '00000000-0000-0000-0000-000000000000'::uuid))
    WHERE finished_at IS NULL;

CREATE TABLE file_fixity (
    file_id     UUID PRIMARY KEY REFERENCES case_files (id),
    run_id      UUID NOT NULL REFERENCES scrub_runs (id),
    verified_at TIMESTAMPTZ NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('ok', 'mismatch', 'missing'))
);

ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check CHECK (action IN (
        'case_created', 'case_viewed', 'cases_listed', 'upload_initiated', 'upload_completed',
        'upload_failed', 'file_viewed', 'file_downloaded', 'download_url_issued', 'files_listed',
        'file_deleted', 'object_purged', 'access_denied',
        'fixity_failed', 'upload_expired', 'upload_superseded',
        'members_listed', 'member_added', 'member_role_changed', 'member_removed',
        'hold_placed', 'hold_released', 'holds_listed', 'retention_set', 'delete_refused',
        'scrub_completed', 'storage_reconciled', 'case_exported'));
