//! Fetch leases: only one daemon fetches a mailbox; the others stand by
//! and take over when the holder's lease expires.

use std::time::Duration;

use crate::clock::Clock;
use crate::config::ImapSettings;
use crate::store::{self, blocking as db, AnyConnection, StoreError};

/// How long a fetch lease lasts without renewal: another daemon takes the
/// mailbox over this long after its holder died.
pub const LEASE_TTL: Duration = Duration::from_secs(15);
/// How often the holder renews it (IDLE is re-armed at this pace too).
pub const LEASE_RENEW: Duration = Duration::from_secs(5);

/// This daemon's claim on fetching one mailbox. Leases follow the real
/// clock whatever `--now` says: they are about processes being alive.
pub struct Lease {
    pub name: String,
    pub holder: String,
}

impl Lease {
    pub fn for_mailbox(imap: &ImapSettings) -> Lease {
        Lease {
            name: format!("fetch {}", imap.url()),
            holder: crate::instance::id().to_string(),
        }
    }

    /// Takes or renews the lease; false when another live daemon holds it.
    pub fn renew(&self, conn: &mut AnyConnection) -> Result<bool, StoreError> {
        let now = Clock::System.now_naive();
        let until = now + chrono::Duration::from_std(LEASE_TTL).expect("small duration");
        db(|| store::leases::acquire(conn, &self.name, &self.holder, now, until))
    }

    pub fn release(&self, conn: &mut AnyConnection) {
        if let Err(e) = db(|| store::leases::release(conn, &self.name, &self.holder)) {
            tracing::warn!("could not release the fetch lease: {e}");
        }
    }

    /// Who holds it now, if someone else does.
    pub fn other_holder(&self, conn: &mut AnyConnection) -> Option<String> {
        db(|| store::leases::holder(conn, &self.name, Clock::System.now_naive()))
            .ok()
            .flatten()
            .filter(|h| h != &self.holder)
    }
}
