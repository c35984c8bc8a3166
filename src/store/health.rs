//! `health`: whether the daemon can read the support mailbox and reach the
//! relay, kept in the database so that an incident raises one alert even
//! across restarts, its end one more, and `guichet status` (another
//! process, run by the monitoring) reads what the daemon saw.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::health;
use super::{AnyConnection, StoreResult};

/// What is known of one component (`mailbox …`, `relay host:port`).
#[derive(Queryable, Selectable, Clone, Debug, PartialEq, Eq)]
#[diesel(table_name = health)]
pub struct Health {
    pub component: String,
    /// When it last worked (the mailbox: a fetch, or a session known alive).
    pub ok_at: Option<NaiveDateTime>,
    /// Since when it fails, while it does.
    pub failing_since: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    /// When the alert for the current incident was queued; cleared when
    /// the end of the incident is told.
    pub alerted_at: Option<NaiveDateTime>,
}

pub fn get(conn: &mut AnyConnection, component: &str) -> StoreResult<Option<Health>> {
    Ok(health::table
        .find(component)
        .select(Health::as_select())
        .first(conn)
        .optional()?)
}

/// Every component, by name.
pub fn all(conn: &mut AnyConnection) -> StoreResult<Vec<Health>> {
    Ok(health::table
        .select(Health::as_select())
        .order(health::component)
        .load(conn)?)
}

/// `component` works at `now`: the failure, if any, is over.
pub fn record_ok(conn: &mut AnyConnection, component: &str, now: NaiveDateTime) -> StoreResult<()> {
    let updated = diesel::update(health::table.find(component))
        .set((
            health::ok_at.eq(Some(now)),
            health::failing_since.eq(None::<NaiveDateTime>),
            health::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    if updated == 0 {
        insert(conn, component, Some(now), None, None)?;
    }
    Ok(())
}

/// `component` failed at `since` (its first failure; a failure already
/// recorded keeps its start) with `error`. Returns the row as it now is.
pub fn record_failure(
    conn: &mut AnyConnection,
    component: &str,
    since: NaiveDateTime,
    error: &str,
) -> StoreResult<Health> {
    conn.transaction(|conn| {
        super::lock_for_write(conn)?;
        match get(conn, component)? {
            Some(row) => {
                let since = row.failing_since.unwrap_or(since);
                diesel::update(health::table.find(component))
                    .set((
                        health::failing_since.eq(Some(since)),
                        health::last_error.eq(Some(error)),
                    ))
                    .execute(conn)?;
                Ok(Health {
                    failing_since: Some(since),
                    last_error: Some(error.to_string()),
                    ..row
                })
            }
            None => {
                insert(conn, component, None, Some(since), Some(error))?;
                Ok(Health {
                    component: component.to_string(),
                    ok_at: None,
                    failing_since: Some(since),
                    last_error: Some(error.to_string()),
                    alerted_at: None,
                })
            }
        }
    })
}

/// Marks the current incident of `component` as alerted at `now`; false
/// when it already was (by this daemon before a restart, or by another
/// one), so that one incident raises one alert.
pub fn claim_alert(
    conn: &mut AnyConnection,
    component: &str,
    now: NaiveDateTime,
) -> StoreResult<bool> {
    let claimed = diesel::update(
        health::table
            .find(component)
            .filter(health::alerted_at.is_null())
            .filter(health::failing_since.is_not_null()),
    )
    .set(health::alerted_at.eq(Some(now)))
    .execute(conn)?;
    Ok(claimed == 1)
}

/// Ends the alerted incident of `component`; false when none was alerted
/// (or another daemon ended it first).
pub fn end_alert(conn: &mut AnyConnection, component: &str) -> StoreResult<bool> {
    let ended = diesel::update(
        health::table
            .find(component)
            .filter(health::alerted_at.is_not_null()),
    )
    .set(health::alerted_at.eq(None::<NaiveDateTime>))
    .execute(conn)?;
    Ok(ended == 1)
}

fn insert(
    conn: &mut AnyConnection,
    component: &str,
    ok_at: Option<NaiveDateTime>,
    failing_since: Option<NaiveDateTime>,
    error: Option<&str>,
) -> StoreResult<()> {
    diesel::insert_into(health::table)
        .values((
            health::component.eq(component),
            health::ok_at.eq(ok_at),
            health::failing_since.eq(failing_since),
            health::last_error.eq(error),
            health::alerted_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(())
}
