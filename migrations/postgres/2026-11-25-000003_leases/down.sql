ALTER TABLE outbox DROP COLUMN claimed_by;
DELETE FROM counters WHERE name = 'write_lock';
DROP TABLE leases;
