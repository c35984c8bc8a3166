//! What the clock does: reminders and the automatic closure of solved
//! tickets, and the agents' service-level alerts, as plans.

use chrono::NaiveDateTime;

use super::decide::{desk_said, Draft, Snapshot};
use super::letters::Agents;
use super::machine::{self, Actor, Decision, Event, Record, Verdict};
use super::notice::{Audience, Notice, Situation, Template};
use super::plan::{Plan, PlanOutcome};
use super::policy::Policy;
use super::sla::{self, Stage, Target};
use super::{MessageKind, Ticket};

/// Whether the clock has something to do on this ticket now: loading its
/// thread can wait until it does.
pub fn is_due(ticket: &Ticket, policy: &Policy, now: NaiveDateTime) -> bool {
    match machine::apply(ticket, &Event::Tick, Actor::System, now, policy) {
        Verdict::Apply(d) => !d.is_noop(ticket),
        Verdict::OpenNew { .. } | Verdict::Merge { .. } => false,
    }
}

/// What the clock does to a ticket now, if anything: a reminder to the
/// requester, or the automatic closure.
pub fn plan_due(
    snapshot: &Snapshot,
    agents: &Agents,
    policy: &Policy,
    now: NaiveDateTime,
    ids: &mut dyn Iterator<Item = String>,
) -> Option<Plan> {
    let Verdict::Apply(decision) =
        machine::apply(&snapshot.ticket, &Event::Tick, Actor::System, now, policy)
    else {
        return None;
    };
    if decision.is_noop(&snapshot.ticket) {
        return None;
    }
    Some(scheduled(snapshot, decision, agents, policy, now, ids))
}

/// What the clock decided on a ticket, as a plan: the desk's doing.
fn scheduled(
    snapshot: &Snapshot,
    decision: Decision,
    agents: &Agents,
    policy: &Policy,
    now: NaiveDateTime,
    ids: &mut dyn Iterator<Item = String>,
) -> Plan {
    let mut plan = Draft::update(snapshot, decision, false).finish(
        None,
        desk_said(policy),
        agents,
        policy,
        now,
        ids,
    );
    plan.outcome = PlanOutcome::Scheduled;
    plan
}

/// The agents' alerts a ticket is due, as a plan: each target's stage
/// recorded on the ticket and in its thread, and one mail to the agents
/// per target.
pub fn plan_sla_alerts(
    snapshot: &Snapshot,
    agents: &Agents,
    policy: &Policy,
    now: NaiveDateTime,
    ids: &mut dyn Iterator<Item = String>,
) -> Option<Plan> {
    let due = sla::pending(&snapshot.ticket, policy.sla.as_ref(), &policy.calendar, now);
    if due.is_empty() {
        return None;
    }
    let mut ticket = snapshot.ticket.clone();
    let mut lines = Vec::new();
    let mut notices = Vec::new();
    for (target, stage) in due {
        let (at, told) = match target {
            Target::FirstAnswer => (
                ticket.sla.first_answer_due,
                &mut ticket.sla.first_answer_told,
            ),
            Target::Resolution => (ticket.sla.resolution_due, &mut ticket.sla.resolution_told),
        };
        *told = Some(stage);
        let what = match target {
            Target::FirstAnswer => "first answer",
            Target::Resolution => "resolution",
        };
        let at = at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string());
        lines.push(match stage {
            Stage::Warned => format!("SLA: {what} due at {}, soon", at.unwrap_or_default()),
            Stage::Missed => format!("SLA: {what} due at {}, missed", at.unwrap_or_default()),
        });
        let situation = match (target, stage) {
            (Target::FirstAnswer, Stage::Warned) => Situation::FirstAnswerSoon,
            (Target::FirstAnswer, Stage::Missed) => Situation::FirstAnswerMissed,
            (Target::Resolution, Stage::Warned) => Situation::ResolutionSoon,
            (Target::Resolution, Stage::Missed) => Situation::ResolutionMissed,
        };
        notices.push(Notice::new(Template::SlaAlert, &[Audience::Agents]).situation(situation));
    }
    let decision = Decision {
        ticket,
        record: Some(Record {
            kind: MessageKind::System,
            body: lines.join("\n"),
            with_attachments: false,
        }),
        notices,
    };
    Some(scheduled(snapshot, decision, agents, policy, now, ids))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ticket::letters::{Seen, Thread};
    use crate::ticket::notice::Template;
    use crate::ticket::plan::{Author, TicketChange};
    use crate::ticket::policy::tests::policy;
    use crate::ticket::{CloseReason, Impact, Language, Person, Status, TicketRef, TicketType};

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("valid time")
    }

    fn solved_on(day: &str) -> Snapshot {
        let t = Ticket {
            number: TicketRef(3),
            subject: "VPN".into(),
            status: Status::Solved,
            close_reason: None,
            ticket_type: TicketType::Incident,
            impact: None,
            category: None,
            organisation: None,
            requester: Person {
                email: "alice@mairie.example".into(),
                name: None,
            },
            language: Language::Fr,
            watchers: vec!["chef@mairie.example".into()],
            created_at: at("2026-11-20 09:00"),
            updated_at: at(day),
            solved_at: Some(at(day)),
            closed_at: None,
            reminded_at: None,
            sla: Default::default(),
            queue: None,
            assignee: None,
            requester_phone: None,
            channel: crate::ticket::Channel::Mail,
            opened_by: None,
            reopened: 0,
        };
        Snapshot {
            ticket: t,
            thread: Thread {
                received: vec![Seen {
                    at: at("2026-11-20 09:00"),
                    who: "alice@mairie.example".into(),
                    message_id: "request@alice".into(),
                }],
                sent: vec![Seen {
                    at: at(day),
                    who: "alice@mairie.example".into(),
                    message_id: "solution@desk".into(),
                }],
            },
            solution: Some("Reconnectez-vous au VPN.".into()),
            notes: Vec::new(),
            participants: Vec::new(),
            files: Vec::new(),
        }
    }

    fn ids() -> impl Iterator<Item = String> {
        (1..).map(|i| format!("id{i}@desk"))
    }

    #[test]
    fn nothing_is_due_before_the_reminder() {
        let s = solved_on("2026-11-23 10:00");
        let now = at("2026-11-26 09:00");
        assert!(!is_due(&s.ticket, &policy(), now));
        assert_eq!(
            plan_due(&s, &Agents::default(), &policy(), now, &mut ids()),
            None
        );
    }

    #[test]
    fn the_reminder_goes_to_the_requester_with_the_solution_and_threads() {
        let s = solved_on("2026-11-23 10:00");
        let now = at("2026-11-28 10:00");
        assert!(is_due(&s.ticket, &policy(), now));
        let plan =
            plan_due(&s, &Agents::default(), &policy(), now, &mut ids()).expect("a reminder");
        assert_eq!(plan.letters.len(), 1);
        let l = &plan.letters[0];
        assert_eq!(l.template, Template::Reminder);
        assert_eq!(l.solution.as_deref(), Some("Reconnectez-vous au VPN."));
        assert_eq!(l.to.len(), 1);
        assert_eq!(l.to[0].to, "alice@mairie.example");
        assert_eq!(l.to[0].references, ["request@alice", "solution@desk"]);
        assert_eq!(l.to[0].in_reply_to.as_deref(), Some("solution@desk"));
        assert_eq!(l.said.from.email, policy().desk_address);
        assert_eq!(plan.entries[0].author, Author::Desk);
        // Reminded once: not again.
        let TicketChange::Update { after, .. } = &plan.ticket else {
            panic!("an update");
        };
        let again = Snapshot {
            ticket: after.clone(),
            ..s
        };
        assert!(!is_due(&again.ticket, &policy(), at("2026-11-29 10:00")));
    }

    #[test]
    fn the_deadline_closes_and_tells_requester_and_watchers() {
        let s = solved_on("2026-11-23 10:00");
        let plan = plan_due(
            &s,
            &Agents::default(),
            &policy(),
            at("2026-11-30 10:00"),
            &mut ids(),
        )
        .expect("a closure");
        let after = plan.ticket().expect("the ticket");
        assert_eq!(after.status, Status::Closed);
        assert_eq!(after.close_reason, Some(CloseReason::Auto));
        let to: Vec<&str> = plan.letters[0].to.iter().map(|a| a.to.as_str()).collect();
        assert_eq!(to, ["alice@mairie.example", "chef@mairie.example"]);
        assert_eq!(plan.letters[0].template, Template::AutoClosure);
        // The closure mail shows no internal line.
        assert_eq!(plan.letters[0].said.body, "");
        // A closed ticket's mail has no pending solution.
        assert_eq!(plan.letters[0].solution, None);
    }

    #[test]
    fn an_alert_is_a_system_line_and_a_mail_to_the_agents() {
        let p = Policy {
            calendar: crate::ticket::calendar::tests::sau(),
            sla: Some(crate::ticket::sla::tests::sla()),
            ..policy()
        };
        let mut s = crate::ticket::decide::tests::snapshot(Status::InProgress);
        s.ticket.created_at = at("2026-12-04 15:30");
        s.ticket.impact = Some(Impact::Blocking);
        sla::refresh(&mut s.ticket, p.sla.as_ref(), &p.calendar);
        let mut ids = (1..).map(|i| format!("id{i}@desk"));
        let plan = plan_sla_alerts(&s, &Agents::default(), &p, at("2026-12-08 08:00"), &mut ids)
            .expect("alerts");
        // Both targets missed at once: two mails, one line each.
        assert_eq!(plan.letters.len(), 2);
        assert!(plan
            .letters
            .iter()
            .all(|l| l.template == Template::SlaAlert));
        assert_eq!(plan.letters[0].situation, Situation::FirstAnswerMissed);
        assert_eq!(plan.letters[1].situation, Situation::ResolutionMissed);
        let to: Vec<&str> = plan.letters[0].to.iter().map(|a| a.to.as_str()).collect();
        assert_eq!(to, ["sau@example.test"]);
        assert_eq!(plan.entries.len(), 1);
        assert!(plan.entries[0]
            .body
            .contains("first answer due at 2026-12-07 08:00 UTC, missed"));
        let after = plan.ticket().expect("the ticket");
        assert_eq!(after.sla.first_answer_told, Some(Stage::Missed));
        assert_eq!(after.sla.resolution_told, Some(Stage::Missed));
        let again = Snapshot {
            ticket: after.clone(),
            ..s
        };
        assert_eq!(
            plan_sla_alerts(
                &again,
                &Agents::default(),
                &p,
                at("2026-12-09 08:00"),
                &mut ids
            ),
            None
        );
    }
}
