//! The agents' digest (`[digest]`): composed from the open tickets
//! ([`crate::ticket::digest`]), rendered, and queued in the outbox; each
//! morning of a business day by the scheduler, at once by `guichet
//! digest` or an agent's `#digest`.

use chrono::{Datelike, NaiveDateTime, TimeZone, Weekday};
use diesel::Connection;

use super::Desk;
use crate::clock::Clock;
use crate::outbound::render::Rendered;
use crate::store::{self, tickets, AnyConnection, StoreError, StoreResult};
use crate::ticket::calendar::Calendar;
use crate::ticket::digest::{digest, Reader};

/// The counter holding the local day (days since 1 January of year 1) of
/// the last digest: several daemons, or a restart, send it once a day.
const LAST_DIGEST_DAY: &str = "digest_day";

/// A digest to send: to whom, and the mail.
pub struct Composed {
    pub to: Vec<String>,
    pub mail: Rendered,
    pub empty: bool,
}

/// Who gets a digest: the listed addresses one digest of every ticket
/// (`[digest] to`), else each agent their own.
pub fn readers(conn: &mut AnyConnection, desk: &Desk) -> StoreResult<Vec<(Reader, Vec<String>)>> {
    let to = &desk.settings.digest.to;
    if !to.is_empty() {
        return Ok(vec![(Reader::Desk, to.clone())]);
    }
    Ok(store::agents::list(conn)?
        .into_iter()
        .map(|a| (Reader::Agent(a.email.clone()), vec![a.email]))
        .collect())
}

/// The digests of `readers` as of `now`.
pub fn compose(
    conn: &mut AnyConnection,
    desk: &Desk,
    readers: &[(Reader, Vec<String>)],
    now: NaiveDateTime,
) -> StoreResult<Vec<Composed>> {
    let open = tickets::list(
        conn,
        &tickets::ListFilter {
            open: true,
            ..Default::default()
        },
    )?;
    let agents = super::apply::agents(conn)?;
    let language = desk.settings.tickets.language;
    readers
        .iter()
        .map(|(reader, to)| {
            let d = digest(&open, reader, &desk.policy, now);
            let name = match reader {
                Reader::Agent(email) => agents.name_of(email).flatten(),
                Reader::Desk => None,
            };
            let context =
                desk.presentation
                    .digest_context(&d, reader, name, &desk.policy, now, language);
            let mail = desk
                .renderer
                .render(language, "digest", &context)
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            Ok(Composed {
                to: to.clone(),
                mail,
                empty: d.is_empty(),
            })
        })
        .collect()
}

/// Queues `digests` in the outbox, one mail per address, in one
/// transaction; empty ones only when `even_empty` (asked for). Returns the
/// number of mails queued.
pub fn enqueue(
    conn: &mut AnyConnection,
    desk: &Desk,
    digests: &[Composed],
    even_empty: bool,
    clock: &Clock,
) -> StoreResult<usize> {
    conn.transaction(|conn| {
        let mut queued = 0;
        for d in digests.iter().filter(|d| even_empty || !d.empty) {
            queued += super::queue_unthreaded(conn, desk, &d.to, &d.mail, "digest", clock)?;
        }
        Ok(queued)
    })
}

/// The scheduler's part: at `[digest] at` on a business day (Monday to
/// Friday without `[hours]`), once that day, every reader's digest (the
/// empty ones are not sent). Returns the number of mails queued.
pub fn send_if_due(conn: &mut AnyConnection, desk: &Desk, clock: &Clock) -> StoreResult<usize> {
    let Some(at) = desk.settings.digest.at else {
        return Ok(0);
    };
    let now = clock.now_naive();
    let zone = desk
        .settings
        .tickets
        .timezone
        .unwrap_or_else(crate::config::system_zone);
    let local = zone.from_utc_datetime(&now).naive_local();
    let business = match &desk.policy.calendar {
        Calendar::Always => !matches!(local.weekday(), Weekday::Sat | Weekday::Sun),
        calendar => calendar.is_business_day(local.date()),
    };
    if !business || local.time() < at {
        return Ok(0);
    }
    let day = i64::from(local.num_days_from_ce());
    // Once sent, nothing is composed again that day.
    if store::day_claimed(conn, LAST_DIGEST_DAY, day)? {
        return Ok(0);
    }
    // Composed before the day is claimed: a digest that cannot be
    // rendered is tried again at the next cycle. The claim and the mails
    // are written together: a failure loses neither.
    let readers = readers(conn, desk)?;
    let digests = compose(conn, desk, &readers, now)?;
    let queued = conn.transaction(|conn| -> StoreResult<usize> {
        if !store::claim_day(conn, LAST_DIGEST_DAY, day)? {
            return Ok(0);
        }
        enqueue(conn, desk, &digests, false, clock)
    })?;
    tracing::info!(mails = queued, "agents' digest queued");
    Ok(queued)
}
