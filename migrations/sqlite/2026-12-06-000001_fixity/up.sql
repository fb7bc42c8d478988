-- Fixity scrubs: each run, and each file's last verification.
CREATE TABLE scrub_runs (
    id           TEXT PRIMARY KEY NOT NULL,
    case_id      TEXT REFERENCES cases (id),
    started_at   TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL,
    finished_at  TEXT,
    checked      INTEGER NOT NULL DEFAULT 0 CHECK (checked >= 0),
    failed       INTEGER NOT NULL DEFAULT 0 CHECK (failed >= 0),
    bytes        INTEGER NOT NULL DEFAULT 0 CHECK (bytes >= 0)
);
-- One unfinished run per scope (a case, or every case): the next scrub resumes it.
CREATE UNIQUE INDEX scrub_runs_one_open ON scrub_runs (COALESCE(case_id, ''))
    WHERE finished_at IS NULL;

CREATE TABLE file_fixity (
    file_id     TEXT PRIMARY KEY NOT NULL REFERENCES case_files (id),
    run_id      TEXT NOT NULL REFERENCES scrub_runs (id),
    verified_at TEXT NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('ok', 'mismatch', 'missing'))
);

INSERT INTO audit_actions (name) VALUES
    ('scrub_completed'), ('storage_reconciled'), ('case_exported');
