-- OAuth 2.0 tokens, one row per service ("imap", "smtp"): obtained by
-- `guichet oauth login`, refreshed by whichever process needs them (the
-- refresh token replaced when the server rotates it). Only in this
-- database (SQLite: a 0600 file), never in a log.
CREATE TABLE oauth_tokens (
    service TEXT PRIMARY KEY NOT NULL,
    account TEXT NOT NULL,
    scopes TEXT NOT NULL,
    access_token TEXT NOT NULL,
    access_expires_at TIMESTAMP,
    refresh_token TEXT,
    -- When the server said the refresh token dies (Google, Azure AD B2C).
    refresh_expires_at TIMESTAMP,
    obtained_at TIMESTAMP NOT NULL,
    refreshed_at TIMESTAMP
);
