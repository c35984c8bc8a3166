//! Mail to the administrators (`[alerts] to`) when something keeps
//! failing: a mailbox that silently stops being read is the worst failure
//! a desk can have.

use diesel::Connection;

use super::Desk;
use crate::clock::Clock;
use crate::store::{AnyConnection, StoreError, StoreResult};

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
    let context = desk.presentation.alert_context(what, detail, minutes);
    let rendered = desk
        .renderer
        .render(desk.settings.tickets.language, "alert", &context)
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    conn.transaction(|conn| {
        super::queue_unthreaded(conn, desk, to, &rendered, "alert", clock)?;
        Ok(())
    })
}
