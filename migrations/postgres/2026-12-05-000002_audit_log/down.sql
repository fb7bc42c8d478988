DROP TABLE audit_checkpoints;
DROP TABLE audit_log_head;
DROP FUNCTION audit_log_head_grows();
DROP TABLE audit_tree;
DROP FUNCTION audit_tree_append_only();
ALTER TABLE audit_log DROP COLUMN log_index;
