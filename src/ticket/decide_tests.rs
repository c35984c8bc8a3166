//! The decision on whole mails: who the sender is, which ticket the mail
//! enters or opens, what is kept, who is told, with which threading
//! headers. No database: the snapshot is written here.

use chrono::NaiveDateTime;

use super::*;
use crate::ticket::letters::{Agents, Seen, Thread};
use crate::ticket::plan::{AddressChange, Author, Letter, PlanOutcome, Role, TicketChange};
use crate::ticket::policy::tests::policy;
use crate::ticket::{CloseReason, Language, Status, TicketType};

fn at(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("valid time")
}

const NOW: &str = "2026-11-30 10:00";

fn alice() -> Person {
    Person {
        email: "alice@mairie.example".into(),
        name: Some("Alice Martin".into()),
    }
}

fn person(email: &str) -> Person {
    Person {
        email: email.into(),
        name: None,
    }
}

fn agents() -> Agents {
    Agents {
        list: vec![("bob@agents.example".into(), Some("Bob".into()))],
    }
}

fn ids() -> impl Iterator<Item = String> {
    (1..).map(|i| format!("id{i}@desk"))
}

pub(crate) fn ticket(status: Status) -> Ticket {
    Ticket {
        number: TicketRef(12),
        subject: "Imprimante".into(),
        status,
        close_reason: None,
        ticket_type: TicketType::Request,
        impact: None,
        category: None,
        organisation: Some("mairie.example".into()),
        requester: alice(),
        language: Language::Fr,
        watchers: vec!["chef@mairie.example".into()],
        created_at: at("2026-11-30 09:00"),
        updated_at: at("2026-11-30 09:00"),
        solved_at: (status == Status::Solved).then(|| at("2026-11-30 09:30")),
        closed_at: None,
        reminded_at: None,
        sla: Default::default(),
        queue: None,
        assignee: None,
        requester_phone: None,
        channel: crate::ticket::Channel::Mail,
        opened_by: None,
        reopened: 0,
    }
}

pub(crate) fn snapshot(status: Status) -> Snapshot {
    Snapshot {
        ticket: ticket(status),
        thread: Thread {
            received: vec![Seen {
                at: at("2026-11-30 09:00"),
                who: "alice@mairie.example".into(),
                message_id: "request@alice".into(),
            }],
            sent: vec![
                Seen {
                    at: at("2026-11-30 09:00"),
                    who: "alice@mairie.example".into(),
                    message_id: "ack@desk".into(),
                },
                Seen {
                    at: at("2026-11-30 09:00"),
                    who: "sau@example.test".into(),
                    message_id: "new@desk".into(),
                },
            ],
        },
        solution: (status == Status::Solved).then(|| "Changez le toner.".to_string()),
        notes: vec![
            "La DGS refuse le budget du nouveau copieur, ne pas en parler à Alice.".to_string(),
        ],
        participants: vec!["paul@mairie.example".into()],
        files: Vec::new(),
    }
}

/// A mail as the reader gives it, with the fields tests change.
struct Given {
    from: Person,
    message_id: Option<&'static str>,
    subject: &'static str,
    body: &'static str,
    automatic: Option<Automatic>,
    bounce: Option<Bounce>,
    attachments: Vec<Attachment>,
    raw_size: u64,
    /// The recipients of the mail of ours a delivery report names.
    reported: Option<Vec<String>>,
    authenticated: Option<Result<(), String>>,
    sender_doubt: Option<&'static str>,
    /// Its To and Cc.
    copied: Vec<String>,
    /// Whether its threading headers named the ticket.
    threaded: bool,
    classified: crate::ticket::classify::Classified,
    phone: Option<&'static str>,
    forwarded: Option<crate::ticket::Forwarded>,
    mailbox_queue: Option<&'static str>,
}

impl Given {
    fn from(from: Person, body: &'static str) -> Given {
        Given {
            from,
            message_id: Some("m1@client"),
            subject: "Imprimante",
            body,
            automatic: None,
            bounce: None,
            attachments: Vec::new(),
            raw_size: 2000,
            reported: None,
            authenticated: None,
            sender_doubt: None,
            copied: vec!["support@example.test".into()],
            threaded: true,
            classified: Default::default(),
            phone: None,
            forwarded: None,
            mailbox_queue: None,
        }
    }

    fn mail(&self) -> Mail<'_> {
        Mail {
            from: &self.from,
            copied: &self.copied,
            message_id: self.message_id,
            subject: self.subject,
            body: self.body,
            automatic: self.automatic,
            bounce: self.bounce.as_ref(),
            authenticated: self.authenticated.as_ref(),
            sender_doubt: self.sender_doubt,
            attachments: &self.attachments,
            raw_size: self.raw_size,
            classified: &self.classified,
            phone: self.phone,
            forwarded: self.forwarded.as_ref(),
            mailbox_queue: self.mailbox_queue,
        }
    }
}

fn run(given: &Given, matched: Option<&Snapshot>, same_subject: Option<&Snapshot>) -> Plan {
    let agents = agents();
    let context = Context {
        ours: false,
        reported: given.reported.as_deref(),
        matched,
        threaded: given.threaded,
        same_subject,
        target: None,
        agents: &agents,
    };
    decide(&context, &given.mail(), &policy(), at(NOW), &mut ids())
}

fn to_of(plan: &Plan) -> Vec<(Template, Vec<&str>)> {
    plan.letters
        .iter()
        .map(|l| (l.template, l.to.iter().map(|a| a.to.as_str()).collect()))
        .collect()
}

#[test]
fn who_the_sender_is_to_a_ticket() {
    let t = ticket(Status::InProgress);
    let a = agents();
    assert_eq!(actor_of(&t, "alice@mairie.example", &a), Actor::Requester);
    assert_eq!(actor_of(&t, "bob@agents.example", &a), Actor::Agent);
    assert_eq!(actor_of(&t, "chef@mairie.example", &a), Actor::Watcher);
    assert_eq!(actor_of(&t, "eve@elsewhere.example", &a), Actor::Stranger);
    // The requester who is also an agent writes as the requester.
    let mut own = t.clone();
    own.requester = person("bob@agents.example");
    assert_eq!(actor_of(&own, "bob@agents.example", &a), Actor::Requester);
}

#[test]
fn a_new_request_opens_a_ticket_acknowledged_and_told_to_the_agents() {
    let given = Given::from(alice(), "L'imprimante est hors ligne.");
    let plan = run(&given, None, None);
    assert_eq!(plan.outcome, PlanOutcome::Opened);
    let TicketChange::Open(t) = &plan.ticket else {
        panic!("a new ticket: {:?}", plan.ticket);
    };
    assert_eq!(t.subject, "Imprimante");
    assert_eq!(t.requester, alice());
    assert_eq!(t.number, TicketRef(0), "numbered when written");
    assert_eq!(
        to_of(&plan),
        [
            (Template::Acknowledgement, vec!["alice@mairie.example"]),
            (Template::AgentNewTicket, vec!["sau@example.test"]),
        ]
    );
    // Both thread on the request, each with a Message-ID of its own.
    for (l, id) in plan.letters.iter().zip(["id1@desk", "id2@desk"]) {
        assert_eq!(l.to[0].references, ["m1@client"]);
        assert_eq!(l.to[0].in_reply_to.as_deref(), Some("m1@client"));
        assert_eq!(l.to[0].message_id, id);
    }
    assert_eq!(plan.entries.len(), 1);
    assert_eq!(plan.entries[0].kind, MessageKind::Initial);
    assert_eq!(plan.entries[0].author, Author::Sender);
    assert_eq!(
        plan.addresses,
        [AddressChange::Deliverable("alice@mairie.example".into())]
    );
}

#[test]
fn our_own_mail_coming_back_is_set_aside() {
    let given = Given::from(person("support@example.test"), "Bonjour");
    let plan = run(&given, None, None);
    assert_eq!(
        plan.outcome,
        PlanOutcome::Ignored("our own mail came back".into())
    );
    assert!(plan.letters.is_empty() && plan.addresses.is_empty());
    let agents = agents();
    let context = Context {
        ours: true,
        reported: None,
        matched: None,
        threaded: true,
        same_subject: None,
        target: None,
        agents: &agents,
    };
    let given = Given::from(alice(), "Bonjour");
    let plan = decide(&context, &given.mail(), &policy(), at(NOW), &mut ids());
    assert!(matches!(plan.outcome, PlanOutcome::Ignored(_)));
    assert_eq!(plan.ticket, TicketChange::None);
}

#[test]
fn automatic_mail_matching_no_ticket_is_never_answered() {
    let mut given = Given::from(person("robot@lists.example"), "Je suis absent.");
    given.automatic = Some(Automatic::AutoReply);
    let plan = run(&given, None, None);
    assert!(matches!(plan.outcome, PlanOutcome::Ignored(ref why) if why.contains("automatic")));
    assert!(plan.letters.is_empty());
    // Nor does an automatic mail mean the address works again.
    assert!(plan.addresses.is_empty());
}

#[test]
fn a_permanent_bounce_stops_mail_to_the_address_and_tells_the_agents() {
    let mut given = Given::from(person("mailer-daemon@mx.mairie.example"), "");
    given.automatic = Some(Automatic::Bounce);
    given.bounce = Some(Bounce {
        original_message_id: Some("ack@desk".into()),
        recipient: Some("alice@mairie.example".into()),
        status: Some("5.1.1".into()),
        permanent: true,
    });
    given.reported = Some(vec!["alice@mairie.example".into()]);
    let s = snapshot(Status::New);
    let plan = run(&given, Some(&s), None);
    assert_eq!(
        plan.addresses,
        [AddressChange::Undeliverable {
            address: "alice@mairie.example".into(),
            reason: "bounced: 5.1.1".into(),
        }]
    );
    assert_eq!(plan.outcome, PlanOutcome::Added(MessageKind::Bounce));
    assert_eq!(
        to_of(&plan),
        [(Template::AgentBounce, vec!["sau@example.test"])]
    );
}

#[test]
fn the_same_request_sent_again_joins_the_open_ticket() {
    let given = Given::from(alice(), "Toujours en panne, je renvoie ma demande.");
    let open = snapshot(Status::New);
    let plan = run(&given, None, Some(&open));
    assert_eq!(plan.outcome, PlanOutcome::Added(MessageKind::Followup));
    let TicketChange::Update { before, .. } = &plan.ticket else {
        panic!("an update: {:?}", plan.ticket);
    };
    assert_eq!(before.number, TicketRef(12));
    // The requester is told it joined her ticket, in her thread.
    let ack = &plan.letters[0];
    assert_eq!(ack.template, Template::Acknowledgement);
    assert_eq!(ack.situation, Situation::Merged);
    assert_eq!(ack.to[0].to, "alice@mairie.example");
    assert_eq!(
        ack.to[0].references,
        ["request@alice", "ack@desk", "m1@client"]
    );
    assert_eq!(plan.letters[1].template, Template::AgentFollowUp);
}

#[test]
fn only_mail_that_would_open_a_ticket_of_its_own_looks_for_the_same_subject() {
    let a = agents();
    let t = snapshot(Status::InProgress);
    let requester = Given::from(alice(), "Suite");
    assert!(may_merge(&requester.mail(), None, false, &a));
    assert!(!may_merge(&requester.mail(), Some(&t), true, &a));
    let stranger = Given::from(person("eve@elsewhere.example"), "Suite");
    assert!(may_merge(&stranger.mail(), Some(&t), true, &a));
    let agent = Given::from(person("bob@agents.example"), "Suite");
    assert!(!may_merge(&agent.mail(), Some(&t), true, &a));
    // Someone the requester put in copy, answering in the thread, follows
    // up on her ticket; with the reference in a subject only, not.
    let participant = Given::from(person("paul@mairie.example"), "Suite");
    assert!(!may_merge(&participant.mail(), Some(&t), true, &a));
    assert!(may_merge(&participant.mail(), Some(&t), false, &a));
    let mut robot = Given::from(alice(), "Absent");
    robot.automatic = Some(Automatic::AutoReply);
    assert!(!may_merge(&robot.mail(), None, false, &a));
}

#[test]
fn a_stranger_with_someone_elses_reference_opens_a_ticket_of_their_own() {
    let given = Given::from(person("eve@elsewhere.example"), "VALIDER");
    let s = snapshot(Status::Solved);
    let plan = run(&given, Some(&s), None);
    assert_eq!(plan.outcome, PlanOutcome::Opened);
    let t = plan.ticket().expect("a ticket");
    assert_eq!(t.requester.email, "eve@elsewhere.example");
    // Nothing of the other ticket reaches her.
    for l in &plan.letters {
        for a in &l.to {
            assert_eq!(a.references, ["m1@client"]);
        }
        assert_eq!(l.solution, None);
    }
}

#[test]
fn a_reply_to_a_closed_ticket_opens_one_that_follows_it() {
    let mut s = snapshot(Status::Closed);
    s.ticket.subject = "Imprimante".into();
    let given = Given {
        subject: "Demande clôturée : Imprimante",
        ..Given::from(alice(), "Elle est encore en panne.")
    };
    let plan = run(&given, Some(&s), None);
    assert_eq!(plan.outcome, PlanOutcome::Opened);
    assert_eq!(
        plan.ticket().map(|t| t.subject.as_str()),
        Some("Imprimante")
    );
    assert_eq!(plan.letters[0].follows, Some(TicketRef(12)));
    assert_eq!(plan.entries[1].kind, MessageKind::System);
    assert_eq!(plan.entries[1].author, Author::Desk);
    assert!(plan.entries[1].body.contains("[SUPPORT #000012]"));
}

#[test]
fn an_agent_reply_reaches_requester_and_watchers_threaded_on_what_they_saw() {
    let given = Given {
        message_id: Some("reply@agent-laptop"),
        ..Given::from(person("bob@agents.example"), "Le toner est changé.")
    };
    let s = snapshot(Status::New);
    let plan = run(&given, Some(&s), None);
    assert_eq!(plan.outcome, PlanOutcome::Added(MessageKind::AgentReply));
    assert_eq!(
        to_of(&plan),
        [(
            Template::AgentReply,
            vec![
                "alice@mairie.example",
                "chef@mairie.example",
                "sau@example.test"
            ]
        )]
    );
    let to_alice = &plan.letters[0].to[0];
    // The agent's own Message-ID is never shown to the requester.
    assert_eq!(to_alice.references, ["request@alice", "ack@desk"]);
    assert_eq!(to_alice.in_reply_to.as_deref(), Some("ack@desk"));
    let to_watcher = &plan.letters[0].to[1];
    assert_eq!(to_watcher.references, ["request@alice"]);
    assert_eq!(plan.letters[0].said.body, "Le toner est changé.");
}

#[test]
fn an_agents_reply_that_repeats_a_note_leaves_nothing_outside() {
    // Quoted in a way the stripping missed, pasted, rewrapped: what the
    // requester would read repeats the note. Nothing is sent but the
    // agent's notice, nothing changes, the mail is a note.
    for body in [
        "Bonjour Alice,\n\nLe copieur arrive lundi.\n\n| La DGS refuse le budget du nouveau copieur,\n| ne pas en parler à Alice.",
        "#solution Voici la réponse : la dgs refuse le budget du nouveau copieur",
        "#close la DGS refuse le budget du nouveau copieur, désolé",
    ] {
        let given = Given::from(person("bob@agents.example"), body);
        let s = snapshot(Status::InProgress);
        let plan = run(&given, Some(&s), None);
        assert_eq!(plan.outcome, PlanOutcome::Added(MessageKind::Note), "{body}");
        assert_eq!(
            to_of(&plan),
            [(Template::ReplyWithheld, vec!["bob@agents.example"])],
            "{body}"
        );
        let TicketChange::Update { before, after } = &plan.ticket else {
            panic!("an update");
        };
        assert_eq!(before, after, "{body}");
        assert_eq!(plan.entries[0].kind, MessageKind::Note);
        let error = plan.letters[0].error.as_ref().unwrap();
        assert!(error.command.starts_with("La DGS refuse"), "{error:?}");
    }
    // A few of its words in an ordinary reply are no quote of it.
    let given = Given::from(
        person("bob@agents.example"),
        "Le budget du copieur est voté, il arrive lundi.",
    );
    let plan = run(&given, Some(&snapshot(Status::InProgress)), None);
    assert_eq!(plan.outcome, PlanOutcome::Added(MessageKind::AgentReply));
    // A note may repeat itself among the agents.
    let given = Given::from(
        person("bob@agents.example"),
        "#note rappel : la DGS refuse le budget du nouveau copieur",
    );
    let plan = run(&given, Some(&snapshot(Status::InProgress)), None);
    assert_eq!(plan.outcome, PlanOutcome::Added(MessageKind::Note));
    assert_eq!(to_of(&plan)[0].0, Template::AgentNote);
    // The requester's own mail is not the agents' to guard.
    let given = Given::from(
        alice(),
        "La DGS refuse le budget du nouveau copieur, on me l'a dit.",
    );
    let plan = run(&given, Some(&snapshot(Status::InProgress)), None);
    assert_eq!(plan.outcome, PlanOutcome::Added(MessageKind::Followup));
}

#[test]
fn an_agents_note_stays_with_the_agents() {
    let given = Given::from(person("bob@agents.example"), "#note appeler le fournisseur");
    let s = snapshot(Status::InProgress);
    let plan = run(&given, Some(&s), None);
    assert_eq!(plan.outcome, PlanOutcome::Added(MessageKind::Note));
    assert_eq!(
        to_of(&plan),
        [
            (Template::AgentNote, vec!["sau@example.test"]),
            (Template::CommandDone, vec!["bob@agents.example"])
        ]
    );
    // The notice to the agents names the whole thread, the agent's mail too.
    assert_eq!(
        plan.letters[0].to[0].references,
        ["request@alice", "new@desk", "m1@client"]
    );
}

#[test]
fn a_solution_carries_its_text_and_an_undecided_answer_the_pending_one() {
    let given = Given::from(person("bob@agents.example"), "#solution Redémarrez.");
    let s = snapshot(Status::InProgress);
    let plan = run(&given, Some(&s), None);
    assert_eq!(plan.letters[0].template, Template::Solution);
    assert_eq!(plan.letters[0].solution.as_deref(), Some("Redémarrez."));
    assert_eq!(plan.letters[0].said.body, "Redémarrez.");

    let given = Given::from(alice(), "Je regarde demain.");
    let s = snapshot(Status::Solved);
    let plan = run(&given, Some(&s), None);
    assert_eq!(
        to_of(&plan),
        [
            (Template::AnswerUndecided, vec!["alice@mairie.example"]),
            (Template::AgentFollowUp, vec!["sau@example.test"]),
        ]
    );
    assert_eq!(plan.letters[1].situation, Situation::Undecided);
    for letter in &plan.letters {
        assert_eq!(letter.solution.as_deref(), Some("Changez le toner."));
    }
}

#[test]
fn an_unknown_command_is_refused_to_the_agent_alone() {
    let given = Given::from(person("bob@agents.example"), "#fixit maintenant");
    let s = snapshot(Status::InProgress);
    let plan = run(&given, Some(&s), None);
    assert_eq!(plan.outcome, PlanOutcome::CommandRefused);
    assert!(plan.entries.is_empty());
    assert_eq!(
        to_of(&plan),
        [(Template::CommandError, vec!["bob@agents.example"])]
    );
}

#[test]
fn what_an_agent_wrote_is_signed_when_the_desk_signs() {
    let signs = Policy {
        sign_with_agent_name: true,
        ..policy()
    };
    let agents = agents();
    let s = snapshot(Status::InProgress);
    let context = Context {
        ours: false,
        reported: None,
        matched: Some(&s),
        threaded: true,
        same_subject: None,
        target: None,
        agents: &agents,
    };
    let given = Given::from(person("bob@agents.example"), "#solution Redémarrez.");
    let plan = decide(&context, &given.mail(), &signs, at(NOW), &mut ids());
    assert_eq!(plan.letters[0].signature.as_deref(), Some("Bob"));
    let given = Given::from(person("bob@agents.example"), "#note interne");
    let plan = decide(&context, &given.mail(), &signs, at(NOW), &mut ids());
    assert_eq!(plan.letters[0].signature, None, "a note is not signed");
}

#[test]
fn attachments_over_the_limit_are_refused_and_the_sender_told_after_the_rest() {
    let small = Policy {
        max_attachment_size: 1 << 20,
        ..policy()
    };
    let mut given = Given::from(alice(), "Voici la capture et le scan.");
    given.attachments = vec![
        Attachment {
            filename: "capture.png".into(),
            content_type: "image/png".into(),
            size: 40_000,
            sha256: String::new(),
        },
        Attachment {
            filename: "scan.pdf".into(),
            content_type: "application/pdf".into(),
            size: 3 << 20,
            sha256: String::new(),
        },
    ];
    let agents = agents();
    let context = Context {
        ours: false,
        reported: None,
        matched: None,
        threaded: true,
        same_subject: None,
        target: None,
        agents: &agents,
    };
    let plan = decide(&context, &given.mail(), &small, at(NOW), &mut ids());
    assert_eq!(plan.kept, [0]);
    let line = &plan.entries.last().expect("a system line").body;
    assert_eq!(line, "attachment not kept: scan.pdf (3 MiB): over 1 MiB");
    let refused = plan.letters.last().expect("a letter");
    assert_eq!(refused.template, Template::AttachmentRefused);
    assert_eq!(refused.to[0].to, "alice@mairie.example");
    // It names the acknowledgement sent just before it.
    assert_eq!(refused.to[0].references, ["m1@client", "id1@desk"]);
    assert_eq!(refused.said.refused.len(), 1);
    assert_eq!(refused.said.attachments.len(), 1);

    // A robot is never answered, but what was not kept is recorded.
    given.automatic = Some(Automatic::AutoReply);
    let s = snapshot(Status::InProgress);
    let context = Context {
        matched: Some(&s),
        ..context
    };
    let plan = decide(&context, &given.mail(), &small, at(NOW), &mut ids());
    assert!(plan.letters.is_empty());
    assert!(plan.entries.iter().any(|e| e.body.contains("scan.pdf")));
}

#[test]
fn a_relay_refusal_marks_the_address_unless_it_is_the_agents() {
    let s = snapshot(Status::InProgress);
    let refusal = Refusal {
        recipient: "alice@mairie.example",
        template: Some(Template::AgentReply),
        status: Some("5.1.1".into()),
        why: "550 5.1.1 unknown user",
    };
    let plan =
        relay_refused(&s, &agents(), refusal, &policy(), at(NOW), &mut ids()).expect("a plan");
    assert_eq!(
        plan.addresses,
        [AddressChange::Undeliverable {
            address: "alice@mairie.example".into(),
            reason: "refused by the relay: 550 5.1.1 unknown user".into(),
        }]
    );
    assert_eq!(
        to_of(&plan),
        [(Template::AgentBounce, vec!["sau@example.test"])]
    );
    assert!(plan.entries[0].body.contains("(5.1.1)"));
    // A mail too large for the relay (its files): recorded, the agents
    // told, and the address goes on being mailed.
    for code in ["5.3.4", "5.2.3"] {
        let refusal = Refusal {
            recipient: "alice@mairie.example",
            template: Some(Template::AgentReply),
            status: Some(code.into()),
            why: "552 message size exceeds fixed limit",
        };
        let plan =
            relay_refused(&s, &agents(), refusal, &policy(), at(NOW), &mut ids()).expect("a plan");
        assert!(plan.addresses.is_empty(), "{code}");
        assert_eq!(
            to_of(&plan),
            [(Template::AgentBounce, vec!["sau@example.test"])]
        );
    }
    // The agents' own address, or their notice of a bounce: logged only.
    for (to, template) in [
        ("sau@example.test", Template::AgentNewTicket),
        ("alice@mairie.example", Template::AgentBounce),
    ] {
        let refusal = Refusal {
            recipient: to,
            template: Some(template),
            status: None,
            why: "550",
        };
        let none = relay_refused(&s, &agents(), refusal, &policy(), at(NOW), &mut ids());
        assert_eq!(none, None);
    }
}

/// Anyone can write a delivery report: one that acts must be about a mail
/// we sent, to the address it says failed.
#[test]
fn a_forged_delivery_report_silences_nobody() {
    let report = |recipient: &str, original: &str| {
        let mut g = Given::from(person("mailer-daemon@mx.elsewhere.example"), "");
        g.automatic = Some(Automatic::Bounce);
        g.bounce = Some(Bounce {
            original_message_id: Some(original.into()),
            recipient: Some(recipient.into()),
            status: Some("5.1.1".into()),
            permanent: true,
        });
        g
    };
    let s = snapshot(Status::InProgress);
    // Naming no mail of ours (the ticket found by its subject tag).
    let forged = report("alice@mairie.example", "invented@anywhere");
    let plan = run(&forged, Some(&s), None);
    assert!(
        matches!(plan.outcome, PlanOutcome::Ignored(ref why) if why.contains("no mail we sent"))
    );
    assert!(plan.addresses.is_empty() && plan.letters.is_empty() && plan.entries.is_empty());
    // Naming our mail, but an address it was not sent to.
    let mut other = report("chef@mairie.example", "ack@desk");
    other.reported = Some(vec!["alice@mairie.example".into()]);
    let plan = run(&other, Some(&s), None);
    assert!(matches!(plan.outcome, PlanOutcome::Ignored(ref why) if why.contains("was not sent")));
    assert!(plan.addresses.is_empty());
    // About the agents' notification address or an agent: never marked.
    for ours in [
        "sau@example.test",
        "bob@agents.example",
        "support@example.test",
    ] {
        let mut g = report(ours, "new@desk");
        g.reported = Some(vec![ours.to_string()]);
        let plan = run(&g, Some(&s), None);
        assert!(
            matches!(plan.outcome, PlanOutcome::Ignored(ref why) if why.contains("desk's own address")),
            "{ours}: {:?}",
            plan.outcome
        );
        assert!(plan.addresses.is_empty());
    }
    // The real one, case aside: marked.
    let mut real = report("Alice@Mairie.example", "ack@desk");
    real.reported = Some(vec!["alice@mairie.example".into()]);
    let plan = run(&real, Some(&s), None);
    assert_eq!(plan.outcome, PlanOutcome::Added(MessageKind::Bounce));
    assert_eq!(plan.addresses.len(), 1);
}

#[test]
fn a_strangers_out_of_office_with_a_tickets_reference_is_not_recorded() {
    let mut g = Given::from(person("eve@elsewhere.example"), "Je suis absente.");
    g.automatic = Some(Automatic::AutoReply);
    g.attachments = vec![Attachment {
        filename: "logo.png".into(),
        content_type: "image/png".into(),
        size: 5000,
        sha256: String::new(),
    }];
    let s = snapshot(Status::InProgress);
    let plan = run(&g, Some(&s), None);
    assert!(
        matches!(plan.outcome, PlanOutcome::Ignored(ref why) if why.contains("outside the ticket"))
    );
    assert!(plan.entries.is_empty() && plan.kept.is_empty());
    // The requester's own out-of-office is recorded, and answers nothing.
    let mine = Given {
        automatic: Some(Automatic::AutoReply),
        ..Given::from(alice(), "Je suis absente.")
    };
    let plan = run(&mine, Some(&s), None);
    assert_eq!(plan.outcome, PlanOutcome::Added(MessageKind::AutoReply));
    assert!(plan.letters.is_empty());
}

#[test]
fn a_sender_in_doubt_acts_on_nothing() {
    let doubt = "the mail names several senders (alice@mairie.example, eve@elsewhere.example)";
    // The requester's address first, a stranger's second: no validation.
    let g = Given {
        sender_doubt: Some(doubt),
        ..Given::from(alice(), "VALIDER")
    };
    let s = snapshot(Status::Solved);
    let plan = run(&g, Some(&s), None);
    assert_eq!(plan.outcome, PlanOutcome::Added(MessageKind::Followup));
    let TicketChange::Update { after, .. } = &plan.ticket else {
        panic!("{:?}", plan.ticket);
    };
    assert_eq!(after.status, Status::Solved);
    assert_eq!(
        to_of(&plan),
        [
            (Template::SecurityRefused, vec!["alice@mairie.example"]),
            (Template::AgentFollowUp, vec!["sau@example.test"]),
        ]
    );
    assert_eq!(plan.letters[0].error.as_ref().unwrap().reason, doubt);
    // An agent's address first: no command, no reply sent on, no watcher.
    let g = Given {
        sender_doubt: Some(doubt),
        ..Given::from(
            person("bob@agents.example"),
            "#watch add eve@elsewhere.example",
        )
    };
    let s = snapshot(Status::InProgress);
    let plan = run(&g, Some(&s), None);
    let TicketChange::Update { after, .. } = &plan.ticket else {
        panic!("{:?}", plan.ticket);
    };
    assert_eq!(after.watchers, s.ticket.watchers);
    assert!(plan
        .letters
        .iter()
        .all(|l| l.to.iter().all(|a| a.to != "alice@mairie.example")));
    // The same mail with a clear sender does what it says.
    let g = Given::from(
        person("bob@agents.example"),
        "#watch add eve@elsewhere.example",
    );
    let plan = run(&g, Some(&s), None);
    let TicketChange::Update { after, .. } = &plan.ticket else {
        panic!("{:?}", plan.ticket);
    };
    assert!(after.watchers.iter().any(|w| w == "eve@elsewhere.example"));
}

#[test]
fn what_an_untrusted_mail_said_is_not_repeated_outside_the_desk() {
    let attachment = Attachment {
        filename: "facture-urgente.pdf".into(),
        content_type: "application/pdf".into(),
        size: 5000,
        sha256: String::new(),
    };
    let text = "Votre compte expire : https://evil.example/login";
    for (authenticated, doubt) in [
        (Some(Err("dmarc=fail".to_string())), None),
        (
            None,
            Some("sent by eve@elsewhere.example on behalf of alice@mairie.example"),
        ),
    ] {
        let g = Given {
            authenticated,
            sender_doubt: doubt,
            attachments: vec![attachment.clone()],
            ..Given::from(alice(), text)
        };
        let plan = run(&g, None, None);
        assert_eq!(plan.outcome, PlanOutcome::Opened);
        let ack = &plan.letters[0];
        assert_eq!(ack.template, Template::Acknowledgement);
        assert!(ack.said.withheld);
        assert!(ack.said.body.is_empty() && ack.said.attachments.is_empty());
        // The agents see everything.
        let agents = &plan.letters[1];
        assert_eq!(agents.template, Template::AgentNewTicket);
        assert!(!agents.said.withheld);
        assert_eq!(agents.said.body, text);
        assert_eq!(agents.said.attachments, std::slice::from_ref(&attachment));
    }
    // Authenticated, or with nothing checked: the acknowledgement quotes.
    for authenticated in [Some(Ok(())), None] {
        let g = Given {
            authenticated,
            ..Given::from(alice(), text)
        };
        let plan = run(&g, None, None);
        assert!(!plan.letters[0].said.withheld);
        assert_eq!(plan.letters[0].said.body, text);
    }
}

#[test]
fn an_agent_who_answered_people_directly_does_not_send_them_a_copy() {
    // Bob answered Alice himself, the desk and the agents' list in copy:
    // the desk sends his words only to who did not get them (the watcher).
    let given = Given {
        copied: [
            "alice@mairie.example",
            "support@example.test",
            "sau@example.test",
        ]
        .map(String::from)
        .to_vec(),
        ..Given::from(person("bob@agents.example"), "Le toner est changé.")
    };
    let s = snapshot(Status::InProgress);
    let plan = run(&given, Some(&s), None);
    assert_eq!(plan.outcome, PlanOutcome::Added(MessageKind::AgentReply));
    assert_eq!(
        to_of(&plan),
        [(Template::AgentReply, vec!["chef@mairie.example"])]
    );
    // A solution still reaches her: it says how to answer it.
    let given = Given {
        copied: vec!["alice@mairie.example".into()],
        ..Given::from(person("bob@agents.example"), "#solution Redémarrez.")
    };
    let plan = run(&given, Some(&s), None);
    let to = to_of(&plan);
    assert_eq!(to[0].0, Template::Solution);
    assert!(to[0].1.contains(&"alice@mairie.example"), "{to:?}");
}

#[test]
fn each_recipient_is_addressed_as_who_they_are() {
    let given = Given::from(person("bob@agents.example"), "Le toner est changé.");
    let plan = run(&given, Some(&snapshot(Status::New)), None);
    let roles: Vec<Role> = plan.letters[0].to.iter().map(|a| a.role).collect();
    assert_eq!(roles, [Role::Requester, Role::Watcher, Role::Agent]);
}

#[test]
fn someone_the_requester_put_in_copy_answers_in_the_thread_as_a_participant() {
    // Paul was in Cc of Alice's request and answers all on it: a
    // follow-up on her ticket, which he cannot validate; the agents are
    // told who wrote, and nobody else.
    let s = snapshot(Status::Solved);
    for body in ["C'est urgent, la paie part jeudi.", "OK", "VALIDER"] {
        let given = Given::from(person("paul@mairie.example"), body);
        let plan = run(&given, Some(&s), None);
        assert_eq!(
            plan.outcome,
            PlanOutcome::Added(MessageKind::Followup),
            "{body}"
        );
        assert_eq!(
            plan.ticket().map(|t| t.status),
            Some(Status::Solved),
            "{body}"
        );
        assert_eq!(
            to_of(&plan),
            [(Template::AgentFollowUp, vec!["sau@example.test"])],
            "{body}"
        );
        assert_eq!(plan.letters[0].situation, Situation::Participant);
    }
    // The same address with the reference in its subject only, and a
    // stranger in the thread: each opens a ticket of their own.
    for (who, threaded) in [
        ("paul@mairie.example", false),
        ("eve@ailleurs.example", true),
    ] {
        let given = Given {
            threaded,
            ..Given::from(person(who), "C'est urgent.")
        };
        let plan = run(&given, Some(&s), None);
        assert_eq!(plan.outcome, PlanOutcome::Opened, "{who}");
    }
}

#[test]
fn the_requesters_copies_become_participants_and_watchers_when_the_desk_says_so() {
    let given = Given {
        copied: [
            "support@example.test",
            "sau@example.test",
            "bob@agents.example",
            "chef@mairie.example",
            "paul@mairie.example",
            "rh@mairie.example",
            "alice@mairie.example",
            "rh@mairie.example",
        ]
        .map(String::from)
        .to_vec(),
        ..Given::from(alice(), "J'ajoute le service RH en copie.")
    };
    let s = snapshot(Status::InProgress);
    let plan = run(&given, Some(&s), None);
    // Not the desk, its agents, the requester, a watcher, nor Paul again.
    assert_eq!(plan.participants, ["rh@mairie.example"]);
    assert_eq!(
        plan.ticket().map(|t| t.watchers.clone()),
        Some(vec!["chef@mairie.example".to_string()])
    );
    let agents = agents();
    let watching = Policy {
        cc_become_watchers: true,
        ..policy()
    };
    let context = Context {
        ours: false,
        reported: None,
        matched: Some(&s),
        threaded: true,
        same_subject: None,
        target: None,
        agents: &agents,
    };
    // Not from a mail that merely names her: no check is configured.
    let plan = decide(&context, &given.mail(), &watching, at(NOW), &mut ids());
    assert_eq!(
        plan.ticket().map(|t| t.watchers.clone()),
        Some(vec!["chef@mairie.example".to_string()])
    );
    assert_eq!(plan.participants, ["rh@mairie.example"]);
    // From one the desk's receiving server vouches for: watchers, and a
    // line on the ticket says so.
    let proven = Given {
        authenticated: Some(Ok(())),
        copied: given.copied.clone(),
        ..Given::from(alice(), "J'ajoute le service RH en copie.")
    };
    let plan = decide(&context, &proven.mail(), &watching, at(NOW), &mut ids());
    assert_eq!(
        plan.ticket().map(|t| t.watchers.clone()),
        Some(vec![
            "chef@mairie.example".to_string(),
            "rh@mairie.example".to_string()
        ])
    );
    assert!(plan
        .entries
        .iter()
        .any(|e| e.body == "watchers added, in copy of the requester's mail: rh@mairie.example"));
    // A new request with people in copy: they are its participants.
    let plan = run(&given, None, None);
    assert_eq!(plan.outcome, PlanOutcome::Opened);
    assert_eq!(
        plan.participants,
        [
            "chef@mairie.example",
            "paul@mairie.example",
            "rh@mairie.example"
        ]
    );
}

#[test]
fn a_forged_or_crowded_copy_list_lets_nobody_in() {
    // A mail in Alice's name that could not be authenticated: its Cc
    // would let anybody follow up on her ticket.
    let forged = Given {
        copied: vec!["eve@ailleurs.example".into()],
        authenticated: Some(Err("dkim=fail".into())),
        ..Given::from(alice(), "Merci d'ajouter Eve.")
    };
    let s = snapshot(Status::InProgress);
    assert!(run(&forged, Some(&s), None).participants.is_empty());
    // Nor does someone else's mail, even on her ticket.
    let watcher = Given {
        copied: vec!["eve@ailleurs.example".into()],
        ..Given::from(person("chef@mairie.example"), "J'ajoute Eve.")
    };
    assert!(run(&watcher, Some(&s), None).participants.is_empty());
    // A mail to a crowd: at most so many participants per ticket.
    let crowd: Vec<String> = (0..60).map(|i| format!("p{i}@mairie.example")).collect();
    let given = Given {
        copied: crowd,
        ..Given::from(alice(), "À tout le service.")
    };
    let plan = run(&given, Some(&s), None);
    assert_eq!(plan.participants.len(), MAX_PARTICIPANTS - 1);
}

#[test]
fn a_mail_opened_apart_names_the_ticket_whose_reference_it_carried() {
    // Alice from her other address: a ticket of its own, which names
    // ticket 12 to the agents (with its subject) and to her (without).
    let given = Given::from(
        person("a.martin@mairie.example"),
        "REFUSER toujours en panne",
    );
    let s = snapshot(Status::Solved);
    let plan = run(&given, Some(&s), None);
    assert_eq!(plan.outcome, PlanOutcome::Opened);
    let related = Related {
        number: TicketRef(12),
        subject: "Imprimante".into(),
    };
    assert!(plan
        .letters
        .iter()
        .all(|l| l.related.as_ref() == Some(&related)));
    assert!(plan
        .entries
        .iter()
        .any(|e| e.kind == MessageKind::System && e.body.contains("[SUPPORT #000012]")));
    // Nothing is decided on ticket 12.
    assert!(plan.joins.is_none());
    // A mail that names no ticket, or its own requester's: nothing apart.
    let plan = run(&given, None, None);
    assert!(plan.letters.iter().all(|l| l.related.is_none()));
    let plan = run(&Given::from(alice(), "Suite"), Some(&s), None);
    assert!(plan.letters.iter().all(|l| l.related.is_none()));
}

fn merge(body: &'static str, target: Option<&Ticket>) -> Plan {
    let agents = agents();
    let mut s = snapshot(Status::New);
    s.ticket.number = TicketRef(13);
    s.ticket.requester = person("a.martin@mairie.example");
    s.ticket.watchers = vec!["chef@mairie.example".into(), "rh@mairie.example".into()];
    let context = Context {
        ours: false,
        reported: None,
        matched: Some(&s),
        threaded: true,
        same_subject: None,
        target,
        agents: &agents,
    };
    let given = Given::from(person("bob@agents.example"), body);
    decide(&context, &given.mail(), &policy(), at(NOW), &mut ids())
}

#[test]
fn only_an_agents_merge_has_its_target_loaded() {
    let a = agents();
    let agent = Given::from(
        person("bob@agents.example"),
        "Bonjour,\n#merge [SUPPORT #000012]",
    );
    assert_eq!(merge_target(&agent.mail(), &a), Some(TicketRef(12)));
    let requester = Given::from(alice(), "#merge 12");
    assert_eq!(merge_target(&requester.mail(), &a), None);
    let reply = Given::from(person("bob@agents.example"), "Voir le ticket #12.");
    assert_eq!(merge_target(&reply.mail(), &a), None);
}

#[test]
fn merge_joins_a_ticket_to_another_with_its_people() {
    let target = ticket(Status::Solved);
    let plan = merge("#merge 12 même personne, autre adresse", Some(&target));
    let TicketChange::Update { after, .. } = &plan.ticket else {
        panic!("an update");
    };
    assert_eq!(after.status, Status::Closed);
    assert_eq!(after.close_reason, Some(CloseReason::Agent));
    let join = plan.joins.as_ref().expect("a join");
    assert_eq!(join.into, TicketRef(12));
    // Its requester may follow up there; its watchers now watch there
    // (the chef already did).
    assert_eq!(
        join.participants,
        ["a.martin@mairie.example", "paul@mairie.example"]
    );
    assert_eq!(join.watchers, ["rh@mairie.example"]);
    assert!(join.entry.contains("[SUPPORT #000013] joined this ticket"));
    assert_eq!(
        plan.entries[0].body,
        "joined [SUPPORT #000012]: its thread is now there\n\nmême personne, autre adresse"
    );
    // The agent is told, nobody else.
    assert_eq!(
        to_of(&plan),
        [(Template::CommandDone, vec!["bob@agents.example"])]
    );
    assert_eq!(
        plan.letters[0].related.as_ref().map(|r| r.number),
        Some(TicketRef(12))
    );
}

#[test]
fn merge_refuses_a_missing_closed_or_same_ticket() {
    let mut closed = ticket(Status::Closed);
    closed.closed_at = Some(at("2026-11-30 09:45"));
    let mut same = ticket(Status::InProgress);
    same.number = TicketRef(13);
    for (body, target, reason) in [
        ("#merge 12", None, "merge_unknown"),
        ("#merge 12", Some(&closed), "merge_closed"),
        ("#merge 13", Some(&same), "merge_self"),
        ("#merge douze", None, "merge_usage"),
    ] {
        let plan = merge(body, target);
        assert!(plan.joins.is_none(), "{body}");
        assert_eq!(plan.outcome, PlanOutcome::CommandRefused, "{body}");
        assert_eq!(
            to_of(&plan),
            [(Template::CommandError, vec!["bob@agents.example"])]
        );
        assert_eq!(
            plan.letters[0].error.as_ref().map(|e| e.reason.as_str()),
            Some(reason)
        );
        let TicketChange::Update { before, after } = &plan.ticket else {
            panic!("an update");
        };
        assert_eq!(before, after, "{body}");
    }
}

fn file(name: &str, size: u64) -> Attachment {
    Attachment {
        filename: name.into(),
        content_type: "application/octet-stream".into(),
        size,
        sha256: format!("sha-of-{name}"),
    }
}

#[test]
fn files_travel_with_the_agents_notices_and_the_agents_words() {
    // Alice's screenshot goes to the agents with the new ticket, not back
    // to her in the acknowledgement.
    let given = Given {
        attachments: vec![file("capture.png", 300_000)],
        ..Given::from(alice(), "L'écran affiche une erreur.")
    };
    let plan = run(&given, None, None);
    let attached: Vec<(Template, Vec<usize>)> = plan
        .letters
        .iter()
        .map(|l| (l.template, l.attached.clone()))
        .collect();
    assert_eq!(
        attached,
        [
            (Template::Acknowledgement, vec![]),
            (Template::AgentNewTicket, vec![0])
        ]
    );
    // Bob's procedure goes to Alice, the watcher and his colleagues; a
    // note's file to the agents only (a note goes nowhere else).
    let s = snapshot(Status::InProgress);
    for body in [
        "Voici la procédure.",
        "#solution Suivez la procédure jointe.",
        "#note le devis",
    ] {
        let given = Given {
            attachments: vec![file("procedure.pdf", 180_000)],
            ..Given::from(person("bob@agents.example"), body)
        };
        let plan = run(&given, Some(&s), None);
        let carrying: Vec<&Letter> = plan
            .letters
            .iter()
            .filter(|l| !l.attached.is_empty())
            .collect();
        assert_eq!(carrying.len(), 1, "{body}");
        assert!(carrying[0].template.carries_files(), "{body}");
        if body.starts_with("#note") {
            assert_eq!(carrying[0].template, Template::AgentNote);
        }
    }
}

#[test]
fn a_file_the_ticket_has_already_is_not_sent_outside_again() {
    // Bob's Outlook reply to the note's notice keeps the note's picture;
    // the requester's own screenshot comes back quoted too. Neither goes
    // to her; his new procedure does.
    let mut s = snapshot(Status::InProgress);
    s.files = vec!["sha-of-note.png".into(), "sha-of-capture.png".into()];
    let given = Given {
        attachments: vec![
            file("note.png", 40_000),
            file("capture.png", 30_000),
            file("procedure.pdf", 90_000),
        ],
        ..Given::from(person("bob@agents.example"), "Voici la procédure.")
    };
    let plan = run(&given, Some(&s), None);
    assert_eq!(to_of(&plan)[0].0, Template::AgentReply);
    assert_eq!(plan.letters[0].attached, [2]);
    // The same files in a note go to the agents, whatever they have seen.
    let note = Given {
        attachments: given.attachments.clone(),
        ..Given::from(person("bob@agents.example"), "#note les captures")
    };
    let plan = run(&note, Some(&s), None);
    assert_eq!(plan.letters[0].template, Template::AgentNote);
    assert_eq!(plan.letters[0].attached, [0, 1, 2]);
}

#[test]
fn files_over_the_desks_size_for_them_are_listed_not_sent() {
    // Counted as written in the mail, in base64: 821 106, 1 231 620 and
    // 410 566 bytes.
    let small = Policy {
        forward_attachments_up_to: 1_300_000,
        ..policy()
    };
    let given = Given {
        attachments: vec![
            file("photo1.jpg", 600_000),
            file("video.mp4", 900_000),
            file("photo2.jpg", 300_000),
        ],
        ..Given::from(alice(), "Voici les photos.")
    };
    let agents = agents();
    let context = Context {
        ours: false,
        reported: None,
        matched: None,
        threaded: false,
        same_subject: None,
        target: None,
        agents: &agents,
    };
    let plan = decide(&context, &given.mail(), &small, at(NOW), &mut ids());
    let notice = plan
        .letters
        .iter()
        .find(|l| l.template == Template::AgentNewTicket)
        .expect("the agents' notice");
    // In order, while the whole stays within 1.3 MB: the video is left
    // out, the smaller photo after it still goes.
    assert_eq!(notice.attached, [0, 2]);
    assert_eq!(notice.said.attachments.len(), 3);
    // An untrusted mail's files go to the agents, never back outside.
    let forged = Given {
        authenticated: Some(Err("dmarc=fail".into())),
        ..Given::from(person("bob@agents.example"), "Voici la procédure.")
    };
    let forged = Given {
        attachments: vec![file("procedure.pdf", 1000)],
        ..forged
    };
    let s = snapshot(Status::InProgress);
    let plan = run(&forged, Some(&s), None);
    for l in &plan.letters {
        let outside = l.to.iter().any(|a| a.role != Role::Agent);
        assert!(!outside || l.attached.is_empty(), "{:?}", l.template);
    }
}

/// The university's desk: its IT department's queue, HR's, and the
/// desk's own for the rest.
fn desk_with_queues() -> Policy {
    use crate::ticket::policy::Queue;
    Policy {
        queues: vec![
            Queue {
                name: "dsin".into(),
                addresses: vec!["help@univ.example".into()],
                agent_notify: vec!["dsin-agents@univ.example".into()],
                subject_tag: Some("HELP".into()),
            },
            Queue {
                name: "grh".into(),
                addresses: vec!["rh@univ.example".into()],
                agent_notify: vec!["grh-agents@univ.example".into()],
                subject_tag: None,
            },
        ],
        ..policy()
    }
}

fn run_with(given: &Given, matched: Option<&Snapshot>, policy: &Policy) -> Plan {
    let agents = Agents {
        list: vec![
            ("bob@agents.example".into(), Some("Bob".into())),
            ("carla@agents.example".into(), Some("Carla Diaz".into())),
        ],
    };
    let context = Context {
        ours: false,
        reported: None,
        matched,
        threaded: given.threaded,
        same_subject: None,
        target: None,
        agents: &agents,
    };
    decide(&context, &given.mail(), policy, at(NOW), &mut ids())
}

#[test]
fn a_new_mail_goes_to_the_queue_its_address_routes_to() {
    let p = desk_with_queues();
    let mut given = Given::from(alice(), "Mon bulletin de paie est faux.");
    given.copied = vec!["rh@univ.example".into(), "support@example.test".into()];
    let plan = run_with(&given, None, &p);
    let t = plan.ticket().expect("a ticket");
    assert_eq!(t.queue.as_deref(), Some("grh"));
    assert_eq!(
        to_of(&plan)[1],
        (Template::AgentNewTicket, vec!["grh-agents@univ.example"])
    );
    assert!(plan
        .entries
        .iter()
        .any(|e| e.body == "queue: grh (the mail was sent to rh@univ.example)"));
    // Sent to the desk's own address only: the desk's own queue.
    given.copied = vec!["support@example.test".into()];
    let plan = run_with(&given, None, &p);
    assert_eq!(plan.ticket().unwrap().queue, None);
    assert_eq!(
        to_of(&plan)[1],
        (Template::AgentNewTicket, vec!["sau@example.test"])
    );
    // A queue's address writing to the desk is the desk's own mail.
    let given = Given::from(person("help@univ.example"), "Relayé");
    assert!(matches!(
        run_with(&given, None, &p).outcome,
        PlanOutcome::Ignored(_)
    ));
}

#[test]
fn what_the_requester_states_and_the_rules_set_is_recorded_with_why() {
    use crate::ticket::classify::{By, Classified, Set};
    let p = desk_with_queues();
    let mut given = Given::from(alice(), "Les bulletins ne sortent pas.");
    given.classified = Classified {
        category: Some(Set {
            value: "Paie".into(),
            by: By::Rule(2),
        }),
        ticket_type: Some(Set {
            value: TicketType::Incident,
            by: By::Subject,
        }),
        impact: Some(Set {
            value: crate::ticket::Impact::Blocking,
            by: By::Subject,
        }),
        queue: Some(Set {
            value: "grh".into(),
            by: By::Rule(2),
        }),
        organisation: Some(Set {
            value: "Université".into(),
            by: By::Rule(1),
        }),
    };
    let plan = run_with(&given, None, &p);
    let t = plan.ticket().unwrap();
    assert_eq!(t.ticket_type, TicketType::Incident);
    assert_eq!(t.impact, Some(crate::ticket::Impact::Blocking));
    assert_eq!(t.category.as_deref(), Some("Paie"));
    assert_eq!(t.queue.as_deref(), Some("grh"));
    assert_eq!(t.organisation.as_deref(), Some("Université"));
    let lines = &plan
        .entries
        .iter()
        .find(|e| e.body.starts_with("type:"))
        .expect("the classification line")
        .body;
    assert_eq!(
        lines,
        "type: incident (stated in the subject)\nimpact: blocking (stated in the subject)\ncategory: Paie (set by rule 2)\norganisation: Université (set by rule 1)\nqueue: grh (set by rule 2)"
    );
    // On a follow-up, nothing of it applies.
    let s = snapshot(Status::InProgress);
    let plan = run_with(&given, Some(&s), &p);
    let t = plan.ticket().unwrap();
    assert_eq!((t.impact, t.queue.as_deref()), (None, None));
}

#[test]
fn the_assignee_gets_the_requesters_mail_and_others_only_while_nobody_has_it() {
    let p = desk_with_queues();
    let mut s = snapshot(Status::InProgress);
    s.ticket.queue = Some("dsin".into());
    // Bob's first answer takes the ticket.
    let bob = Given::from(person("bob@agents.example"), "Je regarde cela.");
    let plan = run_with(&bob, Some(&s), &p);
    let t = plan.ticket().unwrap().clone();
    assert_eq!(
        t.assignee,
        Some(Person {
            email: "bob@agents.example".into(),
            name: Some("Bob".into())
        })
    );
    assert_eq!(plan.entries.len(), 1, "the answer only: {:?}", plan.entries);
    // Alice's follow-up: to Bob alone, not the queue.
    let s = Snapshot { ticket: t, ..s };
    let alice_writes = Given::from(alice(), "Toujours en panne.");
    let plan = run_with(&alice_writes, Some(&s), &p);
    assert_eq!(
        to_of(&plan),
        [(Template::AgentFollowUp, vec!["bob@agents.example"])]
    );
    // A new ticket's notice and a note still go to the queue.
    let note = Given::from(
        person("carla@agents.example"),
        "#note appeler le fournisseur",
    );
    let plan = run_with(&note, Some(&s), &p);
    assert_eq!(
        to_of(&plan)[0],
        (Template::AgentNote, vec!["dsin-agents@univ.example"])
    );
    // Carla's answer does not take it from Bob.
    let carla = Given::from(
        person("carla@agents.example"),
        "Le fournisseur passe demain.",
    );
    let plan = run_with(&carla, Some(&s), &p);
    assert_eq!(
        plan.ticket().unwrap().assignee.as_ref().unwrap().email,
        "bob@agents.example"
    );
    // #unassign: the queue again.
    let free = Given::from(person("bob@agents.example"), "#unassign je pars en congés");
    let plan = run_with(&free, Some(&s), &p);
    let t = plan.ticket().unwrap().clone();
    assert_eq!(t.assignee, None);
    let s = Snapshot { ticket: t, ..s };
    let plan = run_with(&alice_writes, Some(&s), &p);
    assert_eq!(
        to_of(&plan),
        [(Template::AgentFollowUp, vec!["dsin-agents@univ.example"])]
    );
    // Without first-answer assignment, an answer takes nothing.
    let p2 = Policy {
        assign_on_first_reply: false,
        ..desk_with_queues()
    };
    assert_eq!(
        run_with(&bob, Some(&s), &p2).ticket().unwrap().assignee,
        None
    );
}

#[test]
fn assign_to_an_agent_take_and_move_between_queues() {
    let p = desk_with_queues();
    let mut s = snapshot(Status::InProgress);
    s.ticket.queue = Some("dsin".into());
    let carla = Given::from(person("carla@agents.example"), "#assign bob@agents.example");
    let plan = run_with(&carla, Some(&s), &p);
    assert_eq!(
        plan.ticket()
            .unwrap()
            .assignee
            .as_ref()
            .unwrap()
            .name
            .as_deref(),
        Some("Bob")
    );
    // Bob is told; Carla is told it is done.
    assert_eq!(
        to_of(&plan),
        [
            (Template::AgentNewTicket, vec!["bob@agents.example"]),
            (Template::CommandDone, vec!["carla@agents.example"]),
        ]
    );
    assert_eq!(plan.letters[0].situation, Situation::Assigned);
    // Not an agent: refused, nothing changed.
    let wrong = Given::from(
        person("carla@agents.example"),
        "#assign stagiaire@mairie.example",
    );
    let plan = run_with(&wrong, Some(&s), &p);
    assert_eq!(plan.outcome, PlanOutcome::CommandRefused);
    assert_eq!(plan.ticket().unwrap().assignee, None);
    assert_eq!(
        plan.letters[0].error.as_ref().unwrap().reason,
        "assign_not_agent"
    );
    // #take.
    let take = Given::from(person("carla@agents.example"), "#take");
    let plan = run_with(&take, Some(&s), &p);
    let t = plan.ticket().unwrap().clone();
    assert_eq!(
        t.assignee.as_ref().unwrap().name.as_deref(),
        Some("Carla Diaz")
    );
    // #queue grh: the HR agents are told, the ticket is nobody's there.
    let s = Snapshot { ticket: t, ..s };
    let mv = Given::from(
        person("carla@agents.example"),
        "#queue GRH bulletin de paie",
    );
    let plan = run_with(&mv, Some(&s), &p);
    let t = plan.ticket().unwrap();
    assert_eq!(
        (t.queue.as_deref(), t.assignee.as_ref()),
        (Some("grh"), None)
    );
    assert_eq!(
        to_of(&plan)[0],
        (Template::AgentNewTicket, vec!["grh-agents@univ.example"])
    );
    assert_eq!(plan.letters[0].situation, Situation::Moved);
    // An unknown queue is refused.
    let bad = Given::from(person("carla@agents.example"), "#queue compta");
    let plan = run_with(&bad, Some(&s), &p);
    assert_eq!(
        plan.letters[0].error.as_ref().unwrap().reason,
        "queue_unknown"
    );
    assert_eq!(plan.ticket().unwrap().queue.as_deref(), Some("dsin"));
}

#[test]
fn an_agent_opens_a_ticket_for_a_requester_who_called() {
    let mut given = Given::from(
        person("bob@agents.example"),
        "#requester jeanne@mairie.example Jeanne Martin\nAppel à 9h10 : l'imprimante de l'accueil est bloquée.",
    );
    given.subject = "Imprimante de l'accueil";
    let plan = run(&given, None, None);
    assert_eq!(plan.outcome, PlanOutcome::Opened);
    let t = plan.ticket().unwrap();
    assert_eq!(t.requester.email, "jeanne@mairie.example");
    assert_eq!(t.requester.name.as_deref(), Some("Jeanne Martin"));
    assert_eq!(
        (t.channel, t.opened_by.as_deref()),
        (Channel::Phone, Some("bob@agents.example"))
    );
    assert_eq!(t.organisation.as_deref(), Some("mairie.example"));
    assert_eq!(plan.entries[0].kind, MessageKind::Initial);
    assert_eq!(
        plan.entries[0].body,
        "Appel à 9h10 : l'imprimante de l'accueil est bloquée."
    );
    assert_eq!(
        plan.entries[0].for_whom.as_ref().unwrap().email,
        "jeanne@mairie.example"
    );
    assert_eq!(
        plan.entries[1].body,
        "opened by bob@agents.example for jeanne@mairie.example (a request taken by phone)"
    );
    assert_eq!(
        to_of(&plan),
        [
            (Template::Acknowledgement, vec!["jeanne@mairie.example"]),
            (Template::AgentNewTicket, vec!["sau@example.test"]),
        ]
    );
    assert_eq!(plan.letters[0].situation, Situation::OnBehalf);
    // No participants from the agent's copy list: it is not her mail.
    assert!(plan.participants.is_empty());
}

#[test]
fn an_agents_forward_opens_the_ticket_for_the_original_sender() {
    let mut given = Given::from(
        person("bob@agents.example"),
        "Reçu sur ma boîte, pour le support.",
    );
    given.subject = "Imprimante bloquée";
    given.forwarded = Some(crate::ticket::Forwarded {
        from: alice(),
        subject: Some("Imprimante de l'état civil bloquée".into()),
        body: "Bonjour, l'imprimante est bloquée.".into(),
        note: "Reçu sur ma boîte, pour le support.".into(),
        phone: Some("01 23 45 67 89".into()),
    });
    let plan = run(&given, None, None);
    let t = plan.ticket().unwrap();
    assert_eq!(t.requester, alice());
    assert_eq!(t.subject, "Imprimante de l'état civil bloquée");
    assert_eq!(
        (t.channel, t.requester_phone.as_deref()),
        (Channel::Mail, Some("01 23 45 67 89"))
    );
    let kinds: Vec<MessageKind> = plan.entries.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [MessageKind::Initial, MessageKind::System, MessageKind::Note]
    );
    assert_eq!(plan.entries[0].body, "Bonjour, l'imprimante est bloquée.");
    assert_eq!(plan.entries[2].body, "Reçu sur ma boîte, pour le support.");
    assert_eq!(
        to_of(&plan)[0],
        (Template::Acknowledgement, vec!["alice@mairie.example"])
    );
    // The acknowledgement shows her words, not the agent's note.
    assert_eq!(
        plan.letters[0].said.body,
        "Bonjour, l'imprimante est bloquée."
    );
}

#[test]
fn nobody_but_a_trusted_agent_opens_a_ticket_for_someone_else() {
    let forward = crate::ticket::Forwarded {
        from: person("victim@elsewhere.example"),
        subject: None,
        body: "Cliquez ici".into(),
        note: String::new(),
        phone: None,
    };
    // A requester forwarding someone's mail: her own ticket.
    let mut given = Given::from(alice(), "Voir ci-dessous");
    given.forwarded = Some(forward.clone());
    assert_eq!(run(&given, None, None).ticket().unwrap().requester, alice());
    // An agent's address in a mail that failed authentication: the
    // sender's own ticket, nothing sent to the one it names.
    let mut given = Given::from(
        person("bob@agents.example"),
        "#requester victim@elsewhere.example\nCliquez ici",
    );
    given.authenticated = Some(Err("dmarc=fail".into()));
    let plan = run(&given, None, None);
    assert_eq!(plan.ticket().unwrap().requester.email, "bob@agents.example");
    assert!(plan
        .letters
        .iter()
        .all(|l| l.to.iter().all(|a| a.to != "victim@elsewhere.example")));
    // Not for the desk's own addresses, nor an agent.
    for who in [
        "support@example.test",
        "sau@example.test",
        "bob@agents.example",
    ] {
        let body: &'static str = Box::leak(format!("#requester {who}\nx").into_boxed_str());
        let given = Given::from(person("bob@agents.example"), body);
        let plan = run(&given, None, None);
        assert_eq!(
            plan.ticket().map(|t| t.channel),
            Some(Channel::Mail),
            "{who}"
        );
        assert_eq!(
            plan.ticket().unwrap().requester.email,
            "bob@agents.example",
            "{who}"
        );
    }
    // #requester on an existing ticket is refused.
    let s = snapshot(Status::InProgress);
    let given = Given::from(
        person("bob@agents.example"),
        "#requester paul@mairie.example",
    );
    let plan = run(&given, Some(&s), None);
    assert_eq!(
        plan.letters[0].error.as_ref().unwrap().reason,
        "requester_on_ticket"
    );
}

/// A desk with three articles: two for requesters, one for agents.
fn desk_with_kb() -> Policy {
    use crate::ticket::kb::{Article, KnowledgeBase};
    let article = |id: &str, front: &str, body: &str| {
        Article::parse(id, &format!("---\n{front}\n---\n{body}\n")).unwrap()
    };
    Policy {
        kb: std::sync::Arc::new(KnowledgeBase::new(
            vec![
                article(
                    "imprimante-hors-ligne",
                    "title: L'imprimante est hors ligne\nkeywords: imprimante, hors ligne, impression",
                    "Vérifiez que l'imprimante est allumée et reliée au réseau.",
                ),
                article(
                    "vpn",
                    "title: Se connecter au VPN\nkeywords: vpn, télétravail, domicile",
                    "Ouvrez le client VPN et saisissez votre identifiant.",
                ),
                article(
                    "imprimante-console",
                    "title: Réinstaller une imprimante sur le serveur\nkeywords: imprimante, serveur d'impression\naudience: agents",
                    "Dans la console du serveur d'impression…",
                ),
            ],
            3,
            1.0,
        )),
        ..policy()
    }
}

#[test]
fn a_new_requests_acknowledgement_suggests_the_articles_that_answer_it() {
    let p = desk_with_kb();
    let mut given = Given::from(
        alice(),
        "Bonjour,\nl'imprimante du couloir est hors ligne depuis ce matin.\nCordialement,\nAlice",
    );
    given.subject = "Impression impossible";
    let plan = run_with(&given, None, &p);
    let ids = |l: &Letter| -> Vec<String> { l.articles.iter().map(|a| a.id.clone()).collect() };
    assert_eq!(plan.letters[0].template, Template::Acknowledgement);
    assert_eq!(ids(&plan.letters[0]), ["imprimante-hors-ligne"]);
    // The agents are told which, and the thread keeps it.
    assert_eq!(plan.letters[1].template, Template::AgentNewTicket);
    assert_eq!(ids(&plan.letters[1]), ["imprimante-hors-ligne"]);
    assert!(plan
        .entries
        .iter()
        .any(|e| e.body == "articles suggested: imprimante-hors-ligne"));

    // Unrelated mail gets none, nor does a follow-up.
    let mut other = Given::from(alice(), "La réunion de jeudi est déplacée à 15h.");
    other.subject = "Réunion";
    let plan = run_with(&other, None, &p);
    assert!(plan.letters.iter().all(|l| l.articles.is_empty()));
    let s = snapshot(Status::InProgress);
    let plan = run_with(&given, Some(&s), &p);
    assert!(plan.letters.iter().all(|l| l.articles.is_empty()));

    // Nor does a mail that could not be trusted: its text is not repeated
    // outside the desk, and what it asked is not answered from it.
    let mut forged = given;
    forged.sender_doubt = Some("From and Sender disagree");
    let plan = run_with(&forged, None, &p);
    assert!(plan.letters.iter().all(|l| l.articles.is_empty()));
}

#[test]
fn kb_answers_a_ticket_with_an_article_as_its_solution() {
    let p = desk_with_kb();
    let s = snapshot(Status::InProgress);
    let given = Given::from(
        person("bob@agents.example"),
        "#kb VPN\nVoici la marche à suivre, Alice.",
    );
    let plan = run_with(&given, Some(&s), &p);
    let t = plan.ticket().unwrap();
    assert_eq!(t.status, Status::Solved);
    assert_eq!(plan.letters[0].template, Template::Solution);
    assert_eq!(
        plan.letters[0].solution.as_deref(),
        Some("Voici la marche à suivre, Alice.\n\nSe connecter au VPN\n\nOuvrez le client VPN et saisissez votre identifiant.")
    );
    assert_eq!(
        plan.letters.last().unwrap().error.as_ref().unwrap().reason,
        "kb"
    );
    // An agents' article may be sent too: the agent chose it.
    let given = Given::from(person("bob@agents.example"), "#kb imprimante-console");
    let plan = run_with(&given, Some(&s), &p);
    assert_eq!(plan.ticket().unwrap().status, Status::Solved);

    // An unknown or missing name changes nothing; the agent is told.
    for (body, reason) in [("#kb wifi", "kb_unknown"), ("#kb", "kb_usage")] {
        let given = Given::from(person("bob@agents.example"), body);
        let plan = run_with(&given, Some(&s), &p);
        assert_eq!(plan.outcome, PlanOutcome::CommandRefused, "{body}");
        assert_eq!(
            to_of(&plan),
            [(Template::CommandError, vec!["bob@agents.example"])]
        );
        assert_eq!(plan.letters[0].error.as_ref().unwrap().reason, reason);
    }
    // A requester cannot send articles: "#kb" from her is a follow-up.
    let given = Given::from(alice(), "#kb vpn");
    let plan = run_with(&given, Some(&s), &p);
    assert_eq!(plan.ticket().unwrap().status, Status::InProgress);
}

#[test]
fn an_agents_digest_is_asked_by_a_new_mail_and_only_by_an_agent() {
    let given = Given::from(person("bob@agents.example"), "Bonjour,\n#digest\nMerci");
    let plan = run(&given, None, None);
    assert_eq!(plan.outcome, PlanOutcome::DigestAsked);
    assert!(plan.letters.is_empty() && plan.ticket().is_none());
    // From someone who is not an agent: a request like any other.
    let given = Given::from(alice(), "#digest");
    assert_eq!(run(&given, None, None).outcome, PlanOutcome::Opened);
    // A forged agent's mail gets nothing.
    let mut forged = Given::from(person("bob@agents.example"), "#digest");
    forged.sender_doubt = Some("From and Sender disagree");
    assert!(matches!(
        run(&forged, None, None).outcome,
        PlanOutcome::Ignored(_)
    ));
    // On a ticket, the agent is told to write a new mail.
    let s = snapshot(Status::InProgress);
    let given = Given::from(person("bob@agents.example"), "#digest");
    let plan = run(&given, Some(&s), None);
    assert_eq!(
        plan.letters[0].error.as_ref().unwrap().reason,
        "digest_on_ticket"
    );
}

#[test]
fn a_solution_on_a_closed_ticket_reopens_it_first() {
    let p = desk_with_kb();
    let mut s = snapshot(Status::Closed);
    s.ticket.close_reason = Some(CloseReason::Validated);
    s.ticket.closed_at = Some(at("2026-11-30 10:00"));
    for body in ["#kb vpn", "#solution Redémarrez le poste."] {
        let given = Given::from(person("bob@agents.example"), body);
        let plan = run_with(&given, Some(&s), &p);
        let t = plan.ticket().unwrap();
        assert_eq!(
            (t.status, t.close_reason, t.closed_at, t.reopened),
            (Status::Solved, None, None, 1),
            "{body}"
        );
        assert!(
            plan.letters.iter().any(
                |l| l.template == Template::AgentFollowUp && l.situation == Situation::Reopened
            ),
            "{body}: the agents are told it was reopened"
        );
    }
}
