//! Retention (GDPR): closed tickets older than a date are deleted with
//! everything that holds their content — thread, raw mails, sent mail,
//! watchers, people in copy, and the files no other ticket still uses —
//! together with the mail of that age that belongs to no ticket. Ticket
//! numbers are never given again.

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use super::schema::{
    attachments, blobs, messages, outbox, outbox_files, participants, raw_mails, tickets, watchers,
};
use super::{AnyConnection, StoreResult};

/// Tickets deleted per transaction: the daemon's own writes wait at most
/// for one batch (a few milliseconds), not for the whole purge.
const BATCH: i64 = 200;

/// What a purge deleted (or, in a dry run, would delete).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Purged {
    pub tickets: u64,
    pub messages: u64,
    pub raw_mails: u64,
    pub sent_mails: u64,
    pub files: u64,
}

impl std::ops::AddAssign for Purged {
    fn add_assign(&mut self, o: Purged) {
        self.tickets += o.tickets;
        self.messages += o.messages;
        self.raw_mails += o.raw_mails;
        self.sent_mails += o.sent_mails;
        self.files += o.files;
    }
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Deletes the tickets closed before `before` and what belongs to them,
/// and the raw and sent mail of no ticket from before `before` (mail not
/// processed yet and mail still to be sent are kept). `dry_run`: counts
/// only, in a transaction rolled back.
pub fn purge_closed_before(
    conn: &mut AnyConnection,
    before: NaiveDateTime,
    dry_run: bool,
) -> StoreResult<Purged> {
    // SQLite keeps deleted rows in its free pages until they are reused:
    // overwritten instead, so that what was purged is gone from the file.
    if let AnyConnection::Sqlite(c) = conn {
        c.batch_execute("PRAGMA secure_delete = ON;")?;
    }
    let mut total = Purged::default();
    let mut after_id = 0i64;
    loop {
        let (batch, last) = purge_batch(conn, before, after_id, dry_run)?;
        total += batch;
        match last {
            Some(id) => after_id = id,
            None => break,
        }
    }
    total += purge_ticketless(conn, before, dry_run)?;
    Ok(total)
}

/// Why a purge's transaction did not commit: a real error, or a dry run
/// that rolls back what it counted.
enum Uncommitted<T> {
    Failed(super::StoreError),
    DryRun(T),
}

impl<T> From<diesel::result::Error> for Uncommitted<T> {
    fn from(e: diesel::result::Error) -> Self {
        Uncommitted::Failed(e.into())
    }
}

/// Runs `work` in a transaction, committed unless `dry_run`.
fn in_transaction<T>(
    conn: &mut AnyConnection,
    dry_run: bool,
    work: impl FnOnce(&mut AnyConnection) -> StoreResult<T>,
) -> StoreResult<T> {
    let result = conn.transaction(|conn| {
        super::lock_for_write(conn).map_err(Uncommitted::Failed)?;
        let done = work(conn).map_err(Uncommitted::Failed)?;
        if dry_run {
            Err(Uncommitted::DryRun(done))
        } else {
            Ok(done)
        }
    });
    match result {
        Ok(done) | Err(Uncommitted::DryRun(done)) => Ok(done),
        Err(Uncommitted::Failed(e)) => Err(e),
    }
}

/// One batch of tickets closed before `before`, of id above `after_id`;
/// returns what it deleted and the last ticket id it took (None: no more).
fn purge_batch(
    conn: &mut AnyConnection,
    before: NaiveDateTime,
    after_id: i64,
    dry_run: bool,
) -> StoreResult<(Purged, Option<i64>)> {
    in_transaction(conn, dry_run, |conn| {
        let ids: Vec<i64> = tickets::table
            .filter(tickets::status.eq("closed"))
            .filter(tickets::closed_at.lt(before))
            .filter(tickets::id.gt(after_id))
            .order(tickets::id)
            .limit(BATCH)
            .select(tickets::id)
            .load(conn)?;
        let Some(&last) = ids.last() else {
            return Ok((Purged::default(), None));
        };
        let message_ids: Vec<i64> = messages::table
            .filter(messages::ticket_id.eq_any(&ids))
            .select(messages::id)
            .load(conn)?;
        let mut files: Vec<String> = attachments::table
            .filter(attachments::message_id.eq_any(&message_ids))
            .select(attachments::sha256)
            .distinct()
            .load(conn)?;
        // And those their outgoing mail names (deleted with it).
        files.extend(
            outbox_files::table
                .inner_join(outbox::table)
                .filter(outbox::ticket_id.eq_any(&ids))
                .select(outbox_files::sha256)
                .distinct()
                .load::<String>(conn)?,
        );
        files.sort_unstable();
        files.dedup();
        let raw_ids: Vec<i64> = messages::table
            .filter(messages::id.eq_any(&message_ids))
            .filter(messages::raw_mail_id.is_not_null())
            .select(messages::raw_mail_id.assume_not_null())
            .load(conn)?;
        diesel::delete(attachments::table.filter(attachments::message_id.eq_any(&message_ids)))
            .execute(conn)?;
        let messages = diesel::delete(messages::table.filter(messages::ticket_id.eq_any(&ids)))
            .execute(conn)?;
        // The raw mails of these tickets, unless a message of another
        // ticket (one merged elsewhere) still points at one.
        let still_used: Vec<i64> = messages::table
            .filter(messages::raw_mail_id.eq_any(&raw_ids))
            .select(messages::raw_mail_id.assume_not_null())
            .load(conn)?;
        let raw_mails = diesel::delete(
            raw_mails::table
                .filter(
                    raw_mails::ticket_id
                        .eq_any(&ids)
                        .or(raw_mails::id.eq_any(&raw_ids)),
                )
                .filter(raw_mails::id.ne_all(&still_used)),
        )
        .execute(conn)?;
        let sent_mails =
            diesel::delete(outbox::table.filter(outbox::ticket_id.eq_any(&ids))).execute(conn)?;
        diesel::delete(watchers::table.filter(watchers::ticket_id.eq_any(&ids))).execute(conn)?;
        diesel::delete(participants::table.filter(participants::ticket_id.eq_any(&ids)))
            .execute(conn)?;
        let tickets =
            diesel::delete(tickets::table.filter(tickets::id.eq_any(&ids))).execute(conn)?;
        let files = delete_unused_blobs(conn, &files)?;
        Ok((
            Purged {
                tickets: count(tickets),
                messages: count(messages),
                raw_mails: count(raw_mails),
                sent_mails: count(sent_mails),
                files,
            },
            Some(last),
        ))
    })
}

/// The files among `candidates` that no attachment and no outgoing mail
/// uses any more.
fn delete_unused_blobs(conn: &mut AnyConnection, candidates: &[String]) -> StoreResult<u64> {
    let mut used: Vec<String> = attachments::table
        .filter(attachments::sha256.eq_any(candidates))
        .select(attachments::sha256)
        .distinct()
        .load(conn)?;
    used.extend(
        outbox_files::table
            .filter(outbox_files::sha256.eq_any(candidates))
            .select(outbox_files::sha256)
            .distinct()
            .load::<String>(conn)?,
    );
    let deleted = diesel::delete(
        blobs::table
            .filter(blobs::sha256.eq_any(candidates))
            .filter(blobs::sha256.ne_all(&used)),
    )
    .execute(conn)?;
    Ok(count(deleted))
}

/// Raw mail of no ticket (ignored automatic mail, duplicates, unreadable
/// mail) received before `before`, and mail of no ticket sent (or given
/// up) before it: the administrators' alerts, the loop guard's held mail.
fn purge_ticketless(
    conn: &mut AnyConnection,
    before: NaiveDateTime,
    dry_run: bool,
) -> StoreResult<Purged> {
    let (purged, ()) = in_transaction(conn, dry_run, |conn| {
        let referenced = messages::table
            .filter(messages::raw_mail_id.is_not_null())
            .select(messages::raw_mail_id.assume_not_null());
        let raw_mails = diesel::delete(
            raw_mails::table
                .filter(raw_mails::ticket_id.is_null())
                .filter(raw_mails::received_at.lt(before))
                .filter(raw_mails::state.ne(super::mails::state::RECEIVED))
                .filter(raw_mails::id.ne_all(referenced)),
        )
        .execute(conn)?;
        let sent_mails = diesel::delete(
            outbox::table
                .filter(outbox::ticket_id.is_null())
                .filter(outbox::created_at.lt(before))
                .filter(outbox::state.ne(super::outbox::state::PENDING)),
        )
        .execute(conn)?;
        Ok((
            Purged {
                raw_mails: count(raw_mails),
                sent_mails: count(sent_mails),
                ..Purged::default()
            },
            (),
        ))
    })?;
    Ok(purged)
}
