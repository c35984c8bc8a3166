DROP INDEX tickets_resolution_due;
DROP INDEX tickets_first_answer_due;
ALTER TABLE tickets DROP COLUMN resolution_told;
ALTER TABLE tickets DROP COLUMN first_answer_told;
ALTER TABLE tickets DROP COLUMN first_answered_at;
ALTER TABLE tickets DROP COLUMN resolution_due;
ALTER TABLE tickets DROP COLUMN first_answer_due;
