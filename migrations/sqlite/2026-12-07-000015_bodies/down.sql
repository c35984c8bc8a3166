ALTER TABLE outbox ADD COLUMN raw BLOB NOT NULL DEFAULT x'';
UPDATE outbox SET raw = (SELECT raw FROM outbox_bodies WHERE outbox_id = outbox.id);
DROP TABLE outbox_bodies;
ALTER TABLE raw_mails ADD COLUMN raw BLOB NOT NULL DEFAULT x'';
UPDATE raw_mails SET raw = (SELECT raw FROM raw_mail_bodies WHERE raw_mail_id = raw_mails.id);
DROP TABLE raw_mail_bodies;
