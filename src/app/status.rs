//! The desk's health, item by item, as `guichet status` prints it and the
//! metrics export it: read from the database only (what the daemon
//! recorded), judged with [`super::health`]'s rules.

use std::time::Duration;

use chrono::NaiveDateTime;

use super::health::{self, Level};
use crate::clock::{rfc3339, Clock};
use crate::config::Settings;
use crate::store::{self, mails, outbox};

/// One thing checked.
#[derive(Debug)]
pub struct Item {
    pub name: &'static str,
    pub level: Level,
    pub text: String,
}

/// Every item, the database first (without it, nothing else can be read).
pub fn items(settings: &Settings, clock: &Clock) -> Vec<Item> {
    let now = clock.now_naive();
    let after = settings.alerts.after;
    let url = store::redact_url(&settings.database_url);
    let mut conn = match store::connect(&settings.database_url) {
        Ok(c) => c,
        Err(e) => {
            return vec![Item {
                name: "database",
                level: Level::Critical,
                text: e.to_string(),
            }]
        }
    };
    let (level, text) = match store::is_migrated(&mut conn) {
        Ok(true) => (Level::Ok, format!("{url}: schema up to date")),
        Ok(false) => (
            Level::Warning,
            format!("{url}: schema not created or not up to date (guichet migrate; guichet run does it too)"),
        ),
        Err(e) => (Level::Critical, format!("{url}: {e}")),
    };
    let mut items = vec![Item {
        name: "database",
        level,
        text,
    }];
    // Without the tables, nothing else can be read.
    if level != Level::Ok {
        return items;
    }
    let read = |r: store::StoreResult<Item>, name: &'static str| {
        r.unwrap_or_else(|e| Item {
            name,
            level: Level::Unknown,
            text: e.to_string(),
        })
    };
    for m in &settings.mailboxes {
        items.push(read(mailbox(&mut conn, &m.imap, now, after), "mailbox"));
    }
    items.push(read(relay(&mut conn, settings, now, after), "relay"));
    items.push(read(outbox_backlog(&mut conn, now, after), "outbox"));
    items.push(read(failed_mails(&mut conn, now), "failed"));
    if settings.sla.is_some() {
        items.push(read(sla_breaches(&mut conn, now), "sla"));
    }
    for (service, auth) in [("imap", settings.imap.auth), ("smtp", settings.smtp.auth)] {
        if auth == crate::config::Auth::OAuth2 {
            let name = if service == "imap" {
                "oauth imap"
            } else {
                "oauth smtp"
            };
            items.push(read(oauth(&mut conn, service, name, now), name));
        }
    }
    items
}

/// A service's OAuth 2.0 token: CRITICAL when there is none, when its last
/// refresh failed (the server will soon refuse the expired token), or when
/// it expired with nothing to refresh it.
fn oauth(
    conn: &mut store::AnyConnection,
    service: &str,
    name: &'static str,
    now: NaiveDateTime,
) -> store::StoreResult<Item> {
    let critical = |text: String| Item {
        name,
        level: Level::Critical,
        text,
    };
    let Some(tokens) = store::oauth_tokens::get(conn, service)? else {
        return Ok(critical(format!(
            "no token: sign in with `guichet oauth login {service}`"
        )));
    };
    let row = store::health::get(conn, &health::oauth_component(service))?;
    if let Some((since, error)) = row.and_then(|r| Some((r.failing_since?, r.last_error))) {
        return Ok(critical(format!(
            "{}: the refresh fails since {}: {}",
            tokens.account,
            rfc3339(since),
            error.unwrap_or_default()
        )));
    }
    if crate::app::oauth::refresh_expiring(&tokens, now) {
        return Ok(Item {
            name,
            level: Level::Warning,
            text: format!(
                "{}: the refresh token ends at {}: sign in again with `guichet oauth login {service}`",
                tokens.account,
                tokens.refresh_expires_at.map(rfc3339).unwrap_or_default()
            ),
        });
    }
    let until = tokens.access_expires_at;
    if tokens.refresh_token.is_none() && until.is_some_and(|u| u <= now) {
        return Ok(critical(format!(
            "{}: the access token expired at {} and there is no refresh token: sign in with `guichet oauth login {service}`",
            tokens.account,
            until.map(rfc3339).unwrap_or_default()
        )));
    }
    Ok(Item {
        name,
        level: Level::Ok,
        text: format!(
            "{}: access token until {}, last obtained {}",
            tokens.account,
            until
                .map(rfc3339)
                .unwrap_or_else(|| "(no expiry given)".into()),
            rfc3339(tokens.refreshed_at.unwrap_or(tokens.obtained_at))
        ),
    })
}

fn ago(since: NaiveDateTime, now: NaiveDateTime) -> String {
    let secs = u64::try_from((now - since).num_seconds().max(0)).unwrap_or(0);
    // Whole units: "3h 2m", "12s".
    let rounded = if secs >= 3600 { secs - secs % 60 } else { secs };
    humantime::format_duration(Duration::from_secs(rounded)).to_string()
}

fn mailbox(
    conn: &mut store::AnyConnection,
    imap: &crate::config::ImapSettings,
    now: NaiveDateTime,
    after: Duration,
) -> store::StoreResult<Item> {
    let row = store::health::get(conn, &health::mailbox_component(imap))?;
    let level = health::judge(row.as_ref(), now, after);
    let name = imap.url();
    let text = match &row {
        None => format!("{name}: never read yet (is `guichet run` running?)"),
        Some(r) => match (health::silent_since(r), r.ok_at) {
            (Some(since), _) => format!(
                "{name}: not read for {} (since {}): {}{}",
                ago(since, now),
                rfc3339(since),
                r.last_error.as_deref().unwrap_or("failing"),
                if r.alerted_at.is_some() {
                    "; the administrators were alerted"
                } else {
                    ""
                }
            ),
            (None, Some(ok)) if level == Level::Critical => format!(
                "{name}: nothing heard from the daemon for {} (last read at {}): is `guichet run` running?",
                ago(ok, now),
                rfc3339(ok)
            ),
            (None, Some(ok)) => format!("{name}: read {} ago", ago(ok, now)),
            (None, None) => format!("{name}: never read yet"),
        },
    };
    Ok(Item {
        name: "mailbox",
        level,
        text,
    })
}

fn relay(
    conn: &mut store::AnyConnection,
    settings: &Settings,
    now: NaiveDateTime,
    after: Duration,
) -> store::StoreResult<Item> {
    let name = crate::outbound::relay::name(&settings.smtp);
    let Some(hold) = outbox::relay_hold(conn, &name)? else {
        let last = outbox::last_sent_at(conn)?;
        return Ok(Item {
            name: "relay",
            level: Level::Ok,
            text: match last {
                Some(at) => format!("smtp://{name}: took mail, last at {}", rfc3339(at)),
                None => format!("smtp://{name}: no mail sent yet"),
            },
        });
    };
    Ok(Item {
        name: "relay",
        level: health::failing_level(hold.since, now, after),
        text: format!(
            "smtp://{name}: unreachable for {} (since {}): {}; next try at {}",
            ago(hold.since, now),
            rfc3339(hold.since),
            hold.reason,
            rfc3339(hold.until)
        ),
    })
}

/// Mail waiting longer than `[alerts] after` is a WARNING (a relay that
/// defers it, greylisting), longer than six times that a CRITICAL.
fn outbox_backlog(
    conn: &mut store::AnyConnection,
    now: NaiveDateTime,
    after: Duration,
) -> store::StoreResult<Item> {
    let waiting = outbox::pending_count(conn)?;
    let oldest = outbox::oldest_pending(conn)?;
    let after = chrono::Duration::from_std(after).unwrap_or_default();
    let (level, text) = match oldest {
        None => (Level::Ok, "nothing waits to be sent".to_string()),
        Some(at) => {
            let level = if now - at >= after * 6 {
                Level::Critical
            } else if now - at >= after {
                Level::Warning
            } else {
                Level::Ok
            };
            let s = if waiting == 1 { "" } else { "s" };
            (
                level,
                format!(
                    "{waiting} mail{s} waiting, the oldest for {} (since {})",
                    ago(at, now),
                    rfc3339(at)
                ),
            )
        }
    };
    Ok(Item {
        name: "outbox",
        level,
        text,
    })
}

/// Mail that could not be read in the last day is a WARNING: someone has
/// to look at it (`guichet failed list`); older ones are only counted.
fn failed_mails(conn: &mut store::AnyConnection, now: NaiveDateTime) -> store::StoreResult<Item> {
    let (recent, total) = mails::failed_counts(conn, now - chrono::Duration::days(1))?;
    let level = if recent > 0 {
        Level::Warning
    } else {
        Level::Ok
    };
    let text = if total == 0 {
        "none".to_string()
    } else {
        format!("{recent} in the last 24 hours, {total} in all (guichet failed list)")
    };
    Ok(Item {
        name: "failed",
        level,
        text,
    })
}

/// Unresolved tickets past a service-level target are a WARNING: the
/// desk's promise is broken, not the daemon.
fn sla_breaches(conn: &mut store::AnyConnection, now: NaiveDateTime) -> store::StoreResult<Item> {
    let (first, resolution) = store::tickets::sla_breaches(conn, now)?;
    let level = if first + resolution > 0 {
        Level::Warning
    } else {
        Level::Ok
    };
    let text = if first + resolution == 0 {
        "no ticket past its targets".to_string()
    } else {
        format!(
            "{first} ticket(s) past the first-answer target without an answer, {resolution} past the resolution target (guichet tickets list --open)"
        )
    };
    Ok(Item {
        name: "sla",
        level,
        text,
    })
}
