//! Where a plan's letters go: rendered and composed, then written to the
//! outbox in the transaction of the change. One mail at a time they are
//! composed at once. In a batch they are composed on a thread of their own
//! while the next mails are processed, and written in the order they were
//! posted at the batch's end; until then [`Post::unwritten`] tells the
//! threading headers of later mails what was sent. The loop guard reads
//! the outbox once for the mails written together and counts each one it
//! lets through before deciding the next, so it sees every mail posted
//! before, as when mail is written at once.

use std::collections::HashMap;
use std::sync::mpsc;

use chrono::{DateTime, NaiveDateTime, Utc};

use super::Desk;
use crate::clock::Clock;
use crate::outbound;
use crate::store::{addresses, outbox, AnyConnection, StoreError, StoreResult};
use crate::ticket::letters::Seen;
use crate::ticket::limits;
use crate::ticket::notice::Template;
use crate::ticket::plan::Letter;
use crate::ticket::Ticket;

/// One letter of a plan, the ticket it is about, and when it is sent.
pub(super) struct Letters {
    pub ticket_id: i64,
    pub ticket: Ticket,
    pub letter: Letter,
    pub date: DateTime<Utc>,
    /// The files it carries (`letter.attached`), already in `blobs`: the
    /// outbox names them.
    pub files: Vec<outbound::File>,
}

/// A notice rendered, all that is left of it to write to the outbox
/// (what it was made from is dropped at once, so that a batch holds only
/// this until its end): its subject, the files its mails carry, and the
/// recipient, Message-ID and bytes of each of its mails, with where its
/// files go in them.
struct Written {
    ticket_id: i64,
    template: Template,
    subject: String,
    files: Vec<String>,
    mails: Vec<Mail>,
}

struct Mail {
    to: String,
    message_id: String,
    raw: Vec<u8>,
    files_at: Vec<usize>,
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
/// scope joins it), the notices handed to it, and the mails they make
/// that are not in the outbox yet, by ticket.
pub(super) struct Composer {
    jobs: mpsc::Sender<Letters>,
    done: mpsc::Receiver<StoreResult<Written>>,
    in_flight: usize,
    unwritten: HashMap<i64, Vec<Seen>>,
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
                    if outbox
                        .send(super::guarded(|| write_out(desk, letters)))
                        .is_err()
                    {
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
            unwritten: HashMap::new(),
        })
    }

    /// The mails posted on a ticket and not yet written to the outbox:
    /// what the outbox does not tell the threading headers yet.
    pub(super) fn unwritten(&self, ticket_id: i64) -> &[Seen] {
        match self {
            Post::Ahead(c) => c.unwritten.get(&ticket_id).map_or(&[], Vec::as_slice),
            Post::Now => &[],
        }
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
                let at = clock.now_naive();
                let seen = composer.unwritten.entry(letters.ticket_id).or_default();
                seen.extend(letters.letter.to.iter().map(|a| Seen {
                    at,
                    who: a.to.clone(),
                    message_id: a.message_id.clone(),
                }));
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
        composer.unwritten.clear();
        record(conn, desk, clock, &notices)
    }
}

/// Renders a letter and composes its mail to each recipient.
fn write_out(desk: &Desk, letters: Letters) -> StoreResult<Written> {
    let Letters {
        ticket_id,
        ticket,
        letter,
        date,
        files,
    } = letters;
    let template = letter.template;
    // Rendered once for each kind of recipient: each is greeted as who
    // they are (the requester by name, a watcher told why the mail comes).
    let mut rendered: HashMap<&'static str, outbound::Rendered> = HashMap::new();
    let from = &desk.settings.smtp.from;
    let mut mails = Vec::with_capacity(letter.to.len());
    let mut subject = None;
    for a in &letter.to {
        let role = a.role.as_str();
        let r = match rendered.entry(role) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let context =
                    desk.presentation
                        .letter_context(&ticket, &letter, &desk.policy, role);
                v.insert(
                    desk.renderer
                        .render(ticket.language, template.as_str(), &context)
                        .map_err(|e| StoreError::Invalid(e.to_string()))?,
                )
            }
        };
        let composed = outbound::compose(&outbound::Draft {
            from,
            to: std::slice::from_ref(&a.to),
            subject: &r.subject,
            body: &r.body,
            html: r.html.as_deref(),
            message_id: &a.message_id,
            in_reply_to: a.in_reply_to.as_deref(),
            references: &a.references,
            auto_submitted: template.auto_submitted(),
            date,
            files: &files,
        })
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
        subject.get_or_insert_with(|| r.subject.clone());
        mails.push(Mail {
            to: a.to.clone(),
            message_id: a.message_id.clone(),
            raw: composed.raw,
            files_at: composed.files_at,
        });
    }
    Ok(Written {
        ticket_id,
        template,
        subject: subject.unwrap_or_default(),
        files: files.into_iter().map(|f| f.sha256).collect(),
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
    let policy = &desk.policy;
    let mails = || {
        notices
            .iter()
            .flat_map(|w| w.mails.iter().map(move |m| (w, &m.to, m)))
    };
    let all: Vec<&str> = mails().map(|(_, to, _)| to.as_str()).collect();
    let bounced = addresses::undeliverable_among(conn, &all)?;
    let guarded: Vec<&str> = mails()
        .filter(|(w, to, _)| limits::is_guarded(w.template, to, policy))
        .map(|(_, to, _)| to.as_str())
        .collect();
    // The automatic answers of the last day to each guarded address.
    let mut answered: HashMap<String, Vec<NaiveDateTime>> = HashMap::new();
    if !guarded.is_empty() {
        let kinds = Template::AUTO_REPLIED.map(Template::as_str);
        let since = now - chrono::Duration::days(1);
        for (to, at) in addresses::written_since(conn, &guarded, kinds, since)? {
            answered.entry(to).or_default().push(at);
        }
    }
    let sender = desk.settings.smtp.from.email.to_string();
    let mut reasons: Vec<Option<String>> = Vec::with_capacity(all.len());
    for (w, to, _) in mails() {
        let sent = answered.entry(to.clone()).or_default();
        let is_bounced = bounced.contains(&to.to_lowercase());
        let held = limits::hold_reason(w.template, to, is_bounced, sent, now, policy);
        if let Some(why) = &held {
            tracing::warn!(to = %to, kind = w.template.as_str(), "mail held back: {why}");
        } else if limits::is_guarded(w.template, to, policy) {
            // Counted for the mails after it.
            sent.push(now);
        }
        reasons.push(held);
    }
    let files: Vec<Vec<outbox::FileAt<'_>>> = mails()
        .map(|(w, _, m)| {
            m.files_at
                .iter()
                .zip(&w.files)
                .map(|(&at, sha256)| outbox::FileAt { at, sha256 })
                .collect()
        })
        .collect();
    let rows: Vec<outbox::NewOutgoing<'_>> = mails()
        .zip(&reasons)
        .zip(&files)
        .map(|(((w, to, m), held), files)| outbox::NewOutgoing {
            ticket_id: Some(w.ticket_id),
            kind: w.template.as_str(),
            message_id: &m.message_id,
            sender: &sender,
            recipients: to,
            subject: &w.subject,
            raw: &m.raw,
            files,
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
