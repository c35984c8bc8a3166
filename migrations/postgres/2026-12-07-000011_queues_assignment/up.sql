-- Queues ([[queue]]) and assignment: the queue a ticket is in (NULL: the
-- desk's own, [tickets] agent_notify) and the agent it is assigned to.
ALTER TABLE tickets ADD COLUMN queue TEXT;
ALTER TABLE tickets ADD COLUMN assignee_email TEXT;
ALTER TABLE tickets ADD COLUMN assignee_name TEXT;

-- `tickets list --queue Q`, `--assignee EMAIL`.
CREATE INDEX tickets_queue ON tickets (queue, number);
CREATE INDEX tickets_assignee ON tickets (assignee_email, number);
