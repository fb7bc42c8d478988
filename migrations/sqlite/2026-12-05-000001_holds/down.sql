-- The audit trail is append-only: its rows stay, and so does the table without its CHECK.
DROP TRIGGER audit_log_known_action;
DROP TRIGGER audit_actions_fixed_delete;
DROP TRIGGER audit_actions_fixed_update;
DROP TABLE audit_actions;
DROP TRIGGER case_files_retention_extends;
DROP TRIGGER cases_retention_extends;
DROP TRIGGER legal_hold_files_no_delete;
DROP TRIGGER legal_hold_files_no_update;
DROP TRIGGER legal_holds_release_once;
DROP TRIGGER legal_holds_no_delete;
DROP TRIGGER case_files_preserve_delete;
DROP TRIGGER case_files_preserve_update;
DROP VIEW protected_files;
DROP TABLE legal_hold_files;
DROP TABLE legal_holds;
ALTER TABLE case_files DROP COLUMN retain_until;
ALTER TABLE cases DROP COLUMN retain_until;
