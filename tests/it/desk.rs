//! How the desk is organised: its opening hours and holidays (what the
//! acknowledgement says), its member organisations, its service levels
//! (due times, the agents' alerts, `status`).

use crate::app::{mail, Db, TestApp};
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
    let alerts = || -> Vec<crate::app::Sent> {
        app.sent_to(DESK)
            .into_iter()
            .filter(|m| m.subject.contains("Délai"))
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
