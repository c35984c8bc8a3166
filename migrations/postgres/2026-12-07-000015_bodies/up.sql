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

-- Mail is compressed with lz4 where the server has it (PostgreSQL 14 and
-- later, built with it): pglz, the default, took half the time of
-- storing a backlog of mail with attachments (bench/README.md). Without
-- lz4 it is stored out of line and not compressed.
DO $$
DECLARE
    col TEXT;
BEGIN
    FOREACH col IN ARRAY ARRAY['raw_mail_bodies.raw', 'outbox_bodies.raw', 'blobs.content', 'messages.body'] LOOP
        BEGIN
            EXECUTE format('ALTER TABLE %I ALTER COLUMN %I SET COMPRESSION lz4',
                split_part(col, '.', 1), split_part(col, '.', 2));
        EXCEPTION WHEN OTHERS THEN
            EXECUTE format('ALTER TABLE %I ALTER COLUMN %I SET STORAGE EXTERNAL',
                split_part(col, '.', 1), split_part(col, '.', 2));
        END;
    END LOOP;
END $$;
