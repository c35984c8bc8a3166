-- Addresses that bounced for good: guichet stops mailing them until they
-- write again.
CREATE TABLE undeliverable (
    email TEXT PRIMARY KEY NOT NULL,
    reason TEXT NOT NULL,
    since TIMESTAMP NOT NULL
);
CREATE INDEX outbox_recipient_created ON outbox (recipients, created_at);
