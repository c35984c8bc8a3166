-- The files an outgoing mail carries, named instead of written into its
-- bytes: the mail is stored with each file's part left empty, and the
-- file, kept once in `blobs` with the mail that brought it, is put back
-- in base64 at `at` (a byte offset in the stored mail) when it is sent.
-- A request's files went into the outbox again for each agent told of
-- it, each time in base64, a third larger than the files themselves.
CREATE TABLE outbox_files (
    outbox_id INTEGER NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    at BIGINT NOT NULL,
    sha256 TEXT NOT NULL REFERENCES blobs (sha256),
    PRIMARY KEY (outbox_id, position)
);
-- The purge asks whether a file is still used by mail to send.
CREATE INDEX outbox_files_sha256 ON outbox_files (sha256);
