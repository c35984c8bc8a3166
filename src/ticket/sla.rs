//! Service levels: when a ticket's first answer and its resolution are due
//! (business time from its opening, by impact, from `[sla]`), when an
//! agent's mail answers it, and which targets the agents are to be told
//! of, about to be missed, then missed: once each (the mail itself is
//! planned by [`super::schedule::plan_sla_alerts`]).

use chrono::{Duration, NaiveDateTime};

use super::calendar::Calendar;
use super::{Impact, MessageKind, Status, Ticket};

/// A target per impact; a ticket without an impact is `normal`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Targets {
    pub blocking: Option<Duration>,
    pub important: Option<Duration>,
    pub normal: Option<Duration>,
}

impl Targets {
    pub fn of(&self, impact: Option<Impact>) -> Option<Duration> {
        match impact.unwrap_or(Impact::Normal) {
            Impact::Blocking => self.blocking,
            Impact::Important => self.important,
            Impact::Normal => self.normal,
        }
    }
}

/// The desk's service levels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sla {
    pub first_answer: Targets,
    pub resolution: Targets,
    /// The agents are warned when this much business time is left.
    pub warn_before: Duration,
}

string_enum!(
    /// What the agents have been told of a target.
    Stage {
        Warned => "warned",
        Missed => "missed",
    }
);

string_enum!(
    /// The two targets of a ticket.
    Target {
        FirstAnswer => "first_answer",
        Resolution => "resolution",
    }
);

/// A ticket's service-level clock.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Deadlines {
    pub first_answer_due: Option<NaiveDateTime>,
    pub resolution_due: Option<NaiveDateTime>,
    /// When an agent first answered the requester (a reply, a question, a
    /// solution, a closure).
    pub first_answered_at: Option<NaiveDateTime>,
    pub first_answer_told: Option<Stage>,
    pub resolution_told: Option<Stage>,
}

/// Sets the ticket's due times from its opening and impact: called on
/// every change, so that `#impact blocking` moves them.
pub fn refresh(ticket: &mut Ticket, sla: Option<&Sla>, calendar: &Calendar) {
    let due = |targets: &Targets| {
        targets
            .of(ticket.impact)
            .map(|d| calendar.add(ticket.created_at, d))
    };
    let (first, resolution) = match sla {
        Some(sla) => (due(&sla.first_answer), due(&sla.resolution)),
        None => (None, None),
    };
    let d = &mut ticket.sla;
    if d.first_answer_due != first {
        d.first_answer_due = first;
        d.first_answer_told = None;
    }
    if d.resolution_due != resolution {
        d.resolution_due = resolution;
        d.resolution_told = None;
    }
}

/// Whether an agent's mail that made `record` on `after` answers the
/// requester: anything but a note or a command's system line, or a
/// closure.
pub fn answers(record: Option<MessageKind>, after: &Ticket) -> bool {
    matches!(
        record,
        Some(MessageKind::AgentReply | MessageKind::Solution)
    ) || after.status == Status::Closed
}

/// Whether the ticket is still to be resolved: a proposed solution or a
/// closure stops the resolution clock.
fn unresolved(t: &Ticket) -> bool {
    matches!(t.status, Status::New | Status::InProgress | Status::Waiting)
}

/// What the agents are to be told now, per target.
pub fn pending(
    ticket: &Ticket,
    sla: Option<&Sla>,
    calendar: &Calendar,
    now: NaiveDateTime,
) -> Vec<(Target, Stage)> {
    let Some(sla) = sla else {
        return Vec::new();
    };
    if !unresolved(ticket) {
        return Vec::new();
    }
    let d = &ticket.sla;
    let mut out = Vec::new();
    let mut check = |target, due: Option<NaiveDateTime>, told: Option<Stage>| {
        let Some(due) = due else { return };
        if now >= due {
            if told != Some(Stage::Missed) {
                out.push((target, Stage::Missed));
            }
        } else if told.is_none() && calendar.between(now, due) <= sla.warn_before {
            out.push((target, Stage::Warned));
        }
    };
    if d.first_answered_at.is_none() {
        check(Target::FirstAnswer, d.first_answer_due, d.first_answer_told);
    }
    check(Target::Resolution, d.resolution_due, d.resolution_told);
    out
}

/// Whether the ticket is past a target it has not met, as of `now`.
pub fn breached(ticket: &Ticket, now: NaiveDateTime) -> bool {
    let d = &ticket.sla;
    let past = |due: Option<NaiveDateTime>| due.is_some_and(|due| now >= due);
    unresolved(ticket)
        && ((d.first_answered_at.is_none() && past(d.first_answer_due)) || past(d.resolution_due))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ticket::calendar::tests::sau;
    use crate::ticket::{Language, Person, TicketRef, TicketType};

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("a time")
    }

    /// Blocking: answered within the hour, resolved within the day.
    pub(crate) fn sla() -> Sla {
        Sla {
            first_answer: Targets {
                blocking: Some(Duration::hours(1)),
                important: Some(Duration::hours(4)),
                normal: Some(Duration::hours(14)),
            },
            resolution: Targets {
                blocking: Some(Duration::hours(7)),
                important: None,
                normal: Some(Duration::hours(70)),
            },
            warn_before: Duration::minutes(30),
        }
    }

    /// A ticket opened on Friday 4 December 2026 at 16:30 in Paris.
    fn friday_ticket(impact: Option<Impact>) -> Ticket {
        Ticket {
            number: TicketRef(4),
            subject: "Logiciel d'état civil".into(),
            status: Status::New,
            close_reason: None,
            ticket_type: TicketType::Incident,
            impact,
            category: None,
            organisation: None,
            requester: Person {
                email: "jeanne@mairie.example".into(),
                name: None,
            },
            language: Language::Fr,
            watchers: Vec::new(),
            created_at: at("2026-12-04 15:30"),
            updated_at: at("2026-12-04 15:30"),
            solved_at: None,
            closed_at: None,
            reminded_at: None,
            sla: Deadlines::default(),
            queue: None,
            assignee: None,
            requester_phone: None,
            channel: crate::ticket::Channel::Mail,
            opened_by: None,
            reopened: 0,
        }
    }

    #[test]
    fn due_times_follow_the_impact_in_business_time() {
        let (sla, c) = (sla(), sau());
        let mut t = friday_ticket(Some(Impact::Blocking));
        refresh(&mut t, Some(&sla), &c);
        // 30 min on Friday, 30 min on Monday from 8:30 (7:30 UTC).
        assert_eq!(t.sla.first_answer_due, Some(at("2026-12-07 08:00")));
        // 7 h: 30 min on Friday, 6 h 30 on Monday (till 16:30 in Paris).
        assert_eq!(t.sla.resolution_due, Some(at("2026-12-07 15:30")));
        t.sla.first_answer_told = Some(Stage::Warned);
        t.impact = Some(Impact::Important);
        refresh(&mut t, Some(&sla), &c);
        // Moved: what was told of the old due time no longer holds.
        assert_eq!(t.sla.first_answer_due, Some(at("2026-12-07 11:00")));
        assert_eq!(t.sla.first_answer_told, None);
        // No resolution target for "important".
        assert_eq!(t.sla.resolution_due, None);
        // Without [sla], nothing is due.
        let mut t = friday_ticket(None);
        refresh(&mut t, None, &c);
        assert_eq!(t.sla, Deadlines::default());
    }

    #[test]
    fn the_agents_are_warned_then_told_once_each() {
        let (sla, c) = (sla(), sau());
        let pending = |t: &Ticket, now: &str| pending(t, Some(&sla), &c, at(now));
        let mut t = friday_ticket(Some(Impact::Blocking));
        refresh(&mut t, Some(&sla), &c);
        // Friday 16:45 in Paris: 45 min of business time left.
        assert_eq!(pending(&t, "2026-12-04 15:45"), []);
        // Friday 17:00 in Paris: 30 min left (Monday 8:30-9:00).
        assert_eq!(
            pending(&t, "2026-12-04 16:00"),
            [(Target::FirstAnswer, Stage::Warned)]
        );
        t.sla.first_answer_told = Some(Stage::Warned);
        assert_eq!(pending(&t, "2026-12-05 10:00"), []);
        assert_eq!(
            pending(&t, "2026-12-07 08:00"),
            [(Target::FirstAnswer, Stage::Missed)]
        );
        t.sla.first_answer_told = Some(Stage::Missed);
        assert_eq!(pending(&t, "2026-12-07 09:00"), []);
        assert!(breached(&t, at("2026-12-07 09:00")));
        // Answered: no more first-answer alert, no breach of it.
        t.sla.first_answered_at = Some(at("2026-12-07 09:00"));
        assert!(!breached(&t, at("2026-12-07 09:30")));
        // Solved: the resolution clock stops.
        t.status = Status::Solved;
        assert_eq!(pending(&t, "2026-12-09 09:00"), []);
        assert!(!breached(&t, at("2026-12-09 09:00")));
        // No [sla]: nothing to tell.
        t.status = Status::InProgress;
        assert_eq!(super::pending(&t, None, &c, at("2026-12-09 09:00")), []);
    }

    #[test]
    fn what_answers_the_requester() {
        let t = friday_ticket(None);
        assert!(answers(Some(MessageKind::AgentReply), &t));
        assert!(answers(Some(MessageKind::Solution), &t));
        assert!(!answers(Some(MessageKind::Note), &t));
        assert!(!answers(Some(MessageKind::System), &t));
        let closed = Ticket {
            status: Status::Closed,
            ..t
        };
        assert!(answers(Some(MessageKind::System), &closed));
    }
}
