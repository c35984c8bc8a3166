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

/// `now` plus a lifetime the server gave, if it gave one.
fn after(lifetime: Option<std::time::Duration>, now: NaiveDateTime) -> Option<NaiveDateTime> {
    lifetime
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .map(|d| now + d)
}

/// Whether the refresh token's known end is near enough at `now` for the
/// administrators to sign in again: a week ahead, or a fifth of its life
/// for a short-lived one.
pub fn refresh_expiring(t: &StoredTokens, now: NaiveDateTime) -> bool {
    let Some(end) = t.refresh_expires_at else {
        return false;
    };
    let ahead = ((end - t.obtained_at) / 5).min(chrono::Duration::days(7));
    t.refresh_token.is_some() && now + ahead >= end
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
        access_expires_at: after(granted.expires_in, now),
        refresh_token: granted.refresh_token.clone(),
        refresh_expires_at: after(granted.refresh_expires_in, now),
        obtained_at: now,
        refreshed_at: None,
    };
    oauth_tokens::replace(conn, &tokens)?;
    super::health::oauth_ok(conn, desk, &Clock::System, service)?;
    super::health::oauth_renewed(conn, desk, &Clock::System, service)?;
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
            let expires = after(granted.expires_in, now);
            let new = oauth_tokens::Refreshed {
                access_token: &granted.access_token,
                access_expires_at: expires,
                refresh_token: granted.refresh_token.as_deref(),
                refresh_expires_at: after(granted.refresh_expires_in, now),
            };
            db(|| oauth_tokens::refreshed(&mut conn, service, &refresh_token, &new, now))
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

/// Tells the administrators, once, when a refresh token whose end the
/// server gave comes near it (the scheduler asks every run): only a new
/// `guichet oauth login` gives a new one. Returns whether a mail was
/// queued.
pub fn warn_refresh_expiry(
    conn: &mut AnyConnection,
    desk: &Desk,
    clock: &Clock,
) -> store::StoreResult<bool> {
    let mut queued = false;
    for (service, auth) in [
        (IMAP, desk.settings.imap.auth),
        (SMTP, desk.settings.smtp.auth),
    ] {
        if auth != crate::config::Auth::OAuth2 {
            continue;
        }
        let Some(tokens) = oauth_tokens::get(conn, service)? else {
            continue;
        };
        if refresh_expiring(&tokens, clock.now_naive()) {
            let end = tokens.refresh_expires_at.map(crate::clock::rfc3339);
            queued |= super::health::oauth_expiring(
                conn,
                desk,
                clock,
                service,
                &end.unwrap_or_default(),
            )?;
        }
    }
    Ok(queued)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: i64) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 12, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            + chrono::Duration::hours(h)
    }

    fn tokens(access_until: Option<i64>, refresh_until: Option<i64>) -> StoredTokens {
        StoredTokens {
            service: "imap".into(),
            account: "support@example.org".into(),
            scopes: "mail".into(),
            access_token: "a".into(),
            access_expires_at: access_until.map(at),
            refresh_token: Some("r".into()),
            refresh_expires_at: refresh_until.map(at),
            obtained_at: at(0),
            refreshed_at: None,
        }
    }

    #[test]
    fn an_access_token_is_refreshed_ahead_of_its_end() {
        // An hour's token: five minutes ahead.
        let hour = tokens(Some(1), None);
        assert!(fresh(&hour, at(0) + chrono::Duration::minutes(54)));
        assert!(!fresh(&hour, at(0) + chrono::Duration::minutes(56)));
        // A five-second one: a second ahead.
        let mut short = tokens(None, None);
        short.access_expires_at = Some(at(0) + chrono::Duration::seconds(5));
        assert!(fresh(&short, at(0) + chrono::Duration::seconds(3)));
        assert!(!fresh(&short, at(0) + chrono::Duration::seconds(4)));
        // No end given: used as it is.
        assert!(fresh(&tokens(None, None), at(10_000)));
    }

    #[test]
    fn a_refresh_tokens_end_is_told_a_week_ahead_or_a_fifth_of_its_life() {
        // Ninety days: told seven days before.
        let long = tokens(Some(1), Some(90 * 24));
        assert!(!refresh_expiring(&long, at(82 * 24)));
        assert!(refresh_expiring(&long, at(83 * 24)));
        // Seven days (Google's testing apps): told 33.6 hours before.
        let week = tokens(Some(1), Some(7 * 24));
        assert!(!refresh_expiring(&week, at(7 * 24 - 34)));
        assert!(refresh_expiring(&week, at(7 * 24 - 33)));
        // Never, when the server says nothing (Microsoft).
        assert!(!refresh_expiring(&tokens(Some(1), None), at(100_000)));
    }
}
