//! The clock's work: reminders and the automatic closure of solved
//! tickets, and the agents' service-level alerts, each ticket in its own
//! transaction; the daily purge and the agents' morning digest.

use diesel::Connection;

use super::apply;
use super::post::Post;
use super::Desk;
use crate::clock::Clock;
use crate::store::{tickets, AnyConnection, StoreResult};
use crate::ticket::notice::Template;
use crate::ticket::Status;
use crate::ticket::{schedule, sla};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SchedulerReport {
    pub reminded: usize,
    pub closed: usize,
    /// Service-level alerts sent to the agents.
    pub sla_alerts: usize,
    /// What the daily retention purge deleted, when it ran.
    pub purged: Option<crate::store::retention::Purged>,
    /// Whether an alert was queued (a refresh token near its end).
    pub alerted: bool,
    /// The agents' digests queued (at `[digest] at`, once a day).
    pub digests: usize,
}

/// Runs the scheduler once as of `clock`.
pub fn run_scheduler(
    conn: &mut AnyConnection,
    desk: &Desk,
    clock: &Clock,
) -> StoreResult<SchedulerReport> {
    let mut report = SchedulerReport::default();
    let now = clock.now_naive();
    // Who the agents are, for the threading headers: once per run.
    let agents = apply::agents(conn)?;
    for id in tickets::ids_with_status(conn, Status::Solved)? {
        conn.transaction(|conn| -> StoreResult<()> {
            // Under the write lock, so that several daemons act once per
            // ticket: the second one sees the first one's change.
            crate::store::lock_for_write(conn)?;
            let (id, ticket) = tickets::get_by_id(conn, id)?;
            if !schedule::is_due(&ticket, &desk.policy, now) {
                return Ok(());
            }
            let post = &mut Post::Now;
            let snapshot = apply::snapshot(conn, id, ticket, post, false)?;
            let Some(plan) = schedule::plan_due(
                &snapshot,
                &agents,
                &desk.policy,
                now,
                &mut desk.message_ids(),
            ) else {
                return Ok(());
            };
            let number = snapshot.ticket.number;
            if plan.ticket().is_some_and(|t| t.status == Status::Closed) {
                report.closed += 1;
                tracing::info!(ticket = %number, "closed automatically");
            } else if plan
                .letters
                .iter()
                .any(|l| l.template == Template::Reminder)
            {
                report.reminded += 1;
                tracing::info!(ticket = %number, "reminder sent");
            }
            apply::apply(conn, desk, plan, Some(id), None, clock, post)?;
            Ok(())
        })?;
    }
    if desk.policy.sla.is_some() {
        report.sla_alerts = sla_pass(conn, desk, clock, &agents)?;
    }
    report.purged = super::retention::purge_if_due(conn, desk, clock)?;
    report.alerted = super::oauth::warn_refresh_expiry(conn, desk, clock)?;
    // The digest is a courtesy: its failure (a template override that
    // does not render) is logged, and the cycle goes on.
    report.digests = super::digest::send_if_due(conn, desk, clock).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "the agents' digest could not be sent");
        0
    });
    Ok(report)
}

/// The agents are told of each target about to be missed, then missed:
/// once each, under the write lock (several daemons tell once).
fn sla_pass(
    conn: &mut AnyConnection,
    desk: &Desk,
    clock: &Clock,
    agents: &crate::ticket::letters::Agents,
) -> StoreResult<usize> {
    let now = clock.now_naive();
    let mut told = 0;
    for id in tickets::sla_running(conn)? {
        conn.transaction(|conn| -> StoreResult<()> {
            crate::store::lock_for_write(conn)?;
            let (id, ticket) = tickets::get_by_id(conn, id)?;
            let policy = &desk.policy;
            if sla::pending(&ticket, policy.sla.as_ref(), &policy.calendar, now).is_empty() {
                return Ok(());
            }
            let post = &mut Post::Now;
            let snapshot = apply::snapshot(conn, id, ticket, post, false)?;
            let Some(plan) = schedule::plan_sla_alerts(
                &snapshot,
                agents,
                &desk.policy,
                now,
                &mut desk.message_ids(),
            ) else {
                return Ok(());
            };
            for letter in &plan.letters {
                told += 1;
                tracing::info!(
                    ticket = %snapshot.ticket.number,
                    alert = letter.situation.as_str(),
                    "service-level alert to the agents"
                );
            }
            apply::apply(conn, desk, plan, Some(id), None, clock, post)?;
            Ok(())
        })?;
    }
    Ok(told)
}
