//! Mail to the administrators (`[alerts] to`) when something keeps
//! failing: a mailbox that silently stops being read is the worst failure
//! a desk can have.

use diesel::Connection;

use super::Desk;
use crate::clock::Clock;
use crate::outbound;
use crate::store::{outbox, AnyConnection, StoreError, StoreResult};

/// Queues one alert mail to each administrator: `what` is the template's
/// case ("imap_login"), `detail` the one-line reason, `minutes` how long
/// it has been failing.
pub fn enqueue_alert(
    conn: &mut AnyConnection,
    desk: &Desk,
    what: &str,
    detail: &str,
    minutes: u64,
    clock: &Clock,
) -> StoreResult<()> {
    let to = &desk.settings.alerts.to;
    if to.is_empty() {
        return Ok(());
    }
    let from = &desk.settings.smtp.from;
    let context = desk.presentation.alert_context(what, detail, minutes);
    let rendered = desk
        .renderer
        .render(desk.settings.tickets.language, "alert", &context)
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    conn.transaction(|conn| {
        for address in to {
            let message_id = outbound::new_message_id(from);
            let composed = outbound::compose(&outbound::Draft {
                from,
                to: std::slice::from_ref(address),
                subject: &rendered.subject,
                body: &rendered.body,
                html: rendered.html.as_deref(),
                message_id: &message_id,
                in_reply_to: None,
                references: &[],
                auto_submitted: "auto-generated",
                date: clock.now(),
                files: &[],
            })
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
            outbox::insert_all(
                conn,
                &[outbox::NewOutgoing {
                    ticket_id: None,
                    kind: "alert",
                    message_id: &message_id,
                    sender: from.email.as_ref(),
                    recipients: address,
                    subject: &rendered.subject,
                    raw: &composed.raw,
                    state: outbox::state::PENDING,
                    attempts: 0,
                    next_attempt_at: clock.now_naive(),
                    created_at: clock.now_naive(),
                    last_error: None,
                }],
            )?;
        }
        Ok(())
    })
}
