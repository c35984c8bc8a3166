//! What the relay's answers do to tickets.

use super::apply;
use super::post::Post;
use super::Desk;
use crate::clock::Clock;
use crate::outbound::dispatch::{self, Report};
use crate::outbound::relay::{Relay, RelayError};
use crate::store::{outbox, tickets, AnyConnection, StoreResult};
use crate::ticket::decide;
use crate::ticket::notice::Template;

/// The relay refused a mail for good (5xx): like a bounce, the address is
/// marked undeliverable, the refusal goes on the ticket's thread and the
/// agents are told (see [`decide::relay_refused`]).
pub fn relay_refused(
    conn: &mut AnyConnection,
    desk: &Desk,
    row: &outbox::Outgoing,
    refusal: &RelayError,
    clock: &Clock,
) -> StoreResult<()> {
    let Some(ticket_id) = row.ticket_id else {
        return Ok(());
    };
    let template = Template::parse(&row.kind);
    if !decide::refusal_matters(&row.recipients, template, &desk.policy) {
        return Ok(());
    }
    // A ticket change: committed to disk, whatever the sending
    // connection's own records do (outbound::dispatch::send_due).
    crate::store::durable_transaction(conn, |conn| {
        crate::store::lock_for_write(conn)?;
        let (id, ticket) = tickets::get_by_id(conn, ticket_id)?;
        let post = &mut Post::Now;
        let snapshot = apply::snapshot(conn, id, ticket, post, false)?;
        let agents = apply::agents(conn)?;
        let why = refusal.to_string();
        let plan = decide::relay_refused(
            &snapshot,
            &agents,
            decide::Refusal {
                recipient: &row.recipients,
                template,
                status: refusal.status().map(|s| s.to_string()),
                why: &why,
            },
            &desk.policy,
            clock.now_naive(),
            &mut desk.message_ids(),
        );
        if let Some(plan) = plan {
            apply::apply(conn, desk, plan, Some(id), None, clock, post)?;
        }
        Ok(())
    })
}

/// Sends every due outbox row once (see [`dispatch::send_due`]); what the
/// relay refuses for good is recorded on its ticket.
pub async fn send_due(
    conn: &mut AnyConnection,
    desk: &Desk,
    relay: &Relay,
    clock: &Clock,
    keep_going: impl Fn() -> bool + Sync,
) -> StoreResult<Report> {
    let on_refused = |conn: &mut AnyConnection, row: &outbox::Outgoing, e: &RelayError| {
        relay_refused(conn, desk, row, e, clock)
    };
    let mut report = dispatch::send_due(conn, relay, clock, &keep_going, &on_refused).await?;
    let name = relay.name();
    match crate::store::blocking(|| {
        super::health::after_relay_pass(conn, desk, clock, &name, &report)
    }) {
        // The end of an outage told: that mail leaves with the rest.
        Ok(true) if report.held_until.is_none() => {
            let more = dispatch::send_due(conn, relay, clock, &keep_going, &on_refused).await?;
            report.sent += more.sent;
            report.failed += more.failed;
            report.deferred = more.deferred;
            report.error = more.error;
            report.held_until = more.held_until;
        }
        Ok(_) => {}
        Err(e) => tracing::error!("could not record the relay's health: {e}"),
    }
    super::metrics::sent(report.sent, report.failed);
    Ok(report)
}
