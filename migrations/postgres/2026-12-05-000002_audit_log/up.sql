-- The audit trail as a Merkle log (RFC 6962; docs/audit-log.md): every entry gets a dense index
-- in commit order (assigned under the audit lock that already orders `seq`), and its leaf joins
-- a tree whose stored hashes (the C2SP/Go tlog layout) make any root or proof O(log n) reads.

ALTER TABLE audit_log ADD COLUMN log_index BIGINT UNIQUE CHECK (log_index >= 0);

-- Existing entries become the first leaves, in seq order (the one rewrite the log ever gets, by
-- the migration's owner).
ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_or_delete;
UPDATE audit_log a SET log_index = r.n
    FROM (SELECT seq, row_number() OVER (ORDER BY seq) - 1 AS n FROM audit_log) r
    WHERE a.seq = r.seq;
ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update_or_delete;

-- The tree's stored hashes, by stored index; and how many leaves they cover (the integrator
-- catches up from there, so the leaves of the entries above join on the next append).
CREATE TABLE audit_tree (
    idx  BIGINT PRIMARY KEY CHECK (idx >= 0),
    hash BYTEA NOT NULL CHECK (length(hash) = 32)
);
CREATE TABLE audit_log_head (
    id        SMALLINT PRIMARY KEY CHECK (id = 1),
    tree_size BIGINT NOT NULL CHECK (tree_size >= 0)
);
INSERT INTO audit_log_head (id, tree_size) VALUES (1, 0);

CREATE FUNCTION audit_tree_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'casefile: the audit tree is append-only: % refused', TG_OP;
END;
$$;
CREATE TRIGGER audit_tree_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_tree
    FOR EACH ROW EXECUTE FUNCTION audit_tree_append_only();
CREATE TRIGGER audit_tree_no_truncate BEFORE TRUNCATE ON audit_tree
    FOR EACH STATEMENT EXECUTE FUNCTION audit_tree_append_only();

CREATE FUNCTION audit_log_head_grows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' OR NEW.tree_size < OLD.tree_size THEN
        RAISE EXCEPTION 'casefile: the audit tree only grows: % refused', TG_OP;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER audit_log_head_grows BEFORE UPDATE OR DELETE ON audit_log_head
    FOR EACH ROW EXECUTE FUNCTION audit_log_head_grows();

-- Signed checkpoints of the log (C2SP signed notes), one per tree size; never changed.
CREATE TABLE audit_checkpoints (
    tree_size BIGINT PRIMARY KEY CHECK (tree_size >= 0),
    note      TEXT NOT NULL,
    made_at   TIMESTAMPTZ NOT NULL
);
CREATE TRIGGER audit_checkpoints_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_tree_append_only();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_tree_append_only();
