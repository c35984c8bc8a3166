//! The mailbox and the relay as they really behave: TLS with a private CA,
//! a relay that is down or refuses, an IMAP connection that drops, polling
//! without IDLE. Database-independent: run on SQLite.

use std::process::Stdio;
use std::time::Duration;

use crate::app::{mail, Db, TestApp};

const JEANNE: &str = "Jeanne Martin <jeanne.martin@mairie-exemple.fr>";
const JEANNE_ADDR: &str = "jeanne.martin@mairie-exemple.fr";

fn request(app: &TestApp, id: &str) {
    // A subject of its own: the same subject again would join the ticket.
    let subject = format!("Imprimante hors ligne ({id})");
    app.append(&mail(
        JEANNE,
        &subject,
        id,
        "",
        "Bonjour,\nelle est hors ligne.",
    ));
}

#[test]
fn imap_over_implicit_tls_and_starttls_with_a_private_ca() {
    let app = TestApp::start_tls(Db::Sqlite);
    let ca = app.env["CA_FILE"].clone();
    let plain_port = format!("port = {}", app.env["IMAP_PORT"]);

    // Implicit TLS, the server named by its certificate's DNS name.
    app.edit_config(
        &format!("host = \"127.0.0.1\"\n{plain_port}\ntls = \"none\""),
        &format!(
            "host = \"localhost\"\nport = {}\ntls = \"implicit\"\nca_file = \"{ca}\"",
            app.env["IMAPS_PORT"]
        ),
    );
    assert!(app.ok(&["check"]).contains("imap: ok"));
    request(&app, "tls1@mairie-exemple.fr");
    app.run_once();
    assert_eq!(app.tickets().len(), 1);

    // STARTTLS on the plain port, the server named by its IP address.
    app.edit_config(
        &format!(
            "host = \"localhost\"\nport = {}\ntls = \"implicit\"",
            app.env["IMAPS_PORT"]
        ),
        &format!("host = \"127.0.0.1\"\n{plain_port}\ntls = \"starttls\""),
    );
    request(&app, "tls2@mairie-exemple.fr");
    let log = app.run_once();
    assert_eq!(app.tickets().len(), 2, "{log}");

    // Without the private CA, the certificate is refused, in one line.
    app.edit_config(&format!("ca_file = \"{ca}\"\n"), "");
    let out = app.guichet(&["run", "--once"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("certificate"), "{stderr}");
    assert_eq!(
        stderr
            .trim()
            .lines()
            .filter(|l| l.starts_with("guichet:"))
            .count(),
        1,
        "{stderr}"
    );
}

/// The relay over STARTTLS, its certificate signed by a private CA named
/// in `[smtp] ca_file`; without it, the mail waits in the outbox and the
/// reason says the certificate was refused.
#[test]
fn smtp_over_starttls_with_a_private_ca() {
    let app = TestApp::start_tls(Db::Sqlite);
    let ca = app.env["CA_FILE"].clone();
    let smtp_port = format!("port = {}\ntls = \"none\"\nfrom", app.env["SMTP_PORT"]);
    app.edit_config(
        &smtp_port,
        &format!(
            "port = {}\ntls = \"starttls\"\nca_file = \"{ca}\"\nfrom",
            app.env["SMTP_PORT"]
        ),
    );
    assert!(app.ok(&["check"]).contains("smtp: ok"));
    request(&app, "smtptls1@mairie-exemple.fr");
    app.run_once();
    assert_eq!(app.sent_to("jeanne.martin@mairie-exemple.fr").len(), 1);

    // Without the private CA the relay's certificate is refused: nothing
    // is sent, the mail waits with the reason.
    app.edit_config(&format!("ca_file = \"{ca}\"\nfrom"), "from");
    request(&app, "smtptls2@mairie-exemple.fr");
    app.run_once();
    assert_eq!(app.sent_to("jeanne.martin@mairie-exemple.fr").len(), 1);
    let waiting = app.outbox_reasons("pending");
    // The first row tried carries the reason; the others wait their turn.
    assert_eq!(waiting.len(), 2, "{waiting:?}");
    assert!(
        waiting
            .iter()
            .any(|e| e.contains("invalid peer certificate")),
        "{waiting:?}"
    );
}

#[test]
fn relay_down_then_back_delivers_everything_once() {
    let app = TestApp::start(Db::Sqlite);
    app.mailbed("smtp-stop", &[]);
    request(&app, "down1@mairie-exemple.fr");
    let log = app.run_at("2026-11-23T09:00:00Z");
    assert!(log.contains("will retry"), "{log}");
    // The ticket exists, the mail waits in the outbox with the reason.
    assert_eq!(app.tickets().len(), 1);
    let outbox = app.outbox();
    assert_eq!(outbox.len(), 2);
    assert!(outbox.iter().all(|r| r["state"] == "pending"));
    // Each waiting mail says why and until when, the untried one too.
    let reasons = app.outbox_reasons("pending");
    assert!(
        reasons
            .iter()
            .all(|e| e.contains("relay unreachable since 2026-11-23T09:00:00")),
        "{reasons:?}"
    );
    let listing = app.ok(&["outbox", "list"]);
    assert_eq!(
        listing.matches("retry at 2026-11-23T09:00:").count(),
        2,
        "{listing}"
    );

    // Before the retry time nothing is attempted, even with the relay back
    // and new mail due at once.
    app.mailbed("smtp-start", &[]);
    request(&app, "down2@mairie-exemple.fr");
    let log = app.run_at("2026-11-23T09:00:10Z");
    assert!(log.contains("next try at 2026-11-23T09:00:"), "{log}");
    assert_eq!(app.tickets().len(), 2);
    assert_eq!(app.sent().len(), 0);
    app.run_at("2026-11-23T10:00:00Z");
    assert_eq!(app.sent().len(), 4);
    app.run_at("2026-11-23T11:00:00Z");
    assert_eq!(app.sent().len(), 4, "sent twice");
    let outbox = app.outbox();
    assert!(outbox.iter().all(|r| r["state"] == "sent"));
    assert!(
        outbox.iter().all(|r| r["last_error"].is_null()),
        "{outbox:?}"
    );
}

/// An outage that lasts: each failed connection doubles the wait (30 s,
/// 1 min, 2 min, …), counted on the relay, not on each waiting mail;
/// `outbox retry` tries at once whatever the hold.
#[test]
fn a_long_outage_backs_off_and_outbox_retry_tries_now() {
    let app = TestApp::start(Db::Sqlite);
    app.mailbed("smtp-stop", &[]);
    request(&app, "long1@mairie-exemple.fr");
    let mut at = chrono::DateTime::parse_from_rfc3339("2026-11-23T09:00:00Z").unwrap();
    let mut waits = Vec::new();
    for _ in 0..4 {
        let log = app.run_at(&at.to_rfc3339());
        assert!(log.contains("relay unreachable, will retry"), "{log}");
        let next = app.outbox()[0]["next_attempt_at"]
            .as_str()
            .unwrap()
            .to_string();
        // Shown to the second, the fraction left out.
        let next = chrono::DateTime::parse_from_rfc3339(&next).unwrap();
        waits.push((next - at).num_seconds());
        // Just before the hold ends: nothing tried.
        let log = app.run_at(&(next - chrono::Duration::seconds(1)).to_rfc3339());
        assert!(!log.contains("will retry"), "{log}");
        assert!(log.contains("next try at"), "{log}");
        at = next + chrono::Duration::seconds(1);
    }
    for (wait, base) in waits.iter().zip([30, 60, 120, 240]) {
        assert!(
            (base - 1..=base + base / 10 + 1).contains(wait),
            "waits {waits:?}"
        );
    }
    // Every waiting mail has been tried once at most: the hold, not the
    // rows, carries the outage.
    let outbox = app.outbox();
    assert_eq!(
        outbox
            .iter()
            .map(|r| r["attempts"].as_i64().unwrap())
            .sum::<i64>(),
        4,
        "{outbox:?}"
    );
    app.mailbed("smtp-start", &[]);
    let out = app.ok(&["outbox", "retry"]);
    assert!(out.contains("2 sent"), "{out}");
    assert_eq!(app.sent().len(), 2);
}

#[test]
fn temporary_and_permanent_refusals() {
    let app = TestApp::start(Db::Sqlite);
    app.mailbed("smtp-reject", &["451"]);
    request(&app, "rej1@mairie-exemple.fr");
    app.run_at("2026-11-23T09:00:00Z");
    let outbox = app.outbox();
    assert!(outbox.iter().all(|r| r["state"] == "pending"), "{outbox:?}");

    app.mailbed("smtp-reject", &["550"]);
    app.run_at("2026-11-23T10:00:00Z");
    let outbox = app.outbox();
    assert!(outbox.iter().all(|r| r["state"] == "failed"), "{outbox:?}");
    assert!(outbox
        .iter()
        .all(|r| r["last_error"].as_str().unwrap().contains("550")));
    // Like a bounce: on the thread, the address set aside, the agents told
    // (their notice refused too here, and not answered in turn).
    assert_eq!(app.kinds(1), ["initial", "bounce"]);
    let notices: Vec<_> = outbox
        .iter()
        .filter(|r| r["kind"] == "agent_bounce")
        .collect();
    assert_eq!(notices.len(), 1, "{outbox:?}");
    assert_eq!(notices[0]["to"][0], "sau@example.test");
    // Permanent failures are not retried by themselves; by hand, at once.
    app.mailbed("smtp-reject", &["off"]);
    app.run_at("2026-11-24T10:00:00Z");
    assert_eq!(app.sent().len(), 0);
    let ack = outbox
        .iter()
        .find(|r| r["kind"] == "acknowledgement")
        .unwrap()["id"]
        .to_string();
    let out = app.ok(&["outbox", "retry", &ack]);
    assert!(out.contains("1 sent"), "{out}");
    assert_eq!(app.sent_to("jeanne.martin@mairie-exemple.fr").len(), 1);
}

/// The relay down while the daemon runs: it tries, then waits its
/// backoff (30 s first) instead of hammering the relay or spinning.
#[test]
fn a_relay_that_stays_down_is_not_hammered() {
    let app = TestApp::start(Db::Sqlite);
    app.mailbed("smtp-stop", &[]);
    request(&app, "hammer1@mairie-exemple.fr");
    let log_path = app.path().join("daemon.log");
    let mut child = app.daemon_command(&log_path).spawn().unwrap();
    assert!(app.wait_for(Duration::from_secs(15), || !app.tickets().is_empty()));
    std::thread::sleep(Duration::from_secs(6));
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.id())).unwrap();
    // utime and stime, in clock ticks (fields 14 and 15).
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let _ = child.wait();
    let log = std::fs::read_to_string(&log_path).unwrap();
    let tries = log.matches("relay unreachable").count();
    assert!((1..=2).contains(&tries), "{tries} tries in 6 s: {log}");
    // Well under a second of CPU for ~8 s of life, start-up included.
    assert!(ticks < 100, "{ticks} ticks of CPU: a busy loop? {log}");
    let pending: Vec<_> = app
        .outbox()
        .into_iter()
        .filter(|r| r["state"] == "pending")
        .collect();
    assert_eq!(pending.len(), 2, "everything kept for later");
}

/// `outbox retry` leaves alone a row another daemon has claimed and may be
/// sending, and sends one whose claim has run out (its daemon died).
#[test]
fn outbox_retry_and_claims() {
    let app = TestApp::start(Db::Sqlite);
    app.mailbed("smtp-stop", &[]);
    request(&app, "claim1@mairie-exemple.fr");
    app.run_once();
    app.mailbed("smtp-start", &[]);
    let ack = app
        .outbox()
        .into_iter()
        .find(|r| r["kind"] == "acknowledgement")
        .unwrap()["id"]
        .to_string();
    // Claimed a minute ago by a daemon of another machine: being sent.
    app.sql(&format!(
        "UPDATE outbox SET claimed_by = 'elsewhere:4242:beef', \
         next_attempt_at = datetime('now', '+4 minutes') WHERE id = {ack}"
    ));
    let out = app.guichet(&["outbox", "retry", &ack]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("being sent by a daemon"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(app.sent_to(JEANNE_ADDR).is_empty());
    // Its claim ran out: that daemon is gone, the row is free.
    app.sql(&format!(
        "UPDATE outbox SET next_attempt_at = datetime('now', '-1 minutes') WHERE id = {ack}"
    ));
    let out = app.ok(&["outbox", "retry", &ack]);
    assert!(out.contains("sent"), "{out}");
    assert_eq!(app.sent_to(JEANNE_ADDR).len(), 1);
}

/// The relay refuses one recipient for good and takes the others: only
/// that mail fails (recorded like a bounce, the agents told); the rest is
/// delivered, once.
#[test]
fn one_recipient_refused_for_good_the_others_delivered() {
    let app = TestApp::start(Db::Sqlite);
    app.mailbed(
        "smtp-reject",
        &["550", "rcpt", "jeanne.martin@mairie-exemple.fr"],
    );
    request(&app, "one1@mairie-exemple.fr");
    app.run_at("2026-11-23T09:00:00Z");
    app.run_at("2026-11-23T09:05:00Z");
    let outbox = app.outbox();
    let state_of = |kind: &str| -> Vec<String> {
        outbox
            .iter()
            .filter(|r| r["kind"] == kind)
            .map(|r| r["state"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(state_of("acknowledgement"), ["failed"], "{outbox:?}");
    assert_eq!(state_of("agent_new_ticket"), ["sent"], "{outbox:?}");
    assert_eq!(state_of("agent_bounce"), ["sent"], "{outbox:?}");
    assert!(app.sent_to("jeanne.martin@mairie-exemple.fr").is_empty());
    let to_desk = app.sent_to("sau@example.test");
    assert_eq!(to_desk.len(), 2, "new ticket and bounce notices, once each");
    assert_eq!(app.kinds(1), ["initial", "bounce"]);
}

/// Starts `guichet run`; returns the child.
fn daemon(app: &TestApp) -> std::process::Child {
    app.command()
        .arg("run")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn stop(app: &TestApp, child: std::process::Child) -> String {
    let _ = app;
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    stderr
}

#[test]
fn daemon_reconnects_when_the_imap_connection_drops() {
    let app = TestApp::start(Db::Sqlite);
    app.edit_config("poll_interval = \"1s\"", "poll_interval = \"10m\"");
    let child = daemon(&app);
    std::thread::sleep(Duration::from_millis(1500));
    let killed: usize = app.mailbed("imap-drop", &[]).trim().parse().unwrap();
    assert!(killed >= 1, "no IMAP session to drop");
    std::thread::sleep(Duration::from_millis(300));
    request(&app, "after-drop@mairie-exemple.fr");
    let got = app.wait_for(Duration::from_secs(15), || {
        app.sent_to(JEANNE_ADDR).len() == 1
    });
    let log = stop(&app, child);
    assert!(
        got,
        "mail not picked up after the connection dropped: {log}"
    );
    assert!(log.contains("reconnecting in"), "{log}");
    assert_eq!(log.matches("connected to the mailbox").count(), 2, "{log}");
}

/// A server without MOVE (RFC 6851): processed mail is copied to the
/// processed mailbox, flagged `\Deleted` and expunged by UID instead.
#[test]
fn a_server_without_move_gets_copy_and_expunge() {
    let app = TestApp::start(Db::Sqlite);
    // Dovecot announces what imap_capability lists: all it has but MOVE.
    let conf = std::path::PathBuf::from(&app.env["DOVECOT_CONF"]);
    let text = std::fs::read_to_string(&conf).unwrap()
        + "imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ UIDPLUS\n";
    std::fs::write(&conf, text).unwrap();
    app.mailbed("imap-stop", &[]);
    app.mailbed("imap-start", &[]);
    request(&app, "nomove1@mairie-exemple.fr");
    request(&app, "nomove2@mairie-exemple.fr");
    let child = daemon(&app);
    let got = app.wait_for(Duration::from_secs(15), || {
        app.sent_to(JEANNE_ADDR).len() == 2
    });
    let log = stop(&app, child);
    assert!(got, "{log}");
    assert!(log.contains("move=false"), "{log}");
    assert_eq!(app.tickets().len(), 2);
    assert_eq!(app.count("INBOX"), 0);
    assert_eq!(app.count("Processed"), 2);
}

#[test]
fn daemon_polls_when_idle_is_off() {
    let app = TestApp::start(Db::Sqlite);
    app.write_config("", "idle = false\n");
    let child = daemon(&app);
    std::thread::sleep(Duration::from_millis(500));
    request(&app, "poll1@mairie-exemple.fr");
    let got = app.wait_for(Duration::from_secs(10), || {
        app.sent_to(JEANNE_ADDR).len() == 1
    });
    let log = stop(&app, child);
    assert!(got, "{log}");
    assert!(log.contains("idle=false"), "{log}");
}

#[test]
fn delete_mode_expunges_processed_mail() {
    let app = TestApp::start(Db::Sqlite);
    app.write_config("", "after_processing = \"delete\"\n");
    request(&app, "del1@mairie-exemple.fr");
    app.run_once();
    assert_eq!(app.tickets().len(), 1);
    assert_eq!(app.count("INBOX"), 0);
    assert_eq!(app.count("Processed"), 0);
}

/// The test sink announces PIPELINING, so every other test sends with the
/// envelope pipelined; a relay that does not announce it gets one command
/// at a time, and the mail goes all the same.
#[test]
fn a_relay_without_pipelining_gets_one_command_at_a_time() {
    let app = TestApp::start(Db::Sqlite);
    app.mailbed("smtp-pipelining", &["off"]);
    request(&app, "nopipe1@mairie-exemple.fr");
    app.run_at("2026-11-23T09:00:00Z");
    assert_eq!(app.sent().len(), 2);
    // Refusals are read the same way.
    app.mailbed("smtp-reject", &["550", "rcpt", JEANNE_ADDR]);
    request(&app, "nopipe2@mairie-exemple.fr");
    app.run_at("2026-11-23T09:01:00Z");
    let states: Vec<_> = app
        .outbox()
        .iter()
        .map(|r| r["state"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        states.iter().filter(|s| *s == "failed").count(),
        1,
        "{states:?}"
    );
    assert_eq!(app.sent().len(), 4, "second notice and the bounce notice");
}

/// A mail for two recipients, one refused for good while the relay takes
/// the other and then DATA (pipelined, the answers come together): the
/// mail fails as a whole, as when each command waits for its answer, and
/// the connection is dropped before the final dot, so the recipient the
/// relay took gets nothing, not an empty mail. The next mail goes out on
/// a new connection.
#[test]
fn a_pipelined_mail_with_one_recipient_refused_is_not_half_sent() {
    let app = TestApp::start(Db::Sqlite);
    app.ok(&["migrate"]);
    let raw = "From: Support informatique <support@example.test>\r\nTo: a@mairie-exemple.fr, b@mairie-exemple.fr\r\nSubject: Deux destinataires\r\nMessage-ID: <two.guichet@example.test>\r\n\r\nBonjour.\r\n";
    app.sql(
        "INSERT INTO outbox (ticket_id, kind, message_id, sender, recipients, subject, state, attempts, next_attempt_at, created_at) \
         VALUES (NULL, 'alert', 'two.guichet@example.test', 'support@example.test', 'a@mairie-exemple.fr,b@mairie-exemple.fr', 'Deux destinataires', 'pending', 0, '2026-11-23 08:00:00', '2026-11-23 08:00:00')",
    );
    app.sql(&format!(
        "INSERT INTO outbox_bodies (outbox_id, raw) SELECT max(id), X'{}' FROM outbox",
        raw.bytes().map(|b| format!("{b:02X}")).collect::<String>()
    ));
    app.mailbed("smtp-reject", &["550", "rcpt", "a@mairie-exemple.fr"]);
    app.run_at("2026-11-23T09:00:00Z");
    let row = app.outbox().into_iter().next().unwrap();
    assert_eq!(row["state"], "failed", "{row:?}");
    assert!(
        row["last_error"].as_str().unwrap().contains("550"),
        "{row:?}"
    );
    assert!(app.sent().is_empty(), "{:?}", app.sent());
    app.mailbed("smtp-reject", &["off"]);
    request(&app, "after1@mairie-exemple.fr");
    app.run_at("2026-11-23T09:01:00Z");
    assert_eq!(app.sent().len(), 2);
}

/// Lines that start with a dot (a file name, an ellipsis, a lone dot)
/// come through the relay as written: SMTP's DATA doubles them on the
/// way and the relay takes the second away, and a lone dot does not end
/// the mail early.
#[test]
fn lines_starting_with_a_dot_arrive_as_written() {
    let app = TestApp::start(Db::Sqlite);
    app.append(&mail(
        JEANNE,
        "Fichier .bashrc effacé",
        "dots",
        "",
        "Bonjour,\n.bashrc a disparu après la mise à jour.\n.\n...\nMerci.",
    ));
    app.run_at("2026-11-23T09:00:00Z");
    let sent = app.sent();
    assert_eq!(sent.len(), 2, "acknowledgement and agents' notice");
    for m in &sent {
        let lines: Vec<&str> = m.body.lines().collect();
        for expected in [
            ".bashrc a disparu après la mise à jour.",
            ".",
            "...",
            "Merci.",
        ] {
            assert!(lines.contains(&expected), "{expected:?} in {}", m.body);
        }
    }
}
