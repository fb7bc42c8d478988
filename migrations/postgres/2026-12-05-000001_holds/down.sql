-- The audit trail is append-only: its rows with the new actions stay, so the wider CHECK stays.
DROP TRIGGER case_files_retention_extends ON case_files;
DROP TRIGGER cases_retention_extends ON cases;
DROP FUNCTION cases_retention_extends();
DROP TRIGGER case_files_preserve ON case_files;
DROP FUNCTION case_files_preserve();
DROP FUNCTION casefile_case_retained(UUID);
DROP FUNCTION casefile_file_held(UUID, UUID, TEXT);
DROP TABLE legal_hold_files;
DROP TABLE legal_holds;
DROP FUNCTION legal_hold_files_fixed();
DROP FUNCTION legal_holds_guard();
ALTER TABLE case_files DROP COLUMN retain_until;
ALTER TABLE cases DROP COLUMN retain_until;
