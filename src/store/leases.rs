//! `leases`: one holder at a time for a named job (fetching a mailbox),
//! taken over by another daemon when the holder stops renewing it.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::leases;
use super::{AnyConnection, StoreResult};

/// Takes or renews the lease `name` for `holder` until `until`; false when
/// another holder has it and it has not expired.
pub fn acquire(
    conn: &mut AnyConnection,
    name: &str,
    holder: &str,
    now: NaiveDateTime,
    until: NaiveDateTime,
) -> StoreResult<bool> {
    conn.transaction(|conn| {
        super::lock_for_write(conn)?;
        let current: Option<(String, NaiveDateTime)> = leases::table
            .find(name)
            .select((leases::holder, leases::expires_at))
            .first(conn)
            .optional()?;
        match current {
            None => {
                diesel::insert_into(leases::table)
                    .values((
                        leases::name.eq(name),
                        leases::holder.eq(holder),
                        leases::expires_at.eq(until),
                    ))
                    .execute(conn)?;
                Ok(true)
            }
            // Expired, or held by a process of this machine that died.
            Some((h, expires)) if h == holder || expires <= now || crate::instance::is_dead(&h) => {
                diesel::update(leases::table.find(name))
                    .set((leases::holder.eq(holder), leases::expires_at.eq(until)))
                    .execute(conn)?;
                Ok(true)
            }
            Some(_) => Ok(false),
        }
    })
}

/// Gives the lease up at a clean stop, so another daemon takes over at
/// once.
pub fn release(conn: &mut AnyConnection, name: &str, holder: &str) -> StoreResult<()> {
    diesel::delete(
        leases::table
            .filter(leases::name.eq(name))
            .filter(leases::holder.eq(holder)),
    )
    .execute(conn)?;
    Ok(())
}

/// The current holder, if the lease is live (its holder may have died
/// since; `acquire` knows).
pub fn holder(
    conn: &mut AnyConnection,
    name: &str,
    now: NaiveDateTime,
) -> StoreResult<Option<String>> {
    Ok(leases::table
        .find(name)
        .filter(leases::expires_at.gt(now))
        .select(leases::holder)
        .first(conn)
        .optional()?)
}
