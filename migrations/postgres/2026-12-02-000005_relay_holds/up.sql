-- The relay could not be reached: no mail is tried before held_until,
-- however much waits, and the outbox rows are left as they are (an outage
-- costs one row written per backoff step, not one per waiting mail). One
-- row per relay (host:port), deleted once the relay takes mail again.
CREATE TABLE relay_holds (
    relay TEXT PRIMARY KEY NOT NULL,
    held_until TIMESTAMP NOT NULL,
    failures INTEGER NOT NULL,
    reason TEXT NOT NULL,
    since TIMESTAMP NOT NULL
);
