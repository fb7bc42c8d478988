DROP TABLE audit_checkpoints;
DROP TABLE audit_log_head;
DROP TABLE audit_tree;
DROP INDEX audit_log_by_index;
ALTER TABLE audit_log DROP COLUMN log_index;
