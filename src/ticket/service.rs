//! Applies mail to tickets: stores the raw mail, then in one transaction
//! parses it, matches it to a ticket, runs the state machine and writes the
//! ticket change, the thread message and the outbox rows together.

use chrono::{NaiveDateTime, TimeZone, Utc};
use diesel::Connection;
use serde_json::json;

use super::machine::{self, Actor, Audience, Decision, Event, Notice};
use super::{MessageKind, Status, Ticket};
use crate::clock::Clock;
use crate::config::{Language, Settings};
use crate::inbound::reference::SubjectTagger;
use crate::inbound::{self, InboundMessage};
use crate::outbound::{self, Renderer};
use crate::store::tickets::{NewAttachment, NewMessage};
use crate::store::{agents, mails, outbox, tickets, AnyConnection, StoreError, StoreResult};

/// Everything needed to turn mail into tickets, built once from settings.
pub struct Desk {
    pub settings: Settings,
    pub tagger: SubjectTagger,
    pub renderer: Renderer,
}

impl Desk {
    pub fn new(settings: Settings) -> anyhow::Result<Desk> {
        Ok(Desk {
            tagger: SubjectTagger::new(&settings.tickets.subject_tag),
            renderer: Renderer::new()?,
            settings,
        })
    }

    fn desk_address(&self) -> String {
        self.settings.smtp.from_address()
    }
}

/// Where a raw mail came from: an IMAP mailbox position, or a pipe/file.
#[derive(Clone, Copy, Debug)]
pub struct Source<'a> {
    pub name: &'a str,
    pub uidvalidity: Option<u32>,
    pub uid: Option<u32>,
}

/// What processing one mail did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Created(super::TicketRef),
    Added(super::TicketRef, MessageKind),
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
}

pub fn rfc3339(t: NaiveDateTime) -> String {
    Utc.from_utc_datetime(&t)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Stores the raw bytes before anything else; returns the row id. A mail
/// already stored under the same IMAP key is not stored twice.
pub fn store_raw(
    conn: &mut AnyConnection,
    source: Source<'_>,
    raw: &[u8],
    clock: &Clock,
) -> StoreResult<i64> {
    let sha = inbound::sha256_hex(raw);
    let message_id = inbound::peek_message_id(raw);
    conn.transaction(|conn| {
        if let (Some(v), Some(u)) = (source.uidvalidity, source.uid) {
            if let Some((id, _)) = mails::find_by_key(conn, source.name, v.into(), u.into())? {
                return Ok(id);
            }
        }
        mails::insert(
            conn,
            &mails::NewRawMail {
                source: source.name,
                uidvalidity: source.uidvalidity.map(i64::from),
                uid: source.uid.map(i64::from),
                message_id: message_id.as_deref(),
                sha256: &sha,
                raw,
                received_at: clock.now_naive(),
                state: mails::state::RECEIVED,
            },
        )
    })
}

/// Processes one stored mail in one transaction. A mail that cannot be read
/// is marked failed (and kept); a database error rolls everything back and
/// is returned, so the mail is processed again later.
pub fn process(
    conn: &mut AnyConnection,
    desk: &Desk,
    raw_id: i64,
    clock: &Clock,
) -> StoreResult<Outcome> {
    conn.transaction(|conn| process_in_tx(conn, desk, raw_id, clock))
}

fn process_in_tx(
    conn: &mut AnyConnection,
    desk: &Desk,
    raw_id: i64,
    clock: &Clock,
) -> StoreResult<Outcome> {
    let raw = mails::get(conn, raw_id)?;
    if raw.state != mails::state::RECEIVED {
        return Ok(Outcome::AlreadyDone(raw.state));
    }
    let desk_address = desk.desk_address();
    let msg = match inbound::parse(&raw.raw, &desk_address) {
        Ok(m) => m,
        Err(e) => {
            let why = e.to_string();
            mails::set_state(conn, raw_id, mails::state::FAILED, Some(&why), None)?;
            return Ok(Outcome::Failed(why));
        }
    };
    if mails::find_processed_twin(conn, raw_id, msg.message_id.as_deref(), &raw.sha256)?.is_some() {
        mails::set_state(conn, raw_id, mails::state::DUPLICATE, None, None)?;
        return Ok(Outcome::Duplicate);
    }
    let own = match &msg.message_id {
        Some(id) => outbox::is_ours(conn, id)?,
        None => false,
    };
    if own || msg.from.email == desk_address {
        let why = "our own mail came back".to_string();
        mails::set_state(conn, raw_id, mails::state::IGNORED, Some(&why), None)?;
        return Ok(Outcome::Ignored(why));
    }

    let now = clock.now_naive();
    let matched = match_ticket(conn, desk, &msg)?;
    let (ticket_id, decision) = match (matched, msg.automatic) {
        (Some((id, ticket, actor)), Some(auto)) => (
            id,
            machine::apply(&ticket, &Event::Automatic(auto), actor, now),
        ),
        (None, Some(auto)) => {
            let why = format!("automatic mail ({auto:?}) matching no ticket, not answered");
            mails::set_state(conn, raw_id, mails::state::IGNORED, Some(&why), None)?;
            return Ok(Outcome::Ignored(why));
        }
        (Some((id, ticket, actor)), None) if ticket.is_open() && actor != Actor::Stranger => {
            (id, machine::apply(&ticket, &Event::Reply, actor, now))
        }
        (_, None) => {
            let number = tickets::next_number(conn)?;
            let subject = desk.tagger.clean(&msg.subject);
            let decision = machine::open(
                number,
                msg.from.clone(),
                subject,
                desk.settings.tickets.language,
                now,
            );
            let id = tickets::insert(conn, &decision.ticket)?;
            (id, decision)
        }
    };
    if decision.kind != MessageKind::Initial {
        tickets::update(conn, ticket_id, &decision.ticket)?;
    }

    let files: Vec<NewAttachment<'_>> = msg
        .attachments
        .iter()
        .map(|a| NewAttachment {
            filename: &a.filename,
            content_type: &a.content_type,
            content: &a.content,
            sha256: &a.sha256,
        })
        .collect();
    tickets::insert_message(
        conn,
        &NewMessage {
            ticket_id,
            raw_mail_id: Some(raw_id),
            kind: decision.kind,
            from: &msg.from,
            at: now,
            body: &msg.body,
            message_id: msg.message_id.as_deref(),
        },
        &files,
    )?;
    enqueue_notices(conn, desk, ticket_id, &decision, &msg, clock)?;
    mails::set_state(conn, raw_id, mails::state::PROCESSED, None, Some(ticket_id))?;

    let number = decision.ticket.number;
    Ok(if decision.kind == MessageKind::Initial {
        Outcome::Created(number)
    } else {
        Outcome::Added(number, decision.kind)
    })
}

/// The ticket a mail belongs to, by threading headers first (Message-IDs we
/// sent or received), then by the subject tag; with the sender's role.
fn match_ticket(
    conn: &mut AnyConnection,
    desk: &Desk,
    msg: &InboundMessage,
) -> StoreResult<Option<(i64, Ticket, Actor)>> {
    let mut ids: Vec<String> = msg.in_reply_to.clone();
    ids.extend(msg.references.iter().rev().cloned());
    let by_thread = match outbox::ticket_of_sent(conn, &ids)? {
        Some(id) => Some(id),
        None => tickets::ticket_of_message_ids(conn, &ids)?,
    };
    let found = match by_thread {
        Some(id) => Some(tickets::get_by_id(conn, id)?),
        None => match desk.tagger.find(&msg.subject) {
            Some(number) => tickets::find_by_number(conn, number)?,
            None => None,
        },
    };
    let Some((id, ticket)) = found else {
        return Ok(None);
    };
    let actor = actor_of(conn, &ticket, &msg.from.email)?;
    Ok(Some((id, ticket, actor)))
}

fn actor_of(conn: &mut AnyConnection, ticket: &Ticket, email: &str) -> StoreResult<Actor> {
    Ok(if email == ticket.requester.email {
        Actor::Requester
    } else if agents::is_agent(conn, email)? {
        Actor::Agent
    } else if ticket.watchers.iter().any(|w| w == email) {
        Actor::Watcher
    } else {
        Actor::Stranger
    })
}

fn recipients(desk: &Desk, ticket: &Ticket, notice: &Notice, sender: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for audience in &notice.to {
        let addresses: Vec<String> = match audience {
            Audience::Requester => vec![ticket.requester.email.clone()],
            Audience::Watchers => ticket.watchers.clone(),
            Audience::Agents => desk.settings.tickets.agent_notify.clone(),
        };
        for a in addresses {
            // The author of a mail does not need it back, except the
            // requester's acknowledgement.
            let is_ack = notice.template == machine::Template::Acknowledgement;
            if (a != sender || is_ack) && !out.contains(&a) {
                out.push(a);
            }
        }
    }
    out
}

pub fn size_text(size: usize) -> String {
    match size {
        s if s >= 1 << 20 => format!("{:.1} MiB", s as f64 / (1u64 << 20) as f64),
        s if s >= 1 << 10 => format!("{} KiB", s.div_ceil(1 << 10)),
        s => format!("{s} B"),
    }
}

fn status_text(status: Status, language: Language) -> &'static str {
    match (language, status) {
        (Language::Fr, Status::New) => "nouveau",
        (Language::Fr, Status::InProgress) => "en cours",
        (Language::Fr, Status::Waiting) => "en attente de votre réponse",
        (Language::Fr, Status::Solved) => "résolu",
        (Language::Fr, Status::Closed) => "clos",
        (Language::En, Status::New) => "new",
        (Language::En, Status::InProgress) => "in progress",
        (Language::En, Status::Waiting) => "waiting for your answer",
        (Language::En, Status::Solved) => "solved",
        (Language::En, Status::Closed) => "closed",
    }
}

/// The data every template sees.
fn template_context(desk: &Desk, ticket: &Ticket, msg: &InboundMessage) -> serde_json::Value {
    let from = &desk.settings.smtp.from;
    json!({
        "desk": {
            "name": from.name.clone().unwrap_or_else(|| from.email.to_string()),
            "address": from.email.to_string(),
        },
        "ticket": {
            "number": ticket.number.0,
            "reference": ticket.number.display(desk.tagger.tag()),
            "subject": ticket.subject,
            "status": ticket.status.as_str(),
            "status_text": status_text(ticket.status, ticket.language),
            "requester": ticket.requester,
            "organisation": ticket.organisation,
        },
        "message": {
            "from": msg.from,
            "body": msg.body,
            "attachments": msg.attachments.iter().map(|a| json!({
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.content.len(),
                "size_text": size_text(a.content.len()),
            })).collect::<Vec<_>>(),
        },
    })
}

fn enqueue_notices(
    conn: &mut AnyConnection,
    desk: &Desk,
    ticket_id: i64,
    decision: &Decision,
    msg: &InboundMessage,
    clock: &Clock,
) -> StoreResult<()> {
    if decision.notices.is_empty() {
        return Ok(());
    }
    let ticket = &decision.ticket;
    let context = template_context(desk, ticket, msg);
    let mut thread = tickets::thread_message_ids(conn, ticket_id)?;
    // RFC 5322 section 3.6.4: the first and the latest are what matters;
    // keep References short on long threads.
    if thread.len() > 12 {
        let first = thread[0].clone();
        thread.drain(..thread.len() - 11);
        thread.insert(0, first);
    }
    let from = &desk.settings.smtp.from;
    let sender = from.email.to_string();
    for notice in &decision.notices {
        let rendered = desk
            .renderer
            .render(ticket.language, notice.template.name(), &context)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        for to in recipients(desk, ticket, notice, &msg.from.email) {
            let message_id = outbound::new_message_id(from);
            let composed = outbound::compose(&outbound::Draft {
                from,
                to: std::slice::from_ref(&to),
                subject: &rendered.subject,
                body: &rendered.body,
                message_id: &message_id,
                in_reply_to: msg.message_id.as_deref(),
                references: &thread,
                auto_submitted: notice.template.auto_submitted(),
                date: clock.now(),
            })
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
            outbox::insert(
                conn,
                &outbox::NewOutgoing {
                    ticket_id: Some(ticket_id),
                    kind: notice.template.name(),
                    message_id: &message_id,
                    sender: &sender,
                    recipients: &to,
                    subject: &rendered.subject,
                    raw: &composed.raw,
                    state: outbox::state::PENDING,
                    attempts: 0,
                    next_attempt_at: clock.now_naive(),
                    created_at: clock.now_naive(),
                },
            )?;
        }
    }
    Ok(())
}

/// A watcher added by the desk (CLI or agent command).
pub fn add_watcher(
    conn: &mut AnyConnection,
    number: super::TicketRef,
    email: &str,
    clock: &Clock,
) -> StoreResult<bool> {
    conn.transaction(|conn| {
        let (id, _) = tickets::find_by_number(conn, number)?
            .ok_or_else(|| StoreError::Invalid(format!("no ticket {number}")))?;
        tickets::add_watcher(conn, id, email, clock.now_naive())
    })
}

pub fn remove_watcher(
    conn: &mut AnyConnection,
    number: super::TicketRef,
    email: &str,
) -> StoreResult<bool> {
    conn.transaction(|conn| {
        let (id, _) = tickets::find_by_number(conn, number)?
            .ok_or_else(|| StoreError::Invalid(format!("no ticket {number}")))?;
        tickets::remove_watcher(conn, id, email)
    })
}

/// Re-processes mails left `received` by an interrupted run.
pub fn resume_unprocessed(
    conn: &mut AnyConnection,
    desk: &Desk,
    clock: &Clock,
) -> StoreResult<Vec<Outcome>> {
    let ids = mails::unprocessed(conn)?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(process(conn, desk, id, clock)?);
    }
    Ok(out)
}
