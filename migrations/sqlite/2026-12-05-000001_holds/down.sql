-- The audit trail is append-only: its rows with the new actions stay, so the wider CHECK stays.
DROP TRIGGER cases_retention_extends;
DROP TRIGGER legal_hold_files_no_delete;
DROP TRIGGER legal_hold_files_no_update;
DROP TRIGGER legal_holds_release_once;
DROP TRIGGER legal_holds_no_delete;
DROP TRIGGER case_files_preserve_delete;
DROP TRIGGER case_files_preserve_update;
DROP TABLE legal_hold_files;
DROP TABLE legal_holds;
ALTER TABLE cases DROP COLUMN retain_until;
