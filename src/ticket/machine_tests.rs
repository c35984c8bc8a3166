//! Every transition of the state machine, and properties over random
//! sequences of events.

use chrono::{Duration, NaiveDateTime};
use proptest::prelude::*;

use super::*;
use crate::ticket::policy::tests::policy;
use crate::ticket::Language;

fn at(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
}

fn opened() -> Ticket {
    open(
        TicketRef(7),
        Person {
            email: "jeanne@mairie-exemple.fr".into(),
            name: Some("Jeanne".into()),
        },
        "Imprimante".into(),
        "Elle ne marche plus.",
        &policy(),
        at("2026-11-23 09:00"),
    )
    .ticket
}

/// Who wrote a mail: the rules read it only for `#take`.
fn someone() -> Person {
    Person {
        email: "marc.agent@example.test".into(),
        name: Some("Marc".into()),
    }
}

fn mail(body: &str) -> Event {
    Event::Mail {
        body: body.into(),
        authenticated: None,
        sender: someone(),
    }
}

fn decide(t: &Ticket, event: &Event, actor: Actor, now: &str) -> Decision {
    match apply(t, event, actor, at(now), &policy()) {
        Verdict::Apply(d) => d,
        other => panic!("expected a change, got {other:?}"),
    }
}

fn templates(d: &Decision) -> Vec<Template> {
    d.notices.iter().map(|n| n.template).collect()
}

fn solved() -> Ticket {
    decide(
        &opened(),
        &mail("#solution Redémarrez le copieur."),
        Actor::Agent,
        "2026-11-23 10:00",
    )
    .ticket
}

#[test]
fn opening_acknowledges_and_tells_agents() {
    let d = open(
        TicketRef(1),
        Person {
            email: "a@univ-exemple.fr".into(),
            name: None,
        },
        "VPN".into(),
        "x",
        &Policy {
            language: Language::En,
            ..policy()
        },
        at("2026-11-23 09:00"),
    );
    assert_eq!(d.ticket.language, Language::En);
    assert_eq!(d.ticket.status, Status::New);
    assert_eq!(d.record.unwrap().kind, MessageKind::Initial);
    assert_eq!(d.ticket.organisation.as_deref(), Some("univ-exemple.fr"));
    assert_eq!(
        templates(&Decision { record: None, ..d }),
        vec![Template::Acknowledgement, Template::AgentNewTicket]
    );
}

#[test]
fn requester_followup_notifies_agents_only() {
    let d = decide(
        &opened(),
        &mail("Le toner est neuf."),
        Actor::Requester,
        "2026-11-23 10:00",
    );
    assert_eq!(d.record.as_ref().unwrap().kind, MessageKind::Followup);
    assert_eq!(d.ticket.status, Status::New);
    assert_eq!(d.notices.len(), 1);
    assert_eq!(d.notices[0].to, vec![Audience::Agents]);
    assert_eq!(d.notices[0].situation, Situation::FollowUp);
    assert_eq!(d.ticket.updated_at, at("2026-11-23 10:00"));
}

#[test]
fn agent_reply_moves_to_in_progress_and_reaches_requester_and_watchers() {
    let d = decide(
        &opened(),
        &mail("Avez-vous redémarré ?"),
        Actor::Agent,
        "2026-11-23 10:00",
    );
    assert_eq!(d.record.as_ref().unwrap().kind, MessageKind::AgentReply);
    assert_eq!(d.ticket.status, Status::InProgress);
    // The other agents get a copy.
    assert_eq!(
        d.notices[0].to,
        vec![Audience::Requester, Audience::Watchers, Audience::Agents]
    );
}

#[test]
fn question_waits_and_the_answer_resumes() {
    let d = decide(
        &opened(),
        &mail("#question Quel est le numéro de série ?"),
        Actor::Agent,
        "2026-11-23 10:00",
    );
    assert_eq!(d.ticket.status, Status::Waiting);
    assert_eq!(
        d.record.as_ref().unwrap().body,
        "Quel est le numéro de série ?"
    );
    assert_eq!(
        templates(&d),
        vec![Template::AgentReply, Template::CommandDone]
    );
    let d = decide(
        &d.ticket,
        &mail("XK-2231"),
        Actor::Requester,
        "2026-11-23 11:00",
    );
    assert_eq!(d.ticket.status, Status::InProgress);
}

#[test]
fn solution_sets_solved_and_tells_requester_and_watchers() {
    let d = decide(
        &opened(),
        &mail("#solution\nRedémarrez le copieur."),
        Actor::Agent,
        "2026-11-23 10:00",
    );
    assert_eq!(d.ticket.status, Status::Solved);
    assert_eq!(d.ticket.solved_at, Some(at("2026-11-23 10:00")));
    assert_eq!(d.record.as_ref().unwrap().kind, MessageKind::Solution);
    assert_eq!(d.record.as_ref().unwrap().body, "Redémarrez le copieur.");
    assert_eq!(
        templates(&d),
        vec![Template::Solution, Template::CommandDone]
    );
    assert_eq!(
        d.notices[0].to,
        vec![Audience::Requester, Audience::Watchers, Audience::Agents]
    );
    assert_eq!(deadline(&d.ticket, &policy()), Some(at("2026-11-30 10:00")));
}

#[test]
fn empty_solution_is_a_command_error() {
    let t = opened();
    let d = decide(&t, &mail("#solution"), Actor::Agent, "2026-11-23 10:00");
    assert_eq!(d.ticket, t);
    assert!(d.record.is_none());
    assert_eq!(templates(&d), vec![Template::CommandError]);
    assert_eq!(d.notices[0].to, vec![Audience::Sender]);
}

#[test]
fn validation_closes_with_confirmation_and_notices() {
    for word in [
        "VALIDER",
        "valider merci",
        "Accepter",
        "OK",
        "ok.",
        "  Validér !",
    ] {
        let d = decide(&solved(), &mail(word), Actor::Requester, "2026-11-24 09:00");
        assert_eq!(d.ticket.status, Status::Closed, "{word}");
        assert_eq!(d.ticket.close_reason, Some(CloseReason::Validated));
        assert_eq!(d.ticket.closed_at, Some(at("2026-11-24 09:00")));
        assert_eq!(d.record.as_ref().unwrap().kind, MessageKind::Validation);
        assert_eq!(
            templates(&d),
            vec![Template::ValidationConfirmation, Template::ValidatedNotice]
        );
        assert_eq!(d.notices[1].to, vec![Audience::Agents, Audience::Watchers]);
    }
}

#[test]
fn refusal_reopens_with_the_explanation() {
    let d = decide(
        &solved(),
        &mail("REFUSER : l'imprimante bloque toujours.\nMerci"),
        Actor::Requester,
        "2026-11-24 09:00",
    );
    assert_eq!(d.ticket.status, Status::InProgress);
    assert_eq!(d.ticket.solved_at, None);
    let r = d.record.as_ref().unwrap();
    assert_eq!(r.kind, MessageKind::Refusal);
    assert_eq!(r.body, "l'imprimante bloque toujours.\nMerci");
    assert_eq!(
        templates(&d),
        vec![Template::RefusalAcknowledged, Template::AgentRefusal]
    );
}

#[test]
fn other_answers_on_a_solved_ticket_are_undecided_followups() {
    for body in [
        "merci, je regarde demain",
        "Valide-t-on ensemble ?",
        "OK mais pas encore",
    ] {
        let d = decide(&solved(), &mail(body), Actor::Requester, "2026-11-24 09:00");
        assert_eq!(d.ticket.status, Status::Solved, "{body}");
        assert_eq!(d.record.as_ref().unwrap().kind, MessageKind::Followup);
        // The requester is told the solution still waits; the agents too.
        assert_eq!(
            templates(&d),
            vec![Template::AnswerUndecided, Template::AgentFollowUp]
        );
        assert_eq!(d.notices[1].situation, Situation::Undecided);
    }
}

#[test]
fn watchers_and_strangers_cannot_decide() {
    let mut t = solved();
    t.watchers = vec!["chef@mairie-exemple.fr".into()];
    let d = decide(&t, &mail("VALIDER"), Actor::Watcher, "2026-11-24 09:00");
    assert_eq!(d.ticket.status, Status::Solved);
    assert_eq!(d.record.as_ref().unwrap().kind, MessageKind::Followup);
    assert_eq!(
        apply(
            &t,
            &mail("VALIDER"),
            Actor::Stranger,
            at("2026-11-24 09:00"),
            &policy()
        ),
        Verdict::OpenNew { follows: None }
    );
}

#[test]
fn automatic_mail_changes_nothing_and_sends_nothing() {
    for t in [opened(), solved()] {
        for a in [Automatic::AutoReply, Automatic::Bounce] {
            for actor in [
                Actor::Requester,
                Actor::Agent,
                Actor::Watcher,
                Actor::Stranger,
            ] {
                let d = decide(&t, &Event::Automatic(a), actor, "2026-11-24 10:00");
                assert_eq!(d.ticket, t);
                assert!(d.notices.is_empty());
            }
        }
    }
}

#[test]
fn unauthenticated_validation_is_kept_as_a_followup() {
    let e = Event::Mail {
        body: "VALIDER".into(),
        authenticated: Some(Err("dmarc=fail".into())),
        sender: someone(),
    };
    let t = solved();
    let d = decide(&t, &e, Actor::Requester, "2026-11-24 09:00");
    assert_eq!(d.ticket, t);
    assert_eq!(d.record.as_ref().unwrap().kind, MessageKind::Followup);
    assert_eq!(
        templates(&d),
        vec![Template::SecurityRefused, Template::AgentFollowUp]
    );
    assert_eq!(d.notices[0].to, vec![Audience::Sender]);
    assert_eq!(d.notices[1].situation, Situation::Unauthenticated);
    // The same mail, authenticated, closes.
    let ok = Event::Mail {
        body: "VALIDER".into(),
        authenticated: Some(Ok(())),
        sender: someone(),
    };
    assert_eq!(
        decide(&t, &ok, Actor::Requester, "2026-11-24 09:00")
            .ticket
            .status,
        Status::Closed
    );
}

#[test]
fn unauthenticated_agent_command_changes_nothing() {
    let e = Event::Mail {
        body: "#close".into(),
        authenticated: Some(Err("no result".into())),
        sender: someone(),
    };
    let t = opened();
    let d = decide(&t, &e, Actor::Agent, "2026-11-24 09:00");
    assert_eq!(d.ticket, t);
    assert_eq!(
        templates(&d),
        vec![Template::SecurityRefused, Template::AgentFollowUp]
    );
}

#[test]
fn agent_metadata_commands() {
    let t = opened();
    let d = decide(
        &t,
        &mail("#watch add chef@mairie-exemple.fr"),
        Actor::Agent,
        "2026-11-23 10:00",
    );
    assert_eq!(d.ticket.watchers, vec!["chef@mairie-exemple.fr"]);
    // Nobody but the agent hears of it: told what was done.
    assert_eq!(templates(&d), vec![Template::CommandDone]);
    assert_eq!(d.notices[0].to, vec![Audience::Sender]);
    let done = d.notices[0].error.as_ref().unwrap();
    assert_eq!(done.command, "#watch add chef@mairie-exemple.fr");
    assert_eq!(done.reason, "watch_add");
    assert_eq!(d.record.as_ref().unwrap().kind, MessageKind::System);
    let d = decide(
        &d.ticket,
        &mail("#watch remove chef@mairie-exemple.fr"),
        Actor::Agent,
        "2026-11-23 10:00",
    );
    assert!(d.ticket.watchers.is_empty());
    let d = decide(
        &t,
        &mail("#type incident"),
        Actor::Agent,
        "2026-11-23 10:00",
    );
    assert_eq!(d.ticket.ticket_type, TicketType::Incident);
    let d = decide(
        &t,
        &mail("#impact blocking"),
        Actor::Agent,
        "2026-11-23 10:00",
    );
    assert_eq!(d.ticket.impact, Some(super::super::Impact::Blocking));
    let d = decide(
        &t,
        &mail("#category Impression"),
        Actor::Agent,
        "2026-11-23 10:00",
    );
    assert_eq!(d.ticket.category.as_deref(), Some("Impression"));
    let d = decide(
        &t,
        &mail("#note Le copieur est sous contrat."),
        Actor::Agent,
        "2026-11-23 10:00",
    );
    assert_eq!(d.record.as_ref().unwrap().kind, MessageKind::Note);
    assert_eq!(
        templates(&d),
        vec![Template::AgentNote, Template::CommandDone]
    );
    assert_eq!(d.notices[0].to, vec![Audience::Agents]);
    let d = decide(&t, &mail("#frobnicate"), Actor::Agent, "2026-11-23 10:00");
    assert_eq!(d.ticket, t);
    assert_eq!(templates(&d), vec![Template::CommandError]);
}

#[test]
fn agent_close_and_a_plain_hash_from_others() {
    let d = decide(
        &opened(),
        &mail("#close Doublon du ticket 6."),
        Actor::Agent,
        "2026-11-23 10:00",
    );
    assert_eq!(d.ticket.status, Status::Closed);
    assert_eq!(d.ticket.close_reason, Some(CloseReason::Agent));
    assert_eq!(
        templates(&d),
        vec![Template::AgentClosure, Template::CommandDone]
    );
    // From the requester, "#close" is plain text.
    let d = decide(
        &opened(),
        &mail("#close"),
        Actor::Requester,
        "2026-11-23 10:00",
    );
    assert_eq!(d.ticket.status, Status::New);
    assert_eq!(d.record.as_ref().unwrap().kind, MessageKind::Followup);
}

#[test]
fn reminder_then_auto_close() {
    let t = solved(); // solved 2026-11-23 10:00, deadline 11-30 10:00, reminder from 11-28 10:00
    let quiet = decide(&t, &Event::Tick, Actor::System, "2026-11-28 09:59");
    assert!(quiet.is_noop(&t));
    let reminded = decide(&t, &Event::Tick, Actor::System, "2026-11-28 10:00");
    assert_eq!(templates(&reminded), vec![Template::Reminder]);
    assert_eq!(reminded.notices[0].to, vec![Audience::Requester]);
    let again = decide(
        &reminded.ticket,
        &Event::Tick,
        Actor::System,
        "2026-11-29 10:00",
    );
    assert!(again.is_noop(&reminded.ticket), "one reminder only");
    let closed = decide(
        &reminded.ticket,
        &Event::Tick,
        Actor::System,
        "2026-11-30 10:00",
    );
    assert_eq!(closed.ticket.status, Status::Closed);
    assert_eq!(closed.ticket.close_reason, Some(CloseReason::Auto));
    assert_eq!(templates(&closed), vec![Template::AutoClosure]);
    assert_eq!(
        closed.notices[0].to,
        vec![Audience::Requester, Audience::Watchers]
    );
}

#[test]
fn a_new_solution_after_refusal_restarts_the_clock_and_the_reminder() {
    let t = solved();
    let reminded = decide(&t, &Event::Tick, Actor::System, "2026-11-28 10:00").ticket;
    let refused = decide(
        &reminded,
        &mail("REFUSER toujours bloqué"),
        Actor::Requester,
        "2026-11-28 11:00",
    )
    .ticket;
    let again = decide(
        &refused,
        &mail("#solution Nouveau pilote installé."),
        Actor::Agent,
        "2026-11-29 09:00",
    )
    .ticket;
    assert_eq!(deadline(&again, &policy()), Some(at("2026-12-06 09:00")));
    assert!(decide(&again, &Event::Tick, Actor::System, "2026-11-30 10:00").is_noop(&again));
    let r = decide(&again, &Event::Tick, Actor::System, "2026-12-04 09:00");
    assert_eq!(templates(&r), vec![Template::Reminder]);
}

#[test]
fn closed_tickets_open_new_ones_or_reopen() {
    let closed = decide(
        &solved(),
        &mail("VALIDER"),
        Actor::Requester,
        "2026-11-24 09:00",
    )
    .ticket;
    assert_eq!(
        apply(
            &closed,
            &mail("Ça recommence"),
            Actor::Requester,
            at("2026-12-01 09:00"),
            &policy()
        ),
        Verdict::OpenNew {
            follows: Some(TicketRef(7))
        }
    );
    let reopen = Policy {
        reply_to_closed: ReplyToClosed::Reopen,
        ..policy()
    };
    let Verdict::Apply(d) = apply(
        &closed,
        &mail("Ça recommence"),
        Actor::Requester,
        at("2026-12-01 09:00"),
        &reopen,
    ) else {
        panic!()
    };
    assert_eq!(d.ticket.status, Status::InProgress);
    assert_eq!(d.ticket.close_reason, None);
    assert_eq!(d.ticket.closed_at, None);
    assert_eq!(d.notices[0].situation, Situation::Reopened);
    // A mail that could not be authenticated reopens nothing: it opens a
    // ticket of its own, which names the closed one.
    let forged = Event::Mail {
        body: "Ça recommence".into(),
        authenticated: Some(Err("no DMARC pass".into())),
        sender: someone(),
    };
    assert_eq!(
        apply(
            &closed,
            &forged,
            Actor::Requester,
            at("2026-12-01 09:00"),
            &reopen
        ),
        Verdict::OpenNew {
            follows: Some(TicketRef(7))
        }
    );
}

#[test]
fn courtesy_after_closure_changes_nothing() {
    // Closed by validation on 24 November at 09:00.
    let closed = decide(
        &solved(),
        &mail("VALIDER"),
        Actor::Requester,
        "2026-11-24 09:00",
    )
    .ticket;
    for (actor, kind) in [
        (Actor::Requester, MessageKind::Followup),
        (Actor::Watcher, MessageKind::Followup),
        (Actor::Agent, MessageKind::AgentReply),
    ] {
        let d = courtesy_after_closure(
            &closed,
            "Merci, bonne journée !",
            actor,
            at("2026-11-30 09:00"),
            &policy(),
        )
        .expect("a courtesy within the grace");
        assert_eq!(d.ticket, closed);
        assert!(d.notices.is_empty());
        assert_eq!(d.record.unwrap().kind, kind);
    }
    // Past the grace, or not a courtesy, or from a stranger: the usual rules.
    assert!(courtesy_after_closure(
        &closed,
        "Merci",
        Actor::Requester,
        at("2026-12-01 09:01"),
        &policy()
    )
    .is_none());
    assert!(courtesy_after_closure(
        &closed,
        "Merci, mais ça recommence",
        Actor::Requester,
        at("2026-11-25 09:00"),
        &policy()
    )
    .is_none());
    assert!(courtesy_after_closure(
        &closed,
        "Merci",
        Actor::Stranger,
        at("2026-11-25 09:00"),
        &policy()
    )
    .is_none());
    assert!(courtesy_after_closure(
        &solved(),
        "Merci",
        Actor::Requester,
        at("2026-11-25 09:00"),
        &policy()
    )
    .is_none());
    let none = Policy {
        closed_grace: chrono::Duration::zero(),
        ..policy()
    };
    assert!(courtesy_after_closure(
        &closed,
        "Merci",
        Actor::Requester,
        at("2026-11-24 09:01"),
        &none
    )
    .is_none());
}

#[test]
fn an_agents_reply_on_a_closed_ticket_never_reopens_it_silently() {
    let closed = decide(
        &solved(),
        &mail("VALIDER"),
        Actor::Requester,
        "2026-11-24 09:00",
    )
    .ticket;
    // new_ticket: kept as a note, sent to nobody, its agent told.
    let d = decide(
        &closed,
        &mail("Je vous rappelle lundi pour le toner."),
        Actor::Agent,
        "2026-11-25 09:00",
    );
    assert_eq!(d.ticket, closed);
    assert_eq!(d.record.as_ref().unwrap().kind, MessageKind::AgentReply);
    assert_eq!(templates(&d), vec![Template::ReplyWithheld]);
    assert_eq!(d.notices[0].to, vec![Audience::Sender]);
    assert_eq!(d.notices[0].situation, Situation::Closed);
    // reopen: reopened, sent on, the other agents told.
    let reopen = Policy {
        reply_to_closed: ReplyToClosed::Reopen,
        ..policy()
    };
    let Verdict::Apply(d) = apply(
        &closed,
        &mail("Je vous rappelle lundi pour le toner."),
        Actor::Agent,
        at("2026-11-25 09:00"),
        &reopen,
    ) else {
        panic!()
    };
    assert_eq!(d.ticket.status, Status::InProgress);
    assert_eq!(
        templates(&d),
        vec![Template::AgentReply, Template::AgentFollowUp]
    );
    assert_eq!(d.notices[1].situation, Situation::Reopened);
    // A #question reopens, and the other agents are told too.
    let d = decide(
        &closed,
        &mail("#question Le toner est-il arrivé ?"),
        Actor::Agent,
        "2026-11-25 09:00",
    );
    assert_eq!(d.ticket.status, Status::Waiting);
    assert_eq!(
        templates(&d),
        vec![
            Template::AgentReply,
            Template::AgentFollowUp,
            Template::CommandDone
        ]
    );
}

// --- properties over random event sequences ---

fn any_actor() -> impl Strategy<Value = Actor> {
    prop_oneof![
        Just(Actor::Requester),
        Just(Actor::Watcher),
        Just(Actor::Agent),
        Just(Actor::Stranger),
        Just(Actor::System),
    ]
}

fn any_body() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("VALIDER".to_string()),
        Just("ok merci".to_string()),
        Just("REFUSER ça bloque".to_string()),
        Just("#solution Redémarrez.".to_string()),
        Just("#question Quel modèle ?".to_string()),
        Just("#close".to_string()),
        Just("#note interne".to_string()),
        Just("#watch add w@x.example".to_string()),
        Just("#nonsense".to_string()),
        Just("merci".to_string()),
        "[a-zA-Z#éà ]{0,20}",
    ]
}

fn any_event() -> impl Strategy<Value = Event> {
    prop_oneof![
        4 => (any_body(), proptest::option::of(any::<bool>())).prop_map(|(body, auth)| Event::Mail {
            body,
            authenticated: auth.map(|ok| if ok { Ok(()) } else { Err("fail".into()) }),
            sender: someone(),
        }),
        1 => Just(Event::Automatic(Automatic::AutoReply)),
        1 => Just(Event::Automatic(Automatic::Bounce)),
        1 => any::<bool>().prop_map(|permanent| Event::Bounce {
            recipient: Some("jeanne@mairie-exemple.fr".into()),
            status: Some(if permanent { "5.1.1" } else { "4.4.1" }.into()),
            permanent,
        }),
        2 => Just(Event::Tick),
    ]
}

proptest! {
    // Failing cases are printed, not saved into the source tree.
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn invariants_hold_over_any_sequence(
        steps in proptest::collection::vec((any_event(), any_actor(), 0i64..(3 * 24 * 60)), 1..40)
    ) {
        let p = policy();
        let mut t = opened();
        let mut now = at("2026-11-23 09:00");
        for (event, actor, minutes) in steps {
            now += Duration::minutes(minutes);
            let before = t.clone();
            let verdict = apply(&t, &event, actor, now, &p);
            let Verdict::Apply(d) = verdict else { continue };
            let after = d.ticket;
            // Every closure has a reason and a time, and only closures do.
            prop_assert_eq!(after.status == Status::Closed, after.close_reason.is_some());
            prop_assert_eq!(after.status == Status::Closed, after.closed_at.is_some());
            // A solved ticket has a solution time.
            if after.status == Status::Solved {
                prop_assert!(after.solved_at.is_some());
            }
            if before.status != Status::Closed && after.status == Status::Closed {
                // Nobody but the requester validates; only agents close by
                // hand; only the clock closes automatically.
                match after.close_reason.unwrap() {
                    CloseReason::Validated => prop_assert_eq!(actor, Actor::Requester),
                    CloseReason::Agent => prop_assert_eq!(actor, Actor::Agent),
                    CloseReason::Auto => prop_assert!(matches!(event, Event::Tick)),
                }
                // Automatic mail and unauthenticated mail never close.
                let automatic = matches!(event, Event::Automatic(_));
                let unauthenticated =
                    matches!(&event, Event::Mail { authenticated: Some(Err(_)), .. });
                let bounce = matches!(event, Event::Bounce { .. });
                prop_assert!(!automatic && !bounce, "automatic mail closed a ticket");
                prop_assert!(!unauthenticated, "unauthenticated mail closed a ticket");
            }
            // Watchers and strangers never change the status but by
            // answering a question.
            let from_others =
                matches!(actor, Actor::Watcher | Actor::Stranger) && matches!(event, Event::Mail { .. });
            if from_others {
                let allowed = after.status == before.status
                    || (before.status == Status::Waiting && after.status == Status::InProgress)
                    || (before.status == Status::Closed && after.status == Status::InProgress);
                prop_assert!(allowed, "a watcher or stranger changed the status");
            }
            t = after;
        }
    }

    #[test]
    fn a_solved_ticket_always_closes_by_its_deadline(
        solved_minutes in 0i64..(30 * 24 * 60),
        late in 0i64..(10 * 24 * 60),
        reminded in any::<bool>(),
    ) {
        let p = policy();
        let mut t = solved();
        t.solved_at = Some(at("2026-11-01 00:00") + Duration::minutes(solved_minutes));
        if reminded {
            t.reminded_at = t.solved_at.map(|s| s + Duration::days(5));
        }
        let when = deadline(&t, &p).unwrap() + Duration::minutes(late);
        let Verdict::Apply(d) = apply(&t, &Event::Tick, Actor::System, when, &p) else {
            panic!("a tick always applies");
        };
        prop_assert_eq!(d.ticket.status, Status::Closed);
        prop_assert_eq!(d.ticket.close_reason, Some(CloseReason::Auto));
    }
}

#[test]
fn permanent_bounces_tell_the_agents_and_change_nothing() {
    let t = solved();
    let e = Event::Bounce {
        recipient: Some("jeanne@mairie-exemple.fr".into()),
        status: Some("5.1.1".into()),
        permanent: true,
    };
    let d = decide(&t, &e, Actor::Stranger, "2026-11-24 09:00");
    assert_eq!(d.ticket, t);
    assert_eq!(d.record.as_ref().unwrap().kind, MessageKind::Bounce);
    assert_eq!(templates(&d), vec![Template::AgentBounce]);
    let delayed = Event::Bounce {
        recipient: Some("jeanne@mairie-exemple.fr".into()),
        status: Some("4.4.1".into()),
        permanent: false,
    };
    let d = decide(&t, &delayed, Actor::Stranger, "2026-11-24 09:00");
    assert!(d.notices.is_empty());
}
