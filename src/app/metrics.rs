//! `[metrics] listen`: the desk's health and activity as Prometheus text
//! metrics. The daemon's tasks count what they do (mails fetched, tickets
//! opened, mails sent); the scheduler sets, each run, the gauges of what
//! `guichet status` judges. Without `[metrics]` no recorder is installed
//! and the counting costs nothing.

use metrics::{counter, gauge};

use super::status;
use crate::app::Desk;
use crate::clock::Clock;
use crate::store::{health, mails, oauth_tokens, outbox, AnyConnection, StoreResult};

/// Counts one fetch cycle's work.
pub fn fetched(fetched: usize, created: usize, added: usize, failed: usize) {
    counter!("guichet_mails_fetched_total").increment(fetched as u64);
    counter!("guichet_tickets_opened_total").increment(created as u64);
    counter!("guichet_followups_total").increment(added as u64);
    counter!("guichet_mails_failed_total").increment(failed as u64);
}

/// Counts one pass of the outbox.
pub fn sent(sent: usize, refused: usize) {
    counter!("guichet_mails_sent_total").increment(sent as u64);
    counter!("guichet_mails_refused_total").increment(refused as u64);
}

fn seconds(t: chrono::NaiveDateTime) -> f64 {
    t.and_utc().timestamp() as f64
}

/// Sets the gauges from the database as of `clock`.
pub fn record(conn: &mut AnyConnection, desk: &Desk, clock: &Clock) -> StoreResult<()> {
    let settings = &desk.settings;
    let now = clock.now_naive();
    // One gauge per item: the worst of its lines (a `mailbox` line per
    // mailbox).
    let mut worst: Vec<(&'static str, super::health::Level)> = Vec::new();
    for item in status::items(settings, clock) {
        match worst.iter_mut().find(|(name, _)| *name == item.name) {
            Some((_, level)) => *level = (*level).max(item.level),
            None => worst.push((item.name, item.level)),
        }
    }
    for (name, level) in worst {
        gauge!("guichet_health", "item" => name).set(f64::from(level.exit_code()));
    }
    for m in &settings.mailboxes {
        let mailbox = health::get(conn, &super::health::mailbox_component(&m.imap))?;
        let name = m.name.clone();
        if let Some(ok) = mailbox.as_ref().and_then(|h| h.ok_at) {
            gauge!("guichet_mailbox_last_read_timestamp_seconds", "mailbox" => name.clone())
                .set(seconds(ok));
        }
        let failing = mailbox.is_some_and(|h| h.failing_since.is_some());
        gauge!("guichet_mailbox_failing", "mailbox" => name).set(if failing { 1.0 } else { 0.0 });
    }
    let relay = outbox::relay_hold(conn, &crate::outbound::relay::name(&settings.smtp))?;
    gauge!("guichet_relay_held").set(if relay.is_some() { 1.0 } else { 0.0 });
    gauge!("guichet_outbox_pending").set(outbox::pending_count(conn)? as f64);
    let oldest = outbox::oldest_pending(conn)?.map(|t| (now - t).num_seconds().max(0) as f64);
    gauge!("guichet_outbox_oldest_pending_age_seconds").set(oldest.unwrap_or(0.0));
    let (recent, total) = mails::failed_counts(conn, now - chrono::Duration::days(1))?;
    gauge!("guichet_failed_mails").set(total as f64);
    gauge!("guichet_failed_mails_last_day").set(recent as f64);
    for t in oauth_tokens::all(conn)? {
        let service = t.service.clone();
        if let Some(end) = t.access_expires_at {
            gauge!("guichet_oauth_access_expiry_timestamp_seconds", "service" => service.clone())
                .set(seconds(end));
        }
        if let Some(end) = t.refresh_expires_at {
            gauge!("guichet_oauth_refresh_expiry_timestamp_seconds", "service" => service)
                .set(seconds(end));
        }
    }
    Ok(())
}
