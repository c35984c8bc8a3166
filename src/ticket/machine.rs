//! The ticket state machine as a pure function: (ticket, event, actor, now)
//! to a verdict: the ticket after the event, what to record in its thread,
//! and which mails to send. No I/O here; [`super::decide`] builds the
//! plan around it.

use chrono::NaiveDateTime;

use super::answer;
use super::command::{self, Command, CommandError};
pub use super::notice::{Audience, Notice, Situation, Template};
use super::{Automatic, CloseReason, MessageKind, Person, Status, Ticket, TicketRef, TicketType};

/// Who wrote a mail, relative to a ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    Requester,
    Watcher,
    /// Someone the requester's mail was also sent to (To, Cc), answering
    /// in its thread: adds follow-ups, never decides, receives nothing
    /// unless made a watcher.
    Participant,
    Agent,
    /// Anybody else: never enters the ticket.
    Stranger,
    /// The scheduler.
    System,
}

/// Something that happens to an existing ticket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A mail written by a person; `body` is what they wrote (quotes
    /// stripped). `authenticated` is `None` when no check is configured.
    Mail {
        body: String,
        authenticated: Option<Result<(), String>>,
        /// Who wrote it (`#take` assigns the ticket to them).
        sender: Person,
    },
    /// An automatic mail (out-of-office, list, receipt) about the ticket.
    Automatic(Automatic),
    /// A bounce of a mail of this ticket.
    Bounce {
        recipient: Option<String>,
        status: Option<String>,
        permanent: bool,
    },
    /// The scheduler's clock: reminders and automatic closure.
    Tick,
}

pub use super::policy::{Policy, ReplyToClosed};

/// What goes into the thread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub kind: MessageKind,
    pub body: String,
    /// Whether the attachments of the mail belong with this record.
    pub with_attachments: bool,
}

impl Record {
    fn mail(kind: MessageKind, body: impl Into<String>) -> Option<Record> {
        Some(Record {
            kind,
            body: body.into(),
            with_attachments: true,
        })
    }

    fn system(body: impl Into<String>) -> Option<Record> {
        Some(Record {
            kind: MessageKind::System,
            body: body.into(),
            with_attachments: false,
        })
    }
}

/// The outcome of an event on a ticket.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub ticket: Ticket,
    pub record: Option<Record>,
    pub notices: Vec<Notice>,
}

impl Decision {
    /// Nothing to write and nothing to send.
    pub fn is_noop(&self, before: &Ticket) -> bool {
        self.record.is_none() && self.notices.is_empty() && &self.ticket == before
    }
}

// A verdict is built once per mail and consumed at once: boxing the
// decision would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Apply(Decision),
    /// The mail does not enter this ticket: it opens a new one, which
    /// `follows` the closed ticket it was written on, if any.
    OpenNew {
        follows: Option<TicketRef>,
    },
    /// An agent asked that this ticket join ticket `into`: decided with
    /// that ticket at hand ([`merge`]).
    Merge {
        into: TicketRef,
        line: String,
        text: String,
    },
}

/// A new ticket from a requester's first mail.
pub fn open(
    number: TicketRef,
    requester: Person,
    subject: String,
    body: &str,
    policy: &Policy,
    now: NaiveDateTime,
) -> Decision {
    let language = policy.language;
    let organisation = policy.organisation_of(&requester.email);
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
            reminded_at: None,
            sla: Default::default(),
            queue: None,
            assignee: None,
            requester_phone: None,
            channel: crate::ticket::Channel::Mail,
            opened_by: None,
            reopened: 0,
        },
        record: Record::mail(MessageKind::Initial, body),
        notices: vec![
            Notice::new(Template::Acknowledgement, &[Audience::Requester]),
            Notice::new(Template::AgentNewTicket, &[Audience::Agents]),
        ],
    }
}

/// When a solved ticket closes by itself.
pub fn deadline(ticket: &Ticket, policy: &Policy) -> Option<NaiveDateTime> {
    (ticket.status == Status::Solved)
        .then_some(ticket.solved_at?)
        .map(|at| at + policy.auto_close_after)
}

pub use super::answer::Decided;

/// Reads a requester's answer to a proposed solution: see [`answer`].
///
/// [`answer`]: super::answer
pub fn decision_in(body: &str, policy: &Policy) -> Option<Decided> {
    super::answer::read(body, &policy.validate_keywords, &policy.refuse_keywords)
}

/// What an agent writes to the requester, the watchers and the agents.
/// On a closed ticket, the ticket is reopened first, and the agents are
/// told that instead of getting the copy.
fn to_everyone_reopening(t: &mut Ticket, template: Template, now: NaiveDateTime) -> Vec<Notice> {
    let mut notices = vec![Notice::new(
        template,
        &[Audience::Requester, Audience::Watchers, Audience::Agents],
    )];
    if t.status == Status::Closed {
        reopen(t, now);
        notices[0].to.retain(|a| *a != Audience::Agents);
        notices.push(
            Notice::new(Template::AgentFollowUp, &[Audience::Agents])
                .situation(Situation::Reopened),
        );
    }
    notices
}

/// A solution proposed: the requester validates or refuses it. On a
/// closed ticket, the ticket is reopened first, and the agents told so.
fn propose(mut t: Ticket, solution: String, now: NaiveDateTime) -> Decision {
    let notices = to_everyone_reopening(&mut t, Template::Solution, now);
    t.status = Status::Solved;
    t.solved_at = Some(now);
    t.reminded_at = None;
    touch(&mut t, now);
    Decision {
        ticket: t,
        record: Record::mail(MessageKind::Solution, solution),
        notices,
    }
}

fn touch(t: &mut Ticket, now: NaiveDateTime) {
    t.updated_at = now;
}

fn close(t: &mut Ticket, reason: CloseReason, now: NaiveDateTime) {
    t.status = Status::Closed;
    t.close_reason = Some(reason);
    t.closed_at = Some(now);
    touch(t, now);
}

fn reopen(t: &mut Ticket, now: NaiveDateTime) {
    t.reopened += 1;
    t.status = Status::InProgress;
    t.close_reason = None;
    t.closed_at = None;
    t.solved_at = None;
    t.reminded_at = None;
    touch(t, now);
}

/// The mail is kept as a plain follow-up because what it asked for could
/// not be authenticated; its sender and the agents are told.
fn unauthenticated(t: Ticket, body: &str, command: &str, reason: String) -> Verdict {
    let error = CommandError {
        command: command.to_string(),
        reason,
    };
    Verdict::Apply(Decision {
        ticket: t,
        record: Record::mail(MessageKind::Followup, body),
        notices: vec![
            Notice::new(Template::SecurityRefused, &[Audience::Sender]).error(error.clone()),
            Notice::new(Template::AgentFollowUp, &[Audience::Agents])
                .situation(Situation::Unauthenticated)
                .error(error),
        ],
    })
}

/// Applies an event to a ticket.
pub fn apply(
    ticket: &Ticket,
    event: &Event,
    actor: Actor,
    now: NaiveDateTime,
    policy: &Policy,
) -> Verdict {
    let mut t = ticket.clone();
    match event {
        Event::Automatic(auto) => {
            let kind = match auto {
                Automatic::Bounce => MessageKind::Bounce,
                Automatic::AutoReply => MessageKind::AutoReply,
            };
            Verdict::Apply(Decision {
                ticket: t,
                record: Record::mail(kind, ""),
                notices: Vec::new(),
            })
        }
        Event::Bounce {
            recipient,
            status,
            permanent,
        } => {
            let who = recipient.as_deref().unwrap_or("an unknown address");
            let code = status.as_deref().unwrap_or("no status");
            let line = if *permanent {
                format!("mail to {who} could not be delivered ({code}); it will not be mailed again until it writes to us")
            } else {
                format!("mail to {who} is delayed ({code})")
            };
            let notices = if *permanent {
                vec![
                    Notice::new(Template::AgentBounce, &[Audience::Agents]).error(CommandError {
                        command: who.to_string(),
                        reason: code.to_string(),
                    }),
                ]
            } else {
                Vec::new()
            };
            Verdict::Apply(Decision {
                ticket: t,
                record: Some(Record {
                    kind: MessageKind::Bounce,
                    body: line,
                    with_attachments: true,
                }),
                notices,
            })
        }
        Event::Tick => Verdict::Apply(tick(t, now, policy)),
        Event::Mail {
            body,
            authenticated,
            sender,
        } => match actor {
            Actor::Stranger | Actor::System => Verdict::OpenNew { follows: None },
            Actor::Agent => agent_mail(t, body, authenticated, sender, now, policy),
            Actor::Requester | Actor::Watcher | Actor::Participant => {
                if t.status == Status::Closed {
                    return match policy.reply_to_closed {
                        ReplyToClosed::NewTicket => Verdict::OpenNew {
                            follows: Some(t.number),
                        },
                        // A mail that could not be authenticated does
                        // not reopen: it opens a ticket of its own, which
                        // names the closed one.
                        ReplyToClosed::Reopen if matches!(authenticated, Some(Err(_))) => {
                            Verdict::OpenNew {
                                follows: Some(t.number),
                            }
                        }
                        ReplyToClosed::Reopen => {
                            reopen(&mut t, now);
                            Verdict::Apply(Decision {
                                ticket: t,
                                record: Record::mail(MessageKind::Followup, body.as_str()),
                                notices: vec![Notice::new(
                                    Template::AgentFollowUp,
                                    &[Audience::Agents],
                                )
                                .situation(Situation::Reopened)],
                            })
                        }
                    };
                }
                let decided = (actor == Actor::Requester && t.status == Status::Solved)
                    .then(|| decision_in(body, policy))
                    .flatten();
                if let (Some(d), Some(Err(reason))) = (&decided, authenticated) {
                    let word = match d {
                        Decided::Validate => "validation",
                        Decided::Refuse(_) => "refusal",
                    };
                    return unauthenticated(t, body, word, reason.clone());
                }
                let undecided =
                    actor == Actor::Requester && t.status == Status::Solved && decided.is_none();
                let mut decision = requester_mail(t, body, decided, now);
                if actor == Actor::Participant {
                    // The agents are told who wrote: not someone the
                    // ticket's mail goes to.
                    for n in &mut decision.notices {
                        n.situation = Situation::Participant;
                    }
                }
                if undecided {
                    // Told that the solution still waits, and how to answer.
                    decision.notices.insert(
                        0,
                        Notice::new(Template::AnswerUndecided, &[Audience::Requester]),
                    );
                }
                Verdict::Apply(decision)
            }
        },
    }
}

fn requester_mail(
    mut t: Ticket,
    body: &str,
    decided: Option<Decided>,
    now: NaiveDateTime,
) -> Decision {
    match decided {
        Some(Decided::Validate) => {
            close(&mut t, CloseReason::Validated, now);
            Decision {
                ticket: t,
                record: Record::mail(MessageKind::Validation, body),
                notices: vec![
                    Notice::new(Template::ValidationConfirmation, &[Audience::Requester]),
                    Notice::new(
                        Template::ValidatedNotice,
                        &[Audience::Agents, Audience::Watchers],
                    ),
                ],
            }
        }
        Some(Decided::Refuse(explanation)) => {
            t.status = Status::InProgress;
            t.solved_at = None;
            t.reminded_at = None;
            touch(&mut t, now);
            Decision {
                ticket: t,
                record: Record::mail(MessageKind::Refusal, explanation),
                notices: vec![
                    Notice::new(Template::RefusalAcknowledged, &[Audience::Requester]),
                    Notice::new(Template::AgentRefusal, &[Audience::Agents]),
                ],
            }
        }
        None => {
            let situation = if t.status == Status::Solved {
                Situation::Undecided
            } else {
                Situation::FollowUp
            };
            if t.status == Status::Waiting {
                t.status = Status::InProgress;
            }
            touch(&mut t, now);
            Decision {
                ticket: t,
                record: Record::mail(MessageKind::Followup, body),
                notices: vec![
                    Notice::new(Template::AgentFollowUp, &[Audience::Agents]).situation(situation)
                ],
            }
        }
    }
}

/// A courtesy reply ("merci", "OK", the validation keyword again) from the
/// requester, a watcher or an agent within `closed_grace` of the closure:
/// recorded on the closed ticket (an agent's as its reply, sent to
/// nobody), nothing changed,
/// nobody told. `None` when the mail is not one; the caller sees to it
/// that it brings no file (a file is never set aside unseen).
pub fn courtesy_after_closure(
    t: &Ticket,
    body: &str,
    actor: Actor,
    now: NaiveDateTime,
    policy: &Policy,
) -> Option<Decision> {
    let closed_at = t.closed_at.filter(|_| t.status == Status::Closed)?;
    let kind = match actor {
        Actor::Requester | Actor::Watcher | Actor::Participant => MessageKind::Followup,
        // Not a note: notes are what no requester may read, and the
        // guard refuses any later mail that repeats one.
        Actor::Agent => MessageKind::AgentReply,
        Actor::Stranger | Actor::System => return None,
    };
    (now - closed_at <= policy.closed_grace && answer::is_courtesy(body, &policy.validate_keywords))
        .then(|| Decision {
            ticket: t.clone(),
            record: Record::mail(kind, body),
            notices: Vec::new(),
        })
}

fn agent_mail(
    mut t: Ticket,
    body: &str,
    authenticated: &Option<Result<(), String>>,
    sender: &Person,
    now: NaiveDateTime,
    policy: &Policy,
) -> Verdict {
    let parsed = command::parse(body);
    if let Some(Err(reason)) = authenticated {
        let what = parsed
            .as_ref()
            .map(|p| match &p.command {
                Ok(_) | Err(_) => body.trim().lines().next().unwrap_or("").to_string(),
            })
            .unwrap_or_else(|| "agent reply".into());
        return unauthenticated(t, body, &what, reason.clone());
    }
    let Some(parsed) = parsed else {
        // A plain reply: sent on to the requester and the watchers, a copy
        // to the other agents (unless they are told it reopened).
        let mut notices = vec![Notice::new(
            Template::AgentReply,
            &[Audience::Requester, Audience::Watchers, Audience::Agents],
        )];
        if t.status == Status::Closed {
            // Never silently: with `reopen`, the ticket reopens and the
            // other agents are told; otherwise the reply is kept, sent to
            // nobody, and its agent is told so. It is kept as the agent's
            // reply, not as a note: sent again with #question, it would
            // repeat a note, and the guard on notes would refuse it.
            if policy.reply_to_closed == ReplyToClosed::NewTicket {
                return Verdict::Apply(Decision {
                    ticket: t,
                    record: Record::mail(MessageKind::AgentReply, body),
                    notices: vec![Notice::new(Template::ReplyWithheld, &[Audience::Sender])
                        .situation(Situation::Closed)],
                });
            }
            reopen(&mut t, now);
            notices[0].to.retain(|a| *a != Audience::Agents);
            notices.push(
                Notice::new(Template::AgentFollowUp, &[Audience::Agents])
                    .situation(Situation::Reopened),
            );
        } else if matches!(t.status, Status::New | Status::Waiting) {
            t.status = Status::InProgress;
        }
        touch(&mut t, now);
        return Verdict::Apply(Decision {
            ticket: t,
            record: Record::mail(MessageKind::AgentReply, body),
            notices,
        });
    };
    let text = parsed.text;
    let command_error = |t: Ticket, e: CommandError| {
        Verdict::Apply(Decision {
            ticket: t,
            record: None,
            notices: vec![Notice::new(Template::CommandError, &[Audience::Sender]).error(e)],
        })
    };
    let needs_text = |name: &str| CommandError {
        command: format!("#{name}"),
        reason: "needs_text".into(),
    };
    let command = match parsed.command {
        Ok(c) => c,
        Err(e) => return command_error(t, e),
    };
    // The agent is told what was done: one short mail, `error.reason`
    // naming the command.
    let done = CommandError {
        command: parsed.line,
        reason: match &command {
            Command::Solution => "solution",
            Command::Question => "question",
            Command::Note => "note",
            Command::Close => "close",
            Command::WatchAdd(_) => "watch_add",
            Command::WatchRemove(_) => "watch_remove",
            Command::SetType(_) => "type",
            Command::SetImpact(_) => "impact",
            Command::SetCategory(_) => "category",
            Command::Merge(_) => "merge",
            Command::Take => "take",
            Command::Assign(_) => "assign",
            Command::Unassign => "unassign",
            Command::Queue(_) => "queue",
            Command::Requester(_) => "requester",
            Command::Kb(_) => "kb",
            Command::Digest => "digest",
        }
        .into(),
    };
    let mut decision = match command {
        // Decided with the other ticket at hand.
        Command::Merge(into) => {
            return Verdict::Merge {
                into,
                line: done.command,
                text,
            }
        }
        Command::Solution => {
            if text.is_empty() {
                return command_error(t, needs_text("solution"));
            }
            propose(t, text, now)
        }
        Command::Kb(id) => {
            let Some(article) = policy.kb.get(&id) else {
                return command_error(
                    t,
                    CommandError {
                        command: done.command,
                        reason: "kb_unknown".into(),
                    },
                );
            };
            // The agent's own words, if any, then the article.
            let solution = if text.is_empty() {
                article.as_text()
            } else {
                format!("{text}\n\n{}", article.as_text())
            };
            propose(t, solution, now)
        }
        Command::Question => {
            if text.is_empty() {
                return command_error(t, needs_text("question"));
            }
            let notices = to_everyone_reopening(&mut t, Template::AgentReply, now);
            t.status = Status::Waiting;
            t.solved_at = None;
            touch(&mut t, now);
            Decision {
                ticket: t,
                record: Record::mail(MessageKind::AgentReply, text),
                notices,
            }
        }
        Command::Note => {
            if text.is_empty() {
                return command_error(t, needs_text("note"));
            }
            touch(&mut t, now);
            Decision {
                ticket: t,
                record: Record::mail(MessageKind::Note, text),
                notices: vec![Notice::new(Template::AgentNote, &[Audience::Agents])],
            }
        }
        Command::Close => {
            if t.status == Status::Closed {
                return command_error(
                    t,
                    CommandError {
                        command: "#close".into(),
                        reason: "already_closed".into(),
                    },
                );
            }
            close(&mut t, CloseReason::Agent, now);
            let record = if text.is_empty() {
                // Its files, if any, are kept with the line: they go to
                // the requester with the closure.
                Some(Record {
                    kind: MessageKind::System,
                    body: "closed by an agent".into(),
                    with_attachments: true,
                })
            } else {
                Record::mail(MessageKind::AgentReply, text)
            };
            Decision {
                ticket: t,
                record,
                notices: vec![Notice::new(
                    Template::AgentClosure,
                    &[Audience::Requester, Audience::Watchers, Audience::Agents],
                )],
            }
        }
        Command::WatchAdd(email) => {
            if !t.watchers.contains(&email) {
                t.watchers.push(email.clone());
                t.watchers.sort();
            }
            touch(&mut t, now);
            Decision {
                ticket: t,
                record: Record::system(with_text(format!("watcher added: {email}"), &text)),
                notices: Vec::new(),
            }
        }
        Command::WatchRemove(email) => {
            t.watchers.retain(|w| w != &email);
            touch(&mut t, now);
            Decision {
                ticket: t,
                record: Record::system(with_text(format!("watcher removed: {email}"), &text)),
                notices: Vec::new(),
            }
        }
        Command::SetType(ty) => {
            t.ticket_type = ty;
            touch(&mut t, now);
            Decision {
                ticket: t,
                record: Record::system(with_text(format!("type: {ty}"), &text)),
                notices: Vec::new(),
            }
        }
        Command::SetImpact(impact) => {
            t.impact = Some(impact);
            touch(&mut t, now);
            Decision {
                ticket: t,
                record: Record::system(with_text(format!("impact: {impact}"), &text)),
                notices: Vec::new(),
            }
        }
        // Only an agent's new mail opens a ticket for someone, or asks
        // for the digest.
        c @ (Command::Requester(_) | Command::Digest) => {
            let reason = if c == Command::Digest {
                "digest_on_ticket"
            } else {
                "requester_on_ticket"
            };
            return command_error(
                t,
                CommandError {
                    command: done.command,
                    reason: reason.into(),
                },
            );
        }
        Command::Take => {
            t.assignee = Some(sender.clone());
            touch(&mut t, now);
            Decision {
                ticket: t,
                record: Record::system(with_text(
                    format!("assigned to {} (taken)", sender.email),
                    &text,
                )),
                notices: Vec::new(),
            }
        }
        Command::Assign(email) => {
            let line = format!("assigned to {email} by {}", sender.email);
            t.assignee = Some(Person { email, name: None });
            touch(&mut t, now);
            Decision {
                ticket: t,
                record: Record::system(with_text(line, &text)),
                notices: vec![Notice::new(Template::AgentNewTicket, &[Audience::Assignee])
                    .situation(Situation::Assigned)],
            }
        }
        Command::Unassign => {
            let line = match t.assignee.take() {
                Some(a) => format!("unassigned (was {})", a.email),
                None => "unassigned (was nobody's)".to_string(),
            };
            touch(&mut t, now);
            Decision {
                ticket: t,
                record: Record::system(with_text(line, &text)),
                notices: Vec::new(),
            }
        }
        Command::Queue(name) => {
            let Some(queue) = policy
                .queues
                .iter()
                .find(|q| q.name.eq_ignore_ascii_case(&name))
            else {
                return command_error(
                    t,
                    CommandError {
                        command: done.command,
                        reason: "queue_unknown".into(),
                    },
                );
            };
            let line = format!(
                "queue: {} (was {})",
                queue.name,
                t.queue.as_deref().unwrap_or("the desk's own")
            );
            let moved = t.queue.as_deref() != Some(queue.name.as_str());
            t.queue = Some(queue.name.clone());
            if moved {
                // The new queue's agents take it up.
                t.assignee = None;
            }
            touch(&mut t, now);
            Decision {
                ticket: t,
                record: Record::system(with_text(line, &text)),
                notices: if moved {
                    vec![Notice::new(Template::AgentNewTicket, &[Audience::Agents])
                        .situation(Situation::Moved)]
                } else {
                    Vec::new()
                },
            }
        }
        Command::SetCategory(category) => {
            let line = format!("category: {category}");
            t.category = Some(category);
            touch(&mut t, now);
            Decision {
                ticket: t,
                record: Record::system(with_text(line, &text)),
                notices: Vec::new(),
            }
        }
    };
    decision
        .notices
        .push(Notice::new(Template::CommandDone, &[Audience::Sender]).error(done));
    Verdict::Apply(decision)
}

/// What an agent's `#merge N` does.
#[derive(Clone, Debug, PartialEq)]
pub enum Merged {
    /// The ticket joins N: closed, with a system line naming N (its
    /// thread moves there); the agent is told.
    Joins(Decision),
    /// Nothing changes; the agent is told why.
    Refused(Decision),
}

/// An agent's `#merge N` on ticket `t`, with ticket N as loaded (`None`:
/// there is none).
pub fn merge(
    mut t: Ticket,
    into: Option<&Ticket>,
    asked: TicketRef,
    line: String,
    text: &str,
    now: NaiveDateTime,
    policy: &Policy,
) -> Merged {
    let refused = |t: Ticket, reason: &str| {
        Merged::Refused(Decision {
            ticket: t,
            record: None,
            notices: vec![
                Notice::new(Template::CommandError, &[Audience::Sender]).error(CommandError {
                    command: line.clone(),
                    reason: reason.into(),
                }),
            ],
        })
    };
    let Some(target) = into.filter(|n| n.number == asked) else {
        return refused(t, "merge_unknown");
    };
    if target.number == t.number {
        return refused(t, "merge_self");
    }
    if target.status == Status::Closed {
        return refused(t, "merge_closed");
    }
    if t.status != Status::Closed {
        close(&mut t, CloseReason::Agent, now);
    } else {
        touch(&mut t, now);
    }
    let joined = format!(
        "joined {}: its thread is now there",
        target
            .number
            .display(policy.tag_of(target.queue.as_deref()))
    );
    Merged::Joins(Decision {
        ticket: t,
        record: Record::system(with_text(joined, text)),
        notices: vec![
            Notice::new(Template::CommandDone, &[Audience::Sender]).error(CommandError {
                command: line,
                reason: "merge".into(),
            }),
        ],
    })
}

/// A system line, with the agent's text below it (kept internal).
fn with_text(line: String, text: &str) -> String {
    if text.is_empty() {
        line
    } else {
        format!("{line}\n\n{text}")
    }
}

fn tick(mut t: Ticket, now: NaiveDateTime, policy: &Policy) -> Decision {
    let Some(deadline) = deadline(&t, policy) else {
        return Decision {
            ticket: t,
            record: None,
            notices: Vec::new(),
        };
    };
    if now >= deadline {
        close(&mut t, CloseReason::Auto, now);
        return Decision {
            ticket: t,
            record: Record::system(
                "closed automatically: the solution was neither validated nor refused in time",
            ),
            notices: vec![Notice::new(
                Template::AutoClosure,
                &[Audience::Requester, Audience::Watchers],
            )],
        };
    }
    let solved_at = t.solved_at.unwrap_or(now);
    let already_reminded = t.reminded_at.is_some_and(|r| r >= solved_at);
    if now >= deadline - policy.remind_before && !already_reminded {
        t.reminded_at = Some(now);
        return Decision {
            ticket: t,
            record: Record::system("reminder sent to the requester"),
            notices: vec![Notice::new(Template::Reminder, &[Audience::Requester])],
        };
    }
    Decision {
        ticket: t,
        record: None,
        notices: Vec::new(),
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
