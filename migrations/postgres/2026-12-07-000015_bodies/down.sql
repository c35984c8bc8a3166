ALTER TABLE blobs ALTER COLUMN content SET STORAGE EXTENDED;
ALTER TABLE messages ALTER COLUMN body SET STORAGE EXTENDED;
DO $$
BEGIN
    EXECUTE 'ALTER TABLE blobs ALTER COLUMN content SET COMPRESSION default';
    EXECUTE 'ALTER TABLE messages ALTER COLUMN body SET COMPRESSION default';
EXCEPTION WHEN OTHERS THEN NULL;
END $$;
ALTER TABLE outbox ADD COLUMN raw BYTEA NOT NULL DEFAULT '';
UPDATE outbox SET raw = b.raw FROM outbox_bodies b WHERE b.outbox_id = outbox.id;
ALTER TABLE outbox ALTER COLUMN raw DROP DEFAULT;
DROP TABLE outbox_bodies;
ALTER TABLE raw_mails ADD COLUMN raw BYTEA NOT NULL DEFAULT '';
UPDATE raw_mails SET raw = b.raw FROM raw_mail_bodies b WHERE b.raw_mail_id = raw_mails.id;
ALTER TABLE raw_mails ALTER COLUMN raw DROP DEFAULT;
DROP TABLE raw_mail_bodies;
