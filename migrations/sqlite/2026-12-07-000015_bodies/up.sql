-- The bytes of each received and outgoing mail in a table of their own,
-- beside the row whose state changes: SQLite writes a row again whole at
-- each UPDATE, and a mail's bytes (megabytes, with attachments) were
-- written again each time a mail was processed, claimed or sent.
CREATE TABLE raw_mail_bodies (
    raw_mail_id INTEGER PRIMARY KEY NOT NULL REFERENCES raw_mails (id) ON DELETE CASCADE,
    raw BLOB NOT NULL
);
INSERT INTO raw_mail_bodies (raw_mail_id, raw) SELECT id, raw FROM raw_mails;
ALTER TABLE raw_mails DROP COLUMN raw;

CREATE TABLE outbox_bodies (
    outbox_id INTEGER PRIMARY KEY NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    raw BLOB NOT NULL
);
INSERT INTO outbox_bodies (outbox_id, raw) SELECT id, raw FROM outbox;
ALTER TABLE outbox DROP COLUMN raw;
