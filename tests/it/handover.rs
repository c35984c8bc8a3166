//! Piped mail handed to the running daemon over `[ingest] socket`: the MTA's
//! `guichet ingest` gets its answer once the daemon has stored the mail,
//! the acknowledgement leaves at once, and without a daemon (stopped,
//! killed, another one's socket, a hostile client before it) each
//! `guichet ingest` stores its mail itself, as before.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use crate::app::{mail, spawn_with_stdin, Db, TestApp};

/// A desk whose daemon listens on a socket in the test's directory.
fn desk_with_socket(db: Db) -> (TestApp, PathBuf) {
    let app = TestApp::start(db);
    let socket = app.path().join("ingest.sock");
    app.write_config(
        &format!("\n[ingest]\nsocket = \"{}\"\n", socket.display()),
        "",
    );
    app.ok(&["migrate"]);
    (app, socket)
}

fn request(i: usize, subject: &str) -> Vec<u8> {
    mail(
        &format!("Agent {i} <agent{i}@mairie-exemple.fr>"),
        subject,
        &format!("piped{i}@mairie-exemple.fr"),
        "",
        "Bonjour,\nle poste ne démarre plus.\nMerci.",
    )
}

/// `guichet ingest` started with `raw` on stdin, as an MTA's pipe runs it.
fn start_pipe(app: &TestApp, raw: &[u8]) -> Child {
    spawn_with_stdin(app.command().arg("ingest"), raw)
}

/// `guichet ingest` with `raw` on stdin, to its end.
fn pipe(app: &TestApp, raw: &[u8]) -> Output {
    start_pipe(app, raw).wait_with_output().unwrap()
}

/// Piped, exit 0; returns (stdout, stderr).
fn piped_ok(app: &TestApp, raw: &[u8]) -> (String, String) {
    let out = pipe(app, raw);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{:?}: {stdout}{stderr}", out.status);
    (stdout, stderr)
}

/// A daemon started by a test, killed if the test fails before stopping
/// it, so that it does not outlive the test.
struct Daemon(Option<Child>);

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Daemon {
    fn start(app: &TestApp, log: &Path) -> Daemon {
        Daemon(Some(app.daemon_command(log).spawn().unwrap()))
    }

    fn child(&self) -> &Child {
        self.0.as_ref().expect("running")
    }
}

/// Starts the daemon and waits until it listens.
fn daemon(app: &TestApp, log: &Path, socket: &Path) -> Daemon {
    let child = Daemon::start(app, log);
    assert!(
        app.wait_for(Duration::from_secs(20), || std::fs::read_to_string(log)
            .is_ok_and(|l| l.contains("taking piped mail"))),
        "{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
    assert!(socket.exists());
    child
}

fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// SIGTERM, then a clean exit; returns the log.
fn stop(mut daemon: Daemon, log: &Path) -> String {
    let mut child = daemon.0.take().expect("running");
    signal(&child, "-TERM");
    let status = child.wait().unwrap();
    let text = std::fs::read_to_string(log).unwrap();
    assert!(status.success(), "{status}: {text}");
    assert!(!text.contains("panicked"), "{text}");
    text
}

const HANDED_OVER_NOT: &str = "storing the mail here";

/// The whole life of the socket: mail taken by the daemon (its
/// acknowledgement sent at once, not at the dispatcher's next minute),
/// again after a reload, by the mail's own process when the daemon is
/// stopped or killed, and by the daemon again once restarted over the
/// socket a killed one left. A second daemon on the same socket leaves it
/// to the first.
fn piped_mail_is_stored_by_the_running_daemon(db: Db) {
    use std::os::unix::fs::PermissionsExt;
    let (app, socket) = desk_with_socket(db);
    let log = app.path().join("daemon.log");
    let out = app.ok(&["check"]);
    assert!(out.contains("ingest: no daemon answers on"), "{out}");
    let first = daemon(&app, &log, &socket);
    let out = app.ok(&["check"]);
    assert!(
        out.contains("ingest: ok (a daemon takes piped mail on"),
        "{out}"
    );
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the socket is the daemon's user's only");

    let (stdout, stderr) = piped_ok(&app, &request(1, "Poste en panne"));
    assert_eq!(stdout, "stdin: new ticket [SUPPORT #000001]\n");
    assert!(!stderr.contains(HANDED_OVER_NOT), "{stderr}");
    // The daemon's dispatcher sleeps up to a minute between passes: the
    // hand-over wakes it.
    let started = Instant::now();
    assert!(app.wait_for(Duration::from_secs(15), || app
        .sent_to("agent1@mairie-exemple.fr")
        .len()
        == 1));
    assert!(started.elapsed() < Duration::from_secs(15));
    // The MTA delivering the same mail again (its process was killed
    // after the daemon stored it, say).
    let (stdout, _) = piped_ok(&app, &request(1, "Poste en panne"));
    assert!(
        stdout.starts_with("stdin: already handled") || stdout.starts_with("stdin: duplicate"),
        "{stdout}"
    );
    assert_eq!(app.tickets().len(), 1);

    // Reloaded, it listens again.
    signal(first.child(), "-HUP");
    assert!(
        app.wait_for(Duration::from_secs(20), || std::fs::read_to_string(&log)
            .is_ok_and(|l| l.matches("taking piped mail").count() == 2))
    );
    let (stdout, stderr) = piped_ok(&app, &request(2, "Imprimante"));
    assert_eq!(stdout, "stdin: new ticket [SUPPORT #000002]\n");
    assert!(!stderr.contains(HANDED_OVER_NOT), "{stderr}");

    // Another daemon with the same configuration leaves the socket to
    // the first.
    let log2 = app.path().join("second.log");
    let second = Daemon::start(&app, &log2);
    assert!(
        app.wait_for(Duration::from_secs(20), || std::fs::read_to_string(&log2)
            .is_ok_and(|l| l.contains("another daemon already listens")))
    );
    stop(second, &log2);
    let (stdout, stderr) = piped_ok(&app, &request(3, "Scanner"));
    assert_eq!(stdout, "stdin: new ticket [SUPPORT #000003]\n");
    assert!(!stderr.contains(HANDED_OVER_NOT), "{stderr}");

    // Stopped: the socket is gone, and the mail stored by its own process.
    let text = stop(first, &log);
    assert!(
        text.contains("piped mail: new ticket [SUPPORT #000003]"),
        "{text}"
    );
    assert!(
        !text.contains("not taken"),
        "check's look is not a refusal: {text}"
    );
    assert!(!socket.exists());
    let (stdout, stderr) = piped_ok(&app, &request(4, "Clavier"));
    assert_eq!(stdout, "stdin: new ticket [SUPPORT #000004]\n");
    assert!(
        stderr.contains("no daemon answers on") && stderr.contains(HANDED_OVER_NOT),
        "{stderr}"
    );

    // Killed: its socket stays, nobody answers on it.
    let mut killed = daemon(&app, &log, &socket);
    let mut child = killed.0.take().expect("running");
    signal(&child, "-KILL");
    child.wait().unwrap();
    assert!(socket.exists());
    let (stdout, stderr) = piped_ok(&app, &request(5, "Souris"));
    assert_eq!(stdout, "stdin: new ticket [SUPPORT #000005]\n");
    assert!(stderr.contains("no daemon answers on"), "{stderr}");
    // Restarted over it.
    let again = daemon(&app, &log, &socket);
    let (stdout, stderr) = piped_ok(&app, &request(6, "Écran"));
    assert_eq!(stdout, "stdin: new ticket [SUPPORT #000006]\n");
    assert!(!stderr.contains(HANDED_OVER_NOT), "{stderr}");
    // Each requester answered once. The third and fourth answers wait in
    // the outbox when the daemon is killed (the first one stopped before
    // sending, the fourth was stored without a daemon): it may have sent
    // them and died before recording it, and they are then sent again (a
    // relay cannot take a mail back).
    let answered = || -> Vec<usize> {
        (1..=6)
            .map(|i| app.sent_to(&format!("agent{i}@mairie-exemple.fr")).len())
            .collect()
    };
    let once = |n: &[usize]| {
        n.iter()
            .enumerate()
            .all(|(i, &n)| n == 1 || ((i == 2 || i == 3) && n == 2))
    };
    app.wait_for(Duration::from_secs(15), || once(&answered()));
    let n = answered();
    assert!(once(&n), "{n:?}: {}", app.ok(&["outbox", "list"]));
    stop(again, &log);
}

/// Twenty MTA processes at once: each told its own ticket, all stored
/// (several per transaction), none by its own process.
fn piped_mail_delivered_in_parallel_is_each_answered(db: Db) {
    let (app, socket) = desk_with_socket(db);
    let log = app.path().join("daemon.log");
    let child = daemon(&app, &log, &socket);
    let children: Vec<_> = (0..20)
        .map(|i| start_pipe(&app, &request(i, &format!("Demande {i}"))))
        .collect();
    let mut numbers = Vec::new();
    for c in children {
        let out = c.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stdout}{stderr}");
        assert!(!stderr.contains(HANDED_OVER_NOT), "{stderr}");
        let number = stdout
            .strip_prefix("stdin: new ticket [SUPPORT #")
            .and_then(|r| r.strip_suffix("]\n"))
            .unwrap_or_else(|| panic!("{stdout}"))
            .to_string();
        numbers.push(number);
    }
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 20, "each mail its own ticket");
    assert_eq!(app.tickets().len(), 20);
    let text = stop(child, &log);
    assert_eq!(text.matches("piped mail: new ticket").count(), 20, "{text}");
}

/// A mail the database refuses for good is kept as failed by the daemon,
/// and the MTA told it was taken: delivering it again would change nothing.
fn piped_mail_the_database_refuses_is_kept_by_the_daemon(db: Db) {
    let (app, socket) = desk_with_socket(db);
    crate::realworld::refuse_poison(&app, db);
    let log = app.path().join("daemon.log");
    let child = daemon(&app, &log, &socket);
    let (stdout, stderr) = piped_ok(&app, &request(1, "Un sujet poison"));
    assert!(
        stdout.starts_with("stdin: could not be processed, kept as raw mail")
            && stdout.contains("refused by a rule of this database"),
        "{stdout}"
    );
    assert!(!stderr.contains(HANDED_OVER_NOT), "{stderr}");
    let failed: Vec<serde_json::Value> =
        serde_json::from_str(&app.ok(&["failed", "list", "--json"])).unwrap();
    assert_eq!(failed.len(), 1, "{failed:?}");
    let (stdout, _) = piped_ok(&app, &request(2, "Clavier"));
    assert_eq!(stdout, "stdin: new ticket [SUPPORT #000001]\n");
    let text = stop(child, &log);
    assert!(text.contains("piped mail could not be processed"), "{text}");
    assert!(
        text.contains("piped mail: new ticket [SUPPORT #000001]"),
        "{text}"
    );
}

crate::on_both_databases!(
    piped_mail_is_stored_by_the_running_daemon,
    piped_mail_delivered_in_parallel_is_each_answered,
    piped_mail_the_database_refuses_is_kept_by_the_daemon,
);

/// Writes `bytes` to the daemon's socket, then reads its answer (or
/// nothing, if it closed without one).
fn raw_exchange(socket: &Path, bytes: &[u8], close_writing: bool) -> String {
    let mut s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(90))).unwrap();
    // The daemon may answer and close before reading all of it.
    let _ = s.write_all(bytes);
    if close_writing {
        let _ = s.shutdown(std::net::Shutdown::Write);
    }
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer
}

/// What a stranger, or a broken client, can write to the socket: each
/// gets a refusal (and would store its mail itself), none stops or stalls
/// the daemon, none makes a ticket, and a client that connects and sends
/// nothing keeps no one else waiting.
#[test]
fn the_socket_refuses_what_is_not_a_mail_handed_over() {
    let (app, socket) = desk_with_socket(Db::Sqlite);
    app.write_config(
        &format!(
            "max_message_size = \"1MiB\"\n\n[ingest]\nsocket = \"{}\"\n",
            socket.display()
        ),
        "",
    );
    let log = app.path().join("daemon.log");
    let child = daemon(&app, &log, &socket);
    // A client that connects and stays silent.
    let silent = UnixStream::connect(&socket).unwrap();

    let cases: &[(&[u8], &str)] = &[
        (b"EHLO attacker.example\r\n", "not a guichet hand-over"),
        (b"GUICHET-INGEST/1 -1\n", "is not a number of bytes"),
        (
            b"GUICHET-INGEST/1 2000000\nFrom: x\n",
            "more than [tickets] max_message_size",
        ),
        (b"GUICHET-INGEST/1 99999999999999999999999\n", "too large"),
        (
            b"GUICHET-INGEST/1 500\nFrom: a@b.example\n\ncut",
            "cut short",
        ),
        (b"GUICHET-INGEST/1 12", "no first line"),
        (&[0xff, 0xfe, b'\n'], "not text"),
    ];
    for (bytes, why) in cases {
        let answer = raw_exchange(&socket, bytes, true);
        assert!(
            answer.starts_with("TEMPFAIL ") && answer.contains(why) && answer.ends_with('\n'),
            "{:?}: {answer:?}",
            String::from_utf8_lossy(bytes)
        );
        assert_eq!(answer.lines().count(), 1, "{answer:?}");
    }
    // A first line longer than any: refused without reading it all.
    let long = vec![b'A'; 1 << 20];
    let answer = raw_exchange(&socket, &long, false);
    assert!(answer.starts_with("TEMPFAIL no first line"), "{answer:?}");

    // Meanwhile the MTA's mail goes through, and a mail larger than the
    // daemon takes is stored by its own process.
    let (stdout, stderr) = piped_ok(&app, &request(1, "Poste en panne"));
    assert_eq!(stdout, "stdin: new ticket [SUPPORT #000001]\n");
    assert!(!stderr.contains(HANDED_OVER_NOT), "{stderr}");
    assert!(app.wait_for(Duration::from_secs(5), || {
        std::fs::read_to_string(&log)
            .is_ok_and(|l| l.contains("piped mail: new ticket [SUPPORT #000001]"))
    }));
    let mut big = request(2, "Capture d'écran");
    big.extend(std::iter::repeat_n(b"0123456789abcdef\n".as_slice(), 70_000).flatten());
    let (stdout, stderr) = piped_ok(&app, &big);
    assert_eq!(stdout, "stdin: new ticket [SUPPORT #000002]\n");
    assert!(
        !stderr.contains("daemon"),
        "not even offered to it: {stderr}"
    );
    drop(silent);
    assert_eq!(app.tickets().len(), 2);
    let text = stop(child, &log);
    assert!(text.contains("piped mail not taken"), "{text}");
}
