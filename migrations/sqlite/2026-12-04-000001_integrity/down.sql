DROP INDEX case_files_pending;
-- The audit trail is append-only: its rows with the new actions stay, so the wider CHECK stays.
