//! Sending, one question: does guichet's own SMTP relay client
//! (`outbound::relay`: sockets with TCP_NODELAY, writes held until the
//! answer is read, PIPELINING, its own pool) earn its keep over lettre's
//! pooled `AsyncSmtpTransport`? Both send the very same composed mails
//! (3.6 KB acknowledgements, one recipient each) into Postfix's smtp-sink
//! with four connections at once, in alternating rounds of the same run;
//! the median rates and their ratio are printed.
//!
//! `cargo bench --bench transport` (BENCH_SENDS mails per round, default
//! 3000; BENCH_ROUNDS, default 3). bench/run installs what it needs first.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use futures::StreamExt;
use lettre::address::Envelope;
use lettre::transport::smtp::{AsyncSmtpTransport, PoolConfig};
use lettre::{AsyncTransport, Tokio1Executor};

use guichet::config::Settings;
use guichet::outbound::relay::{Relay, PARALLEL};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn mailbed(args: &[&str]) -> String {
    let out = Command::new(repo().join("scripts/mailbed"))
        .args(args)
        .output()
        .expect("mailbed runs");
    assert!(
        out.status.success(),
        "mailbed {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The mails guichet would send: composed by guichet itself.
fn composed(settings: &Settings, n: usize) -> Vec<(Envelope, Vec<u8>)> {
    let body = "Bonjour,\n\nVotre demande a bien été enregistrée sous la référence \
                [SUPPORT #000123]. Un technicien vous répondra dans les meilleurs délais.\n\n"
        .repeat(14);
    (0..n)
        .map(|i| {
            let to = vec![format!("requester{i}@mairie-exemple.fr")];
            let id = guichet::outbound::new_message_id(&settings.smtp.from);
            let mail = guichet::outbound::compose(&guichet::outbound::Draft {
                from: &settings.smtp.from,
                to: &to,
                subject: &format!("[SUPPORT #{i:06}] Accusé de réception"),
                body: &body,
                html: None,
                message_id: &id,
                in_reply_to: Some("request@mairie-exemple.fr"),
                references: &["request@mairie-exemple.fr".to_string()],
                auto_submitted: "auto-replied",
                date: chrono::Utc::now(),
                files: &[],
            })
            .expect("composed");
            let envelope = Envelope::new(
                Some("support@example.test".parse().expect("address")),
                vec![to[0].parse().expect("address")],
            )
            .expect("envelope");
            (envelope, mail.raw)
        })
        .collect()
}

fn sink_count(sink: &Path) -> usize {
    std::fs::read_dir(sink).map(|d| d.count()).unwrap_or(0)
}

/// Mails per second through guichet's relay client.
async fn through_relay(settings: &Settings, mails: &[(Envelope, Vec<u8>)]) -> f64 {
    let relay = Relay::new(&settings.smtp).expect("relay");
    let start = Instant::now();
    let sent: Vec<_> = futures::stream::iter(mails)
        .map(|(envelope, raw)| relay.send(envelope, raw))
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    let secs = start.elapsed().as_secs_f64();
    relay.close().await;
    assert!(sent.iter().all(Result::is_ok), "a send failed");
    mails.len() as f64 / secs
}

/// Mails per second through lettre's pooled transport, as many
/// connections and mails at once.
async fn through_lettre(port: u16, mails: &[(Envelope, Vec<u8>)]) -> f64 {
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(port)
        .pool_config(PoolConfig::new().max_size(PARALLEL as u32))
        .build();
    let start = Instant::now();
    let sent: Vec<_> = futures::stream::iter(mails)
        .map(|(envelope, raw)| transport.send_raw(envelope, raw))
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    let secs = start.elapsed().as_secs_f64();
    assert!(sent.iter().all(Result::is_ok), "a send failed");
    mails.len() as f64 / secs
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("bench/transport: run with `cargo bench --bench transport`");
        return;
    }
    let n: usize = std::env::var("BENCH_SENDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let dir = tempfile::Builder::new()
        .prefix("gt")
        .tempdir_in("/tmp")
        .unwrap();
    let dir_arg = dir.path().to_str().unwrap();
    let env: HashMap<String, String> = mailbed(&["up", dir_arg, "--smtp-sink"])
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let port: u16 = env["SMTP_PORT"].parse().unwrap();
    let sink = Path::new(&env["SINK_DIR"]).join("new");
    let settings = Settings::parse(&format!(
        "[database]\nurl = \"sqlite:///tmp/unused.db\"\n[imap]\nhost = \"127.0.0.1\"\ntls = \"none\"\n\
         username = \"x\"\npassword = \"x\"\n[smtp]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n\
         from = \"Support informatique <support@example.test>\"\n[tickets]\nagent_notify = [\"sau@example.test\"]\n"
    ))
    .expect("settings");
    let mails = composed(&settings, n);
    let bytes: usize = mails.iter().map(|(_, raw)| raw.len()).sum();
    println!(
        "{n} mails of {} bytes on average, {PARALLEL} connections, {rounds} rounds each",
        bytes / n
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (mut ours, mut lettre) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let before = sink_count(&sink);
        let a = runtime.block_on(through_relay(&settings, &mails));
        let b = runtime.block_on(through_lettre(port, &mails));
        // smtp-sink writes its files as it goes: all of them arrived.
        let start = Instant::now();
        while sink_count(&sink) < before + 2 * n && start.elapsed().as_secs() < 30 {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert_eq!(sink_count(&sink), before + 2 * n, "mails lost");
        println!(
            "round {}: guichet's relay {a:.0} mail/s, lettre's pool {b:.0} mail/s",
            round + 1
        );
        ours.push(a);
        lettre.push(b);
        for entry in std::fs::read_dir(&sink).unwrap() {
            let _ = std::fs::remove_file(entry.unwrap().path());
        }
    }
    let (a, b) = (median(ours), median(lettre));
    println!(
        "send: guichet's relay {a:.0} mail/s, lettre's AsyncSmtpTransport {b:.0} mail/s: {:.2}x",
        a / b
    );
    let _ = Command::new(repo().join("scripts/mailbed"))
        .args(["down", dir_arg])
        .output();
}
