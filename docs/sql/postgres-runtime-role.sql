-- casefile on PostgreSQL: the privileges of the runtime role.
--
-- Run as the role that applied the migrations (it owns the tables), in the casefile database,
-- after `casefile migrate`. `casefile_app` is the role `casefile serve` connects as; create it
-- first (CREATE ROLE casefile_app LOGIN PASSWORD '…'). It must not own any table: an owner can
-- drop the append-only triggers of audit_log, the runtime role cannot.
GRANT USAGE ON SCHEMA public TO casefile_app;
-- Cases and files change state but are never deleted (tombstones).
GRANT SELECT, INSERT, UPDATE ON cases, case_files TO casefile_app;
-- Members change and leave; profiles are kept and replaced.
GRANT SELECT, INSERT, UPDATE, DELETE ON case_members TO casefile_app;
GRANT SELECT, INSERT, UPDATE ON users TO casefile_app;
-- Legal holds are placed and released, never deleted (triggers refuse the rest too).
GRANT SELECT, INSERT, UPDATE ON legal_holds TO casefile_app;
GRANT SELECT, INSERT ON legal_hold_files TO casefile_app;
REVOKE DELETE, TRUNCATE, TRIGGER ON legal_holds, legal_hold_files FROM casefile_app;
-- The audit trail: read and append, nothing else.
GRANT SELECT, INSERT ON audit_log TO casefile_app;
REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON audit_log FROM casefile_app;
GRANT USAGE ON SEQUENCE audit_log_seq_seq TO casefile_app;
-- The audit log's Merkle tree: stored hashes are only added; the head only grows (triggers).
GRANT SELECT, INSERT ON audit_tree TO casefile_app;
GRANT SELECT, UPDATE ON audit_log_head TO casefile_app;
GRANT SELECT, INSERT ON audit_checkpoints TO casefile_app;
REVOKE UPDATE, DELETE, TRUNCATE, TRIGGER ON audit_checkpoints FROM casefile_app;
REVOKE DELETE, TRUNCATE, TRIGGER ON audit_tree, audit_log_head FROM casefile_app;
-- Fixity scrubs: runs are started, beat and finished; each file's last verification replaced.
GRANT SELECT, INSERT, UPDATE ON scrub_runs, file_fixity TO casefile_app;
REVOKE DELETE, TRUNCATE ON scrub_runs, file_fixity FROM casefile_app;
-- `serve` checks that the schema is current (with migrate_on_start = false).
GRANT SELECT ON __diesel_schema_migrations TO casefile_app;
REVOKE DELETE, TRUNCATE ON cases, case_files FROM casefile_app;
