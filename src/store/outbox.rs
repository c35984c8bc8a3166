//! `outbox`: outgoing mail, written in the transaction of the change that
//! caused it, sent later by the dispatcher.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{outbox, outbox_bodies, relay_holds};
use super::{native, AnyConnection, StoreResult};

/// Delivery state of an outbox row.
pub mod state {
    pub const PENDING: &str = "pending";
    pub const SENT: &str = "sent";
    /// Refused for good by the relay (5xx); kept, never retried by itself.
    pub const FAILED: &str = "failed";
    /// Not sent: the address bounced for good, or too much automatic mail
    /// went to it lately (the loop guard). Kept so it can be seen.
    pub const HELD: &str = "held";
}

// None is written as NULL, not as the column's default: the statement
// then has one text whatever the values, and is compiled once.
#[derive(Insertable)]
#[diesel(table_name = outbox, treat_none_as_default_value = false)]
pub struct NewOutgoing<'a> {
    pub ticket_id: Option<i64>,
    pub kind: &'a str,
    pub message_id: &'a str,
    pub sender: &'a str,
    /// Comma-separated envelope recipients.
    pub recipients: &'a str,
    pub subject: &'a str,
    /// Written to `outbox_bodies`, apart from the row whose state changes.
    #[diesel(skip_insertion)]
    pub raw: &'a [u8],
    pub state: &'a str,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    /// Why a held row is held.
    pub last_error: Option<&'a str>,
}

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = outbox)]
pub struct Outgoing {
    pub id: i64,
    pub ticket_id: Option<i64>,
    pub kind: String,
    pub message_id: String,
    pub sender: String,
    pub recipients: String,
    pub subject: String,
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
    pub claimed_by: Option<String>,
}

/// A row claimed for sending, and its mail's bytes.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub row: Outgoing,
    pub raw: Vec<u8>,
}

/// Rows written in one PostgreSQL statement, at most (11 values each:
/// well under its limit on bound values).
const INSERT_CHUNK: usize = 256;

/// Writes rows in the order given (their ids follow that order), and
/// their bytes. On PostgreSQL two statements for a whole batch's mail
/// (the rows, then their bytes), round trips saved per mail; chunks of a
/// power of two rows, so that only a few sizes of the statement are ever
/// prepared. On SQLite compiled statements run per row: with no round
/// trip to save, a statement of hundreds of rows was no faster and held
/// 20 MiB more at the peak of a backlog.
pub fn insert_all(conn: &mut AnyConnection, mut rows: &[NewOutgoing<'_>]) -> StoreResult<()> {
    match conn {
        AnyConnection::Postgresql(c) => {
            while !rows.is_empty() {
                let n = INSERT_CHUNK.min(1 << rows.len().ilog2());
                let (chunk, rest) = rows.split_at(n);
                let mut ids: Vec<i64> = diesel::insert_into(outbox::table)
                    .values(chunk)
                    .returning(outbox::id)
                    .get_results(c)?;
                // The ids follow the rows' order; RETURNING's order is not
                // promised.
                ids.sort_unstable();
                let bodies: Vec<_> = ids
                    .iter()
                    .zip(chunk)
                    .map(|(id, row)| {
                        (
                            outbox_bodies::outbox_id.eq(*id),
                            outbox_bodies::raw.eq(row.raw),
                        )
                    })
                    .collect();
                diesel::insert_into(outbox_bodies::table)
                    .values(&bodies)
                    .execute(c)?;
                rows = rest;
            }
        }
        AnyConnection::Sqlite(c) => {
            for row in rows {
                let id: i64 = diesel::insert_into(outbox::table)
                    .values(row)
                    .returning(outbox::id)
                    .get_result(c)?;
                diesel::insert_into(outbox_bodies::table)
                    .values((
                        outbox_bodies::outbox_id.eq(id),
                        outbox_bodies::raw.eq(row.raw),
                    ))
                    .execute(c)?;
            }
        }
    }
    Ok(())
}

/// How long a claimed row is reserved for the daemon sending it; past
/// that (the daemon died), another one takes it.
pub const CLAIM: chrono::Duration = chrono::Duration::minutes(5);

/// Claims up to `limit` pending rows due at `now`, longest due first (the
/// order of the `outbox_due` index, so that a claim reads only the rows it
/// takes, however long the backlog), and no more than `max_bytes` of mail
/// in all (always one row at least): mails carrying files are megabytes
/// each, and what is claimed is held until sent. The rows are reserved
/// (not due again before `now + CLAIM`) in the same transaction, so that
/// several daemons never send one twice: on PostgreSQL the rows are
/// picked with `FOR UPDATE SKIP LOCKED` (daemons claim different rows at
/// once), on SQLite the transaction takes the write lock first; the
/// reservation re-checks that each row is still pending and due all the
/// same.
pub fn claim_due(
    conn: &mut AnyConnection,
    now: NaiveDateTime,
    limit: i64,
    max_bytes: i64,
    claimant: &str,
) -> StoreResult<Vec<Claimed>> {
    conn.transaction(|conn| claim_in_tx(conn, now, limit, max_bytes, claimant))
}

fn claim_in_tx(
    conn: &mut AnyConnection,
    now: NaiveDateTime,
    limit: i64,
    max_bytes: i64,
    claimant: &str,
) -> StoreResult<Vec<Claimed>> {
    // SQLite: the write lock first, or the read below could not become a
    // write while the fetcher writes (SQLITE_BUSY, which no busy timeout
    // waits out).
    if let AnyConnection::Sqlite(_) = conn {
        super::lock_for_write(conn)?;
    }
    let due = outbox::table
        .inner_join(outbox_bodies::table)
        .filter(outbox::state.eq(state::PENDING))
        .filter(outbox::next_attempt_at.le(now))
        .order((outbox::next_attempt_at.asc(), outbox::id.asc()))
        .limit(limit)
        .select((
            outbox::id,
            diesel::dsl::sql::<diesel::sql_types::BigInt>(
                "CAST(length(outbox_bodies.raw) AS BIGINT)",
            ),
        ));
    let due: Vec<(i64, i64)> = match conn {
        AnyConnection::Postgresql(c) => due.for_update().skip_locked().load(c)?,
        AnyConnection::Sqlite(c) => due.load(c)?,
    };
    let mut ids = Vec::with_capacity(due.len());
    let mut total = 0i64;
    for (id, size) in due {
        if !ids.is_empty() && total.saturating_add(size) > max_bytes {
            break;
        }
        total = total.saturating_add(size);
        ids.push(id);
    }
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let reserve = (
        outbox::next_attempt_at.eq(now + CLAIM),
        outbox::claimed_by.eq(claimant),
    );
    let mut rows: Vec<Outgoing> = native!(conn, |c| diesel::update(outbox::table)
        .filter(outbox::id.eq_any(&ids))
        .filter(outbox::state.eq(state::PENDING))
        .filter(outbox::next_attempt_at.le(now))
        .set(reserve)
        .returning(Outgoing::as_returning())
        .get_results(c))?;
    rows.sort_by_key(|r| r.id);
    let claimed: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut bodies: std::collections::HashMap<i64, Vec<u8>> =
        native!(conn, |c| outbox_bodies::table
            .filter(outbox_bodies::outbox_id.eq_any(&claimed))
            .select((outbox_bodies::outbox_id, outbox_bodies::raw))
            .load::<(i64, Vec<u8>)>(c))?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|row| Claimed {
            raw: bodies.remove(&row.id).unwrap_or_default(),
            row,
        })
        .collect())
}

/// Gives back at once the claims of daemons that are known to be dead
/// (`is_dead` says so from the claimant's id); returns how many rows.
pub fn release_dead_claims(
    conn: &mut AnyConnection,
    now: NaiveDateTime,
    is_dead: impl Fn(&str) -> bool,
) -> StoreResult<usize> {
    let claimants: Vec<Option<String>> = outbox::table
        .filter(outbox::state.eq(state::PENDING))
        .filter(outbox::next_attempt_at.gt(now))
        .filter(outbox::claimed_by.is_not_null())
        .select(outbox::claimed_by)
        .distinct()
        .load(conn)?;
    let mut released = 0;
    for claimant in claimants.into_iter().flatten().filter(|c| is_dead(c)) {
        released += diesel::update(
            outbox::table
                .filter(outbox::state.eq(state::PENDING))
                .filter(outbox::claimed_by.eq(&claimant)),
        )
        .set((
            outbox::next_attempt_at.eq(now),
            outbox::claimed_by.eq(None::<String>),
        ))
        .execute(conn)?;
    }
    Ok(released)
}

/// Gives claimed rows back, due at `at`, without counting an attempt.
pub fn release(conn: &mut AnyConnection, ids: &[i64], at: NaiveDateTime) -> StoreResult<()> {
    diesel::update(
        outbox::table
            .filter(outbox::id.eq_any(ids))
            .filter(outbox::state.eq(state::PENDING)),
    )
    .set((
        outbox::next_attempt_at.eq(at),
        outbox::claimed_by.eq(None::<String>),
    ))
    .execute(conn)?;
    Ok(())
}

/// The mail queued on a ticket, oldest first: (when, recipients,
/// Message-ID); held mail and mail refused for good left out: its
/// recipient never saw it.
pub fn thread_sent(
    conn: &mut AnyConnection,
    ticket_id: i64,
) -> StoreResult<Vec<(NaiveDateTime, String, String)>> {
    Ok(native!(conn, |c| outbox::table
        .filter(outbox::ticket_id.eq(ticket_id))
        .filter(
            outbox::state
                .eq(state::PENDING)
                .or(outbox::state.eq(state::SENT)),
        )
        .order(outbox::id.asc())
        .select((outbox::created_at, outbox::recipients, outbox::message_id))
        .load(c))?)
}

/// When the next pending row is due, if any (a hold on the relay, which
/// [`crate::outbound::dispatch::send_due`] reports, may keep it longer).
pub fn next_due(conn: &mut AnyConnection) -> StoreResult<Option<NaiveDateTime>> {
    Ok(outbox::table
        .filter(outbox::state.eq(state::PENDING))
        .select(diesel::dsl::min(outbox::next_attempt_at))
        .first::<Option<NaiveDateTime>>(conn)?)
}

/// How many rows wait to be sent.
pub fn pending_count(conn: &mut AnyConnection) -> StoreResult<i64> {
    Ok(outbox::table
        .filter(outbox::state.eq(state::PENDING))
        .count()
        .get_result(conn)?)
}

/// When the oldest row still waiting to be sent was written.
pub fn oldest_pending(conn: &mut AnyConnection) -> StoreResult<Option<NaiveDateTime>> {
    Ok(outbox::table
        .filter(outbox::state.eq(state::PENDING))
        .select(diesel::dsl::min(outbox::created_at))
        .first::<Option<NaiveDateTime>>(conn)?)
}

/// When the relay last took a mail.
pub fn last_sent_at(conn: &mut AnyConnection) -> StoreResult<Option<NaiveDateTime>> {
    Ok(outbox::table
        .select(diesel::dsl::max(outbox::sent_at))
        .first::<Option<NaiveDateTime>>(conn)?)
}

/// A relay that could not be reached: nothing is tried before `until`.
#[derive(Queryable, Debug, Clone, PartialEq, Eq)]
pub struct RelayHold {
    pub until: NaiveDateTime,
    /// Connection attempts that failed in a row: the next wait grows
    /// with them.
    pub failures: i32,
    pub reason: String,
    /// When the relay was first found unreachable.
    pub since: NaiveDateTime,
}

/// The hold on `relay` (`host:port`), if one was recorded, expired or not.
pub fn relay_hold(conn: &mut AnyConnection, relay: &str) -> StoreResult<Option<RelayHold>> {
    Ok(native!(conn, |c| relay_holds::table
        .find(relay)
        .select((
            relay_holds::held_until,
            relay_holds::failures,
            relay_holds::reason,
            relay_holds::since
        ))
        .first(c)
        .optional())?)
}

/// Records that `relay` could not be reached at `now`: no mail is tried
/// before `until`. Several daemons finding it down at once each count a
/// failure, and the last one's `until` stands.
pub fn hold_relay(
    conn: &mut AnyConnection,
    relay: &str,
    now: NaiveDateTime,
    until: NaiveDateTime,
    reason: &str,
) -> StoreResult<()> {
    let row = (
        relay_holds::relay.eq(relay),
        relay_holds::held_until.eq(until),
        relay_holds::failures.eq(1),
        relay_holds::reason.eq(reason),
        relay_holds::since.eq(now),
    );
    let again = (
        relay_holds::held_until.eq(until),
        relay_holds::failures.eq(relay_holds::failures + 1),
        relay_holds::reason.eq(reason),
    );
    native!(conn, |c| diesel::insert_into(relay_holds::table)
        .values(row)
        .on_conflict(relay_holds::relay)
        .do_update()
        .set(again)
        .execute(c))?;
    Ok(())
}

/// The relay took mail again (or an administrator asked to try now): the
/// hold is lifted. Returns whether there was one.
pub fn lift_relay_hold(conn: &mut AnyConnection, relay: &str) -> StoreResult<bool> {
    Ok(diesel::delete(relay_holds::table.find(relay)).execute(conn)? > 0)
}

/// Marks rows sent (the relay accepted them): one statement for all.
pub fn mark_sent(conn: &mut AnyConnection, ids: &[i64], now: NaiveDateTime) -> StoreResult<()> {
    diesel::update(outbox::table.filter(outbox::id.eq_any(ids)))
        .set((
            outbox::state.eq(state::SENT),
            outbox::sent_at.eq(Some(now)),
            outbox::attempts.eq(outbox::attempts + 1),
            outbox::last_error.eq(None::<String>),
            outbox::claimed_by.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records a failed attempt: retried at `retry_at`, or never when `None`.
pub fn mark_failed(
    conn: &mut AnyConnection,
    id: i64,
    error: &str,
    retry_at: Option<NaiveDateTime>,
) -> StoreResult<()> {
    let target = outbox::table.find(id);
    match retry_at {
        Some(at) => diesel::update(target)
            .set((
                outbox::attempts.eq(outbox::attempts + 1),
                outbox::last_error.eq(Some(error)),
                outbox::next_attempt_at.eq(at),
                outbox::claimed_by.eq(None::<String>),
            ))
            .execute(conn)?,
        None => diesel::update(target)
            .set((
                outbox::attempts.eq(outbox::attempts + 1),
                outbox::last_error.eq(Some(error)),
                outbox::state.eq(state::FAILED),
                outbox::claimed_by.eq(None::<String>),
            ))
            .execute(conn)?,
    };
    Ok(())
}

/// Every row, newest first, without the mails' bytes.
pub fn list(conn: &mut AnyConnection) -> StoreResult<Vec<Outgoing>> {
    Ok(outbox::table
        .order(outbox::id.desc())
        .select(Outgoing::as_select())
        .load(conn)?)
}

/// The ticket of one of our Message-IDs.
pub fn ticket_of_sent(conn: &mut AnyConnection, ids: &[String]) -> StoreResult<Option<i64>> {
    if ids.is_empty() {
        return Ok(None);
    }
    Ok(outbox::table
        .filter(outbox::message_id.eq_any(ids))
        .filter(outbox::ticket_id.is_not_null())
        .order(outbox::id.desc())
        .select(outbox::ticket_id)
        .first::<Option<i64>>(conn)
        .optional()?
        .flatten())
}

/// The recipients of the mail we sent with this Message-ID, if we sent
/// one (what a delivery report about it may speak of).
pub fn recipients_of(conn: &mut AnyConnection, message_id: &str) -> StoreResult<Option<String>> {
    Ok(native!(conn, |c| outbox::table
        .filter(outbox::message_id.eq(message_id))
        .select(outbox::recipients)
        .first::<String>(c)
        .optional())?)
}

/// Whether a Message-ID is one we sent (our own mail coming back).
pub fn is_ours(conn: &mut AnyConnection, message_id: &str) -> StoreResult<bool> {
    Ok(native!(conn, |c| outbox::table
        .filter(outbox::message_id.eq(message_id))
        .count()
        .get_result::<i64>(c))?
        > 0)
}

/// Makes rows due now: the given ones whatever their state (a failed or
/// held mail sent again by hand), or every pending one. A row a daemon
/// has claimed and may be sending this very moment is left to it, so it
/// is not sent twice.
pub fn retry(conn: &mut AnyConnection, ids: &[i64], now: NaiveDateTime) -> StoreResult<usize> {
    let changes = (
        outbox::state.eq(state::PENDING),
        outbox::next_attempt_at.eq(now),
    );
    // A claim past its time is a dead daemon's (release_dead_claims
    // gives back those of this machine at once).
    let unclaimed = outbox::claimed_by
        .is_null()
        .or(outbox::next_attempt_at.le(now));
    Ok(if ids.is_empty() {
        diesel::update(
            outbox::table
                .filter(outbox::state.eq(state::PENDING))
                .filter(unclaimed),
        )
        .set(changes)
        .execute(conn)?
    } else {
        diesel::update(
            outbox::table
                .filter(outbox::id.eq_any(ids))
                .filter(outbox::state.ne(state::SENT))
                .filter(unclaimed),
        )
        .set(changes)
        .execute(conn)?
    })
}
