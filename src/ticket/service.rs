//! Applies mail to tickets: stores the raw mail, then in one transaction
//! parses it, matches it to a ticket, runs the state machine and writes the
//! ticket change, the thread message and the outbox rows together.

use chrono::{NaiveDateTime, TimeZone, Utc};
use diesel::Connection;
use serde_json::json;

use super::machine::{self, Actor, Audience, Decision, Event, Notice, Policy, Verdict};
use super::post::{self, Post};
use super::{MessageKind, Person, Status, Ticket, TicketRef};
use crate::clock::Clock;
use crate::config::{Language, Settings};
use crate::inbound::reference::SubjectTagger;
use crate::inbound::{self, InboundMessage};
use crate::outbound::{self, Renderer};
use crate::store::tickets::{NewAttachment, NewMessage};
use crate::store::{
    addresses, agents, mails, outbox, tickets, AnyConnection, StoreError, StoreResult,
};

/// Reading one mail may take this long; past it the mail is set aside.
const PARSE_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Everything needed to turn mail into tickets, built once from settings.
pub struct Desk {
    pub settings: Settings,
    pub tagger: SubjectTagger,
    pub renderer: Renderer,
    pub policy: Policy,
}

impl Desk {
    pub fn new(settings: Settings) -> anyhow::Result<Desk> {
        Ok(Desk {
            tagger: SubjectTagger::new(&settings.tickets.subject_tag),
            renderer: Renderer::new()?,
            policy: settings.tickets.policy(),
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
    /// An agent command that was not understood; the agent was told.
    CommandRefused(super::TicketRef),
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
    conn.transaction(|conn| {
        crate::store::lock_for_write(conn)?;
        let sha256 = inbound::sha256_hex(raw);
        match store_raw_in_tx(conn, source, raw, &sha256, None, clock)? {
            Stored::New(id) | Stored::Existing(id, _) => Ok(id),
        }
    })
}

/// A raw mail once stored: its row, and whether an earlier run already
/// took it past `received`.
enum Stored {
    New(i64),
    Existing(i64, String),
}

/// Stores a raw mail unless it is stored already; `message_id` is the
/// mail's own, when it has been read already.
fn store_raw_in_tx(
    conn: &mut AnyConnection,
    source: Source<'_>,
    raw: &[u8],
    sha256: &str,
    message_id: Option<Option<&str>>,
    clock: &Clock,
) -> StoreResult<Stored> {
    if let (Some(v), Some(u)) = (source.uidvalidity, source.uid) {
        if let Some((id, state)) = mails::find_by_key(conn, source.name, v.into(), u.into())? {
            return Ok(Stored::Existing(id, state));
        }
    }
    let message_id = match message_id {
        Some(known) => known.map(str::to_string),
        None => inbound::peek_message_id(raw),
    };
    let id = mails::insert(
        conn,
        &mails::NewRawMail {
            source: source.name,
            uidvalidity: source.uidvalidity.map(i64::from),
            uid: source.uid.map(i64::from),
            message_id: message_id.as_deref(),
            sha256,
            raw,
            received_at: clock.now_naive(),
            state: mails::state::RECEIVED,
        },
    )?;
    Ok(Stored::New(id))
}

/// Stores and processes a batch of fetched mails in one transaction: one
/// commit per batch instead of two per mail, and the mails are read on the
/// parsing thread while the database work goes on. When one mail's
/// processing fails for a reason retrying cannot fix, the batch is rolled
/// back and done again with each mail in a savepoint of its own, so that
/// mail is marked failed and the others go on. A recoverable error (a lost
/// connection, a full disk) is returned, so the batch is fetched and
/// processed again later.
pub fn ingest_batch(
    conn: &mut AnyConnection,
    desk: &Desk,
    mails: &[(Source<'_>, &[u8])],
    clock: &Clock,
) -> StoreResult<Vec<Outcome>> {
    let raws: Vec<std::sync::Arc<[u8]>> = mails.iter().map(|(_, raw)| (*raw).into()).collect();
    let reader = inbound::Reader::start(raws, &desk.desk_address(), PARSE_LIMIT);
    // The answers are rendered and composed on a thread of their own
    // while the next mails are processed.
    let fast: StoreResult<Vec<Outcome>> = std::thread::scope(|scope| {
        let post = &mut Post::ahead(scope, desk);
        conn.transaction(|conn| {
            crate::store::lock_for_write(conn)?;
            let mut outcomes = Vec::with_capacity(mails.len());
            for ((source, raw), parsed) in mails.iter().zip(reader) {
                let sha256 = inbound::sha256_hex(raw);
                let message_id = parsed.as_ref().ok().map(|m| m.message_id.as_deref());
                let outcome = match store_raw_in_tx(conn, *source, raw, &sha256, message_id, clock)?
                {
                    Stored::Existing(_, state) if state != mails::state::RECEIVED => {
                        Outcome::AlreadyDone(state)
                    }
                    Stored::New(id) | Stored::Existing(id, _) => {
                        let stored = StoredMail {
                            id,
                            raw,
                            sha256: &sha256,
                        };
                        guarded(|| process_parsed(conn, desk, stored, parsed, clock, post))?
                    }
                };
                outcomes.push(outcome);
            }
            post.flush(conn, desk, clock)?;
            Ok(outcomes)
        })
    });
    match fast {
        Err(e) if !e.is_recoverable() => {
            tracing::warn!("a mail of the batch could not be processed ({e}); processing the batch again mail by mail");
            ingest_one_by_one(conn, desk, mails, clock)
        }
        other => other,
    }
}

/// [`ingest_batch`] with a savepoint per mail: what one mail breaks is
/// undone alone, and that mail is marked failed.
fn ingest_one_by_one(
    conn: &mut AnyConnection,
    desk: &Desk,
    mails: &[(Source<'_>, &[u8])],
    clock: &Clock,
) -> StoreResult<Vec<Outcome>> {
    conn.transaction(|conn| {
        crate::store::lock_for_write(conn)?;
        let mut outcomes = Vec::with_capacity(mails.len());
        for (source, raw) in mails {
            let sha256 = inbound::sha256_hex(raw);
            let id = match store_raw_in_tx(conn, *source, raw, &sha256, None, clock)? {
                Stored::New(id) | Stored::Existing(id, _) => id,
            };
            let outcome =
                match conn.transaction(|conn| guarded(|| process_in_tx(conn, desk, id, clock))) {
                    Ok(o) => o,
                    Err(e) if e.is_recoverable() => return Err(e),
                    Err(e) => {
                        let why = format!("processing failed: {e}");
                        mails::set_state(conn, id, mails::state::FAILED, Some(&why), None)?;
                        Outcome::Failed(why)
                    }
                };
            outcomes.push(outcome);
        }
        Ok(outcomes)
    })
}

/// Runs the processing of one mail, turning a panic of ours into an error
/// that is not retried: the transaction around it rolls back, and the
/// mail is marked failed instead of stopping the mail behind it.
fn guarded<T>(f: impl FnOnce() -> StoreResult<T>) -> StoreResult<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|panic| Err(StoreError::Panic(inbound::panic_message(panic.as_ref()))))
}

/// Processes one stored mail in one transaction. A mail that cannot be read
/// or processed (bad data, a bug of ours) is marked failed and kept; a
/// recoverable database error rolls everything back and is returned, so
/// the mail is processed again later.
pub fn process(
    conn: &mut AnyConnection,
    desk: &Desk,
    raw_id: i64,
    clock: &Clock,
) -> StoreResult<Outcome> {
    let done = conn.transaction(|conn| {
        crate::store::lock_for_write(conn)?;
        guarded(|| process_in_tx(conn, desk, raw_id, clock))
    });
    match done {
        Err(e) if !e.is_recoverable() => {
            let why = format!("processing failed: {e}");
            mark_failed(conn, raw_id, &why)?;
            Ok(Outcome::Failed(why))
        }
        other => other,
    }
}

/// Marks a stored mail failed, in its own transaction, after processing
/// it failed for a reason retrying will not fix.
pub fn mark_failed(conn: &mut AnyConnection, raw_id: i64, why: &str) -> StoreResult<()> {
    conn.transaction(|conn| mails::set_state(conn, raw_id, mails::state::FAILED, Some(why), None))
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
    let parsed = inbound::parse_within(&raw.raw, &desk.desk_address(), PARSE_LIMIT);
    let stored = StoredMail {
        id: raw_id,
        raw: &raw.raw,
        sha256: &raw.sha256,
    };
    process_parsed(conn, desk, stored, parsed, clock, &mut Post::Now)
}

/// A stored mail waiting to be processed.
#[derive(Clone, Copy)]
struct StoredMail<'a> {
    id: i64,
    raw: &'a [u8],
    sha256: &'a str,
}

fn process_parsed(
    conn: &mut AnyConnection,
    desk: &Desk,
    stored: StoredMail<'_>,
    parsed: Result<InboundMessage, inbound::ParseError>,
    clock: &Clock,
    post: &mut Post,
) -> StoreResult<Outcome> {
    let raw_id = stored.id;
    let desk_address = desk.desk_address();
    let mut msg = match parsed {
        Ok(m) => m,
        Err(e) => {
            let why = e.to_string();
            mails::set_state(conn, raw_id, mails::state::FAILED, Some(&why), None)?;
            return Ok(Outcome::Failed(why));
        }
    };
    if mails::find_processed_twin(conn, raw_id, msg.message_id.as_deref(), stored.sha256)?.is_some()
    {
        mails::set_state(conn, raw_id, mails::state::DUPLICATE, None, None)?;
        return Ok(Outcome::Duplicate);
    }
    let own = match &msg.message_id {
        Some(id) if outbound::may_be_ours(id) => outbox::is_ours(conn, id)?,
        _ => false,
    };
    if own || msg.from.email == desk_address {
        let why = "our own mail came back".to_string();
        mails::set_state(conn, raw_id, mails::state::IGNORED, Some(&why), None)?;
        return Ok(Outcome::Ignored(why));
    }

    #[cfg(test)]
    tests::maybe_panic(&msg.subject);
    enforce_size_limits(desk, stored.raw.len(), &mut msg);
    let now = clock.now_naive();
    if msg.automatic.is_none() && addresses::clear_undeliverable(conn, &msg.from.email)? {
        tracing::info!(address = %msg.from.email, "address writes again: mail to it resumes");
    }
    if let Some(b) = &msg.bounce {
        if let (true, Some(r)) = (b.permanent, &b.recipient) {
            let reason = format!("bounced: {}", b.status.as_deref().unwrap_or("no status"));
            addresses::mark_undeliverable(conn, r, &reason, now)?;
            tracing::warn!(address = %r, "address bounced for good: no more mail to it");
        }
    }
    let matched = match_ticket(conn, desk, &msg)?;
    let verdict = match (&matched, msg.automatic) {
        (Some((_, ticket, actor)), auto) => {
            let event = match (&msg.bounce, auto) {
                (Some(b), _) => Event::Bounce {
                    recipient: b.recipient.clone(),
                    status: b.status.clone(),
                    permanent: b.permanent,
                },
                (None, Some(a)) => Event::Automatic(a),
                (None, None) => Event::Mail {
                    body: msg.body.clone(),
                    authenticated: authentication(desk, &msg),
                },
            };
            machine::apply(ticket, &event, *actor, now, &desk.policy)
        }
        (None, Some(auto)) => {
            let why = format!("automatic mail ({auto:?}) matching no ticket, not answered");
            mails::set_state(conn, raw_id, mails::state::IGNORED, Some(&why), None)?;
            return Ok(Outcome::Ignored(why));
        }
        (None, None) => Verdict::OpenNew { follows: None },
    };
    // The same request sent again while it is open: a follow-up on it.
    let (verdict, matched, merged) = match (verdict, matched) {
        (Verdict::OpenNew { follows: None }, _) if msg.automatic.is_none() => {
            let since = now
                - chrono::Duration::from_std(desk.settings.tickets.duplicate_window)
                    .unwrap_or(chrono::Duration::days(1));
            let subject = desk.tagger.clean(&msg.subject);
            match tickets::open_with_subject(conn, &msg.from.email, &subject, since)? {
                Some((id, ticket)) => {
                    let event = Event::Mail {
                        body: msg.body.clone(),
                        authenticated: authentication(desk, &msg),
                    };
                    let verdict =
                        machine::apply(&ticket, &event, Actor::Requester, now, &desk.policy);
                    (verdict, Some((id, ticket, Actor::Requester)), true)
                }
                None => (Verdict::OpenNew { follows: None }, None, false),
            }
        }
        (verdict, matched) => (verdict, matched, false),
    };
    let verdict = match verdict {
        Verdict::Apply(mut d) if merged => {
            d.notices.insert(
                0,
                Notice::new(machine::Template::Acknowledgement, &[Audience::Requester])
                    .situation(machine::Situation::Merged),
            );
            Verdict::Apply(d)
        }
        other => other,
    };
    let (ticket_id, ticket, outcome) = match (verdict, matched) {
        (Verdict::Apply(decision), Some((id, before, _))) => {
            let number = before.number;
            let outcome = match &decision.record {
                Some(r) => Outcome::Added(number, r.kind),
                None => Outcome::CommandRefused(number),
            };
            persist(
                conn,
                desk,
                id,
                &before,
                &decision,
                Some((&msg, raw_id)),
                clock,
                post,
            )?;
            (id, decision.ticket, outcome)
        }
        (verdict, matched) => {
            // A reply to a closed ticket keeps that ticket's subject: ours
            // carries decorations ("Demande clôturée : …").
            let follows = match (verdict, matched) {
                (Verdict::OpenNew { follows: Some(old) }, Some((_, t, _))) => {
                    Some((old, t.subject))
                }
                _ => None,
            };
            let (id, ticket) = open_ticket(conn, desk, &msg, raw_id, follows, clock, post)?;
            let number = ticket.number;
            (id, ticket, Outcome::Created(number))
        }
    };
    if !msg.refused.is_empty() {
        tell_refused_attachments(conn, desk, ticket_id, ticket, &msg, clock, post)?;
    }
    mails::set_state(conn, raw_id, mails::state::PROCESSED, None, Some(ticket_id))?;
    Ok(outcome)
}

/// What the trusted receiving server says of the sender, when configured.
fn authentication(desk: &Desk, msg: &InboundMessage) -> Option<Result<(), String>> {
    let trusted = desk.settings.security.trusted_authserv_id.as_deref()?;
    let headers: Vec<&str> = msg.auth_results.iter().map(String::as_str).collect();
    Some(
        match inbound::auth::judge(&headers, trusted, &msg.from.email) {
            inbound::auth::AuthVerdict::Pass => Ok(()),
            inbound::auth::AuthVerdict::Fail(why) => Err(why),
        },
    )
}

/// Opens a ticket from a mail; `follows` is the closed ticket the requester
/// wrote on, if any.
fn open_ticket(
    conn: &mut AnyConnection,
    desk: &Desk,
    msg: &InboundMessage,
    raw_id: i64,
    follows: Option<(TicketRef, String)>,
    clock: &Clock,
    post: &mut Post,
) -> StoreResult<(i64, Ticket)> {
    let number = tickets::next_number(conn)?;
    let (follows, subject) = match follows {
        Some((old, subject)) => (Some(old), subject),
        None => (None, desk.tagger.clean(&msg.subject)),
    };
    let decision = machine::open(
        number,
        msg.from.clone(),
        subject,
        &msg.body,
        desk.settings.tickets.language,
        clock.now_naive(),
    );
    let id = tickets::insert(conn, &decision.ticket)?;
    let context = Extra {
        follows,
        thread: Some(msg.message_id.iter().cloned().collect()),
    };
    write_decision(
        conn,
        desk,
        id,
        &decision,
        Some((msg, raw_id)),
        &context,
        clock,
        post,
    )?;
    if let Some(old) = follows {
        let line = format!(
            "follows {}, which was closed",
            old.display(desk.tagger.tag())
        );
        let system = Person {
            email: desk.desk_address(),
            name: None,
        };
        tickets::insert_message(
            conn,
            &NewMessage {
                ticket_id: id,
                raw_mail_id: None,
                kind: MessageKind::System,
                from: &system,
                at: clock.now_naive(),
                body: &line,
                message_id: None,
            },
            &[],
        )?;
    }
    Ok((id, decision.ticket))
}

/// Drops the attachments over the configured sizes (all of them when the
/// whole mail is over `max_message_size`); the text is always kept.
fn enforce_size_limits(desk: &Desk, raw_size: usize, msg: &mut InboundMessage) {
    let t = &desk.settings.tickets;
    let whole_too_big = raw_size as u64 > t.max_message_size;
    let (kept, refused): (Vec<_>, Vec<_>) = std::mem::take(&mut msg.attachments)
        .into_iter()
        .partition(|a| !whole_too_big && a.content.len() as u64 <= t.max_attachment_size);
    msg.attachments = kept;
    msg.refused = refused
        .into_iter()
        .map(|a| inbound::RefusedAttachment {
            whole_mail: whole_too_big,
            limit: if whole_too_big {
                t.max_message_size
            } else {
                t.max_attachment_size
            },
            size: a.content.len(),
            filename: a.filename,
        })
        .collect();
}

/// Records which attachments were not kept and tells the sender, unless
/// the sender is a robot (automatic mail is never answered).
fn tell_refused_attachments(
    conn: &mut AnyConnection,
    desk: &Desk,
    ticket_id: i64,
    ticket: Ticket,
    msg: &InboundMessage,
    clock: &Clock,
    post: &mut Post,
) -> StoreResult<()> {
    let lines: Vec<String> = msg
        .refused
        .iter()
        .map(|r| {
            let why = if r.whole_mail {
                "the whole mail is over"
            } else {
                "over"
            };
            format!(
                "attachment not kept: {} ({}): {why} {}",
                r.filename,
                size_text(r.size),
                size_text(r.limit as usize)
            )
        })
        .collect();
    let system = Person {
        email: desk.desk_address(),
        name: None,
    };
    tickets::insert_message(
        conn,
        &NewMessage {
            ticket_id,
            raw_mail_id: None,
            kind: MessageKind::System,
            from: &system,
            at: clock.now_naive(),
            body: &lines.join("\n"),
            message_id: None,
        },
        &[],
    )?;
    if msg.automatic.is_some() {
        return Ok(());
    }
    let decision = Decision {
        ticket,
        record: None,
        notices: vec![Notice::new(
            machine::Template::AttachmentRefused,
            &[Audience::Sender],
        )],
    };
    enqueue_notices(
        conn,
        desk,
        ticket_id,
        &decision,
        Some(msg),
        &Extra::default(),
        clock,
        post,
    )
}

/// Context of a notice beyond the ticket and the mail.
#[derive(Default)]
struct Extra {
    follows: Option<TicketRef>,
    /// The thread's Message-IDs, when known without asking the database
    /// (a ticket just opened).
    thread: Option<Vec<String>>,
}

/// Writes a decision on an existing ticket: the ticket's fields and
/// watchers, the thread record, the outbox rows.
// The change, its context and where its mails go: one argument each.
#[allow(clippy::too_many_arguments)]
fn persist(
    conn: &mut AnyConnection,
    desk: &Desk,
    ticket_id: i64,
    before: &Ticket,
    decision: &Decision,
    mail: Option<(&InboundMessage, i64)>,
    clock: &Clock,
    post: &mut Post,
) -> StoreResult<()> {
    if &decision.ticket != before {
        tickets::update(conn, ticket_id, &decision.ticket)?;
        let now = clock.now_naive();
        for w in &decision.ticket.watchers {
            if !before.watchers.contains(w) {
                tickets::add_watcher(conn, ticket_id, w, now)?;
            }
        }
        for w in &before.watchers {
            if !decision.ticket.watchers.contains(w) {
                tickets::remove_watcher(conn, ticket_id, w)?;
            }
        }
    }
    write_decision(
        conn,
        desk,
        ticket_id,
        decision,
        mail,
        &Extra::default(),
        clock,
        post,
    )
}

// The change, its context and where its mails go: one argument each.
#[allow(clippy::too_many_arguments)]
fn write_decision(
    conn: &mut AnyConnection,
    desk: &Desk,
    ticket_id: i64,
    decision: &Decision,
    mail: Option<(&InboundMessage, i64)>,
    extra: &Extra,
    clock: &Clock,
    post: &mut Post,
) -> StoreResult<()> {
    if let Some(record) = &decision.record {
        let system = Person {
            email: desk.desk_address(),
            name: None,
        };
        let from = mail.map(|(m, _)| &m.from).unwrap_or(&system);
        let files: Vec<NewAttachment<'_>> = match mail {
            Some((m, _)) if record.with_attachments => m
                .attachments
                .iter()
                .map(|a| NewAttachment {
                    filename: &a.filename,
                    content_type: &a.content_type,
                    content: &a.content,
                    sha256: &a.sha256,
                })
                .collect(),
            _ => Vec::new(),
        };
        tickets::insert_message(
            conn,
            &NewMessage {
                ticket_id,
                raw_mail_id: mail.map(|(_, id)| id),
                kind: record.kind,
                from,
                at: clock.now_naive(),
                body: &record.body,
                message_id: mail.and_then(|(m, _)| m.message_id.as_deref()),
            },
            &files,
        )?;
    }
    enqueue_notices(
        conn,
        desk,
        ticket_id,
        decision,
        mail.map(|(m, _)| m),
        extra,
        clock,
        post,
    )
}

/// Runs the scheduler once as of `clock`: reminders and automatic closure
/// of solved tickets, each ticket in its own transaction.
pub fn run_scheduler(
    conn: &mut AnyConnection,
    desk: &Desk,
    clock: &Clock,
) -> StoreResult<SchedulerReport> {
    let mut report = SchedulerReport::default();
    let now = clock.now_naive();
    for id in tickets::ids_with_status(conn, Status::Solved)? {
        conn.transaction(|conn| {
            // Under the write lock, so that several daemons act once per
            // ticket: the second one sees the first one's change.
            crate::store::lock_for_write(conn)?;
            let (id, ticket) = tickets::get_by_id(conn, id)?;
            let Verdict::Apply(decision) =
                machine::apply(&ticket, &Event::Tick, Actor::System, now, &desk.policy)
            else {
                return Ok(());
            };
            if decision.is_noop(&ticket) {
                return Ok(());
            }
            if decision.ticket.status == Status::Closed {
                report.closed += 1;
                tracing::info!(ticket = %ticket.number, "closed automatically");
            } else if decision
                .notices
                .iter()
                .any(|n| n.template == machine::Template::Reminder)
            {
                report.reminded += 1;
                tracing::info!(ticket = %ticket.number, "reminder sent");
            }
            persist(
                conn,
                desk,
                id,
                &ticket,
                &decision,
                None,
                clock,
                &mut Post::Now,
            )
        })?;
    }
    Ok(report)
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SchedulerReport {
    pub reminded: usize,
    pub closed: usize,
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
    // A bounce names the mail of ours that failed.
    if let Some(id) = msg
        .bounce
        .as_ref()
        .and_then(|b| b.original_message_id.clone())
    {
        ids.insert(0, id);
    }
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

/// The addresses a notice goes to. The author of a mail never gets a copy
/// of it as an agent or a watcher.
fn recipients(desk: &Desk, ticket: &Ticket, notice: &Notice, sender: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for audience in &notice.to {
        let (addresses, skip_sender): (Vec<String>, bool) = match audience {
            Audience::Requester => (vec![ticket.requester.email.clone()], false),
            Audience::Watchers => (ticket.watchers.clone(), true),
            Audience::Agents => (desk.settings.tickets.agent_notify.clone(), true),
            Audience::Sender => (sender.map(str::to_string).into_iter().collect(), false),
        };
        for a in addresses {
            if skip_sender && Some(a.as_str()) == sender {
                continue;
            }
            if !out.contains(&a) {
                out.push(a);
            }
        }
    }
    out
}

pub fn size_text(size: usize) -> String {
    match size {
        s if s >= 1 << 20 => {
            let text = format!("{:.1}", s as f64 / (1u64 << 20) as f64);
            format!("{} MiB", text.trim_end_matches(".0"))
        }
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

/// "lundi 30 novembre 2026" / "Monday 30 November 2026", in local time.
pub fn long_date(t: NaiveDateTime, language: Language) -> String {
    use chrono::{Datelike, Local};
    let local = Utc.from_utc_datetime(&t).with_timezone(&Local);
    let weekday = local.weekday().num_days_from_monday() as usize;
    let month = local.month0() as usize;
    match language {
        Language::Fr => {
            const DAYS: [&str; 7] = [
                "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
            ];
            const MONTHS: [&str; 12] = [
                "janvier",
                "février",
                "mars",
                "avril",
                "mai",
                "juin",
                "juillet",
                "août",
                "septembre",
                "octobre",
                "novembre",
                "décembre",
            ];
            let day = if local.day() == 1 {
                "1er".to_string()
            } else {
                local.day().to_string()
            };
            format!(
                "{} {} {} {}",
                DAYS[weekday],
                day,
                MONTHS[month],
                local.year()
            )
        }
        Language::En => {
            const DAYS: [&str; 7] = [
                "Monday",
                "Tuesday",
                "Wednesday",
                "Thursday",
                "Friday",
                "Saturday",
                "Sunday",
            ];
            const MONTHS: [&str; 12] = [
                "January",
                "February",
                "March",
                "April",
                "May",
                "June",
                "July",
                "August",
                "September",
                "October",
                "November",
                "December",
            ];
            format!(
                "{} {} {} {}",
                DAYS[weekday],
                local.day(),
                MONTHS[month],
                local.year()
            )
        }
    }
}

/// The data every template sees (templates/README.md lists it).
pub fn template_context(
    desk: &Desk,
    ticket: &Ticket,
    notice: &Notice,
    message: serde_json::Value,
    solution: Option<&str>,
    follows: Option<TicketRef>,
    agent: Option<&str>,
) -> serde_json::Value {
    let from = &desk.settings.smtp.from;
    let lang = ticket.language;
    let tag = desk.tagger.tag();
    let t = &desk.settings.tickets;
    json!({
        "desk": {
            "name": from.name.clone().unwrap_or_else(|| from.email.to_string()),
            "address": from.email.to_string(),
        },
        "ticket": {
            "number": ticket.number.0,
            "reference": ticket.number.display(tag),
            "subject": ticket.subject,
            "status": ticket.status.as_str(),
            "status_text": status_text(ticket.status, lang),
            "requester": ticket.requester,
            "organisation": ticket.organisation,
            "type": ticket.ticket_type.as_str(),
            "impact": ticket.impact.map(|i| i.as_str()),
            "category": ticket.category,
            "watchers": ticket.watchers,
            "auto_close_date": machine::deadline(ticket, &desk.policy).map(|d| long_date(d, lang)),
            "solved_date": ticket.solved_at.map(|d| long_date(d, lang)),
        },
        "message": message,
        "solution": solution.map(|body| json!({ "body": body })),
        "keywords": {
            "validate": crate::config::TicketSettings::shown_keyword(&t.validate_keywords, lang),
            "refuse": crate::config::TicketSettings::shown_keyword(&t.refuse_keywords, lang),
        },
        "situation": notice.situation.as_str(),
        "follows": follows.map(|f| f.display(tag)),
        "error": notice.error.as_ref().map(|e| json!({ "command": e.command, "reason": e.reason })),
        "agent": agent.map(|name| json!({ "name": name })),
        "reply_to_closed": match desk.policy.reply_to_closed {
            machine::ReplyToClosed::NewTicket => "new_ticket",
            machine::ReplyToClosed::Reopen => "reopen",
        },
    })
}

fn message_context(
    from: &Person,
    body: &str,
    attachments: &[inbound::InboundAttachment],
    refused: &[inbound::RefusedAttachment],
) -> serde_json::Value {
    json!({
        "from": from,
        "body": body,
        "attachments": attachments.iter().map(|a| json!({
            "filename": a.filename,
            "content_type": a.content_type,
            "size": a.content.len(),
            "size_text": size_text(a.content.len()),
        })).collect::<Vec<_>>(),
        "refused": refused.iter().map(|r| json!({
            "filename": r.filename,
            "size_text": size_text(r.size),
            "whole_mail": r.whole_mail,
            "limit_text": size_text(r.limit as usize),
        })).collect::<Vec<_>>(),
    })
}

// The change, its context and where its mails go: one argument each.
#[allow(clippy::too_many_arguments)]
fn enqueue_notices(
    conn: &mut AnyConnection,
    desk: &Desk,
    ticket_id: i64,
    decision: &Decision,
    mail: Option<&InboundMessage>,
    extra: &Extra,
    clock: &Clock,
    post: &mut Post,
) -> StoreResult<()> {
    if decision.notices.is_empty() {
        return Ok(());
    }
    let ticket = &decision.ticket;
    let system = Person {
        email: desk.desk_address(),
        name: None,
    };
    // What the mail says: the recorded text (a solution without its
    // command line), never an internal system line.
    let body = match &decision.record {
        Some(r) if r.kind == MessageKind::System => "",
        Some(r) => r.body.as_str(),
        None => mail.map(|m| m.body.as_str()).unwrap_or(""),
    };
    let message = match mail {
        Some(m) => message_context(&m.from, body, &m.attachments, &m.refused),
        None => message_context(&system, body, &[], &[]),
    };
    let solution = if ticket.status == Status::Solved
        || decision
            .notices
            .iter()
            .any(|n| n.template == machine::Template::Reminder)
    {
        tickets::latest_of_kind(conn, ticket_id, MessageKind::Solution)?
    } else {
        None
    };
    let thread = match &extra.thread {
        Some(known) => Thread::Opened(known),
        None => Thread::Stored {
            // The threading headers name the mails sent on the ticket: the
            // ones posted before are written first.
            received: tickets::thread_received(conn, ticket_id)?,
            sent: {
                post.flush(conn, desk, clock)?;
                outbox::thread_sent(conn, ticket_id)?
            },
            agents: agents::list(conn)?.into_iter().map(|a| a.email).collect(),
        },
    };
    // The agent's name, for the signature of what an agent wrote, when the
    // desk wants it shown.
    let agent_name = match mail {
        Some(m) if desk.settings.tickets.sign_with_agent_name => {
            agents::name_of(conn, &m.from.email)?.map(|name| {
                name.or_else(|| m.from.name.clone())
                    .unwrap_or_else(|| m.from.email.split('@').next().unwrap_or("").to_string())
            })
        }
        _ => None,
    };
    for notice in &decision.notices {
        let signed = matches!(
            notice.template,
            machine::Template::AgentReply
                | machine::Template::Solution
                | machine::Template::AgentClosure
        );
        let addressed = recipients(desk, ticket, notice, mail.map(|m| m.from.email.as_str()))
            .into_iter()
            .map(|to| {
                let references = thread.seen_by(&to, desk, ticket);
                let in_reply_to = mail
                    .and_then(|m| m.message_id.clone())
                    .filter(|id| references.contains(id))
                    .or_else(|| references.last().cloned());
                post::Addressed {
                    to,
                    in_reply_to,
                    references,
                }
            })
            .collect();
        let letters = post::Letters {
            ticket_id,
            ticket: ticket.clone(),
            notice: notice.clone(),
            message: message.clone(),
            solution: solution.clone(),
            follows: extra.follows,
            agent: agent_name.as_ref().filter(|_| signed).cloned(),
            addressed,
            date: clock.now(),
        };
        post.send(conn, desk, clock, letters)?;
    }
    Ok(())
}

/// A ticket's mails so far, for the threading headers of the next one.
enum Thread<'a> {
    /// A ticket just opened: its first mail's Message-ID, if it had one.
    Opened(&'a [String]),
    /// What was received (when, sender, Message-ID) and sent (when,
    /// recipient, Message-ID) on the ticket, and who the agents are.
    Stored {
        received: Vec<(NaiveDateTime, String, String)>,
        sent: Vec<(NaiveDateTime, String, String)>,
        agents: Vec<String>,
    },
}

impl Thread<'_> {
    /// The `References` of a mail to `to` (RFC 5322 section 3.6.4): the
    /// Message-IDs of the ticket's mails that `to` has seen, oldest first
    /// (the request, the mail we sent them, what they wrote), so that
    /// their client threads it. An agent's own mail is never named to a
    /// requester or a watcher: its Message-ID says where it was written.
    /// On long threads the first and the eleven latest are kept.
    fn seen_by(&self, to: &str, desk: &Desk, ticket: &Ticket) -> Vec<String> {
        let (received, sent, agents) = match self {
            Thread::Opened(ids) => return ids.to_vec(),
            Thread::Stored {
                received,
                sent,
                agents,
            } => (received, sent, agents),
        };
        let to_agent = agents.iter().any(|a| a == to)
            || desk.settings.tickets.agent_notify.iter().any(|a| a == to);
        let requester = ticket.requester.email.as_str();
        let mut seen: Vec<(NaiveDateTime, u8, &str)> = received
            .iter()
            .filter(|(_, from, _)| to_agent || from == to || from == requester)
            .map(|(at, _, id)| (*at, 0, id.as_str()))
            .chain(
                sent.iter()
                    .filter(|(_, recipients, _)| recipients.split(',').any(|r| r == to))
                    .map(|(at, _, id)| (*at, 1, id.as_str())),
            )
            .collect();
        // Received and sent at the same moment: the mail came first.
        seen.sort_by_key(|(at, order, _)| (*at, *order));
        let mut ids: Vec<String> = seen.into_iter().map(|(_, _, id)| id.to_string()).collect();
        if ids.len() > 12 {
            ids.drain(1..ids.len() - 11);
        }
        ids
    }
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

/// What the `alert` template is given: the desk, and what is wrong.
pub fn alert_context(desk: &Desk, what: &str, detail: &str, minutes: u64) -> serde_json::Value {
    let from = &desk.settings.smtp.from;
    json!({
        "desk": {
            "name": from.name.clone().unwrap_or_else(|| from.email.to_string()),
            "address": from.email.to_string(),
        },
        "alert": { "what": what, "detail": detail, "minutes": minutes },
    })
}

/// Queues one alert mail to the administrators (`[alerts] to`): `what` is
/// the template's case ("imap_login"), `detail` the one-line reason.
pub fn enqueue_alert(
    conn: &mut AnyConnection,
    desk: &Desk,
    what: &str,
    detail: &str,
    minutes: u64,
    clock: &Clock,
) -> StoreResult<()> {
    let to = &desk.settings.alerts.to;
    if to.is_empty() {
        return Ok(());
    }
    let from = &desk.settings.smtp.from;
    let context = alert_context(desk, what, detail, minutes);
    let rendered = desk
        .renderer
        .render(desk.settings.tickets.language, "alert", &context)
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    conn.transaction(|conn| {
        for address in to {
            let message_id = outbound::new_message_id(from);
            let composed = outbound::compose(&outbound::Draft {
                from,
                to: std::slice::from_ref(address),
                subject: &rendered.subject,
                body: &rendered.body,
                html: rendered.html.as_deref(),
                message_id: &message_id,
                in_reply_to: None,
                references: &[],
                auto_submitted: "auto-generated",
                date: clock.now(),
            })
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
            outbox::insert_all(
                conn,
                &[outbox::NewOutgoing {
                    ticket_id: None,
                    kind: "alert",
                    message_id: &message_id,
                    sender: from.email.as_ref(),
                    recipients: address,
                    subject: &rendered.subject,
                    raw: &composed.raw,
                    state: outbox::state::PENDING,
                    attempts: 0,
                    next_attempt_at: clock.now_naive(),
                    created_at: clock.now_naive(),
                    last_error: None,
                }],
            )?;
        }
        Ok(())
    })
}

/// The relay refused a mail for good (5xx): like a bounce, the address is
/// marked undeliverable, the refusal goes on the ticket's thread and the
/// agents are told. Mail to the agents' own addresses only logs, so that a
/// failing notification address cannot feed itself.
pub fn relay_refused(
    conn: &mut AnyConnection,
    desk: &Desk,
    row: &outbox::Outgoing,
    why: &str,
    clock: &Clock,
) -> StoreResult<()> {
    let to_agents = desk
        .settings
        .tickets
        .agent_notify
        .iter()
        .any(|a| a == &row.recipients);
    let Some(ticket_id) = row.ticket_id else {
        return Ok(());
    };
    if to_agents || row.kind == machine::Template::AgentBounce.name() {
        return Ok(());
    }
    conn.transaction(|conn| {
        // A ticket change: committed to disk, whatever the sending
        // connection's own records do (outbound::dispatch::send_due).
        crate::store::durable_commit(conn)?;
        crate::store::lock_for_write(conn)?;
        let now = clock.now_naive();
        addresses::mark_undeliverable(
            conn,
            &row.recipients,
            &format!("refused by the relay: {why}"),
            now,
        )?;
        let (id, ticket) = tickets::get_by_id(conn, ticket_id)?;
        let status = why
            .split_whitespace()
            .find(|w| w.len() == 5 && w.starts_with('5') && w.as_bytes()[1] == b'.')
            .map(str::to_string)
            .or_else(|| {
                why.split_whitespace()
                    .find(|w| w.len() == 3 && w.starts_with('5'))
                    .map(str::to_string)
            });
        let event = Event::Bounce {
            recipient: Some(row.recipients.clone()),
            status,
            permanent: true,
        };
        if let Verdict::Apply(decision) =
            machine::apply(&ticket, &event, Actor::System, now, &desk.policy)
        {
            persist(
                conn,
                desk,
                id,
                &ticket,
                &decision,
                None,
                clock,
                &mut Post::Now,
            )?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Processing panics on a mail with this subject (unit tests only):
    /// a bug of ours, reached after the mail was parsed.
    const PANIC_SUBJECT: &str = "make the processing panic";

    pub(super) fn maybe_panic(subject: &str) {
        assert!(subject != PANIC_SUBJECT, "injected panic");
    }

    fn desk(dir: &std::path::Path) -> Desk {
        let text = format!(
            r#"[database]
url = "sqlite://{}/g.db"
[imap]
host = "127.0.0.1"
tls = "none"
username = "support@example.test"
password = "x"
[smtp]
host = "127.0.0.1"
tls = "none"
from = "Support <support@example.test>"
[tickets]
agent_notify = ["sau@example.test"]
"#,
            dir.display()
        );
        Desk::new(Settings::parse(&text).expect("valid settings")).expect("desk")
    }

    fn mail(n: usize, subject: &str) -> Vec<u8> {
        format!(
            "From: Requester {n} <r{n}@example.org>\r\nTo: support@example.test\r\n\
             Subject: {subject}\r\nMessage-ID: <m{n}@example.org>\r\n\
             Date: Mon, 23 Nov 2026 09:00:00 +0100\r\n\r\nHello {n}\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn a_panic_while_processing_fails_that_mail_only() {
        let dir = tempfile::tempdir().unwrap();
        let desk = desk(dir.path());
        let mut conn = crate::store::connect(&desk.settings.database_url).unwrap();
        crate::store::migrate(&mut conn).unwrap();
        let clock = Clock::System;
        let raws = [mail(1, "first"), mail(2, PANIC_SUBJECT), mail(3, "third")];
        let batch: Vec<(Source<'_>, &[u8])> = raws
            .iter()
            .enumerate()
            .map(|(i, raw)| {
                let source = Source {
                    name: "INBOX",
                    uidvalidity: Some(1),
                    uid: Some(i as u32 + 1),
                };
                (source, raw.as_slice())
            })
            .collect();
        let outcomes = ingest_batch(&mut conn, &desk, &batch, &clock).unwrap();
        assert!(matches!(outcomes[0], Outcome::Created(_)), "{outcomes:?}");
        assert!(
            matches!(&outcomes[1], Outcome::Failed(why) if why.contains("injected panic")),
            "{outcomes:?}"
        );
        assert!(matches!(outcomes[2], Outcome::Created(_)), "{outcomes:?}");
        // Kept, and not tried again by itself at the next start.
        assert_eq!(mails::unprocessed(&mut conn).unwrap(), Vec::<i64>::new());
        assert!(resume_unprocessed(&mut conn, &desk, &clock)
            .unwrap()
            .is_empty());

        // The same through `process` (ingest, failed retry): marked failed.
        let id = store_raw(
            &mut conn,
            Source {
                name: "ingest",
                uidvalidity: None,
                uid: None,
            },
            &mail(4, PANIC_SUBJECT),
            &clock,
        )
        .unwrap();
        let outcome = process(&mut conn, &desk, id, &clock).unwrap();
        assert!(matches!(outcome, Outcome::Failed(_)), "{outcome:?}");
        assert_eq!(
            mails::get(&mut conn, id).unwrap().state,
            mails::state::FAILED
        );
    }
}
