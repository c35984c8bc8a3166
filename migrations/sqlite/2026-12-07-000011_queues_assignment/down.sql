DROP INDEX tickets_assignee;
DROP INDEX tickets_queue;
ALTER TABLE tickets DROP COLUMN assignee_name;
ALTER TABLE tickets DROP COLUMN assignee_email;
ALTER TABLE tickets DROP COLUMN queue;
