//! Where the mails a change causes go: rendered and composed, then
//! written to the outbox in the transaction of the change. One mail at a
//! time they are composed at once. In a batch they are composed on a
//! thread of their own while the next mails are processed, and written in
//! the order they were posted: at the batch's end, or before a change
//! reads the mails sent on a ticket (the threading headers). The loop
//! guard reads the outbox once for the mails written together and counts
//! each one it lets through before deciding the next, so it sees every
//! mail posted before, as when mail is written at once.

use std::sync::mpsc;

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};

use super::machine::{Notice, Template};
use super::service::{self, Desk};
use super::{Ticket, TicketRef};
use crate::clock::Clock;
use crate::outbound;
use crate::store::{addresses, outbox, AnyConnection, StoreError, StoreResult};

/// One notice to render, what its template is told (see
/// [`service::template_context`]), and the mails it makes: one per
/// recipient.
pub(super) struct Letters {
    pub ticket_id: i64,
    pub ticket: Ticket,
    pub notice: Notice,
    pub message: serde_json::Value,
    pub solution: Option<String>,
    pub follows: Option<TicketRef>,
    pub agent: Option<String>,
    pub addressed: Vec<Addressed>,
    pub date: DateTime<Utc>,
}

/// One recipient of a notice, with its threading headers.
pub(super) struct Addressed {
    pub to: String,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
}

/// A notice rendered, all that is left of it to write to the outbox
/// (what it was made from is dropped at once, so that a batch holds only
/// this until its end): its subject, and the recipient, Message-ID and
/// bytes of each of its mails.
struct Written {
    ticket_id: i64,
    template: Template,
    subject: String,
    mails: Vec<(String, String, Vec<u8>)>,
}

/// How a change's mails are posted.
pub(super) enum Post {
    /// Composed and written at once.
    Now,
    /// Composed on the composing thread; written at the next
    /// [`Post::flush`].
    Ahead(Composer),
}

/// The composing thread of a batch (it ends with the sender, and the
/// scope joins it), and the notices handed to it.
pub(super) struct Composer {
    jobs: mpsc::Sender<Letters>,
    done: mpsc::Receiver<StoreResult<Written>>,
    in_flight: usize,
}

impl Post {
    /// A composing thread in `scope`, which ends when the `Post` is
    /// dropped.
    pub(super) fn ahead<'s>(scope: &'s std::thread::Scope<'s, '_>, desk: &'s Desk) -> Post {
        let (jobs, inbox) = mpsc::channel::<Letters>();
        let (outbox, done) = mpsc::channel();
        // Named, so that `top -H` and profiles tell it apart.
        let composer = std::thread::Builder::new()
            .name("compose".into())
            .spawn_scoped(scope, move || {
                for letters in inbox {
                    if outbox.send(guarded_write_out(desk, letters)).is_err() {
                        return;
                    }
                }
            });
        if composer.is_err() {
            // No thread to be had: every mail is written as it is posted.
            return Post::Now;
        }
        Post::Ahead(Composer {
            jobs,
            done,
            in_flight: 0,
        })
    }

    /// Posts one notice's mails: written now, or handed to the composing
    /// thread.
    pub(super) fn send(
        &mut self,
        conn: &mut AnyConnection,
        desk: &Desk,
        clock: &Clock,
        letters: Letters,
    ) -> StoreResult<()> {
        match self {
            Post::Now => {
                let written = write_out(desk, letters)?;
                record(conn, desk, clock, &[written])
            }
            Post::Ahead(composer) => {
                composer
                    .jobs
                    .send(letters)
                    .map_err(|_| StoreError::Invalid("the composing thread stopped".into()))?;
                composer.in_flight += 1;
                Ok(())
            }
        }
    }

    /// Writes every mail handed to the composing thread to the outbox, in
    /// the order they were posted.
    pub(super) fn flush(
        &mut self,
        conn: &mut AnyConnection,
        desk: &Desk,
        clock: &Clock,
    ) -> StoreResult<()> {
        let Post::Ahead(composer) = self else {
            return Ok(());
        };
        let mut notices = Vec::with_capacity(composer.in_flight);
        while composer.in_flight > 0 {
            let written = composer
                .done
                .recv()
                .map_err(|_| StoreError::Invalid("the composing thread stopped".into()))?;
            composer.in_flight -= 1;
            notices.push(written?);
        }
        record(conn, desk, clock, &notices)
    }
}

/// [`write_out`], a panic of ours turned into an error of that notice.
fn guarded_write_out(desk: &Desk, letters: Letters) -> StoreResult<Written> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| write_out(desk, letters)))
        .unwrap_or_else(|panic| {
            Err(StoreError::Panic(crate::inbound::panic_message(
                panic.as_ref(),
            )))
        })
}

/// Renders a notice and composes its mail to each recipient.
fn write_out(desk: &Desk, letters: Letters) -> StoreResult<Written> {
    let context = service::template_context(
        desk,
        &letters.ticket,
        &letters.notice,
        letters.message.clone(),
        letters.solution.as_deref(),
        letters.follows,
        letters.agent.as_deref(),
    );
    let template = letters.notice.template;
    let rendered = desk
        .renderer
        .render(letters.ticket.language, template.name(), &context)
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    let from = &desk.settings.smtp.from;
    let mails = letters
        .addressed
        .iter()
        .map(|a| {
            let message_id = outbound::new_message_id(from);
            let composed = outbound::compose(&outbound::Draft {
                from,
                to: std::slice::from_ref(&a.to),
                subject: &rendered.subject,
                body: &rendered.body,
                html: rendered.html.as_deref(),
                message_id: &message_id,
                in_reply_to: a.in_reply_to.as_deref(),
                references: &a.references,
                auto_submitted: template.auto_submitted(),
                date: letters.date,
            })
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
            Ok((a.to.clone(), message_id, composed.raw))
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Written {
        ticket_id: letters.ticket_id,
        template,
        subject: rendered.subject,
        mails,
    })
}

/// Writes notices' mails to the outbox, in order, each held back when
/// its recipient bounced for good or the loop guard stops it: the
/// addresses are looked up and the rows written with one statement each
/// for all the notices, and the loop guard counts the mails written
/// before in the same call, as it would have seen them in the outbox.
fn record(
    conn: &mut AnyConnection,
    desk: &Desk,
    clock: &Clock,
    notices: &[Written],
) -> StoreResult<()> {
    let now = clock.now_naive();
    let t = &desk.settings.tickets;
    // Agents' notification addresses are never limited.
    let limited = |template: Template, to: &str| {
        template.auto_submitted() == "auto-replied" && !t.agent_notify.iter().any(|a| a == to)
    };
    let mails = || {
        notices
            .iter()
            .flat_map(|w| w.mails.iter().map(move |(to, id, raw)| (w, to, id, raw)))
    };
    let all: Vec<&str> = mails().map(|(_, to, ..)| to.as_str()).collect();
    let bounced = addresses::undeliverable_among(conn, &all)?;
    let guarded: Vec<&str> = mails()
        .filter(|(w, to, ..)| limited(w.template, to))
        .map(|(_, to, ..)| to.as_str())
        .collect();
    // The automatic answers of the last day to each guarded address.
    let mut answered: HashMap<String, Vec<NaiveDateTime>> = HashMap::new();
    if !guarded.is_empty() {
        let kinds = Template::AUTO_REPLIED.map(Template::name);
        let since = now - chrono::Duration::days(1);
        for (to, at) in addresses::written_since(conn, &guarded, kinds, since)? {
            answered.entry(to).or_default().push(at);
        }
    }
    let sender = desk.settings.smtp.from.email.to_string();
    let mut reasons: Vec<Option<String>> = Vec::with_capacity(all.len());
    for (w, to, ..) in mails() {
        let held = if bounced.contains(&to.to_lowercase()) {
            Some("the address bounced for good".to_string())
        } else if limited(w.template, to) {
            let sent = answered.entry(to.clone()).or_default();
            let held = loop_guard(desk, sent, now);
            if held.is_none() {
                // Counted for the mails after it.
                sent.push(now);
            }
            held
        } else {
            None
        };
        if let Some(why) = &held {
            tracing::warn!(to = %to, kind = w.template.name(), "mail held back: {why}");
        }
        reasons.push(held);
    }
    let rows: Vec<outbox::NewOutgoing<'_>> = mails()
        .zip(&reasons)
        .map(|((w, to, message_id, raw), held)| outbox::NewOutgoing {
            ticket_id: Some(w.ticket_id),
            kind: w.template.name(),
            message_id,
            sender: &sender,
            recipients: to,
            subject: &w.subject,
            raw,
            state: if held.is_some() {
                outbox::state::HELD
            } else {
                outbox::state::PENDING
            },
            attempts: 0,
            next_attempt_at: now,
            created_at: now,
            last_error: held.as_deref(),
        })
        .collect();
    outbox::insert_all(conn, &rows)
}

/// Why one more automatic answer must not go to an address that had
/// these in the last day, if it must not: the backstop against loops with
/// autoresponders that no header betrays.
fn loop_guard(desk: &Desk, sent: &[NaiveDateTime], now: NaiveDateTime) -> Option<String> {
    let t = &desk.settings.tickets;
    let hour = sent
        .iter()
        .filter(|at| **at >= now - chrono::Duration::hours(1))
        .count();
    if hour >= t.max_auto_per_hour as usize {
        return Some(format!(
            "loop guard: {hour} automatic answers to this address in the last hour"
        ));
    }
    let day = sent.len();
    if day >= t.max_auto_per_day as usize {
        return Some(format!(
            "loop guard: {day} automatic answers to this address in the last day"
        ));
    }
    None
}
