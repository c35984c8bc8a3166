ALTER TABLE raw_mails DROP COLUMN fingerprint;
