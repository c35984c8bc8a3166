-- Whether the daemon can read the support mailbox and reach the relay,
-- one row per component ("mailbox imap://…", "relay host:port"): kept in
-- the database so that an incident raises one alert even across restarts
-- and `guichet status`, another process, reads what the daemon saw.
CREATE TABLE health (
    component TEXT PRIMARY KEY NOT NULL,
    ok_at TIMESTAMP,
    failing_since TIMESTAMP,
    last_error TEXT,
    alerted_at TIMESTAMP
);

-- What `guichet status` and the retention purge look up, without reading
-- every row: the last mail sent, the oldest waiting, the tickets closed
-- before a date, and what still refers to a raw mail or a file.
CREATE INDEX outbox_sent_at ON outbox (sent_at);
CREATE INDEX outbox_state_created ON outbox (state, created_at);
CREATE INDEX tickets_closed ON tickets (status, closed_at);
CREATE INDEX raw_mails_ticket ON raw_mails (ticket_id);
CREATE INDEX messages_raw_mail ON messages (raw_mail_id);
CREATE INDEX attachments_sha256 ON attachments (sha256);
