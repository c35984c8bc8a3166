//! The domain: tickets, their statuses and the messages of their thread,
//! and every rule that decides what a mail or the clock does to them. It
//! is pure: nothing here knows IMAP, SMTP, the database or the
//! configuration file (`scripts/check-layers` checks that it imports only
//! `std`, `chrono`, `chrono_tz` and itself). [`decide::decide`] turns (a snapshot of
//! what the rules need, the mail, the policy, now) into a [`plan::Plan`],
//! which the application layer (`crate::app`) applies in one transaction.

use std::fmt;

use chrono::NaiveDateTime;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(s: &str) -> Option<$name> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

    };
}

// After the macro: the modules below use it.
pub mod answer;
pub mod calendar;
pub mod classify;
pub mod command;
pub mod decide;
pub mod digest;
pub mod kb;
pub mod letters;
pub mod limits;
pub mod machine;
pub mod notice;
pub mod plan;
pub mod policy;
pub mod report;
pub mod schedule;
pub mod sla;
pub mod text;

string_enum!(
    /// Where a ticket stands (see the contract).
    Status {
        New => "new",
        InProgress => "in_progress",
        Waiting => "waiting",
        Solved => "solved",
        Closed => "closed",
    }
);

string_enum!(
    CloseReason {
        Validated => "validated",
        Auto => "auto",
        Agent => "agent",
    }
);

string_enum!(
    TicketType {
        Request => "request",
        Incident => "incident",
        Information => "information",
    }
);

string_enum!(
    Impact {
        Blocking => "blocking",
        Important => "important",
        Normal => "normal",
    }
);

string_enum!(
    /// What one message of a thread is.
    MessageKind {
        Initial => "initial",
        Followup => "followup",
        AgentReply => "agent_reply",
        Note => "note",
        Solution => "solution",
        Validation => "validation",
        Refusal => "refusal",
        AutoReply => "auto_reply",
        Bounce => "bounce",
        System => "system",
    }
);

/// A ticket as the domain sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Ticket {
    pub number: TicketRef,
    pub subject: String,
    pub status: Status,
    pub close_reason: Option<CloseReason>,
    pub ticket_type: TicketType,
    pub impact: Option<Impact>,
    pub category: Option<String>,
    pub organisation: Option<String>,
    pub requester: Person,
    pub language: Language,
    pub watchers: Vec<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub solved_at: Option<NaiveDateTime>,
    pub closed_at: Option<NaiveDateTime>,
    /// When the requester was last reminded of a pending solution.
    pub reminded_at: Option<NaiveDateTime>,
    /// The service levels' clock (`[sla]`).
    pub sla: sla::Deadlines,
    /// The `[[queue]]` it is in; `None`: the desk's own.
    pub queue: Option<String>,
    /// The agent it is assigned to.
    pub assignee: Option<Person>,
    /// The requester's phone number, from their signature.
    pub requester_phone: Option<String>,
    /// How the request came: the requester's own mail, or an agent's
    /// (by phone, or forwarded from their mailbox).
    pub channel: Channel,
    /// The agent who opened it for the requester.
    pub opened_by: Option<String>,
    /// How many times the ticket was reopened after its closure.
    pub reopened: u32,
}

string_enum!(
    /// How a request reached the desk.
    Channel {
        Mail => "mail",
        Phone => "phone",
    }
);

/// A requester's mail an agent forwarded to the desk (inline or
/// attached), as read from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Forwarded {
    pub from: Person,
    pub subject: Option<String>,
    /// What the requester wrote, quotes and signature stripped.
    pub body: String,
    /// What the agent wrote above it: an internal note.
    pub note: String,
    /// The phone number in the requester's signature.
    pub phone: Option<String>,
}

/// A person as named in a mail header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    /// Lower case.
    pub email: String,
    pub name: Option<String>,
}

/// A ticket number as written in subjects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TicketRef(pub i64);

impl TicketRef {
    /// `[TAG #000123]`
    pub fn display(self, tag: &str) -> String {
        format!("[{tag} #{:06}]", self.0)
    }
}

impl fmt::Display for TicketRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:06}", self.0)
    }
}

string_enum!(
    /// The language of the mail a ticket's requester receives.
    Language {
        Fr => "fr",
        En => "en",
    }
);

impl Language {
    /// The subject of a ticket whose mail had none.
    pub fn no_subject(self) -> &'static str {
        match self {
            Language::Fr => "(sans objet)",
            Language::En => "(no subject)",
        }
    }
}

/// What kind of automatic mail a mail is, when it is one: never answered,
/// never a decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Automatic {
    /// Out-of-office, autoresponder, list or bulk mail.
    AutoReply,
    /// A delivery status notification (RFC 3464) or a mailer-daemon notice.
    Bounce,
}

/// What a delivery report says of a mail of ours that failed.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Bounce {
    /// The Message-ID of the mail that failed (without angle brackets).
    pub original_message_id: Option<String>,
    /// The address that failed, lower case.
    pub recipient: Option<String>,
    /// The RFC 3463 status code, e.g. "5.1.1".
    pub status: Option<String>,
    /// A permanent failure (status class 5): the address should not be
    /// mailed again.
    pub permanent: bool,
}

/// An attachment as the rules see it: its name, type and size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    pub size: u64,
    /// Its contents' SHA-256, in hex: the same file seen again.
    pub sha256: String,
}
