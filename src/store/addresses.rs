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

/// How many addresses one lookup takes. PostgreSQL: a batch's worth in
/// one statement (`= ANY`, an array), a round trip saved per mail.
/// SQLite: one, with `=`, so that the statement stays compiled between
/// mails; a list of hundreds of values would be compiled anew at each
/// batch, and costs more than it saves where there is no round trip.
fn lookup_chunk(conn: &AnyConnection) -> usize {
    match conn {
        AnyConnection::Postgresql(_) => LOOKUP_CHUNK,
        AnyConnection::Sqlite(_) => 1,
    }
}

/// Which of `emails` bounced for good, lowercased.
pub fn undeliverable_among(
    conn: &mut AnyConnection,
    emails: &[&str],
) -> StoreResult<HashSet<String>> {
    let lowered: BTreeSet<String> = emails.iter().map(|e| e.to_lowercase()).collect();
    let lowered: Vec<String> = lowered.into_iter().collect();
    let mut found = HashSet::new();
    for chunk in lowered.chunks(lookup_chunk(conn)) {
        let rows: Vec<String> = match chunk {
            [one] => native!(conn, |c| undeliverable::table
                .find(one)
                .select(undeliverable::email)
                .load(c))?,
            many => native!(conn, |c| undeliverable::table
                .filter(undeliverable::email.eq_any(many))
                .select(undeliverable::email)
                .load(c))?,
        };
        found.extend(rows);
    }
    Ok(found)
}

/// When mail of these kinds (the automatic answers) was written to each
/// of `emails` since `since`, held back mail excepted: (address, when).
pub fn written_since(
    conn: &mut AnyConnection,
    emails: &[&str],
    kinds: [&str; 9],
    since: NaiveDateTime,
) -> StoreResult<Vec<(String, NaiveDateTime)>> {
    let distinct: BTreeSet<&str> = emails.iter().copied().collect();
    let distinct: Vec<&str> = distinct.into_iter().collect();
    let mut found = Vec::new();
    for emails in distinct.chunks(lookup_chunk(conn)) {
        found.extend(written_since_chunk(conn, emails, kinds, since)?);
    }
    Ok(found)
}

/// One lookup of [`written_since`] (see [`lookup_chunk`]).
fn written_since_chunk(
    conn: &mut AnyConnection,
    emails: &[&str],
    kinds: [&str; 9],
    since: NaiveDateTime,
) -> StoreResult<Vec<(String, NaiveDateTime)>> {
    let [a, b, c, d, e, f, g, h, i] = kinds;
    let automatic = outbox::table
        .filter(outbox::created_at.ge(since))
        .filter(
            outbox::kind
                .eq(a)
                .or(outbox::kind.eq(b))
                .or(outbox::kind.eq(c))
                .or(outbox::kind.eq(d))
                .or(outbox::kind.eq(e))
                .or(outbox::kind.eq(f))
                .or(outbox::kind.eq(g))
                .or(outbox::kind.eq(h))
                .or(outbox::kind.eq(i)),
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
