//! The OAuth 2.0 tokens of `[imap]`/`[smtp] auth = "oauth2"`: obtained
//! once by an administrator (`guichet oauth login`), kept in the database,
//! refreshed unattended shortly before the access token expires, the
//! refresh token replaced when the server rotates it. A refresh that fails
//! is recorded and alerted (at once when only a new sign-in can cure it).
//! Tokens follow the real clock: they are about servers, not tickets.

use std::sync::Arc;

use chrono::NaiveDateTime;

use super::Desk;
use crate::clock::Clock;
use crate::oauth::{self, Granted, OAuthError};
use crate::outbound::dispatch::Transport;
use crate::outbound::relay::{Relay, RelayError, TokenSource};
use crate::store::oauth_tokens::{self, StoredTokens};
use crate::store::{self, blocking as db, AnyConnection};

pub const IMAP: &str = "imap";
pub const SMTP: &str = "smtp";

/// The account a service signs in as.
pub fn account(desk: &Desk, service: &str) -> String {
    match service {
        SMTP => desk.settings.smtp.username.clone().unwrap_or_default(),
        _ => desk.settings.imap.username.clone(),
    }
}

/// Whether a stored access token is good to use at `now`: it does not
/// expire within a fifth of its lifetime, five minutes at most (a refresh
/// ahead of time, whatever the lifetime the server gives).
pub fn fresh(t: &StoredTokens, now: NaiveDateTime) -> bool {
    let Some(expires) = t.access_expires_at else {
        return true;
    };
    let issued = t.refreshed_at.unwrap_or(t.obtained_at);
    let margin = ((expires - issued) / 5).min(chrono::Duration::minutes(5));
    now + margin < expires
}

fn expiry(g: &Granted, now: NaiveDateTime) -> Option<NaiveDateTime> {
    g.expires_in
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .map(|d| now + d)
}

fn stored_error(e: store::StoreError) -> OAuthError {
    OAuthError::Other(format!("the token store: {e}"))
}

/// Tokens from a sign-in, stored for `service` (replacing any before).
pub fn store_login(
    conn: &mut AnyConnection,
    desk: &Desk,
    service: &str,
    granted: &Granted,
) -> store::StoreResult<StoredTokens> {
    let now = Clock::System.now_naive();
    let tokens = StoredTokens {
        service: service.to_string(),
        account: account(desk, service),
        scopes: granted.scopes.join(" "),
        access_token: granted.access_token.clone(),
        access_expires_at: expiry(granted, now),
        refresh_token: granted.refresh_token.clone(),
        obtained_at: now,
        refreshed_at: None,
    };
    oauth_tokens::replace(conn, &tokens)?;
    super::health::oauth_ok(conn, desk, &Clock::System, service)?;
    if service == SMTP {
        // The mail that waited for want of a token is due at once, as
        // after `guichet outbox retry`.
        let relay = crate::outbound::relay::name(&desk.settings.smtp);
        store::outbox::lift_relay_hold(conn, &relay)?;
        store::outbox::retry(conn, &[], Clock::System.now_naive())?;
    }
    Ok(tokens)
}

/// A valid access token for `service`, refreshed first when it is about
/// to expire.
pub async fn access_token(desk: &Desk, service: &str) -> Result<String, OAuthError> {
    let clock = Clock::System;
    let Some(settings) = desk.settings.oauth2.as_ref() else {
        return Err(OAuthError::Config("no [oauth2] section".into()));
    };
    let url = &desk.settings.database_url;
    let mut conn = db(|| store::connect(url)).map_err(stored_error)?;
    let mut stored = db(|| oauth_tokens::get(&mut conn, service))
        .map_err(stored_error)?
        .ok_or_else(|| OAuthError::NoToken(service.to_string()))?;
    if fresh(&stored, clock.now_naive()) {
        return Ok(stored.access_token);
    }
    // One refresh at a time in this process: the relay opens several
    // connections at once, and a refresh token the server rotates works
    // only once. The one that waited finds the new token stored.
    static REFRESHING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _refreshing = REFRESHING.lock().await;
    if let Some(again) = db(|| oauth_tokens::get(&mut conn, service)).map_err(stored_error)? {
        if fresh(&again, clock.now_naive()) {
            return Ok(again.access_token);
        }
        stored = again;
    }
    let Some(refresh_token) = stored.refresh_token.clone() else {
        let e = OAuthError::Refused {
            error: "invalid_grant".into(),
            description: Some("the access token expired and no refresh token was given".into()),
        };
        let _ = db(|| {
            super::health::oauth_failed(&mut conn, desk, &clock, service, &e.to_string(), true)
        });
        return Err(e);
    };
    match oauth::refresh(settings, &refresh_token).await {
        Ok(granted) => {
            let now = clock.now_naive();
            let expires = expiry(&granted, now);
            db(|| {
                oauth_tokens::refreshed(
                    &mut conn,
                    service,
                    &refresh_token,
                    &granted.access_token,
                    expires,
                    granted.refresh_token.as_deref(),
                    now,
                )
            })
            .map_err(stored_error)?;
            tracing::info!(
                service,
                rotated = granted.refresh_token.as_deref().is_some_and(|r| r != refresh_token),
                expires_at = ?expires.map(crate::clock::rfc3339),
                "OAuth 2.0 access token refreshed"
            );
            if let Err(e) = db(|| super::health::oauth_ok(&mut conn, desk, &clock, service)) {
                tracing::warn!("could not record the token's health: {e}");
            }
            Ok(granted.access_token)
        }
        Err(e) => {
            // Another process may have refreshed (and rotated) it since it
            // was read: its token is as good.
            if let Ok(Some(now_stored)) = db(|| oauth_tokens::get(&mut conn, service)) {
                if now_stored.refresh_token.as_deref() != Some(refresh_token.as_str())
                    && fresh(&now_stored, clock.now_naive())
                {
                    return Ok(now_stored.access_token);
                }
            }
            tracing::error!(service, "OAuth 2.0 refresh failed: {e}");
            let needs_login = e.needs_login();
            // The server's own words when it refused (its error code is
            // the same in every language); the alert says what to do.
            let why = match &e {
                OAuthError::Refused { error, description } => match description {
                    Some(d) => format!("{error} ({d})"),
                    None => error.clone(),
                },
                _ => e.to_string(),
            };
            if let Err(e) = db(|| {
                super::health::oauth_failed(&mut conn, desk, &clock, service, &why, needs_login)
            }) {
                tracing::warn!("could not record the token's failure: {e}");
            }
            Err(e)
        }
    }
}

/// The relay as `[smtp]` says: with a token source under `auth =
/// "oauth2"`.
pub fn transport(desk: &Arc<Desk>) -> Result<Transport, RelayError> {
    match desk.settings.smtp.auth {
        crate::config::Auth::Password => Relay::new(&desk.settings.smtp),
        crate::config::Auth::OAuth2 => {
            let source = Arc::clone(desk);
            let tokens: TokenSource = Arc::new(move || {
                let desk = Arc::clone(&source);
                Box::pin(async move { access_token(&desk, SMTP).await.map_err(|e| e.to_string()) })
            });
            Relay::with_tokens(&desk.settings.smtp, tokens)
        }
    }
}
