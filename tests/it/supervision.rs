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
    let socket_path = app.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
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
