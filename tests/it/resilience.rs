//! Never lose, never double: kill -9 during a backlog, a mailbox restored
//! under a new UIDVALIDITY, three daemons on one PostgreSQL, a login that
//! keeps failing.

use std::collections::{HashMap, HashSet};
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::app::{mail, Db, TestApp};
use crate::on_both_databases;

on_both_databases!(
    a_restored_mailbox_makes_no_duplicates,
    kill_9_during_a_backlog_loses_and_doubles_nothing,
    processes_starting_together_on_a_new_database_migrate_it_once,
);

fn requester(i: usize) -> String {
    format!("Agent {i} <agent{i}@mairie-exemple.fr>")
}

fn request(i: usize) -> Vec<u8> {
    mail(
        &requester(i),
        &format!("Demande n°{i} : poste {i} bloqué"),
        &format!("req{i}@mairie-exemple.fr"),
        "",
        &format!("Bonjour,\nle poste {i} ne démarre plus.\nMerci."),
    )
}

fn a_restored_mailbox_makes_no_duplicates(db: Db) {
    let app = TestApp::start(db);
    // A mail without a Message-ID is recognised by its bytes.
    let no_id = b"From: Agent 9 <agent9@mairie-exemple.fr>\nTo: support@example.test\nSubject: Sans identifiant\nDate: Mon, 23 Nov 2026 09:00:00 +0100\n\nBonjour, mon logiciel n'envoie pas de Message-ID.\n";
    app.append(&request(1));
    app.append(&request(2));
    app.append(no_id);
    app.run_once();
    assert_eq!(app.tickets().len(), 3);
    // The mailbox is restored from a backup: the same mail comes back under
    // new UIDs and a new UIDVALIDITY, with one new mail.
    let out = std::process::Command::new("doveadm")
        .args([
            "-c",
            &app.env["DOVECOT_CONF"],
            "mailbox",
            "update",
            "-u",
            "support@example.test",
            "--uid-validity",
            "4242",
            "INBOX",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "doveadm: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    app.append(&request(1));
    app.append(&request(2));
    app.append(no_id);
    app.append(&request(3));
    let log = app.run_once();
    assert!(log.contains("UIDVALIDITY changed"), "{log}");
    assert_eq!(app.tickets().len(), 4);
    for i in [1, 2, 3, 9] {
        assert_eq!(app.sent_to(&format!("agent{i}@mairie-exemple.fr")).len(), 1);
    }
    assert_eq!(app.count("INBOX"), 0);
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Kills the daemon at random moments while it works through a backlog,
/// restarts it each time, then checks: one ticket per mail, one
/// acknowledgement (one Message-ID) per mail, nothing left behind.
fn kill_9_during_a_backlog_loses_and_doubles_nothing(db: Db) {
    // scripts/crashtest runs the same harness with 2,000 mails and more
    // kills (GUICHET_CRASH_MAILS, GUICHET_CRASH_KILLS).
    let mut mails: usize = env_or("GUICHET_CRASH_MAILS", 600);
    let kills: usize = env_or("GUICHET_CRASH_KILLS", 6);
    let app = TestApp::start(db);
    app.edit_config(
        "poll_interval = \"1s\"",
        "poll_interval = \"1s\"\nidle = true",
    );
    // The backlog comes in parts, one before each life aimed at the
    // ingest, so that each of those lives has mail left to be killed in:
    // at least two batches, so that the kill can come while the second is
    // processed (its first batch committed, the signal to aim).
    let ingest_lives = kills.div_ceil(2);
    let part = mails.div_ceil(ingest_lives).max(2 * guichet::imap::BATCH);
    let mut seeded = 0;
    let mut seed = 0x9e3779b97f4a7c15u64;
    let mut random = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    // Kills aimed in turn at the ingest (once this life has logged a new
    // ticket) and at the sending (once it has sent a mail), each a random
    // moment later, so that some land between fetch and commit or commit
    // and MOVE, and some between the relay's answer and the outbox update.
    let sink = std::path::PathBuf::from(&app.env["SINK_DIR"]).join("new");
    let sent_count = || std::fs::read_dir(&sink).map(|d| d.count()).unwrap_or(0);
    let mut mid_ingest = 0;
    let mut mid_sending = 0;
    // On a loaded machine the daemon can outrun the watch and finish a
    // part before the kill comes: lives are then added, aimed at what no
    // kill has hit yet (with a new part of mail for the ingest), up to
    // twice as many again.
    let mut lives = 0;
    while lives < kills || ((mid_ingest == 0 || mid_sending == 0) && lives < 3 * kills) {
        let k = lives;
        lives += 1;
        let sent_before = sent_count();
        let aim_at_sending = if k < kills {
            k % 2 == 1
        } else {
            mid_sending == 0 && mid_ingest > 0
        };
        if !aim_at_sending && k >= kills && seeded == mails {
            mails += part;
        }
        if !aim_at_sending && seeded < mails {
            let last = mails.min(seeded + part);
            app.seed((seeded..last).map(request));
            seeded = last;
        }
        let log = app.path().join(format!("life{k}.log"));
        let mut child = app.daemon_command(&log).spawn().unwrap();
        // Once all is done, later lives are killed at once.
        let all_done =
            || app.count("INBOX") == 0 && app.outbox().iter().all(|r| r["state"] == "sent");
        let new_ticket =
            || std::fs::read_to_string(&log).is_ok_and(|text| text.contains("new ticket"));
        // The signal is looked for every 5 ms (a file read); the end of
        // all work (which asks the database and IMAP through subprocesses,
        // a fifth of a second on a loaded machine) only every 100 ms after
        // the first 2 s, so that it never delays the signal of a life that
        // has work to do.
        let start = std::time::Instant::now();
        for tick in 0.. {
            let signal = if aim_at_sending {
                sent_count() > sent_before
            } else {
                new_ticket()
            };
            if signal
                || start.elapsed() > Duration::from_secs(10)
                || (start.elapsed() > Duration::from_secs(2) && tick % 20 == 19 && all_done())
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        // A batch is processed in a fraction of a second (40 ms on SQLite
        // in a release build): a kill aimed at the ingest comes within
        // 10 ms of the first batch's log line, while the second is
        // processed or moved.
        let spread = if aim_at_sending { 150 } else { 10 };
        std::thread::sleep(Duration::from_millis(random() % spread));
        child.kill().unwrap();
        child.wait().unwrap();
        if app.count("INBOX") > 0 {
            mid_ingest += 1;
        }
        let pending = app
            .outbox()
            .iter()
            .filter(|r| r["state"] == "pending")
            .count();
        if sent_count() > sent_before && pending > 0 {
            mid_sending += 1;
        }
    }
    eprintln!(
        "{lives} kills: {mid_ingest} with mail still in the INBOX, {mid_sending} while sending"
    );
    assert!(
        mid_ingest > 0 && mid_sending > 0,
        "no kill landed mid-ingest ({mid_ingest}) or mid-sending ({mid_sending})"
    );
    // Then it is left to finish.
    app.seed((seeded..mails).map(request));
    app.run_once();
    app.run_once();
    assert_eq!(app.count("INBOX"), 0);
    let tickets = app.tickets();
    assert_eq!(tickets.len(), mails, "one ticket per mail");
    let requesters: HashSet<String> = tickets
        .iter()
        .map(|t| t["requester"]["email"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(requesters.len(), mails);
    let acknowledgements = app.acknowledgements();
    let mut acks: HashMap<String, HashSet<String>> = HashMap::new();
    for m in &acknowledgements {
        acks.entry(m.to.clone())
            .or_default()
            .insert(m.message_id.clone());
    }
    for i in 0..mails {
        let ids = acks.get(&format!("agent{i}@mairie-exemple.fr"));
        assert_eq!(
            ids.map(HashSet::len),
            Some(1),
            "acknowledgements of mail {i}: {ids:?}"
        );
    }
    // Any mail sent twice (killed between the relay's answer and the
    // outbox update) keeps its Message-ID, so it threads as one.
    let copies = acknowledgements.len();
    // At most the mails sent and not yet recorded when each kill came.
    assert!(
        copies <= mails + lives * guichet::outbound::dispatch::UNRECORDED,
        "{copies} acknowledgements for {mails} mails"
    );
    eprintln!(
        "{mails} mails, {lives} kills: {copies} acknowledgements sent ({} resent after a kill, each with its Message-ID)",
        copies - mails
    );
    let outbox = app.outbox();
    assert!(
        outbox.iter().all(|r| r["state"] == "sent"),
        "mail left unsent"
    );
}

/// Starts `n` daemons, 0.7 s apart so that the first one fetches; returns
/// them and their log files.
fn start_daemons(app: &TestApp, n: usize) -> (Vec<Child>, Vec<std::path::PathBuf>) {
    let logs: Vec<std::path::PathBuf> = (0..n)
        .map(|i| app.path().join(format!("daemon{i}.log")))
        .collect();
    let daemons = logs
        .iter()
        .map(|log| {
            let child = app.daemon_command(log).spawn().unwrap();
            std::thread::sleep(Duration::from_millis(700));
            child
        })
        .collect();
    (daemons, logs)
}

/// Three daemons on one PostgreSQL and one mailbox: one fetches, the
/// others stand by and share the sending; the fetching one is killed and
/// another takes over within the lease; every mail is handled once.
#[test]
fn three_daemons_share_the_mailbox_and_take_over() {
    let app = TestApp::start(Db::Postgres);
    let (mut daemons, logs) = start_daemons(&app, 3);
    for i in 0..30 {
        app.append(&request(i));
    }
    let all_acked = |n: usize| app.acknowledgements().len() >= n;
    assert!(
        app.wait_for(Duration::from_secs(20), || all_acked(30)),
        "backlog not done"
    );
    let read = |i: usize| std::fs::read_to_string(&logs[i]).unwrap();
    let fetching: Vec<usize> = (0..3)
        .filter(|i| !read(*i).contains("standing by"))
        .collect();
    assert_eq!(
        fetching,
        vec![0],
        "the first daemon fetches, the others stand by"
    );

    // Nothing in flight when it dies: a mail accepted by the relay but not
    // yet marked sent would be sent again (with its Message-ID), which is
    // the kill -9 test's business, not this one's.
    assert!(
        app.wait_for(Duration::from_secs(20), || app
            .outbox()
            .iter()
            .all(|r| r["state"] == "sent")),
        "outbox not drained before the kill"
    );
    let sent_before_kill = app.sent().len();

    // The fetching daemon dies: another takes over within the lease.
    daemons[0].kill().unwrap();
    daemons[0].wait().unwrap();
    for i in 30..45 {
        app.append(&request(i));
    }
    let done = app.wait_for(Duration::from_secs(40), || all_acked(45));
    for d in &mut daemons[1..] {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &d.id().to_string()])
            .status();
        let _ = d.wait();
    }
    let texts = format!("{}\n{}", read(1), read(2));
    assert!(done, "no takeover: {texts}");
    let took_over = (1..3)
        .filter(|i| read(*i).contains("taking over the mailbox"))
        .count();
    assert_eq!(took_over, 1, "exactly one takes over: {texts}");
    assert_eq!(app.tickets().len(), 45);
    let ids: HashSet<String> = app
        .acknowledgements()
        .into_iter()
        .map(|m| m.message_id)
        .collect();
    assert_eq!(ids.len(), 45, "an acknowledgement was sent twice");
    assert_eq!(
        app.sent().len(),
        app.sent()
            .iter()
            .map(|m| m.message_id.clone())
            .collect::<HashSet<_>>()
            .len(),
        "a mail was sent twice"
    );
    assert_eq!(app.count("INBOX"), 0);
    assert_eq!(
        app.sent().len() - sent_before_kill,
        30,
        "15 acknowledgements and 15 agent notifications after the takeover"
    );
}

/// The fetching daemon hangs (SIGSTOP: alive, but renewing nothing): the
/// other takes the mailbox over once the lease has expired, and when the
/// hung one wakes up it finds the lease gone and stands by; every mail is
/// handled once.
#[test]
fn a_hung_fetcher_loses_the_mailbox_when_its_lease_expires() {
    let app = TestApp::start(Db::Postgres);
    let (mut daemons, logs) = start_daemons(&app, 2);
    let read = |i: usize| std::fs::read_to_string(&logs[i]).unwrap_or_default();
    let acked = |n: usize| app.acknowledgements().len() >= n;
    app.append(&request(0));
    assert!(app.wait_for(Duration::from_secs(15), || acked(1)));
    assert!(read(1).contains("standing by"), "{}", read(1));
    let signal = |sig: &str, child: &Child| {
        std::process::Command::new("kill")
            .args([sig, &child.id().to_string()])
            .status()
            .unwrap();
    };
    signal("-STOP", &daemons[0]);
    let hung = std::time::Instant::now();
    for i in 1..6 {
        app.append(&request(i));
    }
    let taken = app.wait_for(Duration::from_secs(40), || acked(6));
    let after = hung.elapsed();
    signal("-CONT", &daemons[0]);
    assert!(taken, "no takeover: {}", read(1));
    assert!(read(1).contains("taking over the mailbox"), "{}", read(1));
    // Not before the lease (15 s) could expire: the holder was alive.
    assert!(
        after >= Duration::from_secs(10),
        "taken over after {after:?}"
    );
    // The hung one wakes up, loses the lease and stands by.
    assert!(
        app.wait_for(Duration::from_secs(20), || read(0)
            .contains("took the mailbox over; standing by")),
        "{}",
        read(0)
    );
    for i in 6..9 {
        app.append(&request(i));
    }
    assert!(app.wait_for(Duration::from_secs(20), || acked(9)));
    for d in &mut daemons {
        signal("-TERM", d);
        let _ = d.wait();
    }
    assert_eq!(app.tickets().len(), 9);
    let ids: HashSet<String> = app.sent().into_iter().map(|m| m.message_id).collect();
    assert_eq!(ids.len(), app.sent().len(), "a mail was sent twice");
    assert_eq!(app.count("INBOX"), 0);
}

/// Two daemons run the scheduler at the same moment on one PostgreSQL:
/// each overdue solved ticket is closed once, with one closure mail.
#[test]
fn the_automatic_closure_happens_once_whatever_the_number_of_daemons() {
    let app = TestApp::start(Db::Postgres);
    app.ok(&["agents", "add", "marc.agent@example.test"]);
    for i in 0..6 {
        app.append(&request(i));
    }
    app.run_at("2026-11-23T08:00:00Z");
    for notice in app.sent_to("sau@example.test") {
        app.reply(
            &notice,
            "Marc <marc.agent@example.test>",
            "#solution\nLe poste redémarre de nouveau.",
            "",
        );
    }
    app.run_at("2026-11-23T09:00:00Z");
    assert!(app.tickets().iter().all(|t| t["status"] == "solved"));
    let closers: Vec<Child> = (0..2)
        .map(|_| {
            app.command()
                .args(["run", "--once", "--now", "2026-12-01T09:00:00Z"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in closers {
        assert!(c.wait().unwrap().success());
    }
    let tickets = app.tickets();
    assert!(
        tickets
            .iter()
            .all(|t| t["status"] == "closed" && t["close_reason"] == "auto"),
        "{tickets:?}"
    );
    let closures: Vec<String> = app
        .outbox()
        .into_iter()
        .filter(|r| r["kind"] == "auto_closure")
        .map(|r| r["subject"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(closures.len(), 6, "{closures:?}");
    assert_eq!(
        closures.iter().collect::<HashSet<_>>().len(),
        6,
        "a ticket closed twice: {closures:?}"
    );
}

/// SIGTERM in the middle of a backlog: the daemon stops within seconds,
/// cleanly, and the next run picks up where it stopped, exactly once.
#[test]
fn sigterm_during_a_backlog_stops_quickly_and_loses_nothing() {
    let mails = 1500;
    let app = TestApp::start(Db::Sqlite);
    app.seed((0..mails).map(request));
    let child = app
        .command()
        .arg("run")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    let log = stopped_quickly(child);
    assert!(log.contains("stopped"), "{log}");
    let done_before = app.tickets().len();
    app.run_once();
    app.run_once();
    assert_eq!(
        app.tickets().len(),
        mails,
        "{done_before} done before the stop"
    );
    assert_eq!(app.count("INBOX"), 0);
    assert!(app.outbox().iter().all(|r| r["state"] == "sent"));
}

/// Sends SIGTERM to a daemon started with its stderr piped, and checks
/// that it exits cleanly within 5 s; returns its log.
fn stopped_quickly(child: Child) -> String {
    let asked = std::time::Instant::now();
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let took = asked.elapsed();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{log}");
    assert!(
        took < Duration::from_secs(5),
        "took {took:?} to stop: {log}"
    );
    log
}

/// SIGTERM while a long outbox is being sent: the daemon finishes the
/// batch in hand and stops within seconds; the next run sends the rest,
/// each mail once (at most the few in flight again, with their
/// Message-IDs).
#[test]
fn sigterm_during_a_long_drain_stops_quickly_and_sends_the_rest_later() {
    let mails = 1200;
    let app = TestApp::start(Db::Sqlite);
    app.seed((0..mails).map(request));
    app.mailbed("smtp-stop", &[]);
    app.run_once();
    let waiting = app.outbox().len();
    assert_eq!(waiting, 2 * mails);
    app.mailbed("smtp-start", &[]);
    // The relay was refused at the last try: its hold over, everything
    // due now.
    app.sql(
        "UPDATE outbox SET next_attempt_at = '2000-01-01 00:00:00'; \
         UPDATE relay_holds SET held_until = '2000-01-01 00:00:00'",
    );
    let child = app
        .command()
        .arg("run")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        app.wait_for(Duration::from_secs(30), || app.sent().len() >= 100),
        "the drain did not start"
    );
    stopped_quickly(child);
    let sent_before = app.sent().len();
    assert!(
        sent_before < waiting,
        "the drain finished before the stop: no test"
    );
    app.run_once();
    let sent = app.sent();
    let ids: HashSet<&str> = sent.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(ids.len(), waiting, "every mail sent");
    assert!(
        sent.len() <= waiting + 4,
        "{} sent for {waiting}",
        sent.len()
    );
    assert!(app.outbox().iter().all(|r| r["state"] == "sent"));
}

/// Several processes writing to one SQLite file at once (the MTA's pipe
/// mode while the daemon runs): they queue on the write lock, none fails
/// with "database is locked", nothing is lost.
#[test]
fn concurrent_writers_on_sqlite_queue_instead_of_failing() {
    use std::io::Write;
    let app = TestApp::start(Db::Sqlite);
    app.ok(&["migrate"]);
    let mut children = Vec::new();
    for p in 0..4 {
        let files: Vec<std::path::PathBuf> = (0..40)
            .map(|i| {
                let n = p * 100 + i;
                let path = app.path().join(format!("in{n}.eml"));
                std::fs::write(&path, request(n)).unwrap();
                path
            })
            .collect();
        let child = app
            .command()
            .arg("ingest")
            .args(&files)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        children.push(child);
    }
    // And the daemon's own cycle at the same time.
    let mut daemon_mail = app
        .command()
        .arg("ingest")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    daemon_mail
        .stdin
        .take()
        .unwrap()
        .write_all(&request(999))
        .unwrap();
    children.push(daemon_mail);
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(!stderr.contains("locked"), "{stderr}");
    }
    assert_eq!(app.tickets().len(), 161);
}

/// The daemon, an administrator's `guichet tickets list` and another
/// daemon all starting on a database that has no tables yet: one creates
/// the schema, the others wait for it and find nothing left to do, none
/// fails on "table already exists" or on SQLite's "database is locked"
/// while the new file turns to WAL. A race, so several rounds, each on a
/// new database.
fn processes_starting_together_on_a_new_database_migrate_it_once(db: Db) {
    let app = TestApp::start(db);
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .count();
    for round in 0..8 {
        if round > 0 {
            match db {
                Db::Sqlite => {
                    let file = guichet::store::sqlite_path(&app.database_url);
                    for suffix in ["", "-wal", "-shm"] {
                        let _ = std::fs::remove_file(format!("{file}{suffix}"));
                    }
                }
                Db::Postgres => app.sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;"),
            }
        }
        let children: Vec<Child> = (0..6)
            .map(|i| {
                let args: &[&str] = if i % 2 == 0 {
                    &["migrate"]
                } else {
                    &["tickets", "list"]
                };
                app.command()
                    .args(args)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut applied = 0;
        for child in children {
            let out = child.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "round {round}: {stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            if let Some((n, _)) = stdout
                .strip_prefix("database up to date (")
                .and_then(|rest| rest.split_once(' '))
            {
                applied += n.parse::<usize>().unwrap();
            }
        }
        // Each migration ran once, in whichever process; those run by
        // `tickets list` are not printed, so at most all of them.
        assert!(
            applied <= migrations,
            "round {round}: {applied} of {migrations}"
        );
        assert_eq!(
            app.ok(&["migrate"]).trim(),
            "database up to date (0 migration(s) applied)"
        );
        assert!(app.tickets().is_empty());
    }
}
