//! The daemon watches its own tasks: one that panics stops it with a
//! failure (systemd restarts it), and one that is stuck stops feeding the
//! watchdog. Faults are injected into the real binary with
//! `GUICHET_FAULT`.

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::app::{mail, Db, TestApp};

fn request() -> Vec<u8> {
    mail(
        "Jeanne Martin <jeanne.martin@mairie-exemple.fr>",
        "Imprimante hors ligne",
        "supervision1@mairie-exemple.fr",
        "",
        "Bonjour,\nl'imprimante ne répond plus.\nJeanne",
    )
}

/// Datagrams received on the notify socket until `until` is seen or
/// `limit` passes.
fn listen(socket: &UnixDatagram, until: &str, limit: Duration, said: &mut Vec<String>) {
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    while start.elapsed() < limit && !said.iter().any(|m| m.contains(until)) {
        if let Ok(n) = socket.recv(&mut buf) {
            said.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
}

/// A socket standing for systemd's notify socket, read 100 ms at a time,
/// and its path for `NOTIFY_SOCKET`.
fn notify_socket(app: &TestApp) -> (UnixDatagram, std::path::PathBuf) {
    let path = app.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    (socket, path)
}

/// Sends the signal named `name` (TERM, HUP) to the daemon.
fn signal(child: &std::process::Child, name: &str) {
    let sent = Command::new("kill")
        .args([format!("-{name}"), child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{name}");
}

#[test]
fn a_task_that_panics_stops_the_daemon_with_a_failure() {
    let app = TestApp::start(Db::Sqlite);
    app.append(&request());
    let log = app.path().join("daemon.log");
    let mut child = app
        .daemon_command(&log)
        .env("GUICHET_FAULT", "fetcher-panic")
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > Duration::from_secs(20) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = std::fs::read_to_string(&log).unwrap();
    let Some(status) = status else {
        let _ = child.kill();
        panic!("the daemon kept running with a dead fetcher: {text}");
    };
    assert!(!status.success(), "exited with success: {text}");
    assert!(
        text.contains("a task of the daemon panicked")
            && text.contains("injected fault: the fetcher panics"),
        "{text}"
    );
    // It had done its work before: the mail waiting was taken in.
    assert_eq!(app.tickets().len(), 1, "{text}");
}

#[test]
fn a_stuck_task_stops_feeding_the_watchdog() {
    let app = TestApp::start(Db::Sqlite);
    app.append(&request());
    let (socket, socket_path) = notify_socket(&app);
    let log = app.path().join("daemon.log");
    // systemd names the process the watchdog is for (WATCHDOG_PID): the
    // daemon is started by a shell that gives its own PID, then becomes it.
    let daemon = app.daemon_command(&log);
    let mut under_systemd = Command::new("sh");
    under_systemd
        .arg("-c")
        .arg("WATCHDOG_PID=$$ exec \"$0\" \"$@\"")
        .arg(daemon.get_program())
        .args(daemon.get_args())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    for (key, value) in daemon.get_envs() {
        match value {
            Some(v) => under_systemd.env(key, v),
            None => under_systemd.env_remove(key),
        };
    }
    let mut child = under_systemd
        .env("NOTIFY_SOCKET", &socket_path)
        // A watchdog ping every second.
        .env("WATCHDOG_USEC", "2000000")
        .env("GUICHET_FAULT", "fetcher-hang")
        .spawn()
        .unwrap();
    let mut said = Vec::new();
    listen(&socket, "READY=1", Duration::from_secs(15), &mut said);
    listen(&socket, "WATCHDOG=1", Duration::from_secs(5), &mut said);
    let fed = said.iter().any(|m| m.contains("WATCHDOG=1"));
    // The fetcher hangs in its first wait for mail, promised within 15 s;
    // 30 s of grace later the pings stop, while the dispatcher and the
    // scheduler still run.
    let start = Instant::now();
    let mut last_ping = Instant::now();
    let mut buf = [0u8; 4096];
    while start.elapsed() < Duration::from_secs(90) && last_ping.elapsed() < Duration::from_secs(5)
    {
        if let Ok(n) = socket.recv(&mut buf) {
            if String::from_utf8_lossy(&buf[..n]).contains("WATCHDOG=1") {
                last_ping = Instant::now();
            }
        }
    }
    let starved = last_ping.elapsed() >= Duration::from_secs(5);
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(fed, "no watchdog ping before the hang: {said:?} {text}");
    assert!(starved, "the watchdog was still fed after 90 s: {text}");
    assert!(text.contains("the fetcher has made no progress"), "{text}");
}

/// A daemon under systemd whose mail server is down: READY=1 comes as soon
/// as the configuration and the database are up, and STATUS says since
/// when the mailbox cannot be reached; on SIGTERM, STOPPING=1.
#[test]
fn ready_comes_with_the_mail_server_down_and_status_says_why() {
    let app = TestApp::start(Db::Sqlite);
    let port = app.env["IMAP_PORT"].clone();
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    app.edit_config(
        &format!("port = {port}\n"),
        &format!("port = {closed_port}\n"),
    );
    let (socket, socket_path) = notify_socket(&app);
    let log = app.path().join("daemon.log");
    let mut child = app
        .daemon_command(&log)
        .env("NOTIFY_SOCKET", &socket_path)
        .spawn()
        .unwrap();
    let mut said = Vec::new();
    listen(&socket, "READY=1", Duration::from_secs(10), &mut said);
    let down = format!("STATUS=the mailbox (127.0.0.1:{closed_port}) unreachable since ");
    listen(&socket, &down, Duration::from_secs(15), &mut said);
    signal(&child, "TERM");
    listen(&socket, "STOPPING=1", Duration::from_secs(10), &mut said);
    let status = child.wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        said.iter().any(|m| m.contains("READY=1")),
        "{said:?} {text}"
    );
    assert!(said.iter().any(|m| m.contains(&down)), "{said:?} {text}");
    assert!(
        said.iter().any(|m| m.contains("STOPPING=1")),
        "{said:?} {text}"
    );
    assert!(status.success(), "{text}");
}

/// An invalid configuration: one line, and exit 78 (EX_CONFIG), which the
/// unit's RestartPreventExitStatus keeps systemd from restarting forever.
#[test]
fn an_invalid_configuration_exits_78() {
    let app = TestApp::start(Db::Sqlite);
    app.edit_config(
        "[tickets]\n",
        "[tickets]\nauto_close_after = \"sometimes\"\n",
    );
    for args in [
        &["run"][..],
        &["run", "--once"],
        &["tickets", "list"],
        &["check"],
    ] {
        let out = app.guichet(args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(78), "{args:?}: {stdout} {stderr}");
        assert!(
            format!("{stdout}{stderr}").contains("tickets.auto_close_after"),
            "{args:?}: {stdout} {stderr}"
        );
    }
    let unit = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/guichet.service"),
    )
    .unwrap();
    assert!(unit.contains("\nRestartPreventExitStatus=78\n"));
}

/// Under journald (stderr is the stream `JOURNAL_STREAM` names) each line
/// carries its syslog priority, so `journalctl -p warning` finds the
/// warnings and errors; elsewhere it does not. With `[log] format =
/// "json"` each line is a JSON object.
#[test]
fn log_lines_carry_their_priority_for_journald_or_are_json() {
    use std::os::unix::fs::MetadataExt;
    let app = TestApp::start(Db::Sqlite);
    app.append(&request());
    // The relay down: the outbox's warning, after the info lines.
    app.mailbed("smtp-stop", &[]);
    let log = app.path().join("journal.log");
    let file = std::fs::File::create(&log).unwrap();
    let meta = file.metadata().unwrap();
    let out = app
        .command()
        .args(["run", "--once"])
        .env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()))
        .stderr(file)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.iter().all(|l| l.starts_with('<')), "{text}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("<6>") && l.contains("new ticket")),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("<4>") || l.starts_with("<3>")),
        "{text}"
    );
    // Not the journal's stream (the variable inherited, stderr elsewhere).
    let out = app
        .command()
        .args(["run", "--once"])
        .env("JOURNAL_STREAM", "1:2")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!text.lines().any(|l| l.starts_with("<6>")), "{text}");

    app.edit_config("[tickets]\n", "[log]\nformat = \"json\"\n\n[tickets]\n");
    app.append(&mail(
        "Paul <paul@mairie-exemple.fr>",
        "Badge",
        "json1@mairie-exemple.fr",
        "",
        "Mon badge ne marche plus.",
    ));
    let out = app.guichet(&["run", "--once"]);
    let text = String::from_utf8_lossy(&out.stderr);
    let mut seen_ticket = false;
    for line in text.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        assert!(v["level"].is_string(), "{line}");
        seen_ticket |= v["fields"]["message"] == "new ticket";
    }
    assert!(seen_ticket, "{text}");
}

/// SIGHUP reads the configuration again: a valid one replaces the running
/// one (RELOADING=1, then READY=1; the next mail gets the new subject
/// tag) without dropping the daemon; an invalid one is reported and the
/// running one kept.
#[test]
fn sighup_reloads_a_valid_configuration_and_keeps_the_old_on_an_invalid_one() {
    let app = TestApp::start(Db::Sqlite);
    app.append(&request());
    let (socket, socket_path) = notify_socket(&app);
    let log = app.path().join("daemon.log");
    let mut child = app
        .daemon_command(&log)
        .env("NOTIFY_SOCKET", &socket_path)
        .spawn()
        .unwrap();
    let hup = |child: &std::process::Child| signal(child, "HUP");
    let mut said = Vec::new();
    listen(&socket, "READY=1", Duration::from_secs(10), &mut said);
    let acked = |n: usize| {
        app.wait_for(Duration::from_secs(20), || {
            app.acknowledgements().len() >= n
        })
    };
    assert!(acked(1), "{}", std::fs::read_to_string(&log).unwrap());

    app.edit_config("[tickets]\n", "[tickets]\nsubject_tag = \"HELP\"\n");
    hup(&child);
    said.clear();
    listen(&socket, "RELOADING=1", Duration::from_secs(10), &mut said);
    listen(&socket, "READY=1", Duration::from_secs(20), &mut said);
    assert!(said.iter().any(|m| m.contains("RELOADING=1")), "{said:?}");
    app.append(&mail(
        "Paul Durand <paul.durand@mairie-exemple.fr>",
        "Badge refusé",
        "hup2@mairie-exemple.fr",
        "",
        "Mon badge ne passe plus.",
    ));
    assert!(acked(2), "{}", std::fs::read_to_string(&log).unwrap());
    let ack = app.acknowledgements().pop().unwrap();
    assert!(ack.subject.starts_with("[HELP #000002]"), "{}", ack.subject);

    // An invalid file: said, and the running configuration kept.
    app.edit_config(
        "subject_tag = \"HELP\"\n",
        "subject_tag = \"HELP\"\nauto_close_after = \"sometimes\"\n",
    );
    hup(&child);
    let refused = app.wait_for(Duration::from_secs(10), || {
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("reload refused, the running configuration is kept")
    });
    assert!(refused, "{}", std::fs::read_to_string(&log).unwrap());
    assert!(child.try_wait().unwrap().is_none(), "the daemon stopped");
    app.append(&mail(
        "Marie <marie@mairie-exemple.fr>",
        "Écran noir",
        "hup3@mairie-exemple.fr",
        "",
        "Mon écran reste noir.",
    ));
    assert!(acked(3), "{}", std::fs::read_to_string(&log).unwrap());
    let ack = app.acknowledgements().pop().unwrap();
    assert!(ack.subject.starts_with("[HELP #000003]"), "{}", ack.subject);

    // The templates reload with it: the desk's own acknowledgement is
    // taken; an override that would fail is refused and the one running
    // kept.
    let dir = app.path().join("templates");
    std::fs::create_dir_all(dir.join("fr")).unwrap();
    let ack_file = dir.join("fr/acknowledgement.txt.tera");
    std::fs::write(&ack_file, "Subject: {{ ticket.reference }} Bien reçu\n\nBonjour,\nNous avons bien reçu votre demande.\n").unwrap();
    app.edit_config("auto_close_after = \"sometimes\"\n", "");
    let text = std::fs::read_to_string(&app.config_path).unwrap()
        + &format!("\n[templates]\ndir = \"{}\"\n", dir.display());
    std::fs::write(&app.config_path, text).unwrap();
    hup(&child);
    said.clear();
    listen(&socket, "READY=1", Duration::from_secs(20), &mut said);
    app.append(&mail(
        "Luc <luc@mairie-exemple.fr>",
        "Imprimante",
        "hup4@mairie-exemple.fr",
        "",
        "L'imprimante bourre.",
    ));
    assert!(acked(4), "{}", std::fs::read_to_string(&log).unwrap());
    let ack = app.acknowledgements().pop().unwrap();
    assert!(ack.subject.ends_with("Bien reçu"), "{}", ack.subject);
    std::fs::write(
        &ack_file,
        "Subject: {{ ticket.reference }}\n\n{{ ticket.nmber }}\n",
    )
    .unwrap();
    hup(&child);
    let refused = app.wait_for(Duration::from_secs(10), || {
        let text = std::fs::read_to_string(&log).unwrap();
        text.matches("reload refused").count() == 2
            && text.contains("fr/acknowledgement.txt.tera: line 3")
    });
    assert!(refused, "{}", std::fs::read_to_string(&log).unwrap());
    app.append(&mail(
        "Léa <lea@mairie-exemple.fr>",
        "Souris",
        "hup5@mairie-exemple.fr",
        "",
        "Ma souris ne répond plus.",
    ));
    assert!(acked(5), "{}", std::fs::read_to_string(&log).unwrap());
    let ack = app.acknowledgements().pop().unwrap();
    assert!(
        ack.subject.ends_with("Bien reçu"),
        "the running templates are kept: {}",
        ack.subject
    );

    signal(&child, "TERM");
    let status = child.wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{text}");
    assert!(text.contains("configuration reloaded"), "{text}");
}

/// The README's `password_file = "/run/credentials/…"` exists only for
/// the service: commands that do not talk to IMAP or SMTP work without
/// it, `run` says it cannot read it (exit 78), `check` says which server
/// and reads copies from `--credentials DIR`. A TOML syntax error says
/// where it is.
#[test]
fn commands_work_without_the_password_files_and_check_reads_them_elsewhere() {
    let app = TestApp::start(Db::Sqlite);
    let password = app.env["IMAP_PASSWORD"].clone();
    let port = app.env["IMAP_PORT"].clone();
    app.edit_config(
        &format!("password = \"{password}\"\n"),
        "password_file = \"/run/credentials/guichet.service/imap\"\n",
    );
    let out = app.guichet(&["tickets", "list"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    app.ok(&["agents", "list"]);

    let out = app.guichet(&["run", "--once"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(
        stderr.contains("imap.password_file: cannot read the password file /run/credentials/guichet.service/imap"),
        "{stderr}"
    );

    let out = app.guichet(&["check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(
        stdout.contains(&format!(
            "imap: FAILED: 127.0.0.1:{port}: IMAP: cannot read the password file"
        )),
        "{stdout}"
    );
    let copies = app.path().join("credentials");
    std::fs::create_dir(&copies).unwrap();
    std::fs::write(copies.join("imap"), format!("{password}\n")).unwrap();
    let out = app.guichet(&["check", "--credentials", copies.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!(":{port}, ")) && stdout.contains("imap: ok"),
        "{stdout}"
    );

    app.edit_config("[tickets]\n", "[tickets]\nlanguage = \"fr\n");
    let out = app.guichet(&["tickets", "list"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(stderr.contains("not valid TOML at line "), "{stderr}");
    assert!(stderr.contains(", column "), "{stderr}");
}
