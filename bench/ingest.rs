//! guichet's speed, measured on the real bed (Dovecot, an SMTP sink, SQLite
//! and PostgreSQL) with a backlog of realistic mail, each figure beside a
//! baseline measured in the same run, since these machines are shared:
//!
//! - ingest: `run --once` with the relay down (parse, tickets, outbox rows,
//!   MOVE) against a minimal client that only fetches in batches and moves;
//! - outbox drain into Postfix's smtp-sink against Python's smtplib on one
//!   connection to it;
//! - pickup latency with IDLE, from APPEND to the acknowledgement received;
//! - peak RSS of the daemon during the backlog.
//!
//! `cargo bench --bench ingest` (BENCH_MAILS, default 10000; BENCH_DB =
//! sqlite, postgres or both, default both). bench/run installs what it
//! needs first.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::TryStreamExt;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("command runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn mailbed(args: &[&str]) -> String {
    run(Command::new(repo().join("scripts/mailbed")).args(args))
}

struct Bed {
    dir: tempfile::TempDir,
    env: HashMap<String, String>,
}

impl Bed {
    fn up() -> Bed {
        let dir = tempfile::Builder::new()
            .prefix("gb")
            .tempdir_in("/tmp")
            .unwrap();
        // Postfix's smtp-sink: the drain measures guichet's sending, not
        // the CPU a Python sink would take from the same two cores.
        let have_smtp_sink = Path::new("/usr/sbin/smtp-sink").exists()
            || Command::new("sh")
                .args(["-c", "command -v smtp-sink"])
                .output()
                .is_ok_and(|o| o.status.success());
        if !have_smtp_sink {
            println!("(no smtp-sink here: the SMTP sink is aiosmtpd)");
        }
        let dir_arg = dir.path().to_str().unwrap();
        let args: &[&str] = if have_smtp_sink {
            &["up", dir_arg, "--smtp-sink"]
        } else {
            &["up", dir_arg]
        };
        let out = mailbed(args);
        let env = out
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Bed { dir, env }
    }

    fn path(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }

    fn sink_count(&self) -> usize {
        std::fs::read_dir(Path::new(&self.env["SINK_DIR"]).join("new"))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        let _ = Command::new(repo().join("scripts/mailbed"))
            .args(["down", self.path()])
            .output();
    }
}

/// The minimal client: log in, UID SEARCH, UID FETCH and UID MOVE in
/// batches of the same size as guichet's. Returns mail per second.
async fn raw_fetch_and_move(bed: &Bed, batch: usize) -> (usize, f64) {
    let start = Instant::now();
    let tcp =
        tokio::net::TcpStream::connect(("127.0.0.1", bed.env["IMAP_PORT"].parse::<u16>().unwrap()))
            .await
            .unwrap();
    tcp.set_nodelay(true).unwrap();
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.unwrap();
    let mut session = client
        .login(&bed.env["IMAP_USER"], &bed.env["IMAP_PASSWORD"])
        .await
        .map_err(|(e, _)| e)
        .unwrap();
    let _ = session.create("Baseline").await;
    session.select("INBOX").await.unwrap();
    let mut uids: Vec<u32> = session
        .uid_search("ALL")
        .await
        .unwrap()
        .into_iter()
        .collect();
    uids.sort_unstable();
    let mut bytes = 0usize;
    for chunk in uids.chunks(batch) {
        let set = guichet::imap::uid_set(chunk);
        let fetched: Vec<_> = session
            .uid_fetch(&set, "(UID BODY.PEEK[])")
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        bytes += fetched
            .iter()
            .filter_map(|f| f.body())
            .map(<[u8]>::len)
            .sum::<usize>();
        session.uid_mv(&set, "Baseline").await.unwrap();
    }
    session.logout().await.unwrap();
    let _ = bytes;
    (
        uids.len(),
        uids.len() as f64 / start.elapsed().as_secs_f64(),
    )
}

fn write_config(bed: &Bed, database_url: &str) -> PathBuf {
    let path = bed.dir.path().join("guichet.toml");
    std::fs::write(
        &path,
        format!(
            "[database]\nurl = \"{database_url}\"\n[imap]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nusername = \"{}\"\npassword = \"{}\"\npoll_interval = \"10m\"\n[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"Support informatique <support@example.test>\"\n[tickets]\nagent_notify = [\"sau@example.test\"]\n",
            bed.env["IMAP_PORT"], bed.env["IMAP_USER"], bed.env["IMAP_PASSWORD"], bed.env["SMTP_PORT"]
        ),
    )
    .unwrap();
    path
}

fn guichet(config: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_guichet"));
    c.arg("--config").arg(config).env("RUST_LOG", "warn");
    c
}

/// Runs a command to its end; returns (seconds, peak RSS in KiB), the
/// peak read from /proc while it runs (VmHWM).
fn timed(mut cmd: Command) -> (f64, u64) {
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status_path) {
            if let Some(kib) = text
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
            {
                peak = peak.max(kib);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            assert!(status.success(), "guichet failed: {err}");
            return (start.elapsed().as_secs_f64(), peak);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Python smtplib sending `n` copies of a mail on one connection.
fn smtplib_rate(bed: &Bed, n: usize, sample: &Path) -> f64 {
    let script = r#"
import smtplib, sys, time
port, n, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
data = open(path, 'rb').read().replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')
s = smtplib.SMTP('127.0.0.1', port)
start = time.monotonic()
for i in range(n):
    s.sendmail('support@example.test', [f'baseline{i}@example.test'], data)
elapsed = time.monotonic() - start
s.quit()
print(n / elapsed)
"#;
    let out = run(Command::new("python3").args([
        "-c",
        script,
        &bed.env["SMTP_PORT"],
        &n.to_string(),
        sample.to_str().unwrap(),
    ]));
    out.trim().parse().unwrap()
}

fn append(bed: &Bed, raw: &[u8]) {
    use std::io::Write;
    let mut child = Command::new(repo().join("scripts/mailbed"))
        .args(["append", bed.path(), "-"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(raw).unwrap();
    assert!(child.wait().unwrap().success());
}

/// Writes what the phase before left in the page cache out to the disk,
/// so that its writeback does not slow the phase measured next.
fn settle() {
    let _ = Command::new("sync").status();
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn bench_database(label: &str, database_url: &str, mails: usize, generated: &Path) {
    println!("== {label}: {mails} mails");
    let bed = Bed::up();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    // Baseline: the raw fetch-and-move rate of this Dovecot, measured
    // before guichet's ingest and at the end; the ratio is taken against
    // their mean, so that a noisy moment of the machine during one of them
    // weighs half.
    let raw = |runtime: &tokio::runtime::Runtime| {
        mailbed(&["seed", bed.path(), generated.to_str().unwrap()]);
        let (n, rate) = runtime.block_on(raw_fetch_and_move(&bed, guichet::imap::BATCH));
        // At the end, a mail of the pickup test may still be there.
        assert!(n >= mails, "{n} mails seeded for {mails}");
        rate
    };
    let raw_before = raw(&runtime);

    // guichet with the relay down: parse, tickets, outbox rows, MOVE.
    mailbed(&["seed", bed.path(), generated.to_str().unwrap()]);
    let config = write_config(&bed, database_url);
    run(guichet(&config).arg("migrate"));
    mailbed(&["smtp-stop", bed.path()]);
    settle();
    let mut once = guichet(&config);
    once.args(["run", "--once"]);
    let (seconds, peak_kib) = timed(once);
    let ingest_rate = mails as f64 / seconds;
    let tickets: serde_json::Value =
        serde_json::from_str(&run(guichet(&config).args(["tickets", "list", "--json"]))).unwrap();
    assert_eq!(
        tickets.as_array().unwrap().len(),
        mails,
        "one ticket per mail"
    );
    println!(
        "peak RSS     {:>8.1} MiB during the backlog (target < 100)",
        peak_kib as f64 / 1024.0
    );

    // The outbox drained into the sink, against smtplib on one connection.
    mailbed(&["smtp-start", bed.path()]);
    // A mail of ordinary size whose lines fit SMTP's limit (RFC 5321
    // section 4.5.3.1.6), for smtplib, which sends lines as they are.
    let mut candidates: Vec<PathBuf> = std::fs::read_dir(generated)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    candidates.sort();
    let sample = candidates
        .into_iter()
        .find(|p| {
            let data = std::fs::read(p).unwrap();
            data.len() < 8000 && data.split(|b| *b == b'\n').all(|l| l.len() < 990)
        })
        .expect("a mail with short lines");
    let baseline_n = 2000.min(mails * 2);
    let smtplib = smtplib_rate(&bed, baseline_n, &sample);
    // The relay was down during the ingest: `outbox retry` sends what
    // waits, now.
    settle();
    let before = bed.sink_count();
    let mut drain = guichet(&config);
    drain.args(["outbox", "retry"]);
    let (seconds, _) = timed(drain);
    let drained = bed.sink_count() - before;
    assert_eq!(
        drained,
        mails * 2,
        "acknowledgement and agent notice per mail"
    );
    let drain_rate = drained as f64 / seconds;
    println!(
        "outbox drain {drain_rate:>8.0} mail/s   smtplib, one connection {smtplib:>6.0} mail/s   ratio {:.2} (target >= 1.5)",
        drain_rate / smtplib
    );

    // Pickup latency with IDLE: APPEND, then the acknowledgement received.
    let mut daemon = guichet(&config)
        .arg("run")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let mut latencies = Vec::new();
    // Where the time goes: the APPEND client (a Python process logging in),
    // and what follows its return (Dovecot telling the IDLE session, which
    // it delays by about half a second, then guichet and the sink).
    let mut appends = Vec::new();
    let mut after_append = Vec::new();
    let template = std::fs::read(&sample).unwrap();
    for i in 0..40 {
        // Each from its own requester: the loop guard would hold back a
        // sixth acknowledgement to one address within the hour.
        let text = String::from_utf8_lossy(&template)
            .replace("Message-ID: <bench", &format!("Message-ID: <idle{i}-bench"))
            .replace(
                "Subject: Demande",
                &format!("Subject: Latence {i}, demande"),
            )
            .replace("<agent", &format!("<latency{i}-agent"));
        let before = bed.sink_count();
        let start = Instant::now();
        append(&bed, text.as_bytes());
        let appended = start.elapsed();
        while bed.sink_count() < before + 2 && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(2));
        }
        latencies.push(start.elapsed().as_secs_f64() * 1000.0);
        after_append.push((start.elapsed() - appended).as_secs_f64() * 1000.0);
        appends.push(appended.as_secs_f64() * 1000.0);
    }
    let _ = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status();
    let _ = daemon.wait();
    for v in [&mut latencies, &mut appends, &mut after_append] {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    }
    println!(
        "IDLE pickup  p50 {:>5.0} ms   p95 {:>5.0} ms   max {:>5.0} ms (APPEND to acknowledgement received; target p95 < 1000)",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.95),
        latencies[latencies.len() - 1]
    );
    println!(
        "             of which the APPEND client p50 {:>4.0} ms; from its return to the acknowledgement p50 {:>4.0} ms",
        percentile(&appends, 0.5),
        percentile(&after_append, 0.5)
    );
    // The baseline again, once guichet is done with the database and the
    // disk (seeding 10,000 mail files just before the drain would leave
    // their writeback to compete with it); the ingest's line comes last.
    let raw_after = raw(&runtime);
    let raw_rate = (raw_before + raw_after) / 2.0;
    // The target is SQLite's, the default database; PostgreSQL's
    // figure is measured for comparison (a round trip per statement).
    let target = if database_url.starts_with("sqlite") {
        "target >= 0.5"
    } else {
        "no target"
    };
    println!(
        "ingest       {ingest_rate:>8.0} mail/s   raw fetch+move {raw_rate:>8.0} mail/s ({raw_before:.0} before, {raw_after:.0} after)   ratio {:.2} ({target})",
        ingest_rate / raw_rate
    );
    large_mails(&bed, &config, peak_kib);
}

/// Peak RSS of `run --once` on a backlog of large mails (BENCH_LARGE, by
/// default 60 mails of 10 MiB: a PDF scan each), beside the peak on the
/// backlog of ordinary mail measured just before: batches are bounded by
/// bytes, so the first must stay near the second.
fn large_mails(bed: &Bed, config: &Path, small_peak_kib: u64) {
    let count: usize = std::env::var("BENCH_LARGE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    if count == 0 {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = r#"
import base64, os, sys
out, n = sys.argv[1], int(sys.argv[2])
blob = base64.encodebytes(os.urandom(7_600_000)).replace(b'\n', b'\r\n')
for i in range(n):
    head = (f"From: Agent Scanner {i} <scan{i}@mairie-exemple.fr>\r\nTo: support@example.test\r\n"
            f"Subject: Scan du dossier {i}\r\nMessage-ID: <large{i}@mairie-exemple.fr>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
            "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nLe dossier scann\u00e9, en pi\u00e8ce jointe.\r\n"
            f"--b\r\nContent-Type: application/pdf; name=\"dossier-{i}.pdf\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n").encode()
    with open(os.path.join(out, f"large{i}.eml"), "wb") as f:
        f.write(head + blob + b"\r\n--b--\r\n")
"#;
    run(Command::new("python3").args([
        "-c",
        script,
        dir.path().to_str().unwrap(),
        &count.to_string(),
    ]));
    let bytes: u64 = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    mailbed(&["seed", bed.path(), dir.path().to_str().unwrap()]);
    mailbed(&["smtp-stop", bed.path()]);
    settle();
    let mut once = guichet(config);
    once.args(["run", "--once"]);
    let (seconds, peak_kib) = timed(once);
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "large mail   {count} mails, {:.0} MiB, in {seconds:.1} s: peak RSS {:>6.1} MiB, {:.2} x the ordinary backlog's {:.1} MiB (target < 300 MiB)",
        bytes as f64 / f64::from(1 << 20),
        mib(peak_kib),
        peak_kib as f64 / small_peak_kib as f64,
        mib(small_peak_kib)
    );
}

fn main() {
    // `cargo bench` passes --bench. `cargo test --all-targets` runs this
    // binary too, without it: the benchmark is not a test, it only runs
    // when asked for.
    if !std::env::args().any(|a| a == "--bench") {
        println!("bench/ingest: run with `cargo bench --bench ingest` or bench/run");
        return;
    }
    let mails: usize = std::env::var("BENCH_MAILS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let which = std::env::var("BENCH_DB").unwrap_or_else(|_| "both".into());
    let work = tempfile::tempdir().unwrap();
    let generated = work.path().join("mail");
    run(Command::new("python3").args([
        repo().join("bench/generate.py").to_str().unwrap(),
        generated.to_str().unwrap(),
        &mails.to_string(),
    ]));
    if which == "sqlite" || which == "both" {
        let db = work.path().join("bench.db");
        bench_database(
            "SQLite",
            &format!("sqlite://{}", db.display()),
            mails,
            &generated,
        );
    }
    if which == "postgres" || which == "both" {
        let admin = std::env::var("DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!("guichet_bench_{}", std::process::id());
        let base = admin.rsplit_once('/').unwrap().0.to_string();
        run(Command::new("psql").args([&admin, "-qc", &format!("CREATE DATABASE {name}")]));
        bench_database("PostgreSQL", &format!("{base}/{name}"), mails, &generated);
        let _ = Command::new("psql")
            .args([&admin, "-qc", &format!("DROP DATABASE {name} WITH (FORCE)")])
            .output();
    }
}
