//! A plan: everything a decision will do, for the application layer to
//! apply in one transaction. The ticket as it will be, the records of its
//! thread, each mail to send with its recipients, Message-ID and threading
//! headers, and the addresses whose mail stops or resumes.

use std::sync::Arc;

use super::command::CommandError;
use super::limits::Refused;
use super::notice::{Situation, Template};
use super::{Attachment, MessageKind, Person, Ticket, TicketRef};

string_enum!(
    /// Who a recipient is to a ticket. `Other`: someone who wrote and is
    /// answered (a person the requester put in copy, a stranger).
    Role {
        Requester => "requester",
        Watcher => "watcher",
        Agent => "agent",
        Other => "other",
    }
);

/// What a mail, the clock or a relay's refusal does.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub outcome: PlanOutcome,
    pub ticket: TicketChange,
    /// The thread's new records, in order.
    pub entries: Vec<Entry>,
    /// Which of the mail's attachments are kept (indices into
    /// [`super::decide::Mail::attachments`]); the others were refused.
    pub kept: Vec<usize>,
    /// Done before the letters are written, in order.
    pub addresses: Vec<AddressChange>,
    /// People the requester's mail was also sent to (its To and Cc),
    /// recorded on the ticket as participants: they may add follow-ups.
    pub participants: Vec<String>,
    /// The mails to send, in order.
    pub letters: Vec<Letter>,
    /// The ticket this one joins (`#merge N`): its thread moves there.
    pub joins: Option<Join>,
}

/// A ticket joining another: its thread (messages, mail received and
/// sent) moves to `into`, which records `entry` and gains the people of
/// the ticket that joined it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Join {
    pub into: TicketRef,
    /// The system line written on `into`.
    pub entry: String,
    /// Who may follow up on `into` from now on: the joined ticket's
    /// requester and participants.
    pub participants: Vec<String>,
    /// The joined ticket's watchers, who now watch `into`.
    pub watchers: Vec<String>,
}

/// Another ticket a letter names, with its subject (for the agents).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Related {
    pub number: TicketRef,
    pub subject: String,
}

impl Plan {
    /// A plan that only sets the mail aside.
    pub fn ignore(why: impl Into<String>) -> Plan {
        Plan {
            outcome: PlanOutcome::Ignored(why.into()),
            ticket: TicketChange::None,
            entries: Vec::new(),
            kept: Vec::new(),
            addresses: Vec::new(),
            participants: Vec::new(),
            letters: Vec::new(),
            joins: None,
        }
    }

    /// The ticket as it is after the plan, if there is one.
    pub fn ticket(&self) -> Option<&Ticket> {
        match &self.ticket {
            TicketChange::None => None,
            TicketChange::Open(t) => Some(t),
            TicketChange::Update { after, .. } => Some(after),
        }
    }

    /// Nothing to write and nothing to send.
    pub fn is_noop(&self) -> bool {
        let unchanged = match &self.ticket {
            TicketChange::None => true,
            TicketChange::Open(_) => false,
            TicketChange::Update { before, after } => before == after,
        };
        unchanged
            && self.entries.is_empty()
            && self.letters.is_empty()
            && self.addresses.is_empty()
            && self.participants.is_empty()
    }
}

/// What becomes of the mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanOutcome {
    /// A new ticket.
    Opened,
    /// Recorded on an existing ticket as this kind.
    Added(MessageKind),
    /// An agent command that was not understood; the agent is told.
    CommandRefused,
    /// Set aside, not answered, for this reason.
    Ignored(String),
    /// What the clock or a relay's refusal did (no mail).
    Scheduled,
    /// An agent's new mail asking for their digest (`#digest`): the
    /// application sends it; no ticket.
    DigestAsked,
}

/// What happens to a ticket.
// One per plan, consumed at once: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum TicketChange {
    /// No ticket: the mail is set aside.
    None,
    /// A ticket opened by the mail. Its number is given when it is
    /// written: `TicketRef(0)` until then.
    Open(Ticket),
    /// An existing ticket, as it was and as it will be (maybe the same).
    Update { before: Ticket, after: Ticket },
}

/// Who a record of the thread is from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Author {
    /// The mail's sender: the record keeps the mail and its Message-ID.
    Sender,
    /// The desk itself (a system line).
    Desk,
}

/// One record of a ticket's thread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub kind: MessageKind,
    pub body: String,
    pub author: Author,
    /// Who the record is from when the mail's sender wrote it for them
    /// (an agent forwarding a requester's mail, or taking a request by
    /// phone): the record still keeps the mail.
    pub for_whom: Option<super::Person>,
    /// Whether the mail's kept attachments belong with this record.
    pub with_attachments: bool,
}

/// Mail to an address stops (it bounced for good) or resumes (it wrote).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddressChange {
    Undeliverable { address: String, reason: String },
    Deliverable(String),
}

/// What the mail that caused a letter says, as the letter shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Said {
    pub from: Person,
    pub body: String,
    pub attachments: Vec<Attachment>,
    pub refused: Vec<Refused>,
    /// The mail could not be trusted (not authenticated, or its sender in
    /// doubt): what it said is not repeated to anyone outside the desk,
    /// and the letter may say so.
    pub withheld: bool,
}

/// One notice, rendered once and sent to each of its recipients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Letter {
    pub template: Template,
    pub situation: Situation,
    pub error: Option<CommandError>,
    pub said: Arc<Said>,
    /// The solution awaiting the requester's answer, when the ticket has one.
    pub solution: Option<String>,
    /// The closed ticket this one follows.
    pub follows: Option<TicketRef>,
    /// The ticket whose reference the mail carried although its sender is
    /// not one of its people: the mail opened this one apart.
    pub related: Option<Related>,
    /// The knowledge-base articles suggested to the requester of a new
    /// ticket (its acknowledgement, and the agents' notice).
    pub articles: Vec<Arc<super::kb::Article>>,
    /// The agent's name the letter is signed with.
    pub signature: Option<String>,
    /// Which of `said.attachments` travel with it (indices), within the
    /// desk's size for them; the others are only listed.
    pub attached: Vec<usize>,
    pub to: Vec<Addressed>,
}

/// One recipient of a letter, with its mail's Message-ID and threading
/// headers (RFC 5322 section 3.6.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Addressed {
    pub to: String,
    /// Who `to` is to the ticket: each is greeted and told as such.
    pub role: Role,
    pub message_id: String,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
}
