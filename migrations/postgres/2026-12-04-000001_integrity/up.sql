-- New audit actions: fixity failures of downloads, expired and superseded pending uploads.
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check CHECK (action IN (
        'case_created', 'case_viewed', 'cases_listed', 'upload_initiated', 'upload_completed',
        'upload_failed', 'file_viewed', 'file_downloaded', 'download_url_issued', 'files_listed',
        'file_deleted', 'object_purged', 'access_denied',
        'fixity_failed', 'upload_expired', 'upload_superseded'));
-- Finding pending uploads whose URL has expired.
CREATE INDEX case_files_pending ON case_files (created_at, id) WHERE status = 'pending';
