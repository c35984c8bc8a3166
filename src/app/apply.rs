//! A plan applied: the addresses whose mail stops or resumes, the ticket
//! written, its thread's records, and its letters posted, all in the
//! caller's transaction.

use super::post::{Letters, Post};
use super::Desk;
use crate::clock::Clock;
use crate::inbound::InboundMessage;
use crate::outbound;
use crate::store::tickets::{NewAttachment, NewMessage};
use crate::store::{addresses, outbox, tickets, AnyConnection, StoreResult};
use crate::ticket::decide::Snapshot;
use crate::ticket::letters::{Agents, Seen, Thread};
use crate::ticket::plan::{AddressChange, Author, Join, Plan, TicketChange};
use crate::ticket::{MessageKind, Person, Status, Ticket};

/// The mail a plan was decided on, as stored.
#[derive(Clone, Copy)]
pub(super) struct Received<'a> {
    pub message: &'a InboundMessage,
    pub raw_id: i64,
    /// Whether its sender is marked undeliverable, when that was looked
    /// up as it was stored: a sender known not to be is not cleared (a
    /// statement, on PostgreSQL a round trip, saved per mail).
    pub sender_undeliverable: Option<bool>,
}

/// Writes a plan; returns the ticket it wrote (its row and state), if any.
/// `ticket_id` is the row of the ticket the plan updates.
pub(super) fn apply(
    conn: &mut AnyConnection,
    desk: &Desk,
    plan: Plan,
    ticket_id: Option<i64>,
    mail: Option<Received<'_>>,
    clock: &Clock,
    post: &mut Post,
) -> StoreResult<Option<(i64, Ticket)>> {
    let now = clock.now_naive();
    for change in &plan.addresses {
        match change {
            AddressChange::Deliverable(address) => {
                let known_clear = mail.is_some_and(|m| {
                    m.sender_undeliverable == Some(false) && *address == m.message.from.email
                });
                if !known_clear && addresses::clear_undeliverable(conn, address)? {
                    tracing::info!(address = %address, "address writes again: mail to it resumes");
                }
            }
            AddressChange::Undeliverable { address, reason } => {
                addresses::mark_undeliverable(conn, address, reason, now)?;
                tracing::warn!(address = %address, "address bounced for good: no more mail to it");
            }
        }
    }
    let (id, ticket) = match plan.ticket {
        TicketChange::None => return Ok(None),
        TicketChange::Open(mut ticket) => {
            let id = tickets::open(conn, &mut ticket)?;
            for w in &ticket.watchers {
                tickets::add_watcher(conn, id, w, now)?;
            }
            (id, ticket)
        }
        TicketChange::Update { before, after } => {
            let id = ticket_id.expect("an update names the ticket's row");
            if before != after {
                write_update(conn, id, &before, &after, clock)?;
            }
            (id, after)
        }
    };
    if !plan.participants.is_empty() {
        tickets::add_participants(conn, id, &plan.participants, now)?;
    }
    let desk_person = Person {
        email: desk.policy.desk_address.clone(),
        name: None,
    };
    if let Some(join) = &plan.joins {
        // The mails already posted for this ticket in the batch go to the
        // outbox first, so that they move with its thread.
        post.flush(conn, desk, clock)?;
        join_thread(conn, id, join, &desk_person, now)?;
    }
    // The files in `blobs`: those recorded with the entries, then those
    // the letters name (the outbox takes them from there).
    let mut in_blobs: Vec<&str> = Vec::new();
    for entry in &plan.entries {
        let by_sender = mail.filter(|_| entry.author == Author::Sender);
        let files: Vec<NewAttachment<'_>> = match by_sender {
            Some(m) if entry.with_attachments => plan
                .kept
                .iter()
                .filter_map(|&i| m.message.attachments.get(i))
                .map(|a| NewAttachment {
                    filename: &a.filename,
                    content_type: &a.content_type,
                    content: &a.content,
                    sha256: &a.sha256,
                })
                .collect(),
            _ => Vec::new(),
        };
        in_blobs.extend(files.iter().map(|f| f.sha256));
        tickets::insert_message(
            conn,
            &NewMessage {
                ticket_id: id,
                raw_mail_id: by_sender.map(|m| m.raw_id),
                kind: entry.kind,
                from: entry
                    .for_whom
                    .as_ref()
                    .or(by_sender.map(|m| &m.message.from))
                    .unwrap_or(&desk_person),
                at: now,
                body: &entry.body,
                message_id: by_sender.and_then(|m| m.message.message_id.as_deref()),
            },
            &files,
        )?;
    }
    for letter in plan.letters {
        // The files it carries, each stored first if no entry stored it.
        let mut files = Vec::new();
        if let Some(m) = mail {
            for a in letter
                .attached
                .iter()
                .filter_map(|&j| plan.kept.get(j))
                .filter_map(|&i| m.message.attachments.get(i))
            {
                if !in_blobs.contains(&a.sha256.as_str()) {
                    tickets::store_file(conn, &a.sha256, &a.content)?;
                    in_blobs.push(&a.sha256);
                }
                files.push(outbound::File {
                    filename: a.filename.clone(),
                    content_type: a.content_type.clone(),
                    sha256: a.sha256.clone(),
                    inline: a.inline,
                    content_id: a.content_id.clone(),
                });
            }
        }
        let letters = Letters {
            ticket_id: id,
            ticket: ticket.clone(),
            letter,
            date: clock.now(),
            files,
        };
        post.send(conn, desk, clock, letters)?;
    }
    Ok(Some((id, ticket)))
}

/// A ticket's thread moved to the ticket it joins (`#merge`), before the
/// plan's own records are written (those stay on the ticket that joined);
/// that ticket records the line and gains its people.
fn join_thread(
    conn: &mut AnyConnection,
    from: i64,
    join: &Join,
    desk: &Person,
    now: chrono::NaiveDateTime,
) -> StoreResult<()> {
    let (to, _) = tickets::find_by_number(conn, join.into)?.ok_or_else(|| {
        crate::store::StoreError::Invalid(format!("ticket {} to join is gone", join.into))
    })?;
    tickets::move_thread(conn, from, to)?;
    for w in &join.watchers {
        tickets::add_watcher(conn, to, w, now)?;
    }
    tickets::add_participants(conn, to, &join.participants, now)?;
    tickets::insert_message(
        conn,
        &NewMessage {
            ticket_id: to,
            raw_mail_id: None,
            kind: MessageKind::System,
            from: desk,
            at: now,
            body: &join.entry,
            message_id: None,
        },
        &[],
    )?;
    Ok(())
}

/// A ticket's fields and watchers, as they become.
fn write_update(
    conn: &mut AnyConnection,
    id: i64,
    before: &Ticket,
    after: &Ticket,
    clock: &Clock,
) -> StoreResult<()> {
    tickets::update(conn, id, after)?;
    let now = clock.now_naive();
    for w in &after.watchers {
        if !before.watchers.contains(w) {
            tickets::add_watcher(conn, id, w, now)?;
        }
    }
    for w in &before.watchers {
        if !after.watchers.contains(w) {
            tickets::remove_watcher(conn, id, w)?;
        }
    }
    Ok(())
}

/// What the rules need of a ticket: its state, its thread's mails (those
/// posted in this batch and not written yet included), the solution
/// awaiting an answer, and, `for_agent` (for an agent's mail, the only
/// one the guards read), its internal notes and the files it has.
pub(super) fn snapshot(
    conn: &mut AnyConnection,
    id: i64,
    ticket: Ticket,
    post: &Post,
    for_agent: bool,
) -> StoreResult<Snapshot> {
    let seen = |(at, who, message_id)| Seen {
        at,
        who,
        message_id,
    };
    let received = tickets::thread_received(conn, id)?
        .into_iter()
        .map(seen)
        .collect();
    let mut sent: Vec<Seen> = outbox::thread_sent(conn, id)?
        .into_iter()
        .map(seen)
        .collect();
    sent.extend(post.unwritten(id).iter().cloned());
    let solution = if ticket.status == Status::Solved {
        tickets::latest_of_kind(conn, id, MessageKind::Solution)?
    } else {
        None
    };
    let (notes, files) = if for_agent {
        (
            tickets::bodies_of_kind(conn, id, MessageKind::Note)?,
            tickets::file_hashes(conn, id)?,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    Ok(Snapshot {
        ticket,
        thread: Thread { received, sent },
        solution,
        notes,
        participants: tickets::participants_of(conn, id)?,
        files,
    })
}

/// The agents, as the rules see them.
pub(super) fn agents(conn: &mut AnyConnection) -> StoreResult<Agents> {
    Ok(Agents {
        list: crate::store::agents::list(conn)?
            .into_iter()
            .map(|a| (a.email, a.name))
            .collect(),
    })
}
