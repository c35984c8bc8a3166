//! The fetcher: one IMAP session at a time, IDLE or polling, each batch
//! fetched, processed (`app::ingest_batch`) and moved away, the cursor
//! advanced once it has left the mailbox; reconnection with backoff, and
//! one alert to the administrators when the login keeps failing.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

use super::lease::{Lease, LEASE_RENEW};
use super::{sleep_or_stop, Heartbeats, WORK_BUDGET};
use crate::app::{self, Desk, Outcome, Source};
use crate::clock::jittered;
use crate::clock::Clock;
use crate::config::{ImapSettings, MailboxSettings};
use crate::imap::{self, Features, ImapError, Session};
use crate::store::{self, blocking as db, cursors, AnyConnection, StoreError};

/// Reconnection waits start here and double up to `MAX_BACKOFF`.
pub(super) const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// IDLE is renewed before servers drop it (RFC 2177: at most 29 minutes).
const IDLE_RENEW: Duration = Duration::from_secs(25 * 60);

#[derive(Debug, thiserror::Error)]
pub enum CycleError {
    #[error(transparent)]
    Imap(#[from] ImapError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("another daemon took over the mailbox")]
    LeaseLost,
}

/// What one fetch cycle did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CycleReport {
    pub fetched: usize,
    pub created: usize,
    pub added: usize,
    pub failed: usize,
    pub skipped: usize,
}

/// Logs in and prepares the mailboxes mail is moved to.
pub(super) async fn open_session(
    desk: &Desk,
    settings: &ImapSettings,
) -> Result<(Session, Features), ImapError> {
    let login = match settings.auth {
        crate::config::Auth::Password => imap::Login::password(settings)?,
        crate::config::Auth::OAuth2 => imap::Login::Bearer(
            app::oauth::access_token(desk, app::oauth::IMAP)
                .await
                .map_err(|e| ImapError::OAuth(e.to_string()))?,
        ),
    };
    let mut session = imap::connect(settings, &login).await?;
    let features = imap::features(&mut session).await?;
    imap::ensure_mailbox(&mut session, &settings.failed_mailbox).await?;
    if settings.after_processing == crate::config::AfterProcessing::Move {
        imap::ensure_mailbox(&mut session, &settings.processed_mailbox).await?;
    }
    Ok((session, features))
}

/// Fetches and processes every waiting mail, batch by batch: a batch is
/// stored and processed in one transaction (a mail that breaks it is done
/// again alone, see [`app::ingest_batch`]), then moved away; the
/// cursor advances only once a batch has left the mailbox.
pub(super) async fn fetch_cycle(
    session: &mut Session,
    features: Features,
    conn: &mut AnyConnection,
    (desk, mailbox_settings): (&Desk, &MailboxSettings),
    clock: &Clock,
    guard: &CycleGuard<'_>,
) -> Result<CycleReport, CycleError> {
    let CycleGuard {
        stop,
        lease,
        progress,
    } = *guard;
    if !lease.renew(conn)? {
        return Err(CycleError::LeaseLost);
    }
    let settings = &mailbox_settings.imap;
    // The cursor and the mails' source are named by the mailbox's key;
    // the folder selected is its IMAP name.
    let mailbox = mailbox_settings.key.as_str();
    let uidvalidity = imap::select(session, &settings.mailbox).await?;
    let cursor = db(|| cursors::get(conn, mailbox))?;
    let after = match cursor {
        Some(c) if c.uidvalidity == i64::from(uidvalidity) => c.last_uid as u32,
        Some(c) => {
            tracing::warn!(
                mailbox,
                old = c.uidvalidity,
                new = uidvalidity,
                "UIDVALIDITY changed: rescanning the mailbox, duplicates are recognised by Message-ID and content"
            );
            0
        }
        None => 0,
    };
    let keyword = (settings.after_processing == crate::config::AfterProcessing::Flag)
        .then_some(imap::PROCESSED_KEYWORD);
    let uids = imap::uids_after(session, after, keyword).await?;
    let mut report = CycleReport::default();
    // Batches bounded by bytes as well as by count: a backlog of large
    // mails holds no more in memory than one of small ones.
    let sized = imap::sizes(session, &uids).await?;
    let batches = imap::batches(&sized, imap::BATCH, imap::BATCH_BYTES);
    let batches: Vec<&[u32]> = batches.iter().map(Vec::as_slice).collect();
    let mut next = match batches.first() {
        Some(first) => Some(imap::fetch(session, first).await?),
        None => None,
    };
    // The batch processed last time round, not moved away yet: its MOVE
    // goes out while the next batch is processed.
    let mut processed: Option<Processed> = None;
    for i in 0..batches.len() {
        let Some(fetched) = next.take() else { break };
        if !lease.renew(conn)? {
            return Err(CycleError::LeaseLost);
        }
        report.fetched += fetched.len();
        let batch_mails: Vec<(Source<'_>, Arc<[u8]>)> = fetched
            .iter()
            .map(|(uid, raw)| {
                let source = Source {
                    name: mailbox,
                    uidvalidity: Some(uidvalidity),
                    uid: Some(*uid),
                };
                (source, Arc::clone(raw))
            })
            .collect();
        // While this batch is processed, the one before is moved away and
        // the next one fetched.
        let following = batches.get(i + 1).filter(|_| !*stop.borrow());
        let overlap = Overlap {
            session,
            features,
            settings,
            dispose: processed.take(),
            fetch: following.copied(),
            progress,
        };
        let (outcomes, disposed, prefetched) =
            process_overlapped(conn, desk, clock, &batch_mails, overlap);
        if let Some(moved) = disposed {
            let last = moved?;
            advance_cursor(conn, mailbox, uidvalidity, last, clock)?;
        }
        let outcomes = outcomes?;
        let mut done = Processed::default();
        for ((uid, _), outcome) in fetched.iter().zip(&outcomes) {
            log_outcome(*uid, outcome);
            match outcome {
                Outcome::Created(_) => report.created += 1,
                Outcome::Added(..) => report.added += 1,
                o if o.is_failed() => report.failed += 1,
                _ => report.skipped += 1,
            }
            if outcome.is_failed() {
                done.failed.push(*uid);
            } else {
                done.done.push(*uid);
            }
        }
        processed = Some(done);
        if *stop.borrow() {
            break;
        }
        next = prefetched.transpose()?;
    }
    if let Some(last) = processed {
        let moved = dispose(session, features, settings, &last).await?;
        advance_cursor(conn, mailbox, uidvalidity, moved, clock)?;
    }
    if report.fetched == 0 && cursor.map(|c| c.uidvalidity) != Some(i64::from(uidvalidity)) {
        let now = clock.now_naive();
        let cursor = cursors::Cursor {
            uidvalidity: i64::from(uidvalidity),
            last_uid: i64::from(after),
        };
        db(|| cursors::set(conn, mailbox, cursor, now))?;
    }
    Ok(report)
}

/// What a fetch cycle answers to: a stop request, the fetch lease, and
/// the heartbeat it gives before each mail.
#[derive(Clone, Copy)]
pub(super) struct CycleGuard<'a> {
    pub stop: &'a watch::Receiver<bool>,
    pub lease: &'a Lease,
    pub progress: app::Progress<'a>,
}

/// A batch fetched ahead, or why it could not be.
type Fetched = Result<Vec<(u32, Arc<[u8]>)>, ImapError>;

/// A batch moved away (its highest UID), or why it could not be.
type Moved = Result<Option<u32>, ImapError>;

/// A processed batch's UIDs: to move away, or to the failed mailbox.
#[derive(Default)]
struct Processed {
    done: Vec<u32>,
    failed: Vec<u32>,
}

/// Moves a processed batch away; returns its highest UID.
async fn dispose(
    session: &mut Session,
    features: Features,
    settings: &crate::config::ImapSettings,
    batch: &Processed,
) -> Result<Option<u32>, ImapError> {
    imap::dispose(session, features, settings, &batch.done, &batch.failed).await?;
    Ok(batch.done.iter().chain(batch.failed.iter()).max().copied())
}

/// The cursor moves past a batch only once it has left the mailbox.
fn advance_cursor(
    conn: &mut AnyConnection,
    mailbox: &str,
    uidvalidity: u32,
    last: Option<u32>,
    clock: &Clock,
) -> Result<(), StoreError> {
    let Some(last) = last else { return Ok(()) };
    let cursor = cursors::Cursor {
        uidvalidity: i64::from(uidvalidity),
        last_uid: i64::from(last),
    };
    db(|| cursors::set(conn, mailbox, cursor, clock.now_naive()))
}

/// What the IMAP session does while a batch is processed.
struct Overlap<'a> {
    session: &'a mut Session,
    features: Features,
    settings: &'a crate::config::ImapSettings,
    /// The batch processed before, to move away.
    dispose: Option<Processed>,
    /// The next batch's UIDs, to fetch.
    fetch: Option<&'a [u32]>,
    progress: app::Progress<'a>,
}

/// Processes a fetched batch on a thread of its own while this one moves
/// the previous batch away and fetches the next over the IMAP session: the
/// server's work and ours overlap instead of taking turns. Returns the
/// outcomes, the previous batch's highest UID once moved, and the next
/// batch.
fn process_overlapped(
    conn: &mut AnyConnection,
    desk: &Desk,
    clock: &Clock,
    batch: &[(Source<'_>, Arc<[u8]>)],
    overlap: Overlap<'_>,
) -> (
    Result<Vec<Outcome>, StoreError>,
    Option<Moved>,
    Option<Fetched>,
) {
    let Overlap {
        session,
        features,
        settings,
        dispose: previous,
        fetch,
        progress,
    } = overlap;
    tokio::task::block_in_place(|| {
        std::thread::scope(|scope| {
            let worker = std::thread::Builder::new()
                .name("process".into())
                .spawn_scoped(scope, || {
                    app::ingest_batch(conn, desk, batch, clock, progress)
                })
                .expect("a thread to process the batch");
            let handle = tokio::runtime::Handle::current();
            let disposed = previous
                .as_ref()
                .map(|p| handle.block_on(dispose(session, features, settings, p)));
            // A session that failed to move mail is not asked for more.
            let fetched = match (&disposed, fetch) {
                (Some(Err(_)), _) | (_, None) => None,
                (_, Some(uids)) => Some(handle.block_on(imap::fetch(session, uids))),
            };
            let outcomes = worker
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (outcomes, disposed, fetched)
        })
    })
}

fn log_outcome(uid: u32, outcome: &Outcome) {
    match outcome {
        Outcome::Created(n) => tracing::info!(uid, ticket = %n, "new ticket"),
        Outcome::Added(n, kind) => {
            tracing::info!(uid, ticket = %n, kind = %kind, "added to ticket")
        }
        Outcome::CommandRefused(n) => {
            tracing::info!(uid, ticket = %n, "agent command not understood; the agent was told")
        }
        Outcome::Duplicate => tracing::info!(uid, "duplicate of a mail already processed"),
        Outcome::Ignored(why) => tracing::info!(uid, "not answered: {why}"),
        Outcome::Failed(why) => {
            tracing::error!(
                uid,
                "unreadable mail kept and moved to the failed mailbox: {why}"
            )
        }
        Outcome::AlreadyDone(state) => tracing::info!(uid, state = %state, "already handled"),
    }
}

/// What the fetcher keeps from one session to the next.
struct FetchLoop {
    lease: Lease,
    /// Since when the mailbox or the database cannot be reached (for
    /// systemd's STATUS), and whether standing by was said.
    failing_since: std::sync::Mutex<Option<chrono::DateTime<chrono::Utc>>>,
    said_standing_by: std::sync::atomic::AtomicBool,
    backoff: Duration,
    /// When the mailbox's health was last recorded as good.
    ok_recorded: std::sync::Mutex<Option<std::time::Instant>>,
    beats: Arc<Heartbeats>,
    /// The mailbox this loop fetches, and its heartbeat's name.
    mailbox: MailboxSettings,
    task: &'static str,
}

impl FetchLoop {
    /// Says to systemd that the fetcher works (`what` it last did).
    fn working(&self, what: &str) {
        *self.failing_since.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.said_standing_by.store(false, Ordering::Relaxed);
        super::status(what);
    }

    /// Says to systemd that `what` cannot be reached, since when and why.
    fn failing(&self, clock: &Clock, what: &str, why: &dyn std::fmt::Display) {
        let since = *self
            .failing_since
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert_with(|| clock.now());
        super::status(&format!(
            "{what} unreachable since {}: {why}; retrying in {}s",
            since.format("%Y-%m-%d %H:%M:%S UTC"),
            self.backoff.as_secs()
        ));
    }

    /// Records that the mailbox is read (at most once a minute while it
    /// is), which ends an alerted incident.
    fn mailbox_ok(&self, conn: &mut AnyConnection, desk: &Desk, clock: &Clock, wake: &Notify) {
        let mut recorded = self.ok_recorded.lock().unwrap_or_else(|p| p.into_inner());
        if recorded.is_some_and(|t| t.elapsed() < HEALTH_EVERY) {
            return;
        }
        match db(|| app::health::mailbox_ok(conn, desk, &self.mailbox.imap, clock)) {
            Ok(queued) => {
                *recorded = Some(std::time::Instant::now());
                if queued {
                    wake.notify_one();
                }
            }
            Err(e) => tracing::warn!("could not record the mailbox's health: {e}"),
        }
    }

    /// The fetcher will beat again within `within` (a wait, then a step).
    fn beat(&self, within: Duration) {
        self.beats.beat(self.task, within + WAIT_MARGIN);
    }
}

/// How often a working mailbox is recorded as such (`guichet status`
/// reads it; it counts as silent only after `[alerts] after`).
const HEALTH_EVERY: Duration = Duration::from_secs(60);

/// Added to a wait's length for the watchdog: the round trips around it.
const WAIT_MARGIN: Duration = Duration::from_secs(10);

pub(super) async fn fetcher_loop(
    (desk, mailbox, task): (Arc<Desk>, MailboxSettings, &'static str),
    clock: Clock,
    mut stop: watch::Receiver<bool>,
    wake_dispatcher: Arc<Notify>,
    beats: Arc<Heartbeats>,
) {
    let mut state = FetchLoop {
        lease: Lease::for_mailbox(&mailbox.imap),
        mailbox,
        task,
        failing_since: std::sync::Mutex::new(None),
        said_standing_by: std::sync::atomic::AtomicBool::new(false),
        backoff: MIN_BACKOFF,
        ok_recorded: std::sync::Mutex::new(None),
        beats,
    };
    let mut conn: Option<AnyConnection> = None;
    let mut standing_by = false;
    loop {
        if *stop.borrow() {
            return;
        }
        // Connecting and logging in are bounded by their own timeouts.
        state.beat(WORK_BUDGET);
        let backoff = state.backoff;
        let lease = &state.lease;
        if conn.is_none() {
            match db(|| store::connect(&desk.settings.database_url)) {
                Ok(mut c) => {
                    let beat = || state.beat(WORK_BUDGET);
                    if let Ok(n) = db(|| app::resume_unprocessed(&mut c, &desk, &clock, &beat)) {
                        if !n.is_empty() {
                            tracing::info!(count = n.len(), "resumed mail left unprocessed");
                        }
                    }
                    conn = Some(c);
                }
                Err(e) => {
                    tracing::error!("{e}; retrying in {}s", backoff.as_secs());
                    state.failing(&clock, "the database", &e);
                    if state.wait_backoff(&mut stop).await {
                        return;
                    }
                    continue;
                }
            }
        }
        let c = conn.as_mut().expect("connected above");
        // Only one daemon fetches a mailbox; the others stand by and take
        // over when its lease expires.
        match lease.renew(c) {
            Ok(true) => {
                if standing_by {
                    tracing::info!("taking over the mailbox");
                    standing_by = false;
                }
            }
            Ok(false) => {
                if !standing_by {
                    let who = lease.other_holder(c).unwrap_or_default();
                    tracing::info!(holder = %who, "another daemon fetches this mailbox; standing by");
                    standing_by = true;
                }
                if !state.said_standing_by.swap(true, Ordering::Relaxed) {
                    let who = lease.other_holder(c).unwrap_or_default();
                    super::status(&format!(
                        "standing by: another daemon ({who}) fetches the mailbox"
                    ));
                }
                state.beat(LEASE_RENEW);
                if sleep_or_stop(LEASE_RENEW, &mut stop).await {
                    return;
                }
                continue;
            }
            Err(e) => {
                tracing::error!("{e}; retrying in {}s", backoff.as_secs());
                state.failing(&clock, "the database", &e);
                conn = None;
                if state.wait_backoff(&mut stop).await {
                    return;
                }
                continue;
            }
        }
        let result = fetch_session(&desk, &clock, c, &mut stop, &wake_dispatcher, &mut state).await;
        let backoff = state.backoff;
        match result {
            Ok(()) => {
                state.lease.release(c);
                return;
            }
            Err(CycleError::LeaseLost) => {
                tracing::warn!("another daemon took the mailbox over; standing by");
                standing_by = true;
            }
            Err(e) => {
                // Whatever the cause (a refused login, a server down, an
                // expired certificate), the mailbox is not read: recorded,
                // and the administrators alerted past [alerts] after.
                if let CycleError::Imap(why) = &e {
                    *state.ok_recorded.lock().unwrap_or_else(|p| p.into_inner()) = None;
                    let imap = &state.mailbox.imap;
                    match db(|| {
                        app::health::mailbox_failed(c, &desk, imap, &clock, &why.to_string())
                    }) {
                        Ok(true) => wake_dispatcher.notify_one(),
                        Ok(false) => {}
                        Err(e) => tracing::error!("could not record the mailbox's failure: {e}"),
                    }
                }
                if let CycleError::Store(_) = e {
                    conn = None;
                }
                let level_error = matches!(&e, CycleError::Imap(i) if !i.is_recoverable());
                if level_error {
                    tracing::error!("{e}; retrying in {}s", backoff.as_secs());
                } else {
                    tracing::warn!("{e}; reconnecting in {}s", backoff.as_secs());
                }
                let what = match &e {
                    CycleError::Store(_) => "the database".to_string(),
                    // "the mailbox (host:port)" for [imap]; a [[mailbox]]
                    // is named.
                    _ => {
                        let m = &state.mailbox;
                        let name = if m.key == m.imap.mailbox {
                            String::new()
                        } else {
                            format!(" {}", m.name)
                        };
                        format!("the mailbox{name} ({}:{})", m.imap.host, m.imap.port)
                    }
                };
                state.failing(&clock, &what, &e);
                if state.wait_backoff(&mut stop).await {
                    return;
                }
            }
        }
    }
}

impl FetchLoop {
    /// Waits the reconnection backoff, which then doubles; returns whether
    /// to stop.
    async fn wait_backoff(&mut self, stop: &mut watch::Receiver<bool>) -> bool {
        let wait = jittered(self.backoff);
        self.beat(wait);
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        sleep_or_stop(wait, stop).await
    }
}

/// One IMAP session: fetch, then IDLE (or sleep) and fetch again, renewing
/// the lease, until an error (returned, to reconnect) or a stop request.
async fn fetch_session(
    desk: &Desk,
    clock: &Clock,
    conn: &mut AnyConnection,
    stop: &mut watch::Receiver<bool>,
    wake_dispatcher: &Notify,
    state: &mut FetchLoop,
) -> Result<(), CycleError> {
    let mailbox = state.mailbox.clone();
    let (mut session, features) = open_session(desk, &mailbox.imap).await?;
    state.mailbox_ok(conn, desk, clock, wake_dispatcher);
    let lease = &state.lease;
    let settings = &mailbox.imap;
    let use_idle = settings.idle && features.idle;
    tracing::info!(
        host = %settings.host,
        mailbox = %settings.mailbox,
        idle = use_idle,
        r#move = features.r#move,
        "connected to the mailbox"
    );
    let mut last_fetch = std::time::Instant::now();
    let mut fetch_now = true;
    loop {
        if fetch_now {
            state.beat(WORK_BUDGET);
            let beats = &state.beats;
            let guard = CycleGuard {
                stop,
                lease,
                progress: &|| beats.beat(state.task, WORK_BUDGET),
            };
            let report = fetch_cycle(
                &mut session,
                features,
                conn,
                (desk, &mailbox),
                clock,
                &guard,
            )
            .await?;
            app::metrics::fetched(report.fetched, report.created, report.added, report.failed);
            last_fetch = std::time::Instant::now();
            state.backoff = MIN_BACKOFF;
            state.working(&format!(
                "fetched at {}: waiting for mail",
                clock.now().format("%Y-%m-%d %H:%M:%S UTC")
            ));
            if report.fetched > 0 {
                wake_dispatcher.notify_one();
            }
            state.mailbox_ok(conn, desk, clock, wake_dispatcher);
        } else {
            // Renewing waits for the write lock another daemon's batch may
            // hold.
            state.beat(WORK_BUDGET);
            if !lease.renew(conn)? {
                let _ = session.logout().await;
                return Err(CycleError::LeaseLost);
            }
            // The session answered its last IDLE or is between polls.
            state.mailbox_ok(conn, desk, clock, wake_dispatcher);
        }
        if *stop.borrow() {
            let _ = session.logout().await;
            return Ok(());
        }
        // Wait for new mail at most LEASE_RENEW at a time, so the lease
        // stays fresh; IDLE wakes up at once when mail arrives. Entering
        // and leaving IDLE take a round trip each, bounded.
        if use_idle {
            state.beat(imap::IO_TIMEOUT);
            let mut handle = session.idle();
            imap::with_timeout("IDLE", handle.init()).await?;
            state.beat(LEASE_RENEW);
            super::injected_fault_in("fetcher").await;
            let (stopped, new_data) = {
                let (idle_wait, _interrupt) = handle.wait_with_timeout(LEASE_RENEW);
                tokio::select! {
                    r = idle_wait => {
                        let r = r.map_err(ImapError::from)?;
                        (false, matches!(r, async_imap::extensions::idle::IdleResponse::NewData(_)))
                    }
                    _ = stop.changed() => (true, false),
                }
            };
            state.beat(imap::IO_TIMEOUT);
            session = imap::with_timeout("DONE", handle.done()).await?;
            if stopped {
                let _ = session.logout().await;
                return Ok(());
            }
            // News that came between two IDLE commands lands here.
            let mut news = false;
            while let Ok(r) = session.unsolicited_responses.try_recv() {
                news |= matches!(
                    r,
                    async_imap::types::UnsolicitedResponse::Exists(_)
                        | async_imap::types::UnsolicitedResponse::Recent(_)
                );
            }
            let new_data = new_data || news;
            // Without news, a fetch now and then anyway (IDLE_RENEW): some
            // servers miss notifications.
            fetch_now = new_data || last_fetch.elapsed() >= IDLE_RENEW.min(settings.poll_interval);
        } else {
            state.beat(LEASE_RENEW);
            super::injected_fault_in("fetcher").await;
            let left = settings.poll_interval.saturating_sub(last_fetch.elapsed());
            if sleep_or_stop(left.min(LEASE_RENEW), stop).await {
                let _ = session.logout().await;
                return Ok(());
            }
            fetch_now = last_fetch.elapsed() >= settings.poll_interval;
        }
    }
}
