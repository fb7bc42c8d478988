-- Legal holds and retention. What an active hold covers, or a case's retention protects, cannot be
-- deleted or purged by any path: the service refuses first, and these triggers refuse whatever
-- gets past it (a bug, a hand-written UPDATE). Holds are never deleted, only released, once.

ALTER TABLE cases ADD COLUMN retain_until TIMESTAMPTZ;
-- A file's own retention, later than its case's.
ALTER TABLE case_files ADD COLUMN retain_until TIMESTAMPTZ;

CREATE TABLE legal_holds (
    id             UUID PRIMARY KEY,
    case_id        UUID NOT NULL REFERENCES cases (id),
    scope          TEXT NOT NULL CHECK (scope IN ('case', 'prefix', 'files')),
    path_prefix    TEXT CHECK ((scope = 'prefix') = (path_prefix IS NOT NULL)),
    name           TEXT NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    reason         TEXT NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 2000),
    placed_by      UUID NOT NULL,
    placed_at      TIMESTAMPTZ NOT NULL,
    released_by    UUID,
    released_at    TIMESTAMPTZ,
    release_reason TEXT CHECK (char_length(release_reason) BETWEEN 1 AND 2000),
    CHECK ((released_at IS NULL) = (released_by IS NULL)
       AND (released_at IS NULL) = (release_reason IS NULL))
);
CREATE INDEX legal_holds_by_case ON legal_holds (case_id, placed_at, id);

CREATE TABLE legal_hold_files (
    hold_id UUID NOT NULL REFERENCES legal_holds (id),
    file_id UUID NOT NULL REFERENCES case_files (id),
    PRIMARY KEY (hold_id, file_id)
);
CREATE INDEX legal_hold_files_by_file ON legal_hold_files (file_id);

-- Whether an active hold covers a file.
-- ($1 file id, $2 its case, $3 its logical path: positional, so no column shadows them.)
CREATE FUNCTION casefile_file_held(UUID, UUID, TEXT)
RETURNS BOOLEAN LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM legal_holds h
        WHERE h.case_id = $2 AND h.released_at IS NULL
          AND (h.scope = 'case'
               OR (h.scope = 'prefix' AND left($3, char_length(h.path_prefix)) = h.path_prefix)
               OR (h.scope = 'files' AND EXISTS (
                   SELECT 1 FROM legal_hold_files hf WHERE hf.hold_id = h.id AND hf.file_id = $1))))
$$;

-- Whether the case's retention protects its files now.
CREATE FUNCTION casefile_case_retained(UUID)
RETURNS BOOLEAN LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM cases c WHERE c.id = $1 AND c.retain_until > now())
$$;

-- A completed file (completed_at set: verified evidence) that is held or retained is never marked
-- deleted, never purged, never removed.
CREATE FUNCTION case_files_preserve() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.completed_at IS NOT NULL
       AND (TG_OP = 'DELETE'
            OR (NEW.status = 'deleted' AND OLD.status <> 'deleted')
            OR (NEW.purged_at IS NOT NULL AND OLD.purged_at IS NULL))
       AND (casefile_file_held(OLD.id, OLD.case_id, OLD.logical_path)
            OR casefile_case_retained(OLD.case_id)
            OR OLD.retain_until > now()) THEN
        RAISE EXCEPTION 'casefile: file % is held or retained: % refused', OLD.id, TG_OP
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER case_files_preserve BEFORE UPDATE OR DELETE ON case_files
    FOR EACH ROW EXECUTE FUNCTION case_files_preserve();

-- A hold changes once, when it is released; it is never deleted.
CREATE FUNCTION legal_holds_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND OLD.released_at IS NULL AND NEW.released_at IS NOT NULL
       AND (NEW.id, NEW.case_id, NEW.scope, NEW.path_prefix, NEW.name, NEW.reason, NEW.placed_by,
            NEW.placed_at)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.case_id, OLD.scope, OLD.path_prefix, OLD.name, OLD.reason, OLD.placed_by,
            OLD.placed_at) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'casefile: legal holds are released once and never deleted: % refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$;
CREATE TRIGGER legal_holds_guard BEFORE UPDATE OR DELETE ON legal_holds
    FOR EACH ROW EXECUTE FUNCTION legal_holds_guard();
CREATE TRIGGER legal_holds_no_truncate BEFORE TRUNCATE ON legal_holds
    FOR EACH STATEMENT EXECUTE FUNCTION legal_holds_guard();

CREATE FUNCTION legal_hold_files_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'casefile: the files of a legal hold are fixed: % refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$;
CREATE TRIGGER legal_hold_files_fixed BEFORE UPDATE OR DELETE ON legal_hold_files
    FOR EACH ROW EXECUTE FUNCTION legal_hold_files_fixed();
CREATE TRIGGER legal_hold_files_no_truncate BEFORE TRUNCATE ON legal_hold_files
    FOR EACH STATEMENT EXECUTE FUNCTION legal_hold_files_fixed();

-- Retention is extended, never shortened or removed.
CREATE FUNCTION cases_retention_extends() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.retain_until IS NOT NULL
       AND (NEW.retain_until IS NULL OR NEW.retain_until < OLD.retain_until) THEN
        RAISE EXCEPTION 'casefile: retention of case % can be extended, never shortened', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER cases_retention_extends BEFORE UPDATE OF retain_until ON cases
    FOR EACH ROW EXECUTE FUNCTION cases_retention_extends();
CREATE TRIGGER case_files_retention_extends BEFORE UPDATE OF retain_until ON case_files
    FOR EACH ROW EXECUTE FUNCTION cases_retention_extends();

ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check CHECK (action IN (
        'case_created', 'case_viewed', 'cases_listed', 'upload_initiated', 'upload_completed',
        'upload_failed', 'file_viewed', 'file_downloaded', 'download_url_issued', 'files_listed',
        'file_deleted', 'object_purged', 'access_denied',
        'fixity_failed', 'upload_expired', 'upload_superseded',
        'members_listed', 'member_added', 'member_role_changed', 'member_removed',
        'hold_placed', 'hold_released', 'holds_listed', 'retention_set', 'delete_refused'));
