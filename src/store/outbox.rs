//! `outbox`: outgoing mail, written in the transaction of the change that
//! caused it, sent later by the dispatcher.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{blobs, outbox, outbox_bodies, outbox_files, relay_holds};
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
    /// The files `raw` carries, written to `outbox_files`: their parts are
    /// empty in `raw`, and filled from `blobs` when the mail is claimed.
    #[diesel(skip_insertion)]
    pub files: &'a [FileAt<'a>],
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

/// A file an outgoing mail carries: where its contents go in the mail's
/// stored bytes, and the file (already in `blobs`).
#[derive(Clone, Copy, Debug)]
pub struct FileAt<'a> {
    pub at: usize,
    pub sha256: &'a str,
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
                let files: Vec<_> = ids
                    .iter()
                    .zip(chunk)
                    .flat_map(|(id, row)| file_rows(*id, row.files))
                    .collect();
                // In chunks of a power of two rows too.
                let mut files = files.as_slice();
                while !files.is_empty() {
                    let n = INSERT_CHUNK.min(1 << files.len().ilog2());
                    let (chunk, rest) = files.split_at(n);
                    diesel::insert_into(outbox_files::table)
                        .values(chunk)
                        .execute(c)?;
                    files = rest;
                }
                rows = rest;
            }
        }
        AnyConnection::Sqlite(c) => {
            for row in rows {
                // Without RETURNING, which SQLite runs as a trigger, with a
                // statement journal (`store::insert_id!`).
                diesel::insert_into(outbox::table).values(row).execute(c)?;
                let id = crate::store::last_insert_rowid(c)?;
                diesel::insert_into(outbox_bodies::table)
                    .values((
                        outbox_bodies::outbox_id.eq(id),
                        outbox_bodies::raw.eq(row.raw),
                    ))
                    .execute(c)?;
                if !row.files.is_empty() {
                    diesel::insert_into(outbox_files::table)
                        .values(file_rows(id, row.files).collect::<Vec<_>>())
                        .execute(c)?;
                }
            }
        }
    }
    Ok(())
}

type FileRow<'a> = (
    diesel::dsl::Eq<outbox_files::outbox_id, i64>,
    diesel::dsl::Eq<outbox_files::position, i32>,
    diesel::dsl::Eq<outbox_files::at, i64>,
    diesel::dsl::Eq<outbox_files::sha256, &'a str>,
);

fn file_rows<'a>(id: i64, files: &'a [FileAt<'a>]) -> impl Iterator<Item = FileRow<'a>> + 'a {
    files.iter().enumerate().map(move |(position, f)| {
        (
            outbox_files::outbox_id.eq(id),
            outbox_files::position.eq(position as i32),
            outbox_files::at.eq(f.at as i64),
            outbox_files::sha256.eq(f.sha256),
        )
    })
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
            // Its files count in base64 (a third larger), as it is sent.
            diesel::dsl::sql::<diesel::sql_types::BigInt>(
                "CAST(length(outbox_bodies.raw) + COALESCE((SELECT SUM(blobs.size) \
                 FROM outbox_files JOIN blobs ON blobs.sha256 = outbox_files.sha256 \
                 WHERE outbox_files.outbox_id = outbox.id), 0) * 4 / 3 AS BIGINT)",
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
    let mut files = files_of(conn, &claimed)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let raw = bodies.remove(&row.id).unwrap_or_default();
        let Some(placed) = files.placed.remove(&row.id) else {
            out.push(Claimed { raw, row });
            continue;
        };
        let contents: Option<Vec<(usize, &[u8])>> = placed
            .iter()
            .map(|(at, sha256)| Some((*at, files.contents.get(sha256)?.as_slice())))
            .collect();
        match contents.and_then(|c| crate::outbound::compose::splice(&raw, &c)) {
            Some(raw) => out.push(Claimed { raw, row }),
            None => {
                // Only a database changed by hand gets here: the row is
                // kept, failed, with why, and the others go.
                let why = "its files cannot be put back in it (missing or misplaced)";
                tracing::error!(id = row.id, to = %row.recipients, "outgoing mail not sent: {why}");
                mark_failed(conn, row.id, why, None)?;
            }
        }
    }
    Ok(out)
}

/// The files of claimed rows: where each goes in its row's bytes, in
/// order, and each file's contents once, however many rows carry it.
struct Files {
    placed: std::collections::HashMap<i64, Vec<(usize, String)>>,
    contents: std::collections::HashMap<String, Vec<u8>>,
}

fn files_of(conn: &mut AnyConnection, ids: &[i64]) -> StoreResult<Files> {
    let rows: Vec<(i64, i64, String)> = native!(conn, |c| outbox_files::table
        .filter(outbox_files::outbox_id.eq_any(ids))
        .order((outbox_files::outbox_id.asc(), outbox_files::position.asc()))
        .select((
            outbox_files::outbox_id,
            outbox_files::at,
            outbox_files::sha256
        ))
        .load(c))?;
    let mut placed: std::collections::HashMap<i64, Vec<(usize, String)>> = Default::default();
    let mut hashes: Vec<&str> = Vec::new();
    for (id, at, sha256) in &rows {
        if !hashes.contains(&sha256.as_str()) {
            hashes.push(sha256);
        }
        placed
            .entry(*id)
            .or_default()
            .push((usize::try_from(*at).unwrap_or(usize::MAX), sha256.clone()));
    }
    let contents = if hashes.is_empty() {
        Default::default()
    } else {
        native!(conn, |c| blobs::table
            .filter(blobs::sha256.eq_any(&hashes))
            .select((blobs::sha256, blobs::content))
            .load::<(String, Vec<u8>)>(c))?
        .into_iter()
        .collect()
    };
    Ok(Files { placed, contents })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::compose::{compose, Draft, File};

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    /// A notice naming one file, composed as the outbox keeps it.
    fn notice(message_id: &str, to: &[String], sha256: &str) -> crate::outbound::Composed {
        let from = "Support <sau@example.test>".parse().unwrap();
        compose(&Draft {
            from: &from,
            to,
            subject: "[SUPPORT #000001] Imprimante",
            body: "Nouvelle demande, fichier joint.",
            html: None,
            message_id,
            in_reply_to: None,
            references: &[],
            auto_submitted: "auto-generated",
            date: chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            files: &[File {
                filename: "journal.zip".into(),
                content_type: "application/zip".into(),
                sha256: sha256.into(),
                inline: false,
                content_id: None,
            }],
        })
        .unwrap()
    }

    /// Mails naming a file keep it once, outside their bytes; each is
    /// claimed with the file put back whole; the claim's bound counts the
    /// files; a row whose file cannot be put back is failed, with why,
    /// and the others still go.
    #[test]
    fn outgoing_mail_names_its_files_and_is_claimed_with_them() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("g.db").display());
        let mut conn = crate::store::connect(&url).unwrap();
        crate::store::migrate(&mut conn).unwrap();
        let zip: Vec<u8> = (0..300_000u32).map(|i| (i * 13 % 253) as u8).collect();
        crate::store::tickets::store_file(&mut conn, "h1", &zip).unwrap();
        let now = at("2026-12-08 08:00");
        let to: Vec<[String; 1]> = ["marc@example.test", "lea@example.test", "paul@example.test"]
            .map(|a| [a.to_string()])
            .into();
        let ids = [
            "a1.guichet@example.test",
            "a2.guichet@example.test",
            "a3.guichet@example.test",
        ];
        let mails: Vec<_> = ids
            .iter()
            .zip(&to)
            .map(|(id, to)| notice(id, to, "h1"))
            .collect();
        let files: Vec<[FileAt<'_>; 1]> = mails
            .iter()
            .map(|m| {
                [FileAt {
                    at: m.files_at[0],
                    sha256: "h1",
                }]
            })
            .collect();
        let rows: Vec<NewOutgoing<'_>> = (0..3)
            .map(|i| NewOutgoing {
                ticket_id: None,
                kind: "new_ticket_agents",
                message_id: ids[i],
                sender: "sau@example.test",
                recipients: &to[i][0],
                subject: "[SUPPORT #000001] Imprimante",
                raw: &mails[i].raw,
                files: &files[i],
                state: state::PENDING,
                attempts: 0,
                next_attempt_at: now,
                created_at: now,
                last_error: None,
            })
            .collect();
        insert_all(&mut conn, &rows).unwrap();
        let stored: Vec<i64> = outbox_bodies::table
            .select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
                "CAST(length(raw) AS BIGINT)",
            ))
            .load(&mut conn)
            .unwrap();
        assert!(stored.iter().all(|&n| n < 2_000), "{stored:?}");
        // The third row's file is misplaced, as a hand-made change would.
        diesel::update(outbox_files::table.filter(outbox_files::outbox_id.eq(3)))
            .set(outbox_files::at.eq(1_000_000))
            .execute(&mut conn)
            .unwrap();

        // 300 KB of file is 400 KB sent: two rows pass 600 KB.
        let first = claim_due(&mut conn, now, 10, 600_000, "me").unwrap();
        assert_eq!(first.len(), 1);
        let rest = claim_due(&mut conn, now, 10, 10_000_000, "me").unwrap();
        assert_eq!(rest.len(), 1, "the misplaced one is not claimed");
        for c in first.iter().chain(&rest) {
            let m = mail_parser::MessageParser::default().parse(&c.raw).unwrap();
            let got: Vec<&[u8]> = m.attachments().map(|a| a.contents()).collect();
            assert_eq!(got, [zip.as_slice()], "{}", c.row.recipients);
            assert!(c.raw.len() > 400_000);
        }
        let failed = list(&mut conn)
            .unwrap()
            .into_iter()
            .find(|r| r.id == 3)
            .unwrap();
        assert_eq!(failed.state, state::FAILED);
        assert!(failed
            .last_error
            .unwrap()
            .contains("files cannot be put back"));
        // A file named by outgoing mail cannot be deleted from under it.
        let deleted = diesel::delete(blobs::table).execute(&mut conn);
        assert!(deleted.is_err(), "{deleted:?}");
    }
}
