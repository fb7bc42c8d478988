-- The audit trail as a Merkle log (RFC 6962; docs/audit-log.md): every entry gets a dense index
-- in commit order (assigned under SQLite's write lock), and its leaf joins a tree whose stored
-- hashes (the C2SP/Go tlog layout) make any root or proof O(log n) reads.

ALTER TABLE audit_log ADD COLUMN log_index INTEGER CHECK (log_index >= 0);
CREATE UNIQUE INDEX audit_log_by_index ON audit_log (log_index);

-- Existing entries become the first leaves, in seq order (the one rewrite the log ever gets).
DROP TRIGGER audit_log_no_update;
UPDATE audit_log SET log_index = (SELECT COUNT(*) FROM audit_log b WHERE b.seq < audit_log.seq);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused');
END;

CREATE TABLE audit_tree (
    idx  INTEGER PRIMARY KEY CHECK (idx >= 0),
    hash BLOB NOT NULL CHECK (length(hash) = 32)
);
CREATE TABLE audit_log_head (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    tree_size INTEGER NOT NULL CHECK (tree_size >= 0)
);
INSERT INTO audit_log_head (id, tree_size) VALUES (1, 0);

CREATE TRIGGER audit_tree_no_update BEFORE UPDATE ON audit_tree
BEGIN
    SELECT RAISE(ABORT, 'casefile: the audit tree is append-only: UPDATE refused');
END;
CREATE TRIGGER audit_tree_no_delete BEFORE DELETE ON audit_tree
BEGIN
    SELECT RAISE(ABORT, 'casefile: the audit tree is append-only: DELETE refused');
END;
CREATE TRIGGER audit_log_head_grows BEFORE UPDATE ON audit_log_head
WHEN NEW.tree_size < OLD.tree_size
BEGIN
    SELECT RAISE(ABORT, 'casefile: the audit tree only grows');
END;
CREATE TRIGGER audit_log_head_kept BEFORE DELETE ON audit_log_head
BEGIN
    SELECT RAISE(ABORT, 'casefile: the audit tree only grows');
END;

-- Signed checkpoints of the log (C2SP signed notes), one per tree size; never changed.
CREATE TABLE audit_checkpoints (
    tree_size INTEGER PRIMARY KEY CHECK (tree_size >= 0),
    note      TEXT NOT NULL,
    made_at   TEXT NOT NULL
);
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'casefile: checkpoints are never changed');
END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'casefile: checkpoints are never changed');
END;
