-- Tickets an agent opens for a requester: how the request came ("mail":
-- the requester's own mail or one an agent forwarded; "phone": taken by
-- phone, `#requester`), and the agent who opened it.
ALTER TABLE tickets ADD COLUMN channel TEXT NOT NULL DEFAULT 'mail';
ALTER TABLE tickets ADD COLUMN opened_by TEXT;
