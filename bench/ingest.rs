//! guichet's speed, measured on the real bed (Dovecot, an SMTP sink, SQLite
//! and PostgreSQL) with a backlog of mail as a support mailbox receives it
//! (`bench/mix.py`), each figure beside a baseline measured in the same
//! run, since these machines are shared:
//!
//! - ingest: `run --once` with the relay down (parse, tickets, outbox rows,
//!   MOVE) against a minimal client that only fetches in batches and
//!   moves; on the mix, on each of its size classes, and on 3.6 KB
//!   plain-text requests;
//! - outbox drain into Postfix's smtp-sink against Python's smtplib on one
//!   connection sending the very bytes guichet sent, read back from the
//!   sink, in the same order;
//! - pickup latency with IDLE, from APPEND to the acknowledgement received;
//! - pipe mode: one `guichet ingest` process per mail, as an MTA runs it,
//!   handed to the daemon over its socket, against the same process
//!   storing the mail itself (beside the daemon, and alone) and the start
//!   of the same binary doing nothing;
//! - peak RSS on the mix, and on a backlog of 10 MiB mails.
//!
//! `cargo bench --bench ingest` (BENCH_MAILS, default 10000; BENCH_DB =
//! sqlite, postgres or both, default both; BENCH_LARGE, default 60).
//! bench/run installs what it needs first.

use std::collections::{HashMap, HashSet};
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
    /// Postfix's smtp-sink runs (not aiosmtpd): the drain's baseline reads
    /// its files back.
    smtp_sink: bool,
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
        Bed {
            dir,
            env,
            smtp_sink: have_smtp_sink,
        }
    }

    fn path(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }

    /// The files of the sink, one per mail it took.
    fn sink_files(&self) -> HashSet<PathBuf> {
        std::fs::read_dir(Path::new(&self.env["SINK_DIR"]).join("new"))
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default()
    }

    fn sink_count(&self) -> usize {
        self.sink_files().len()
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

/// The configuration at `config` with the daemon taking piped mail on a
/// socket beside it (`[ingest] socket`), written beside it.
fn with_socket(config: &Path) -> PathBuf {
    let path = config.with_file_name("guichet-socket.toml");
    let socket = config.with_file_name("ingest.sock");
    let text = std::fs::read_to_string(config).unwrap();
    std::fs::write(
        &path,
        format!("{text}[ingest]\nsocket = \"{}\"\n", socket.display()),
    )
    .unwrap();
    path
}

/// guichet as systemd/guichet.service runs it: mimalloc told to give
/// freed memory back at once.
fn guichet(config: &Path) -> Command {
    let mut c = as_an_mta_runs_it(config);
    c.envs(unit_environment());
    c
}

/// guichet without the unit's environment, as an MTA runs `guichet ingest`.
fn as_an_mta_runs_it(config: &Path) -> Command {
    let mut c = Command::new(guichet_exe());
    c.arg("--config").arg(config).env("RUST_LOG", "warn");
    c
}

/// The `Environment=` settings of systemd/guichet.service but the
/// configuration's path.
fn unit_environment() -> Vec<(String, String)> {
    let unit = std::fs::read_to_string(repo().join("systemd/guichet.service")).unwrap();
    unit.lines()
        .filter_map(|l| l.strip_prefix("Environment="))
        .flat_map(str::split_whitespace)
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| *k != "GUICHET_CONFIG")
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
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

/// Python's smtplib on one connection, sending again the mails of the sink
/// `dumps` (smtp-sink's files: its own header lines, then the mail as
/// received) with their envelope, in the order given. Returns mail per
/// second, the files read before the clock starts.
fn smtplib_replay(bed: &Bed, dumps: &[PathBuf]) -> f64 {
    let script = r#"
import smtplib, sys, time
port, listing = int(sys.argv[1]), sys.argv[2]
mails = []
for path in open(listing).read().split('\n'):
    if not path:
        continue
    data = open(path, 'rb').read()
    sender, rcpts, options = None, [], []
    rest = data
    # smtp-sink's lines (X-Client-Addr, X-Mail-Args, X-Rcpt-Args...), then
    # the Received line it adds with its continuations, then the mail.
    while rest.startswith(b'X-'):
        line, rest = rest.split(b'\n', 1)
        name, value = line.split(b': ', 1)
        if name == b'X-Mail-Args':
            words = value.decode().split()
            sender = words[0].strip('<>')
            options = [w for w in words[1:] if not w.upper().startswith('SIZE=')]
        elif name == b'X-Rcpt-Args':
            rcpts.append(value.decode().split()[0].strip('<>'))
    assert rest.startswith(b'Received: from '), path
    rest = rest.split(b'\n', 1)[1]
    while rest.startswith((b'\t', b' ')):
        rest = rest.split(b'\n', 1)[1]
    # The sink writes one line end more than the mail had.
    assert rest.endswith(b'\n\n'), path
    body = rest[:-1].replace(b'\n', b'\r\n')
    mails.append((sender, rcpts, body, options))
s = smtplib.SMTP('127.0.0.1', port)
start = time.monotonic()
for sender, rcpts, body, options in mails:
    s.sendmail(sender, rcpts, body, mail_options=options)
elapsed = time.monotonic() - start
s.quit()
print(len(mails) / elapsed)
"#;
    let listing = bed.dir.path().join("replay.txt");
    let paths: Vec<&str> = dumps.iter().map(|p| p.to_str().unwrap()).collect();
    std::fs::write(&listing, paths.join("\n")).unwrap();
    let out = run(Command::new("python3").args([
        "-c",
        script,
        &bed.env["SMTP_PORT"],
        listing.to_str().unwrap(),
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

/// A folder of mails, ready to seed, and its files with their sizes, by
/// name.
struct Backlog {
    dir: PathBuf,
    files: Vec<(PathBuf, u64)>,
    mails: usize,
    bytes: u64,
}

impl Backlog {
    fn read(dir: PathBuf) -> Backlog {
        let mut files: Vec<(PathBuf, u64)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.path(), e.metadata().unwrap().len())
            })
            .collect();
        files.sort();
        Backlog {
            mails: files.len(),
            bytes: files.iter().map(|(_, s)| s).sum(),
            files,
            dir,
        }
    }

    fn path(&self) -> &str {
        self.dir.to_str().unwrap()
    }

    fn describe(&self) -> String {
        let mut sizes: Vec<u64> = self.files.iter().map(|(_, s)| *s).collect();
        sizes.sort_unstable();
        format!(
            "{} mails, {:.1} MiB, median {:.1} KB",
            self.mails,
            self.bytes as f64 / f64::from(1 << 20),
            sizes.get(sizes.len() / 2).copied().unwrap_or(0) as f64 / 1000.0
        )
    }
}

/// `n` mails from `bench/mix.py`, numbered from `start`: the mix a support
/// mailbox receives, or only 3.6 KB plain-text requests.
fn mix(dir: &Path, n: usize, start: usize, plain: bool) -> Backlog {
    let mut cmd = Command::new("python3");
    cmd.arg(repo().join("bench/mix.py")).arg(dir).args([
        n.to_string(),
        "--start".into(),
        start.to_string(),
    ]);
    if plain {
        cmd.arg("--plain");
    }
    run(&mut cmd);
    Backlog::read(dir.to_path_buf())
}

/// The size classes the ingest is reported by: up to each bound, in bytes.
const CLASSES: [(&str, u64); 4] = [
    ("under 8 KB", 8_000),
    ("8 to 64 KB", 64_000),
    ("64 KB to 1 MB", 1_000_000),
    ("over 1 MB", u64::MAX),
];

/// The mails of `backlog` split by size class, in folders under `into`
/// (hard links); the empty classes left out.
fn by_size(backlog: &Backlog, into: &Path) -> Vec<(&'static str, Backlog)> {
    let mut classes = Vec::new();
    let mut lower = 0;
    for (i, (label, upper)) in CLASSES.iter().enumerate() {
        let dir = into.join(format!("class{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        for (path, size) in &backlog.files {
            if *size > lower && size <= upper {
                std::fs::hard_link(path, dir.join(path.file_name().unwrap())).unwrap();
            }
        }
        lower = *upper;
        let class = Backlog::read(dir);
        if class.mails > 0 {
            classes.push((*label, class));
        }
    }
    classes
}

/// One ingest measured: guichet's rate, the raw fetch-and-move rate
/// before and after it, guichet's peak RSS.
struct Ingest {
    rate: f64,
    raw_before: f64,
    raw_after: f64,
    peak_kib: u64,
}

impl Ingest {
    /// The raw rate is the mean of the one before and the one after, so
    /// that a noisy moment of the machine during one of them weighs half.
    fn raw(&self) -> f64 {
        (self.raw_before + self.raw_after) / 2.0
    }

    fn ratio(&self) -> f64 {
        self.rate / self.raw()
    }
}

/// The raw fetch-and-move rate on `backlog`, seeded for it.
fn raw_rate(bed: &Bed, runtime: &tokio::runtime::Runtime, backlog: &Backlog) -> f64 {
    mailbed(&["seed", bed.path(), backlog.path()]);
    settle();
    let (n, rate) = runtime.block_on(raw_fetch_and_move(bed, guichet::imap::BATCH));
    assert_eq!(n, backlog.mails, "the mailbox held the backlog alone");
    rate
}

/// guichet's `run --once` on `backlog` with the relay down, between two
/// measures of the raw rate on the same mails; checks every mail was
/// taken and none failed.
fn ingest(
    bed: &Bed,
    config: &Path,
    runtime: &tokio::runtime::Runtime,
    backlog: &Backlog,
) -> Ingest {
    let raw_before = raw_rate(bed, runtime, backlog);
    mailbed(&["seed", bed.path(), backlog.path()]);
    settle();
    let mut once = guichet(config);
    once.args(["run", "--once"]);
    let (seconds, peak_kib) = timed(once);
    assert_eq!(
        mailbed(&["count", bed.path()]).trim(),
        "0",
        "guichet took every mail"
    );
    let failed: serde_json::Value =
        serde_json::from_str(&run(guichet(config).args(["failed", "list", "--json"]))).unwrap();
    assert_eq!(failed, serde_json::json!([]), "no mail failed");
    let raw_after = raw_rate(bed, runtime, backlog);
    Ingest {
        rate: backlog.mails as f64 / seconds,
        raw_before,
        raw_after,
        peak_kib,
    }
}

fn print_ingest(what: &str, i: &Ingest, target: &str) {
    println!(
        "ingest {what:<22} {:>7.0} mail/s   raw fetch+move {:>7.0} mail/s ({:.0} before, {:.0} after)   ratio {:.2} ({target})",
        i.rate,
        i.raw(),
        i.raw_before,
        i.raw_after,
        i.ratio()
    );
}

/// The outbox drained into the sink by `outbox retry`, then the very
/// mails it received sent again by smtplib on one connection, in the same
/// order. Returns (mails, guichet's rate, smtplib's rate).
fn drain(bed: &Bed, config: &Path) -> (usize, f64, f64) {
    let outbox: serde_json::Value =
        serde_json::from_str(&run(guichet(config).args(["outbox", "list", "--json"]))).unwrap();
    let pending = outbox
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["state"] == "pending")
        .count();
    mailbed(&["smtp-start", bed.path()]);
    settle();
    let before = bed.sink_files();
    let mut retry = guichet(config);
    retry.args(["outbox", "retry"]);
    let (seconds, _) = timed(retry);
    let mut sent: Vec<(std::time::SystemTime, PathBuf)> = bed
        .sink_files()
        .difference(&before)
        .map(|p| (std::fs::metadata(p).unwrap().modified().unwrap(), p.clone()))
        .collect();
    assert_eq!(sent.len(), pending, "every pending mail reached the sink");
    sent.sort();
    let sent: Vec<PathBuf> = sent.into_iter().map(|(_, p)| p).collect();
    settle();
    let smtplib = smtplib_replay(bed, &sent);
    (pending, pending as f64 / seconds, smtplib)
}

/// `guichet run`, the daemon, given two seconds to log in and idle.
fn start_daemon(config: &Path) -> std::process::Child {
    let daemon = guichet(config)
        .arg("run")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    daemon
}

/// Stops the daemon as systemd does (SIGTERM) and waits for its end.
fn stop_daemon(mut daemon: std::process::Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status();
    let _ = daemon.wait();
}

/// Pipe mode: one `guichet ingest` process per mail, its mail on stdin,
/// in sequence, as an MTA delivers. A quarter of the mails handed to the
/// daemon over `[ingest] socket` (`socket_config`), as a desk runs it; the
/// baselines, each on a quarter: each process storing its mail itself
/// beside the same daemon without the socket (on SQLite, a process that
/// is not the database's last connection does not checkpoint the log as
/// it closes), and alone on the database; and the daemon's side of the
/// hand-over alone, the benchmark handing the last quarter over itself.
/// Beside them, as many starts of the binary doing nothing (`--version`).
fn pipe_mode(config: &Path, socket_config: &Path, backlog: &Backlog) -> PipeMode {
    let files: Vec<&PathBuf> = backlog.files.iter().map(|(p, _)| p).collect();
    let part = files.len() / 4;
    let one_by_one = |config: &Path, files: &[&PathBuf]| {
        settle();
        let start = Instant::now();
        for file in files {
            let out = as_an_mta_runs_it(config)
                .arg("ingest")
                .stdin(std::fs::File::open(file).unwrap())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "guichet ingest < {}: {}",
                file.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(out.stdout.starts_with(b"stdin: new ticket"));
        }
        files.len() as f64 / start.elapsed().as_secs_f64()
    };
    let alone = one_by_one(config, &files[..part]);
    let daemon = start_daemon(config);
    let beside_the_daemon = one_by_one(config, &files[part..2 * part]);
    stop_daemon(daemon);
    let daemon = start_daemon(socket_config);
    let handed_over = one_by_one(socket_config, &files[2 * part..3 * part]);
    // The daemon's side alone: the same client, called from this process,
    // on as many other mails.
    let socket = socket_config.with_file_name("ingest.sock");
    settle();
    let start = Instant::now();
    for file in &files[3 * part..] {
        let raw = std::fs::read(file).unwrap();
        let answer = guichet::daemon::handover::hand_over(&socket, &raw).unwrap();
        assert!(answer.starts_with("new ticket"), "{answer}");
    }
    let daemon_side = (files.len() - 3 * part) as f64 / start.elapsed().as_secs_f64();
    stop_daemon(daemon);
    let start = Instant::now();
    for _ in 0..part {
        let status = Command::new(guichet_exe())
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    }
    PipeMode {
        handed_over,
        daemon_side,
        beside_the_daemon,
        alone,
        starts: part as f64 / start.elapsed().as_secs_f64(),
    }
}

/// The rates of [`pipe_mode`], in mails or starts per second.
struct PipeMode {
    handed_over: f64,
    /// Hand-overs from the benchmark's process, without a process each.
    daemon_side: f64,
    beside_the_daemon: f64,
    alone: f64,
    starts: f64,
}

fn bench_database(label: &str, database_url: &str, work: &Path) {
    let backlog = Backlog::read(work.join("mix"));
    println!("== {label}: {}", backlog.describe());
    let bed = Bed::up();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = write_config(&bed, database_url);
    run(guichet(&config).arg("migrate"));
    // The relay is down for every ingest: what they queue is drained
    // at once afterwards.
    mailbed(&["smtp-stop", bed.path()]);

    let on_mix = ingest(&bed, &config, &runtime, &backlog);
    let sqlite = database_url.starts_with("sqlite");
    let target = if sqlite {
        "target >= 0.6"
    } else {
        "target >= 0.4"
    };
    print_ingest("the mix", &on_mix, target);
    println!(
        "peak RSS     {:>8.1} MiB during the mix (target < 100)",
        on_mix.peak_kib as f64 / 1024.0
    );
    // Each size class of a second mix alone (its follow-ups answer the
    // first mix's requests).
    for (class, part) in by_size(&Backlog::read(work.join("second")), &work.join(label)) {
        let i = ingest(&bed, &config, &runtime, &part);
        print_ingest(
            &format!("{class} ({})", part.mails),
            &i,
            &format!("{:.1} MiB", part.bytes as f64 / f64::from(1 << 20)),
        );
    }
    let plain = ingest(&bed, &config, &runtime, &Backlog::read(work.join("plain")));
    let target = if sqlite { "target >= 0.5" } else { "no target" };
    print_ingest("3.6 KB plain requests", &plain, target);

    if bed.smtp_sink {
        let (n, rate, smtplib) = drain(&bed, &config);
        println!(
            "outbox drain {rate:>8.0} mail/s   smtplib, one connection, the same {n} mails {smtplib:>6.0} mail/s   ratio {:.2} (target >= 2.0)",
            rate / smtplib
        );
    } else {
        println!(
            "outbox drain not measured: its baseline re-sends smtp-sink's files (bench/run installs smtp-sink)"
        );
    }

    let socket_config = with_socket(&config);
    let pipe = pipe_mode(&config, &socket_config, &Backlog::read(work.join("pipe")));
    println!(
        "pipe mode    {:>8.0} mail/s, one `guichet ingest` per mail handed to the daemon   storing it itself beside the daemon {:.0} mail/s, alone {:.0} mail/s   the binary's start alone {:>6.0}/s (target >= 100 mail/s)",
        pipe.handed_over, pipe.beside_the_daemon, pipe.alone, pipe.starts
    );
    println!(
        "             the daemon's side alone: as many other mails handed over by the benchmark itself, without a process each {:>6.0} mail/s",
        pipe.daemon_side
    );

    idle_pickup(&bed, &config, &Backlog::read(work.join("idle")));
    large_mails(&bed, &config, on_mix.peak_kib);
}

/// Pickup latency with IDLE: each mail APPENDed, then timed until its
/// acknowledgement and the agents' notice reach the sink.
fn idle_pickup(bed: &Bed, config: &Path, backlog: &Backlog) {
    let daemon = start_daemon(config);
    let mut latencies = Vec::new();
    // Where the time goes: the APPEND client (a Python process logging in),
    // and what follows its return (Dovecot telling the IDLE session, which
    // it delays by about half a second, then guichet and the sink).
    let mut appends = Vec::new();
    let mut after_append = Vec::new();
    for (file, _) in &backlog.files {
        let raw = std::fs::read(file).unwrap();
        let before = bed.sink_count();
        let start = Instant::now();
        append(bed, &raw);
        let appended = start.elapsed();
        while bed.sink_count() < before + 2 && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(2));
        }
        latencies.push(start.elapsed().as_secs_f64() * 1000.0);
        after_append.push((start.elapsed() - appended).as_secs_f64() * 1000.0);
        appends.push(appended.as_secs_f64() * 1000.0);
    }
    stop_daemon(daemon);
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

/// The binary measured: this build's, or `BENCH_GUICHET` (another build
/// of guichet, to compare two versions on the same bed and mails).
fn guichet_exe() -> String {
    std::env::var("BENCH_GUICHET").unwrap_or_else(|_| env!("CARGO_BIN_EXE_guichet").into())
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
    let w = work.path();
    // The mails are numbered apart, so that no two share a Message-ID or
    // a requester: the mix, a second mix split by size class (its
    // follow-ups answer the first one's requests), 3.6 KB plain-text
    // requests, the pipe mode's and the IDLE pickup's.
    mix(&w.join("mix"), mails, 0, false);
    mix(&w.join("second"), mails.div_ceil(2), mails, false);
    mix(&w.join("plain"), mails.min(3000), 10_000_000, true);
    mix(&w.join("pipe"), 800, 20_000_000, true);
    mix(&w.join("idle"), 40, 30_000_000, true);
    if which == "sqlite" || which == "both" {
        let db = w.join("bench.db");
        bench_database("SQLite", &format!("sqlite://{}", db.display()), w);
    }
    if which == "postgres" || which == "both" {
        let admin = std::env::var("DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!("guichet_bench_{}", std::process::id());
        let base = admin.rsplit_once('/').unwrap().0.to_string();
        run(Command::new("psql").args([&admin, "-qc", &format!("CREATE DATABASE {name}")]));
        bench_database("PostgreSQL", &format!("{base}/{name}"), w);
        let _ = Command::new("psql")
            .args([&admin, "-qc", &format!("DROP DATABASE {name} WITH (FORCE)")])
            .output();
    }
}
