//! The one source of time. Everything that reads the time takes a `Clock`,
//! so that tests and `run --once --now` can say what time it is.

use chrono::{DateTime, NaiveDateTime, Utc};

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
