//! What the activity report reads of the tickets: every ticket whose life
//! meets a period, as three indexed reads (opened in it, closed in it,
//! open at its end) rather than one scan.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::tickets;
use super::{native, AnyConnection, StoreError, StoreResult};
use crate::ticket::report::{Period, Row};
use crate::ticket::{CloseReason, Impact, TicketType};

#[derive(Queryable, Selectable)]
#[diesel(table_name = tickets)]
struct ReportRow {
    created_at: NaiveDateTime,
    closed_at: Option<NaiveDateTime>,
    close_reason: Option<String>,
    solved_at: Option<NaiveDateTime>,
    first_answered_at: Option<NaiveDateTime>,
    first_answer_due: Option<NaiveDateTime>,
    resolution_due: Option<NaiveDateTime>,
    ticket_type: String,
    impact: Option<String>,
    category: Option<String>,
    organisation: Option<String>,
    queue: Option<String>,
    assignee_email: Option<String>,
    reopened: i32,
}

fn bad(what: &str, value: &str) -> StoreError {
    StoreError::Invalid(format!("unexpected {what} {value:?} in the database"))
}

impl ReportRow {
    fn into_row(self) -> StoreResult<Row> {
        Ok(Row {
            created_at: self.created_at,
            closed_at: self.closed_at,
            close_reason: match self.close_reason.as_deref() {
                Some(r) => Some(CloseReason::parse(r).ok_or_else(|| bad("close reason", r))?),
                None => None,
            },
            solved_at: self.solved_at,
            first_answered_at: self.first_answered_at,
            first_answer_due: self.first_answer_due,
            resolution_due: self.resolution_due,
            ticket_type: TicketType::parse(&self.ticket_type)
                .ok_or_else(|| bad("type", &self.ticket_type))?,
            impact: match self.impact.as_deref() {
                Some(i) => Some(Impact::parse(i).ok_or_else(|| bad("impact", i))?),
                None => None,
            },
            category: self.category,
            organisation: self.organisation,
            queue: self.queue,
            agent: self.assignee_email,
            reopened: u32::try_from(self.reopened).unwrap_or(0),
        })
    }
}

/// Every ticket opened in the period, closed in it, or open at its end
/// (opened before it and closed after it, or not yet).
pub fn rows(conn: &mut AnyConnection, period: Period) -> StoreResult<Vec<Row>> {
    let (from, to) = (period.from, period.to);
    let opened: Vec<ReportRow> = native!(conn, |c| tickets::table
        .filter(tickets::created_at.ge(from).and(tickets::created_at.lt(to)))
        .select(ReportRow::as_select())
        .load(c))?;
    let closed: Vec<ReportRow> = native!(conn, |c| tickets::table
        .filter(tickets::closed_at.ge(from).and(tickets::closed_at.lt(to)))
        .filter(tickets::created_at.lt(from))
        .select(ReportRow::as_select())
        .load(c))?;
    let open_after: Vec<ReportRow> = native!(conn, |c| tickets::table
        .filter(tickets::closed_at.is_null().or(tickets::closed_at.ge(to)))
        .filter(tickets::created_at.lt(from))
        .select(ReportRow::as_select())
        .load(c))?;
    // The three sets are apart: opened in the period, or before it.
    opened
        .into_iter()
        .chain(closed)
        .chain(open_after)
        .map(ReportRow::into_row)
        .collect()
}

/// When the first ticket was opened (the start of an all-time report).
pub fn first_opened(conn: &mut AnyConnection) -> StoreResult<Option<NaiveDateTime>> {
    Ok(native!(conn, |c| tickets::table
        .select(diesel::dsl::min(tickets::created_at))
        .first(c))?)
}
