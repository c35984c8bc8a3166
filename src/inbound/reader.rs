//! The parsing thread: mail is read off the thread that writes the
//! database, ahead of it, and each mail within a time limit. A mail built
//! to make the parser loop is given up and the thread replaced, so that it
//! never holds the mailbox.

use super::{parse, InboundMessage, ParseError};

/// What a caught panic said, for the one-line reason kept with the mail.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// One mail to read, and where its result goes.
struct ParseJob {
    raw: std::sync::Arc<[u8]>,
    own_loop_id: std::sync::Arc<str>,
    reply: std::sync::mpsc::Sender<Result<InboundMessage, ParseError>>,
}

/// The parsing thread, started on first use and replaced when a mail got
/// it stuck.
static PARSER: std::sync::Mutex<Option<std::sync::mpsc::Sender<ParseJob>>> =
    std::sync::Mutex::new(None);

fn parser() -> Option<std::sync::mpsc::Sender<ParseJob>> {
    let mut slot = PARSER.lock().unwrap_or_else(|p| p.into_inner());
    if slot.is_none() {
        let (tx, rx) = std::sync::mpsc::channel::<ParseJob>();
        std::thread::Builder::new()
            .name("parse".into())
            .spawn(move || {
                for job in rx {
                    let _ = job.reply.send(parse(&job.raw, &job.own_loop_id));
                }
            })
            .ok()?;
        *slot = Some(tx);
    }
    slot.clone()
}

/// Forgets the parsing thread (stuck or gone): the next use starts another.
fn drop_parser() {
    *PARSER.lock().unwrap_or_else(|p| p.into_inner()) = None;
}

/// Parses on the parsing thread and gives up after `limit`: a mail built
/// to make a parser loop must not hold the mailbox. A stuck thread is left
/// behind and replaced; the mail is marked failed and not tried again.
pub fn parse_within(
    raw: &[u8],
    own_loop_id: &str,
    limit: std::time::Duration,
) -> Result<InboundMessage, ParseError> {
    let mut reader = Reader::start(vec![raw.into()], own_loop_id, limit);
    reader.next().unwrap_or_else(|| parse(raw, own_loop_id))
}

/// Reads a batch of mails on the parsing thread, in order, while the caller
/// works on the ones already read: [`Reader::next`] gives each result in
/// turn, waiting at most `limit` for each. A mail that gets the thread
/// stuck is given up (`ParseError::Timeout`) and the mails after it go to a
/// new thread.
pub struct Reader {
    raws: Vec<std::sync::Arc<[u8]>>,
    own_loop_id: std::sync::Arc<str>,
    limit: std::time::Duration,
    /// Index of the next result to hand out.
    next: usize,
    answers: Option<std::sync::mpsc::Receiver<Result<InboundMessage, ParseError>>>,
}

impl Reader {
    pub fn start(
        raws: Vec<std::sync::Arc<[u8]>>,
        own_loop_id: &str,
        limit: std::time::Duration,
    ) -> Reader {
        let mut reader = Reader {
            raws,
            own_loop_id: own_loop_id.into(),
            limit,
            next: 0,
            answers: None,
        };
        reader.submit_rest();
        reader
    }

    /// Hands every mail not read yet to the parsing thread; without one,
    /// they are read in the caller's thread as asked for.
    fn submit_rest(&mut self) {
        self.answers = None;
        let Some(worker) = parser() else { return };
        let (reply, answers) = std::sync::mpsc::channel();
        for raw in &self.raws[self.next..] {
            let job = ParseJob {
                raw: raw.clone(),
                own_loop_id: self.own_loop_id.clone(),
                reply: reply.clone(),
            };
            if worker.send(job).is_err() {
                drop_parser();
                return;
            }
        }
        self.answers = Some(answers);
    }
}

impl Iterator for Reader {
    type Item = Result<InboundMessage, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        let raw = self.raws.get(self.next)?.clone();
        let result = match &self.answers {
            None => parse(&raw, &self.own_loop_id),
            Some(answers) => match answers.recv_timeout(self.limit) {
                Ok(result) => result,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    drop_parser();
                    self.next += 1;
                    self.submit_rest();
                    return Some(Err(ParseError::Timeout(self.limit)));
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    drop_parser();
                    self.answers = None;
                    parse(&raw, &self.own_loop_id)
                }
            },
        };
        self.next += 1;
        Some(result)
    }
}
