//! The daemon's side of the hand-over (`handover`): it listens on
//! `[ingest] socket`, receives each piped mail, stores and processes the
//! mails waiting together in one transaction (`app::ingest_batch`, as the
//! fetcher does), answers each client once the transaction is on disk, and
//! wakes the dispatcher so the acknowledgement leaves at once.

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot, watch, Notify, OwnedSemaphorePermit, Semaphore};

use super::handover::{parse_hello, Answer, MAX_LINE};
use super::{Heartbeats, WORK_BUDGET};
use crate::app::{self, Desk, Outcome, PIPED};
use crate::clock::Clock;
use crate::store::{self, blocking as db, AnyConnection};

/// The task's name, in its heartbeats and when it ends.
pub(super) const TASK: &str = "listener";

/// Mails received but not yet stored are held within this many bytes (or
/// one larger mail alone): a burst of deliveries waits instead of growing
/// the daemon.
const BUFFERED_BYTES: usize = 16 << 20;
/// At most this many clients at once; more wait in the kernel's backlog.
const MAX_CLIENTS: usize = 64;
/// A client has this long to send its mail (waiting for room included).
const RECEIVE_WAIT: Duration = Duration::from_secs(60);
/// On stop, the mails in hand get this long to be stored and answered.
const STOP_GRACE: Duration = Duration::from_secs(15);
/// How long after a mail is stored its answers are sent, at most.
const DISPATCH_AFTER: Duration = Duration::from_millis(200);
/// What a client that closes without sending a byte is told.
const NOTHING_SENT: &str = "nothing was sent";
/// The store loop beats at least this often while no mail comes.
const IDLE_BEAT: Duration = Duration::from_secs(60);

/// Why the daemon does not listen.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("another daemon already listens on {0}")]
    AlreadyServed(String),
    #[error("{0} exists and is not a socket; remove it or choose another [ingest] socket")]
    NotASocket(String),
    #[error("cannot listen on {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// The socket the daemon listens on, and which file it is: only that file
/// is removed when the daemon stops listening.
pub(super) struct Listening {
    listener: UnixListener,
    path: PathBuf,
    inode: (u64, u64),
}

impl Listening {
    /// Listens on `path`, readable and writable by the daemon's user only
    /// (the MTA's pipe runs as that user). A socket left by a daemon that
    /// died is replaced; one a running daemon answers on is left to it.
    pub(super) fn bind(path: &Path) -> Result<Listening, BindError> {
        let shown = || path.display().to_string();
        let io = |source| BindError::Io {
            path: shown(),
            source,
        };
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_socket() => {
                if std::os::unix::net::UnixStream::connect(path).is_ok() {
                    return Err(BindError::AlreadyServed(shown()));
                }
                std::fs::remove_file(path).map_err(io)?;
            }
            Ok(_) => return Err(BindError::NotASocket(shown())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        let listener = UnixListener::bind(path).map_err(io)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        let meta = std::fs::symlink_metadata(path).map_err(io)?;
        Ok(Listening {
            listener,
            path: path.to_path_buf(),
            inode: (meta.dev(), meta.ino()),
        })
    }

    /// Stops listening and removes the socket, unless another daemon
    /// replaced it since.
    fn close(self) {
        drop(self.listener);
        let ours =
            std::fs::symlink_metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == self.inode);
        if ours {
            if let Err(e) = std::fs::remove_file(&self.path) {
                tracing::warn!("could not remove {}: {e}", self.path.display());
            }
        }
    }
}

/// A mail received, with the room it holds and where its answer goes.
struct Piped {
    raw: Arc<[u8]>,
    _room: OwnedSemaphorePermit,
    answer: oneshot::Sender<Answer>,
}

/// Until told to stop: accepts clients, each received on a task of its
/// own, while one store loop stores what they bring. On stop, the mails
/// in hand are stored and answered (for at most `STOP_GRACE`); the
/// clients cut short store their mail themselves.
pub(super) async fn listener_loop(
    desk: Arc<Desk>,
    clock: Clock,
    mut stop: watch::Receiver<bool>,
    wake_dispatcher: Arc<Notify>,
    beats: Arc<Heartbeats>,
    listening: Listening,
) {
    tracing::info!(socket = %listening.path.display(), "taking piped mail from guichet ingest");
    let (queue, received) = mpsc::channel::<Piped>(MAX_CLIENTS);
    let mut store = tokio::spawn(store_loop(
        Arc::clone(&desk),
        clock,
        received,
        wake_dispatcher,
        beats,
    ));
    let room = Arc::new(Semaphore::new(BUFFERED_BYTES));
    let max = desk.settings.tickets.max_message_size;
    let mut clients = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            ended = &mut store => {
                // It ends only when its queue is closed, or by a panic.
                tracing::error!("the store loop of piped mail ended: {ended:?}");
                listening.close();
                return;
            }
            accepted = listening.listener.accept(), if clients.len() < MAX_CLIENTS => {
                match accepted {
                    Ok((stream, _)) => {
                        clients.spawn(serve(stream, queue.clone(), Arc::clone(&room), max));
                    }
                    Err(e) => {
                        // Out of file descriptors, say: the clients that
                        // cannot connect store their mail themselves.
                        tracing::warn!("piped mail: cannot accept a client: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
            Some(_) = clients.join_next(), if !clients.is_empty() => {}
        }
    }
    listening.close();
    drop(queue);
    let finish = async { while clients.join_next().await.is_some() {} };
    if tokio::time::timeout(STOP_GRACE, finish).await.is_err() {
        tracing::warn!("stopping: piped mail still being received is left to its senders");
        clients.abort_all();
    }
    // The queue is closed once every client is done: the store loop ends
    // after the last batch.
    let _ = store.await;
}

/// One client: its mail received, queued, and the answer written back.
async fn serve(stream: UnixStream, queue: mpsc::Sender<Piped>, room: Arc<Semaphore>, max: u64) {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let answer = match tokio::time::timeout(RECEIVE_WAIT, receive(&mut read, room, max)).await {
        Err(_) => Answer::NotTaken(format!(
            "the mail did not arrive within {}s",
            RECEIVE_WAIT.as_secs()
        )),
        Ok(Err(why)) => Answer::NotTaken(why),
        Ok(Ok((raw, room))) => {
            let (answer, answered) = oneshot::channel();
            let piped = Piped {
                raw,
                _room: room,
                answer,
            };
            match queue.send(piped).await {
                Ok(()) => answered
                    .await
                    .unwrap_or_else(|_| Answer::NotTaken("the daemon is stopping".into())),
                Err(_) => Answer::NotTaken("the daemon is stopping".into()),
            }
        }
    };
    match &answer {
        // `guichet check` seeing whether a daemon answers.
        Answer::NotTaken(why) if why == NOTHING_SENT => {}
        Answer::NotTaken(why) => {
            tracing::warn!("piped mail not taken, its sender stores it: {why}")
        }
        Answer::Taken(_) => {}
    }
    let _ = write.write_all(answer.line().as_bytes()).await;
    let _ = write.shutdown().await;
}

/// Reads the first line and the mail it announces, once there is room to
/// hold it.
async fn receive(
    read: &mut BufReader<tokio::net::unix::OwnedReadHalf>,
    room: Arc<Semaphore>,
    max: u64,
) -> Result<(Arc<[u8]>, OwnedSemaphorePermit), String> {
    let mut line = Vec::new();
    (&mut *read)
        .take(MAX_LINE as u64)
        .read_until(b'\n', &mut line)
        .await
        .map_err(|e| format!("reading the first line: {e}"))?;
    if line.is_empty() {
        return Err(NOTHING_SENT.into());
    }
    let Some(line) = line.strip_suffix(b"\n") else {
        return Err("no first line".into());
    };
    let line =
        std::str::from_utf8(line).map_err(|_| "a first line that is not text".to_string())?;
    let len = parse_hello(line)?;
    if len > max {
        return Err(format!(
            "{len} bytes is more than [tickets] max_message_size ({max})"
        ));
    }
    let len = usize::try_from(len).map_err(|_| "too large".to_string())?;
    // Never more than the whole room, so a mail larger than it still
    // passes, alone.
    let wanted = u32::try_from(len.min(BUFFERED_BYTES)).unwrap_or(u32::MAX);
    let room = room
        .acquire_many_owned(wanted)
        .await
        .map_err(|_| "the daemon is stopping".to_string())?;
    let mut raw = vec![0u8; len];
    read.read_exact(&mut raw)
        .await
        .map_err(|e| format!("the mail was cut short: {e}"))?;
    Ok((Arc::from(raw), room))
}

/// Stores the mails queued, those waiting together in one transaction
/// (bounded like the fetcher's batches), until the queue is closed.
async fn store_loop(
    desk: Arc<Desk>,
    clock: Clock,
    mut received: mpsc::Receiver<Piped>,
    wake_dispatcher: Arc<Notify>,
    beats: Arc<Heartbeats>,
) {
    // The dispatcher is woken a moment after a mail is stored, once for
    // the mails stored meanwhile: it sends their answers in one pass, and
    // its writes do not come between each of the store's transactions
    // (SQLite then reads the pages it had again).
    let stored = Arc::new(Notify::new());
    let waker = tokio::spawn({
        let stored = Arc::clone(&stored);
        async move {
            loop {
                stored.notified().await;
                tokio::time::sleep(DISPATCH_AFTER).await;
                wake_dispatcher.notify_one();
            }
        }
    });
    let _stop_waking = AbortOnDrop(waker);
    let mut conn: Option<AnyConnection> = None;
    loop {
        beats.beat(TASK, IDLE_BEAT + WORK_BUDGET);
        let first = tokio::select! {
            piped = received.recv() => match piped {
                Some(p) => p,
                None => return,
            },
            _ = tokio::time::sleep(IDLE_BEAT) => continue,
        };
        let mut bytes = first.raw.len() as u64;
        let mut batch = vec![first];
        while batch.len() < crate::imap::BATCH && bytes < crate::imap::BATCH_BYTES {
            match received.try_recv() {
                Ok(p) => {
                    bytes += p.raw.len() as u64;
                    batch.push(p);
                }
                Err(_) => break,
            }
        }
        beats.beat(TASK, WORK_BUDGET);
        let answers = store_batch(&mut conn, &desk, &clock, &batch, &beats);
        if answers.iter().any(|a| matches!(a, Answer::Taken(_))) {
            stored.notify_one();
        }
        for (piped, answer) in batch.into_iter().zip(answers) {
            let _ = piped.answer.send(answer);
        }
    }
}

/// One transaction for the batch: an answer per mail.
fn store_batch(
    conn: &mut Option<AnyConnection>,
    desk: &Desk,
    clock: &Clock,
    batch: &[Piped],
    beats: &Heartbeats,
) -> Vec<Answer> {
    let all = |answer: Answer| vec![answer; batch.len()];
    let c = match conn {
        Some(c) => c,
        None => match db(|| store::connect(&desk.settings.database_url)) {
            Ok(c) => conn.insert(c),
            Err(e) => {
                tracing::error!("piped mail: {e}");
                return all(Answer::NotTaken(e.to_string()));
            }
        },
    };
    let mails: Vec<_> = batch.iter().map(|p| (PIPED, Arc::clone(&p.raw))).collect();
    let progress = || beats.beat(TASK, WORK_BUDGET);
    match db(|| app::ingest_batch(c, desk, &mails, clock, &progress)) {
        Ok(outcomes) => {
            let tag = desk.tagger.tag();
            outcomes
                .iter()
                .map(|outcome| {
                    let text = outcome.describe(tag);
                    log_outcome(outcome, &text);
                    Answer::Taken(text)
                })
                .collect()
        }
        Err(e) => {
            // A connection in doubt is opened anew for the next batch.
            tracing::error!("piped mail not stored, its senders store it: {e}");
            *conn = None;
            all(Answer::NotTaken(e.to_string()))
        }
    }
}

fn log_outcome(outcome: &Outcome, text: &str) {
    if outcome.is_failed() {
        tracing::error!(source = PIPED.name, "piped mail {text}");
    } else {
        tracing::info!(source = PIPED.name, "piped mail: {text}");
    }
}

/// A task aborted when this is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
