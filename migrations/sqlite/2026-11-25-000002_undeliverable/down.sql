DROP INDEX outbox_recipient_created;
DROP TABLE undeliverable;
