DROP TABLE file_fixity;
DROP TABLE scrub_runs;
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check CHECK (action IN (
        'case_created', 'case_viewed', 'cases_listed', 'upload_initiated', 'upload_completed',
        'upload_failed', 'file_viewed', 'file_downloaded', 'download_url_issued', 'files_listed',
        'file_deleted', 'object_purged', 'access_denied',
        'fixity_failed', 'upload_expired', 'upload_superseded',
        'members_listed', 'member_added', 'member_role_changed', 'member_removed',
        'hold_placed', 'hold_released', 'holds_listed', 'retention_set', 'delete_refused'))
        NOT VALID;
