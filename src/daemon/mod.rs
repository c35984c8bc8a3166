//! The daemon (`guichet run`): the fetcher, the outbox dispatcher and the
//! scheduler as tasks, supervised (one that ends or panics stops the
//! daemon with a failure, so systemd restarts it); systemd notifications,
//! the watchdog fed by the tasks' progress, and a clean stop on
//! SIGTERM/SIGINT.

pub mod fetcher;
pub mod handover;
pub mod lease;
pub mod listener;
pub mod progress;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

use crate::app::{self, Desk};
use crate::clock::Clock;
use crate::outbound::dispatch::Transport;
use crate::store::{self, blocking as db, AnyConnection, StoreError};
use fetcher::{fetch_cycle, open_session, CycleGuard, CycleReport, MIN_BACKOFF};
use lease::Lease;
pub use progress::Heartbeats;

/// Sends READY/WATCHDOG/STOPPING to systemd when run under it.
fn notify(state: &[sd_notify::NotifyState<'_>]) {
    if std::env::var_os("NOTIFY_SOCKET").is_some() {
        let _ = sd_notify::notify(false, state);
    }
}

/// Tells systemd what the daemon is doing (`systemctl status` shows it).
fn status(text: &str) {
    notify(&[sd_notify::NotifyState::Status(text)]);
}

/// `guichet run --once`: one full cycle, then return.
pub async fn run_once(desk: Arc<Desk>, clock: Clock) -> anyhow::Result<()> {
    let url = desk.settings.database_url.clone();
    let mut conn = db(|| -> Result<AnyConnection, StoreError> {
        let mut c = store::connect(&url)?;
        store::migrate(&mut c)?;
        Ok(c)
    })?;
    let resumed = db(|| app::resume_unprocessed(&mut conn, &desk, &clock, &|| ()))?;
    if !resumed.is_empty() {
        tracing::info!(
            count = resumed.len(),
            "resumed mail left unprocessed by an interrupted run"
        );
    }
    let (_tx, stop) = watch::channel(false);
    // A mailbox that cannot be read keeps neither the other mailboxes nor
    // the scheduler and the outbox from running: the first error is
    // returned once they have.
    let mut fetch_error = None;
    let mut report = CycleReport::default();
    for mailbox in &desk.settings.mailboxes {
        let lease = Lease::for_mailbox(&mailbox.imap);
        if !lease.renew(&mut conn)? {
            let who = lease.other_holder(&mut conn).unwrap_or_default();
            tracing::info!(holder = %who, mailbox = %mailbox.name, "another daemon fetches this mailbox; not fetching");
            continue;
        }
        let fetched = match open_session(&desk, &mailbox.imap).await {
            Ok((mut session, features)) => {
                let guard = CycleGuard {
                    stop: &stop,
                    lease: &lease,
                    progress: &|| (),
                };
                let report = fetch_cycle(
                    &mut session,
                    features,
                    &mut conn,
                    (&desk, mailbox),
                    &clock,
                    &guard,
                )
                .await;
                let _ = session.logout().await;
                report
            }
            Err(e) => Err(e.into()),
        };
        lease.release(&mut conn);
        match fetched {
            Ok(r) => {
                db(|| app::health::mailbox_ok(&mut conn, &desk, &mailbox.imap, &clock))?;
                report.fetched += r.fetched;
                report.created += r.created;
                report.added += r.added;
                report.failed += r.failed;
                report.skipped += r.skipped;
            }
            Err(e) => {
                if let fetcher::CycleError::Imap(why) = &e {
                    let why = why.to_string();
                    db(|| {
                        app::health::mailbox_failed(&mut conn, &desk, &mailbox.imap, &clock, &why)
                    })?;
                }
                let e = anyhow::Error::from(e).context(format!("mailbox {}", mailbox.name));
                tracing::error!("{e:#}");
                fetch_error.get_or_insert(e);
            }
        }
    }
    if fetch_error.is_none() {
        tracing::info!(
            fetched = report.fetched,
            created = report.created,
            added = report.added,
            failed = report.failed,
            "fetch done"
        );
    }
    let scheduled = db(|| app::scheduler::run_scheduler(&mut conn, &desk, &clock))?;
    tracing::info!(
        reminded = scheduled.reminded,
        closed = scheduled.closed,
        sla_alerts = scheduled.sla_alerts,
        digests = scheduled.digests,
        "scheduler done"
    );
    let transport = app::oauth::transport(&desk)?;
    let sent = app::delivery::send_due(&mut conn, &desk, &transport, &clock, || true).await?;
    transport.close().await;
    match &sent.error {
        Some(e) => tracing::warn!(
            sent = sent.sent,
            "outbox not fully sent, the rest waits for the next run: {e}"
        ),
        None => tracing::info!(sent = sent.sent, failed = sent.failed, "outbox sent"),
    }
    match fetch_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// `guichet run`: until SIGTERM or SIGINT, or until a task fails. SIGHUP
/// reads `config` again: a valid configuration replaces the running one
/// once the tasks have finished the work in hand (no mail is dropped: the
/// fetcher ends its batch, the dispatcher its sends); an invalid one is
/// reported and the running one kept.
pub async fn run(mut desk: Arc<Desk>, clock: Clock, config: PathBuf) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    // Installed before READY: until then SIGHUP would end the process.
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    let mut hup = signal(SignalKind::hangup()).expect("SIGHUP handler");
    // Once for the process: a reload keeps the address it started with.
    if let Some(addr) = desk.settings.metrics_listen {
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .with_http_listener(addr)
            .install()
            .map_err(|e| anyhow::anyhow!("cannot serve the metrics on {addr}: {e}"))?;
        tracing::info!(%addr, "Prometheus metrics served at http://{addr}/metrics");
    }
    let beats = Arc::new(Heartbeats::default());
    let (watchdog_stop, watchdog_rx) = watch::channel(false);
    let watchdog = tokio::spawn(watchdog_loop(watchdog_rx, Arc::clone(&beats)));
    let result = loop {
        let mut running = match start_tasks(&desk, clock, &beats) {
            Ok(r) => r,
            Err(e) => break Err(e),
        };
        // Until a signal, or a task that ends by itself: a panic, or a loop
        // that gave up. Either way the daemon is no longer doing its job.
        let next = loop {
            tokio::select! {
                _ = term.recv() => break Next::Stop,
                _ = int.recv() => break Next::Stop,
                _ = hup.recv() => match reload(&config) {
                    Ok(new) => break Next::Reload(Box::new(new)),
                    Err(e) => {
                        tracing::error!(
                            "reload refused, the running configuration is kept: {}",
                            crate::cli::one_line(&e)
                        );
                        status("reload refused: the configuration file is invalid (see the log); running on the previous one");
                    }
                },
                ended = running.tasks.join_next() => break Next::Failed(ended_task(ended)),
            }
        };
        match &next {
            Next::Stop => tracing::info!("stopping: finishing the mail in hand"),
            Next::Reload(_) => {
                tracing::info!("reloading the configuration: finishing the mail in hand first");
                let mut states = vec![sd_notify::NotifyState::Reloading];
                states.extend(sd_notify::NotifyState::monotonic_usec_now());
                notify(&states);
            }
            Next::Failed(why) => {
                tracing::error!("{why}: stopping the daemon so that it is restarted")
            }
        }
        if !matches!(next, Next::Reload(_)) {
            notify(&[
                sd_notify::NotifyState::Stopping,
                sd_notify::NotifyState::Status("stopping: finishing the mail in hand"),
            ]);
        }
        running.stop().await;
        match next {
            Next::Reload(new) => {
                desk = Arc::new(*new);
                tracing::info!("configuration reloaded");
            }
            Next::Stop => {
                tracing::info!("stopped");
                break Ok(());
            }
            Next::Failed(why) => break Err(anyhow::anyhow!(why)),
        }
    };
    let _ = watchdog_stop.send(true);
    watchdog.abort();
    result
}

/// What ends a run of the daemon's tasks.
enum Next {
    Stop,
    /// The configuration file was read again, valid: the desk it makes.
    Reload(Box<Desk>),
    Failed(String),
}

/// The configuration read again, with its templates, as a desk.
fn reload(config: &std::path::Path) -> anyhow::Result<Desk> {
    let settings = crate::config::Settings::load(config)?;
    Desk::new(settings)
}

/// The daemon's tasks, running on one desk.
struct Running {
    tasks: tokio::task::JoinSet<&'static str>,
    stop: watch::Sender<bool>,
    wake_dispatcher: Arc<Notify>,
}

impl Running {
    /// Tells the tasks to stop and waits for them to finish the work in
    /// hand, for at most 20 s.
    async fn stop(mut self) {
        let _ = self.stop.send(true);
        self.wake_dispatcher.notify_one();
        let drain = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(20), drain)
            .await
            .is_err()
        {
            tracing::warn!("stopped before the work in hand finished; it resumes at next start");
            self.tasks.abort_all();
        }
    }
}

/// Migrates the database, sets up the relay and starts the fetcher, the
/// dispatcher and the scheduler on `desk`; READY=1 once done.
fn start_tasks(desk: &Arc<Desk>, clock: Clock, beats: &Arc<Heartbeats>) -> anyhow::Result<Running> {
    let url = desk.settings.database_url.clone();
    let migrated = db(|| -> Result<usize, StoreError> {
        let mut c = store::connect(&url)?;
        store::migrate(&mut c)
    })?;
    if migrated > 0 {
        tracing::info!(migrations = migrated, "database schema upgraded");
    }
    // A relay client that cannot be set up (an unreadable CA file) is a
    // configuration error, said before anything starts.
    let transport = app::oauth::transport(desk)
        .map_err(|e| anyhow::anyhow!("cannot set up the SMTP relay: {e}"))?;
    // Serving from here: the configuration and the database are up. A
    // mail server that is down is what the daemon is there to wait out,
    // and STATUS says so.
    notify(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status("connecting to the mailbox"),
    ]);
    let (stop_tx, stop_rx) = watch::channel(false);
    let wake_dispatcher = Arc::new(Notify::new());
    let mut tasks = tokio::task::JoinSet::new();
    // A fetcher per mailbox, each with its own lease and backoff: one
    // that fails keeps none of the others from fetching.
    beats.clear();
    for (i, mailbox) in desk.settings.mailboxes.iter().enumerate() {
        let task: &'static str = if i == 0 {
            "fetcher"
        } else {
            Box::leak(format!("fetcher of mailbox {}", mailbox.name).into_boxed_str())
        };
        tasks.spawn(named(
            task,
            fetcher::fetcher_loop(
                (Arc::clone(desk), mailbox.clone(), task),
                clock,
                stop_rx.clone(),
                Arc::clone(&wake_dispatcher),
                Arc::clone(beats),
            ),
        ));
    }
    tasks.spawn(named(
        "dispatcher",
        dispatcher_loop(
            Arc::clone(desk),
            clock,
            stop_rx.clone(),
            Arc::clone(&wake_dispatcher),
            Arc::clone(beats),
            transport,
        ),
    ));
    // Piped mail handed over by `guichet ingest`. Without the socket, each
    // `guichet ingest` stores its mail itself: slower, as safe.
    if let Some(path) = &desk.settings.ingest_socket {
        match listener::Listening::bind(path) {
            Ok(listening) => {
                tasks.spawn(named(
                    listener::TASK,
                    listener::listener_loop(
                        Arc::clone(desk),
                        clock,
                        stop_rx.clone(),
                        Arc::clone(&wake_dispatcher),
                        Arc::clone(beats),
                        listening,
                    ),
                ));
            }
            Err(e @ listener::BindError::AlreadyServed(_)) => {
                tracing::info!("{e}: it takes the piped mail")
            }
            Err(e) => tracing::error!("{e}: each guichet ingest stores its mail itself"),
        }
    }
    tasks.spawn(named(
        "scheduler",
        scheduler_loop(
            Arc::clone(desk),
            clock,
            stop_rx.clone(),
            Arc::clone(&wake_dispatcher),
            Arc::clone(beats),
        ),
    ));
    Ok(Running {
        tasks,
        stop: stop_tx,
        wake_dispatcher,
    })
}

/// A task of the daemon, which says its name when it ends.
async fn named(name: &'static str, task: impl std::future::Future<Output = ()>) -> &'static str {
    task.await;
    name
}

/// Why a task ended before the daemon was told to stop.
fn ended_task(ended: Option<Result<&'static str, tokio::task::JoinError>>) -> String {
    match ended {
        Some(Ok(name)) => format!("the {name} stopped by itself"),
        Some(Err(e)) if e.is_panic() => {
            let what = crate::inbound::panic_message(e.into_panic().as_ref());
            format!("a task of the daemon panicked: {what}")
        }
        Some(Err(e)) => format!("a task of the daemon ended: {e}"),
        None => "no task left".to_string(),
    }
}

/// Tells systemd all is well (WATCHDOG=1) every half watchdog period, as
/// long as every task keeps the promise of its last heartbeat: a task
/// stuck past it (a server that never answers, a lock never released)
/// stops the pings, and systemd restarts the daemon.
async fn watchdog_loop(mut stop: watch::Receiver<bool>, beats: Arc<Heartbeats>) {
    let mut usec = 0u64;
    if !sd_notify::watchdog_enabled(false, &mut usec) || usec == 0 {
        return;
    }
    // Often enough that one ping held back by a task just past its
    // promise never leaves systemd a whole period without one.
    let period = Duration::from_micros(usec / 6);
    let mut silent = false;
    loop {
        match beats.late().filter(|(_, late)| *late > LATE_GRACE) {
            None => {
                if silent {
                    tracing::info!("every task makes progress again: the watchdog is fed");
                    silent = false;
                }
                notify(&[sd_notify::NotifyState::Watchdog]);
            }
            Some((task, late)) if !silent => {
                tracing::error!(
                    "the {task} has made no progress for {}s past its due time: the watchdog is no longer fed, systemd will restart the daemon",
                    late.as_secs()
                );
                silent = true;
            }
            Some(_) => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = stop.changed() => return,
        }
    }
}

/// How far past its promise a task may be before the watchdog stops
/// being fed: the promises are estimates, a restart is not.
const LATE_GRACE: Duration = Duration::from_secs(30);

/// Sleeps for `d` unless asked to stop; returns whether to stop.
async fn sleep_or_stop(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    if *stop.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => *stop.borrow(),
        _ = stop.changed() => true,
    }
}

/// A fault injected into a running daemon's task by the tests, through
/// `GUICHET_FAULT=TASK-panic` or `TASK-hang`: supervision and the watchdog
/// are checked on the real binary. Nothing happens without the variable.
async fn injected_fault_in(task: &str) {
    let Ok(fault) = std::env::var("GUICHET_FAULT") else {
        return;
    };
    if fault == format!("{task}-panic") {
        panic!("injected fault: the {task} panics (GUICHET_FAULT={fault})");
    }
    if fault == format!("{task}-hang") {
        tracing::warn!("injected fault: the {task} hangs (GUICHET_FAULT={fault})");
        std::future::pending::<()>().await;
    }
}

/// How long one step of a task's work (a batch, a pass of the outbox, a
/// scheduler run) may take before the watchdog counts it as stuck.
pub(crate) const WORK_BUDGET: Duration = Duration::from_secs(600);

/// How often the scheduler looks for reminders and closures to do.
const SCHEDULER_PERIOD: Duration = Duration::from_secs(60);

async fn scheduler_loop(
    desk: Arc<Desk>,
    clock: Clock,
    mut stop: watch::Receiver<bool>,
    wake_dispatcher: Arc<Notify>,
    beats: Arc<Heartbeats>,
) {
    let mut conn: Option<AnyConnection> = None;
    loop {
        beats.beat("scheduler", SCHEDULER_PERIOD + WORK_BUDGET);
        if conn.is_none() {
            conn = db(|| store::connect(&desk.settings.database_url))
                .map_err(|e| tracing::error!("scheduler: {e}"))
                .ok();
        }
        if let Some(c) = conn.as_mut() {
            if desk.settings.metrics_listen.is_some() {
                if let Err(e) = db(|| app::metrics::record(c, &desk, &clock)) {
                    tracing::warn!("metrics: {e}");
                }
            }
            match db(|| app::scheduler::run_scheduler(c, &desk, &clock)) {
                Ok(r) if r.reminded + r.closed + r.sla_alerts + r.digests > 0 || r.alerted => {
                    wake_dispatcher.notify_one()
                }
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
    beats: Arc<Heartbeats>,
    transport: Transport,
) {
    let mut conn: Option<AnyConnection> = None;
    let mut retry = MIN_BACKOFF;
    loop {
        if *stop.borrow() {
            return;
        }
        let mut next_wake = Duration::from_secs(60);
        // A pass, then a wait of at most a minute.
        beats.beat("dispatcher", next_wake + WORK_BUDGET);
        if conn.is_none() {
            conn = db(|| store::connect(&desk.settings.database_url))
                .map_err(|e| tracing::error!("outbox: {e}; retrying in {}s", retry.as_secs()))
                .ok();
        }
        if let Some(c) = conn.as_mut() {
            // Each claim of due rows is progress.
            let keep_going = || {
                beats.beat("dispatcher", WORK_BUDGET);
                !*stop.borrow()
            };
            match app::delivery::send_due(c, &desk, &transport, &clock, keep_going).await {
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
