//! The daemon left running while what it depends on fails: the IMAP server
//! restarted, PostgreSQL restarted, the disk full; and what it tells
//! systemd. Each time it says what is wrong, loses nothing and resumes by
//! itself.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::app::{mail, Db, TestApp};

fn request(i: usize) -> Vec<u8> {
    mail(
        &format!("Agent {i} <agent{i}@mairie-exemple.fr>"),
        &format!("Demande n°{i} : imprimante {i}"),
        &format!("outage{i}@mairie-exemple.fr"),
        "",
        &format!("Bonjour,\nl'imprimante {i} bourre.\nMerci."),
    )
}

fn acknowledged(app: &TestApp, i: usize) -> usize {
    app.sent_to(&format!("agent{i}@mairie-exemple.fr"))
        .iter()
        .filter(|m| m.auto_submitted == "auto-replied")
        .count()
}

fn daemon(app: &TestApp, log: &Path) -> Child {
    app.daemon_command(log).spawn().unwrap()
}

/// SIGTERM, then the exit status must be a success; returns the log.
fn stop(mut child: Child, log: &Path) -> String {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    let text = std::fs::read_to_string(log).unwrap();
    assert!(status.success(), "{status}: {text}");
    text
}

/// Each mail became one ticket and got one acknowledgement; the INBOX is
/// empty.
fn exactly_once(app: &TestApp, mails: std::ops::Range<usize>) {
    assert_eq!(app.tickets().len(), mails.len());
    let sent = app.sent();
    for i in mails {
        let to = format!("agent{i}@mairie-exemple.fr");
        let acks = sent
            .iter()
            .filter(|m| m.to == to && m.auto_submitted == "auto-replied")
            .count();
        assert_eq!(acks, 1, "acknowledgements of mail {i}");
    }
    let ids: HashSet<&str> = sent.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(ids.len(), sent.len(), "a mail was sent twice");
    assert_eq!(app.count("INBOX"), 0);
}

#[test]
fn the_imap_server_restarted_under_the_daemon() {
    let app = TestApp::start(Db::Sqlite);
    let log = app.path().join("daemon.log");
    let child = daemon(&app, &log);
    app.append(&request(1));
    assert!(app.wait_for(Duration::from_secs(15), || acknowledged(&app, 1) == 1));

    app.mailbed("imap-stop", &[]);
    std::thread::sleep(Duration::from_secs(3));
    app.mailbed("imap-start", &[]);
    app.append(&request(2));
    let resumed = app.wait_for(Duration::from_secs(60), || acknowledged(&app, 2) == 1);
    let text = stop(child, &log);
    assert!(resumed, "mail not picked up after the restart: {text}");
    assert!(
        text.contains("reconnecting in") || text.contains("retrying in"),
        "{text}"
    );
    assert!(
        text.matches("connected to the mailbox").count() >= 2,
        "{text}"
    );
    exactly_once(&app, 1..3);
}

/// The IMAP session cut again and again while a backlog is fetched (some
/// cuts land in the middle of a `UID FETCH` or a `UID MOVE`): the daemon
/// reconnects each time and every mail ends up handled exactly once.
#[test]
fn imap_cut_repeatedly_during_a_backlog() {
    let mut mails = 2500;
    let app = TestApp::start(Db::Sqlite);
    app.seed((0..mails).map(request));
    let log = app.path().join("daemon.log");
    let child = daemon(&app, &log);
    // Cut whenever a session is up, four times (the daemon waits 1 s,
    // then 2 s... before reconnecting). A daemon that gets through the
    // backlog before the fourth cut is given more mail.
    let mut cuts = 0;
    let start = Instant::now();
    while cuts < 4 && start.elapsed() < Duration::from_secs(90) {
        std::thread::sleep(Duration::from_millis(200));
        let killed: usize = app.mailbed("imap-drop", &[]).trim().parse().unwrap();
        // A cut counts if mail was still waiting after it.
        if killed > 0 && app.count("INBOX") > 0 {
            cuts += 1;
        }
        if cuts < 4 && app.count("INBOX") == 0 && mails < 10_000 {
            app.seed((mails..mails + 1000).map(request));
            mails += 1000;
        }
    }
    let done = app.wait_for(Duration::from_secs(120), || {
        app.count("INBOX") == 0 && app.tickets().len() == mails
    });
    // Let the last acknowledgements go out: thousands of mails, sent
    // beside the other tests on two cores (30 s was too short there).
    let drained = app.wait_for(Duration::from_secs(180), || {
        app.outbox().iter().all(|r| r["state"] == "sent")
    });
    let text = stop(child, &log);
    assert!(done, "backlog not done after {cuts} cuts: {text}");
    let unsent = app.outbox().iter().filter(|r| r["state"] != "sent").count();
    assert!(drained, "{unsent} mails not sent after 180 s: {text}");
    assert_eq!(cuts, 4, "sessions cut while mail was waiting");
    assert!(
        text.matches("connected to the mailbox").count() >= 5,
        "{text}"
    );
    exactly_once(&app, 0..mails);
}

/// A PostgreSQL server of the test's own (scripts/pgbed), stopped and
/// started again under the running daemon.
struct PgBed {
    dir: tempfile::TempDir,
    url: String,
}

impl PgBed {
    fn up() -> PgBed {
        let dir = tempfile::Builder::new()
            .prefix("gp")
            .tempdir_in("/tmp")
            .unwrap();
        let out = PgBed::run("up", dir.path());
        let url = out
            .lines()
            .find_map(|l| l.strip_prefix("PG_URL="))
            .expect("PG_URL")
            .to_string();
        PgBed { dir, url }
    }

    fn run(verb: &str, dir: &Path) -> String {
        let out = Command::new(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/pgbed"))
            .arg(verb)
            .arg(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pgbed {verb}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for PgBed {
    fn drop(&mut self) {
        let _ = Command::new(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/pgbed"))
            .arg("down")
            .arg(self.dir.path())
            .output();
    }
}

#[test]
fn postgresql_restarted_under_the_daemon() {
    let pg = PgBed::up();
    let app = TestApp::start_on_database(&pg.url);
    let log = app.path().join("daemon.log");
    let child = daemon(&app, &log);
    app.append(&request(1));
    assert!(app.wait_for(Duration::from_secs(15), || acknowledged(&app, 1) == 1));

    // The database goes away while mail keeps arriving.
    PgBed::run("stop", pg.dir.path());
    app.append(&request(2));
    app.append(&request(3));
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        app.count("INBOX"),
        2,
        "mail left the INBOX without a database"
    );
    PgBed::run("start", pg.dir.path());

    let resumed = app.wait_for(Duration::from_secs(60), || {
        acknowledged(&app, 2) == 1 && acknowledged(&app, 3) == 1
    });
    let text = stop(child, &log);
    assert!(resumed, "not resumed after PostgreSQL came back: {text}");
    let db_errors: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("ERROR") && l.contains("retrying in"))
        .collect();
    assert!(!db_errors.is_empty(), "the outage was not logged: {text}");
    exactly_once(&app, 1..4);
}

/// Unmounts on drop, even when the test fails.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system holding `dir` with a ballast file, up to the last
/// byte; returns its path.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("ballast");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    let mut size = chunk.len();
    loop {
        match f.write(&chunk[..size]) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(28) => {
                if size == 1 {
                    break;
                }
                size = (size / 2).max(1);
            }
            Err(e) => panic!("filling {}: {e}", dir.display()),
        }
    }
    let _ = f.sync_all();
    path
}

/// The SQLite database on a small file system that fills up: the daemon
/// stops fetching and says why, leaves the mail in the INBOX, and carries
/// on by itself once there is room again.
///
/// Mounting a small file system needs root: the test is ignored (and says
/// so in the summary) unless run with `--include-ignored`, which
/// `scripts/test` passes when it runs as root; run that way without root,
/// it fails instead of passing unseen.
#[test]
#[ignore = "needs root: scripts/test runs it as root"]
fn a_full_disk_stops_fetching_and_resumes_when_space_returns() {
    assert!(is_root(), "mounting a small file system needs root");
    let app = TestApp::start(Db::Sqlite);
    let small = app.path().join("small");
    std::fs::create_dir_all(&small).unwrap();
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
        .arg(&small)
        .status()
        .unwrap();
    assert!(status.success(), "mount tmpfs on {}", small.display());
    let _mount = Mount(small.clone());
    let app = {
        let mut app = app;
        app.database_url = format!("sqlite://{}/guichet.db", small.display());
        app.write_config("", "");
        app
    };
    app.ok(&["migrate"]);
    let log = app.path().join("daemon.log");
    let child = daemon(&app, &log);
    app.append(&request(1));
    assert!(app.wait_for(Duration::from_secs(15), || acknowledged(&app, 1) == 1));

    let ballast = fill(&small);
    for i in 2..6 {
        app.append(&request(i));
    }
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(app.count("INBOX"), 4, "mail left the INBOX on a full disk");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.lines()
            .any(|l| l.contains("ERROR") && l.contains("full")),
        "the full disk was not reported: {text}"
    );

    std::fs::remove_file(&ballast).unwrap();
    let resumed = app.wait_for(Duration::from_secs(90), || {
        (2..6).all(|i| acknowledged(&app, i) == 1)
    });
    let text = stop(child, &log);
    assert!(resumed, "not resumed once space returned: {text}");
    exactly_once(&app, 1..6);
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Under systemd (Type=notify): READY=1 once the mailbox has been read,
/// STOPPING=1 on SIGTERM, then a clean exit within seconds.
#[test]
fn tells_systemd_when_ready_and_when_stopping() {
    use std::os::unix::net::UnixDatagram;
    let app = TestApp::start(Db::Sqlite);
    app.append(&request(1));
    let socket_path = app.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let log = app.path().join("daemon.log");
    let mut child = app
        .daemon_command(&log)
        .env("NOTIFY_SOCKET", &socket_path)
        .spawn()
        .unwrap();
    let mut said: Vec<String> = Vec::new();
    let listen = |until: &str, limit: Duration, said: &mut Vec<String>| {
        let start = Instant::now();
        let mut buf = [0u8; 4096];
        while start.elapsed() < limit && !said.iter().any(|m| m.contains(until)) {
            if let Ok(n) = socket.recv(&mut buf) {
                said.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
    };
    listen("READY=1", Duration::from_secs(15), &mut said);
    assert!(said.iter().any(|m| m.contains("READY=1")), "{said:?}");
    // Ready as soon as the configuration and the database are up; the
    // waiting mail is taken in next, and STATUS says so.
    listen("STATUS=fetched at ", Duration::from_secs(15), &mut said);
    assert!(
        said.iter().any(|m| m.contains("STATUS=fetched at ")),
        "{said:?}"
    );
    assert_eq!(app.tickets().len(), 1);

    let asked = Instant::now();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    listen("STOPPING=1", Duration::from_secs(10), &mut said);
    let status = child.wait().unwrap();
    let took = asked.elapsed();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        said.iter().any(|m| m.contains("STOPPING=1")),
        "{said:?}: {text}"
    );
    assert!(status.success(), "{text}");
    assert!(
        took < Duration::from_secs(5),
        "took {took:?} to stop: {text}"
    );
}
