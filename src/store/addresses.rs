//! `undeliverable`: addresses that bounced for good, and the rate limit of
//! automatic mail per address.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{outbox, undeliverable};
use super::{AnyConnection, StoreResult};

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
    Ok(diesel::delete(undeliverable::table.find(email.to_lowercase())).execute(conn)? > 0)
}

pub fn is_undeliverable(conn: &mut AnyConnection, email: &str) -> StoreResult<bool> {
    Ok(undeliverable::table
        .find(email.to_lowercase())
        .count()
        .get_result::<i64>(conn)?
        > 0)
}

/// Mail of these kinds written to `email` since `since`, held back mail
/// excepted.
pub fn sent_since(
    conn: &mut AnyConnection,
    email: &str,
    kinds: &[&str],
    since: NaiveDateTime,
) -> StoreResult<i64> {
    Ok(outbox::table
        .filter(outbox::recipients.eq(email))
        .filter(outbox::kind.eq_any(kinds))
        .filter(outbox::created_at.ge(since))
        .filter(outbox::state.ne(super::outbox::state::HELD))
        .count()
        .get_result(conn)?)
}
