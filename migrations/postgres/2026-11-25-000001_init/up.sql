-- Every mail as received, before anything else is done with it.
CREATE TABLE raw_mails (
    id BIGSERIAL PRIMARY KEY,
    source TEXT NOT NULL,
    uidvalidity BIGINT,
    uid BIGINT,
    message_id TEXT,
    sha256 TEXT NOT NULL,
    raw BYTEA NOT NULL,
    received_at TIMESTAMP NOT NULL,
    state TEXT NOT NULL,
    error TEXT,
    ticket_id BIGINT,
    UNIQUE (source, uidvalidity, uid)
);
CREATE INDEX raw_mails_message_id ON raw_mails (message_id);
CREATE INDEX raw_mails_sha256 ON raw_mails (sha256);
CREATE INDEX raw_mails_state ON raw_mails (state);

CREATE TABLE tickets (
    id BIGSERIAL PRIMARY KEY,
    number BIGINT NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    status TEXT NOT NULL,
    close_reason TEXT,
    ticket_type TEXT NOT NULL,
    impact TEXT,
    category TEXT,
    organisation TEXT,
    requester_email TEXT NOT NULL,
    requester_name TEXT,
    language TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    solved_at TIMESTAMP,
    closed_at TIMESTAMP,
    reminded_at TIMESTAMP
);
CREATE INDEX tickets_status ON tickets (status);
CREATE INDEX tickets_requester ON tickets (requester_email);

CREATE TABLE messages (
    id BIGSERIAL PRIMARY KEY,
    ticket_id BIGINT NOT NULL REFERENCES tickets (id),
    raw_mail_id BIGINT REFERENCES raw_mails (id),
    kind TEXT NOT NULL,
    from_email TEXT NOT NULL,
    from_name TEXT,
    at TIMESTAMP NOT NULL,
    body TEXT NOT NULL,
    message_id TEXT
);
CREATE INDEX messages_ticket ON messages (ticket_id);
CREATE INDEX messages_message_id ON messages (message_id);

-- Attachment contents, stored once whatever the number of mails carrying them.
CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY NOT NULL,
    size BIGINT NOT NULL,
    content BYTEA NOT NULL
);

CREATE TABLE attachments (
    id BIGSERIAL PRIMARY KEY,
    message_id BIGINT NOT NULL REFERENCES messages (id),
    position INTEGER NOT NULL,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL REFERENCES blobs (sha256)
);
CREATE INDEX attachments_message ON attachments (message_id);

CREATE TABLE watchers (
    ticket_id BIGINT NOT NULL REFERENCES tickets (id),
    email TEXT NOT NULL,
    added_at TIMESTAMP NOT NULL,
    PRIMARY KEY (ticket_id, email)
);

CREATE TABLE agents (
    email TEXT PRIMARY KEY NOT NULL,
    name TEXT,
    added_at TIMESTAMP NOT NULL
);

-- Outgoing mail, written in the same transaction as the change that caused it.
CREATE TABLE outbox (
    id BIGSERIAL PRIMARY KEY,
    ticket_id BIGINT REFERENCES tickets (id),
    kind TEXT NOT NULL,
    message_id TEXT NOT NULL UNIQUE,
    sender TEXT NOT NULL,
    recipients TEXT NOT NULL,
    subject TEXT NOT NULL,
    raw BYTEA NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_ticket ON outbox (ticket_id);

-- Where the fetcher stands in each mailbox.
CREATE TABLE mailbox_cursors (
    mailbox TEXT PRIMARY KEY NOT NULL,
    uidvalidity BIGINT NOT NULL,
    last_uid BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE counters (
    name TEXT PRIMARY KEY NOT NULL,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('ticket_number', 0);
