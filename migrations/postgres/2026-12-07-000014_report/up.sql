-- The activity report (guichet report): how many times a ticket was
-- reopened after closure, and the indexes that find a period's tickets
-- by when they were opened and closed (closed_at beside created_at: the
-- tickets opened before a period and still open in it are found in the
-- index alone).
ALTER TABLE tickets ADD COLUMN reopened INTEGER NOT NULL DEFAULT 0;
CREATE INDEX tickets_created_at ON tickets (created_at, closed_at);
CREATE INDEX tickets_closed_at ON tickets (closed_at);
