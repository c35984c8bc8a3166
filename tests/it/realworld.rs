//! Mail nobody planned for: the same request twice, bounces, autoresponder
//! ping-pong, oversized attachments, unreadable mail, and every fixture of
//! `fixtures/` through the real bed.

use crate::app::{mail, Db, TestApp};
use crate::on_both_databases;

const JEANNE: &str = "Jeanne Martin <jeanne.martin@mairie-exemple.fr>";
const JEANNE_ADDR: &str = "jeanne.martin@mairie-exemple.fr";
const DESK: &str = "sau@example.test";

on_both_databases!(
    the_same_request_again_is_a_followup,
    the_same_request_twice_in_one_batch_threads_as_one,
    one_mail_to_two_support_addresses_is_one_ticket,
    a_permanent_bounce_stops_mail_to_the_address,
    a_forged_bounce_silences_nobody,
    autoresponder_ping_pong_is_capped,
    a_burst_from_one_robot_in_one_batch_is_capped,
    oversized_attachments_are_refused_and_the_sender_told,
    a_mail_over_the_message_size_keeps_its_text_only,
    a_robot_answering_our_mail_never_loops,
    the_daily_cap_holds_across_hours,
    a_mail_the_database_refuses_does_not_hold_its_batch,
    piped_mail_the_database_refuses_is_kept_and_the_others_taken,
    our_own_mail_coming_back_is_not_answered,
    requests_without_a_real_subject_are_never_merged,
);

/// Two requests without a subject, or both titled "Urgent", from the same
/// person are two tickets: only a subject that says something makes a
/// second mail the same request. An English desk writes "(no subject)".
fn requests_without_a_real_subject_are_never_merged(db: Db) {
    let app = TestApp::start_with(db, "language = \"en\"\n");
    app.append(&mail(
        JEANNE,
        "",
        "ns1@mairie-exemple.fr",
        "",
        "My badge no longer opens the door.",
    ));
    app.append(&mail(
        JEANNE,
        "",
        "ns2@mairie-exemple.fr",
        "",
        "The projector in room 3 is broken.",
    ));
    app.append(&mail(
        JEANNE,
        "URGENT !!!",
        "ns3@mairie-exemple.fr",
        "",
        "Payroll export fails.",
    ));
    app.append(&mail(
        JEANNE,
        "Urgent",
        "ns4@mairie-exemple.fr",
        "",
        "Printer out of toner.",
    ));
    app.append(&mail(
        JEANNE,
        "VPN hors service",
        "ns5@mairie-exemple.fr",
        "",
        "Le VPN ne répond plus.",
    ));
    app.append(&mail(
        JEANNE,
        "RE: VPN hors service",
        "ns6@mairie-exemple.fr",
        "",
        "Toujours rien.",
    ));
    app.run_at("2026-11-23T09:00:00Z");
    let tickets = app.tickets();
    assert_eq!(tickets.len(), 5, "{tickets:?}");
    assert_eq!(app.ticket(1)["subject"], "(no subject)");
    assert_eq!(app.ticket(2)["subject"], "(no subject)");
    assert_eq!(app.kinds(5), ["initial", "followup"]);
}

/// Our own acknowledgement comes back through a forwarder that rewrote its
/// sender and dropped our loop headers (a list that forwards to the desk,
/// say): its Message-ID is still one we sent, so nobody answers it and no
/// ticket changes.
fn our_own_mail_coming_back_is_not_answered(db: Db) {
    let app = TestApp::start(db);
    app.append(&mail(
        JEANNE,
        "Écran noir au guichet 2",
        "own1@mairie-exemple.fr",
        "",
        "Bonjour, l'écran reste noir.",
    ));
    app.run_once();
    let ack = app.sent_to(JEANNE_ADDR).remove(0);
    let sink = std::path::PathBuf::from(&app.env["SINK_DIR"]).join("new");
    let raw = std::fs::read_dir(&sink)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .find(|text| text.contains(&ack.message_id))
        .expect("the acknowledgement in the sink");
    let forwarded: String = raw
        .lines()
        .filter(|l| {
            ![
                "X-Loop:",
                "Auto-Submitted:",
                "Precedence:",
                "X-Auto-Response-Suppress:",
            ]
            .iter()
            .any(|h| l.starts_with(h))
        })
        .map(|l| {
            if l.starts_with("From:") {
                "From: Agents de la mairie <agents@mairie-exemple.fr>".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let sent_before = app.sent().len();
    app.append(forwarded.as_bytes());
    let log = app.run_once();
    assert!(log.contains("our own mail came back"), "{log}");
    assert_eq!(app.tickets().len(), 1);
    assert_eq!(app.kinds(1).len(), 1, "{:?}", app.kinds(1));
    assert_eq!(app.sent().len(), sent_before, "something answered it");
    assert_eq!(app.count("INBOX"), 0);
}

fn the_same_request_again_is_a_followup(db: Db) {
    let app = TestApp::start(db);
    app.append(&mail(
        JEANNE,
        "Imprimante en panne",
        "a1@mairie-exemple.fr",
        "",
        "Elle ne marche plus.",
    ));
    app.run_at("2026-11-23T09:00:00Z");
    app.append(&mail(
        JEANNE,
        "Imprimante en panne",
        "a2@mairie-exemple.fr",
        "",
        "Toujours rien, c'est urgent !",
    ));
    app.run_at("2026-11-23T11:00:00Z");
    assert_eq!(app.tickets().len(), 1);
    assert_eq!(app.kinds(1), ["initial", "followup"]);
    let acks = app.sent_to(JEANNE_ADDR);
    assert_eq!(acks.len(), 2);
    assert!(
        acks[1].body.contains("Vous nous avez déjà écrit"),
        "{}",
        acks[1].body
    );
    assert!(acks[1].subject.starts_with("[SUPPORT #000001]"));
    // Outside the window (24 h by default), it is a new request.
    app.append(&mail(
        JEANNE,
        "Imprimante en panne",
        "a3@mairie-exemple.fr",
        "",
        "Encore elle.",
    ));
    app.run_at("2026-11-25T09:00:00Z");
    assert_eq!(app.tickets().len(), 2);
}

/// Both mails come in one batch, whose answers are composed on the side
/// and written at its end: the second answer still names the first in its
/// References, as the requester's client saw them.
fn the_same_request_twice_in_one_batch_threads_as_one(db: Db) {
    let app = TestApp::start(db);
    for (id, body) in [
        ("b1@mairie-exemple.fr", "Elle ne marche plus."),
        ("b2@mairie-exemple.fr", "Toujours rien, c'est urgent !"),
    ] {
        app.append(&mail(JEANNE, "Scanner en panne", id, "", body));
    }
    app.run_at("2026-11-23T09:00:00Z");
    assert_eq!(app.tickets().len(), 1);
    assert_eq!(app.kinds(1), ["initial", "followup"]);
    let acks = app.sent_to(JEANNE_ADDR);
    assert_eq!(acks.len(), 2);
    let (first, second) = if acks[0].references.contains(&acks[1].message_id) {
        (&acks[1], &acks[0])
    } else {
        (&acks[0], &acks[1])
    };
    assert!(
        second.references.contains(&first.message_id),
        "{:?} does not name {}",
        second.references,
        first.message_id
    );
    assert_eq!(second.in_reply_to, "b2@mairie-exemple.fr");
    assert!(second.body.contains("Vous nous avez déjà écrit"));
}

fn one_mail_to_two_support_addresses_is_one_ticket(db: Db) {
    let app = TestApp::start(db);
    let first = mail(
        JEANNE,
        "Accès VPN",
        "vpn@mairie-exemple.fr",
        "Cc: informatique@example.test\n",
        "Le VPN refuse mon mot de passe.",
    );
    // The copy delivered through the other address differs in its headers.
    let second = String::from_utf8(first.clone()).unwrap().replacen(
        "From:",
        "Delivered-To: informatique@example.test\nFrom:",
        1,
    );
    app.append(&first);
    app.append(second.as_bytes());
    app.run_once();
    assert_eq!(app.tickets().len(), 1);
    assert_eq!(app.sent_to(JEANNE_ADDR).len(), 1);
    assert_eq!(app.count("INBOX"), 0);
}

/// Anyone can write a delivery report. One that names no mail of ours,
/// or an address our mail did not go to, or the desk's own addresses,
/// marks nothing: the requester and the agents still get their mail.
fn a_forged_bounce_silences_nobody(db: Db) {
    let app = TestApp::start(db);
    app.ok(&["agents", "add", "marc.agent@example.test"]);
    app.append(&mail(
        JEANNE,
        "Imprimante en panne",
        "forged1@mairie-exemple.fr",
        "",
        "Elle ne marche plus.",
    ));
    app.run_at("2026-11-23T09:00:00Z");
    let ack = app.sent_to(JEANNE_ADDR).pop().unwrap();
    // Reports naming an invented mail about the requester, and our real
    // acknowledgement about the agents' address it was not sent to.
    app.append(&dsn_for(
        "invented@mx.elsewhere.example",
        JEANNE_ADDR,
        "5.1.1",
    ));
    app.append(&dsn_for(&ack.message_id, DESK, "5.1.1"));
    app.run_at("2026-11-23T09:10:00Z");
    assert_eq!(app.kinds(1), ["initial"], "a forged report was recorded");

    // Both still get their mail.
    let to_desk = app.sent_to(DESK).pop().unwrap();
    app.reply(
        &to_desk,
        "Marc <marc.agent@example.test>",
        "Avez-vous redémarré ?",
        "",
    );
    app.append(&mail(
        "Paul Durand <paul.durand@mairie-exemple.fr>",
        "Scanner",
        "forged2@mairie-exemple.fr",
        "",
        "Le scanner ne démarre pas.",
    ));
    app.run_at("2026-11-23T09:20:00Z");
    assert_eq!(
        app.sent_to(JEANNE_ADDR).len(),
        2,
        "the requester was silenced"
    );
    // Ticket 1's notice, the copy of Marc's reply, ticket 2's notice.
    assert_eq!(app.sent_to(DESK).len(), 3, "the agents were silenced");
    let held: Vec<_> = app
        .outbox()
        .into_iter()
        .filter(|r| r["state"] == "held")
        .collect();
    assert!(held.is_empty(), "{held:?}");
}

fn dsn_for(message_id: &str, recipient: &str, status: &str) -> Vec<u8> {
    format!(
        "Return-Path: <>\n\
From: MAILER-DAEMON@mx.mairie-exemple.fr (Mail Delivery System)\n\
To: support@example.test\n\
Subject: Undelivered Mail Returned to Sender\n\
Message-ID: <20261123091502.4F2A3C0155@mx.mairie-exemple.fr>\n\
Date: Mon, 23 Nov 2026 10:15:02 +0100\n\
Auto-Submitted: auto-replied\n\
MIME-Version: 1.0\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"4F2A3C0155.1795600502/mx.mairie-exemple.fr\"\n\
\n\
--4F2A3C0155.1795600502/mx.mairie-exemple.fr\n\
Content-Description: Notification\n\
Content-Type: text/plain; charset=us-ascii\n\
\n\
This is the mail system at host mx.mairie-exemple.fr.\n\
\n\
I'm sorry to have to inform you that your message could not\n\
be delivered to one or more recipients.\n\
\n\
<{recipient}>: host mbox.mairie-exemple.fr said: 550 {status} User unknown\n\
\n\
--4F2A3C0155.1795600502/mx.mairie-exemple.fr\n\
Content-Description: Delivery report\n\
Content-Type: message/delivery-status\n\
\n\
Reporting-MTA: dns; mx.mairie-exemple.fr\n\
Arrival-Date: Mon, 23 Nov 2026 10:15:01 +0100 (CET)\n\
\n\
Final-Recipient: rfc822; {recipient}\n\
Original-Recipient: rfc822;{recipient}\n\
Action: failed\n\
Status: {status}\n\
Diagnostic-Code: smtp; 550 {status} User unknown\n\
\n\
--4F2A3C0155.1795600502/mx.mairie-exemple.fr\n\
Content-Description: Undelivered Message Headers\n\
Content-Type: text/rfc822-headers\n\
\n\
From: Support informatique <support@example.test>\n\
To: {recipient}\n\
Subject: [SUPPORT #000001] Imprimante en panne\n\
Message-ID: <{message_id}>\n\
\n\
--4F2A3C0155.1795600502/mx.mairie-exemple.fr--\n"
    )
    .into_bytes()
}

fn a_permanent_bounce_stops_mail_to_the_address(db: Db) {
    let app = TestApp::start(db);
    app.ok(&["agents", "add", "marc.agent@example.test"]);
    app.append(&mail(
        JEANNE,
        "Imprimante en panne",
        "b1@mairie-exemple.fr",
        "",
        "Elle ne marche plus.",
    ));
    app.run_at("2026-11-23T09:00:00Z");
    let ack = app.sent_to(JEANNE_ADDR).pop().unwrap();
    app.append(&dsn_for(&ack.message_id, JEANNE_ADDR, "5.1.1"));
    app.run_at("2026-11-23T09:20:00Z");
    assert_eq!(app.tickets().len(), 1, "a bounce opened a ticket");
    assert_eq!(app.kinds(1), ["initial", "bounce"]);
    let to_desk = app.sent_to(DESK).pop().unwrap();
    assert!(
        to_desk.body.contains(JEANNE_ADDR) && to_desk.body.contains("5.1.1"),
        "{}",
        to_desk.body
    );
    assert_eq!(app.sent_to(JEANNE_ADDR).len(), 1, "the bounce was answered");

    // Mail for the address is held back, visibly.
    app.reply(
        &to_desk,
        "Marc <marc.agent@example.test>",
        "Avez-vous redémarré ?",
        "",
    );
    app.run_at("2026-11-23T09:30:00Z");
    assert_eq!(app.sent_to(JEANNE_ADDR).len(), 1);
    let held: Vec<_> = app
        .outbox()
        .into_iter()
        .filter(|r| r["state"] == "held")
        .collect();
    assert_eq!(held.len(), 1);
    assert!(held[0]["last_error"].as_str().unwrap().contains("bounced"));

    // The address writes again: mail to it resumes; the held one can be
    // sent by hand.
    app.append(&mail(
        JEANNE,
        "RE: [SUPPORT #000001] Imprimante en panne",
        "b2@mairie-exemple.fr",
        "",
        "Oui, sans effet.",
    ));
    app.run_at("2026-11-23T10:00:00Z");
    let id = held[0]["id"].as_i64().unwrap().to_string();
    let out = app.ok(&["outbox", "retry", &id]);
    assert!(out.contains("1 sent"), "{out}");
    assert_eq!(app.sent_to(JEANNE_ADDR).len(), 2);
}

/// A robot's burst fetched in one batch: the answers of a batch are
/// written together, and the loop guard still counts each one before the
/// next, so no more than `max_auto_per_hour` go.
fn a_burst_from_one_robot_in_one_batch_is_capped(db: Db) {
    let app = TestApp::start(db);
    for n in 0..12 {
        app.append(&mail(
            "Accueil automatique <accueil@prestataire.example>",
            &format!("Votre message n°{n} a bien été reçu"),
            &format!("burst{n}@prestataire.example"),
            "",
            "Merci pour votre message.",
        ));
    }
    let log = app.run_once();
    assert!(log.contains("fetched=12"), "{log}");
    assert_eq!(app.tickets().len(), 12);
    assert_eq!(app.sent_to("accueil@prestataire.example").len(), 5);
    let held = app.outbox_reasons("held");
    assert_eq!(held.len(), 7, "{held:?}");
    assert!(held.iter().all(|w| w.contains("last hour")), "{held:?}");
    // The agents are told of every ticket: their address is never limited.
    assert_eq!(app.sent_to(DESK).len(), 12);
}

fn autoresponder_ping_pong_is_capped(db: Db) {
    let app = TestApp::start(db);
    // A robot answering every mail with a new subject and a new
    // Message-ID, and no header saying it is a robot.
    for round in 0..12 {
        app.append(&mail(
            "Accueil automatique <accueil@prestataire.example>",
            &format!("Votre message n°{round} a bien été reçu"),
            &format!("robot{round}@prestataire.example"),
            "",
            "Merci pour votre message. Nous vous répondrons rapidement.",
        ));
        app.run_at(&format!("2026-11-23T09:{:02}:00Z", round * 2));
    }
    let answered = app.sent_to("accueil@prestataire.example").len();
    assert_eq!(answered, 5, "the loop guard let {answered} answers through");
    let held = app
        .outbox()
        .into_iter()
        .filter(|r| r["state"] == "held")
        .count();
    assert_eq!(held, 7);
    // An hour later, a little more may go.
    app.append(&mail(
        "Accueil automatique <accueil@prestataire.example>",
        "Votre message n°99",
        "robot99@prestataire.example",
        "",
        "Merci.",
    ));
    app.run_at("2026-11-23T10:30:00Z");
    assert_eq!(app.sent_to("accueil@prestataire.example").len(), 6);
}

fn oversized_attachments_are_refused_and_the_sender_told(db: Db) {
    let app = TestApp::start_with(db, "max_attachment_size = \"2KiB\"\n");
    let big = "A".repeat(4000);
    let raw = format!(
        "From: {JEANNE}\nTo: support@example.test\nSubject: Scan du dossier\nMessage-ID: <big1@mairie-exemple.fr>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain; charset=utf-8\n\nVoici le scan et la note.\n--b\nContent-Type: application/pdf; name=\"scan.pdf\"\nContent-Disposition: attachment; filename=\"scan.pdf\"\n\n{big}\n--b\nContent-Type: text/plain; name=\"note.txt\"\nContent-Disposition: attachment; filename=\"note.txt\"\n\npetite note\n--b--\n"
    );
    app.append(raw.as_bytes());
    app.run_once();
    let t = app.ticket(1);
    let files: Vec<&str> = t["messages"][0]["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["filename"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["note.txt"]);
    assert_eq!(app.kinds(1), ["initial", "system"]);
    assert!(t["messages"][1]["body"]
        .as_str()
        .unwrap()
        .contains("scan.pdf"));
    let to_jeanne = app.sent_to(JEANNE_ADDR);
    assert_eq!(to_jeanne.len(), 2, "acknowledgement and refusal notice");
    assert!(to_jeanne
        .iter()
        .any(|m| m.body.contains("scan.pdf") && m.body.contains("2 Ko")));
}

/// The whole mail over `max_message_size`: the ticket is opened with the
/// text, no attachment is kept, and the sender is told which file was
/// not kept and why.
fn a_mail_over_the_message_size_keeps_its_text_only(db: Db) {
    let app = TestApp::start_with(db, "max_message_size = \"3KiB\"\n");
    let scan = "QUJD".repeat(1000);
    let raw = format!(
        "From: {JEANNE}\nTo: support@example.test\nSubject: Plans du bâtiment\nMessage-ID: <whole1@mairie-exemple.fr>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain; charset=utf-8\n\nVoici les plans du rez-de-chaussée.\n--b\nContent-Type: image/png; name=\"plan.png\"\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=\"plan.png\"\n\n{scan}\n--b--\n"
    );
    app.append(raw.as_bytes());
    app.run_once();
    let t = app.ticket(1);
    assert!(t["messages"][0]["body"]
        .as_str()
        .unwrap()
        .contains("plans du rez-de-chaussée"));
    assert_eq!(t["messages"][0]["attachments"], serde_json::json!([]));
    assert_eq!(app.kinds(1), ["initial", "system"]);
    let to_jeanne = app.sent_to(JEANNE_ADDR);
    assert_eq!(to_jeanne.len(), 2, "acknowledgement and refusal notice");
    assert!(
        to_jeanne
            .iter()
            .any(|m| m.body.contains("plan.png") && m.body.contains("3 Ko")),
        "{:?}",
        to_jeanne.iter().map(|m| &m.body).collect::<Vec<_>>()
    );
}

/// A robot that answers every mail it gets, each time with a new
/// Message-ID and no header saying it is a robot. Keeping our reference,
/// its answers are follow-ups that nobody answers: one mail goes to it in
/// all. Dropping reference and threading, each answer looks like a new
/// request: the loop guard stops it at `max_auto_per_hour`, and since
/// held mail never reaches the robot, the ping-pong dies out.
fn a_robot_answering_our_mail_never_loops(db: Db) {
    let app = TestApp::start(db);
    for (robot, keeps_reference) in [
        ("accueil@prestataire.example", true),
        ("standard@sous-traitant.example", false),
    ] {
        app.append(&mail(
            &format!("Accueil <{robot}>"),
            "Contrat de maintenance des copieurs",
            &format!("first.{robot}"),
            "",
            "Bonjour, voici notre question sur le contrat.",
        ));
        let mut answered = 0;
        for round in 0..10 {
            app.run_at(&format!("2026-11-23T09:{:02}:00Z", round * 3));
            let received = app.sent_to(robot);
            for m in &received[answered..] {
                let (subject, headers) = if keeps_reference {
                    (
                        format!("RE: {}", m.subject),
                        format!(
                            "In-Reply-To: <{}>\nReferences: <{}>\n",
                            m.message_id, m.message_id
                        ),
                    )
                } else {
                    ("Votre message a bien été reçu".to_string(), String::new())
                };
                app.append(&mail(
                    &format!("Accueil <{robot}>"),
                    &subject,
                    &format!("round{round}.{}.{robot}", m.message_id.len()),
                    &headers,
                    "Merci pour votre message. Nous vous répondrons rapidement.",
                ));
            }
            answered = received.len();
        }
        let sent = app.sent_to(robot).len();
        if keeps_reference {
            assert_eq!(sent, 1, "{robot}: only the first acknowledgement");
            assert_eq!(app.kinds(1)[0], "initial");
            assert!(app.kinds(1).iter().skip(1).all(|k| k == "followup"));
        } else {
            assert_eq!(sent, 5, "{robot}: {sent} mails, the hourly cap is 5");
        }
    }
    assert_eq!(
        app.count("INBOX"),
        0,
        "the robots' last answers were read too"
    );
}

/// At most `max_auto_per_day` automatic answers to one address in any 24
/// hours, however the hours fall; the next day it may write again.
fn the_daily_cap_holds_across_hours(db: Db) {
    let app = TestApp::start_with(db, "max_auto_per_hour = 3\nmax_auto_per_day = 5\n");
    let robot = "Notifications <notif@logiciel-rh.example>";
    let mut n = 0;
    let mut send = |app: &TestApp, count: usize, at: &str| {
        for _ in 0..count {
            n += 1;
            app.append(&mail(
                robot,
                &format!("Alerte n°{n}"),
                &format!("alert{n}@logiciel-rh.example"),
                "",
                "Une alerte.",
            ));
        }
        app.run_at(at);
        app.sent_to("notif@logiciel-rh.example").len()
    };
    assert_eq!(send(&app, 4, "2026-11-23T08:00:00Z"), 3, "hourly cap");
    assert_eq!(send(&app, 4, "2026-11-23T10:00:00Z"), 5, "daily cap");
    assert_eq!(
        send(&app, 2, "2026-11-23T20:00:00Z"),
        5,
        "still the same day"
    );
    assert_eq!(send(&app, 1, "2026-11-24T09:00:00Z"), 6, "the next day");
    let held = app.outbox_reasons("held");
    assert_eq!(held.len(), 5, "{held:?}");
    assert!(held.iter().any(|w| w.contains("last day")), "{held:?}");
}

#[test]
fn failed_mail_is_listed_and_retrying_it_does_not_loop() {
    let app = TestApp::start(Db::Sqlite);
    app.append(b"\x89PNG garbage that is no mail at all \xff\xfe");
    app.run_once();
    let failed: Vec<serde_json::Value> =
        serde_json::from_str(&app.ok(&["failed", "list", "--json"])).unwrap();
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0]["error"].as_str().unwrap().contains("no sender"),
        "{failed:?}"
    );
    let id = failed[0]["id"].as_i64().unwrap().to_string();
    let out = app.guichet(&["failed", "retry", &id]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("still fails"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1);
    // Still failed once, no ticket, nothing sent; later cycles leave it.
    app.run_once();
    let failed: Vec<serde_json::Value> =
        serde_json::from_str(&app.ok(&["failed", "list", "--json"])).unwrap();
    assert_eq!(failed.len(), 1);
    assert!(app.tickets().is_empty());
    assert!(app.sent().is_empty());
    assert_eq!(app.count("Failed"), 1);
}

/// A rule of the database that refuses every ticket whose subject holds
/// "poison", as a constraint of a desk's own would.
pub fn refuse_poison(app: &TestApp, db: Db) {
    app.sql(match db {
        Db::Sqlite => {
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON tickets \
             WHEN NEW.subject LIKE '%poison%' \
             BEGIN SELECT RAISE(ABORT, 'refused by a rule of this database'); END;"
        }
        Db::Postgres => {
            "CREATE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN \
             IF NEW.subject LIKE '%poison%' THEN \
             RAISE EXCEPTION 'refused by a rule of this database'; END IF; \
             RETURN NEW; END $$ LANGUAGE plpgsql; \
             CREATE TRIGGER refuse_poison BEFORE INSERT ON tickets \
             FOR EACH ROW EXECUTE FUNCTION refuse_poison();"
        }
    });
}

/// A mail the database itself refuses (here a rule of the database's own,
/// as a constraint would) is set aside in the failed mailbox; the mails
/// fetched in the same batch, before and after it, become tickets. Once
/// the rule is gone, `failed retry` makes its ticket.
fn a_mail_the_database_refuses_does_not_hold_its_batch(db: Db) {
    let app = TestApp::start(db);
    app.ok(&["migrate"]);
    refuse_poison(&app, db);
    for (i, subject) in ["Clavier cassé", "Un sujet poison", "Écran noir"]
        .iter()
        .enumerate()
    {
        app.append(&mail(
            &format!("agent{i}@mairie-exemple.fr"),
            subject,
            &format!("batch{i}@mairie-exemple.fr"),
            "",
            "Bonjour, merci de regarder.",
        ));
    }
    app.run_once();
    let subjects: Vec<String> = app
        .tickets()
        .iter()
        .map(|t| t["subject"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert!(!subjects.iter().any(|s| s.contains("poison")));
    assert_eq!(app.count("INBOX"), 0);
    assert_eq!(app.count("Failed"), 1);
    assert_eq!(app.sent_to("agent0@mairie-exemple.fr").len(), 1);
    assert_eq!(app.sent_to("agent1@mairie-exemple.fr").len(), 0);
    assert_eq!(app.sent_to("agent2@mairie-exemple.fr").len(), 1);
    let failed: Vec<serde_json::Value> =
        serde_json::from_str(&app.ok(&["failed", "list", "--json"])).unwrap();
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0]["error"]
            .as_str()
            .unwrap()
            .contains("refused by a rule of this database"),
        "{failed:?}"
    );

    app.sql(match db {
        Db::Sqlite => "DROP TRIGGER refuse_poison",
        Db::Postgres => "DROP TRIGGER refuse_poison ON tickets",
    });
    let id = failed[0]["id"].as_i64().unwrap().to_string();
    app.ok(&["failed", "retry", &id]);
    assert_eq!(app.tickets().len(), 3);
    let failed: Vec<serde_json::Value> =
        serde_json::from_str(&app.ok(&["failed", "list", "--json"])).unwrap();
    assert!(failed.is_empty(), "{failed:?}");
    app.run_once();
    assert_eq!(app.sent_to("agent1@mairie-exemple.fr").len(), 1);
}

/// The same through the MTA's pipe, three files in one `guichet ingest`:
/// the refused mail is kept as failed, the two others become tickets,
/// and the MTA is told all three were taken (exit 0: nothing to deliver
/// again).
fn piped_mail_the_database_refuses_is_kept_and_the_others_taken(db: Db) {
    let app = TestApp::start(db);
    app.ok(&["migrate"]);
    refuse_poison(&app, db);
    let files: Vec<String> = ["Clavier cassé", "Un sujet poison", "Écran noir"]
        .iter()
        .enumerate()
        .map(|(i, subject)| {
            let path = app.path().join(format!("piped{i}.eml"));
            let raw = mail(
                &format!("agent{i}@mairie-exemple.fr"),
                subject,
                &format!("piped{i}@mairie-exemple.fr"),
                "",
                "Bonjour, merci de regarder.",
            );
            std::fs::write(&path, raw).unwrap();
            path.display().to_string()
        })
        .collect();
    let mut args = vec!["ingest"];
    args.extend(files.iter().map(String::as_str));
    let out = app.ok(&args);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].ends_with("new ticket [SUPPORT #000001]"), "{out}");
    assert!(
        lines[1].contains("could not be processed, kept as raw mail")
            && lines[1].contains("refused by a rule of this database"),
        "{out}"
    );
    assert!(lines[2].contains("new ticket [SUPPORT #"), "{out}");
    let failed: Vec<serde_json::Value> =
        serde_json::from_str(&app.ok(&["failed", "list", "--json"])).unwrap();
    assert_eq!(failed.len(), 1, "{failed:?}");
    app.run_once();
    assert_eq!(app.sent_to("agent0@mairie-exemple.fr").len(), 1);
    assert_eq!(app.sent_to("agent1@mairie-exemple.fr").len(), 0);
    assert_eq!(app.sent_to("agent2@mairie-exemple.fr").len(), 1);
}

/// Every fixture of `fixtures/` appended to the real mailbox and run
/// through `run --once`: the mailbox is emptied, nothing fails or panics,
/// automatic mail is never answered and every person's mail is.
#[test]
fn every_fixture_through_the_bed() {
    use std::collections::HashMap;
    let app = TestApp::start_with(
        Db::Sqlite,
        "max_auto_per_hour = 1000\nmax_auto_per_day = 1000\n",
    );
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    names.sort();
    // Per sender address: (mails from people, automatic mails).
    let mut senders: HashMap<String, (usize, usize)> = HashMap::new();
    for eml in &names {
        let expected: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(eml.with_extension("expected.json")).unwrap(),
        )
        .unwrap();
        let from = expected["from"]["email"].as_str().unwrap().to_string();
        let entry = senders.entry(from).or_default();
        if expected["automatic"].is_null() {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
        app.append(&std::fs::read(eml).unwrap());
    }
    assert!(names.len() >= 50);
    let log = app.run_once();
    assert!(!log.contains("ERROR"), "{log}");
    assert_eq!(app.count("INBOX"), 0);
    assert_eq!(app.count("Failed"), 0);
    let sent = app.sent();
    for (address, (people, automatic)) in &senders {
        let answers = sent
            .iter()
            .filter(|m| &m.to == address && m.auto_submitted == "auto-replied")
            .count();
        if *people == 0 {
            assert_eq!(
                answers, 0,
                "{address} sent only automatic mail ({automatic}) and was answered"
            );
        } else {
            assert!(
                (1..=*people).contains(&answers),
                "{address}: {answers} answers to {people} mails"
            );
        }
    }
}
