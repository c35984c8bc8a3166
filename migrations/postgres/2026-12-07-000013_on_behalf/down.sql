ALTER TABLE tickets DROP COLUMN opened_by;
ALTER TABLE tickets DROP COLUMN channel;
