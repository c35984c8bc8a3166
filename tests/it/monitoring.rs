//! What the administrators rely on to know the desk is served: `guichet
//! status` (Nagios plugin codes), one alert per incident of silence kept
//! across restarts, and its end told; the retention purge and the backup.

use std::process::Stdio;
use std::time::Duration;

use crate::app::{mail, Db, TestApp};
use crate::on_both_databases;

const ADMIN: &str = "admin@example.test";

fn request(n: usize) -> Vec<u8> {
    mail(
        &format!("Agent {n} <agent{n}@mairie-exemple.fr>"),
        &format!("Poste {n} : écran noir"),
        &format!("monitoring{n}@mairie-exemple.fr"),
        "",
        "Bonjour,\nmon écran reste noir depuis ce matin.\nMerci",
    )
}

fn with_alerts(app: &TestApp, after: &str) {
    let text = std::fs::read_to_string(&app.config_path).unwrap()
        + &format!("\n[alerts]\nto = [\"{ADMIN}\"]\nafter = \"{after}\"\n");
    std::fs::write(&app.config_path, text).unwrap();
}

/// `guichet status`: its exit code and its lines.
fn status(app: &TestApp) -> (i32, String) {
    let out = app.guichet(&["status"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.stderr.is_empty() || !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn line<'a>(text: &'a str, item: &str) -> &'a str {
    text.lines()
        .skip(1)
        .find(|l| {
            l.split_once(' ')
                .is_some_and(|(_, rest)| rest.starts_with(&format!("{item}:")))
        })
        .unwrap_or_else(|| panic!("no {item} line in:\n{text}"))
}

fn alerts_in_outbox(app: &TestApp) -> Vec<String> {
    app.outbox()
        .into_iter()
        .filter(|r| r["kind"] == "alert")
        .map(|r| r["subject"].as_str().unwrap().to_string())
        .collect()
}

/// The mailbox cannot be read: WARNING at once, CRITICAL and one alert
/// past `[alerts] after`, none again on the next runs (another process
/// each time, as after a restart), and one mail when it is read again.
fn a_silent_mailbox_is_alerted_once_and_its_end_told(db: Db) {
    let app = TestApp::start(db);
    with_alerts(&app, "2s");
    let (code, text) = status(&app);
    assert_eq!(
        code, 1,
        "a database without its tables is a WARNING:\n{text}"
    );
    assert!(
        line(&text, "database").contains("guichet migrate"),
        "{text}"
    );
    app.ok(&["migrate"]);
    let (code, text) = status(&app);
    assert_eq!(code, 1, "nothing recorded yet is a WARNING:\n{text}");
    assert!(line(&text, "mailbox").contains("never read"), "{text}");

    app.append(&request(1));
    app.mailbed("imap-stop", &[]);
    let out = app.guichet(&["run", "--once"]);
    assert!(!out.status.success(), "the fetch failed, and says so");
    let (code, text) = status(&app);
    assert_eq!(code, 1, "failing for less than [alerts] after:\n{text}");
    assert!(line(&text, "mailbox").starts_with("WARNING"), "{text}");
    assert!(alerts_in_outbox(&app).is_empty());

    std::thread::sleep(Duration::from_millis(2500));
    let out = app.guichet(&["run", "--once"]);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("ALERT: the support mailbox has not been read"),
        "{log}"
    );
    let (code, text) = status(&app);
    assert_eq!(code, 2, "{text}");
    assert!(text.starts_with("guichet CRITICAL: mailbox:"), "{text}");
    assert!(
        line(&text, "mailbox").contains("administrators were alerted"),
        "{text}"
    );
    // The alert left at once: the relay works.
    let alerts = app.sent_to(ADMIN);
    assert_eq!(
        alerts.len(),
        1,
        "{:?}",
        alerts.iter().map(|a| &a.subject).collect::<Vec<_>>()
    );
    assert!(
        alerts[0].subject.contains("ALERTE"),
        "{}",
        alerts[0].subject
    );
    assert!(alerts[0].body.contains("IMAP I/O"), "{}", alerts[0].body);

    // Further runs, each a new process: the incident is told once.
    for _ in 0..2 {
        let _ = app.guichet(&["run", "--once"]);
    }
    assert_eq!(app.sent_to(ADMIN).len(), 1);

    app.mailbed("imap-start", &[]);
    app.run_once();
    let told = app.sent_to(ADMIN);
    assert_eq!(
        told.len(),
        2,
        "{:?}",
        told.iter().map(|a| &a.subject).collect::<Vec<_>>()
    );
    assert!(told[1].subject.contains("RÉTABLI"), "{}", told[1].subject);
    assert_eq!(app.tickets().len(), 1, "the waiting request was read");
    let (code, text) = status(&app);
    assert_eq!(code, 0, "{text}");
    assert!(text.starts_with("guichet OK"), "{text}");
    for item in ["database", "mailbox", "relay", "outbox", "failed"] {
        assert!(line(&text, item).starts_with("OK "), "{item}: {text}");
    }
    app.run_once();
    assert_eq!(app.sent_to(ADMIN).len(), 2, "the end is told once");
}

/// The relay refuses connections: the outbox holds the mail, `status`
/// says WARNING then CRITICAL at once, the alert is queued once (it can
/// only leave through that relay), and when the relay is back the mail,
/// the alert and the end of the incident all leave.
fn a_relay_down_is_alerted_once_and_its_end_told(db: Db) {
    let app = TestApp::start(db);
    with_alerts(&app, "2s");
    app.mailbed("smtp-stop", &[]);
    app.append(&request(2));
    app.run_once();
    let (code, text) = status(&app);
    assert_eq!(code, 1, "{text}");
    assert!(line(&text, "relay").contains("unreachable for"), "{text}");
    assert!(line(&text, "outbox").contains("2 mails waiting"), "{text}");

    std::thread::sleep(Duration::from_millis(2500));
    // A later pass finds the hold older than [alerts] after.
    let log = app.run_once();
    assert!(log.contains("ALERT: the relay"), "{log}");
    let (code, text) = status(&app);
    assert_eq!(code, 2, "{text}");
    assert!(line(&text, "relay").starts_with("CRITICAL"), "{text}");
    app.run_once();
    assert_eq!(alerts_in_outbox(&app).len(), 1, "one alert per incident");

    app.mailbed("smtp-start", &[]);
    app.ok(&["outbox", "retry"]);
    let told = app.sent_to(ADMIN);
    let subjects: Vec<&str> = told.iter().map(|a| a.subject.as_str()).collect();
    assert_eq!(told.len(), 2, "{subjects:?}");
    assert!(
        subjects
            .iter()
            .any(|s| s.contains("ALERTE : le serveur d'envoi")),
        "{subjects:?}"
    );
    assert!(
        subjects.iter().any(|s| s.contains("RÉTABLI")),
        "{subjects:?}"
    );
    assert_eq!(
        app.sent_to("agent2@mairie-exemple.fr").len(),
        1,
        "the acknowledgement left"
    );
    let (code, text) = status(&app);
    assert_eq!(code, 0, "{text}");
}

/// `status --json` and an unreadable configuration (UNKNOWN, 3).
fn status_speaks_json_and_unknown(db: Db) {
    let app = TestApp::start(db);
    app.append(&request(3));
    app.run_once();
    let out = app.guichet(&["status", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "OK");
    assert_eq!(v["code"], 0);
    let items: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["item"].as_str().unwrap())
        .collect();
    assert_eq!(items, ["database", "mailbox", "relay", "outbox", "failed"]);

    // A mail that cannot be read is a WARNING for a day.
    app.append(b"From: <broken@mairie-exemple.fr>\nContent-Type: multipart/mixed\n\n");
    app.run_once();
    let (code, text) = status(&app);
    if app.ok(&["failed", "list"]).trim().is_empty() {
        assert_eq!(code, 0, "{text}");
    } else {
        assert_eq!(code, 1, "{text}");
        assert!(
            line(&text, "failed").contains("in the last 24 hours"),
            "{text}"
        );
    }

    app.edit_config("[smtp]", "[smtp]\ncolour = \"blue\"");
    let out = app.guichet(&["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.starts_with("guichet UNKNOWN: configuration:"),
        "{text}"
    );
    assert!(text.contains("smtp.colour"), "{text}");
}

on_both_databases!(
    a_silent_mailbox_is_alerted_once_and_its_end_told,
    a_relay_down_is_alerted_once_and_its_end_told,
    status_speaks_json_and_unknown,
);

/// The daemon: a login that keeps failing raises one alert, not one per
/// retry; a restart with the same wrong password none more; and the fixed
/// password one mail saying it works again.
#[test]
fn the_daemon_alerts_once_across_restarts() {
    let app = TestApp::start(Db::Sqlite);
    app.edit_config("password = \"secret\"", "password = \"wrong\"");
    with_alerts(&app, "2s");
    // Runs the daemon until `done` holds (or 30 s), then stops it.
    let run = |done: &dyn Fn() -> bool| {
        let child = app
            .command()
            .arg("run")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        app.wait_for(Duration::from_secs(30), done);
        std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        String::from_utf8_lossy(&child.wait_with_output().unwrap().stderr).into_owned()
    };
    // Until the alert, then a few retries more.
    let alerted = std::cell::Cell::new(None);
    let log = run(&|| {
        if alerted.get().is_none() && !app.sent_to(ADMIN).is_empty() {
            alerted.set(Some(std::time::Instant::now()));
        }
        alerted
            .get()
            .is_some_and(|t| t.elapsed() > Duration::from_secs(4))
    });
    let alerts = app.sent_to(ADMIN);
    assert_eq!(alerts.len(), 1, "one alert, not one per retry: {log}");
    assert!(
        alerts[0].subject.contains("ALERTE"),
        "{}",
        alerts[0].subject
    );
    assert_eq!(log.matches("ALERT").count(), 1, "{log}");
    assert!(log.contains("IMAP login refused"), "{log}");
    assert!(
        alerts[0].body.contains("login refused"),
        "{}",
        alerts[0].body
    );
    // A restart, long enough for several failed logins.
    let started = std::time::Instant::now();
    let log = run(&|| started.elapsed() > Duration::from_secs(8));
    assert!(!log.contains("ALERT"), "{log}");
    assert_eq!(app.sent_to(ADMIN).len(), 1, "a restart repeats no alert");
    app.edit_config("password = \"wrong\"", "password = \"secret\"");
    let log = run(&|| app.sent_to(ADMIN).len() == 2);
    assert_eq!(app.sent_to(ADMIN).len(), 2, "{log}");
    assert!(app.sent_to(ADMIN)[1].subject.contains("RÉTABLI"));
    let (code, text) = status(&app);
    assert_eq!(code, 0, "{text}");
}

const MARC: &str = "Marc Agent <marc.agent@example.test>";

/// A request with a file: `shared` is the same screenshot in both
/// tickets, so it must outlive the first one's purge.
fn request_with_file(n: usize, shared: bool) -> Vec<u8> {
    let own = format!("capture du poste {n}").repeat(40);
    let content: &[u8] = if shared {
        b"the same screenshot bytes"
    } else {
        own.as_bytes()
    };
    crate::app::mail_with_files(
        &format!("Agent {n} <agent{n}@mairie-exemple.fr>"),
        &format!("Poste {n} : écran noir"),
        &format!("purge{n}@mairie-exemple.fr"),
        "",
        "Bonjour,\nmon écran reste noir, capture jointe.\nMerci",
        &[crate::app::FileOf {
            name: if shared { "ecran.png" } else { "poste.txt" },
            content_type: "application/octet-stream",
            content,
            inline_id: None,
        }],
    )
}

/// `purge --closed-before`: a dry run changes nothing; the purge deletes
/// the closed tickets with their thread, raw mails, sent mail and the
/// files no other ticket uses, and leaves the open ones whole; numbers
/// are never given again. `[retention] closed_tickets` does it daily.
fn purge_deletes_closed_tickets_and_what_is_theirs(db: Db) {
    let app = TestApp::start(db);
    app.ok(&["agents", "add", "marc.agent@example.test", "--name", "Marc"]);
    app.append(&request_with_file(1, true));
    app.append(&request_with_file(2, true));
    app.append(&request_with_file(3, false));
    app.run_at("2026-01-05T08:00:00Z");
    assert_eq!(app.tickets().len(), 3);
    // Tickets 1 and 3 closed by an agent in January.
    for n in [1, 3] {
        let notice = app
            .sent_to("sau@example.test")
            .into_iter()
            .find(|m| m.subject.contains(&format!("#{n:06}")))
            .unwrap();
        app.reply(&notice, MARC, "#close Réglé.", "");
    }
    app.run_at("2026-01-06T08:00:00Z");
    let statuses: Vec<String> = app
        .tickets()
        .iter()
        .map(|t| t["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| *s == "closed").count(),
        2,
        "{statuses:?}"
    );

    let dry = app.ok(&["purge", "--closed-before", "2026-02-01", "--dry-run"]);
    assert!(dry.starts_with("would delete: 2 ticket(s)"), "{dry}");
    assert_eq!(app.tickets().len(), 3, "a dry run deletes nothing");

    let none = app.ok(&["purge", "--closed-before", "2026-01-02"]);
    assert!(none.starts_with("deleted: 0 ticket(s)"), "{none}");

    let done = app.ok(&["purge", "--closed-before", "2026-02-01"]);
    assert!(done.starts_with("deleted: 2 ticket(s)"), "{done}");
    assert!(done.contains("1 file(s)"), "the shared file stays: {done}");
    let left = app.tickets();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["number"], 2);
    assert!(!app.guichet(&["tickets", "show", "1"]).status.success());
    // The open ticket keeps its file, still readable.
    let file = app.ok(&["tickets", "attachment", "2", "ecran.png"]);
    assert_eq!(file, "the same screenshot bytes");
    let subjects: Vec<String> = app
        .outbox()
        .iter()
        .map(|r| r["subject"].as_str().unwrap().to_string())
        .collect();
    assert!(
        subjects
            .iter()
            .all(|s| !s.contains("#000001") && !s.contains("#000003")),
        "the purged tickets' sent mail is gone: {subjects:?}"
    );
    assert!(
        subjects.iter().any(|s| s.contains("#000002")),
        "{subjects:?}"
    );

    // A new request gets number 4, never a purged one's.
    app.append(&request(9));
    app.run_at("2026-03-01T08:00:00Z");
    assert!(app.tickets().iter().any(|t| t["number"] == 4));

    // Daily retention: ticket 2 closed, kept 30 days, purged on the first
    // run past that, once.
    let notice = app
        .sent_to("sau@example.test")
        .into_iter()
        .find(|m| m.subject.contains("#000002"))
        .unwrap();
    app.reply(&notice, MARC, "#close Réglé.", "");
    app.run_at("2026-03-02T08:00:00Z");
    let text = std::fs::read_to_string(&app.config_path).unwrap()
        + "\n[retention]\nclosed_tickets = \"30days\"\n";
    std::fs::write(&app.config_path, text).unwrap();
    app.run_at("2026-03-20T08:00:00Z");
    assert!(
        app.tickets().iter().any(|t| t["number"] == 2),
        "kept 30 days"
    );
    let log = app.run_at("2026-04-05T08:00:00Z");
    assert!(log.contains("daily retention purge done"), "{log}");
    assert!(!app.tickets().iter().any(|t| t["number"] == 2));
    let log = app.run_at("2026-04-05T09:00:00Z");
    assert!(!log.contains("daily retention purge"), "once a day: {log}");
}

on_both_databases!(purge_deletes_closed_tickets_and_what_is_theirs);

/// `backup FILE` while the daemon takes mail: a private, complete copy
/// that guichet itself opens; an existing file is never overwritten;
/// PostgreSQL is sent to pg_dump.
#[test]
fn backup_copies_a_running_sqlite_database() {
    let app = TestApp::start(Db::Sqlite);
    for n in 0..20 {
        app.append(&request(100 + n));
    }
    let log = app.path().join("daemon.log");
    let mut child = app.daemon_command(&log).spawn().unwrap();
    assert!(app.wait_for(Duration::from_secs(30), || app.tickets().len() == 20));
    let copy = app.path().join("copy.db");
    let out = app.ok(&["backup", copy.to_str().unwrap()]);
    assert!(out.starts_with("backup written"), "{out}");
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the copy holds everybody's mail");
    let again = app.guichet(&["backup", copy.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));

    let original = std::fs::read_to_string(&app.config_path).unwrap();
    let url_line = original.lines().find(|l| l.starts_with("url = ")).unwrap();
    let copied = original.replace(url_line, &format!("url = \"sqlite://{}\"", copy.display()));
    let copy_config = app.path().join("copy.toml");
    std::fs::write(&copy_config, copied).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_guichet"))
        .args([
            "--config",
            copy_config.to_str().unwrap(),
            "tickets",
            "list",
            "--json",
        ])
        .output()
        .unwrap();
    let tickets: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(tickets.len(), 20);

    app.edit_config(url_line, "url = \"postgres://guichet@127.0.0.1:1/guichet\"");
    let pg = app.guichet(&["backup", app.path().join("pg.dump").to_str().unwrap()]);
    assert!(!pg.status.success());
    assert!(String::from_utf8_lossy(&pg.stderr).contains("pg_dump"));
}

/// `[templates] dir`: the desk's own acknowledgement replaces the built-in
/// one (the others stay); a misspelt file name, a syntax error or a
/// variable the template is never given is refused with its file and
/// line, by `run` and `check` (exit 78), before any mail is answered with
/// it.
fn the_desk_writes_its_own_acknowledgement(db: Db) {
    let app = TestApp::start(db);
    let dir = app.path().join("templates");
    std::fs::create_dir_all(dir.join("fr")).unwrap();
    std::fs::create_dir_all(dir.join("en")).unwrap();
    let ack = dir.join("fr/acknowledgement.txt.tera");
    std::fs::write(
        &ack,
        "Subject: {{ ticket.reference }} Bien reçu\n\nBonjour,\n\nLa mairie de Bobigny a bien reçu votre demande {{ ticket.reference }}.\nRépondez à ce message pour la compléter.\n",
    )
    .unwrap();
    std::fs::write(dir.join("README.md"), "Nos modèles.\n").unwrap();
    let text = std::fs::read_to_string(&app.config_path).unwrap()
        + &format!("\n[templates]\ndir = \"{}\"\n", dir.display());
    std::fs::write(&app.config_path, text).unwrap();

    app.append(&request(40));
    app.run_once();
    let acks = app.acknowledgements();
    assert_eq!(acks.len(), 1);
    assert!(
        acks[0].subject.ends_with("Bien reçu"),
        "{}",
        acks[0].subject
    );
    assert!(
        acks[0].body.contains("La mairie de Bobigny a bien reçu"),
        "{}",
        acks[0].body
    );
    // The agents' notice is still the built-in one.
    let notice = app.sent_to("sau@example.test");
    assert_eq!(notice.len(), 1);
    assert!(!notice[0].body.contains("Bobigny"));

    let refused = |file: &str, source: &str, expect: &[&str]| {
        let path = dir.join(file);
        std::fs::write(&path, source).unwrap();
        app.append(&request(50));
        let out = app.guichet(&["run", "--once"]);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        let check = app.guichet(&["check"]);
        let checked = String::from_utf8_lossy(&check.stdout).into_owned();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(out.status.code(), Some(78), "{file}: {err}");
        assert_eq!(check.status.code(), Some(78), "{file}: {checked}");
        assert!(checked.contains("templates: FAILED"), "{checked}");
        for e in expect {
            assert!(err.contains(e), "{file}: {e:?} not in {err}");
        }
    };
    refused(
        "fr/acknowledgment.txt.tera",
        "Subject: x\n\ny\n",
        &["templates.dir:", "acknowledgment.txt.tera: not a template"],
    );
    refused(
        "en/solution.txt.tera",
        "Subject: {{ ticket.reference }}\n\n{% if solution %}\n{{ solution }}\n",
        &["en/solution.txt.tera", "solution.txt"],
    );
    refused(
        "fr/reminder.txt.tera",
        "Subject: {{ ticket.reference }}\n\nBonjour,\n\n{{ ticket.requester.nmae }} : votre demande attend.\n",
        &["fr/reminder.txt.tera: line 5:", "ticket.requester.nmae"],
    );
    refused(
        "fr/auto_closure.txt.tera",
        "Votre demande est close.\n",
        &["fr/auto_closure.txt.tera", "Subject:"],
    );
    assert_eq!(
        app.acknowledgements().len(),
        1,
        "nothing answered meanwhile"
    );
    app.run_once();
    let acks = app.acknowledgements();
    assert_eq!(acks.len(), 2, "the good override still works");
    assert!(acks[1].body.contains("Bobigny"));
}

on_both_databases!(the_desk_writes_its_own_acknowledgement);

/// `[metrics] listen`: Prometheus text metrics on loopback, the activity
/// counted as it happens and the health of `guichet status` as gauges; an
/// address off this machine is refused.
#[test]
fn the_daemon_serves_prometheus_metrics() {
    let app = TestApp::start(Db::Sqlite);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let text = std::fs::read_to_string(&app.config_path).unwrap()
        + &format!("\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n");
    std::fs::write(&app.config_path, text).unwrap();
    app.append(&request(60));
    let log = app.path().join("daemon.log");
    let mut child = app.daemon_command(&log).spawn().unwrap();
    let scrape = || -> String {
        use std::io::{Read, Write};
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
            return String::new();
        };
        let _ =
            s.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    };
    let mut body = String::new();
    let counted = app.wait_for(Duration::from_secs(30), || {
        body = scrape();
        body.contains("guichet_mails_fetched_total 1")
            && body.contains("guichet_mails_sent_total 2")
    });
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
    assert!(
        counted,
        "{body}\n{}",
        std::fs::read_to_string(&log).unwrap()
    );
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(body.contains("guichet_tickets_opened_total 1"), "{body}");
    for gauge in [
        "guichet_health{item=\"mailbox\"}",
        "guichet_health{item=\"database\"} 0",
        "guichet_outbox_pending",
        "guichet_relay_held 0",
        "guichet_mailbox_failing{mailbox=\"main\"} 0",
        "guichet_failed_mails 0",
    ] {
        assert!(body.contains(gauge), "{gauge} not in:\n{body}");
    }

    app.edit_config(
        &format!("listen = \"127.0.0.1:{port}\""),
        "listen = \"0.0.0.0:9187\"",
    );
    let out = app.guichet(&["run", "--once"]);
    assert_eq!(out.status.code(), Some(78));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("metrics.listen: must be a loopback address")
    );
}
