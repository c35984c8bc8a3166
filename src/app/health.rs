//! Whether the desk is being served: the mailbox read, the relay taking
//! mail. The daemon records what it sees (`store::health`), raises one
//! alert to `[alerts] to` when the mailbox has not been read, or the relay
//! has refused every connection, for `[alerts] after`, whatever the cause,
//! and one more when it works again; the state is in the database, so a
//! restart neither repeats an alert nor forgets one. `guichet status`
//! judges the same rows with [`judge`].

use chrono::NaiveDateTime;

use super::alerts::enqueue_alert;
use super::Desk;
use crate::clock::Clock;
use crate::config::ImapSettings;
use crate::outbound::dispatch::Report;
use crate::store::health::{self, Health};
use crate::store::{outbox, AnyConnection, StoreResult};

/// The name under which the mailbox's health is kept: the same mailbox
/// read by several daemons is one component.
pub fn mailbox_component(imap: &crate::config::ImapSettings) -> String {
    format!("mailbox {}", imap.url())
}

/// The name under which a relay's health is kept (`host:port`).
pub fn relay_component(relay: &str) -> String {
    format!("relay {relay}")
}

/// How bad a component's state is, in the words of monitoring plugins
/// (Nagios, Icinga, Zabbix's agent): ordered from good to worst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Ok,
    Unknown,
    Warning,
    Critical,
}

impl Level {
    /// The plugin's exit status (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
    pub fn exit_code(self) -> u8 {
        match self {
            Level::Ok => 0,
            Level::Warning => 1,
            Level::Critical => 2,
            Level::Unknown => 3,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "OK",
            Level::Warning => "WARNING",
            Level::Critical => "CRITICAL",
            Level::Unknown => "UNKNOWN",
        }
    }
}

/// Since when a component has not worked, while it fails: since it last
/// worked, or since its first failure when it never did. A daemon that
/// was stopped for a day and cannot read the mailbox at its restart has
/// not read it for a day.
pub fn silent_since(row: &Health) -> Option<NaiveDateTime> {
    let since = row.failing_since?;
    Some(row.ok_at.map_or(since, |ok| ok.min(since)))
}

/// Whether the failure of `row` must now be told to the administrators:
/// silent for `after` or more, and not told yet.
pub fn alert_due(row: &Health, now: NaiveDateTime, after: std::time::Duration) -> bool {
    row.alerted_at.is_none()
        && silent_since(row).is_some_and(|since| now - since >= to_chrono(after))
}

/// A component's level at `now`, and what to say of it: OK while it works
/// and was heard of within `after`; WARNING while it fails for less than
/// `after`; CRITICAL past it, and when nothing was heard for `after` (the
/// daemon is not running, or hangs). `None`: nothing recorded yet.
pub fn judge(row: Option<&Health>, now: NaiveDateTime, after: std::time::Duration) -> Level {
    match row {
        None => Level::Warning,
        Some(row) => match (silent_since(row), row.ok_at) {
            (Some(since), _) => failing_level(since, now, after),
            (None, Some(ok)) if now - ok >= to_chrono(after) => Level::Critical,
            (None, Some(_)) => Level::Ok,
            (None, None) => Level::Warning,
        },
    }
}

/// Something that has failed since `since`: WARNING, CRITICAL once it has
/// for `after`.
pub fn failing_level(
    since: NaiveDateTime,
    now: NaiveDateTime,
    after: std::time::Duration,
) -> Level {
    if now - since >= to_chrono(after) {
        Level::Critical
    } else {
        Level::Warning
    }
}

fn to_chrono(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(3650))
}

fn minutes(since: NaiveDateTime, now: NaiveDateTime) -> u64 {
    u64::try_from((now - since).num_seconds().max(0))
        .unwrap_or(0)
        .div_ceil(60)
}

/// One kind of incident: what its component is called, and what its
/// alert says.
struct Incident<'a> {
    component: String,
    /// The alert template's cases, when it begins and when it ends.
    down: &'a str,
    recovered: &'a str,
    /// Which mailbox, relay or token, for the alert's text.
    what: String,
    /// For the log: "the support mailbox has not been read", and when it
    /// is over: "the support mailbox is read again".
    log: &'a str,
    log_over: &'a str,
}

/// `incident` is failing (`error`, one line, no secret): recorded, and the
/// alert queued when it is due (`at_once`: as soon as it fails, for what
/// no retry can cure). Returns whether a mail was queued.
fn failed(
    conn: &mut AnyConnection,
    desk: &Desk,
    clock: &Clock,
    incident: &Incident<'_>,
    error: &str,
    at_once: bool,
) -> StoreResult<bool> {
    let now = clock.now_naive();
    let row = health::record_failure(conn, &incident.component, now, error)?;
    let due = if at_once {
        row.alerted_at.is_none()
    } else {
        alert_due(&row, now, desk.settings.alerts.after)
    };
    if !due || !health::claim_alert(conn, &incident.component, now)? {
        return Ok(false);
    }
    let minutes = minutes(silent_since(&row).unwrap_or(now), now);
    if at_once {
        tracing::error!("ALERT: {} ({error})", incident.log);
    } else {
        tracing::error!(
            "ALERT: {} for {minutes} min ({error}); guichet keeps trying",
            incident.log
        );
    }
    let detail = format!("{}: {error}", incident.what);
    enqueue_alert(conn, desk, incident.down, &detail, minutes, clock)?;
    Ok(!desk.settings.alerts.to.is_empty())
}

/// `incident` works again: recorded, and the end of an alerted incident
/// told. Returns whether a mail was queued.
fn works(
    conn: &mut AnyConnection,
    desk: &Desk,
    clock: &Clock,
    incident: &Incident<'_>,
) -> StoreResult<bool> {
    let now = clock.now_naive();
    let before = health::get(conn, &incident.component)?;
    health::record_ok(conn, &incident.component, now)?;
    let Some(before) = before.filter(|b| b.alerted_at.is_some()) else {
        return Ok(false);
    };
    if !health::end_alert(conn, &incident.component)? {
        return Ok(false);
    }
    let minutes = minutes(silent_since(&before).unwrap_or(now), now);
    tracing::info!("{}, after {minutes} min", incident.log_over);
    enqueue_alert(
        conn,
        desk,
        incident.recovered,
        &incident.what,
        minutes,
        clock,
    )?;
    Ok(!desk.settings.alerts.to.is_empty())
}

fn mailbox(imap: &ImapSettings) -> Incident<'static> {
    Incident {
        component: mailbox_component(imap),
        down: "mailbox_down",
        recovered: "mailbox_recovered",
        what: imap.url(),
        log: "the support mailbox has not been read",
        log_over: "the support mailbox is read again",
    }
}

/// The name under which the health of a service's OAuth 2.0 token is
/// kept ("oauth imap").
pub fn oauth_component(service: &str) -> String {
    format!("oauth {service}")
}

fn oauth(desk: &Desk, service: &str) -> Incident<'static> {
    let account = match service {
        "smtp" => desk.settings.smtp.username.clone().unwrap_or_default(),
        _ => desk.settings.imap.username.clone(),
    };
    Incident {
        component: oauth_component(service),
        down: "oauth_failed",
        recovered: "oauth_recovered",
        what: format!("{service} ({account})"),
        log: "no OAuth 2.0 access token could be had",
        log_over: "an OAuth 2.0 access token was had again",
    }
}

/// The mailbox could not be read (`error`, one line, no secret): recorded,
/// and the alert queued when it is due. Returns whether a mail was queued.
pub fn mailbox_failed(
    conn: &mut AnyConnection,
    desk: &Desk,
    imap: &ImapSettings,
    clock: &Clock,
    error: &str,
) -> StoreResult<bool> {
    failed(conn, desk, clock, &mailbox(imap), error, false)
}

/// The mailbox was read (or its session is known alive): recorded, and
/// the end of an alerted incident told. Returns whether a mail was queued.
pub fn mailbox_ok(
    conn: &mut AnyConnection,
    desk: &Desk,
    imap: &ImapSettings,
    clock: &Clock,
) -> StoreResult<bool> {
    works(conn, desk, clock, &mailbox(imap))
}

/// A service's token could not be refreshed: alerted at once when only a
/// new sign-in can cure it (`needs_login`), past `[alerts] after` when the
/// server could not be reached.
pub fn oauth_failed(
    conn: &mut AnyConnection,
    desk: &Desk,
    clock: &Clock,
    service: &str,
    error: &str,
    needs_login: bool,
) -> StoreResult<bool> {
    failed(conn, desk, clock, &oauth(desk, service), error, needs_login)
}

fn oauth_expiry(desk: &Desk, service: &str) -> Incident<'static> {
    Incident {
        component: format!("oauth {service} expiry"),
        down: "oauth_expiring",
        recovered: "oauth_renewed",
        log: "the OAuth 2.0 refresh token comes near its end",
        log_over: "the OAuth 2.0 sign-in was renewed",
        ..oauth(desk, service)
    }
}

/// A service's refresh token ends at `end` (RFC 3339), soon: told once,
/// at once.
pub fn oauth_expiring(
    conn: &mut AnyConnection,
    desk: &Desk,
    clock: &Clock,
    service: &str,
    end: &str,
) -> StoreResult<bool> {
    failed(conn, desk, clock, &oauth_expiry(desk, service), end, true)
}

/// A new sign-in gave a new refresh token: an end told is over.
pub fn oauth_renewed(
    conn: &mut AnyConnection,
    desk: &Desk,
    clock: &Clock,
    service: &str,
) -> StoreResult<bool> {
    works(conn, desk, clock, &oauth_expiry(desk, service))
}

/// A service's token was refreshed (or obtained by a new sign-in).
pub fn oauth_ok(
    conn: &mut AnyConnection,
    desk: &Desk,
    clock: &Clock,
    service: &str,
) -> StoreResult<bool> {
    works(conn, desk, clock, &oauth(desk, service))
}

/// After a pass of the dispatcher on `relay` (`host:port`): a relay on
/// hold is failing since the hold began, and alerted past `[alerts]
/// after`; a relay that took mail again ends the incident. The alert goes
/// through the outbox, so it leaves once the relay takes mail again (or
/// through another relay after a configuration change); `guichet status`
/// and the error line say it at once. Returns whether a mail was queued.
pub fn after_relay_pass(
    conn: &mut AnyConnection,
    desk: &Desk,
    clock: &Clock,
    relay: &str,
    report: &Report,
) -> StoreResult<bool> {
    let component = relay_component(relay);
    let now = clock.now_naive();
    if report.held_until.is_some() {
        let Some(hold) = outbox::relay_hold(conn, relay)? else {
            return Ok(false);
        };
        let row = health::record_failure(conn, &component, hold.since, &hold.reason)?;
        if !alert_due(&row, now, desk.settings.alerts.after)
            || !health::claim_alert(conn, &component, now)?
        {
            return Ok(false);
        }
        let minutes = minutes(silent_since(&row).unwrap_or(now), now);
        tracing::error!(
            "ALERT: the relay {relay} has refused every connection for {minutes} min ({}); mail waits in the outbox",
            hold.reason
        );
        // The relay's reason names it already ("host:port: refused").
        let detail = if hold.reason.starts_with(relay) {
            hold.reason.clone()
        } else {
            format!("{relay}: {}", hold.reason)
        };
        enqueue_alert(conn, desk, "relay_down", &detail, minutes, clock)?;
        return Ok(!desk.settings.alerts.to.is_empty());
    }
    if report.sent == 0 {
        return Ok(false);
    }
    let Some(before) = health::get(conn, &component)? else {
        return Ok(false);
    };
    if before.failing_since.is_none() {
        return Ok(false);
    }
    health::record_ok(conn, &component, now)?;
    if before.alerted_at.is_none() || !health::end_alert(conn, &component)? {
        return Ok(false);
    }
    let minutes = minutes(silent_since(&before).unwrap_or(now), now);
    tracing::info!("the relay {relay} takes mail again, after {minutes} min");
    enqueue_alert(conn, desk, "relay_recovered", relay, minutes, clock)?;
    Ok(!desk.settings.alerts.to.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(minute: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 12, 7)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap()
            + chrono::Duration::minutes(i64::from(minute))
    }

    fn row(ok_at: Option<u32>, failing_since: Option<u32>, alerted_at: Option<u32>) -> Health {
        Health {
            component: "mailbox imap://support@example.test@127.0.0.1:143/INBOX".into(),
            ok_at: ok_at.map(at),
            failing_since: failing_since.map(at),
            last_error: failing_since.map(|_| "IMAP login refused: no".into()),
            alerted_at: alerted_at.map(at),
        }
    }

    const TEN_MIN: Duration = Duration::from_secs(600);

    #[test]
    fn an_alert_is_due_once_the_mailbox_is_silent_for_the_delay() {
        // Worked at 9:00, fails since 9:02: silent since 9:00.
        let failing = row(Some(0), Some(2), None);
        assert!(!alert_due(&failing, at(9), TEN_MIN));
        assert!(alert_due(&failing, at(10), TEN_MIN));
        // Told already (before a restart, or by another daemon).
        assert!(!alert_due(
            &row(Some(0), Some(2), Some(10)),
            at(30),
            TEN_MIN
        ));
        // Working: nothing to tell, however old the last contact.
        assert!(!alert_due(&row(Some(0), None, None), at(60), TEN_MIN));
        // Never worked: counted from the first failure.
        assert!(!alert_due(&row(None, Some(5), None), at(14), TEN_MIN));
        assert!(alert_due(&row(None, Some(5), None), at(15), TEN_MIN));
    }

    #[test]
    fn a_daemon_stopped_for_long_is_silent_since_it_last_read() {
        // Last read yesterday; fails at its restart today: due at once.
        let restarted = row(Some(0), Some(24 * 60), None);
        assert_eq!(silent_since(&restarted), Some(at(0)));
        assert!(alert_due(&restarted, at(24 * 60), TEN_MIN));
    }

    #[test]
    fn levels_go_warning_then_critical() {
        assert_eq!(judge(None, at(0), TEN_MIN), Level::Warning);
        assert_eq!(
            judge(Some(&row(Some(0), None, None)), at(9), TEN_MIN),
            Level::Ok
        );
        // Nothing heard for the delay: the daemon is down or stuck.
        assert_eq!(
            judge(Some(&row(Some(0), None, None)), at(10), TEN_MIN),
            Level::Critical
        );
        assert_eq!(
            judge(Some(&row(Some(0), Some(1), None)), at(5), TEN_MIN),
            Level::Warning
        );
        assert_eq!(
            judge(Some(&row(Some(0), Some(1), Some(10))), at(10), TEN_MIN),
            Level::Critical
        );
        assert_eq!(
            judge(Some(&row(None, None, None)), at(0), TEN_MIN),
            Level::Warning
        );
    }

    #[test]
    fn the_worst_level_wins_and_maps_to_plugin_codes() {
        let worst = [Level::Ok, Level::Warning, Level::Unknown]
            .into_iter()
            .max()
            .unwrap();
        assert_eq!(worst, Level::Warning);
        assert!(Level::Critical > Level::Warning);
        assert_eq!(Level::Ok.exit_code(), 0);
        assert_eq!(Level::Warning.exit_code(), 1);
        assert_eq!(Level::Critical.exit_code(), 2);
        assert_eq!(Level::Unknown.exit_code(), 3);
    }
}
