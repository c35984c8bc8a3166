//! The core loop: support mailbox to tickets, follow-ups and
//! acknowledgements.

use std::time::Duration;

use crate::app::{mail, Db, TestApp};
use crate::on_both_databases;

const JEANNE: &str = "Jeanne Martin <jeanne.martin@mairie-exemple.fr>";
const JEANNE_ADDR: &str = "jeanne.martin@mairie-exemple.fr";

fn first_request(app: &TestApp) {
    app.append(&mail(
        JEANNE,
        "Imprimante du 2e étage en panne",
        "req1@mairie-exemple.fr",
        "",
        "Bonjour,\n\nL'imprimante du 2e étage affiche « bourrage » depuis ce matin.\n\nJeanne Martin\nService état civil",
    ));
}

on_both_databases!(
    new_ticket_acknowledged_and_agents_notified,
    english_acknowledgement,
    followup_by_subject_tag,
    followup_by_in_reply_to_only,
    same_mail_twice_makes_one_ticket,
    stranger_with_a_tag_opens_a_new_ticket,
    garbage_between_two_good_mails,
    agent_reply_reaches_the_requester,
    ingest_from_stdin,
    flag_mode_leaves_mail_in_place,
    daemon_picks_up_mail_with_idle_and_stops_on_sigterm,
);

fn new_ticket_acknowledged_and_agents_notified(db: Db) {
    let app = TestApp::start(db);
    first_request(&app);
    app.run_once();

    let list = app.tickets();
    assert_eq!(list.len(), 1);
    let t = app.ticket(1);
    assert_eq!(t["number"], 1);
    assert_eq!(t["reference"], "[SUPPORT #000001]");
    assert_eq!(t["status"], "new");
    assert_eq!(t["type"], "request");
    assert_eq!(t["subject"], "Imprimante du 2e étage en panne");
    assert_eq!(t["requester"]["email"], JEANNE_ADDR);
    assert_eq!(t["requester"]["name"], "Jeanne Martin");
    assert_eq!(t["organisation"], "mairie-exemple.fr");
    let messages = t["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["kind"], "initial");
    assert!(messages[0]["body"]
        .as_str()
        .unwrap()
        .contains("« bourrage »"));

    let ack = app.sent_to(JEANNE_ADDR);
    assert_eq!(ack.len(), 1, "{:?}", app.sent());
    assert_eq!(
        ack[0].subject,
        "[SUPPORT #000001] Imprimante du 2e étage en panne"
    );
    assert_eq!(ack[0].auto_submitted, "auto-replied");
    assert_eq!(ack[0].in_reply_to, "req1@mairie-exemple.fr");
    assert!(
        ack[0].body.contains("Votre demande a bien été enregistrée"),
        "{}",
        ack[0].body
    );
    assert!(ack[0].body.contains("[SUPPORT #000001]"));

    let notice = app.sent_to("sau@example.test");
    assert_eq!(notice.len(), 1);
    assert!(notice[0].subject.contains("Nouveau ticket"));
    assert_eq!(notice[0].auto_submitted, "auto-generated");
    assert!(notice[0].body.contains("bourrage"));

    assert_eq!(app.count("INBOX"), 0);
    assert_eq!(app.count("Processed"), 1);

    // A second cycle finds nothing new and sends nothing again.
    app.run_once();
    assert_eq!(app.sent().len(), 2);
    assert_eq!(app.tickets().len(), 1);
    let outbox: serde_json::Value =
        serde_json::from_str(&app.ok(&["outbox", "list", "--json"])).unwrap();
    assert!(outbox
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["state"] == "sent"));
}

fn english_acknowledgement(db: Db) {
    let app = TestApp::start_with(db, "language = \"en\"\n");
    app.append(&mail(
        "John Smith <j.smith@univ-exemple.fr>",
        "VPN access refused",
        "vpn1@univ-exemple.fr",
        "",
        "Hello,\nthe VPN refuses my password since Monday.",
    ));
    app.run_once();
    let ack = app.sent_to("j.smith@univ-exemple.fr");
    assert_eq!(ack.len(), 1);
    assert!(
        ack[0].body.contains("Your request has been recorded"),
        "{}",
        ack[0].body
    );
    assert_eq!(ack[0].subject, "[SUPPORT #000001] VPN access refused");
}

fn followup_by_subject_tag(db: Db) {
    let app = TestApp::start(db);
    first_request(&app);
    app.run_once();
    let replies = [
        ("RE : [SUPPORT #000001] Imprimante du 2e étage en panne", "Le toner est neuf.\n\nLe lun. 23 nov. 2026 à 09:20, Support informatique <support@example.test> a écrit :\n> Bonjour,\n> avez-vous changé le toner ?"),
        ("TR: [SUPPORT #1] Imprimante", "Je transfère la photo.\n\n-----Original Message-----\nFrom: Support\nSent: Monday\n\nold"),
        ("AW: [support #0001] Imprimante", "Toujours bloqué.\n\nOn Mon, 23 Nov 2026 at 09:20, Support wrote:\n> Merci"),
        ("Fwd: [SUPPORT #000001]", "Encore moi.\n> cité"),
    ];
    for (i, (subject, body)) in replies.iter().enumerate() {
        app.append(&mail(
            JEANNE,
            subject,
            &format!("r{i}@mairie-exemple.fr"),
            "",
            body,
        ));
    }
    app.run_once();
    assert_eq!(app.tickets().len(), 1, "replies must not open tickets");
    let t = app.ticket(1);
    let messages = t["messages"].as_array().unwrap();
    let bodies: Vec<&str> = messages
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), 5);
    assert!(messages[1..].iter().all(|m| m["kind"] == "followup"));
    assert_eq!(
        &bodies[1..],
        &[
            "Le toner est neuf.",
            "Je transfère la photo.",
            "Toujours bloqué.",
            "Encore moi."
        ]
    );
    // Each follow-up is told to the agents, never acknowledged again.
    assert_eq!(app.sent_to("sau@example.test").len(), 5);
    assert_eq!(app.sent_to(JEANNE_ADDR).len(), 1);
}

fn followup_by_in_reply_to_only(db: Db) {
    let app = TestApp::start(db);
    first_request(&app);
    app.run_once();
    let ack = &app.sent_to(JEANNE_ADDR)[0];
    let headers = format!(
        "In-Reply-To: <{}>\nReferences: <req1@mairie-exemple.fr> <{}>\n",
        ack.message_id, ack.message_id
    );
    app.append(&mail(
        JEANNE,
        "merci",
        "r9@mairie-exemple.fr",
        &headers,
        "Voici le numéro de série : XK-2231.",
    ));
    app.run_once();
    assert_eq!(app.tickets().len(), 1);
    let t = app.ticket(1);
    assert_eq!(t["messages"][1]["kind"], "followup");
    assert_eq!(
        t["messages"][1]["body"],
        "Voici le numéro de série : XK-2231."
    );
}

fn same_mail_twice_makes_one_ticket(db: Db) {
    let app = TestApp::start(db);
    first_request(&app);
    first_request(&app);
    app.run_once();
    // Seen again in a later cycle (delivered a second time).
    first_request(&app);
    app.run_once();
    assert_eq!(app.tickets().len(), 1);
    assert_eq!(app.ticket(1)["messages"].as_array().unwrap().len(), 1);
    assert_eq!(app.sent_to(JEANNE_ADDR).len(), 1);
    assert_eq!(app.count("INBOX"), 0);
}

fn stranger_with_a_tag_opens_a_new_ticket(db: Db) {
    let app = TestApp::start(db);
    first_request(&app);
    app.run_once();
    app.append(&mail(
        "Curieux <curieux@ailleurs.example>",
        "RE: [SUPPORT #000001] Imprimante du 2e étage en panne",
        "s1@ailleurs.example",
        "",
        "Je voudrais voir ce ticket.",
    ));
    app.run_once();
    assert_eq!(app.ticket(1)["messages"].as_array().unwrap().len(), 1);
    let t2 = app.ticket(2);
    assert_eq!(t2["requester"]["email"], "curieux@ailleurs.example");
    assert_eq!(t2["subject"], "Imprimante du 2e étage en panne");
    let to_stranger = app.sent_to("curieux@ailleurs.example");
    assert_eq!(to_stranger.len(), 1);
    assert!(to_stranger[0].subject.starts_with("[SUPPORT #000002]"));
    assert!(!to_stranger[0].subject.contains("#000001"));
    assert!(
        !to_stranger[0].body.contains("bourrage"),
        "ticket 1's content leaked"
    );
}

fn garbage_between_two_good_mails(db: Db) {
    let app = TestApp::start(db);
    first_request(&app);
    let garbage: Vec<u8> = (1..3000u32)
        .map(|i| match (i * 7919 % 251) as u8 {
            0 | b'\r' | b'\n' => b'x',
            b => b,
        })
        .collect();
    app.append(&garbage);
    app.append(&mail(
        "Paul Durand <p.durand@mairie-exemple.fr>",
        "Wi-Fi salle du conseil",
        "wifi@mairie-exemple.fr",
        "",
        "Le Wi-Fi ne passe plus dans la salle du conseil.",
    ));
    let log = app.run_once();
    assert_eq!(app.tickets().len(), 2, "{log}");
    assert_eq!(app.count("INBOX"), 0);
    assert_eq!(app.count("Failed"), 1);
    assert_eq!(app.count("Processed"), 2);
    assert!(log.contains("unreadable mail kept"), "{log}");
    // Only the two good mails were answered.
    assert_eq!(app.sent().len(), 4);
}

fn agent_reply_reaches_the_requester(db: Db) {
    let app = TestApp::start(db);
    app.ok(&["agents", "add", "Marc.Agent@example.test", "--name", "Marc"]);
    assert!(app
        .ok(&["agents", "list"])
        .contains("marc.agent@example.test\tMarc"));
    first_request(&app);
    app.run_once();
    let notice = &app.sent_to("sau@example.test")[0];
    let headers = format!("In-Reply-To: <{}>\n", notice.message_id);
    app.append(&mail(
        "Marc <marc.agent@example.test>",
        "RE: [SUPPORT #000001] Nouveau ticket : Imprimante du 2e étage en panne",
        "a1@example.test",
        &headers,
        "Bonjour, pouvez-vous ouvrir le capot et retirer la feuille coincée ?\n\n-- \nMarc, support",
    ));
    app.run_once();
    let t = app.ticket(1);
    assert_eq!(t["status"], "in_progress");
    assert_eq!(t["messages"][1]["kind"], "agent_reply");
    let to_requester = app.sent_to(JEANNE_ADDR);
    assert_eq!(to_requester.len(), 2);
    assert_eq!(
        to_requester[1].subject,
        "[SUPPORT #000001] Imprimante du 2e étage en panne"
    );
    assert!(to_requester[1].body.contains("retirer la feuille coincée"));
    assert!(
        !to_requester[1].body.contains("marc.agent@"),
        "agent address exposed"
    );
}

fn ingest_from_stdin(db: Db) {
    use std::io::Write;
    let app = TestApp::start(db);
    let mut child = app
        .command()
        .arg("ingest")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&mail(
            JEANNE,
            "Badge perdu",
            "badge@mairie-exemple.fr",
            "",
            "J'ai perdu mon badge.",
        ))
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("new ticket [SUPPORT #000001]"));
    assert_eq!(app.ticket(1)["subject"], "Badge perdu");
    // The acknowledgement waits in the outbox until the daemon sends it.
    app.run_once();
    assert_eq!(app.sent_to(JEANNE_ADDR).len(), 1);

    // A database that cannot be reached: the MTA must keep the mail (75).
    let broken = app.path().join("broken.toml");
    let text = std::fs::read_to_string(&app.config_path)
        .unwrap()
        .replace(&app.database_url, "postgres://nobody@127.0.0.1:1/none");
    std::fs::write(&broken, text).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_guichet"))
        .arg("--config")
        .arg(&broken)
        .arg("ingest")
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"From: a@b.example\n\nx\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(75));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

fn flag_mode_leaves_mail_in_place(db: Db) {
    let app = TestApp::start(db);
    app.write_config("", "after_processing = \"flag\"\n");
    first_request(&app);
    app.run_once();
    assert_eq!(app.count("INBOX"), 1);
    app.append(&mail(
        JEANNE,
        "Autre demande",
        "req2@mairie-exemple.fr",
        "",
        "Et le scanner aussi.",
    ));
    app.run_once();
    app.run_once();
    assert_eq!(app.tickets().len(), 2);
    assert_eq!(app.sent_to(JEANNE_ADDR).len(), 2);
    assert_eq!(app.count("INBOX"), 2);
}

fn daemon_picks_up_mail_with_idle_and_stops_on_sigterm(db: Db) {
    let app = TestApp::start(db);
    // A long poll interval: only IDLE can bring the mail in quickly.
    app.write_config("", "");
    let text = std::fs::read_to_string(&app.config_path)
        .unwrap()
        .replace("poll_interval = \"1s\"", "poll_interval = \"10m\"");
    std::fs::write(&app.config_path, text).unwrap();
    let daemon = app
        .command()
        .arg("run")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Let it connect and enter IDLE.
    std::thread::sleep(Duration::from_millis(1500));
    first_request(&app);
    let got = app.wait_for(Duration::from_secs(10), || {
        app.sent_to(JEANNE_ADDR).len() == 1
    });
    let pid = daemon.id().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let out = daemon.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(got, "no acknowledgement within 10 s: {stderr}");
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("idle=true"), "{stderr}");
    assert!(stderr.contains("stopped"), "{stderr}");
}

#[test]
fn bad_config_reports_every_problem_on_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[database]\nurl = \"mysql://x\"\n[imap]\nhost = \"imap.example.org\"\nport = 0\ntls = \"none\"\nusername = \"u\"\npassword_file = \"/nonexistent/pw\"\nfolder = \"INBOX\"\n[smtp]\nhost = \"smtp.example.org\"\nfrom = \"not an address\"\n[tickets]\nlanguage = \"de\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_guichet"))
        .arg("--config")
        .arg(&path)
        .arg("check")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    for key in [
        "database.url",
        "imap.port",
        "imap.tls",
        "imap.folder: unknown key",
        "smtp.from",
        "tickets.language",
    ] {
        assert!(stdout.contains(key), "{key} missing from: {stdout}");
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_guichet"))
        .arg("--config")
        .arg(&path)
        .arg("run")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("imap.port") && stderr.contains("tickets.language"),
        "{stderr}"
    );
    // The password file is read when it is used: with the rest fixed,
    // `run` says it cannot read it, still in one line.
    std::fs::write(
        &path,
        "[database]\nurl = \"sqlite:///nonexistent-dir/g.db\"\n[imap]\nhost = \"127.0.0.1\"\ntls = \"none\"\nusername = \"u\"\npassword_file = \"/nonexistent/pw\"\n[smtp]\nhost = \"127.0.0.1\"\ntls = \"none\"\nfrom = \"Support <support@example.test>\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_guichet"))
        .arg("--config")
        .arg(&path)
        .arg("run")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("imap.password_file: cannot read the password file /nonexistent/pw"),
        "{stderr}"
    );
}

#[test]
fn check_reports_each_part() {
    let app = TestApp::start(Db::Sqlite);
    app.ok(&["migrate"]);
    let out = app.ok(&["check"]);
    for line in ["config: ok", "database: ok", "imap: ok", "smtp: ok"] {
        assert!(out.contains(line), "{line} missing from: {out}");
    }
    let text = std::fs::read_to_string(&app.config_path)
        .unwrap()
        .replace("password = \"secret\"", "password = \"wrong\"");
    std::fs::write(&app.config_path, text).unwrap();
    let out = app.guichet(&["check"]);
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("imap: FAILED: 127.0.0.1:") && stdout.contains(": IMAP login refused"),
        "{stdout}"
    );

    // The relay down and the database gone: each says so on its line,
    // and the other parts are still checked.
    app.mailbed("smtp-stop", &[]);
    app.edit_config(
        &format!("url = \"{}\"", app.database_url),
        "url = \"sqlite:///nonexistent-dir/guichet.db\"",
    );
    let out = app.guichet(&["check"]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("config: ok"), "{text}");
    assert!(
        text.contains("database: FAILED:") && text.contains("does not exist"),
        "{text}"
    );
    assert!(text.contains("imap: FAILED"), "{text}");
    assert!(text.contains("smtp: FAILED: 127.0.0.1:"), "{text}");
    assert_eq!(text.lines().count(), 4, "one line each: {text}");
}

/// Without --config, GUICHET_CONFIG names the file; without either, the
/// default path is named in the one-line error.
#[test]
fn the_config_file_from_the_environment() {
    let app = TestApp::start(Db::Sqlite);
    app.ok(&["migrate"]);
    let run = |env: Option<&std::path::Path>| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_guichet"));
        c.args(["tickets", "list"]).env_remove("GUICHET_CONFIG");
        if let Some(path) = env {
            c.env("GUICHET_CONFIG", path);
        }
        c.output().unwrap()
    };
    let out = run(Some(&app.config_path));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/etc/guichet/guichet.toml"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
