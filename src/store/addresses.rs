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

/// Addresses looked up in one statement, at most: the lists of a batch
/// stay well under the databases' limits on bound values.
const LOOKUP_CHUNK: usize = 500;

/// Which of `emails` bounced for good, lowercased: one statement for a
/// whole batch's recipients.
pub fn undeliverable_among(
    conn: &mut AnyConnection,
    emails: &[&str],
) -> StoreResult<HashSet<String>> {
    let lowered: BTreeSet<String> = emails.iter().map(|e| e.to_lowercase()).collect();
    let lowered: Vec<String> = lowered.into_iter().collect();
    let mut found = HashSet::new();
    for chunk in lowered.chunks(LOOKUP_CHUNK) {
        let rows: Vec<String> = native!(conn, |c| undeliverable::table
            .filter(undeliverable::email.eq_any(chunk))
            .select(undeliverable::email)
            .load(c))?;
        found.extend(rows);
    }
    Ok(found)
}

/// When mail of these kinds (the automatic answers) was written to each
/// of `emails` since `since`, held back mail excepted: (address, when),
/// one statement for a whole batch's recipients.
pub fn written_since(
    conn: &mut AnyConnection,
    emails: &[&str],
    kinds: [&str; 6],
    since: NaiveDateTime,
) -> StoreResult<Vec<(String, NaiveDateTime)>> {
    let distinct: BTreeSet<&str> = emails.iter().copied().collect();
    let distinct: Vec<&str> = distinct.into_iter().collect();
    let mut found = Vec::new();
    for chunk in distinct.chunks(LOOKUP_CHUNK) {
        found.extend(written_since_chunk(conn, chunk, kinds, since)?);
    }
    Ok(found)
}

fn written_since_chunk(
    conn: &mut AnyConnection,
    emails: &[&str],
    kinds: [&str; 6],
    since: NaiveDateTime,
) -> StoreResult<Vec<(String, NaiveDateTime)>> {
    let [a, b, c, d, e, f] = kinds;
    Ok(native!(conn, |db| outbox::table
        .filter(outbox::recipients.eq_any(emails))
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
        .select((outbox::recipients, outbox::created_at))
        .load(db))?)
}
