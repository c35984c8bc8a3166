//! `undeliverable`: addresses that bounced for good, and the rate limit of
//! automatic mail per address.

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

pub fn is_undeliverable(conn: &mut AnyConnection, email: &str) -> StoreResult<bool> {
    let email = email.to_lowercase();
    Ok(native!(conn, |c| undeliverable::table
        .find(&email)
        .count()
        .get_result::<i64>(c))?
        > 0)
}

/// When mail of these kinds (the automatic answers) was written to
/// `email` since `since`, held back mail excepted. Written without `IN`
/// and without `LIMIT`, so SQLite keeps the statement compiled between
/// mails (the loop guard keeps the list short).
pub fn written_since(
    conn: &mut AnyConnection,
    email: &str,
    kinds: [&str; 6],
    since: NaiveDateTime,
) -> StoreResult<Vec<NaiveDateTime>> {
    let [a, b, c, d, e, f] = kinds;
    Ok(native!(conn, |db| outbox::table
        .filter(outbox::recipients.eq(email))
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
        .select(outbox::created_at)
        .load(db))?)
}
