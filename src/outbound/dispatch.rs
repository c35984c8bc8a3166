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
/// backoff step. `keep_going` is asked before each batch of rows is
/// claimed: a daemon told to stop finishes the batch in hand (a fraction
/// of a second) and leaves the rest due.
pub async fn send_due(
    conn: &mut AnyConnection,
    desk: &crate::ticket::service::Desk,
    relay: &Relay,
    clock: &Clock,
    keep_going: impl Fn() -> bool,
) -> StoreResult<Report> {
    let mut report = Report::default();
    let now = clock.now_naive();
    // Recording a send need not wait for PostgreSQL's disk: what a crash
    // forgets is sent again, with its Message-ID.
    db(|| crate::store::relaxed_commits(conn))?;
    let released = db(|| outbox::release_dead_claims(conn, now, crate::instance::is_dead))?;
    if released > 0 {
        tracing::info!(
            count = released,
            "mail claimed by a daemon that died is due again"
        );
    }
    loop {
        if !keep_going() {
            return Ok(report);
        }
        let now = clock.now_naive();
        let rows = db(|| outbox::claim_due(conn, now, DISPATCH_BATCH, crate::instance::id()))?;
        if rows.is_empty() {
            return Ok(report);
        }
        let (outcomes, unreachable, pending) = send_batch(conn, desk, relay, clock, rows);
        let batch = outcomes?;
        report.sent += batch.sent;
        report.failed += batch.failed;
        report.deferred += batch.deferred;
        if batch.error.is_some() {
            report.error = batch.error;
        }
        if let Some((why, retry_at)) = unreachable {
            // The relay cannot be reached: everything due waits, the rest
            // of this batch included.
            let rest = pending;
            db(|| outbox::release(conn, &rest, retry_at))?;
            let now = clock.now_naive();
            let deferred = rest.len() + db(|| outbox::defer_due(conn, now, retry_at))?;
            report.deferred += deferred;
            tracing::warn!(retry_at = %retry_at, waiting = deferred + 1, "relay unreachable, will retry: {why}");
            return Ok(report);
        }
    }
}

/// A place among the `PARALLEL` mails that may be sent and not yet
/// recorded (`None` only if the semaphore were closed, which it never is).
type Permit = Option<tokio::sync::OwnedSemaphorePermit>;

/// What became of one mail handed to the relay, for the recording thread.
enum Sent {
    Accepted(i64),
    Refused(Box<outbox::Outgoing>, String, bool),
    Deferred(i64, String, NaiveDateTime),
}

/// Sends a batch of claimed rows, `PARALLEL` at a time, while a thread of
/// its own records each outcome in the database as soon as it is known
/// (the accepted ones that arrived meanwhile in one statement), so the
/// sends do not take turns with the database. A mail holds one of
/// `PARALLEL` permits from before it is sent until its outcome is
/// recorded: a crash can resend at most `PARALLEL` mails, even when the
/// database is slow to answer (SQLite waiting for the write lock).
/// Returns the report, the unreachable relay's error and retry time if it
/// stopped the batch, and the rows not tried.
fn send_batch(
    conn: &mut AnyConnection,
    desk: &crate::ticket::service::Desk,
    relay: &Relay,
    clock: &Clock,
    rows: Vec<outbox::Outgoing>,
) -> (
    StoreResult<Report>,
    Option<(String, NaiveDateTime)>,
    Vec<i64>,
) {
    let mut pending: std::collections::HashSet<i64> = rows.iter().map(|r| r.id).collect();
    let mut report = Report::default();
    let mut unreachable: Option<(String, NaiveDateTime)> = None;
    let recorded = tokio::task::block_in_place(|| {
        std::thread::scope(|scope| {
            let (tell, told) = std::sync::mpsc::channel::<(Sent, Permit)>();
            let recorder = scope.spawn(move || record(conn, desk, clock, told));
            let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(PARALLEL));
            let mut sends = futures::stream::iter(rows.into_iter().map(|row| {
                let permits = permits.clone();
                async move {
                    let permit = permits.acquire_owned().await;
                    let result = match envelope(&row) {
                        Ok(envelope) => relay.send(&envelope, &row.raw).await,
                        Err(why) => Err(RelayError::Config(why)),
                    };
                    (row, result, permit)
                }
            }))
            .buffer_unordered(PARALLEL);
            tokio::runtime::Handle::current().block_on(async {
                while let Some((row, result, permit)) = sends.next().await {
                    pending.remove(&row.id);
                    let outcome = match result {
                        Ok(()) => {
                            report.sent += 1;
                            Sent::Accepted(row.id)
                        }
                        Err(e) if e.is_permanent() || matches!(e, RelayError::Config(_)) => {
                            let why = e.to_string();
                            tracing::error!(outbox = row.id, to = %row.recipients, "mail refused for good: {why}");
                            report.failed += 1;
                            Sent::Refused(Box::new(row), why, e.is_permanent())
                        }
                        Err(e) => {
                            let why = e.to_string();
                            let retry_at: NaiveDateTime = clock.now_naive()
                                + chrono::Duration::from_std(backoff(row.attempts + 1))
                                    .unwrap_or(chrono::Duration::hours(1));
                            report.deferred += 1;
                            report.error = Some(why.clone());
                            if e.is_transient() {
                                // A 4xx for this mail: the next ones may pass.
                                tracing::warn!(outbox = row.id, to = %row.recipients, retry_at = %retry_at, "relay refused for now, will retry: {why}");
                            } else {
                                unreachable = Some((why.clone(), retry_at));
                            }
                            Sent::Deferred(row.id, why, retry_at)
                        }
                    };
                    // The recorder stopped on a database error: stop too.
                    if tell.send((outcome, permit.ok())).is_err() || unreachable.is_some() {
                        break;
                    }
                }
            });
            drop(tell);
            recorder
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    });
    let pending = pending.into_iter().collect();
    (recorded.map(|()| report), unreachable, pending)
}

/// The recording thread of [`send_batch`].
fn record(
    conn: &mut AnyConnection,
    desk: &crate::ticket::service::Desk,
    clock: &Clock,
    told: std::sync::mpsc::Receiver<(Sent, Permit)>,
) -> StoreResult<()> {
    while let Ok(first) = told.recv() {
        let mut accepted = Vec::new();
        // Given back once the outcomes are recorded.
        let mut permits = Vec::new();
        for (outcome, permit) in
            std::iter::once(first).chain(std::iter::from_fn(|| told.try_recv().ok()))
        {
            permits.push(permit);
            match outcome {
                Sent::Accepted(id) => accepted.push(id),
                Sent::Refused(row, why, permanent) => {
                    outbox::mark_failed(conn, row.id, &why, None)?;
                    if permanent {
                        crate::ticket::service::relay_refused(conn, desk, &row, &why, clock)?;
                    }
                }
                Sent::Deferred(id, why, retry_at) => {
                    outbox::mark_failed(conn, id, &why, Some(retry_at))?;
                }
            }
        }
        if !accepted.is_empty() {
            outbox::mark_sent(conn, &accepted, clock.now_naive())?;
        }
        drop(permits);
    }
    Ok(())
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

    #[test]
    fn backoff_is_jittered() {
        // Daemons retrying the same relay do not all come back at once.
        let waits: std::collections::HashSet<Duration> = (0..50).map(|_| backoff(4)).collect();
        assert!(waits.len() > 10, "{} distinct waits in 50", waits.len());
    }
}
