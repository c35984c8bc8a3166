//! The one source of time. Everything that reads the time takes a `Clock`,
//! so that tests and `run --once --now` can say what time it is.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};

#[derive(Clone, Copy, Debug)]
pub enum Clock {
    System,
    Fixed(DateTime<Utc>),
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Fixed(t) => *t,
        }
    }

    /// Now as stored in the database (UTC, microsecond precision).
    pub fn now_naive(&self) -> NaiveDateTime {
        let now = self.now().naive_utc();
        now.with_nanosecond_truncated()
    }
}

/// A stored (UTC) time as RFC 3339, to the second: `2026-11-30T09:00:00Z`.
pub fn rfc3339(t: NaiveDateTime) -> String {
    Utc.from_utc_datetime(&t)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `d` made up to a tenth longer at random, so that waits that start
/// together (daemons cut off by a server restart, mails deferred by the
/// same outage) do not all end in the same instant.
pub fn jittered(d: std::time::Duration) -> std::time::Duration {
    let mut byte = [0u8; 1];
    let _ = getrandom::getrandom(&mut byte);
    d + d.mul_f64(f64::from(byte[0]) / 2550.0)
}

trait TruncateNanos {
    fn with_nanosecond_truncated(self) -> Self;
}

impl TruncateNanos for NaiveDateTime {
    fn with_nanosecond_truncated(self) -> Self {
        use chrono::Timelike;
        let micros = self.nanosecond() / 1_000 * 1_000;
        self.with_nanosecond(micros).unwrap_or(self)
    }
}
