//! The CLI's changes to a ticket's watchers (`guichet watchers add|remove`).

use diesel::Connection;

use crate::clock::Clock;
use crate::store::{tickets, AnyConnection, StoreError, StoreResult};
use crate::ticket::TicketRef;

/// A watcher added by the desk; false when already there.
pub fn add_watcher(
    conn: &mut AnyConnection,
    number: TicketRef,
    email: &str,
    clock: &Clock,
) -> StoreResult<bool> {
    conn.transaction(|conn| {
        let (id, _) = tickets::find_by_number(conn, number)?
            .ok_or_else(|| StoreError::Invalid(format!("no ticket {number}")))?;
        tickets::add_watcher(conn, id, email, clock.now_naive())
    })
}

/// A watcher removed; false when it was not one.
pub fn remove_watcher(
    conn: &mut AnyConnection,
    number: TicketRef,
    email: &str,
) -> StoreResult<bool> {
    conn.transaction(|conn| {
        let (id, _) = tickets::find_by_number(conn, number)?
            .ok_or_else(|| StoreError::Invalid(format!("no ticket {number}")))?;
        tickets::remove_watcher(conn, id, email)
    })
}
