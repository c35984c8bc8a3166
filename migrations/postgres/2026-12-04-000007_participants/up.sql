-- The people a requester's mails on a ticket were also sent to (To, Cc):
-- their answers in the ticket's thread are follow-ups on it, not new
-- tickets. They receive the ticket's mail only once made watchers.
CREATE TABLE participants (
    ticket_id BIGINT NOT NULL REFERENCES tickets (id),
    email TEXT NOT NULL,
    added_at TIMESTAMP NOT NULL,
    PRIMARY KEY (ticket_id, email)
);
