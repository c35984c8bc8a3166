//! The ticket state machine as a pure function: (ticket, event, actor, now)
//! to (new ticket, what to record, which mails to send).

use chrono::NaiveDateTime;

use super::{MessageKind, Person, Status, Ticket, TicketRef, TicketType};
use crate::config::Language;
use crate::inbound::Automatic;

/// Who wrote a mail, relative to a ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    Requester,
    Watcher,
    Agent,
    /// Anybody else: never enters the ticket.
    Stranger,
}

/// Something that happens to an existing ticket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A mail written by a person on the ticket.
    Reply,
    /// An automatic mail (out-of-office, bounce) about the ticket.
    Automatic(Automatic),
}

/// Who a notice goes to; the service turns these into addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    Requester,
    Watchers,
    Agents,
}

/// Which mail to send; each is a template in `templates/{fr,en}/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Template {
    /// To the requester: your request is recorded as [TAG #n].
    Acknowledgement,
    /// To the agents: a new ticket.
    AgentNewTicket,
    /// To the agents: the requester or a watcher added something.
    AgentFollowUp,
    /// To the requester and watchers: an agent answered.
    AgentReply,
}

impl Template {
    pub fn name(self) -> &'static str {
        match self {
            Template::Acknowledgement => "acknowledgement",
            Template::AgentNewTicket => "agent_new_ticket",
            Template::AgentFollowUp => "agent_followup",
            Template::AgentReply => "agent_reply",
        }
    }

    /// RFC 3834 section 5: replies to a person's mail are "auto-replied",
    /// everything else we send is "auto-generated".
    pub fn auto_submitted(self) -> &'static str {
        match self {
            Template::Acknowledgement => "auto-replied",
            _ => "auto-generated",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub template: Template,
    pub to: Vec<Audience>,
}

/// The outcome of an event: the ticket after it, how the mail is recorded,
/// and the mail to send.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub ticket: Ticket,
    pub kind: MessageKind,
    pub notices: Vec<Notice>,
}

/// A new ticket from a requester's first mail.
pub fn open(
    number: TicketRef,
    requester: Person,
    subject: String,
    language: Language,
    now: NaiveDateTime,
) -> Decision {
    let organisation = super::organisation_of(&requester.email);
    Decision {
        ticket: Ticket {
            number,
            subject,
            status: Status::New,
            close_reason: None,
            ticket_type: TicketType::Request,
            impact: None,
            category: None,
            organisation,
            requester,
            language,
            watchers: Vec::new(),
            created_at: now,
            updated_at: now,
            solved_at: None,
            closed_at: None,
        },
        kind: MessageKind::Initial,
        notices: vec![
            Notice {
                template: Template::Acknowledgement,
                to: vec![Audience::Requester],
            },
            Notice {
                template: Template::AgentNewTicket,
                to: vec![Audience::Agents],
            },
        ],
    }
}

/// Applies an event to an open ticket. Strangers never reach this function:
/// their mail opens a ticket of their own.
pub fn apply(ticket: &Ticket, event: &Event, actor: Actor, now: NaiveDateTime) -> Decision {
    let mut next = ticket.clone();
    let mut notices = Vec::new();
    let kind = match (event, actor) {
        (Event::Automatic(Automatic::Bounce), _) => MessageKind::Bounce,
        (Event::Automatic(Automatic::AutoReply), _) => MessageKind::AutoReply,
        (Event::Reply, Actor::Agent) => {
            if matches!(next.status, Status::New | Status::Waiting) {
                next.status = Status::InProgress;
            }
            notices.push(Notice {
                template: Template::AgentReply,
                to: vec![Audience::Requester, Audience::Watchers],
            });
            MessageKind::AgentReply
        }
        (Event::Reply, Actor::Requester | Actor::Watcher | Actor::Stranger) => {
            if next.status == Status::Waiting {
                next.status = Status::InProgress;
            }
            notices.push(Notice {
                template: Template::AgentFollowUp,
                to: vec![Audience::Agents],
            });
            MessageKind::Followup
        }
    };
    if kind != MessageKind::AutoReply && kind != MessageKind::Bounce {
        next.updated_at = now;
    }
    Decision {
        ticket: next,
        kind,
        notices,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn opened() -> Ticket {
        open(
            TicketRef(7),
            Person {
                email: "jeanne@mairie-exemple.fr".into(),
                name: Some("Jeanne".into()),
            },
            "Imprimante".into(),
            Language::Fr,
            at("2026-11-23 09:00"),
        )
        .ticket
    }

    #[test]
    fn opening_acknowledges_and_tells_agents() {
        let d = open(
            TicketRef(1),
            Person {
                email: "a@univ-exemple.fr".into(),
                name: None,
            },
            "VPN".into(),
            Language::En,
            at("2026-11-23 09:00"),
        );
        assert_eq!(d.ticket.status, Status::New);
        assert_eq!(d.kind, MessageKind::Initial);
        assert_eq!(d.ticket.organisation.as_deref(), Some("univ-exemple.fr"));
        let templates: Vec<_> = d.notices.iter().map(|n| n.template).collect();
        assert_eq!(
            templates,
            vec![Template::Acknowledgement, Template::AgentNewTicket]
        );
    }

    #[test]
    fn requester_followup_notifies_agents_only() {
        let t = opened();
        let d = apply(&t, &Event::Reply, Actor::Requester, at("2026-11-23 10:00"));
        assert_eq!(d.kind, MessageKind::Followup);
        assert_eq!(d.ticket.status, Status::New);
        assert_eq!(d.notices.len(), 1);
        assert_eq!(d.notices[0].to, vec![Audience::Agents]);
        assert_eq!(d.ticket.updated_at, at("2026-11-23 10:00"));
    }

    #[test]
    fn agent_reply_moves_to_in_progress() {
        let t = opened();
        let d = apply(&t, &Event::Reply, Actor::Agent, at("2026-11-23 10:00"));
        assert_eq!(d.kind, MessageKind::AgentReply);
        assert_eq!(d.ticket.status, Status::InProgress);
        assert_eq!(
            d.notices[0].to,
            vec![Audience::Requester, Audience::Watchers]
        );
    }

    #[test]
    fn automatic_mail_changes_nothing_and_sends_nothing() {
        let t = opened();
        for a in [Automatic::AutoReply, Automatic::Bounce] {
            for actor in [Actor::Requester, Actor::Agent, Actor::Watcher] {
                let d = apply(&t, &Event::Automatic(a), actor, at("2026-11-24 10:00"));
                assert_eq!(d.ticket, t);
                assert!(d.notices.is_empty());
            }
        }
    }
}
