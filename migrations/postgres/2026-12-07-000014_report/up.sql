-- The activity report (guichet report): how many times a ticket was
-- reopened after closure, and the indexes that find a period's tickets
-- by when they were opened and closed.
ALTER TABLE tickets ADD COLUMN reopened INTEGER NOT NULL DEFAULT 0;
CREATE INDEX tickets_created_at ON tickets (created_at);
CREATE INDEX tickets_closed_at ON tickets (closed_at);
