DROP INDEX tickets_closed_at;
DROP INDEX tickets_created_at;
ALTER TABLE tickets DROP COLUMN reopened;
