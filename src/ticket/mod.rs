//! The domain: tickets, their statuses and the messages of their thread.
//! Nothing here knows IMAP, SMTP or diesel; `machine` decides, `service`
//! applies the decision in one database transaction.

pub mod command;
pub mod machine;
mod post;
pub mod service;

use chrono::NaiveDateTime;

pub use crate::inbound::reference::TicketRef;
pub use crate::inbound::Person;

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

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

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
    pub language: crate::config::Language,
    pub watchers: Vec<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub solved_at: Option<NaiveDateTime>,
    pub closed_at: Option<NaiveDateTime>,
    /// When the requester was last reminded of a pending solution.
    pub reminded_at: Option<NaiveDateTime>,
}

impl Ticket {
    pub fn is_open(&self) -> bool {
        self.status != Status::Closed
    }
}

/// The organisation a requester belongs to, from the domain of the address.
pub fn organisation_of(email: &str) -> Option<String> {
    email
        .rsplit_once('@')
        .map(|(_, domain)| domain.to_ascii_lowercase())
        .filter(|d| !d.is_empty())
}
