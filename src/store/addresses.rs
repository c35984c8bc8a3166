//! `undeliverable`: addresses that bounced for good, and the rate limit of
//! automatic mail per address.

use std::collections::{BTreeSet, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{outbox, undeliverable};
use super::{native, AnyConnection, StoreResult};

/// Records that mail to `email` bounced for good.
pub fn mark_undeliverable(
    conn: &mut AnyConnection,
    email: &str,
    reason: &str,
    now: NaiveDateTime,
) -> StoreResult<()> {
    let email = email.to_lowercase();
    let updated = diesel::update(undeliverable::table.find(&email))
        .set((
            undeliverable::reason.eq(reason),
            undeliverable::since.eq(now),
        ))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(undeliverable::table)
            .values((
                undeliverable::email.eq(&email),
                undeliverable::reason.eq(reason),
                undeliverable::since.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The address wrote to us: it works again.
pub fn clear_undeliverable(conn: &mut AnyConnection, email: &str) -> StoreResult<bool> {
    let email = email.to_lowercase();
    Ok(
        native!(conn, |c| diesel::delete(undeliverable::table.find(&email))
            .execute(c))?
            > 0,
    )
}

/// Addresses looked up in one PostgreSQL statement, at most.
const LOOKUP_CHUNK: usize = 500;

/// Which of `emails` bounced for good, lowercased. On PostgreSQL one
/// statement (an array) for a whole batch's recipients: a round trip
/// saved per mail. On SQLite one compiled statement run per address: a
/// list of hundreds of values would be compiled anew at each batch, and
/// costs more than it saves where there is no round trip.
pub fn undeliverable_among(
    conn: &mut AnyConnection,
    emails: &[&str],
) -> StoreResult<HashSet<String>> {
    let lowered: BTreeSet<String> = emails.iter().map(|e| e.to_lowercase()).collect();
    let lowered: Vec<String> = lowered.into_iter().collect();
    let mut found = HashSet::new();
    match conn {
        AnyConnection::Postgresql(c) => {
            for chunk in lowered.chunks(LOOKUP_CHUNK) {
                let rows: Vec<String> = undeliverable::table
                    .filter(undeliverable::email.eq_any(chunk))
                    .select(undeliverable::email)
                    .load(c)?;
                found.extend(rows);
            }
        }
        AnyConnection::Sqlite(c) => {
            for email in lowered {
                let known: i64 = undeliverable::table.find(&email).count().get_result(c)?;
                if known > 0 {
                    found.insert(email);
                }
            }
        }
    }
    Ok(found)
}

/// When mail of these kinds (the automatic answers) was written to each
/// of `emails` since `since`, held back mail excepted: (address, when).
/// One statement for a whole batch on PostgreSQL, one compiled statement
/// run per address on SQLite (see [`undeliverable_among`]).
pub fn written_since(
    conn: &mut AnyConnection,
    emails: &[&str],
    kinds: [&str; 6],
    since: NaiveDateTime,
) -> StoreResult<Vec<(String, NaiveDateTime)>> {
    let distinct: BTreeSet<&str> = emails.iter().copied().collect();
    let distinct: Vec<&str> = distinct.into_iter().collect();
    let chunk = match conn {
        AnyConnection::Postgresql(_) => LOOKUP_CHUNK,
        AnyConnection::Sqlite(_) => 1,
    };
    let mut found = Vec::new();
    for emails in distinct.chunks(chunk) {
        found.extend(written_since_chunk(conn, emails, kinds, since)?);
    }
    Ok(found)
}

/// Written with `=` for one address, so that SQLite keeps the statement
/// compiled between mails, and `= ANY` for several on PostgreSQL.
fn written_since_chunk(
    conn: &mut AnyConnection,
    emails: &[&str],
    kinds: [&str; 6],
    since: NaiveDateTime,
) -> StoreResult<Vec<(String, NaiveDateTime)>> {
    let [a, b, c, d, e, f] = kinds;
    let automatic = outbox::table
        .filter(outbox::created_at.ge(since))
        .filter(
            outbox::kind
                .eq(a)
                .or(outbox::kind.eq(b))
                .or(outbox::kind.eq(c))
                .or(outbox::kind.eq(d))
                .or(outbox::kind.eq(e))
                .or(outbox::kind.eq(f)),
        )
        .filter(outbox::state.ne(super::outbox::state::HELD))
        .select((outbox::recipients, outbox::created_at));
    Ok(match emails {
        [one] => native!(conn, |db| automatic
            .filter(outbox::recipients.eq(*one))
            .load(db))?,
        many => native!(conn, |db| automatic
            .filter(outbox::recipients.eq_any(many))
            .load(db))?,
    })
}
