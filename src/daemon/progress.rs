//! The tasks' heartbeats, which feed the watchdog: before each step of
//! work or wait, a task says by when it will show progress again. The
//! watchdog is fed only while no task is past its promise, so a daemon
//! stuck in one task is restarted by systemd even though its other tasks
//! and its timers still run.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Each task's promise: the instant by which it beats again.
#[derive(Debug, Default)]
pub struct Heartbeats {
    due: Mutex<HashMap<&'static str, Instant>>,
}

impl Heartbeats {
    /// `task` made progress and will again within `within`.
    pub fn beat(&self, task: &'static str, within: Duration) {
        let mut due = self.due.lock().unwrap_or_else(|p| p.into_inner());
        due.insert(task, Instant::now() + within);
    }

    /// Forgets every promise: the tasks are started anew (a reload may
    /// have removed a mailbox, whose fetcher will never beat again).
    pub fn clear(&self) {
        self.due.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// The task most past its promise, and by how much, if any is.
    pub fn late(&self) -> Option<(&'static str, Duration)> {
        let now = Instant::now();
        let due = self.due.lock().unwrap_or_else(|p| p.into_inner());
        due.iter()
            .filter(|(_, at)| **at < now)
            .map(|(task, at)| (*task, now - *at))
            .max_by_key(|(_, late)| *late)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_past_its_promise_is_late() {
        let beats = Heartbeats::default();
        assert_eq!(beats.late(), None);
        beats.beat("fetcher", Duration::from_secs(60));
        beats.beat("dispatcher", Duration::ZERO);
        std::thread::sleep(Duration::from_millis(5));
        let (task, late) = beats.late().expect("the dispatcher is late");
        assert_eq!(task, "dispatcher");
        assert!(late >= Duration::from_millis(5));
        beats.beat("dispatcher", Duration::from_secs(60));
        assert_eq!(beats.late(), None);
    }
}
