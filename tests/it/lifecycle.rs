//! Whole tickets run by mail: agents, watchers, solutions, validation or
//! refusal by one word, reminders and the 7-day automatic closure.

use crate::app::{mail, mail_with_files, Db, FileOf, TestApp};
use crate::on_both_databases;

const JEANNE: &str = "Jeanne Martin <jeanne.martin@mairie-exemple.fr>";
const JEANNE_ADDR: &str = "jeanne.martin@mairie-exemple.fr";
const MARC: &str = "Marc Agent <marc.agent@example.test>";
const MARC_ADDR: &str = "marc.agent@example.test";
const DESK: &str = "sau@example.test";

/// A desk with one agent and one new ticket, processed at `now`.
fn desk_with_ticket(db: Db, now: &str) -> TestApp {
    let app = TestApp::start(db);
    app.ok(&["agents", "add", MARC_ADDR, "--name", "Marc"]);
    app.append(&mail(
        JEANNE,
        "Imprimante de l'état civil hors ligne",
        "req1@mairie-exemple.fr",
        "",
        "Bonjour,\nl'imprimante apparaît hors ligne sur tous les postes.\nJeanne",
    ));
    app.run_at(now);
    app
}

/// The latest mail sent to `address`.
fn last_to(app: &TestApp, address: &str) -> crate::app::Sent {
    app.sent_to(address)
        .pop()
        .unwrap_or_else(|| panic!("nothing sent to {address}: {:?}", app.sent()))
}

on_both_databases!(
    question_answer_solution_validation,
    refusal_new_solution_reminder_and_auto_close,
    watcher_added_by_mail_receives_the_solution,
    strangers_validation_changes_nothing,
    out_of_office_on_a_solution_changes_nothing,
    notes_and_unknown_commands_stay_with_the_agents,
    reply_to_a_closed_ticket_opens_a_new_one,
    validation_requires_authentication_when_configured,
    the_desks_own_words_and_the_admin_commands,
    answers_as_people_write_them,
    dates_in_mail_are_the_desks_days,
    closed_tickets_take_courtesy_and_never_reopen_silently,
    no_internal_note_leaves_the_desk,
    people_in_copy_follow_up_on_the_ticket,
    people_in_copy_become_watchers_when_the_desk_says_so,
    an_agent_who_answered_directly_sends_no_second_copy,
    another_address_opens_apart_and_an_agent_merges,
    a_followup_and_a_merge_in_one_batch_move_together,
    files_travel_with_the_conversation,
);

/// Jeanne's screenshot, pasted inline, reaches the agents with the notice
/// (inline still); her log archive, over the desk's 100 KiB for files in
/// mail, is listed instead and stays in the desk, where `tickets
/// attachment` gets it. Marc's procedure in PDF reaches Jeanne and the
/// watcher; his note's file reaches the agents only.
fn files_travel_with_the_conversation(db: Db) {
    let app = TestApp::start_with(db, "forward_attachments_up_to = \"100KiB\"\n");
    app.ok(&["agents", "add", MARC_ADDR, "--name", "Marc"]);
    let png: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let zip: Vec<u8> = (0..150_000u32).map(|i| (i * 13 % 253) as u8).collect();
    app.append(&mail_with_files(
        JEANNE,
        "Erreur à l'ouverture du logiciel de paie",
        "req-files@mairie-exemple.fr",
        "",
        "Bonjour,\nvoici la capture de l'erreur et le journal.\nJeanne",
        &[
            FileOf {
                name: "capture.png",
                content_type: "image/png",
                content: &png,
                inline_id: Some("capture1@mairie-exemple.fr"),
            },
            FileOf {
                name: "journal.zip",
                content_type: "application/zip",
                content: &zip,
                inline_id: None,
            },
        ],
    ));
    app.run_at("2026-11-23T08:00:00Z");
    let notice = last_to(&app, DESK);
    assert_eq!(
        files_of(&notice),
        [("capture.png".to_string(), png.len(), true)],
        "{}",
        notice.body
    );
    assert_eq!(notice.files[0].1, png);
    assert!(
        notice.body.contains("journal.zip") && notice.body.contains("non joint, trop volumineux"),
        "{}",
        notice.body
    );
    // Her acknowledgement lists what was received, and sends nothing back.
    assert!(last_to(&app, JEANNE_ADDR).files.is_empty());
    // What did not travel is kept whole.
    let out = app.path().join("journal.zip");
    app.ok(&[
        "tickets",
        "attachment",
        "1",
        "journal.zip",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read(&out).unwrap(), zip);
    let missing = app.guichet(&["tickets", "attachment", "1", "facture.pdf"]);
    assert!(!missing.status.success());
    let why = String::from_utf8_lossy(&missing.stderr);
    assert!(why.contains("no file named \"facture.pdf\""), "{why}");

    app.ok(&["watchers", "add", "1", "chef.service@mairie-exemple.fr"]);
    let pdf = b"%PDF-1.4 procedure de reinstallation\n".repeat(200);
    let answer = |id: &str, body: &str, name: &str, content: &[u8]| {
        app.append(&mail_with_files(
            MARC,
            &format!("RE: {}", notice.subject),
            id,
            &format!(
                "In-Reply-To: <{}>\nReferences: <{}>\n",
                notice.message_id, notice.message_id
            ),
            body,
            &[FileOf {
                name,
                content_type: "application/pdf",
                content,
                inline_id: None,
            }],
        ));
    };
    answer(
        "marc-files1@example.test",
        "Bonjour Jeanne,\n\nVoici la procédure de réinstallation.\n\nMarc",
        "procedure.pdf",
        &pdf,
    );
    app.run_at("2026-11-23T09:00:00Z");
    for who in [JEANNE_ADDR, "chef.service@mairie-exemple.fr"] {
        let got = last_to(&app, who);
        assert_eq!(
            files_of(&got),
            [("procedure.pdf".to_string(), pdf.len(), false)],
            "{who}: {}",
            got.body
        );
        assert_eq!(got.files[0].1, pdf);
    }
    let to_jeanne = app.sent_to(JEANNE_ADDR).len();
    let devis = b"%PDF-1.4 devis".repeat(50);
    answer(
        "marc-files2@example.test",
        "#note devis du prestataire, en attente de validation",
        "devis.pdf",
        &devis,
    );
    app.run_at("2026-11-23T09:30:00Z");
    assert_eq!(app.sent_to(JEANNE_ADDR).len(), to_jeanne);
    let note = last_to(&app, DESK);
    assert!(note.body.contains("NOTE INTERNE"), "{}", note.body);
    assert_eq!(
        files_of(&note),
        [("devis.pdf".to_string(), devis.len(), false)]
    );
    assert_eq!(note.files[0].1, devis);
}

/// A sent mail's files: name, size, inline.
fn files_of(sent: &crate::app::Sent) -> Vec<(String, usize, bool)> {
    sent.files
        .iter()
        .map(|(name, content, inline)| (name.clone(), content.len(), *inline))
        .collect()
}

/// Jeanne refuses the solution from her other address: that mail opens a
/// ticket apart (strangers stay out), which names ticket 1 to the agents
/// and tells her why; Marc's `#merge 1` joins it to ticket 1, whose
/// thread then holds her refusal, and her later answers in that thread
/// are follow-ups on ticket 1.
/// The requester's follow-up on a ticket and an agent's `#merge` of it
/// arrive in one batch: the follow-up's mail goes with the thread to the
/// ticket it joins, so that purging the closed ticket later leaves it to
/// the open one. (A batch writes its mails' states at its end, and before
/// a thread moves.)
fn a_followup_and_a_merge_in_one_batch_move_together(db: Db) {
    const OTHER: &str = "J. Martin <j.martin@mairie-exemple.fr>";
    const OTHER_ADDR: &str = "j.martin@mairie-exemple.fr";
    let app = desk_with_ticket(db, "2026-11-23T08:00:00Z");
    app.append(&mail(
        OTHER,
        "Imprimante toujours hors ligne",
        "req2@mairie-exemple.fr",
        "",
        "Bonjour,\nj'écris de mon autre adresse : l'imprimante est toujours hors ligne.",
    ));
    app.run_at("2026-11-23T08:30:00Z");
    assert_eq!(app.tickets().len(), 2);
    let ack = last_to(&app, OTHER_ADDR);
    let notice = last_to(&app, DESK);
    assert!(notice.subject.contains("#000002"), "{}", notice.subject);

    app.reply(&ack, OTHER, "Précision : le voyant orange clignote.", "");
    app.reply(&notice, MARC, "#merge 1 même personne, autre adresse", "");
    app.run_at("2026-11-23T09:00:00Z");
    assert_eq!(app.ticket(2)["status"], "closed");
    let one = app.ticket(1);
    assert!(
        one["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["body"].as_str().unwrap().contains("voyant orange")),
        "{one}"
    );
    // Ticket 2 keeps only the agent's #merge mail; the requester's three
    // mails are ticket 1's.
    let dry = app.ok(&["purge", "--closed-before", "2026-12-01", "--dry-run"]);
    assert!(dry.starts_with("would delete: 1 ticket(s)"), "{dry}");
    assert!(dry.contains(", 1 received mail(s)"), "{dry}");
}

fn another_address_opens_apart_and_an_agent_merges(db: Db) {
    let app = desk_with_ticket(db, "2026-11-23T08:00:00Z");
    app.reply(
        &last_to(&app, DESK),
        MARC,
        "#solution Le pilote a été réinstallé.",
        "",
    );
    app.run_at("2026-11-23T09:00:00Z");
    let solution = last_to(&app, JEANNE_ADDR);
    const OTHER: &str = "J. Martin <j.martin@mairie-exemple.fr>";
    const OTHER_ADDR: &str = "j.martin@mairie-exemple.fr";
    app.reply(
        &solution,
        OTHER,
        "REFUSER : toujours hors ligne ce matin.",
        "",
    );
    app.run_at("2026-11-24T08:00:00Z");
    assert_eq!(app.tickets().len(), 2);
    assert_eq!(app.ticket(1)["status"], "solved");
    let ack = last_to(&app, OTHER_ADDR);
    assert!(
        ack.subject.starts_with("[SUPPORT #000002]"),
        "{}",
        ack.subject
    );
    assert!(
        ack.body
            .contains("porte la référence d'une autre demande, [SUPPORT #000001]")
            && ack.body.contains("enregistré à part"),
        "{}",
        ack.body
    );
    let notice = last_to(&app, DESK);
    assert!(
        notice.subject.contains("[SUPPORT #000002] Nouveau ticket"),
        "{}",
        notice.subject
    );
    assert!(
        notice.body.contains("Ouvert à part de [SUPPORT #000001]")
            && notice.body.contains("#merge 1"),
        "{}",
        notice.body
    );

    app.reply(&notice, MARC, "#merge 1 même personne, autre adresse", "");
    app.run_at("2026-11-24T08:30:00Z");
    let two = app.ticket(2);
    assert_eq!(two["status"], "closed");
    assert_eq!(app.kinds(2), ["system"]);
    assert_eq!(
        app.kinds(1),
        ["initial", "solution", "initial", "system", "system"]
    );
    let one = app.ticket(1);
    let bodies: Vec<&str> = one["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert!(
        bodies.iter().any(|b| b.contains("toujours hors ligne")),
        "{bodies:?}"
    );
    assert!(
        bodies
            .iter()
            .any(|b| b.contains("[SUPPORT #000002] joined this ticket")),
        "{bodies:?}"
    );
    let done = last_to(&app, MARC_ADDR);
    assert!(
        done.body.contains("a rejoint le ticket [SUPPORT #000001]"),
        "{}",
        done.body
    );
    // Nothing reached either address of Jeanne's.
    assert_eq!(app.sent_to(OTHER_ADDR).len(), 1);

    // Her answer to the acknowledgement she got from ticket 2 is now a
    // follow-up on ticket 1, from someone who may write there.
    app.reply(&ack, OTHER, "Je suis à mon bureau jusqu'à midi.", "");
    app.run_at("2026-11-24T09:00:00Z");
    assert_eq!(app.tickets().len(), 2);
    assert_eq!(app.kinds(1).last().map(String::as_str), Some("followup"));
    assert_eq!(app.ticket(1)["status"], "solved");
}

const PAUL: &str = "Paul Durand <paul.durand@mairie-exemple.fr>";
const PAUL_ADDR: &str = "paul.durand@mairie-exemple.fr";

/// A request from Jeanne with her head of service in copy; `headers`
/// added to it.
fn request_with_paul_in_copy(app: &TestApp, now: &str, headers: &str) {
    app.ok(&["agents", "add", MARC_ADDR, "--name", "Marc"]);
    app.append(&mail(
        JEANNE,
        "Paie de décembre : export bloqué",
        "req-paie@mairie-exemple.fr",
        &format!("Cc: {PAUL}, Support <support@example.test>\n{headers}"),
        "Bonjour,\nl'export de la paie vers la trésorerie échoue.\nJeanne",
    ));
    app.run_at(now);
}

/// What the desk's trusted receiving server says of Jeanne's and Marc's
/// mail.
const JEANNE_PASSES: &str =
    "Authentication-Results: mx.example.test; dmarc=pass header.from=mairie-exemple.fr\n";
const MARC_PASSES: &str =
    "Authentication-Results: mx.example.test; dmarc=pass header.from=example.test\n";

/// Paul, whom Jeanne put in copy, answers all on her request: a follow-up
/// on her ticket, never a second one; he cannot validate its solution and
/// receives nothing, and the agents are told who wrote. The same address
/// with only the reference in a subject, or a stranger in the thread,
/// opens a ticket of its own.
fn people_in_copy_follow_up_on_the_ticket(db: Db) {
    let app = TestApp::start(db);
    request_with_paul_in_copy(&app, "2026-11-23T08:00:00Z", "");
    let answer_all = |body: &str, id: &str| {
        app.append(&mail(
            PAUL,
            "RE: Paie de décembre : export bloqué",
            id,
            "In-Reply-To: <req-paie@mairie-exemple.fr>\nReferences: <req-paie@mairie-exemple.fr>\nCc: Jeanne Martin <jeanne.martin@mairie-exemple.fr>\n",
            body,
        ));
    };
    answer_all(
        "C'est urgent, la paie part jeudi.\n\nPaul Durand\nChef du service RH",
        "paul1@mairie-exemple.fr",
    );
    app.run_at("2026-11-23T08:30:00Z");
    assert_eq!(app.tickets().len(), 1, "{:?}", app.tickets());
    assert_eq!(app.kinds(1), ["initial", "followup"]);
    let notice = last_to(&app, DESK);
    assert!(
        notice.subject.contains("Message d'une personne en copie"),
        "{}",
        notice.subject
    );
    assert!(
        notice
            .body
            .contains("<paul.durand@mairie-exemple.fr> a écrit sur le ticket")
            && notice
                .body
                .contains("#watch add paul.durand@mairie-exemple.fr")
            && notice.body.contains("la paie part jeudi"),
        "{}",
        notice.body
    );
    assert!(
        app.sent_to(PAUL_ADDR).is_empty(),
        "{:?}",
        app.sent_to(PAUL_ADDR)
    );

    // His "OK" on the solution is not hers.
    app.reply(
        &last_to(&app, DESK),
        MARC,
        "#solution Le connecteur a été relancé.",
        "",
    );
    app.run_at("2026-11-23T09:00:00Z");
    assert_eq!(app.ticket(1)["status"], "solved");
    answer_all("OK", "paul2@mairie-exemple.fr");
    app.run_at("2026-11-23T09:30:00Z");
    assert_eq!(app.ticket(1)["status"], "solved");
    assert_eq!(
        app.kinds(1),
        ["initial", "followup", "solution", "followup"]
    );
    assert!(app.sent_to(PAUL_ADDR).is_empty());

    // The reference alone is no proof of having been there; nor is the
    // thread from someone Jeanne never wrote to.
    app.append(&mail(
        PAUL,
        "[SUPPORT #000001] Paie",
        "paul3@mairie-exemple.fr",
        "",
        "Autre chose : mon badge ne marche plus.",
    ));
    app.append(&mail(
        "Eve <eve@ailleurs.example>",
        "RE: Paie de décembre : export bloqué",
        "eve1@ailleurs.example",
        "In-Reply-To: <req-paie@mairie-exemple.fr>\n",
        "VALIDER",
    ));
    app.run_at("2026-11-23T10:00:00Z");
    assert_eq!(app.tickets().len(), 3);
    assert_eq!(app.ticket(1)["status"], "solved");
    assert_eq!(app.kinds(1).len(), 4);
}

/// With `cc_become_watchers = true`, the people Jeanne put in copy are the
/// ticket's watchers: they receive the solution, greeted as watchers.
fn people_in_copy_become_watchers_when_the_desk_says_so(db: Db) {
    let app = TestApp::start_with(
        db,
        "cc_become_watchers = true\n\n[security]\ntrusted_authserv_id = \"mx.example.test\"\n",
    );
    // A mail in her name that is not proven hers makes nobody a watcher
    // (they would receive the ticket's mail): Paul only may follow up.
    app.append(&mail(
        JEANNE,
        "Accès au parapheur",
        "req-parapheur@mairie-exemple.fr",
        &format!("Cc: {PAUL}\n"),
        "Bonjour,\nje n'ai plus accès au parapheur.\nJeanne",
    ));
    app.run_at("2026-11-23T07:00:00Z");
    assert_eq!(app.ticket(1)["watchers"], serde_json::json!([]));
    request_with_paul_in_copy(&app, "2026-11-23T08:00:00Z", JEANNE_PASSES);
    let two = app.ticket(2);
    assert_eq!(two["watchers"], serde_json::json!([PAUL_ADDR]));
    assert!(
        two["messages"].as_array().unwrap().iter().any(|m| m["body"]
            == "watchers added, in copy of the requester's mail: paul.durand@mairie-exemple.fr"),
        "{two}"
    );
    app.reply(
        &last_to(&app, DESK),
        MARC,
        "#solution Le connecteur a été relancé.",
        MARC_PASSES,
    );
    app.run_at("2026-11-23T09:00:00Z");
    let to_paul = app.sent_to(PAUL_ADDR);
    assert_eq!(to_paul.len(), 1, "{to_paul:?}");
    assert!(to_paul[0].body.contains("Le connecteur a été relancé"));
    assert!(
        to_paul[0].body.contains("vous suivez la demande"),
        "{}",
        to_paul[0].body
    );
    assert_eq!(
        to_paul[0].subject,
        "[SUPPORT #000002] Paie de décembre : export bloqué"
    );
}

/// Marc answers Jeanne himself, the desk in copy: she has his mail, the
/// desk does not send it again; the watcher, who did not get it, does.
fn an_agent_who_answered_directly_sends_no_second_copy(db: Db) {
    let app = desk_with_ticket(db, "2026-11-23T08:00:00Z");
    app.ok(&["watchers", "add", "1", "chef.service@mairie-exemple.fr"]);
    let before = app.sent_to(JEANNE_ADDR).len();
    app.reply(
        &last_to(&app, DESK),
        MARC,
        "Bonjour Jeanne,\n\nJe passe à 14 h changer le toner.\n\nMarc",
        &format!("Cc: {JEANNE}\n"),
    );
    app.run_at("2026-11-23T08:30:00Z");
    assert_eq!(app.kinds(1), ["initial", "agent_reply"]);
    assert_eq!(
        app.sent_to(JEANNE_ADDR).len(),
        before,
        "{:?}",
        app.sent_to(JEANNE_ADDR)
    );
    let to_chef = app.sent_to("chef.service@mairie-exemple.fr");
    assert_eq!(to_chef.len(), 1, "{to_chef:?}");
    assert!(to_chef[0].body.contains("changer le toner"));
}

/// After closure: a "merci" from the requester or an agent's "bonne
/// journée" within `closed_grace` is recorded on the closed ticket, and
/// nothing else happens; an agent's real reply is kept as a note and its
/// agent told (new_ticket), or reopens the ticket with the other agents
/// told (reopen); past the grace, a "merci" is a mail like any other.
fn closed_tickets_take_courtesy_and_never_reopen_silently(db: Db) {
    let app = desk_with_ticket(db, "2026-11-23T08:00:00Z");
    let notice = last_to(&app, DESK);
    app.reply(&notice, MARC, "#close C'est réparé.", "");
    app.run_at("2026-11-23T09:00:00Z");
    let closure = last_to(&app, JEANNE_ADDR);
    let sent = app.sent().len();

    app.reply(
        &closure,
        JEANNE,
        "Merci beaucoup, bonne journée !\n\nJeanne",
        "",
    );
    app.run_at("2026-11-24T09:00:00Z");
    app.reply(&notice, MARC, "Bonne journée à vous !", "");
    app.run_at("2026-11-24T09:10:00Z");
    assert_eq!(app.tickets().len(), 1, "a courtesy opened a ticket");
    assert_eq!(app.ticket(1)["status"], "closed");
    assert_eq!(
        app.kinds(1)[app.kinds(1).len() - 2..],
        ["followup", "agent_reply"]
    );
    assert_eq!(
        app.sent().len(),
        sent,
        "a courtesy was answered: {:?}",
        app.sent()
    );

    // An agent's real reply: kept, sent to nobody, the agent told.
    app.reply(&notice, MARC, "Je passerai lundi vérifier le toner.", "");
    app.run_at("2026-11-24T10:00:00Z");
    assert_eq!(app.ticket(1)["status"], "closed");
    assert_eq!(app.kinds(1).last().unwrap(), "agent_reply");
    let told = last_to(&app, MARC_ADDR);
    assert!(
        told.subject.contains("Réponse non envoyée"),
        "{}",
        told.subject
    );
    assert!(told.body.contains("#question"), "{}", told.body);
    assert!(app
        .sent_to(JEANNE_ADDR)
        .iter()
        .all(|m| !m.body.contains("toner")));

    // Past the grace, a "merci" is a new mail: a ticket that follows.
    app.reply(&closure, JEANNE, "Merci", "");
    app.run_at("2026-12-01T09:01:00Z");
    assert_eq!(app.tickets().len(), 2);

    // With reopen, the agent's reply reopens, is sent, and the other
    // agents are told.
    app.write_config("reply_to_closed = \"reopen\"\n", "");
    app.reply(&notice, MARC, "Je passerai lundi vérifier le toner.", "");
    app.run_at("2026-12-01T10:00:00Z");
    assert_eq!(app.ticket(1)["status"], "in_progress");
    assert!(last_to(&app, JEANNE_ADDR).body.contains("toner"));
    // Marc reopened it: the other agents are told.
    let reopened = last_to(&app, DESK);
    assert!(
        reopened.subject.contains("Ticket rouvert"),
        "{}",
        reopened.subject
    );
}

/// An internal note never reaches the requester: quoted under the header
/// block of an HTML-only Outlook reply, it goes with the quote; pasted
/// into a reply, the reply is not sent, is kept as a note, and its agent
/// is told why.
fn no_internal_note_leaves_the_desk(db: Db) {
    let app = desk_with_ticket(db, "2026-11-23T08:00:00Z");
    app.reply(
        &last_to(&app, DESK),
        MARC,
        "#note Le prestataire facture 400 euros la visite, ne pas le dire au demandeur.",
        "",
    );
    app.run_at("2026-11-23T08:30:00Z");
    let note = last_to(&app, DESK);
    let to_jeanne = app.sent_to(JEANNE_ADDR).len();

    // Outlook on the web, HTML only, above the quoted note.
    let html = format!(
        "<html><body><div style=\"font-family: Aptos\">Bonjour Jeanne,</div><div>Le technicien passe demain matin.</div><div id=\"appendonsend\"></div><hr style=\"display:inline-block;width:98%\"><div id=\"divRplyFwdMsg\" dir=\"ltr\"><font face=\"Calibri, sans-serif\"><b>De :</b> Support &lt;{DESK}&gt;<br><b>Envoyé :</b> lundi 23 novembre 2026 09:30<br><b>À :</b> Marc Agent &lt;{MARC_ADDR}&gt;<br><b>Objet :</b> {subject}</font></div><div>{body}</div></body></html>",
        subject = note.subject,
        body = note.body.replace('\n', "<br>")
    );
    let raw = format!(
        "From: {MARC}\nTo: {DESK}\nSubject: RE: {subject}\nMessage-ID: <html-note@example.test>\nIn-Reply-To: <{irt}>\nMIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n\n{html}\n",
        subject = note.subject,
        irt = note.message_id
    );
    app.append(raw.as_bytes());
    app.run_at("2026-11-23T09:00:00Z");
    let sent: Vec<_> = app
        .sent_to(JEANNE_ADDR)
        .into_iter()
        .skip(to_jeanne)
        .collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(
        sent[0].body.contains("Le technicien passe demain matin."),
        "{}",
        sent[0].body
    );
    assert!(!sent[0].body.contains("400 euros"), "{}", sent[0].body);
    assert!(!sent[0].body.contains(DESK), "{}", sent[0].body);

    // Pasted: nothing leaves, the agent is told.
    app.reply(
        &note,
        MARC,
        "Bonjour Jeanne,\n\nC'est noté. Pour info : le prestataire facture 400 euros la visite, ne pas le dire au demandeur.",
        "",
    );
    app.run_at("2026-11-23T09:30:00Z");
    assert_eq!(app.sent_to(JEANNE_ADDR).len(), to_jeanne + 1);
    assert_eq!(app.kinds(1).last().unwrap(), "note");
    let told = last_to(&app, MARC_ADDR);
    assert!(
        told.subject.contains("Réponse non envoyée"),
        "{}",
        told.subject
    );
    assert!(
        told.body.contains("Le prestataire facture 400 euros"),
        "{}",
        told.body
    );
}

/// The server left in UTC, the desk in Europe/Paris: a solution sent at
/// 00:30 in Paris (23:30 UTC) announces the closure on the Paris day, 1
/// December, not on 30 November; without `timezone`, the system's zone
/// gives the UTC day.
fn dates_in_mail_are_the_desks_days(db: Db) {
    for (zone, expected, not) in [
        (
            "timezone = \"Europe/Paris\"\n",
            "1er décembre 2026",
            "30 novembre",
        ),
        ("", "30 novembre 2026", "1er décembre"),
    ] {
        let app = TestApp::start_with(db, zone);
        app.ok(&["agents", "add", MARC_ADDR]);
        app.append(&mail(
            JEANNE,
            "Messagerie",
            "tz1@mairie-exemple.fr",
            "",
            "Plus de mail.",
        ));
        let run = |now: &str| {
            let out = app
                .command()
                .env("TZ", "UTC")
                .args(["run", "--once", "--now", now])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run("2026-11-23T20:00:00Z");
        app.reply(
            &last_to(&app, DESK),
            MARC,
            "#solution Redémarrez Outlook.",
            "",
        );
        run("2026-11-23T23:30:00Z");
        let solution = last_to(&app, JEANNE_ADDR);
        let body = solution.body.replace('\n', " ");
        assert!(body.contains(expected), "{zone}: {body}");
        assert!(!body.contains(not), "{zone}: {body}");
    }
}

/// Answers to a solution as requesters write them: "OK mais …" decides
/// nothing, and the requester is told the solution still waits and how to
/// answer (the agents too); a keyword after a greeting, or a phrase,
/// decides.
fn answers_as_people_write_them(db: Db) {
    let app = desk_with_ticket(db, "2026-11-23T08:00:00Z");
    app.reply(
        &last_to(&app, DESK),
        MARC,
        "Bonjour Jeanne,\n\n#solution Le pilote a été réinstallé.",
        "",
    );
    app.run_at("2026-11-23T09:00:00Z");
    // The command after a greeting counts, and its agent is told.
    assert_eq!(app.ticket(1)["status"], "solved");
    let done = last_to(&app, MARC_ADDR);
    assert!(
        done.body.contains("La solution a été envoyée au demandeur"),
        "{}",
        done.body
    );
    let solution = last_to(&app, JEANNE_ADDR);
    assert!(!solution.body.contains("#solution"), "{}", solution.body);
    app.reply(
        &solution,
        JEANNE,
        "Bonjour,\n\nOK mais l'imprimante fait toujours un bruit bizarre.\n\nJeanne\n\nEnvoyé de mon iPhone",
        "",
    );
    app.run_at("2026-11-23T10:00:00Z");
    assert_eq!(
        app.ticket(1)["status"],
        "solved",
        "an \"OK mais\" validated"
    );
    assert_eq!(app.kinds(1).last().unwrap(), "followup");
    let told = last_to(&app, JEANNE_ADDR);
    assert!(
        told.body.contains("attend\ndonc toujours votre réponse"),
        "{}",
        told.body
    );
    assert!(
        told.body.contains("Le pilote a été réinstallé."),
        "{}",
        told.body
    );
    assert_eq!(
        told.subject,
        solution.subject.replace("Solution proposée : ", ""),
        "{}",
        told.subject
    );
    // Marc answered first: the ticket is his, and so is her answer.
    let agents = last_to(&app, MARC_ADDR);
    assert!(
        agents.body.contains("fait toujours un bruit"),
        "{}",
        agents.body
    );

    // A phrase after a greeting decides.
    app.reply(
        &told,
        JEANNE,
        "Bonjour Marc,\n\nC'est bon, le bruit a disparu. Merci !\n\nJeanne Martin\nÉtat civil",
        "",
    );
    app.run_at("2026-11-23T11:00:00Z");
    assert_eq!(app.ticket(1)["close_reason"], "validated");
}

/// A desk that set its own keywords and delays, and manages agents and
/// watchers from the command line: a watcher added by `guichet watchers
/// add` gets the solution and the closures; the default VALIDER is now a
/// plain answer and the desk's own word closes; the 3-day closure and its
/// reminder a day before; `tickets list --status`; removals.
fn the_desks_own_words_and_the_admin_commands(db: Db) {
    let app = TestApp::start_with(
        db,
        "validate_keywords = [\"PARFAIT\"]\nrefuse_keywords = [\"NON\"]\nauto_close_after = \"3d\"\nremind_before = \"1d\"\n",
    );
    const CHEF: &str = "chef.service@mairie-exemple.fr";
    app.ok(&["agents", "add", MARC_ADDR, "--name", "Marc"]);
    assert!(app.ok(&["agents", "list"]).contains(MARC_ADDR));
    for (i, subject) in ["Scanner en panne", "Badge refusé"].iter().enumerate() {
        app.append(&mail(
            JEANNE,
            subject,
            &format!("own{i}@mairie-exemple.fr"),
            "",
            "Bonjour, cela ne marche plus.",
        ));
    }
    app.run_at("2026-11-23T08:00:00Z");
    for n in ["1", "2"] {
        app.ok(&["watchers", "add", n, CHEF]);
    }
    assert_eq!(app.ticket(1)["watchers"], serde_json::json!([CHEF]));
    for n in [1, 2] {
        let notice = app
            .sent_to(DESK)
            .into_iter()
            .find(|m| m.subject.contains(&format!("#00000{n}")))
            .unwrap();
        app.reply(&notice, MARC, "#solution\nC'est réparé.", "");
    }
    app.run_at("2026-11-23T09:00:00Z");
    let solution = last_to(&app, CHEF);
    assert!(solution.body.contains("C'est réparé."), "{}", solution.body);
    let to_jeanne = last_to(&app, JEANNE_ADDR);
    assert!(to_jeanne.body.contains("PARFAIT"), "{}", to_jeanne.body);
    assert!(
        to_jeanne.body.contains("jeudi 26 novembre 2026"),
        "{}",
        to_jeanne.body
    );
    let solution1 = app
        .sent_to(JEANNE_ADDR)
        .into_iter()
        .find(|m| m.subject.contains("#000001") && m.body.contains("PARFAIT"))
        .unwrap();

    // VALIDER is no word of this desk: a plain answer, still solved.
    app.reply(&solution1, JEANNE, "VALIDER", "");
    app.run_at("2026-11-23T10:00:00Z");
    assert_eq!(app.ticket(1)["status"], "solved");
    assert_eq!(app.kinds(1).last().unwrap(), "followup");
    app.reply(&solution1, JEANNE, "Parfait, merci !", "");
    app.run_at("2026-11-23T10:10:00Z");
    let t = app.ticket(1);
    assert_eq!(
        (t["status"].as_str(), t["close_reason"].as_str()),
        (Some("closed"), Some("validated"))
    );
    assert!(last_to(&app, CHEF).subject.contains("#000001"));

    // Ticket 2: silence; the reminder a day before the 3-day deadline.
    let before = app.sent_to(JEANNE_ADDR).len();
    app.run_at("2026-11-25T08:59:00Z");
    assert_eq!(app.sent_to(JEANNE_ADDR).len(), before);
    app.run_at("2026-11-25T09:00:00Z");
    assert_eq!(app.sent_to(JEANNE_ADDR).len(), before + 1);
    let listed = |status: &str| -> Vec<i64> {
        let list: Vec<serde_json::Value> =
            serde_json::from_str(&app.ok(&["tickets", "list", "--status", status, "--json"]))
                .unwrap();
        list.iter().map(|t| t["number"].as_i64().unwrap()).collect()
    };
    assert_eq!(listed("solved"), [2]);
    assert_eq!(listed("closed"), [1]);
    let chef_before = app.sent_to(CHEF).len();
    app.run_at("2026-11-26T09:00:00Z");
    let t = app.ticket(2);
    assert_eq!(
        (t["status"].as_str(), t["close_reason"].as_str()),
        (Some("closed"), Some("auto"))
    );
    assert_eq!(
        app.sent_to(CHEF).len(),
        chef_before + 1,
        "the watcher is told of the closure"
    );
    assert_eq!(listed("closed"), [2, 1]);
    assert!(listed("solved").is_empty());
    let text = app.ok(&["tickets", "list"]);
    assert!(
        text.contains("Badge refusé") && text.contains("closed"),
        "{text}"
    );

    app.ok(&["watchers", "remove", "2", CHEF]);
    assert_eq!(app.ticket(2)["watchers"], serde_json::json!([]));
    app.ok(&["agents", "remove", MARC_ADDR]);
    assert!(!app.ok(&["agents", "list"]).contains(MARC_ADDR));
}

fn question_answer_solution_validation(db: Db) {
    let app = desk_with_ticket(db, "2026-11-23T08:00:00Z");
    let notice = last_to(&app, DESK);

    app.reply(
        &notice,
        MARC,
        "#question Quel est le modèle du copieur ?\n\n-- \nMarc",
        "",
    );
    app.run_at("2026-11-23T08:10:00Z");
    assert_eq!(app.ticket(1)["status"], "waiting");
    let question = last_to(&app, JEANNE_ADDR);
    assert!(
        question.body.contains("Quel est le modèle du copieur ?"),
        "{}",
        question.body
    );
    assert!(!question.body.contains("#question"));

    app.reply(&question, JEANNE, "C'est un Ricoh MP 3055.\n\nLe lun. 23 nov. 2026 à 09:10, Support informatique <support@example.test> a écrit :\n> Quel est le modèle du copieur ?", "");
    app.run_at("2026-11-23T08:20:00Z");
    assert_eq!(app.ticket(1)["status"], "in_progress");
    // Marc's question made the ticket his: the answer goes to him alone.
    assert!(last_to(&app, MARC_ADDR).body.contains("Ricoh MP 3055"));

    app.reply(&last_to(&app, DESK), MARC, "#solution\nLe pilote a été réinstallé sur le serveur d'impression.\nL'imprimante est de nouveau en ligne.", "");
    app.run_at("2026-11-23T09:00:00Z");
    let t = app.ticket(1);
    assert_eq!(t["status"], "solved");
    assert_eq!(t["solved_at"], "2026-11-23T09:00:00Z");
    let solution = last_to(&app, JEANNE_ADDR);
    assert!(solution.subject.starts_with("[SUPPORT #000001]"));
    // Threaded with everything before it: the request first, then the
    // acknowledgement, the question and the answer (RFC 5322 3.6.4).
    let ack = app.sent_to(JEANNE_ADDR).remove(0);
    assert_eq!(
        solution.references.first().map(String::as_str),
        Some("req1@mairie-exemple.fr")
    );
    for earlier in [&ack.message_id, &question.message_id] {
        assert!(
            solution.references.contains(earlier),
            "{earlier} not in {:?}",
            solution.references
        );
    }
    // Request, acknowledgement, question, answer: never the Message-IDs of
    // the agent's own mail, which say where the agent wrote from.
    assert_eq!(solution.references.len(), 4, "{:?}", solution.references);
    assert_eq!(solution.in_reply_to, *solution.references.last().unwrap());
    assert!(
        solution.body.contains("Le pilote a été réinstallé"),
        "{}",
        solution.body
    );
    assert!(solution.body.contains("VALIDER") && solution.body.contains("REFUSER"));
    assert!(
        solution.body.contains("lundi 30 novembre 2026"),
        "{}",
        solution.body
    );

    app.reply(&solution, JEANNE, "Valider\n\nMerci beaucoup !", "");
    app.run_at("2026-11-23T10:00:00Z");
    let t = app.ticket(1);
    assert_eq!(t["status"], "closed");
    assert_eq!(t["close_reason"], "validated");
    assert_eq!(
        app.kinds(1),
        [
            "initial",
            "agent_reply",
            "followup",
            "solution",
            "validation"
        ]
    );
    let confirmation = last_to(&app, JEANNE_ADDR);
    assert_ne!(confirmation.message_id, solution.message_id);
    assert_eq!(confirmation.auto_submitted, "auto-replied");
    assert!(last_to(&app, DESK).subject.contains("[SUPPORT #000001]"));
    // The agent's own address never reached the requester.
    assert!(app
        .sent_to(JEANNE_ADDR)
        .iter()
        .all(|m| !m.body.contains(MARC_ADDR)));
    // One subject for the whole conversation, as her client threads it:
    // acknowledgement, question, solution, closure; what happened is said
    // in the body.
    let subjects: Vec<String> = app
        .sent_to(JEANNE_ADDR)
        .into_iter()
        .map(|m| m.subject)
        .collect();
    assert_eq!(subjects.len(), 4, "{subjects:?}");
    assert!(
        subjects
            .iter()
            .all(|s| s == "[SUPPORT #000001] Imprimante de l'état civil hors ligne"),
        "{subjects:?}"
    );
    assert!(
        confirmation.body.contains("maintenant clôturée"),
        "{}",
        confirmation.body
    );
    // The agents' notices keep saying what happened in their subject
    // (to Marc, whose ticket it is).
    assert!(
        last_to(&app, MARC_ADDR)
            .subject
            .contains("Solution validée"),
        "{}",
        last_to(&app, MARC_ADDR).subject
    );
}

fn refusal_new_solution_reminder_and_auto_close(db: Db) {
    let app = desk_with_ticket(db, "2026-11-23T08:00:00Z");
    app.reply(
        &last_to(&app, DESK),
        MARC,
        "#solution Redémarrez le copieur.",
        "",
    );
    app.run_at("2026-11-23T09:00:00Z");
    let solution = last_to(&app, JEANNE_ADDR);

    app.reply(
        &solution,
        JEANNE,
        "REFUSER : il est toujours hors ligne après redémarrage.",
        "",
    );
    app.run_at("2026-11-23T10:00:00Z");
    let t = app.ticket(1);
    assert_eq!(t["status"], "in_progress");
    let refusal = t["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(refusal["kind"], "refusal");
    assert_eq!(
        refusal["body"],
        "il est toujours hors ligne après redémarrage."
    );
    assert!(last_to(&app, MARC_ADDR)
        .body
        .contains("toujours hors ligne"));
    let sent_before = app.sent_to(JEANNE_ADDR).len();

    app.reply(
        &last_to(&app, DESK),
        MARC,
        "#solution Le pilote a été remplacé.",
        "",
    );
    app.run_at("2026-11-24T09:00:00Z");
    assert_eq!(app.ticket(1)["status"], "solved");
    let second = last_to(&app, JEANNE_ADDR);
    assert!(
        second.body.contains("mardi 1er décembre 2026"),
        "{}",
        second.body
    );

    // Silence. Nothing happens before the reminder is due (2 days before).
    app.run_at("2026-11-29T08:59:00Z");
    assert_eq!(app.sent_to(JEANNE_ADDR).len(), sent_before + 1);
    app.run_at("2026-11-29T09:00:00Z");
    let reminder = last_to(&app, JEANNE_ADDR);
    assert_eq!(app.sent_to(JEANNE_ADDR).len(), sent_before + 2);
    assert!(
        reminder.body.contains("Le pilote a été remplacé."),
        "{}",
        reminder.body
    );
    assert!(
        reminder.body.contains("mardi 1er décembre 2026"),
        "{}",
        reminder.body
    );
    // Only once.
    app.run_at("2026-11-30T09:00:00Z");
    assert_eq!(app.sent_to(JEANNE_ADDR).len(), sent_before + 2);
    assert_eq!(app.ticket(1)["status"], "solved");

    app.run_at("2026-12-01T09:00:00Z");
    let t = app.ticket(1);
    assert_eq!(t["status"], "closed");
    assert_eq!(t["close_reason"], "auto");
    assert_eq!(t["closed_at"], "2026-12-01T09:00:00Z");
    let closure = last_to(&app, JEANNE_ADDR);
    assert_ne!(closure.message_id, reminder.message_id);
    assert_eq!(closure.auto_submitted, "auto-generated");
    // A later cycle closes nothing twice.
    app.run_at("2026-12-09T09:00:00Z");
    assert_eq!(app.sent_to(JEANNE_ADDR).len(), sent_before + 3);
}

fn watcher_added_by_mail_receives_the_solution(db: Db) {
    let app = desk_with_ticket(db, "2026-11-23T08:00:00Z");
    app.reply(
        &last_to(&app, DESK),
        MARC,
        "#watch add Chef.Service@mairie-exemple.fr",
        "",
    );
    app.run_at("2026-11-23T08:30:00Z");
    assert_eq!(
        app.ticket(1)["watchers"],
        serde_json::json!(["chef.service@mairie-exemple.fr"])
    );
    assert!(
        app.sent_to(JEANNE_ADDR).len() == 1,
        "a watch command sends nothing to the requester"
    );

    app.reply(
        &last_to(&app, DESK),
        MARC,
        "#note Le copieur est sous contrat Ricoh.",
        "",
    );
    app.reply(
        &last_to(&app, DESK),
        MARC,
        "#solution Technicien passé, tout fonctionne.",
        "",
    );
    app.run_at("2026-11-23T09:00:00Z");
    let to_watcher = app.sent_to("chef.service@mairie-exemple.fr");
    assert_eq!(to_watcher.len(), 1, "{to_watcher:?}");
    assert!(to_watcher[0].body.contains("Technicien passé"));
    assert!(
        !to_watcher[0].body.contains("sous contrat"),
        "a note reached a watcher"
    );
    // The other agents get a copy, marked as such.
    let copy = last_to(&app, DESK);
    assert!(
        copy.body
            .contains("Copie pour les agents : message de Marc"),
        "{}",
        copy.body
    );
    assert!(copy.body.contains("Technicien passé"), "{}", copy.body);
    // Greeted as a watcher, told why the mail comes, not asked to decide.
    let body = &to_watcher[0].body;
    assert!(body.starts_with("Bonjour,"), "{body}");
    assert!(
        body.contains("vous suivez la demande [SUPPORT #000001] de Jeanne Martin"),
        "{body}"
    );
    assert!(!body.contains("répondez seulement par le mot"), "{body}");
    let solution = last_to(&app, JEANNE_ADDR);
    assert!(
        solution.body.starts_with("Bonjour Jeanne Martin,"),
        "{}",
        solution.body
    );
    assert!(
        solution.body.contains("répondez seulement par le mot"),
        "{}",
        solution.body
    );
    assert_eq!(solution.subject, to_watcher[0].subject);

    // A watcher's VALIDER is a follow-up, not a validation.
    app.reply(
        &to_watcher[0],
        "Chef <chef.service@mairie-exemple.fr>",
        "VALIDER",
        "",
    );
    app.run_at("2026-11-23T10:00:00Z");
    assert_eq!(app.ticket(1)["status"], "solved");
    assert_eq!(app.kinds(1).last().unwrap(), "followup");

    // Removed, the watcher no longer hears of the ticket.
    app.reply(
        &last_to(&app, DESK),
        MARC,
        "#watch remove chef.service@mairie-exemple.fr",
        "",
    );
    app.run_at("2026-11-23T11:00:00Z");
    assert_eq!(app.ticket(1)["watchers"], serde_json::json!([]));
    app.reply(&last_to(&app, JEANNE_ADDR), JEANNE, "VALIDER", "");
    app.run_at("2026-11-23T12:00:00Z");
    assert_eq!(app.ticket(1)["close_reason"], "validated");
    assert_eq!(app.sent_to("chef.service@mairie-exemple.fr").len(), 1);
}

fn strangers_validation_changes_nothing(db: Db) {
    let app = desk_with_ticket(db, "2026-11-23T08:00:00Z");
    app.reply(
        &last_to(&app, DESK),
        MARC,
        "#solution Redémarrez le copieur.",
        "",
    );
    app.run_at("2026-11-23T09:00:00Z");
    let solution = last_to(&app, JEANNE_ADDR);
    // Someone got hold of the mail and answers it.
    app.reply(&solution, "Intrus <intrus@ailleurs.example>", "VALIDER", "");
    app.run_at("2026-11-23T10:00:00Z");
    let t = app.ticket(1);
    assert_eq!(t["status"], "solved");
    assert_eq!(app.kinds(1), ["initial", "solution"]);
    let t2 = app.ticket(2);
    assert_eq!(t2["requester"]["email"], "intrus@ailleurs.example");
    let to_stranger = app.sent_to("intrus@ailleurs.example");
    assert_eq!(to_stranger.len(), 1);
    assert!(
        !to_stranger[0].body.contains("Redémarrez"),
        "ticket 1 leaked"
    );
}

fn out_of_office_on_a_solution_changes_nothing(db: Db) {
    let app = desk_with_ticket(db, "2026-11-23T08:00:00Z");
    app.reply(
        &last_to(&app, DESK),
        MARC,
        "#solution Redémarrez le copieur.",
        "",
    );
    app.run_at("2026-11-23T09:00:00Z");
    let solution = last_to(&app, JEANNE_ADDR);
    let sent = app.sent().len();
    let id = "ooo1@mairie-exemple.fr";
    let headers = format!(
        "In-Reply-To: <{}>\nAuto-Submitted: auto-replied\nX-Auto-Response-Suppress: All\n",
        solution.message_id
    );
    app.append(&mail(
        JEANNE,
        &format!("Réponse automatique : {}", solution.subject),
        id,
        &headers,
        "OK\nJe suis absente jusqu'au 30 novembre.",
    ));
    app.run_at("2026-11-23T10:00:00Z");
    assert_eq!(app.ticket(1)["status"], "solved");
    assert_eq!(app.kinds(1), ["initial", "solution", "auto_reply"]);
    assert_eq!(
        app.sent().len(),
        sent,
        "an out-of-office reply was answered"
    );
}

fn notes_and_unknown_commands_stay_with_the_agents(db: Db) {
    let app = desk_with_ticket(db, "2026-11-23T08:00:00Z");
    let to_jeanne = app.sent_to(JEANNE_ADDR).len();
    app.reply(
        &last_to(&app, DESK),
        MARC,
        "#note Voir avec le prestataire, contrat 2024-17.",
        "",
    );
    app.run_at("2026-11-23T08:30:00Z");
    assert_eq!(app.kinds(1), ["initial", "note"]);
    let note = last_to(&app, DESK);
    assert!(note.body.contains("contrat 2024-17"));
    // The author does not get his own note: he is told it was added.
    let to_marc = app.sent_to(MARC_ADDR);
    assert_eq!(to_marc.len(), 1, "{to_marc:?}");
    assert!(
        to_marc[0].subject.contains("Commande effectuée"),
        "{}",
        to_marc[0].subject
    );
    assert!(
        to_marc[0].body.contains("note interne a été ajoutée"),
        "{}",
        to_marc[0].body
    );

    // A command further down the reply is an error, never text for the
    // requester.
    app.reply(
        &note,
        MARC,
        "Je regarde avec le prestataire.\n\n#note contrat à renouveler en janvier",
        "",
    );
    app.run_at("2026-11-23T08:35:00Z");
    let error = last_to(&app, MARC_ADDR);
    assert!(
        error.subject.contains("Commande non comprise"),
        "{}",
        error.subject
    );
    assert!(
        error.body.contains("#note contrat à renouveler"),
        "{}",
        error.body
    );
    assert_eq!(app.kinds(1), ["initial", "note"]);

    app.reply(&note, MARC, "#resolve c'est fait", "");
    app.run_at("2026-11-23T08:40:00Z");
    let error = last_to(&app, MARC_ADDR);
    assert!(error.body.contains("#resolve"), "{}", error.body);
    assert!(error.body.contains("#solution"), "{}", error.body);
    assert_eq!(app.ticket(1)["status"], "new");
    assert_eq!(app.kinds(1), ["initial", "note"]);

    app.reply(&note, MARC, "#type incident", "");
    app.run_at("2026-11-23T08:50:00Z");
    app.reply(&note, MARC, "#impact bloquant", "");
    app.run_at("2026-11-23T08:51:00Z");
    app.reply(&note, MARC, "#category Impression", "");
    app.run_at("2026-11-23T08:52:00Z");
    let t = app.ticket(1);
    assert_eq!(t["type"], "incident");
    assert_eq!(t["impact"], "blocking");
    assert_eq!(t["category"], "Impression");
    assert_eq!(
        app.sent_to(JEANNE_ADDR).len(),
        to_jeanne,
        "internal actions reached the requester"
    );

    // From anyone else, "#close" is just text.
    app.reply(&app.sent_to(JEANNE_ADDR)[0], JEANNE, "#close", "");
    app.run_at("2026-11-23T09:00:00Z");
    assert_eq!(app.ticket(1)["status"], "new");
    app.reply(&note, MARC, "#close Doublon du ticket 12.", "");
    app.run_at("2026-11-23T09:10:00Z");
    let t = app.ticket(1);
    assert_eq!(t["status"], "closed");
    assert_eq!(t["close_reason"], "agent");
    assert!(last_to(&app, JEANNE_ADDR)
        .body
        .contains("Doublon du ticket 12."));
}

fn reply_to_a_closed_ticket_opens_a_new_one(db: Db) {
    let app = desk_with_ticket(db, "2026-11-23T08:00:00Z");
    app.reply(&last_to(&app, DESK), MARC, "#close", "");
    app.run_at("2026-11-23T09:00:00Z");
    let closure = last_to(&app, JEANNE_ADDR);
    app.reply(&closure, JEANNE, "Le problème est revenu ce matin.", "");
    app.run_at("2026-11-30T09:00:00Z");
    assert_eq!(app.ticket(1)["status"], "closed");
    let t2 = app.ticket(2);
    assert_eq!(t2["status"], "new");
    assert_eq!(t2["subject"], "Imprimante de l'état civil hors ligne");
    let kinds: Vec<&str> = t2["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["initial", "system"]);
    assert!(t2["messages"][1]["body"]
        .as_str()
        .unwrap()
        .contains("[SUPPORT #000001]"));
    let ack = last_to(&app, JEANNE_ADDR);
    assert!(ack.subject.starts_with("[SUPPORT #000002]"));
    assert!(ack.body.contains("[SUPPORT #000001]"), "{}", ack.body);

    // With reply_to_closed = "reopen", the same reply reopens it.
    app.write_config("reply_to_closed = \"reopen\"\n", "");
    app.reply(&closure, JEANNE, "Toujours en panne.", "");
    app.run_at("2026-11-30T10:00:00Z");
    let t1 = app.ticket(1);
    assert_eq!(t1["status"], "in_progress");
    assert_eq!(t1["close_reason"], serde_json::Value::Null);
    assert_eq!(app.tickets().len(), 2);
}

fn validation_requires_authentication_when_configured(db: Db) {
    let app = desk_with_ticket(db, "2026-11-23T08:00:00Z");
    app.reply(
        &last_to(&app, DESK),
        MARC,
        "#solution Redémarrez le copieur.",
        "",
    );
    app.run_at("2026-11-23T09:00:00Z");
    let text = std::fs::read_to_string(&app.config_path).unwrap()
        + "\n[security]\ntrusted_authserv_id = \"mx.example.test\"\n";
    std::fs::write(&app.config_path, text).unwrap();
    let solution = last_to(&app, JEANNE_ADDR);

    // Forged, or from a domain that does not sign: kept, not honoured.
    app.reply(
        &solution,
        JEANNE,
        "VALIDER",
        "Authentication-Results: evil.example; dmarc=pass header.from=mairie-exemple.fr\n",
    );
    app.run_at("2026-11-23T10:00:00Z");
    assert_eq!(app.ticket(1)["status"], "solved");
    assert_eq!(app.kinds(1).last().unwrap(), "followup");
    let told = last_to(&app, JEANNE_ADDR);
    assert!(
        told.body
            .contains("la vérification de mx.example.test n'est pas"),
        "{}",
        told.body
    );

    app.reply(&solution, JEANNE, "VALIDER", "Authentication-Results: mx.example.test; spf=pass smtp.mailfrom=mairie-exemple.fr; dkim=pass header.d=mairie-exemple.fr; dmarc=pass header.from=mairie-exemple.fr\n");
    app.run_at("2026-11-23T11:00:00Z");
    assert_eq!(app.ticket(1)["close_reason"], "validated");
}

#[test]
fn agent_replies_signed_with_the_agents_name_when_configured() {
    let app = TestApp::start_with(Db::Sqlite, "agent_identity = \"name\"\n");
    app.ok(&["agents", "add", MARC_ADDR, "--name", "Marc Dupont"]);
    app.append(&mail(
        JEANNE,
        "Badge",
        "b1@mairie-exemple.fr",
        "",
        "Mon badge ne marche plus.",
    ));
    app.run_once();
    app.reply(
        &last_to(&app, DESK),
        MARC,
        "Passez à l'accueil, on le refait.",
        "",
    );
    app.run_once();
    let reply = last_to(&app, JEANNE_ADDR);
    assert!(
        reply.body.contains("Marc Dupont, Support informatique"),
        "{}",
        reply.body
    );
    assert!(!reply.body.contains(MARC_ADDR));
}
