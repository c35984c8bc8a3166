//! The agents' digest: each morning, what waits for them. For an agent,
//! the tickets nobody has, their own open tickets, the tickets
//! waiting for a requester's answer, the solutions about to close by
//! themselves and the service levels at risk (theirs and nobody's), oldest
//! first; for the desk's list (`[digest] to`), the same for everyone's.

use chrono::{Duration, NaiveDateTime};

use super::machine;
use super::policy::Policy;
use super::{Status, Ticket};

/// Whose digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reader {
    /// An agent (lower-case address): their tickets and nobody's.
    Agent(String),
    /// The desk's list: every ticket.
    Desk,
}

/// A ticket whose service level is at risk: which target, when due.
#[derive(Clone, Debug, PartialEq)]
pub struct AtRisk {
    pub ticket: Ticket,
    /// `first_answer` or `resolution`.
    pub target: &'static str,
    pub due: NaiveDateTime,
}

/// The digest's sections, each oldest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Digest {
    /// New or in progress, assigned to nobody.
    pub unassigned: Vec<Ticket>,
    /// In progress or new, assigned to the reader (to someone, for the
    /// desk's list).
    pub assigned: Vec<Ticket>,
    /// Waiting for the requester's answer to a question.
    pub waiting: Vec<Ticket>,
    /// Solved, closing by themselves within [`CLOSING_SOON`]: each with
    /// when.
    pub closing: Vec<(Ticket, NaiveDateTime)>,
    /// A target due within a business day, or missed.
    pub at_risk: Vec<AtRisk>,
}

/// Solutions closing by themselves this soon are listed.
pub const CLOSING_SOON: i64 = 2;

impl Digest {
    pub fn is_empty(&self) -> bool {
        self.unassigned.is_empty()
            && self.assigned.is_empty()
            && self.waiting.is_empty()
            && self.closing.is_empty()
            && self.at_risk.is_empty()
    }
}

/// The digest of `reader` among the desk's open tickets, as of `now`.
pub fn digest(open: &[Ticket], reader: &Reader, policy: &Policy, now: NaiveDateTime) -> Digest {
    let concerns = |t: &Ticket| match reader {
        Reader::Desk => true,
        Reader::Agent(me) => t.assignee.as_ref().is_none_or(|a| a.email == *me),
    };
    let mine = |t: &Ticket| match reader {
        Reader::Desk => t.assignee.is_some(),
        Reader::Agent(me) => t.assignee.as_ref().is_some_and(|a| a.email == *me),
    };
    let mut open: Vec<&Ticket> = open.iter().filter(|t| t.status != Status::Closed).collect();
    open.sort_by_key(|t| (t.created_at, t.number.0));
    let mut d = Digest::default();
    // A business day ahead: what falls due before tomorrow's digest.
    let horizon = policy.calendar.add(now, policy.calendar.day_length());
    for t in open {
        match t.status {
            Status::New | Status::InProgress if t.assignee.is_none() => {
                d.unassigned.push(t.clone())
            }
            Status::New | Status::InProgress if mine(t) => d.assigned.push(t.clone()),
            Status::Waiting if concerns(t) => d.waiting.push(t.clone()),
            Status::Solved if concerns(t) => {
                if let Some(at) = machine::deadline(t, policy) {
                    if at <= now + Duration::days(CLOSING_SOON) {
                        d.closing.push((t.clone(), at));
                    }
                }
            }
            _ => {}
        }
        if !concerns(t) || matches!(t.status, Status::Solved | Status::Waiting) {
            continue;
        }
        let first = t
            .sla
            .first_answer_due
            .filter(|_| t.sla.first_answered_at.is_none())
            .map(|due| ("first_answer", due));
        let resolution = t.sla.resolution_due.map(|due| ("resolution", due));
        if let Some((target, due)) = first
            .into_iter()
            .chain(resolution)
            .filter(|(_, due)| *due <= horizon)
            .min_by_key(|(_, due)| *due)
        {
            d.at_risk.push(AtRisk {
                ticket: t.clone(),
                target,
                due,
            });
        }
    }
    d.at_risk.sort_by_key(|r| (r.due, r.ticket.number.0));
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ticket::decide::tests::ticket;
    use crate::ticket::policy::tests::policy;
    use crate::ticket::Person;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    const NOW: &str = "2026-12-07 07:15";

    fn numbered(n: i64, status: Status, created: &str, assignee: Option<&str>) -> Ticket {
        let mut t = ticket(status);
        t.number = crate::ticket::TicketRef(n);
        t.created_at = at(created);
        t.assignee = assignee.map(|a| Person {
            email: a.into(),
            name: None,
        });
        t
    }

    fn desk() -> Vec<Ticket> {
        let mut solved_soon = numbered(
            4,
            Status::Solved,
            "2026-11-20 09:00",
            Some("marc@sau.example"),
        );
        // Solved on 1 December: closes by itself on the 8th.
        solved_soon.solved_at = Some(at("2026-12-01 10:00"));
        let mut solved_later = numbered(5, Status::Solved, "2026-11-21 09:00", None);
        solved_later.solved_at = Some(at("2026-12-06 10:00"));
        let mut late = numbered(
            6,
            Status::InProgress,
            "2026-12-01 09:00",
            Some("marc@sau.example"),
        );
        late.sla.resolution_due = Some(at("2026-12-04 16:00"));
        let mut due_today = numbered(7, Status::New, "2026-12-07 07:00", None);
        due_today.sla.first_answer_due = Some(at("2026-12-07 11:00"));
        let mut answered = numbered(
            8,
            Status::InProgress,
            "2026-12-03 09:00",
            Some("lea@sau.example"),
        );
        answered.sla.first_answer_due = Some(at("2026-12-03 10:00"));
        answered.sla.first_answered_at = Some(at("2026-12-03 09:30"));
        answered.sla.resolution_due = Some(at("2026-12-20 10:00"));
        vec![
            numbered(1, Status::New, "2026-12-05 09:00", None),
            numbered(
                2,
                Status::InProgress,
                "2026-12-02 09:00",
                Some("lea@sau.example"),
            ),
            numbered(
                3,
                Status::Waiting,
                "2026-11-30 09:00",
                Some("marc@sau.example"),
            ),
            solved_soon,
            solved_later,
            late,
            due_today,
            answered,
            numbered(
                9,
                Status::Closed,
                "2026-11-01 09:00",
                Some("marc@sau.example"),
            ),
        ]
    }

    fn numbers(ts: &[Ticket]) -> Vec<i64> {
        ts.iter().map(|t| t.number.0).collect()
    }

    #[test]
    fn an_agent_sees_their_tickets_and_nobodys_oldest_first() {
        let d = digest(
            &desk(),
            &Reader::Agent("marc@sau.example".into()),
            &policy(),
            at(NOW),
        );
        assert_eq!(numbers(&d.unassigned), [1, 7]);
        assert_eq!(numbers(&d.assigned), [6], "Léa's ticket 2 is not Marc's");
        assert_eq!(numbers(&d.waiting), [3]);
        let closing: Vec<(i64, NaiveDateTime)> =
            d.closing.iter().map(|(t, at)| (t.number.0, *at)).collect();
        assert_eq!(
            closing,
            [(4, at("2026-12-08 10:00"))],
            "ticket 5 closes on the 13th"
        );
        let risk: Vec<(i64, &str)> = d
            .at_risk
            .iter()
            .map(|r| (r.ticket.number.0, r.target))
            .collect();
        // Missed on the 4th first, then due today; Léa's ticket 8 is hers.
        assert_eq!(risk, [(6, "resolution"), (7, "first_answer")]);
    }

    #[test]
    fn the_desks_list_sees_everyones() {
        let d = digest(&desk(), &Reader::Desk, &policy(), at(NOW));
        assert_eq!(numbers(&d.assigned), [6, 2, 8]);
        assert_eq!(d.closing.len(), 1);
        assert!(!d.is_empty());
        let quiet = digest(&[], &Reader::Desk, &policy(), at(NOW));
        assert!(quiet.is_empty());
    }
}
