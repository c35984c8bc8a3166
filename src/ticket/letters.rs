//! Who receives what: a notice's audiences turned into addresses, each
//! mail's threading headers, and the agent's signature.

use chrono::NaiveDateTime;

use super::notice::{Audience, Notice};
use super::plan::{Addressed, Role};
use super::policy::Policy;
use super::Ticket;

/// The agents, as the desk knows them (`guichet agents add`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Agents {
    /// Lower-case address and name, if one was given.
    pub list: Vec<(String, Option<String>)>,
}

impl Agents {
    pub fn is_agent(&self, email: &str) -> bool {
        self.list.iter().any(|(a, _)| a == email)
    }

    /// The agent's name, when `email` is an agent's (`Some(None)`: an agent
    /// without a name).
    pub fn name_of(&self, email: &str) -> Option<Option<&str>> {
        self.list
            .iter()
            .find(|(a, _)| a == email)
            .map(|(_, n)| n.as_deref())
    }
}

/// One mail of a ticket's thread: when, who (the sender of a mail we
/// received, the recipients of one we sent, comma-separated), and its
/// Message-ID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub at: NaiveDateTime,
    pub who: String,
    pub message_id: String,
}

/// A ticket's mails so far, for the threading headers of the next ones.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Thread {
    pub received: Vec<Seen>,
    pub sent: Vec<Seen>,
}

/// At most this many Message-IDs in `References`: the first and the
/// latest ones (RFC 5322 section 3.6.4 lets a client trim the middle).
const MAX_REFERENCES: usize = 12;

impl Thread {
    /// The `References` of a mail to `to`: the Message-IDs of the ticket's
    /// mails that `to` has seen, oldest first (the request, the mails we
    /// sent them, what they wrote), so that their client threads it. An
    /// agent sees every mail received on the ticket; a requester or a
    /// watcher sees what the requester and they themselves wrote, never an
    /// agent's own mail, whose Message-ID says where it was written.
    pub fn seen_by(&self, to: &str, to_agent: bool, requester: &str) -> Vec<String> {
        let mut seen: Vec<(NaiveDateTime, u8, &str)> = self
            .received
            .iter()
            .filter(|r| to_agent || r.who == to || r.who == requester)
            .map(|r| (r.at, 0, r.message_id.as_str()))
            .chain(
                self.sent
                    .iter()
                    .filter(|s| s.who.split(',').any(|r| r.trim() == to))
                    .map(|s| (s.at, 1, s.message_id.as_str())),
            )
            .collect();
        // Received and sent at the same moment: the mail came first.
        seen.sort_by_key(|(at, order, _)| (*at, *order));
        let mut ids: Vec<String> = seen.into_iter().map(|(_, _, id)| id.to_string()).collect();
        if ids.len() > MAX_REFERENCES {
            ids.drain(1..ids.len() - (MAX_REFERENCES - 1));
        }
        ids
    }
}

/// The addresses a notice goes to, each once, in the order of its
/// audiences. The author of a mail never gets a copy of it as an agent or
/// a watcher, nor does anyone who received it already: `received` are the
/// addresses the author sent it to (an agent who answered the requester
/// directly, the desk in copy).
pub fn recipients(
    ticket: &Ticket,
    notice: &Notice,
    sender: Option<&str>,
    received: &[String],
    policy: &Policy,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for audience in &notice.to {
        let (addresses, skip_sender): (&[String], bool) = match audience {
            Audience::Requester => (std::slice::from_ref(&ticket.requester.email), false),
            Audience::Watchers => (&ticket.watchers, true),
            // The assignee's own mail (an agent reopening the ticket) is
            // told to the others.
            Audience::Agents => match &ticket.assignee {
                Some(a) if notice.template.goes_to_assignee() && sender != Some(&a.email) => {
                    (std::slice::from_ref(&a.email), true)
                }
                _ => (policy.notify_of(ticket.queue.as_deref()), true),
            },
            Audience::Sender => (&[], false),
            Audience::Assignee => match &ticket.assignee {
                Some(a) => (std::slice::from_ref(&a.email), true),
                None => (&[], true),
            },
        };
        if *audience == Audience::Sender {
            if let Some(s) = sender {
                if !out.iter().any(|o| o == s) {
                    out.push(s.to_string());
                }
            }
            continue;
        }
        for a in addresses {
            if skip_sender && Some(a.as_str()) == sender || received.contains(a) {
                continue;
            }
            if !out.contains(a) {
                out.push(a.clone());
            }
        }
    }
    out
}

/// One letter's recipients with their Message-IDs and threading headers:
/// `References` from what each has seen of the thread, `In-Reply-To` the
/// mail that caused it when they saw it, else the latest they saw.
pub fn address(
    to: Vec<String>,
    thread: &Thread,
    ticket: &Ticket,
    replying_to: Option<&str>,
    agents: &Agents,
    policy: &Policy,
    ids: &mut dyn Iterator<Item = String>,
) -> Vec<Addressed> {
    to.into_iter()
        .map(|to| {
            let to_agent = agents.is_agent(&to) || policy.is_agent_notify(&to);
            let role = if to == ticket.requester.email {
                Role::Requester
            } else if ticket.watchers.contains(&to) {
                Role::Watcher
            } else if to_agent {
                Role::Agent
            } else {
                Role::Other
            };
            let references = thread.seen_by(&to, to_agent, &ticket.requester.email);
            let in_reply_to = replying_to
                .filter(|id| references.iter().any(|r| r == id))
                .map(str::to_string)
                .or_else(|| references.last().cloned());
            Addressed {
                message_id: ids.next().expect("an endless supply of Message-IDs"),
                to,
                role,
                in_reply_to,
                references,
            }
        })
        .collect()
}

/// The name what an agent wrote is signed with, when the desk signs and
/// `from` is an agent: the agent's name as the desk knows it, else as
/// their mail gives it, else their address's local part.
pub fn signature(
    from: &str,
    name_in_mail: Option<&str>,
    agents: &Agents,
    policy: &Policy,
) -> Option<String> {
    if !policy.sign_with_agent_name {
        return None;
    }
    let known = agents.name_of(from)?;
    Some(
        known
            .or(name_in_mail)
            .map(str::to_string)
            .unwrap_or_else(|| from.split('@').next().unwrap_or("").to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ticket::notice::Template;
    use crate::ticket::policy::tests::policy;
    use crate::ticket::{Language, Person, Status, TicketRef, TicketType};

    fn at(h: u32, m: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 11, 30)
            .and_then(|d| d.and_hms_opt(h, m, 0))
            .expect("valid time")
    }

    fn ticket() -> Ticket {
        Ticket {
            number: TicketRef(12),
            subject: "Imprimante".into(),
            status: Status::InProgress,
            close_reason: None,
            ticket_type: TicketType::Request,
            impact: None,
            category: None,
            organisation: None,
            requester: Person {
                email: "alice@mairie.example".into(),
                name: Some("Alice".into()),
            },
            language: Language::Fr,
            watchers: vec!["chef@mairie.example".into(), "dsi@mairie.example".into()],
            created_at: at(9, 0),
            updated_at: at(9, 0),
            solved_at: None,
            closed_at: None,
            reminded_at: None,
            sla: Default::default(),
            queue: None,
            assignee: None,
            requester_phone: None,
            channel: crate::ticket::Channel::Mail,
            opened_by: None,
            reopened: 0,
        }
    }

    fn seen(at: NaiveDateTime, who: &str, id: &str) -> Seen {
        Seen {
            at,
            who: who.into(),
            message_id: id.into(),
        }
    }

    #[test]
    fn the_author_is_never_copied_as_watcher_or_agent() {
        let t = ticket();
        let notice = Notice::new(
            Template::AgentReply,
            &[Audience::Requester, Audience::Watchers],
        );
        // A watcher wrote: the requester and the other watcher get it.
        assert_eq!(
            recipients(&t, &notice, Some("chef@mairie.example"), &[], &policy()),
            ["alice@mairie.example", "dsi@mairie.example"]
        );
        let to_agents = Notice::new(Template::AgentFollowUp, &[Audience::Agents]);
        assert!(recipients(&t, &to_agents, Some("sau@example.test"), &[], &policy()).is_empty());
        assert_eq!(
            recipients(&t, &to_agents, Some("alice@mairie.example"), &[], &policy()),
            ["sau@example.test"]
        );
    }

    #[test]
    fn each_address_once_and_the_sender_only_when_named() {
        let mut t = ticket();
        t.watchers.push("alice@mairie.example".into());
        let notice = Notice::new(
            Template::Solution,
            &[Audience::Requester, Audience::Watchers, Audience::Sender],
        );
        assert_eq!(
            recipients(&t, &notice, Some("bob@agents.example"), &[], &policy()),
            [
                "alice@mairie.example",
                "chef@mairie.example",
                "dsi@mairie.example",
                "bob@agents.example"
            ]
        );
        let to_sender = Notice::new(Template::CommandError, &[Audience::Sender]);
        assert!(recipients(&t, &to_sender, None, &[], &policy()).is_empty());
    }

    #[test]
    fn references_name_what_each_recipient_has_seen() {
        let thread = Thread {
            received: vec![
                seen(at(9, 0), "alice@mairie.example", "request@alice"),
                seen(at(10, 0), "bob@agents.example", "reply@agent-laptop"),
                seen(at(11, 0), "chef@mairie.example", "chef@mairie"),
            ],
            sent: vec![
                seen(at(9, 0), "alice@mairie.example", "ack@desk"),
                seen(at(9, 0), "sau@example.test", "new@desk"),
                seen(
                    at(10, 0),
                    "alice@mairie.example,chef@mairie.example",
                    "fwd@desk",
                ),
            ],
        };
        // The requester: her request (received before our answer of the
        // same second), our mails to her, never the agent's own mail.
        assert_eq!(
            thread.seen_by("alice@mairie.example", false, "alice@mairie.example"),
            ["request@alice", "ack@desk", "fwd@desk"]
        );
        // A watcher: the requester's mail and his own.
        assert_eq!(
            thread.seen_by("chef@mairie.example", false, "alice@mairie.example"),
            ["request@alice", "fwd@desk", "chef@mairie"]
        );
        // The agents see every mail received, and what was sent to them.
        assert_eq!(
            thread.seen_by("sau@example.test", true, "alice@mairie.example"),
            [
                "request@alice",
                "new@desk",
                "reply@agent-laptop",
                "chef@mairie"
            ]
        );
    }

    #[test]
    fn long_threads_keep_the_first_and_the_latest_references() {
        let thread = Thread {
            received: (0..20)
                .map(|i| seen(at(9, i), "alice@mairie.example", &format!("m{i}")))
                .collect(),
            sent: Vec::new(),
        };
        let ids = thread.seen_by("alice@mairie.example", false, "alice@mairie.example");
        assert_eq!(ids.len(), MAX_REFERENCES);
        assert_eq!(ids[0], "m0");
        assert_eq!(ids[1], "m9");
        assert_eq!(ids.last().map(String::as_str), Some("m19"));
    }

    #[test]
    fn in_reply_to_is_the_mail_answered_when_seen_else_the_latest() {
        let t = ticket();
        let thread = Thread {
            received: vec![
                seen(at(9, 0), "alice@mairie.example", "request@alice"),
                seen(at(10, 0), "bob@agents.example", "reply@agent-laptop"),
            ],
            sent: vec![seen(at(9, 0), "alice@mairie.example", "ack@desk")],
        };
        let agents = Agents {
            list: vec![("bob@agents.example".into(), Some("Bob".into()))],
        };
        let mut ids = ["id1", "id2"].into_iter().map(String::from);
        let to = vec!["alice@mairie.example".into(), "sau@example.test".into()];
        let a = address(
            to,
            &thread,
            &t,
            Some("reply@agent-laptop"),
            &agents,
            &policy(),
            &mut ids,
        );
        assert_eq!(a[0].message_id, "id1");
        // The requester never saw the agent's mail: the latest she saw.
        assert_eq!(a[0].in_reply_to.as_deref(), Some("ack@desk"));
        // The agents did.
        assert_eq!(a[1].in_reply_to.as_deref(), Some("reply@agent-laptop"));
        assert_eq!(a[1].message_id, "id2");
    }

    #[test]
    fn signatures_only_for_agents_when_the_desk_signs() {
        let agents = Agents {
            list: vec![
                ("bob@agents.example".into(), Some("Bob Martin".into())),
                ("eve@agents.example".into(), None),
            ],
        };
        let signs = Policy {
            sign_with_agent_name: true,
            ..policy()
        };
        assert_eq!(
            signature("bob@agents.example", Some("B."), &agents, &signs).as_deref(),
            Some("Bob Martin")
        );
        assert_eq!(
            signature("eve@agents.example", Some("Eve L."), &agents, &signs).as_deref(),
            Some("Eve L.")
        );
        assert_eq!(
            signature("eve@agents.example", None, &agents, &signs).as_deref(),
            Some("eve")
        );
        assert_eq!(
            signature("alice@mairie.example", None, &agents, &signs),
            None
        );
        assert_eq!(
            signature("bob@agents.example", None, &agents, &policy()),
            None
        );
    }
}
