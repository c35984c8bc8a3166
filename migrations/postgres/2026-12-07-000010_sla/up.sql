-- Service levels ([sla]): when a ticket's first answer and resolution are
-- due (business time from its opening, by impact), when an agent first
-- answered, and what the agents were told of each target ("warned",
-- "missed"), so that each alert goes once, across restarts and daemons.
ALTER TABLE tickets ADD COLUMN first_answer_due TIMESTAMP;
ALTER TABLE tickets ADD COLUMN resolution_due TIMESTAMP;
ALTER TABLE tickets ADD COLUMN first_answered_at TIMESTAMP;
ALTER TABLE tickets ADD COLUMN first_answer_told TEXT;
ALTER TABLE tickets ADD COLUMN resolution_told TEXT;

-- The scheduler's and `status`'s look-up of the tickets with a target
-- still running.
CREATE INDEX tickets_first_answer_due ON tickets (status, first_answer_due);
CREATE INDEX tickets_resolution_due ON tickets (status, resolution_due);
