ALTER TABLE tickets DROP COLUMN requester_phone;
