//! `[retention] closed_tickets`: once a day, the scheduler deletes the
//! tickets closed longer ago than that (see [`store::retention`]).

use chrono::NaiveDateTime;

use super::Desk;
use crate::clock::Clock;
use crate::store::retention::{self, Purged};
use crate::store::{self, AnyConnection, StoreResult};

/// The counter that holds the day (days since 1970-01-01, UTC) of the
/// last daily purge: several daemons, or a restart, purge once a day.
const LAST_PURGE_DAY: &str = "retention_day";

/// The cut-off of the daily purge at `now`, when `[retention]` sets one.
pub fn cutoff(desk: &Desk, now: NaiveDateTime) -> Option<NaiveDateTime> {
    let keep = desk.settings.retention.closed_tickets?;
    let keep = chrono::Duration::from_std(keep).ok()?;
    now.checked_sub_signed(keep)
}

/// Purges once a day when `[retention] closed_tickets` is set; returns
/// what was deleted when it ran.
pub fn purge_if_due(
    conn: &mut AnyConnection,
    desk: &Desk,
    clock: &Clock,
) -> StoreResult<Option<Purged>> {
    let now = clock.now_naive();
    let Some(before) = cutoff(desk, now) else {
        return Ok(None);
    };
    let today = now.and_utc().timestamp().div_euclid(86_400);
    let claimed = store::claim_day(conn, LAST_PURGE_DAY, today)?;
    if !claimed {
        return Ok(None);
    }
    let purged = retention::purge_closed_before(conn, before, false)?;
    tracing::info!(
        closed_before = %crate::clock::rfc3339(before),
        tickets = purged.tickets,
        messages = purged.messages,
        raw_mails = purged.raw_mails,
        sent_mails = purged.sent_mails,
        files = purged.files,
        "daily retention purge done"
    );
    Ok(Some(purged))
}
