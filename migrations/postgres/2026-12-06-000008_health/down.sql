DROP INDEX attachments_sha256;
DROP INDEX messages_raw_mail;
DROP INDEX raw_mails_ticket;
DROP INDEX tickets_closed;
DROP INDEX outbox_state_created;
DROP INDEX outbox_sent_at;
DROP TABLE health;
