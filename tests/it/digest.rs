//! The agents' digest on the real servers: sent by the scheduler at
//! `[digest] at` on business days, once a day, each agent their own;
//! asked at once by an agent's `#digest`; printed by `digest --dry-run`.

use crate::app::{mail, Db, TestApp};
use crate::on_both_databases;

on_both_databases!(each_agent_gets_their_digest_on_business_mornings_and_on_demand);

const DESK: &str = r#"timezone = "Europe/Paris"

[hours]
monday = ["08:30-12:00", "13:30-17:00"]
tuesday = ["08:30-12:00", "13:30-17:00"]
wednesday = ["08:30-12:00", "13:30-17:00"]
thursday = ["08:30-12:00", "13:30-17:00"]
friday = ["08:30-12:00", "13:30-17:00"]
holidays = "fr"

[sla]
first_answer = { normal = "4h" }
resolution = { normal = "2d" }

[digest]
at = "08:15"
"#;

const MARC: &str = "marc.agent@example.test";
const LEA: &str = "lea.agent@example.test";

fn flat(body: &str) -> String {
    body.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn each_agent_gets_their_digest_on_business_mornings_and_on_demand(db: Db) {
    let app = TestApp::start_with(db, DESK);
    app.ok(&["agents", "add", MARC, "--name", "Marc"]);
    app.ok(&["agents", "add", LEA, "--name", "Léa"]);
    // Friday 4 December: two requests; Marc answers the second (his now).
    app.append(&mail(
        "Jeanne Martin <jeanne.martin@ville-bobigny.fr>",
        "Imprimante bloquée",
        "d1@ville-bobigny.fr",
        "",
        "L'imprimante de l'accueil est bloquée.",
    ));
    app.append(&mail(
        "Paul <paul@eaux-idf.example>",
        "Compteur illisible",
        "d2@eaux-idf.example",
        "",
        "Le logiciel des compteurs ne s'ouvre plus.",
    ));
    app.run_at("2026-12-04T10:00:00+01:00");
    let notice = app
        .sent_to("sau@example.test")
        .into_iter()
        .find(|m| m.subject.contains("#000002"))
        .unwrap();
    app.reply(&notice, "Marc <marc.agent@example.test>", "Je regarde.", "");
    app.run_at("2026-12-04T10:30:00+01:00");
    let digests_to = |to: &str| {
        app.sent_to(to)
            .into_iter()
            .filter(|m| m.subject.starts_with("[SUPPORT] Vos tickets"))
            .collect::<Vec<_>>()
    };
    // Friday's first cycle after 8:15 sent Friday's digests.
    assert_eq!(digests_to(MARC).len(), 1);
    // Saturday morning: not a business day.
    app.run_at("2026-12-05T09:00:00+01:00");
    // Monday 7 at 8:00: too early; at 8:20 each agent gets theirs.
    app.run_at("2026-12-07T08:00:00+01:00");
    assert_eq!(
        digests_to(MARC).len(),
        1,
        "none before 8:15 nor on Saturday"
    );
    app.run_at("2026-12-07T08:20:00+01:00");
    let marc = digests_to(MARC);
    assert_eq!(marc.len(), 2, "{marc:?}");
    let marc = &marc[1..];
    assert_eq!(
        marc[0].subject,
        "[SUPPORT] Vos tickets du lundi 7 décembre 2026 : 1 en retard ou à échéance"
    );
    let text = flat(&marc[0].body);
    // Ticket 1 is nobody's, its first answer (4 h from Friday 10:00) was
    // due Friday 15:30; ticket 2 is Marc's.
    assert!(
        text.contains("== Délais en retard ou à échéance (1) [SUPPORT #000001] Imprimante bloquée")
            && text.contains("Première réponse attendue depuis le vendredi 4 décembre 2026 à 15h30")
            && text.contains("== Tickets attribués à personne (1) [SUPPORT #000001]")
            && text.contains("== Vos tickets en cours (1) [SUPPORT #000002] Compteur illisible")
            && text.contains("répondre : mailto:support@example.test?subject=RE%3A%20%5BSUPPORT%20%23000002%5D%20Compteur%20illisible"),
        "{text}"
    );
    // Léa has no ticket of her own: the unassigned one only.
    let lea = flat(&digests_to(LEA).last().unwrap().body);
    assert!(
        lea.contains("Bonjour Léa")
            && lea.contains("[SUPPORT #000001]")
            && !lea.contains("#000002"),
        "{lea}"
    );
    // Once a day, whatever the cycles.
    app.run_at("2026-12-07T09:00:00+01:00");
    assert_eq!(digests_to(MARC).len(), 2);

    // Léa asks for hers by mail: it comes at once, nothing is opened.
    app.append(&mail(
        "Léa <lea.agent@example.test>",
        "digest",
        "d3@example.test",
        "",
        "#digest",
    ));
    app.run_at("2026-12-07T11:00:00+01:00");
    assert_eq!(digests_to(LEA).len(), 3);
    assert_eq!(app.tickets().len(), 2, "no ticket for a #digest");

    // The dry run prints them, and sends nothing.
    let before = app.sent().len();
    let dry = app.ok(&["digest", "--dry-run"]);
    assert!(
        dry.contains(&format!("To: {MARC}")) && dry.contains("Subject: [SUPPORT] Vos tickets"),
        "{dry}"
    );
    assert_eq!(app.sent().len(), before);
}
