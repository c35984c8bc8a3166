//! The daemon: the fetcher (IMAP IDLE or polling), the outbox dispatcher,
//! systemd notifications, and a clean stop on SIGTERM/SIGINT.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

use crate::clock::Clock;
use crate::imap::{self, Features, ImapError, Session};
use crate::outbound::dispatch::{self, Transport};
use crate::store::{self, cursors, AnyConnection, StoreError};
use crate::ticket::service::{self, Desk, Outcome, Source};

/// Reconnection waits start here and double up to `MAX_BACKOFF`.
const MIN_BACKOFF: Duration = Duration::from_secs(1);
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

/// How long a fetch lease lasts without renewal: another daemon takes the
/// mailbox over this long after its holder died.
pub const LEASE_TTL: Duration = Duration::from_secs(15);
/// How often the holder renews it (IDLE is re-armed at this pace too).
pub const LEASE_RENEW: Duration = Duration::from_secs(5);

/// This daemon's claim on fetching one mailbox. Leases follow the real
/// clock whatever `--now` says: they are about processes being alive.
pub struct Lease {
    pub name: String,
    pub holder: String,
}

impl Lease {
    pub fn for_mailbox(desk: &Desk) -> Lease {
        let i = &desk.settings.imap;
        Lease {
            name: format!(
                "fetch imap://{}@{}:{}/{}",
                i.username, i.host, i.port, i.mailbox
            ),
            holder: crate::instance::id().to_string(),
        }
    }

    /// Takes or renews the lease; false when another live daemon holds it.
    pub fn renew(&self, conn: &mut AnyConnection) -> Result<bool, StoreError> {
        let now = Clock::System.now_naive();
        let until = now + chrono::Duration::from_std(LEASE_TTL).expect("small duration");
        db(|| store::leases::acquire(conn, &self.name, &self.holder, now, until))
    }

    pub fn release(&self, conn: &mut AnyConnection) {
        if let Err(e) = db(|| store::leases::release(conn, &self.name, &self.holder)) {
            tracing::warn!("could not release the fetch lease: {e}");
        }
    }

    /// Who holds it now, if someone else does.
    pub fn other_holder(&self, conn: &mut AnyConnection) -> Option<String> {
        db(|| store::leases::holder(conn, &self.name, Clock::System.now_naive()))
            .ok()
            .flatten()
            .filter(|h| h != &self.holder)
    }
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

fn db<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// Logs in and prepares the mailboxes mail is moved to.
pub async fn open_session(desk: &Desk) -> Result<(Session, Features), ImapError> {
    let settings = &desk.settings.imap;
    let mut session = imap::connect(settings).await?;
    let features = imap::features(&mut session).await?;
    imap::ensure_mailbox(&mut session, &settings.failed_mailbox).await?;
    if settings.after_processing == crate::config::AfterProcessing::Move {
        imap::ensure_mailbox(&mut session, &settings.processed_mailbox).await?;
    }
    Ok((session, features))
}

/// Fetches and processes every waiting mail, batch by batch: a batch is
/// stored and processed in one transaction (a mail that breaks it is done
/// again alone, see [`service::ingest_batch`]), then moved away; the
/// cursor advances only once a batch has left the mailbox.
pub async fn fetch_cycle(
    session: &mut Session,
    features: Features,
    conn: &mut AnyConnection,
    desk: &Desk,
    clock: &Clock,
    stop: &watch::Receiver<bool>,
    lease: &Lease,
) -> Result<CycleReport, CycleError> {
    if !lease.renew(conn)? {
        return Err(CycleError::LeaseLost);
    }
    let settings = &desk.settings.imap;
    let mailbox = settings.mailbox.as_str();
    let uidvalidity = imap::select(session, mailbox).await?;
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
    let batches: Vec<&[u32]> = uids.chunks(imap::BATCH).collect();
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
        let batch_mails: Vec<(Source<'_>, &[u8])> = fetched
            .iter()
            .map(|(uid, raw)| {
                let source = Source {
                    name: mailbox,
                    uidvalidity: Some(uidvalidity),
                    uid: Some(*uid),
                };
                (source, raw.as_slice())
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

/// A batch fetched ahead, or why it could not be.
type Fetched = Result<Vec<(u32, Vec<u8>)>, ImapError>;

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
    batch: &[(Source<'_>, &[u8])],
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
    } = overlap;
    tokio::task::block_in_place(|| {
        std::thread::scope(|scope| {
            let worker = std::thread::Builder::new()
                .name("process".into())
                .spawn_scoped(scope, || service::ingest_batch(conn, desk, batch, clock))
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

/// Sends READY/WATCHDOG/STOPPING to systemd when run under it.
fn notify(state: &[sd_notify::NotifyState<'_>]) {
    if std::env::var_os("NOTIFY_SOCKET").is_some() {
        let _ = sd_notify::notify(false, state);
    }
}

/// `guichet run --once`: one full cycle, then return.
pub async fn run_once(desk: Arc<Desk>, clock: Clock) -> anyhow::Result<()> {
    let url = desk.settings.database_url.clone();
    let mut conn = db(|| -> Result<AnyConnection, StoreError> {
        let mut c = store::connect(&url)?;
        store::migrate(&mut c)?;
        Ok(c)
    })?;
    let resumed = db(|| service::resume_unprocessed(&mut conn, &desk, &clock))?;
    if !resumed.is_empty() {
        tracing::info!(
            count = resumed.len(),
            "resumed mail left unprocessed by an interrupted run"
        );
    }
    let (_tx, stop) = watch::channel(false);
    let lease = Lease::for_mailbox(&desk);
    let report = if lease.renew(&mut conn)? {
        let (mut session, features) = match open_session(&desk).await {
            Ok(s) => s,
            Err(e) => {
                lease.release(&mut conn);
                return Err(e.into());
            }
        };
        let report = fetch_cycle(
            &mut session,
            features,
            &mut conn,
            &desk,
            &clock,
            &stop,
            &lease,
        )
        .await;
        let _ = session.logout().await;
        lease.release(&mut conn);
        report?
    } else {
        let who = lease.other_holder(&mut conn).unwrap_or_default();
        tracing::info!(holder = %who, "another daemon fetches this mailbox; not fetching");
        CycleReport::default()
    };
    tracing::info!(
        fetched = report.fetched,
        created = report.created,
        added = report.added,
        failed = report.failed,
        "fetch done"
    );
    let scheduled = db(|| service::run_scheduler(&mut conn, &desk, &clock))?;
    tracing::info!(
        reminded = scheduled.reminded,
        closed = scheduled.closed,
        "scheduler done"
    );
    let transport = dispatch::transport(&desk.settings.smtp)?;
    let sent = dispatch::send_due(&mut conn, &desk, &transport, &clock, || true).await?;
    transport.close().await;
    match &sent.error {
        Some(e) => tracing::warn!(
            sent = sent.sent,
            "outbox not fully sent, the rest waits for the next run: {e}"
        ),
        None => tracing::info!(sent = sent.sent, failed = sent.failed, "outbox sent"),
    }
    Ok(())
}

/// `guichet run`: until SIGTERM or SIGINT.
pub async fn run(desk: Arc<Desk>, clock: Clock) -> anyhow::Result<()> {
    let url = desk.settings.database_url.clone();
    let migrated = db(|| -> Result<usize, StoreError> {
        let mut c = store::connect(&url)?;
        store::migrate(&mut c)
    })?;
    if migrated > 0 {
        tracing::info!(migrations = migrated, "database schema upgraded");
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let wake_dispatcher = Arc::new(Notify::new());

    let fetcher = tokio::spawn(fetcher_loop(
        Arc::clone(&desk),
        clock,
        stop_rx.clone(),
        Arc::clone(&wake_dispatcher),
    ));
    let dispatcher = tokio::spawn(dispatcher_loop(
        Arc::clone(&desk),
        clock,
        stop_rx.clone(),
        Arc::clone(&wake_dispatcher),
    ));
    let scheduler = tokio::spawn(scheduler_loop(
        Arc::clone(&desk),
        clock,
        stop_rx.clone(),
        Arc::clone(&wake_dispatcher),
    ));
    let watchdog = tokio::spawn(watchdog_loop(stop_rx.clone()));

    wait_for_signal().await;
    tracing::info!("stopping: finishing the mail in hand");
    notify(&[sd_notify::NotifyState::Stopping]);
    let _ = stop_tx.send(true);
    wake_dispatcher.notify_one();
    let drain = async {
        let _ = fetcher.await;
        let _ = dispatcher.await;
        let _ = scheduler.await;
    };
    if tokio::time::timeout(Duration::from_secs(20), drain)
        .await
        .is_err()
    {
        tracing::warn!("stopped before the work in hand finished; it resumes at next start");
    }
    watchdog.abort();
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

async fn watchdog_loop(mut stop: watch::Receiver<bool>) {
    let mut usec = 0u64;
    if !sd_notify::watchdog_enabled(false, &mut usec) || usec == 0 {
        return;
    }
    let period = Duration::from_micros(usec / 2);
    loop {
        notify(&[sd_notify::NotifyState::Watchdog]);
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Sleeps for `d` unless asked to stop; returns whether to stop.
/// A reconnection wait made up to a tenth longer at random, so that
/// daemons cut off together (a server restart) do not all come back in
/// the same instant.
fn jittered(d: Duration) -> Duration {
    let mut byte = [0u8; 1];
    let _ = getrandom::getrandom(&mut byte);
    d + d.mul_f64(f64::from(byte[0]) / 2550.0)
}

async fn sleep_or_stop(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    if *stop.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => *stop.borrow(),
        _ = stop.changed() => true,
    }
}

async fn fetcher_loop(
    desk: Arc<Desk>,
    clock: Clock,
    mut stop: watch::Receiver<bool>,
    wake_dispatcher: Arc<Notify>,
) {
    let mut backoff = MIN_BACKOFF;
    let mut ready_sent = false;
    let mut conn: Option<AnyConnection> = None;
    let lease = Lease::for_mailbox(&desk);
    let mut standing_by = false;
    let mut alarm = LoginAlarm::default();
    loop {
        if *stop.borrow() {
            return;
        }
        if conn.is_none() {
            match db(|| store::connect(&desk.settings.database_url)) {
                Ok(mut c) => {
                    if let Ok(n) = db(|| service::resume_unprocessed(&mut c, &desk, &clock)) {
                        if !n.is_empty() {
                            tracing::info!(count = n.len(), "resumed mail left unprocessed");
                        }
                    }
                    conn = Some(c);
                }
                Err(e) => {
                    tracing::error!("{e}; retrying in {}s", backoff.as_secs());
                    if sleep_or_stop(jittered(backoff), &mut stop).await {
                        return;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
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
                if !ready_sent {
                    // Standing by is serving: the other daemon fetches.
                    notify(&[sd_notify::NotifyState::Ready]);
                    ready_sent = true;
                }
                if sleep_or_stop(LEASE_RENEW, &mut stop).await {
                    return;
                }
                continue;
            }
            Err(e) => {
                tracing::error!("{e}; retrying in {}s", backoff.as_secs());
                conn = None;
                if sleep_or_stop(jittered(backoff), &mut stop).await {
                    return;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        }
        let result = fetch_session(
            &desk,
            &clock,
            c,
            &mut stop,
            &wake_dispatcher,
            &mut ready_sent,
            &mut backoff,
            &lease,
            &mut alarm,
        )
        .await;
        match result {
            Ok(()) => {
                lease.release(c);
                return;
            }
            Err(CycleError::LeaseLost) => {
                tracing::warn!("another daemon took the mailbox over; standing by");
                standing_by = true;
            }
            Err(e) => {
                if let CycleError::Imap(ImapError::Login(why)) = &e {
                    if alarm.failed(c, &desk, &clock, why) {
                        wake_dispatcher.notify_one();
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
                if sleep_or_stop(jittered(backoff), &mut stop).await {
                    return;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Raises one alert when the IMAP login keeps failing: a mailbox that
/// silently stops being read is the worst failure a desk can have.
#[derive(Default)]
struct LoginAlarm {
    failing_since: Option<std::time::Instant>,
    raised: bool,
}

impl LoginAlarm {
    /// Records a failure; returns whether an alert mail was queued.
    fn failed(&mut self, conn: &mut AnyConnection, desk: &Desk, clock: &Clock, why: &str) -> bool {
        let since = *self
            .failing_since
            .get_or_insert_with(std::time::Instant::now);
        let after = desk.settings.alerts.after;
        if self.raised || since.elapsed() < after {
            return false;
        }
        self.raised = true;
        let elapsed = Duration::from_secs(since.elapsed().as_secs());
        let minutes = elapsed.as_secs().div_ceil(60);
        tracing::error!(
            "ALERT: the IMAP login has been failing for {} ({why}): the support mailbox is not being read",
            humantime::format_duration(elapsed)
        );
        let detail = format!(
            "imap://{}@{}:{}/{}: login refused: {why}",
            desk.settings.imap.username,
            desk.settings.imap.host,
            desk.settings.imap.port,
            desk.settings.imap.mailbox
        );
        match db(|| service::enqueue_alert(conn, desk, "imap_login", &detail, minutes, clock)) {
            Ok(()) => !desk.settings.alerts.to.is_empty(),
            Err(e) => {
                tracing::error!("could not queue the alert mail: {e}");
                false
            }
        }
    }

    fn succeeded(&mut self) {
        if self.raised {
            tracing::info!("the IMAP login works again");
        }
        *self = LoginAlarm::default();
    }
}

/// One IMAP session: fetch, then IDLE (or sleep) and fetch again, renewing
/// the lease, until an error (returned, to reconnect) or a stop request.
#[allow(clippy::too_many_arguments)]
async fn fetch_session(
    desk: &Desk,
    clock: &Clock,
    conn: &mut AnyConnection,
    stop: &mut watch::Receiver<bool>,
    wake_dispatcher: &Notify,
    ready_sent: &mut bool,
    backoff: &mut Duration,
    lease: &Lease,
    alarm: &mut LoginAlarm,
) -> Result<(), CycleError> {
    let (mut session, features) = open_session(desk).await?;
    alarm.succeeded();
    let settings = &desk.settings.imap;
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
            let report =
                fetch_cycle(&mut session, features, conn, desk, clock, stop, lease).await?;
            last_fetch = std::time::Instant::now();
            *backoff = MIN_BACKOFF;
            if !*ready_sent {
                notify(&[sd_notify::NotifyState::Ready]);
                *ready_sent = true;
            }
            if report.fetched > 0 {
                wake_dispatcher.notify_one();
            }
        } else if !lease.renew(conn)? {
            let _ = session.logout().await;
            return Err(CycleError::LeaseLost);
        }
        if *stop.borrow() {
            let _ = session.logout().await;
            return Ok(());
        }
        // Wait for new mail at most LEASE_RENEW at a time, so the lease
        // stays fresh; IDLE wakes up at once when mail arrives.
        if use_idle {
            let mut handle = session.idle();
            handle.init().await.map_err(ImapError::from)?;
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
            session = handle.done().await.map_err(ImapError::from)?;
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
            let left = settings.poll_interval.saturating_sub(last_fetch.elapsed());
            if sleep_or_stop(left.min(LEASE_RENEW), stop).await {
                let _ = session.logout().await;
                return Ok(());
            }
            fetch_now = last_fetch.elapsed() >= settings.poll_interval;
        }
    }
}

/// How often the scheduler looks for reminders and closures to do.
const SCHEDULER_PERIOD: Duration = Duration::from_secs(60);

async fn scheduler_loop(
    desk: Arc<Desk>,
    clock: Clock,
    mut stop: watch::Receiver<bool>,
    wake_dispatcher: Arc<Notify>,
) {
    let mut conn: Option<AnyConnection> = None;
    loop {
        if conn.is_none() {
            conn = db(|| store::connect(&desk.settings.database_url))
                .map_err(|e| tracing::error!("scheduler: {e}"))
                .ok();
        }
        if let Some(c) = conn.as_mut() {
            match db(|| service::run_scheduler(c, &desk, &clock)) {
                Ok(r) if r.reminded + r.closed > 0 => wake_dispatcher.notify_one(),
                Ok(_) => {}
                Err(e) => {
                    tracing::error!("scheduler: {e}");
                    conn = None;
                }
            }
        }
        if sleep_or_stop(SCHEDULER_PERIOD, &mut stop).await {
            return;
        }
    }
}

async fn dispatcher_loop(
    desk: Arc<Desk>,
    clock: Clock,
    mut stop: watch::Receiver<bool>,
    wake: Arc<Notify>,
) {
    let transport: Transport = match dispatch::transport(&desk.settings.smtp) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!("{e}; outgoing mail stays in the outbox");
            return;
        }
    };
    let mut conn: Option<AnyConnection> = None;
    let mut retry = MIN_BACKOFF;
    loop {
        if *stop.borrow() {
            return;
        }
        let mut next_wake = Duration::from_secs(60);
        if conn.is_none() {
            conn = db(|| store::connect(&desk.settings.database_url))
                .map_err(|e| tracing::error!("outbox: {e}; retrying in {}s", retry.as_secs()))
                .ok();
        }
        if let Some(c) = conn.as_mut() {
            match dispatch::send_due(c, &desk, &transport, &clock, || !*stop.borrow()).await {
                Ok(report) => {
                    retry = MIN_BACKOFF;
                    if report.sent + report.failed > 0 {
                        tracing::info!(sent = report.sent, failed = report.failed, "outbox");
                    }
                    let due = db(|| store::outbox::next_due(c))
                        .ok()
                        .flatten()
                        .map(|due| report.held_until.map_or(due, |held| due.max(held)));
                    if let Some(due) = due {
                        let wait = (due - clock.now_naive()).to_std().unwrap_or(Duration::ZERO);
                        next_wake = wait.clamp(Duration::from_millis(200), Duration::from_secs(60));
                    }
                }
                Err(e) => {
                    tracing::error!("outbox: {e}; retrying in {}s", retry.as_secs());
                    conn = None;
                }
            }
        }
        if conn.is_none() {
            // No database (restarted, say): try again soon, not at the
            // next mail's wake-up.
            next_wake = retry;
            retry = (retry * 2).min(Duration::from_secs(60));
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(next_wake) => {}
            _ = stop.changed() => return,
        }
    }
}
