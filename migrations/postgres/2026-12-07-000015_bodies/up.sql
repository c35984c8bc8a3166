-- The bytes of each received and outgoing mail in a table of their own,
-- beside the row whose state changes (as on SQLite, where an UPDATE
-- writes the whole row again: one schema for both databases).
CREATE TABLE raw_mail_bodies (
    raw_mail_id BIGINT PRIMARY KEY REFERENCES raw_mails (id) ON DELETE CASCADE,
    raw BYTEA NOT NULL
);
INSERT INTO raw_mail_bodies (raw_mail_id, raw) SELECT id, raw FROM raw_mails;
ALTER TABLE raw_mails DROP COLUMN raw;

CREATE TABLE outbox_bodies (
    outbox_id BIGINT PRIMARY KEY REFERENCES outbox (id) ON DELETE CASCADE,
    raw BYTEA NOT NULL
);
INSERT INTO outbox_bodies (outbox_id, raw) SELECT id, raw FROM outbox;
ALTER TABLE outbox DROP COLUMN raw;
