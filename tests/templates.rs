//! Every mail guichet sends, rendered from its template and composed, byte
//! for byte against `tests/golden/{fr,en}/NAME.eml`, with a fixed clock and
//! a fixed Message-ID. After a deliberate change, review the new output
//! with `GUICHET_BLESS=1 cargo test --test templates` and `git diff`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use std::sync::Arc;

use chrono::{NaiveDateTime, TimeZone, Utc};
use guichet::app::Desk;
use guichet::config::Settings;
use guichet::ticket::command::CommandError;
use guichet::ticket::digest::{digest, Reader};
use guichet::ticket::kb::Article;
use guichet::ticket::limits::Refused;
use guichet::ticket::notice::{Audience, Notice, Situation, Template};
use guichet::ticket::plan::{Letter, Related, Said};
use guichet::ticket::{Attachment, Language, Person, Status, Ticket, TicketRef, TicketType};

const CONFIG: &str = r#"
[database]
url = "sqlite:///tmp/unused.db"
[imap]
host = "127.0.0.1"
tls = "none"
username = "support@example.test"
password = "x"
[smtp]
host = "127.0.0.1"
tls = "none"
from = "Support informatique <support@example.test>"
[tickets]
agent_notify = ["sau@example.test"]
"#;

/// The seed desk's hours and service levels, for the acknowledgements
/// that say when the desk looks at a request, and the SLA alerts.
const HOURS: &str = r#"
timezone = "Europe/Paris"
[hours]
monday = ["08:30-12:00", "13:30-17:00"]
tuesday = ["08:30-12:00", "13:30-17:00"]
wednesday = ["08:30-12:00", "13:30-17:00"]
thursday = ["08:30-12:00", "13:30-17:00"]
friday = ["08:30-12:00", "13:30-16:30"]
holidays = "fr"
urgent = "Astreinte / on call: 01 23 45 67 89"
[sla]
first_answer = { blocking = "1h", important = "4h", normal = "2d" }
resolution = { blocking = "1d", important = "3d", normal = "10d" }
"#;

fn at(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
}

fn ticket(language: Language, template: Template) -> Ticket {
    let solved = matches!(
        template,
        Template::Solution
            | Template::Reminder
            | Template::AgentFollowUp
            | Template::AnswerUndecided
            | Template::CommandDone
    );
    let closed = matches!(
        template,
        Template::ValidationConfirmation
            | Template::ValidatedNotice
            | Template::AutoClosure
            | Template::AgentClosure
    );
    Ticket {
        number: TicketRef(123),
        subject: "Imprimante de l'état civil hors ligne".into(),
        status: if solved {
            Status::Solved
        } else if closed {
            Status::Closed
        } else {
            Status::InProgress
        },
        close_reason: None,
        ticket_type: TicketType::Incident,
        impact: None,
        category: Some("Impression".into()),
        organisation: Some("mairie-exemple.fr".into()),
        requester: Person {
            email: "jeanne.martin@mairie-exemple.fr".into(),
            name: Some("Jeanne Martin".into()),
        },
        language,
        watchers: vec!["chef.service@mairie-exemple.fr".into()],
        created_at: at("2026-11-23 12:00"),
        updated_at: at("2026-11-23 12:00"),
        // Noon UTC: the same calendar day in every time zone from -11 to +11.
        solved_at: (solved || closed).then(|| at("2026-11-23 12:00")),
        closed_at: closed.then(|| at("2026-11-24 12:00")),
        reminded_at: None,
        sla: if template == Template::SlaAlert {
            guichet::ticket::sla::Deadlines {
                first_answer_due: Some(at("2026-11-23 13:00")),
                resolution_due: Some(at("2026-11-24 12:00")),
                ..Default::default()
            }
        } else {
            Default::default()
        },
        queue: None,
        assignee: None,
        requester_phone: Some("01 23 45 67 89".into()),
        channel: guichet::ticket::Channel::Mail,
        opened_by: None,
        reopened: 0,
    }
}

/// The agents' words the other agents get a copy of.
const AGENTS_COPY: [Template; 3] = [
    Template::AgentReply,
    Template::Solution,
    Template::AgentClosure,
];

/// The templates whose readers are the agents (rendered as an agent reads
/// them: their subjects say what happened, a requester's say only the
/// ticket).
const AGENTS_READ: [Template; 10] = [
    Template::AgentNewTicket,
    Template::AgentFollowUp,
    Template::AgentNote,
    Template::ValidatedNotice,
    Template::AgentRefusal,
    Template::AgentBounce,
    Template::CommandError,
    Template::CommandDone,
    Template::ReplyWithheld,
    Template::SlaAlert,
];

/// The templates watchers receive too.
const WATCHERS_READ: [Template; 5] = [
    Template::AgentReply,
    Template::Solution,
    Template::AgentClosure,
    Template::AutoClosure,
    Template::ValidatedNotice,
];

fn person(email: &str, name: Option<&str>) -> Person {
    Person {
        email: email.into(),
        name: name.map(String::from),
    }
}

fn said(template: Template) -> Said {
    let jeanne = || person("jeanne.martin@mairie-exemple.fr", Some("Jeanne Martin"));
    let (from, body) = match template {
        Template::Acknowledgement | Template::AgentNewTicket => (
            jeanne(),
            "Bonjour,\nl'imprimante apparaît hors ligne sur tous les postes.\nJeanne",
        ),
        Template::AgentFollowUp => (jeanne(), "Merci, je regarde demain matin."),
        Template::AgentRefusal | Template::RefusalAcknowledged => {
            (jeanne(), "il est toujours hors ligne après redémarrage.")
        }
        Template::ValidationConfirmation | Template::ValidatedNotice => {
            (jeanne(), "VALIDER\nMerci !")
        }
        Template::Reminder | Template::AutoClosure => (person("support@example.test", None), ""),
        Template::SecurityRefused | Template::AttachmentRefused => (jeanne(), "VALIDER"),
        Template::AgentBounce => (
            person("mailer-daemon@mx.mairie-exemple.fr", None),
            "mail to jeanne.martin@mairie-exemple.fr could not be delivered (5.1.1)",
        ),
        _ => (
            person("marc.agent@example.test", Some("Marc")),
            "Le pilote a été réinstallé sur le serveur d'impression.",
        ),
    };
    let screenshot = Attachment {
        filename: "écran.png".into(),
        content_type: "image/png".into(),
        size: 48213,
        sha256: String::new(),
    };
    let attachments = match template {
        Template::Acknowledgement => vec![screenshot],
        // The second one is over what travels with the notice.
        Template::AgentNewTicket => vec![
            screenshot,
            Attachment {
                filename: "video-ecran.mp4".into(),
                content_type: "video/mp4".into(),
                size: 31_457_280,
                sha256: String::new(),
            },
        ],
        Template::AgentReply => vec![Attachment {
            filename: "procedure-imprimante.pdf".into(),
            content_type: "application/pdf".into(),
            size: 182_044,
            sha256: String::new(),
        }],
        _ => Vec::new(),
    };
    let refused = if template == Template::AttachmentRefused {
        vec![Refused {
            filename: "scan-dossier.pdf".into(),
            size: 65_431_142,
            whole_mail: false,
            limit: 50 << 20,
        }]
    } else {
        Vec::new()
    };
    Said {
        from,
        body: body.into(),
        attachments,
        refused,
        withheld: false,
    }
}

/// What the trusted server's refusal says, as guichet writes it in
/// `language`.
fn auth_reason(language: Language) -> String {
    guichet::inbound::auth::Failure::Failed {
        trusted: "mx.example.test".into(),
        said: vec!["dmarc=fail".into()],
        domain: "mairie-exemple.fr".into(),
    }
    .text(language)
}

fn notice(template: Template, language: Language) -> Notice {
    let error = match template {
        Template::CommandError => Some(CommandError {
            command: "#resolve c'est fait".into(),
            reason: "unknown".into(),
        }),
        Template::AgentBounce => Some(CommandError {
            command: "jeanne.martin@mairie-exemple.fr".into(),
            reason: "5.1.1".into(),
        }),
        Template::SecurityRefused => Some(CommandError {
            command: "validation".into(),
            reason: auth_reason(language),
        }),
        Template::CommandDone => Some(CommandError {
            command: "#solution Le pilote a été réinstallé.".into(),
            reason: "solution".into(),
        }),
        Template::ReplyWithheld => Some(CommandError {
            command: "Le service juridique conteste la facture du prestataire, ne pas".into(),
            reason: "it repeats an internal note".into(),
        }),
        _ => None,
    };
    Notice {
        template,
        to: vec![Audience::Requester],
        situation: match template {
            Template::AgentFollowUp => Situation::Undecided,
            Template::SlaAlert => Situation::FirstAnswerSoon,
            _ => Situation::FollowUp,
        },
        error,
    }
}

/// Whether this run writes the golden files instead of comparing them
/// (`GUICHET_BLESS=1`, after a deliberate change). Never in CI, where a
/// blessing run would pass whatever the mail says.
fn blessing() -> bool {
    let bless = std::env::var_os("GUICHET_BLESS").is_some();
    assert!(
        !(bless && std::env::var_os("CI").is_some()),
        "GUICHET_BLESS is set in CI: the golden mails would be rewritten, not checked"
    );
    bless
}

/// What each template was told in these tests, per language: written to
/// `templates/samples/LANG.json`, which guichet renders an override of a
/// template with (`[templates] dir`) before it takes it, so that one that
/// would fail on a real mail is refused at start or reload.
type Samples = BTreeMap<String, BTreeMap<String, Vec<serde_json::Value>>>;
static SAMPLES: Mutex<Samples> = Mutex::new(BTreeMap::new());

/// Compares (or, blessing, writes) `templates/samples/LANG.json`.
fn check_samples(problems: &mut Vec<String>) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("templates/samples");
    let samples = SAMPLES.lock().unwrap();
    for (language, templates) in samples.iter() {
        let path = dir.join(format!("{language}.json"));
        let text = serde_json::to_string_pretty(templates).unwrap() + "\n";
        if blessing() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, text).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(kept) if kept == text => {}
            Ok(_) => problems.push(format!(
                "{} differs from what the templates are told",
                path.display()
            )),
            Err(e) => problems.push(format!("{}: {e}", path.display())),
        }
    }
}

/// Renders and composes one mail as guichet sends it, with the fixed clock
/// and Message-ID, then compares it with (or, blessing, writes) its golden
/// file `tests/golden/LANG/NAME.eml`.
fn check_golden(
    desk: &Desk,
    language: Language,
    template_name: &str,
    golden_name: &str,
    context: &serde_json::Value,
    auto_submitted: &str,
    problems: &mut Vec<String>,
) {
    let bless = blessing();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    {
        let mut samples = SAMPLES.lock().unwrap();
        let of_template = samples
            .entry(language.as_str().to_string())
            .or_default()
            .entry(template_name.to_string())
            .or_default();
        if !of_template.contains(context) {
            of_template.push(context.clone());
        }
    }
    let rendered = desk
        .renderer
        .render(language, template_name, context)
        .unwrap_or_else(|e| panic!("{}/{template_name}: {e}", language.as_str()));
    // No word of the other language in what the template writes.
    let text = format!(" {} {} ", rendered.subject, rendered.body)
        .to_lowercase()
        .replace(['\n', ',', '.', ':', '(', ')'], " ");
    let other: &[&str] = match language {
        Language::Fr => &[
            " the ",
            " your ",
            " you ",
            " please ",
            " reported ",
            " has been ",
            " request ",
        ],
        Language::En => &[
            " votre ",
            " vous ",
            " demande ",
            " nous ",
            " n'a ",
            " pour ",
        ],
    };
    for word in other {
        if text.contains(word) {
            problems.push(format!(
                "{}/{golden_name}: {word:?}, a word of the other language",
                language.as_str()
            ));
        }
    }
    let to = vec!["jeanne.martin@mairie-exemple.fr".to_string()];
    let composed = guichet::outbound::compose(&guichet::outbound::Draft {
        from: &desk.settings.smtp.from,
        to: &to,
        subject: &rendered.subject,
        body: &rendered.body,
        html: rendered.html.as_deref(),
        message_id: "00000000000000000000000000000001.guichet@example.test",
        in_reply_to: Some("req1@mairie-exemple.fr"),
        references: &["req1@mairie-exemple.fr".to_string()],
        auto_submitted,
        date: Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap(),
        files: &[],
    })
    .unwrap();
    let path = dir
        .join(language.as_str())
        .join(format!("{golden_name}.eml"));
    if bless {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &composed.raw).unwrap();
        return;
    }
    match std::fs::read(&path) {
        Ok(golden) if golden == composed.raw => {}
        Ok(_) => problems.push(format!("{} differs from the rendered mail", path.display())),
        Err(e) => problems.push(format!("{}: {e}", path.display())),
    }
}

/// Every template, in its usual situation, plus the situations that change
/// what a template says: the acknowledgement of a request merged into an
/// open ticket or following a closed one, and the agents' notice of a
/// follow-up, of a reopening, of an answer that could not be
/// authenticated and of a person in copy; and the administrators' alert.
#[test]
fn every_template_matches_its_golden_mail() {
    let desk = Desk::new(Settings::parse(CONFIG).unwrap()).unwrap();
    let mut problems = Vec::new();
    let mut ran = 0;
    let variants: &[(Template, Situation, Option<TicketRef>, &str)] = &[
        (
            Template::Acknowledgement,
            Situation::Merged,
            None,
            "acknowledgement-merged",
        ),
        (
            Template::Acknowledgement,
            Situation::FollowUp,
            Some(TicketRef(98)),
            "acknowledgement-follows",
        ),
        (
            Template::AgentFollowUp,
            Situation::FollowUp,
            None,
            "agent_followup-followup",
        ),
        (
            Template::AgentFollowUp,
            Situation::Reopened,
            None,
            "agent_followup-reopened",
        ),
        (
            Template::AgentFollowUp,
            Situation::Unauthenticated,
            None,
            "agent_followup-unauthenticated",
        ),
        (
            Template::AgentFollowUp,
            Situation::Participant,
            None,
            "agent_followup-participant",
        ),
        (
            Template::Acknowledgement,
            Situation::FollowUp,
            None,
            "acknowledgement-apart",
        ),
        (
            Template::AgentNewTicket,
            Situation::FollowUp,
            None,
            "agent_new_ticket-apart",
        ),
        (
            Template::CommandDone,
            Situation::FollowUp,
            None,
            "command_done-merge",
        ),
        (
            Template::ReplyWithheld,
            Situation::Closed,
            None,
            "reply_withheld-closed",
        ),
        (
            Template::SlaAlert,
            Situation::ResolutionMissed,
            None,
            "sla_alert-resolution_missed",
        ),
        (
            Template::SlaAlert,
            Situation::FirstAnswerMissed,
            None,
            "sla_alert-first_answer_missed",
        ),
        (
            Template::SlaAlert,
            Situation::ResolutionSoon,
            None,
            "sla_alert-resolution_soon",
        ),
        // A request an agent took by phone, acknowledged to the requester.
        (
            Template::Acknowledgement,
            Situation::OnBehalf,
            None,
            "acknowledgement-on_behalf",
        ),
        // A ticket moved to another queue, assigned by a colleague, and
        // what the agent who did it is told.
        (
            Template::AgentNewTicket,
            Situation::Moved,
            None,
            "agent_new_ticket-moved",
        ),
        (
            Template::AgentNewTicket,
            Situation::Assigned,
            None,
            "agent_new_ticket-assigned",
        ),
        (
            Template::CommandDone,
            Situation::FollowUp,
            None,
            "command_done-assign",
        ),
        (
            Template::CommandDone,
            Situation::FollowUp,
            None,
            "command_done-queue",
        ),
        (
            Template::CommandError,
            Situation::FollowUp,
            None,
            "command_error-assign_not_agent",
        ),
        // Opened on Saturday evening (Paris): the desk opens on Monday;
        // on Tuesday morning: open now.
        (
            Template::Acknowledgement,
            Situation::FollowUp,
            None,
            "acknowledgement-closed",
        ),
        (
            Template::Acknowledgement,
            Situation::FollowUp,
            None,
            "acknowledgement-open",
        ),
        // Knowledge-base articles suggested: one with a link, one given
        // in full; the agents told which; #kb done and refused.
        (
            Template::Acknowledgement,
            Situation::FollowUp,
            None,
            "acknowledgement-kb",
        ),
        (
            Template::AgentNewTicket,
            Situation::FollowUp,
            None,
            "agent_new_ticket-kb",
        ),
        (
            Template::CommandDone,
            Situation::FollowUp,
            None,
            "command_done-kb",
        ),
        (
            Template::CommandError,
            Situation::FollowUp,
            None,
            "command_error-kb_unknown",
        ),
    ];
    let hours_desk = Desk::new(Settings::parse(&format!("{CONFIG}{HOURS}")).unwrap()).unwrap();
    for language in [Language::Fr, Language::En] {
        let usual = Template::ALL
            .iter()
            .map(|&t| (t, notice(t, language).situation, None, t.as_str()));
        for (template, situation, follows, name) in usual.chain(variants.iter().copied()) {
            let mut t = ticket(language, template);
            if situation == Situation::Reopened {
                t.status = Status::InProgress;
            }
            let mut n = notice(template, language);
            n.situation = situation;
            if situation == Situation::Unauthenticated {
                n.error = Some(CommandError {
                    command: "validation".into(),
                    reason: auth_reason(language),
                });
            }
            let marc = || Person {
                email: "marc.agent@example.test".into(),
                name: Some("Marc Lefèvre".into()),
            };
            match name {
                "agent_new_ticket-moved" | "command_done-queue" => {
                    t.queue = Some("grh".into());
                    t.impact = Some(guichet::ticket::Impact::Blocking);
                }
                "agent_new_ticket-assigned" => t.assignee = Some(marc()),
                "acknowledgement-on_behalf" => {
                    t.channel = guichet::ticket::Channel::Phone;
                    t.opened_by = Some("marc.agent@example.test".into());
                }
                _ => {}
            }
            if name == "command_done-assign" {
                t.assignee = Some(marc());
                n.error = Some(CommandError {
                    command: "#assign marc.agent@example.test".into(),
                    reason: "assign".into(),
                });
            }
            if name == "command_done-kb" || name == "command_error-kb_unknown" {
                n.error = Some(CommandError {
                    command: "#kb imprimante-hors-ligne".into(),
                    reason: name.split('-').nth(1).unwrap_or_default().into(),
                });
                if name == "command_done-kb" {
                    t.status = Status::Solved;
                }
            }
            if name == "command_done-queue" {
                n.error = Some(CommandError {
                    command: "#queue grh bulletins de paie".into(),
                    reason: "queue".into(),
                });
            }
            if name == "command_error-assign_not_agent" {
                n.error = Some(CommandError {
                    command: "#assign stagiaire@mairie-exemple.fr".into(),
                    reason: "assign_not_agent".into(),
                });
            }
            if name == "command_done-merge" {
                n.error = Some(CommandError {
                    command: "#merge 98".into(),
                    reason: "merge".into(),
                });
                t.status = Status::Closed;
            }
            // A mail that opened its ticket apart from the one whose
            // reference it carried; the ticket a merge joined.
            let related = (name.ends_with("-apart") || name.ends_with("-merge")).then(|| Related {
                number: TicketRef(98),
                subject: "Accès au logiciel de paie".into(),
            });
            let solution = Some(match language {
                Language::Fr => "Le pilote a été réinstallé sur le serveur d'impression.",
                Language::En => "The driver was reinstalled on the print server.",
            });
            // Mail written by an agent is signed with a name when configured.
            let agent = matches!(template, Template::AgentReply | Template::Solution)
                .then_some("Marc")
                .filter(|_| language == Language::En);
            let letter = Letter {
                template,
                situation: n.situation,
                error: n.error.clone(),
                said: Arc::new(said(template)),
                solution: solution.map(String::from),
                follows,
                related,
                signature: agent.map(String::from),
                articles: if name.ends_with("-kb") && template != Template::CommandDone {
                    articles(language)
                } else {
                    Vec::new()
                },
                // What travels with it: the first file (the notice's
                // second one is over the desk's size for them).
                attached: if template.carries_files() {
                    vec![0]
                } else {
                    Vec::new()
                },
                to: Vec::new(),
            };
            let role = if AGENTS_READ.contains(&template) {
                "agent"
            } else {
                "requester"
            };
            let with_hours = matches!(name, "acknowledgement-closed" | "acknowledgement-open")
                || template == Template::SlaAlert;
            if name == "acknowledgement-closed" {
                t.created_at = at("2026-12-05 21:40");
            } else if name == "acknowledgement-open" {
                t.created_at = at("2026-12-08 09:15");
            }
            let desk = if with_hours { &hours_desk } else { &desk };
            let context = desk
                .presentation
                .letter_context(&t, &letter, &desk.policy, role);
            check_golden(
                desk,
                language,
                template.as_str(),
                name,
                &context,
                template.auto_submitted(),
                &mut problems,
            );
            ran += 1;
            // What a watcher receives of the same: greeted as a watcher,
            // never asked to decide.
            if WATCHERS_READ.contains(&template) && name == template.as_str() {
                let context =
                    desk.presentation
                        .letter_context(&t, &letter, &desk.policy, "watcher");
                check_golden(
                    desk,
                    language,
                    template.as_str(),
                    &format!("{name}-watcher"),
                    &context,
                    template.auto_submitted(),
                    &mut problems,
                );
                ran += 1;
            }
            // And the copy a colleague's words make for the other agents.
            if AGENTS_COPY.contains(&template) && name == template.as_str() {
                let context = desk
                    .presentation
                    .letter_context(&t, &letter, &desk.policy, "agent");
                check_golden(
                    desk,
                    language,
                    template.as_str(),
                    &format!("{name}-agent"),
                    &context,
                    template.auto_submitted(),
                    &mut problems,
                );
                ran += 1;
            }
        }
        let alerts = [
            (
                "mailbox_down",
                "imap://support@example.org@imap.example.org:993/INBOX: IMAP login refused: [AUTHENTICATIONFAILED] Authentication failed.",
                "alert",
            ),
            (
                "mailbox_recovered",
                "imap://support@example.org@imap.example.org:993/INBOX",
                "alert-mailbox_recovered",
            ),
            (
                "relay_down",
                "smtp.example.org:587: connection refused",
                "alert-relay_down",
            ),
            (
                "relay_recovered",
                "smtp.example.org:587",
                "alert-relay_recovered",
            ),
            (
                "oauth_failed",
                "imap (support@example.org): invalid_grant",
                "alert-oauth_failed",
            ),
            (
                "oauth_recovered",
                "imap (support@example.org)",
                "alert-oauth_recovered",
            ),
            (
                "oauth_expiring",
                "imap (support@example.org): 2026-11-30T12:00:00Z",
                "alert-oauth_expiring",
            ),
            (
                "oauth_renewed",
                "imap (support@example.org)",
                "alert-oauth_renewed",
            ),
        ];
        for (what, detail, name) in alerts {
            let alert = desk.presentation.alert_context(what, detail, 10);
            check_golden(
                &desk,
                language,
                "alert",
                name,
                &alert,
                "auto-generated",
                &mut problems,
            );
            ran += 1;
        }
        // The agents' digest: Marc's, the desk's list, and an empty one.
        let now = at("2026-12-07 07:20");
        let mut late = ticket(language, Template::AgentNewTicket);
        late.sla.first_answer_due = Some(at("2026-12-04 14:30"));
        let mut mine = ticket(language, Template::AgentReply);
        mine.number = TicketRef(124);
        mine.subject = match language {
            Language::Fr => "Accès au logiciel de paie".into(),
            Language::En => "Payroll software access".into(),
        };
        mine.status = Status::InProgress;
        mine.assignee = Some(Person {
            email: "marc.agent@example.test".into(),
            name: Some("Marc Lefèvre".into()),
        });
        mine.queue = None;
        let mut waiting = mine.clone();
        waiting.number = TicketRef(125);
        waiting.status = Status::Waiting;
        let mut closing = mine.clone();
        closing.number = TicketRef(126);
        closing.status = Status::Solved;
        closing.solved_at = Some(at("2026-12-01 09:00"));
        let open = [late, mine, waiting, closing];
        let marc = Reader::Agent("marc.agent@example.test".into());
        for (reader, name, tickets) in [
            (&marc, "digest", &open[..]),
            (&Reader::Desk, "digest-desk", &open[..]),
            (&marc, "digest-empty", &[][..]),
        ] {
            let d = digest(tickets, reader, &desk.policy, now);
            let agent = matches!(reader, Reader::Agent(_)).then_some("Marc");
            let context =
                desk.presentation
                    .digest_context(&d, reader, agent, &desk.policy, now, language);
            check_golden(
                &desk,
                language,
                "digest",
                name,
                &context,
                "auto-generated",
                &mut problems,
            );
            ran += 1;
        }
    }
    assert_eq!(
        ran,
        2 * (Template::ALL.len()
            + variants.len()
            + WATCHERS_READ.len()
            + AGENTS_COPY.len()
            + 8
            + 3)
    );
    check_samples(&mut problems);
    assert!(
        problems.is_empty(),
        "{}\n(after a deliberate change: GUICHET_BLESS=1 cargo test --test templates, then review git diff)",
        problems.join("\n")
    );
}

/// Two articles as a desk writes them: one on the intranet (a link), one
/// given in full.
fn articles(language: Language) -> Vec<Arc<Article>> {
    let (first, second) = match language {
        Language::Fr => (
            "---\ntitle: L'imprimante est hors ligne\nkeywords: imprimante\nlink: https://intranet.mairie-exemple.fr/kb/imprimante-hors-ligne\n---\nVérifiez le câble réseau.\n",
            "---\ntitle: Scanner vers sa messagerie\nkeywords: scanner\n---\n1. Posez le document sur la vitre.\n2. Choisissez « Numériser vers courriel ».\n3. Tapez votre adresse et validez.\n",
        ),
        Language::En => (
            "---\ntitle: The printer is offline\nkeywords: printer\nlink: https://intranet.univ-example.edu/kb/printer-offline\n---\nCheck the network cable.\n",
            "---\ntitle: Scan to your mailbox\nkeywords: scanner\n---\n1. Put the page on the glass.\n2. Choose \"Scan to email\".\n3. Type your address and confirm.\n",
        ),
    };
    vec![
        Arc::new(Article::parse("imprimante-hors-ligne", first).unwrap()),
        Arc::new(Article::parse("scanner-vers-messagerie", second).unwrap()),
    ]
}
