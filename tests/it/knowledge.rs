//! The knowledge base on the real servers: the acknowledgement received
//! by the SMTP sink suggests the articles that answer a request, `#kb`
//! answers a ticket with one, and the requester validates it.

use crate::app::{mail, Db, TestApp};
use crate::on_both_databases;

on_both_databases!(the_knowledge_base_answers_requests_by_mail);

const MARTINE: &str = "Martine Dupuis <martine.dupuis@ville-exemple.fr>";
const MARTINE_ADDR: &str = "martine.dupuis@ville-exemple.fr";
const MARC: &str = "Marc Agent <marc.agent@example.test>";

fn flat(body: &str) -> String {
    body.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn the_knowledge_base_answers_requests_by_mail(db: Db) {
    let articles = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/kb/articles");
    let app = TestApp::start_with(
        db,
        &format!(
            "[kb]\ndir = {articles:?}\nsuggest = 3\nlink = \"https://intranet.ville-exemple.fr/aide/{{id}}\"\n"
        ),
    );
    app.ok(&["agents", "add", "marc.agent@example.test", "--name", "Marc"]);
    // The CLI lists the articles and says what a request would get.
    let list = app.ok(&["kb", "list"]);
    assert!(
        list.contains("imprimante-hors-ligne")
            && list.contains("reinitialiser-mfa-console  ")
            && list.contains("(agents)"),
        "{list}"
    );
    let suggested = app.ok(&[
        "kb",
        "suggest",
        "--subject",
        "Imprimante",
        "L'imprimante du couloir est hors ligne, plus rien ne sort.",
    ]);
    assert!(
        suggested
            .lines()
            .next()
            .is_some_and(|l| l.contains("imprimante-hors-ligne")),
        "{suggested}"
    );
    let nothing = app.ok(&["kb", "suggest", "La réunion de jeudi est déplacée à 15h."]);
    assert_eq!(nothing, "");

    app.append(&mail(
        MARTINE,
        "Imprimante du 2e étage",
        "printer@ville-exemple.fr",
        "",
        "Bonjour,\n\nL'imprimante du couloir affiche \"hors ligne\" depuis ce matin, \
         plus rien ne sort et la file d'impression se remplit.\n\nCordialement,\n\
         Martine Dupuis\nService état civil\n",
    ));
    app.append(&mail(
        "Paul <paul.durand@ville-exemple.fr>",
        "Réunion de jeudi",
        "meeting@ville-exemple.fr",
        "",
        "Bonjour, la réunion de service est déplacée à jeudi 15h en salle 2.\nPaul",
    ));
    app.run_once();
    let ack = app
        .acknowledgements()
        .into_iter()
        .find(|m| m.to == MARTINE_ADDR)
        .expect("an acknowledgement");
    let text = flat(&ack.body);
    assert!(
        text.contains("ces articles de notre base de connaissances")
            && text.contains("* Imprimante hors ligne ou qui n'imprime plus")
            && text.contains("https://intranet.ville-exemple.fr/aide/imprimante-hors-ligne"),
        "{text}"
    );
    // Unrelated mail gets no suggestion.
    let other = app
        .acknowledgements()
        .into_iter()
        .find(|m| m.to == "paul.durand@ville-exemple.fr")
        .expect("Paul's acknowledgement");
    assert!(
        !other.body.contains("base de connaissances"),
        "{}",
        other.body
    );
    // The agents are told which articles she was given; the thread too.
    let notice = app
        .sent_to("sau@example.test")
        .into_iter()
        .find(|m| m.subject.contains("#000001"))
        .expect("the agents' notice");
    assert!(
        notice.body.contains("- imprimante-hors-ligne :"),
        "{}",
        notice.body
    );
    let t = app.ticket(1);
    assert!(
        t["messages"].as_array().unwrap().iter().any(|m| m["body"]
            .as_str()
            .unwrap()
            .starts_with("articles suggested: imprimante-hors-ligne")),
        "{t}"
    );

    // Marc answers with another article: it is the solution she gets.
    app.reply(
        &notice,
        MARC,
        "#kb scan-vers-messagerie\nMartine, pour numériser en attendant :",
        "",
    );
    // An unknown article changes nothing and Marc is told.
    app.reply(&notice, MARC, "#kb imprimante-qui-fume", "");
    app.run_once();
    let t = app.ticket(1);
    assert_eq!(t["status"], "solved", "{t}");
    let solution = app
        .sent_to(MARTINE_ADDR)
        .into_iter()
        .find(|m| m.subject.contains("#000001") && m.body.contains("Numériser un document"))
        .expect("the article as the solution");
    let text = flat(&solution.body);
    assert!(
        text.contains("Martine, pour numériser en attendant :")
            && text.contains("https://intranet.ville-exemple.fr/aide/scan-vers-messagerie"),
        "{text}"
    );
    let to_marc = app.sent_to("marc.agent@example.test");
    assert!(
        to_marc.iter().any(|m| flat(&m.body)
            .contains("il n'y a pas d'article de ce nom dans la base de connaissances")),
        "{to_marc:?}"
    );
    // She validates: closed as validated.
    app.reply(&solution, MARTINE, "VALIDER\n\nMerci !", "");
    app.run_once();
    let t = app.ticket(1);
    assert_eq!(
        (t["status"].as_str(), t["close_reason"].as_str()),
        (Some("closed"), Some("validated")),
        "{t}"
    );
}
