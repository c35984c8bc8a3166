-- Who fetches a mailbox: one daemon at a time, taken over when its lease
-- expires.
CREATE TABLE leases (
    name TEXT PRIMARY KEY NOT NULL,
    holder TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
-- Taken by every transaction that changes tickets, first thing, so that
-- writers queue instead of failing (SQLite) or racing (PostgreSQL).
INSERT INTO counters (name, value) VALUES ('write_lock', 0);

-- Which daemon is sending a claimed outbox row, so that the claims of a
-- daemon that died are given back at once.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
