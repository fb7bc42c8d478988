DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only();
DROP TABLE case_files;
DROP TABLE cases;
