-- The audit trail is append-only: its rows with the new actions stay, so the wider CHECK stays.
DROP INDEX cases_by_creation;
CREATE INDEX cases_by_owner ON cases (owner_id, created_at, id);
DROP TABLE case_members;
DROP TABLE users;
