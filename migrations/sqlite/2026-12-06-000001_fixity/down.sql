DROP TABLE file_fixity;
DROP TABLE scrub_runs;
-- audit_actions only grows (its triggers refuse a DELETE); the three actions stay known.
