//! The outbox dispatcher: sends due rows with lettre, marks them sent, and
//! retries transient failures with capped exponential backoff.

use std::time::Duration;

use chrono::NaiveDateTime;
use futures::StreamExt;
use lettre::address::Envelope;

use super::relay::{Relay, RelayError, PARALLEL};
use crate::clock::Clock;
use crate::store::{blocking as db, outbox, AnyConnection, StoreResult};

/// The first retry waits this long; each further one twice as long.
const FIRST_RETRY: Duration = Duration::from_secs(30);
/// No retry waits longer than this.
const MAX_RETRY: Duration = Duration::from_secs(3600);
/// Rows claimed per statement: a claim keeps the keeper from recording
/// for a few milliseconds, during which fewer mails than `UNRECORDED` go
/// out, so the sends do not wait.
const DISPATCH_BATCH: i64 = 64;

/// Bytes of mail claimed and not yet recorded, at most (one mail at least,
/// whatever its size): mails carrying files are megabytes each.
const IN_HAND_BYTES: usize = 32 << 20;

pub type Transport = Relay;

/// The wait before retry number `attempt` (1-based): 30 s, 1 min, 2 min, …
/// up to an hour, with up to 10 % jitter so retries do not come in waves.
pub fn backoff(attempt: i32) -> Duration {
    let exp = attempt.clamp(1, 20) as u32 - 1;
    let base = FIRST_RETRY
        .saturating_mul(2u32.saturating_pow(exp))
        .min(MAX_RETRY);
    crate::clock::jittered(base)
}

/// What is done when the relay refuses a mail for good (5xx), beside
/// marking it failed: the application records it on the ticket (see
/// `app::delivery::relay_refused`). Called on the connection that records
/// the sends.
pub type OnRefused<'a> =
    &'a (dyn Fn(&mut AnyConnection, &outbox::Outgoing, &RelayError) -> StoreResult<()> + Sync);

/// What one pass of the dispatcher did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub sent: usize,
    pub deferred: usize,
    pub failed: usize,
    /// The last transient error, when the pass stopped on one.
    pub error: Option<String>,
    /// Until when the relay is on hold, when it is: nothing is tried
    /// before, whatever is due.
    pub held_until: Option<NaiveDateTime>,
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

/// Sends every due row once, `PARALLEL` at a time. A 4xx for one mail
/// defers that mail only; a relay that cannot be reached is put on hold
/// (see [`outbox::hold_relay`]) and ends the pass: nothing is tried again
/// before the hold ends, so an outage costs one connection attempt and one
/// row written per backoff step, however much mail waits. `keep_going` is
/// asked before each batch of rows is claimed: a daemon told to stop
/// finishes the rows in hand (a fraction of a second) and leaves the rest
/// due.
pub async fn send_due(
    conn: &mut AnyConnection,
    relay: &Relay,
    clock: &Clock,
    keep_going: impl Fn() -> bool + Sync,
    on_refused: OnRefused<'_>,
) -> StoreResult<Report> {
    let now = clock.now_naive();
    let name = relay.name();
    let hold = db(|| outbox::relay_hold(conn, &name))?;
    if let Some(h) = hold.as_ref().filter(|h| h.until > now) {
        return Ok(Report {
            error: Some(held(h)),
            held_until: Some(h.until),
            ..Report::default()
        });
    }
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
    let failures = hold.as_ref().map_or(0, |h| h.failures);
    let (untried, mut report, unreachable) =
        send_claimed(conn, relay, clock, failures, &keep_going, on_refused);
    let untried = untried?;
    // The rows claimed and not tried are due again; when the relay is
    // unreachable, the hold keeps them waiting.
    if !untried.is_empty() {
        db(|| outbox::release(conn, &untried, clock.now_naive()))?;
    }
    match unreachable {
        Some((why, retry_at)) => {
            let now = clock.now_naive();
            db(|| outbox::hold_relay(conn, &name, now, retry_at, &why))?;
            report.held_until = Some(retry_at);
            let waiting = db(|| outbox::pending_count(conn))?;
            report.deferred = usize::try_from(waiting).unwrap_or(usize::MAX);
            tracing::warn!(
                retry_at = %crate::clock::rfc3339(retry_at),
                waiting,
                "relay unreachable, will retry: {why}"
            );
        }
        None if hold.is_some() && report.sent + report.failed + report.deferred > 0 => {
            db(|| outbox::lift_relay_hold(conn, &name))?;
            tracing::info!(relay = %name, "relay reachable again");
        }
        None => {}
    }
    Ok(report)
}

/// Why nothing is tried: the relay is on hold.
fn held(hold: &outbox::RelayHold) -> String {
    use crate::clock::rfc3339;
    format!(
        "relay unreachable since {} ({}), next try at {}",
        rfc3339(hold.since),
        hold.reason,
        rfc3339(hold.until)
    )
}

/// Mails handed to the relay and not yet recorded, at most: a crash
/// resends at most this many. Twice the connections, so that the relay
/// is given the next mails while the database records the last ones.
pub const UNRECORDED: usize = 2 * PARALLEL;

/// After an outcome, the keeper waits this long for more (up to
/// `GATHERED`), to record them in one statement: one database round trip
/// per several mails, where the database is the slower part.
const GATHER: Duration = Duration::from_millis(2);
const GATHERED: usize = UNRECORDED / 2;

/// Rows claimed again once fewer than this many claimed rows are left
/// unsent, so that the relay never waits for a claim.
const REFILL: usize = DISPATCH_BATCH as usize / 2;

/// A place among the `UNRECORDED` mails that may be sent and not yet
/// recorded.
type Permit = tokio::sync::OwnedSemaphorePermit;

/// What became of one mail handed to the relay, for the keeper thread.
enum Sent {
    Accepted(i64),
    Refused(Box<outbox::Outgoing>, RelayError),
    Deferred(i64, String, NaiveDateTime),
}

/// Sends due rows as a thread of its own (the keeper, which has the
/// database connection) claims them ahead of the sends and records each
/// outcome as soon as it is known (the accepted ones that arrived
/// meanwhile in one statement): the sends never wait for a claim nor take
/// turns with the database. A mail holds one of `UNRECORDED` permits from
/// before it is sent until its outcome is recorded: a crash can resend at
/// most `UNRECORDED` mails, even when the database is slow to answer
/// (SQLite waiting for the write lock). Returns the rows claimed and not
/// tried, the report, and the unreachable relay's error and retry time if
/// it stopped the sends.
#[allow(clippy::type_complexity)]
fn send_claimed(
    conn: &mut AnyConnection,
    relay: &Relay,
    clock: &Clock,
    failures: i32,
    keep_going: &(impl Fn() -> bool + Sync),
    on_refused: OnRefused<'_>,
) -> (
    StoreResult<Vec<i64>>,
    Report,
    Option<(String, NaiveDateTime)>,
) {
    let mut report = Report::default();
    let mut unreachable: Option<(String, NaiveDateTime)> = None;
    let untried = tokio::task::block_in_place(|| {
        std::thread::scope(|scope| {
            let (tell, told) = std::sync::mpsc::channel::<(Sent, Permit)>();
            let (hand, mut handed) = tokio::sync::mpsc::unbounded_channel::<outbox::Claimed>();
            let keeper = scope.spawn(move || keep(conn, clock, keep_going, on_refused, hand, told));
            let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(UNRECORDED));
            let rows = futures::stream::poll_fn(|cx| handed.poll_recv(cx));
            let mut sends = rows
                .map(|outbox::Claimed { row, raw }| {
                    let permits = permits.clone();
                    async move {
                        let permit = permits
                            .acquire_owned()
                            .await
                            .expect("the semaphore is never closed");
                        let result = match envelope(&row) {
                            Ok(envelope) => relay.send(&envelope, &raw).await,
                            Err(why) => Err(RelayError::Config(why)),
                        };
                        (row, result, permit)
                    }
                })
                .buffer_unordered(PARALLEL);
            tokio::runtime::Handle::current().block_on(async {
                while let Some((row, result, permit)) = sends.next().await {
                    let outcome = match result {
                        Ok(()) => {
                            report.sent += 1;
                            Sent::Accepted(row.id)
                        }
                        Err(e) if e.is_permanent() || matches!(e, RelayError::Config(_)) => {
                            tracing::error!(outbox = row.id, to = %row.recipients, "mail refused for good: {e}");
                            report.failed += 1;
                            Sent::Refused(Box::new(row), e)
                        }
                        Err(e) => {
                            let why = e.to_string();
                            // A 4xx waits by this mail's attempts; an
                            // unreachable relay by its failures in a row.
                            let step = if e.is_transient() {
                                row.attempts + 1
                            } else {
                                failures + 1
                            };
                            let retry_at: NaiveDateTime = clock.now_naive()
                                + chrono::Duration::from_std(backoff(step))
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
                    // The keeper stopped on a database error: stop too.
                    if tell.send((outcome, permit)).is_err() || unreachable.is_some() {
                        break;
                    }
                }
            });
            // The sends in flight are dropped: their rows are among the
            // untried ones, due again.
            drop(sends);
            drop(tell);
            keeper
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    });
    (untried, report, unreachable)
}

/// The keeper thread of [`send_claimed`]: claims rows while the sends
/// still want some, hands them over, records what the relay said of each.
/// Returns the rows claimed whose outcome never came (the sends stopped).
fn keep(
    conn: &mut AnyConnection,
    clock: &Clock,
    keep_going: &(impl Fn() -> bool + Sync),
    on_refused: OnRefused<'_>,
    hand: tokio::sync::mpsc::UnboundedSender<outbox::Claimed>,
    told: std::sync::mpsc::Receiver<(Sent, Permit)>,
) -> StoreResult<Vec<i64>> {
    // Each claimed row's size, until its outcome is recorded.
    let mut claimed: std::collections::HashMap<i64, usize> = std::collections::HashMap::new();
    let in_hand = |claimed: &std::collections::HashMap<i64, usize>| claimed.values().sum::<usize>();
    // Whether to claim when the sends run low; false once nothing was
    // due, or the daemon is stopping.
    let mut more = true;
    // The pass ends once nothing is in hand: the daemon is stopping, or a
    // claim found nothing due while nothing was in hand.
    let mut last = false;
    loop {
        if more && claimed.len() < REFILL && in_hand(&claimed) < IN_HAND_BYTES / 2 {
            more = keep_going();
            if !more {
                last = true;
                continue;
            }
            let now = clock.now_naive();
            let room = IN_HAND_BYTES.saturating_sub(in_hand(&claimed));
            let rows = outbox::claim_due(
                conn,
                now,
                DISPATCH_BATCH,
                room as i64,
                crate::instance::id(),
            )?;
            if rows.is_empty() {
                more = false;
                last = claimed.is_empty();
            }
            for claim in rows {
                claimed.insert(claim.row.id, claim.raw.len());
                if hand.send(claim).is_err() {
                    more = false;
                    last = true;
                }
            }
            continue;
        }
        if claimed.is_empty() {
            if last {
                break;
            }
            // What was recorded may have queued mail (the agents told of
            // a refusal): due now, sent in this pass too.
            more = true;
            continue;
        }
        // The sends stopped (relay unreachable): what is left was not tried.
        let Ok(first) = told.recv() else { break };
        let mut accepted = Vec::new();
        // Given back once the outcomes are recorded.
        let mut permits = Vec::new();
        let gather_until = std::time::Instant::now() + GATHER;
        let more_outcomes = std::iter::from_fn(|| {
            let left = gather_until.saturating_duration_since(std::time::Instant::now());
            told.recv_timeout(left).ok()
        });
        for (outcome, permit) in std::iter::once(first).chain(more_outcomes.take(GATHERED - 1)) {
            permits.push(permit);
            match outcome {
                Sent::Accepted(id) => {
                    claimed.remove(&id);
                    accepted.push(id);
                }
                Sent::Refused(row, e) => {
                    claimed.remove(&row.id);
                    outbox::mark_failed(conn, row.id, &e.to_string(), None)?;
                    if e.is_permanent() {
                        on_refused(conn, &row, &e)?;
                    }
                }
                Sent::Deferred(id, why, retry_at) => {
                    claimed.remove(&id);
                    outbox::mark_failed(conn, id, &why, Some(retry_at))?;
                }
            }
        }
        if !accepted.is_empty() {
            outbox::mark_sent(conn, &accepted, clock.now_naive())?;
        }
        drop(permits);
    }
    Ok(claimed.into_keys().collect())
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
