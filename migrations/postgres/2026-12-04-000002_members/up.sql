-- Shared cases: every case has members, one role each; `cases.owner_id` now only records who
-- created the case (its first owner).

-- What identity providers said about users (name, e-mail), for readable member lists. Not a
-- grant: users stay UUIDs, and a user need not be here to be a member.
CREATE TABLE users (
    id           UUID PRIMARY KEY,
    display_name TEXT CHECK (char_length(display_name) BETWEEN 1 AND 200),
    email        TEXT CHECK (char_length(email) BETWEEN 3 AND 254),
    updated_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE case_members (
    case_id    UUID NOT NULL REFERENCES cases (id),
    user_id    UUID NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('owner', 'editor', 'viewer', 'auditor')),
    granted_by UUID,
    added_at   TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (case_id, user_id)
);
-- The cases of a member, for the case list.
CREATE INDEX case_members_by_user ON case_members (user_id, case_id);

-- Every existing case's owner becomes its owner member.
INSERT INTO case_members (case_id, user_id, role, granted_by, added_at, updated_at)
    SELECT id, owner_id, 'owner', NULL, created_at, created_at FROM cases;

-- Cases are listed by membership now; the creation order of the list stays.
DROP INDEX cases_by_owner;
CREATE INDEX cases_by_creation ON cases (created_at, id);
COMMENT ON COLUMN cases.owner_id IS 'who created the case (its first owner); case_members decides access';

ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check CHECK (action IN (
        'case_created', 'case_viewed', 'cases_listed', 'upload_initiated', 'upload_completed',
        'upload_failed', 'file_viewed', 'file_downloaded', 'download_url_issued', 'files_listed',
        'file_deleted', 'object_purged', 'access_denied',
        'fixity_failed', 'upload_expired', 'upload_superseded',
        'members_listed', 'member_added', 'member_role_changed', 'member_removed'));
