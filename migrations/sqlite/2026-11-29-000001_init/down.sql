DROP TABLE audit_log;
DROP TABLE case_files;
DROP TABLE cases;
