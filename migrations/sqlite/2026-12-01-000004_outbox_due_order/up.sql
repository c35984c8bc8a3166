-- Due mail is claimed oldest due first, and this index gives it in that
-- order: a claim reads the rows it takes, not every row due, whatever the
-- backlog.
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox (state, next_attempt_at, id);
