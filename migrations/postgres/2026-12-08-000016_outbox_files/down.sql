-- Mail not sent yet that names its files would leave without them:
-- revert with the outbox drained (`guichet outbox list`).
DROP INDEX outbox_files_sha256;
DROP TABLE outbox_files;
