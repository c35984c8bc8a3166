//! Mail into tickets: the raw mail stored first, then in one transaction
//! read, matched to its ticket, decided ([`crate::ticket::decide`]) and
//! applied, with the outbox rows of the mails it causes.

use std::sync::Arc;

use diesel::Connection;

use super::apply::{self, Received};
use super::post::Post;
use super::{guarded, Desk, Outcome};
use crate::clock::Clock;
use crate::inbound::{self, InboundMessage};
use crate::outbound;
use crate::store::{mails, outbox, tickets, AnyConnection, StoreResult};
use crate::ticket::classify;
use crate::ticket::decide::{self, Context, Mail};
use crate::ticket::digest::Reader;
use crate::ticket::letters::Agents;
use crate::ticket::plan::{PlanOutcome, TicketChange};
use crate::ticket::{Attachment, Forwarded, Ticket};

/// Reading one mail may take this long; past it the mail is set aside.
const PARSE_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Called before each mail is read and processed: the daemon's heartbeat
/// (each mail is bounded in time, a batch of hostile ones is not).
pub type Progress<'a> = &'a (dyn Fn() + Sync);

/// Where a raw mail came from: an IMAP mailbox position, or a pipe/file.
#[derive(Clone, Copy, Debug)]
pub struct Source<'a> {
    pub name: &'a str,
    pub uidvalidity: Option<u32>,
    pub uid: Option<u32>,
}

/// Where piped mail comes from (`guichet ingest`, by itself or through the
/// daemon): no IMAP position.
pub const PIPED: Source<'static> = Source {
    name: "ingest",
    uidvalidity: None,
    uid: None,
};

/// Stores the raw bytes alone; returns the row id. A mail already stored
/// under the same IMAP key is not stored twice. (Mail is stored and
/// processed together by [`ingest_batch`]; tests store it alone to
/// process it later, as a crash between the two would leave it.)
#[cfg(test)]
fn store_raw(
    conn: &mut AnyConnection,
    source: Source<'_>,
    raw: &[u8],
    clock: &Clock,
) -> StoreResult<i64> {
    conn.transaction(|conn| {
        crate::store::lock_for_write(conn)?;
        let sha256 = inbound::sha256_hex(raw);
        match store_raw_in_tx(conn, source, raw, &sha256, None, clock)? {
            Stored::New(mails::Inserted { id, .. }) | Stored::Existing(id, _) => Ok(id),
        }
    })
}

/// A raw mail once stored: its row, and whether an earlier run already
/// took it past `received`.
enum Stored {
    New(mails::Inserted),
    Existing(i64, String),
}

/// What is known of a mail read before it is stored.
#[derive(Clone, Copy)]
struct Known<'a> {
    message_id: Option<&'a str>,
    /// Its fingerprint, when it has a Message-ID (what
    /// [`mails::find_processed_twin`] compares).
    fingerprint: Option<&'a str>,
    /// Its sender's address.
    sender: &'a str,
    /// Since when a ticket of the sender's with the same subject takes
    /// the mail in (the desk's duplicate window).
    open_since: chrono::NaiveDateTime,
}

/// Stores a raw mail unless it is stored already under its IMAP key (one
/// statement either way when it is new).
fn store_raw_in_tx(
    conn: &mut AnyConnection,
    source: Source<'_>,
    raw: &[u8],
    sha256: &str,
    known: Option<Known<'_>>,
    clock: &Clock,
) -> StoreResult<Stored> {
    let message_id = match known {
        Some(k) => k.message_id.map(str::to_string),
        None => inbound::peek_message_id(raw),
    };
    let inserted = mails::insert(
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
            fingerprint: known.and_then(|k| k.fingerprint),
            sender: known.map(|k| k.sender),
            open_since: known.map(|k| k.open_since),
        },
    )?;
    if let Some(new) = inserted {
        return Ok(Stored::New(new));
    }
    // Only a mail with an IMAP key can be stored already.
    let (Some(v), Some(u)) = (source.uidvalidity, source.uid) else {
        return Err(crate::store::StoreError::Invalid(
            "a mail without IMAP key was not stored".into(),
        ));
    };
    match mails::find_by_key(conn, source.name, v.into(), u.into())? {
        Some((id, state)) => Ok(Stored::Existing(id, state)),
        None => Err(crate::store::StoreError::Invalid(format!(
            "mail {} of {} neither stored nor found",
            u, source.name
        ))),
    }
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
    mails: &[(Source<'_>, Arc<[u8]>)],
    clock: &Clock,
    progress: Progress<'_>,
) -> StoreResult<Vec<Outcome>> {
    let raws: Vec<Arc<[u8]>> = mails.iter().map(|(_, raw)| Arc::clone(raw)).collect();
    let reader = inbound::Reader::start(raws, &desk.policy.desk_address, PARSE_LIMIT);
    // The answers are rendered and composed on a thread of their own
    // while the next mails are processed.
    let fast: StoreResult<Vec<Outcome>> = std::thread::scope(|scope| {
        let post = &mut Post::ahead(scope, desk);
        conn.transaction(|conn| {
            crate::store::lock_for_write(conn)?;
            let agents = apply::agents(conn)?;
            let mut unwritten = Unwritten::default();
            let mut outcomes = Vec::with_capacity(mails.len());
            for ((source, raw), parsed) in mails.iter().zip(reader) {
                progress();
                let sha256 = inbound::sha256_hex(raw);
                let fingerprint = parsed
                    .as_ref()
                    .ok()
                    .filter(|m| m.message_id.is_some())
                    .map(InboundMessage::fingerprint);
                let known = parsed.as_ref().ok().map(|m| Known {
                    message_id: m.message_id.as_deref(),
                    fingerprint: fingerprint.as_deref(),
                    sender: &m.from.email,
                    open_since: desk.policy.duplicate_since(clock.now_naive()),
                });
                let outcome = match store_raw_in_tx(conn, *source, raw, &sha256, known, clock)? {
                    Stored::Existing(_, state) if state != mails::state::RECEIVED => {
                        Outcome::AlreadyDone(state)
                    }
                    was => {
                        let stored = match &was {
                            // Stored with the row when the mail is new,
                            // with what was looked up with it.
                            Stored::New(new) => StoredMail {
                                fingerprint: fingerprint.as_deref(),
                                twin: new.twin,
                                sender_undeliverable: new.sender_undeliverable,
                                open_tickets: new.open_tickets.as_deref(),
                                ..StoredMail::new(new.id, raw, &sha256, source.name)
                            },
                            Stored::Existing(id, _) => {
                                StoredMail::new(*id, raw, &sha256, source.name)
                            }
                        };
                        let with = Processing {
                            desk,
                            agents: &agents,
                            clock,
                        };
                        let states = &mut States::Batch(&mut unwritten);
                        guarded(|| process_parsed(conn, with, stored, parsed, post, states))?
                    }
                };
                outcomes.push(outcome);
            }
            post.flush(conn, desk, clock)?;
            unwritten.write(conn)?;
            Ok(outcomes)
        })
    });
    match fast {
        Err(e) if !e.is_recoverable() => {
            tracing::warn!("a mail of the batch could not be processed ({e}); processing the batch again mail by mail");
            ingest_one_by_one(conn, desk, mails, clock, progress)
        }
        other => other,
    }
}

/// [`ingest_batch`] with a savepoint per mail: what one mail breaks is
/// undone alone, and that mail is marked failed.
fn ingest_one_by_one(
    conn: &mut AnyConnection,
    desk: &Desk,
    mails: &[(Source<'_>, Arc<[u8]>)],
    clock: &Clock,
    progress: Progress<'_>,
) -> StoreResult<Vec<Outcome>> {
    conn.transaction(|conn| {
        crate::store::lock_for_write(conn)?;
        let mut outcomes = Vec::with_capacity(mails.len());
        for (source, raw) in mails {
            progress();
            let sha256 = inbound::sha256_hex(raw);
            let (id, stored) = match store_raw_in_tx(conn, *source, raw, &sha256, None, clock)? {
                Stored::New(new) => (new.id, None),
                Stored::Existing(id, state) => (id, Some(state)),
            };
            let outcome = match stored {
                Some(state) if state != mails::state::RECEIVED => Outcome::AlreadyDone(state),
                _ => match conn.transaction(|conn| {
                    guarded(|| process_stored(conn, desk, (id, source.name), raw, &sha256, clock))
                }) {
                    Ok(o) => o,
                    Err(e) if e.is_recoverable() => return Err(e),
                    Err(e) => {
                        let why = format!("processing failed: {e}");
                        mails::set_state(conn, id, mails::state::FAILED, Some(&why), None)?;
                        Outcome::Failed(why)
                    }
                },
            };
            outcomes.push(outcome);
        }
        Ok(outcomes)
    })
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
        guarded(|| {
            let raw = mails::get(conn, raw_id)?;
            if raw.state != mails::state::RECEIVED {
                return Ok(Outcome::AlreadyDone(raw.state));
            }
            process_stored(
                conn,
                desk,
                (raw_id, &raw.source),
                &raw.raw,
                &raw.sha256,
                clock,
            )
        })
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

/// Re-processes mails left `received` by an interrupted run.
pub fn resume_unprocessed(
    conn: &mut AnyConnection,
    desk: &Desk,
    clock: &Clock,
    progress: Progress<'_>,
) -> StoreResult<Vec<Outcome>> {
    let ids = mails::unprocessed(conn)?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        progress();
        out.push(process(conn, desk, id, clock)?);
    }
    Ok(out)
}

/// A stored mail read on this thread and processed, mail by mail.
fn process_stored(
    conn: &mut AnyConnection,
    desk: &Desk,
    (raw_id, source): (i64, &str),
    raw: &[u8],
    sha256: &str,
    clock: &Clock,
) -> StoreResult<Outcome> {
    let parsed = inbound::parse_within(raw, &desk.policy.desk_address, PARSE_LIMIT);
    let stored = StoredMail::new(raw_id, raw, sha256, source);
    let agents = apply::agents(conn)?;
    let with = Processing {
        desk,
        agents: &agents,
        clock,
    };
    process_parsed(conn, with, stored, parsed, &mut Post::Now, &mut States::Now)
}

/// A stored mail waiting to be processed.
#[derive(Clone, Copy)]
struct StoredMail<'a> {
    id: i64,
    raw: &'a [u8],
    sha256: &'a str,
    /// Where it was fetched: the `[[mailbox]]` it came from gives its
    /// ticket's queue.
    source: &'a str,
    /// Its fingerprint, when stored with it.
    fingerprint: Option<&'a str>,
    /// [`mails::find_processed_twin`]'s answer, when looked up as it was
    /// stored.
    twin: Option<Option<i64>>,
    /// Whether its sender is marked undeliverable, when looked up as it
    /// was stored.
    sender_undeliverable: Option<bool>,
    /// Its sender's open tickets in the duplicate window, when looked up
    /// as it was stored ([`mails::Inserted::open_tickets`]).
    open_tickets: Option<&'a [(i64, String)]>,
}

impl<'a> StoredMail<'a> {
    /// A stored mail nothing was looked up for yet.
    fn new(id: i64, raw: &'a [u8], sha256: &'a str, source: &'a str) -> StoredMail<'a> {
        StoredMail {
            id,
            raw,
            sha256,
            source,
            fingerprint: None,
            twin: None,
            sender_undeliverable: None,
            open_tickets: None,
        }
    }
}

/// What a mail is processed with: the desk, its agents (read once for a
/// batch) and the clock.
#[derive(Clone, Copy)]
struct Processing<'a> {
    desk: &'a Desk,
    agents: &'a Agents,
    clock: &'a Clock,
}

/// Where a processed mail's state goes: set at once, or kept with those
/// of its batch and written at the batch's end ([`mails::set_states`]:
/// on PostgreSQL one round trip for the batch instead of one per mail).
enum States<'s> {
    Now,
    Batch(&'s mut Unwritten),
}

/// A batch's states not written yet, and what tells a later mail of the
/// batch that it is the twin of one of them: the store's lookups read
/// only the states written.
#[derive(Default)]
struct Unwritten {
    changes: Vec<mails::StateChange>,
    handled: Vec<TwinKey>,
}

/// What [`mails::find_processed_twin`] compares.
struct TwinKey {
    message_id: Option<String>,
    fingerprint: String,
    sha256: String,
}

impl TwinKey {
    fn is_twin_of(&self, other: &TwinKey) -> bool {
        let same_message = self.message_id.is_some()
            && self.message_id == other.message_id
            && self.fingerprint == other.fingerprint;
        same_message || self.sha256 == other.sha256
    }
}

impl States<'_> {
    /// Sets a mail's state; `key` is what makes a processed or ignored
    /// mail the twin of a later one.
    fn set(
        &mut self,
        conn: &mut AnyConnection,
        change: mails::StateChange,
        key: Option<TwinKey>,
    ) -> StoreResult<()> {
        match self {
            States::Now => mails::set_state(
                conn,
                change.id,
                change.state,
                change.error.as_deref(),
                change.ticket_id,
            ),
            States::Batch(unwritten) => {
                let handled = [mails::state::PROCESSED, mails::state::IGNORED];
                if let Some(key) = key.filter(|_| handled.contains(&change.state)) {
                    unwritten.handled.push(key);
                }
                unwritten.changes.push(change);
                Ok(())
            }
        }
    }

    /// Whether a mail of the batch not written yet is this one's twin.
    fn twin_unwritten(&self, key: &TwinKey) -> bool {
        match self {
            States::Now => false,
            States::Batch(unwritten) => unwritten.handled.iter().any(|h| h.is_twin_of(key)),
        }
    }

    /// Writes the states kept so far: before a change that reads them.
    fn write(&mut self, conn: &mut AnyConnection) -> StoreResult<()> {
        match self {
            States::Now => Ok(()),
            States::Batch(unwritten) => unwritten.write(conn),
        }
    }
}

impl Unwritten {
    fn write(&mut self, conn: &mut AnyConnection) -> StoreResult<()> {
        mails::set_states(conn, &self.changes)?;
        self.changes.clear();
        Ok(())
    }
}

/// One mail: the snapshot loaded, the plan decided and applied, the raw
/// mail's state set.
fn process_parsed(
    conn: &mut AnyConnection,
    with: Processing<'_>,
    stored: StoredMail<'_>,
    parsed: Result<InboundMessage, inbound::ParseError>,
    post: &mut Post,
    states: &mut States<'_>,
) -> StoreResult<Outcome> {
    let Processing {
        desk,
        agents,
        clock,
    } = with;
    let raw_id = stored.id;
    let change = |state, error: Option<&str>, ticket_id| mails::StateChange {
        id: raw_id,
        state,
        error: error.map(str::to_string),
        ticket_id,
    };
    let msg = match parsed {
        Ok(m) => m,
        Err(e) => {
            let why = e.to_string();
            states.set(conn, change(mails::state::FAILED, Some(&why), None), None)?;
            return Ok(Outcome::Failed(why));
        }
    };
    let fingerprint = match stored.fingerprint {
        Some(f) => f.to_string(),
        None => {
            let f = msg.fingerprint();
            if msg.message_id.is_some() {
                mails::set_fingerprint(conn, raw_id, &f)?;
            }
            f
        }
    };
    let twin = match stored.twin {
        Some(twin) => twin,
        None => mails::find_processed_twin(
            conn,
            raw_id,
            msg.message_id.as_deref(),
            &fingerprint,
            stored.sha256,
        )?,
    };
    let key = TwinKey {
        message_id: msg.message_id.clone(),
        fingerprint,
        sha256: stored.sha256.to_string(),
    };
    if twin.is_some() || states.twin_unwritten(&key) {
        states.set(conn, change(mails::state::DUPLICATE, None, None), None)?;
        return Ok(Outcome::Duplicate);
    }
    #[cfg(test)]
    tests::maybe_panic(&msg.subject);

    let ours = match &msg.message_id {
        Some(id) if outbound::may_be_ours(id) => outbox::is_ours(conn, id)?,
        _ => false,
    };
    let attachments: Vec<Attachment> = msg
        .attachments
        .iter()
        .map(|a| Attachment {
            filename: a.filename.clone(),
            content_type: a.content_type.clone(),
            size: a.content.len() as u64,
            sha256: a.sha256.clone(),
        })
        .collect();
    // "[Incident][Bloquant] …": the type and impact the requester states,
    // left out of the ticket's subject.
    let stated = classify::stated_in_subject(&desk.tagger.clean(&msg.subject));
    let subject = stated.subject.clone();
    let classified = inbound::rules::classify(
        &desk.settings.rules,
        &inbound::rules::Fields {
            subject: &subject,
            body: &msg.body,
            from: &msg.from,
            to: &msg.copied,
        },
    )
    .with_stated(&stated);
    let authenticated = authentication(desk, &msg);
    let forwarded = msg.forwarded.as_ref().map(|f| Forwarded {
        from: f.from.clone(),
        subject: f.subject.as_deref().map(|s| desk.tagger.clean(s)),
        body: f.body.clone(),
        note: f.note.clone(),
        phone: f.phone.clone(),
    });
    let sender_doubt = msg
        .sender_doubt
        .as_ref()
        .map(|d| d.text(desk.policy.language));
    let mail = Mail {
        from: &msg.from,
        copied: &msg.copied,
        message_id: msg.message_id.as_deref(),
        subject: &subject,
        body: &msg.body,
        automatic: msg.automatic,
        bounce: msg.bounce.as_ref(),
        authenticated: authenticated.as_ref(),
        sender_doubt: sender_doubt.as_deref(),
        attachments: &attachments,
        raw_size: stored.raw.len() as u64,
        classified: &classified,
        phone: msg.phone.as_deref(),
        forwarded: forwarded.as_ref(),
        mailbox_queue: desk
            .settings
            .mailboxes
            .iter()
            .find(|m| m.key == stored.source)
            .and_then(|m| m.queue.as_deref()),
    };
    let (matched, threaded) = if ours {
        (None, false)
    } else {
        match_ticket(conn, desk, &msg)?
    };
    let from_agent = agents.is_agent(&msg.from.email);
    let matched = match matched {
        Some((id, ticket)) => Some((id, apply::snapshot(conn, id, ticket, post, from_agent)?)),
        None => None,
    };
    let same_subject =
        if !ours && decide::may_merge(&mail, matched.as_ref().map(|(_, s)| s), threaded, agents) {
            let found = match stored.open_tickets {
                Some(candidates) => tickets::with_subject_among(conn, candidates, &subject)?,
                None => {
                    let since = desk.policy.duplicate_since(clock.now_naive());
                    tickets::open_with_subject(conn, &msg.from.email, &subject, since)?
                }
            };
            match found {
                Some((id, ticket)) => Some((id, apply::snapshot(conn, id, ticket, post, false)?)),
                None => None,
            }
        } else {
            None
        };
    // A delivery report acts only on a mail of ours it names.
    let reported: Option<Vec<String>> = match msg
        .bounce
        .as_ref()
        .and_then(|b| b.original_message_id.as_deref())
    {
        Some(id) => outbox::recipients_of(conn, id)?
            .map(|r| r.split(',').map(|a| a.trim().to_lowercase()).collect()),
        None => None,
    };
    // The ticket an agent's #merge names.
    let target = match decide::merge_target(&mail, agents) {
        Some(n) if matched.is_some() => tickets::find_by_number(conn, n)?.map(|(_, t)| t),
        _ => None,
    };
    let context = Context {
        ours,
        reported: reported.as_deref(),
        matched: matched.as_ref().map(|(_, s)| s),
        threaded,
        same_subject: same_subject.as_ref().map(|(_, s)| s),
        target: target.as_ref(),
        agents,
    };
    let plan = decide::decide(
        &context,
        &mail,
        &desk.policy,
        clock.now_naive(),
        &mut desk.message_ids(),
    );
    // The row of the ticket the plan updates: the merged one when the
    // mail joins the open ticket with its subject.
    let ticket_id = match (&plan.ticket, &matched, &same_subject) {
        (TicketChange::Update { before, .. }, m, s) => [m, s]
            .into_iter()
            .flatten()
            .find(|(_, snap)| snap.ticket.number == before.number)
            .map(|(id, _)| *id),
        _ => None,
    };
    let outcome = plan.outcome.clone();
    if plan.joins.is_some() {
        // A thread that moves takes its mails' rows with it.
        states.write(conn)?;
    }
    let written = apply::apply(
        conn,
        desk,
        plan,
        ticket_id,
        Some(Received {
            message: &msg,
            raw_id,
            sender_undeliverable: stored.sender_undeliverable,
        }),
        clock,
        post,
    )?;
    if outcome == PlanOutcome::DigestAsked {
        // The agent's digest, queued with the mail's state: asked once,
        // sent once.
        let agent = msg.from.email.to_lowercase();
        let readers = [(Reader::Agent(agent.clone()), vec![agent.clone()])];
        let digests = super::digest::compose(conn, desk, &readers, clock.now_naive())?;
        let why = format!("#digest: the digest was sent to {agent}");
        conn.transaction(|conn| -> StoreResult<()> {
            super::digest::enqueue(conn, desk, &digests, true, clock)?;
            mails::set_state(conn, raw_id, mails::state::IGNORED, Some(&why), None)
        })?;
        tracing::info!(agent = %agent, "digest sent on demand");
        return Ok(Outcome::Ignored(why));
    }
    let Some((ticket_id, ticket)) = written else {
        let why = match outcome {
            PlanOutcome::Ignored(why) => why,
            other => format!("{other:?}"),
        };
        let ignored = change(mails::state::IGNORED, Some(&why), None);
        states.set(conn, ignored, Some(key))?;
        return Ok(Outcome::Ignored(why));
    };
    let processed = change(mails::state::PROCESSED, None, Some(ticket_id));
    states.set(conn, processed, Some(key))?;
    let number = ticket.number;
    Ok(match outcome {
        PlanOutcome::Opened => Outcome::Created(number),
        PlanOutcome::Added(kind) => Outcome::Added(number, kind),
        PlanOutcome::CommandRefused => Outcome::CommandRefused(number),
        // Neither comes with a ticket written from a mail.
        PlanOutcome::Ignored(why) => Outcome::Ignored(why),
        PlanOutcome::Scheduled | PlanOutcome::DigestAsked => {
            Outcome::Ignored("nothing from a mail".into())
        }
    })
}

/// What the trusted receiving server says of the sender, when configured.
fn authentication(desk: &Desk, msg: &InboundMessage) -> Option<Result<(), String>> {
    let trusted = desk.settings.security.trusted_authserv_id.as_deref()?;
    let headers: Vec<&str> = msg.auth_results.iter().map(String::as_str).collect();
    Some(
        match inbound::auth::judge(&headers, trusted, &msg.from.email) {
            inbound::auth::AuthVerdict::Pass => Ok(()),
            // In the desk's language: the sender and the agents read it.
            inbound::auth::AuthVerdict::Fail(why) => Err(why.text(desk.policy.language)),
        },
    )
}

/// The ticket a mail belongs to, by threading headers first (Message-IDs we
/// sent or received), then by the subject tag; and whether its threading
/// headers named it.
fn match_ticket(
    conn: &mut AnyConnection,
    desk: &Desk,
    msg: &InboundMessage,
) -> StoreResult<(Option<(i64, Ticket)>, bool)> {
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
    Ok(match by_thread {
        Some(id) => (Some(tickets::get_by_id(conn, id)?), true),
        None => match desk.tagger.find(&msg.subject) {
            Some(number) => (tickets::find_by_number(conn, number)?, false),
            None => (None, false),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

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

    /// A mail of a batch is the twin of one handled before it in the batch
    /// as the store's lookup would say once their states are written.
    #[test]
    fn a_twin_within_a_batch_is_told_as_the_store_tells_it() {
        let key = |message_id: Option<&str>, fingerprint: &str, sha256: &str| TwinKey {
            message_id: message_id.map(str::to_string),
            fingerprint: fingerprint.to_string(),
            sha256: sha256.to_string(),
        };
        let first = key(Some("a@example.org"), "f1", "s1");
        // Delivered again through another address: other headers.
        assert!(key(Some("a@example.org"), "f1", "s2").is_twin_of(&first));
        // The same Message-ID on another text: not the same mail.
        assert!(!key(Some("a@example.org"), "f2", "s2").is_twin_of(&first));
        // The same bytes.
        assert!(key(None, "f9", "s1").is_twin_of(&first));
        // Without Message-ID, only the bytes tell.
        assert!(!key(None, "f1", "s3").is_twin_of(&key(None, "f1", "s4")));
    }

    #[test]
    fn a_panic_while_processing_fails_that_mail_only() {
        let dir = tempfile::tempdir().unwrap();
        let desk = desk(dir.path());
        let mut conn = crate::store::connect(&desk.settings.database_url).unwrap();
        crate::store::migrate(&mut conn).unwrap();
        let clock = Clock::System;
        let raws = [mail(1, "first"), mail(2, PANIC_SUBJECT), mail(3, "third")];
        let batch: Vec<(Source<'_>, Arc<[u8]>)> = raws
            .iter()
            .enumerate()
            .map(|(i, raw)| {
                let source = Source {
                    name: "INBOX",
                    uidvalidity: Some(1),
                    uid: Some(i as u32 + 1),
                };
                (source, Arc::from(raw.as_slice()))
            })
            .collect();
        let outcomes = ingest_batch(&mut conn, &desk, &batch, &clock, &|| ()).unwrap();
        assert!(matches!(outcomes[0], Outcome::Created(_)), "{outcomes:?}");
        assert!(
            matches!(&outcomes[1], Outcome::Failed(why) if why.contains("injected panic")),
            "{outcomes:?}"
        );
        assert!(matches!(outcomes[2], Outcome::Created(_)), "{outcomes:?}");
        // Kept, and not tried again by itself at the next start.
        assert_eq!(mails::unprocessed(&mut conn).unwrap(), Vec::<i64>::new());
        assert!(resume_unprocessed(&mut conn, &desk, &clock, &|| ())
            .unwrap()
            .is_empty());

        // The same through `process` (`failed retry`, a mail left
        // unprocessed): marked failed.
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
