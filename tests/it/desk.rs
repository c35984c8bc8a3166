//! How the desk is organised: its opening hours and holidays (what the
//! acknowledgement says), its member organisations, its service levels
//! (due times, the agents' alerts, `status`).

use crate::app::{base64, mail, Db, TestApp};
use crate::on_both_databases;

/// The seed desk: a shared IT service for towns, its user support open
/// on weekdays 8:30-12:00 and 13:30-17:00 in Paris, French holidays.
const SEED_DESK: &str = r#"timezone = "Europe/Paris"

[hours]
monday = ["08:30-12:00", "13:30-17:00"]
tuesday = ["08:30-12:00", "13:30-17:00"]
wednesday = ["08:30-12:00", "13:30-17:00"]
thursday = ["08:30-12:00", "13:30-17:00"]
friday = ["08:30-12:00", "13:30-17:00"]
holidays = "fr"
closed = ["2026-12-24"]
urgent = "Pour une panne bloquant l'accueil du public, appelez l'astreinte au 01 23 45 67 89."

[[organisation]]
name = "Ville de Bobigny"
domains = ["ville-bobigny.fr"]

[[organisation]]
name = "Syndicat des eaux"
domains = ["eaux-idf.example"]

[sla]
first_answer = { blocking = "1h", normal = "4h" }
resolution = { blocking = "1d", normal = "2d" }
warn_before = "30m"
"#;

const JEANNE: &str = "Jeanne Martin <jeanne.martin@ville-bobigny.fr>";
const JEANNE_ADDR: &str = "jeanne.martin@ville-bobigny.fr";
const MARC_ADDR: &str = "marc.agent@example.test";
const DESK: &str = "sau@example.test";

on_both_databases!(
    several_mailboxes_each_feed_their_queue_and_one_failing_stops_none,
    requests_by_phone_or_forwarded_open_for_the_requester,
    queues_rules_and_assignment_by_mail,
    the_acknowledgement_says_when_the_desk_looks_at_the_request,
    requesters_belong_to_member_organisations,
    service_levels_alert_the_agents_once_and_status_counts_breaches,
);

/// The text of a mail with its lines joined: templates wrap their lines.
fn flat(body: &str) -> String {
    body.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A request sent on Saturday night is told the desk opens on Monday at
/// 8:30, with the on-call number; one sent on Tuesday morning that the
/// desk is open; one on Christmas Eve (closed) that it opens on Monday
/// 28th (Christmas, then the weekend).
fn the_acknowledgement_says_when_the_desk_looks_at_the_request(db: Db) {
    let app = TestApp::start_with(db, SEED_DESK);
    app.append(&mail(
        JEANNE,
        "Imprimante de l'accueil bloquée",
        "sat@ville-bobigny.fr",
        "",
        "Bonjour,\nl'imprimante de l'accueil affiche une erreur.\nJeanne",
    ));
    app.run_at("2026-12-05T22:40:00+01:00");
    let ack = flat(
        &app.sent_to(JEANNE_ADDR)
            .pop()
            .expect("an acknowledgement")
            .body,
    );
    assert!(
        ack.contains(
            "Le service est fermé ; votre demande sera prise en charge lundi 7 décembre à partir de 8h30."
        ),
        "{ack}"
    );
    assert!(
        ack.contains("appelez l'astreinte au 01 23 45 67 89"),
        "{ack}"
    );

    app.append(&mail(
        "Paul Durand <paul.durand@eaux-idf.example>",
        "Compte bloqué",
        "tue@eaux-idf.example",
        "",
        "Bonjour, mon compte est bloqué depuis ce matin.",
    ));
    app.run_at("2026-12-08T10:15:00+01:00");
    let ack = flat(&app.sent_to("paul.durand@eaux-idf.example")[0].body);
    assert!(
        ack.contains("Le service est ouvert : votre demande sera prise en charge pendant nos horaires d'ouverture."),
        "{ack}"
    );
    assert!(!ack.contains("astreinte"), "{ack}");

    app.append(&mail(
        "Paul Durand <paul.durand@eaux-idf.example>",
        "Messagerie en panne",
        "eve@eaux-idf.example",
        "",
        "Bonjour, plus de messagerie.",
    ));
    app.run_at("2026-12-24T09:00:00+01:00");
    let ack = flat(&app.sent_to("paul.durand@eaux-idf.example")[1].body);
    assert!(
        ack.contains("sera prise en charge lundi 28 décembre à partir de 8h30."),
        "{ack}"
    );
}

/// Jeanne's town and the water board are members; a requester writing
/// from Gmail belongs to none, and not to "gmail.com"; a subdomain of a
/// member is the member. Shown in the agents' notice, the JSON and the
/// list, and `tickets list --organisation` filters on it.
fn requesters_belong_to_member_organisations(db: Db) {
    let app = TestApp::start_with(db, SEED_DESK);
    for (from, id) in [
        (JEANNE, "o1@ville-bobigny.fr"),
        ("Luc <luc.petit@gmail.com>", "o2@gmail.com"),
        (
            "DSI <dsi@services.ville-bobigny.fr>",
            "o3@services.ville-bobigny.fr",
        ),
    ] {
        app.append(&mail(
            from,
            "Accès au portail",
            id,
            "",
            "Bonjour, je n'ai plus accès.",
        ));
    }
    app.run_at("2026-12-08T10:15:00+01:00");
    let orgs: Vec<serde_json::Value> = app
        .tickets()
        .iter()
        .map(|t| t["organisation"].clone())
        .collect();
    assert_eq!(
        orgs,
        [
            serde_json::json!("Ville de Bobigny"),
            serde_json::Value::Null,
            serde_json::json!("Ville de Bobigny"),
        ]
    );
    let notice = app
        .sent_to(DESK)
        .into_iter()
        .find(|m| m.subject.contains("#000001"))
        .expect("the agents' notice");
    assert!(
        notice.body.contains("Organisation : Ville de Bobigny"),
        "{}",
        notice.body
    );
    let out = app.ok(&[
        "tickets",
        "list",
        "--organisation",
        "Ville de Bobigny",
        "--json",
    ]);
    let listed: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let numbers: Vec<i64> = listed
        .iter()
        .map(|t| t["number"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [3, 1]);
    let out = app.ok(&["tickets", "list", "--open", "--limit", "1"]);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.contains("#000003") && out.contains("Ville de Bobigny"),
        "{out}"
    );
}

/// A request on Friday 20 November at 16:00 (Paris): its first answer is
/// due on Monday at 11:30 (four business hours: one on Friday, three on
/// Monday morning), its resolution on Tuesday at 16:00. The agents are
/// warned half an hour before, told when it is missed, each once; the
/// agent's reply stops the first-answer clock, `#impact blocking` moves
/// the resolution to Monday 16:00, a solution stops it; `status` counts
/// what is past its target.
fn service_levels_alert_the_agents_once_and_status_counts_breaches(db: Db) {
    let app = TestApp::start_with(db, SEED_DESK);
    app.ok(&["agents", "add", MARC_ADDR, "--name", "Marc"]);
    app.append(&mail(
        JEANNE,
        "Logiciel d'état civil inaccessible",
        "sla@ville-bobigny.fr",
        "",
        "Bonjour,\nle logiciel d'état civil ne s'ouvre plus.\nJeanne",
    ));
    app.run_at("2026-11-20T16:00:00+01:00");
    let t = app.ticket(1);
    assert_eq!(t["first_answer_due"], "2026-11-23T10:30:00Z", "{t}");
    assert_eq!(t["resolution_due"], "2026-11-24T15:00:00Z", "{t}");
    // To the desk's agents; once Marc has the ticket, to him.
    let alerts = || -> Vec<crate::app::Sent> {
        app.sent()
            .into_iter()
            .filter(|m| (m.to == DESK || m.to == MARC_ADDR) && m.subject.contains("Délai"))
            .collect()
    };

    // Friday 16:40: 3 h 50 of business time left; Monday 11:00: 30 min.
    app.run_at("2026-11-20T16:40:00+01:00");
    assert!(alerts().is_empty());
    app.run_at("2026-11-23T11:00:00+01:00");
    let sent = alerts();
    assert_eq!(
        sent.len(),
        1,
        "{:?}",
        sent.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
    assert!(
        sent[0].subject.contains("Délai bientôt dépassé"),
        "{}",
        sent[0].subject
    );
    assert!(
        flat(&sent[0].body).contains("arrive à échéance lundi 23 novembre 2026 à 11h30"),
        "{}",
        sent[0].body
    );
    app.run_at("2026-11-23T11:10:00+01:00");
    assert_eq!(alerts().len(), 1, "warned once");
    app.run_at("2026-11-23T11:31:00+01:00");
    let sent = alerts();
    assert_eq!(sent.len(), 2);
    assert!(
        sent[1].subject.contains("Délai dépassé"),
        "{}",
        sent[1].subject
    );
    app.run_at("2026-11-23T11:40:00+01:00");
    assert_eq!(alerts().len(), 2, "told once it is missed");
    assert!(app.kinds(1).iter().filter(|k| *k == "system").count() >= 2);

    // Past its targets, as the real clock (after November 2026) sees it.
    assert_eq!(
        sla_item(&app),
        (
            "WARNING".to_string(),
            "1 ticket(s) past the first-answer target without an answer, 1 past the resolution target (guichet tickets list --open)".to_string()
        )
    );

    // Marc answers, then makes it blocking: one day of resolution.
    let notice = app
        .sent_to(DESK)
        .into_iter()
        .find(|m| m.subject.contains("Nouveau ticket"))
        .expect("the agents' notice");
    app.reply(
        &notice,
        "Marc Agent <marc.agent@example.test>",
        "Bonjour, nous regardons cela.",
        "",
    );
    app.run_at("2026-11-23T11:45:00+01:00");
    let t = app.ticket(1);
    assert_eq!(t["first_answered_at"], "2026-11-23T10:45:00Z", "{t}");
    app.reply(
        &notice,
        "Marc Agent <marc.agent@example.test>",
        "#impact blocking",
        "",
    );
    app.run_at("2026-11-23T11:50:00+01:00");
    let t = app.ticket(1);
    assert_eq!(t["impact"], "blocking");
    // Seven business hours from Friday 16:00: one on Friday, six on
    // Monday (3 h 30 in the morning, 2 h 30 in the afternoon): 16:00.
    assert_eq!(t["resolution_due"], "2026-11-23T15:00:00Z", "{t}");
    let (_, text) = sla_item(&app);
    assert!(
        text.starts_with("0 ticket(s) past the first-answer target"),
        "{text}"
    );

    // Missed at 16:00: told; then solved: nothing more, and status is OK.
    app.run_at("2026-11-23T15:55:00+01:00");
    assert_eq!(alerts().len(), 3, "warned: 5 minutes left");
    app.run_at("2026-11-23T16:05:00+01:00");
    let sent = alerts();
    assert_eq!(sent.len(), 4);
    assert!(
        flat(&sent[2].body).contains("délai de résolution de ce ticket arrive à échéance"),
        "{}",
        sent[2].body
    );
    assert!(
        flat(&sent[3].body).contains("délai de résolution de ce ticket est dépassé"),
        "{}",
        sent[3].body
    );
    assert_eq!(sent[3].to, MARC_ADDR, "the assignee is told");
    app.reply(
        &notice,
        "Marc Agent <marc.agent@example.test>",
        "#solution Le poste a été reconnecté au serveur.",
        "",
    );
    app.run_at("2026-11-23T16:30:00+01:00");
    app.run_at("2026-11-25T15:30:00+01:00");
    assert_eq!(alerts().len(), 4);
    assert_eq!(sla_item(&app).0, "OK");
}

/// `status`'s sla item: its level and text.
fn sla_item(app: &TestApp) -> (String, String) {
    let out = app.guichet(&["status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let item = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["item"] == "sla")
        .unwrap_or_else(|| panic!("no sla item: {v}"))
        .clone();
    (
        item["status"].as_str().unwrap().to_string(),
        item["text"].as_str().unwrap().to_string(),
    )
}

/// A university's desk: one mailbox that receives the IT department's
/// and HR's aliases; rules for payroll and servers.
const UNIVERSITY: &str = r#"
[[queue]]
name = "dsin"
addresses = ["help@univ.example"]
agent_notify = ["dsin@univ.example"]
subject_tag = "HELP"

[[queue]]
name = "grh"
addresses = ["rh@univ.example"]
agent_notify = ["grh@univ.example"]

[[rule]]
if_subject = "paie|bulletin"
set_category = "Paie"
set_queue = "grh"

[[rule]]
if_body = "\\bserveur\\b"
set_type = "incident"
"#;

/// A mail sent to the IT department's alias goes to its queue, with the
/// type and impact its subject states; a payroll mail goes to HR by
/// rule. The first agent to answer takes the ticket: the requester's
/// follow-ups then go to them alone; `#queue` moves a ticket to HR's
/// agents, `#assign` takes only an agent's address; `tickets list`
/// filters by queue and assignee.
fn queues_rules_and_assignment_by_mail(db: Db) {
    let app = TestApp::start_with(db, UNIVERSITY);
    app.ok(&["agents", "add", MARC_ADDR, "--name", "Marc"]);
    app.append(&mail(
        JEANNE,
        "[Incident][Bloquant] Wifi de la bibliothèque coupé",
        "wifi@ville-bobigny.fr",
        "Cc: help@univ.example\n",
        "Bonjour,\nplus de wifi en salle de lecture.\nJeanne",
    ));
    app.append(&mail(
        "Paul <paul@univ.example>",
        "Bulletin de paie de novembre",
        "paie@univ.example",
        "",
        "Bonjour, mon bulletin n'est pas arrivé ; le serveur de paie répond-il ?",
    ));
    app.run_once();
    let t = app.ticket(1);
    assert_eq!(t["queue"], "dsin", "{t}");
    assert_eq!(t["subject"], "Wifi de la bibliothèque coupé");
    assert_eq!(
        (t["type"].as_str(), t["impact"].as_str()),
        (Some("incident"), Some("blocking"))
    );
    let t2 = app.ticket(2);
    assert_eq!(
        (t2["queue"].as_str(), t2["category"].as_str()),
        (Some("grh"), Some("Paie"))
    );
    assert_eq!(t2["type"], "incident", "rule 2 reads the body");
    let system: Vec<String> = t2["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "system")
        .map(|m| m["body"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        system,
        ["type: incident (set by rule 2)\ncategory: Paie (set by rule 1)\nqueue: grh (set by rule 1)"]
    );
    let notice = |to: &str, number: &str| {
        app.sent_to(to)
            .into_iter()
            .find(|m| m.subject.contains(number))
            .unwrap_or_else(|| panic!("nothing to {to} about {number}: {:?}", app.sent()))
    };
    let wifi = notice("dsin@univ.example", "#000001");
    assert!(wifi.subject.contains("Nouveau ticket"), "{}", wifi.subject);
    notice("grh@univ.example", "#000002");
    assert!(
        app.sent_to(DESK).is_empty(),
        "the desk's own list gets nothing"
    );

    // The IT queue's tickets carry its own tag; a mail naming it (and no
    // thread) is a follow-up on the ticket.
    let ack = app
        .acknowledgements()
        .into_iter()
        .find(|m| m.to == JEANNE_ADDR)
        .unwrap();
    assert!(ack.subject.starts_with("[HELP #000001]"), "{}", ack.subject);
    app.append(&mail(
        JEANNE,
        "RE: [HELP #000001] Wifi de la bibliothèque coupé",
        "help-tag@ville-bobigny.fr",
        "",
        "Le wifi est revenu puis reparti.",
    ));
    app.run_once();
    assert_eq!(app.kinds(1).last().unwrap(), "followup");
    // Marc answers: the ticket is his; Jeanne's follow-up goes to him.
    app.reply(
        &wifi,
        "Marc Agent <marc.agent@example.test>",
        "Bonjour, un technicien passe à 14h.",
        "",
    );
    app.run_once();
    assert_eq!(app.ticket(1)["assignee"]["email"], MARC_ADDR);
    let ack = app
        .acknowledgements()
        .into_iter()
        .find(|m| m.to == JEANNE_ADDR)
        .unwrap();
    app.reply(&ack, JEANNE, "Merci, la salle ferme à 18h.", "");
    app.run_once();
    let to_marc = app.sent_to(MARC_ADDR);
    assert!(
        to_marc.iter().any(|m| m.subject.contains("Relance")),
        "{to_marc:?}"
    );
    // The queue had the new ticket, Jeanne's follow-up while nobody had
    // it, and the copy of Marc's answer; not her follow-up after.
    let queue: Vec<String> = app
        .sent_to("dsin@univ.example")
        .into_iter()
        .map(|m| m.subject)
        .collect();
    assert_eq!(queue.len(), 3, "{queue:?}");
    assert_eq!(
        queue.iter().filter(|s| s.contains("Relance")).count(),
        1,
        "{queue:?}"
    );
    let listed = |args: &[&str]| -> Vec<i64> {
        let mut all = vec!["tickets", "list", "--json"];
        all.extend_from_slice(args);
        let v: Vec<serde_json::Value> = serde_json::from_str(&app.ok(&all)).unwrap();
        v.iter().map(|t| t["number"].as_i64().unwrap()).collect()
    };
    assert_eq!(listed(&["--assignee", MARC_ADDR]), [1]);
    assert_eq!(listed(&["--assignee", "-"]), [2]);
    assert_eq!(listed(&["--queue", "grh"]), [2]);
    assert_eq!(listed(&["--queue", "-"]), Vec::<i64>::new());

    // Marc moves it to HR, then tries to give it to a stranger.
    app.reply(
        &wifi,
        "Marc Agent <marc.agent@example.test>",
        "#queue grh c'est le wifi du bâtiment RH",
        "",
    );
    app.run_once();
    let t = app.ticket(1);
    assert_eq!(
        (t["queue"].as_str(), &t["assignee"]),
        (Some("grh"), &serde_json::Value::Null)
    );
    let moved = notice("grh@univ.example", "#000001");
    assert!(
        moved.subject.contains("Ticket transféré dans votre file"),
        "{}",
        moved.subject
    );
    app.reply(
        &wifi,
        "Marc Agent <marc.agent@example.test>",
        "#assign stagiaire@univ.example",
        "",
    );
    app.run_once();
    assert_eq!(app.ticket(1)["assignee"], serde_json::Value::Null);
    let refused = app.sent_to(MARC_ADDR).pop().unwrap();
    assert!(
        refused.subject.contains("Commande non comprise"),
        "{}",
        refused.subject
    );
    assert!(
        flat(&refused.body).contains("n'est pas celle d'un agent"),
        "{}",
        refused.body
    );
    // Marc takes it back in HR's queue, then lets it go.
    app.reply(&wifi, "Marc Agent <marc.agent@example.test>", "#take", "");
    app.run_once();
    assert_eq!(app.ticket(1)["assignee"]["name"], "Marc");
    assert_eq!(listed(&["--assignee", MARC_ADDR]), [1]);
    app.reply(
        &wifi,
        "Marc Agent <marc.agent@example.test>",
        "#unassign",
        "",
    );
    app.run_once();
    assert_eq!(app.ticket(1)["assignee"], serde_json::Value::Null);
    assert_eq!(listed(&["--assignee", MARC_ADDR]), Vec::<i64>::new());
}

/// Requests that do not come from the requester's own mail: Marc takes
/// one by phone (`#requester`), forwards one from his mailbox inline
/// (Outlook) and one attached whole (with its PDF). Each ticket is the
/// requester's, acknowledged to them, with Marc recorded as who opened
/// it; his words above a forward are an internal note. The requester's
/// phone comes from their signature, and the agents see it.
fn requests_by_phone_or_forwarded_open_for_the_requester(db: Db) {
    let app = TestApp::start(db);
    app.ok(&["agents", "add", MARC_ADDR, "--name", "Marc"]);
    app.append(&mail(
        "Marc Agent <marc.agent@example.test>",
        "Messagerie bloquée",
        "phone@example.test",
        "",
        "#requester paul.durand@eaux-idf.example Paul Durand\nAppel à 9h10 : sa messagerie refuse le mot de passe depuis ce matin.",
    ));
    app.append(&mail(
        "Marc Agent <marc.agent@example.test>",
        "TR: Imprimante de l'accueil bloquée",
        "inline-fwd@example.test",
        "",
        "Reçu sur ma boîte, pour le support.\nMarc\n\n________________________________\nDe : Jeanne Martin <jeanne.martin@ville-bobigny.fr>\nEnvoyé : lundi 23 novembre 2026 09:12\nÀ : Marc Agent <marc.agent@example.test>\nObjet : Imprimante de l'accueil bloquée\n\nBonjour Marc,\nl'imprimante de l'accueil affiche une erreur 41.\n\nCordialement,\nJeanne Martin\nAccueil – Mairie de Bobigny\nTél. : 01 48 95 20 00\n",
    ));
    let pdf = b"%PDF-1.4 the lease contract".to_vec();
    let inner = format!(
        "From: Luc Petit <luc.petit@univ.example>\nTo: marc.agent@example.test\nSubject: Contrat du copieur\nMessage-ID: <inner@univ.example>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"in\"\n\n--in\nContent-Type: text/plain; charset=utf-8\n\nLe contrat du copieur est joint.\n--\nLuc Petit\nMobile : 06 12 34 56 78\n--in\nContent-Type: application/pdf; name=\"contrat.pdf\"\nContent-Disposition: attachment; filename=\"contrat.pdf\"\nContent-Transfer-Encoding: base64\n\n{}\n--in--\n",
        base64(&pdf)
    );
    let outer = format!(
        "From: Marc Agent <marc.agent@example.test>\nTo: support@example.test\nSubject: Fwd: Contrat du copieur\nMessage-ID: <attached-fwd@example.test>\nDate: Mon, 23 Nov 2026 09:30:00 +0100\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"out\"\n\n--out\nContent-Type: text/plain; charset=utf-8\n\nÀ ranger avec la demande de Luc.\n--out\nContent-Type: message/rfc822\nContent-Disposition: attachment; filename=\"Contrat du copieur.eml\"\n\n{inner}\n--out--\n"
    );
    app.append(outer.as_bytes());
    app.run_once();

    let t = app.ticket(1);
    assert_eq!(
        t["requester"]["email"], "paul.durand@eaux-idf.example",
        "{t}"
    );
    assert_eq!(t["requester"]["name"], "Paul Durand");
    assert_eq!(
        (t["channel"].as_str(), t["opened_by"].as_str()),
        (Some("phone"), Some(MARC_ADDR))
    );
    assert_eq!(
        t["messages"][0]["from"]["email"],
        "paul.durand@eaux-idf.example"
    );
    let ack = app
        .sent_to("paul.durand@eaux-idf.example")
        .pop()
        .expect("Paul's acknowledgement");
    assert!(
        flat(&ack.body).contains("Votre demande, reçue par téléphone, a bien été enregistrée"),
        "{}",
        ack.body
    );

    let t = app.ticket(2);
    assert_eq!(t["requester"]["email"], JEANNE_ADDR, "{t}");
    assert_eq!(t["subject"], "Imprimante de l'accueil bloquée");
    assert_eq!(t["requester"]["phone"], "01 48 95 20 00");
    assert_eq!(t["channel"], "mail");
    let kinds = app.kinds(2);
    assert_eq!(kinds, ["initial", "system", "note"], "{t}");
    assert!(t["messages"][0]["body"]
        .as_str()
        .unwrap()
        .contains("erreur 41"));
    assert!(t["messages"][2]["body"]
        .as_str()
        .unwrap()
        .contains("Reçu sur ma boîte"));
    assert_eq!(app.sent_to(JEANNE_ADDR).len(), 1, "Jeanne is acknowledged");
    let notice = app
        .sent_to(DESK)
        .into_iter()
        .find(|m| m.subject.contains("#000002"))
        .expect("the agents' notice");
    assert!(
        flat(&notice.body).contains("Téléphone : 01 48 95 20 00"),
        "{}",
        notice.body
    );

    let t = app.ticket(3);
    assert_eq!(t["requester"]["email"], "luc.petit@univ.example", "{t}");
    assert_eq!(t["subject"], "Contrat du copieur");
    assert_eq!(t["requester"]["phone"], "06 12 34 56 78");
    let files: Vec<&str> = t["messages"][0]["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["filename"].as_str().unwrap())
        .collect();
    assert!(files.contains(&"contrat.pdf"), "{files:?}");
    let out = app.ok(&["tickets", "attachment", "3", "contrat.pdf"]);
    assert_eq!(out.as_bytes(), pdf.as_slice());
    assert!(t["messages"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["kind"] == "note" && m["body"].as_str().unwrap().contains("À ranger")));
}

/// Two mailboxes besides the main one: HR's (another folder of the
/// account, feeding the HR queue) and one whose password is wrong. The
/// daemon fetches the first two; the broken one has its own status line
/// and alert, and stops nothing.
fn several_mailboxes_each_feed_their_queue_and_one_failing_stops_none(db: Db) {
    let app = TestApp::start(db);
    let (port, user, password) = (
        app.env["IMAP_PORT"].clone(),
        app.env["IMAP_USER"].clone(),
        app.env["IMAP_PASSWORD"].clone(),
    );
    let mailbox = |name: &str, folder: &str, password: &str, queue: &str| {
        format!(
            "\n[[mailbox]]\nname = \"{name}\"\nqueue = \"{queue}\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nusername = \"{user}\"\npassword = \"{password}\"\nmailbox = \"{folder}\"\nprocessed_mailbox = \"{folder}-Processed\"\nfailed_mailbox = \"{folder}-Failed\"\npoll_interval = \"1s\"\n"
        )
    };
    let extra = format!(
        "[alerts]\nto = [\"admin@example.test\"]\nafter = \"2s\"\n\n[[queue]]\nname = \"grh\"\nagent_notify = [\"grh@univ.example\"]\n{}{}",
        mailbox("rh", "RH", &password, "grh"),
        mailbox("broken", "Broken", "not the password", "grh"),
    );
    app.write_config(&extra, "");

    app.append(&mail(
        JEANNE,
        "Imprimante bloquée",
        "main@ville-bobigny.fr",
        "",
        "Bonjour, l'imprimante est bloquée.",
    ));
    app.append_to(
        "RH",
        &mail(
            JEANNE,
            "Mon bulletin de novembre",
            "rh@ville-bobigny.fr",
            "",
            "Bonjour, mon bulletin est faux.",
        ),
    );
    let out = app.guichet(&["check"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("imap main: ok"), "{text}");
    assert!(text.contains("imap rh: ok"), "{text}");
    assert!(text.contains("imap broken: FAILED"), "{text}");
    // The daemon: both readable mailboxes are fetched, whatever the third.
    let log = app.path().join("daemon.log");
    let mut daemon = app.daemon_command(&log).spawn().unwrap();
    let fetched = app.wait_for(std::time::Duration::from_secs(30), || {
        app.tickets().len() == 2 && app.sent_to("admin@example.test").len() == 1
    });
    let _ = std::process::Command::new("kill")
        .arg(daemon.id().to_string())
        .status();
    let _ = daemon.wait();
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        fetched,
        "tickets {:?}, sent {:?}\n{logged}",
        app.tickets(),
        app.sent()
    );
    let tickets = app.tickets();
    let of = |subject: &str| {
        tickets
            .iter()
            .find(|t| t["subject"] == subject)
            .unwrap_or_else(|| panic!("no ticket {subject}: {tickets:?}"))
            .clone()
    };
    assert_eq!(of("Imprimante bloquée")["queue"], serde_json::Value::Null);
    assert_eq!(of("Mon bulletin de novembre")["queue"], "grh");
    assert_eq!(app.count("RH"), 0, "the HR folder was emptied");
    assert_eq!(app.count("RH-Processed"), 1);
    assert!(app
        .sent_to("grh@univ.example")
        .iter()
        .any(|m| m.subject.contains("Mon bulletin")));
    // The broken mailbox: one alert naming it, and its status line.
    let alert = &app.sent_to("admin@example.test")[0];
    assert!(alert.body.contains("/Broken"), "{}", alert.body);
    let out = app.guichet(&["status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mailboxes: Vec<(String, String)> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["item"] == "mailbox")
        .map(|i| {
            (
                i["status"].as_str().unwrap().to_string(),
                i["text"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(mailboxes.len(), 3, "{mailboxes:?}");
    // (The daemon is stopped and `after` is 2 s: the two that were read
    // say when they last were.)
    assert!(
        mailboxes[0].1.contains("/INBOX: ") && mailboxes[0].1.contains("last read at"),
        "{mailboxes:?}"
    );
    assert!(
        mailboxes[1].1.contains("/RH: ") && mailboxes[1].1.contains("last read at"),
        "{mailboxes:?}"
    );
    assert_eq!(mailboxes[2].0, "CRITICAL", "{mailboxes:?}");
    assert!(
        mailboxes[2].1.contains("/Broken: not read"),
        "{mailboxes:?}"
    );
}
