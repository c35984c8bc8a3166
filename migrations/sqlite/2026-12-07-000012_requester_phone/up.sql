-- The requester's phone number, taken from the signature of their mail
-- (never made up), for the agents to call back.
ALTER TABLE tickets ADD COLUMN requester_phone TEXT;
