//! The application layer: loads what a rule needs, calls the domain
//! ([`crate::ticket`]) for a plan, and applies the plan in one database
//! transaction together with the outbox rows of the mails it sends. Only
//! this layer (and the daemon's fetcher and dispatcher) touches the
//! database, IMAP or SMTP on a ticket's behalf.
//!
//! - [`ingest`]: raw mail stored, read, decided and applied, in batches;
//! - [`apply`]: a plan written (ticket, thread, addresses, letters);
//! - [`post`]: letters rendered, composed and written to the outbox;
//! - [`scheduler`]: reminders and automatic closure;
//! - [`delivery`]: the outbox sent, and what a relay's refusal does to a
//!   ticket;
//! - [`alerts`]: mail to the administrators;
//! - [`health`]: whether the mailbox is read and the relay takes mail,
//!   kept across restarts, and the alerts when they stop;
//! - [`retention`]: the daily purge of old closed tickets;
//! - [`oauth`]: the OAuth 2.0 tokens of the mailbox and the relay;
//! - [`status`]: the desk's health item by item (`guichet status`);
//! - [`metrics`]: the same, and the activity, for Prometheus;
//! - [`watchers`]: the CLI's changes to a ticket.

pub mod alerts;
mod apply;
pub mod delivery;
pub mod digest;
pub mod health;
pub mod ingest;
pub mod metrics;
pub mod oauth;
mod post;
pub mod retention;
pub mod scheduler;
pub mod status;
pub mod watchers;

use crate::config::Settings;
use crate::inbound::reference::SubjectTagger;
use crate::outbound::present::Presentation;
use crate::outbound::Renderer;
use crate::store::{mails, StoreError, StoreResult};
use crate::ticket::policy::Policy;
use crate::ticket::{MessageKind, TicketRef};

pub use ingest::{ingest_batch, mark_failed, process, resume_unprocessed, Progress, Source, PIPED};

/// Everything needed to turn mail into tickets, built once from settings.
pub struct Desk {
    pub settings: Settings,
    pub tagger: SubjectTagger,
    pub renderer: Renderer,
    pub policy: Policy,
    pub presentation: Presentation,
}

impl Desk {
    pub fn new(settings: Settings) -> anyhow::Result<Desk> {
        let policy = settings.policy();
        Ok(Desk {
            tagger: SubjectTagger::with_tags(&policy.tags()),
            renderer: renderer(&settings)?,
            policy,
            presentation: Presentation::new(&settings),
            settings,
        })
    }

    /// New Message-IDs for the mails a plan sends.
    pub(crate) fn message_ids(&self) -> impl Iterator<Item = String> + '_ {
        std::iter::repeat_with(|| crate::outbound::new_message_id(&self.settings.smtp.from))
    }
}

/// The templates, with the desk's overrides: overrides that cannot be used
/// make the configuration invalid (exit 78 at start; the running one kept
/// on reload), each with its file and line.
fn renderer(settings: &Settings) -> anyhow::Result<Renderer> {
    let dir = settings.templates_dir.as_deref();
    Renderer::with_overrides(dir).map_err(|e| match (e, dir) {
        (crate::outbound::render::RenderError::Overrides(problems), Some(dir)) => {
            anyhow::Error::new(crate::config::ConfigError {
                path: dir.to_path_buf(),
                problems: problems
                    .into_iter()
                    .map(|p| format!("templates.dir: {p}"))
                    .collect(),
            })
        }
        (e, _) => e.into(),
    })
}

/// What processing one mail did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Created(TicketRef),
    Added(TicketRef, MessageKind),
    /// An agent command that was not understood; the agent was told.
    CommandRefused(TicketRef),
    Duplicate,
    Ignored(String),
    Failed(String),
    /// Processed by an earlier run (seen again after a crash or restart).
    AlreadyDone(String),
}

impl Outcome {
    pub fn is_failed(&self) -> bool {
        matches!(self, Outcome::Failed(_))
            || matches!(self, Outcome::AlreadyDone(s) if s == mails::state::FAILED)
    }

    /// What became of the mail, in a few words for the one who gave it
    /// (`guichet ingest`'s line); `tag` is the desk's subject tag.
    pub fn describe(&self, tag: &str) -> String {
        match self {
            Outcome::Created(n) => format!("new ticket {}", n.display(tag)),
            Outcome::Added(n, kind) => format!("{kind} on ticket {}", n.display(tag)),
            Outcome::CommandRefused(n) => format!(
                "agent command not understood on {}; the agent was told",
                n.display(tag)
            ),
            Outcome::Duplicate => "duplicate, already processed".into(),
            Outcome::Ignored(why) => format!("not answered: {why}"),
            Outcome::AlreadyDone(state) => format!("already handled ({state})"),
            Outcome::Failed(why) => {
                format!("could not be processed, kept as raw mail (guichet failed list): {why}")
            }
        }
    }
}

/// Runs one piece of work, turning a panic of ours into an error that is
/// not retried: the transaction around it rolls back, and the mail is
/// marked failed instead of stopping the mail behind it.
pub(crate) fn guarded<T>(f: impl FnOnce() -> StoreResult<T>) -> StoreResult<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        Err(StoreError::Panic(crate::inbound::panic_message(
            panic.as_ref(),
        )))
    })
}

/// Queues `mail` to each of `to`, one outbox row each, outside any ticket
/// (an alert, a digest): not threaded, `auto-generated`. The caller holds
/// the transaction. Returns how many were queued.
pub(crate) fn queue_unthreaded(
    conn: &mut crate::store::AnyConnection,
    desk: &Desk,
    to: &[String],
    mail: &crate::outbound::render::Rendered,
    kind: &str,
    clock: &crate::clock::Clock,
) -> crate::store::StoreResult<usize> {
    use crate::store::{outbox, StoreError};
    let from = &desk.settings.smtp.from;
    for address in to {
        let message_id = crate::outbound::new_message_id(from);
        let composed = crate::outbound::compose(&crate::outbound::Draft {
            from,
            to: std::slice::from_ref(address),
            subject: &mail.subject,
            body: &mail.body,
            html: mail.html.as_deref(),
            message_id: &message_id,
            in_reply_to: None,
            references: &[],
            auto_submitted: "auto-generated",
            date: clock.now(),
            files: &[],
        })
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
        outbox::insert_all(
            conn,
            &[outbox::NewOutgoing {
                ticket_id: None,
                kind,
                message_id: &message_id,
                sender: from.email.as_ref(),
                recipients: address,
                subject: &mail.subject,
                raw: &composed.raw,
                files: &[],
                state: outbox::state::PENDING,
                attempts: 0,
                next_attempt_at: clock.now_naive(),
                created_at: clock.now_naive(),
                last_error: None,
            }],
        )?;
    }
    Ok(to.len())
}
