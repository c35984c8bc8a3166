//! The outbox dispatcher: sends due rows with lettre, marks them sent, and
//! retries transient failures with capped exponential backoff.

use std::time::Duration;

use chrono::NaiveDateTime;
use futures::StreamExt;
use lettre::address::Envelope;

use super::relay::{Relay, RelayError, PARALLEL};
use crate::clock::Clock;
use crate::config::SmtpSettings;
use crate::store::{outbox, AnyConnection, StoreResult};

/// The first retry waits this long; each further one twice as long.
const FIRST_RETRY: Duration = Duration::from_secs(30);
/// No retry waits longer than this.
const MAX_RETRY: Duration = Duration::from_secs(3600);
/// Rows claimed per database round trip.
const DISPATCH_BATCH: i64 = 200;

/// How a failed send should be treated.
pub trait SendErrorClass: std::fmt::Display {
    /// The relay refused this mail for good (5xx): retrying is useless.
    fn is_permanent(&self) -> bool;
    /// The relay answered this mail with a temporary refusal (4xx): the
    /// others may still go through.
    fn is_transient(&self) -> bool;
}

pub type Transport = Relay;

/// The SMTP relay client.
pub fn transport(settings: &SmtpSettings) -> Result<Transport, RelayError> {
    Relay::new(settings)
}

/// The wait before retry number `attempt` (1-based): 30 s, 1 min, 2 min, …
/// up to an hour, with up to 10 % jitter so retries do not come in waves.
pub fn backoff(attempt: i32) -> Duration {
    let exp = attempt.clamp(1, 20) as u32 - 1;
    let base = FIRST_RETRY
        .saturating_mul(2u32.saturating_pow(exp))
        .min(MAX_RETRY);
    let mut byte = [0u8; 1];
    let _ = getrandom::getrandom(&mut byte);
    base + base.mul_f64(f64::from(byte[0]) / 2550.0)
}

/// What one pass of the dispatcher did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub sent: usize,
    pub deferred: usize,
    pub failed: usize,
    /// The last transient error, when the pass stopped on one.
    pub error: Option<String>,
}

fn envelope(row: &outbox::Outgoing) -> Result<Envelope, String> {
    let from = row
        .sender
        .parse()
        .map_err(|e| format!("sender {}: {e}", row.sender))?;
    let to = row
        .recipients
        .split(',')
        .map(|r| r.trim().parse().map_err(|e| format!("recipient {r}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    Envelope::new(Some(from), to).map_err(|e| e.to_string())
}

fn db<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// Sends every due row once, `PARALLEL` at a time. A 4xx for one mail
/// defers that mail only; a relay that cannot be reached defers everything
/// due and ends the pass, so an outage costs one connection attempt per
/// backoff step.
pub async fn send_due(
    conn: &mut AnyConnection,
    desk: &crate::ticket::service::Desk,
    relay: &Relay,
    clock: &Clock,
) -> StoreResult<Report> {
    let mut report = Report::default();
    let now = clock.now_naive();
    let released = db(|| outbox::release_dead_claims(conn, now, crate::instance::is_dead))?;
    if released > 0 {
        tracing::info!(
            count = released,
            "mail claimed by a daemon that died is due again"
        );
    }
    loop {
        let now = clock.now_naive();
        let rows = db(|| outbox::claim_due(conn, now, DISPATCH_BATCH, crate::instance::id()))?;
        if rows.is_empty() {
            return Ok(report);
        }
        let mut pending: std::collections::HashSet<i64> = rows.iter().map(|r| r.id).collect();
        let mut sends = futures::stream::iter(rows.into_iter().map(|row| async move {
            let result = match envelope(&row) {
                Ok(envelope) => relay.send(&envelope, &row.raw).await,
                Err(why) => Err(RelayError::Config(why)),
            };
            (row, result)
        }))
        .buffer_unordered(PARALLEL);
        let mut unreachable: Option<(String, NaiveDateTime)> = None;
        while let Some((row, result)) = sends.next().await {
            pending.remove(&row.id);
            match result {
                Ok(()) => {
                    let now = clock.now_naive();
                    db(|| outbox::mark_sent(conn, row.id, now))?;
                    report.sent += 1;
                }
                Err(e) if e.is_permanent() || matches!(e, RelayError::Config(_)) => {
                    let why = e.to_string();
                    tracing::error!(outbox = row.id, to = %row.recipients, "mail refused for good: {why}");
                    db(|| outbox::mark_failed(conn, row.id, &why, None))?;
                    if e.is_permanent() {
                        db(|| {
                            crate::ticket::service::relay_refused(conn, desk, &row, &why, clock)
                        })?;
                    }
                    report.failed += 1;
                }
                Err(e) => {
                    let why = e.to_string();
                    let transient = e.is_transient();
                    let now = clock.now_naive();
                    let retry_at: NaiveDateTime = now
                        + chrono::Duration::from_std(backoff(row.attempts + 1))
                            .unwrap_or(chrono::Duration::hours(1));
                    db(|| outbox::mark_failed(conn, row.id, &why, Some(retry_at)))?;
                    report.deferred += 1;
                    report.error = Some(why.clone());
                    if transient {
                        // A 4xx for this mail: the next ones may pass.
                        tracing::warn!(outbox = row.id, to = %row.recipients, retry_at = %retry_at, "relay refused for now, will retry: {why}");
                    } else if unreachable.is_none() {
                        unreachable = Some((why, retry_at));
                        break;
                    }
                }
            }
        }
        drop(sends);
        if let Some((why, retry_at)) = unreachable {
            // The relay cannot be reached: everything due waits, the rest
            // of this batch included.
            let rest: Vec<i64> = pending.into_iter().collect();
            db(|| outbox::release(conn, &rest, retry_at))?;
            let now = clock.now_naive();
            let deferred = rest.len() + db(|| outbox::defer_due(conn, now, retry_at))?;
            report.deferred += deferred;
            tracing::warn!(retry_at = %retry_at, waiting = deferred + 1, "relay unreachable, will retry: {why}");
            return Ok(report);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let first = backoff(1);
        assert!(first >= FIRST_RETRY && first <= FIRST_RETRY.mul_f64(1.1));
        let third = backoff(3);
        assert!(third >= FIRST_RETRY * 4);
        let late = backoff(50);
        assert!(late >= MAX_RETRY && late <= MAX_RETRY.mul_f64(1.1));
    }
}
