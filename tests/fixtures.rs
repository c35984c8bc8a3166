//! Golden fixtures: every `fixtures/NAME.eml` is parsed and stripped, with
//! LF and with CRLF line endings, and compared with `NAME.expected.json`.

use std::path::PathBuf;

use guichet::inbound::{self, Automatic};
use serde_json::Value;

/// CRLF to LF, trailing spaces trimmed, blank lines at both ends removed,
/// and runs of blank lines made one (removed images and quotes leave
/// gaps that nobody needs to see).
fn normalise(text: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for line in text
        .split('\n')
        .map(|l| l.trim_end_matches(['\r', ' ', '\t']))
    {
        if line.is_empty() && out.last().is_some_and(|l| l.is_empty()) {
            continue;
        }
        out.push(line);
    }
    out.join("\n").trim_matches('\n').to_string()
}

fn to_crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 40);
    let mut prev = 0u8;
    for &b in raw {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

fn check(name: &str, raw: &[u8], expected: &Value) -> Vec<String> {
    let problems = std::cell::RefCell::new(Vec::new());
    let expect = |what: &str, got: Value, want: &Value| {
        if &got != want {
            problems
                .borrow_mut()
                .push(format!("{name}: {what}: got {got}, want {want}"));
        }
    };
    let m = match inbound::parse(raw, "support@example.test") {
        Ok(m) => m,
        Err(e) => return vec![format!("{name}: parse failed: {e}")],
    };
    expect(
        "from.email",
        Value::from(m.from.email.clone()),
        &expected["from"]["email"],
    );
    expect(
        "from.name",
        m.from.name.clone().map(Value::from).unwrap_or(Value::Null),
        &expected["from"]["name"],
    );
    expect(
        "subject",
        Value::from(m.subject.clone()),
        &expected["subject"],
    );
    expect(
        "message_id",
        m.message_id.clone().map(Value::from).unwrap_or(Value::Null),
        &expected["message_id"],
    );
    expect(
        "in_reply_to",
        m.in_reply_to
            .first()
            .cloned()
            .map(Value::from)
            .unwrap_or(Value::Null),
        &expected["in_reply_to"],
    );
    expect(
        "references",
        Value::from(m.references.clone()),
        &expected["references"],
    );
    let automatic = match m.automatic {
        None => Value::Null,
        Some(Automatic::AutoReply) => Value::from("auto_reply"),
        Some(Automatic::Bounce) => Value::from("bounce"),
    };
    expect("automatic", automatic, &expected["automatic"]);
    if let Some(want) = expected.get("bounce") {
        let got = m
            .bounce
            .as_ref()
            .map(|b| {
                serde_json::json!({
                    "original_message_id": b.original_message_id,
                    "recipient": b.recipient,
                    "status": b.status,
                    "permanent": b.permanent,
                })
            })
            .unwrap_or(Value::Null);
        expect("bounce", got, want);
    }
    let body = normalise(&m.body);
    if let Some(want) = expected.get("body").and_then(Value::as_str) {
        if body != normalise(want) {
            problems.borrow_mut().push(format!(
                "{name}: body:\n--- got\n{body}\n--- want\n{}\n---",
                normalise(want)
            ));
        }
    }
    for s in expected["body_contains"].as_array().into_iter().flatten() {
        let s = s.as_str().unwrap();
        if !body.contains(s) {
            problems
                .borrow_mut()
                .push(format!("{name}: body lacks {s:?}:\n{body}"));
        }
    }
    for s in expected["body_excludes"].as_array().into_iter().flatten() {
        let s = s.as_str().unwrap();
        if body.contains(s) {
            problems
                .borrow_mut()
                .push(format!("{name}: body keeps {s:?}:\n{body}"));
        }
    }
    let attachments: Vec<Value> = m
        .attachments
        .iter()
        .map(|a| {
            serde_json::json!({
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.content.len(),
                "sha256": a.sha256,
            })
        })
        .collect();
    expect(
        "attachments",
        Value::from(attachments),
        &expected["attachments"],
    );
    problems.into_inner()
}

/// Every `.eml` of `dir`, in name order.
fn fixture_files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    names.sort();
    names
}

#[test]
fn golden_fixtures() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut ran = 0;
    let mut problems = Vec::new();
    let names = fixture_files(&dir);
    for eml in names {
        let name = eml.file_stem().unwrap().to_string_lossy().into_owned();
        let json = dir.join(format!("{name}.expected.json"));
        let text = std::fs::read_to_string(&json)
            .unwrap_or_else(|e| panic!("{name}.eml has no {}: {e}", json.display()));
        let expected: Value = serde_json::from_str(&text).unwrap();
        let raw = std::fs::read(&eml).unwrap();
        problems.extend(check(&name, &raw, &expected));
        problems.extend(check(&format!("{name} (CRLF)"), &to_crlf(&raw), &expected));
        ran += 1;
    }
    assert!(ran >= 50, "only {ran} fixtures found in {}", dir.display());
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Runs the real binary with `config`, returning stdout; panics on failure.
fn guichet(config: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_guichet"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("GUICHET_CONFIG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "guichet {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// What guichet does with one fixture, through the real binary on a fresh
/// SQLite database (`guichet ingest`, no network): the ticket it lands on,
/// the kind it is recorded as, and the mail it causes.
fn outcome(name: &str, eml: &std::path::Path, expected: &Value) -> Value {
    use diesel::connection::SimpleConnection;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/guichet.db", dir.path().display());
    let config = dir.path().join("guichet.toml");
    std::fs::write(
        &config,
        format!(
            r#"[database]
url = "{db}"
[imap]
host = "127.0.0.1"
tls = "none"
username = "support@example.test"
password = "unused: ingest only"
[smtp]
host = "127.0.0.1"
tls = "none"
from = "Support informatique <support@example.test>"
[tickets]
agent_notify = ["sau@example.test"]
"#
        ),
    )
    .unwrap();
    guichet(&config, &["migrate"]);
    let sql = |statements: &str| {
        let mut conn = guichet::store::connect(&db).unwrap();
        match &mut conn {
            guichet::store::AnyConnection::Sqlite(c) => c.batch_execute(statements),
            guichet::store::AnyConnection::Postgresql(c) => c.batch_execute(statements),
        }
        .unwrap_or_else(|e| panic!("{name}: {statements}: {e}"));
    };
    // The world the mail meets: ticket N of that requester, whose mail to
    // them carried the Message-IDs the fixture answers.
    let given = &expected["given"];
    let number = given["ticket"].as_i64();
    if let Some(n) = number {
        sql(&format!(
            "UPDATE counters SET value = {} WHERE name = 'ticket_number'",
            n - 1
        ));
        let seed = dir.path().join("seed.eml");
        std::fs::write(
            &seed,
            format!(
                "From: {0}\r\nTo: support@example.test\r\nSubject: {1}\r\n\
                 Message-ID: <seed.{n}@example.org>\r\nDate: Mon, 23 Nov 2026 08:00:00 +0100\r\n\r\n\
                 La demande d'origine.\r\n",
                given["requester"].as_str().unwrap(),
                given["subject"].as_str().unwrap_or("Demande d'origine"),
            ),
        )
        .unwrap();
        guichet(&config, &["ingest", seed.to_str().unwrap()]);
        for id in given["ours"].as_array().into_iter().flatten() {
            sql(&format!(
                "INSERT INTO outbox (ticket_id, kind, message_id, sender, recipients, subject, \
                 state, attempts, next_attempt_at, created_at) \
                 SELECT ticket_id, kind, '{}', sender, recipients, subject, 'sent', 1, \
                 next_attempt_at, created_at FROM outbox WHERE id = 1",
                id.as_str().unwrap()
            ));
            sql("INSERT INTO outbox_bodies (outbox_id, raw) \
                 SELECT (SELECT max(id) FROM outbox), raw FROM outbox_bodies WHERE outbox_id = 1");
        }
        sql("UPDATE outbox SET state = 'sent'");
    }
    let rows_before: Vec<Value> =
        serde_json::from_str(&guichet(&config, &["outbox", "list", "--json"])).unwrap();
    let before = rows_before
        .iter()
        .filter_map(|r| r["id"].as_i64())
        .max()
        .unwrap_or(0);
    guichet(&config, &["ingest", eml.to_str().unwrap()]);
    let tickets: Vec<Value> =
        serde_json::from_str(&guichet(&config, &["tickets", "list", "--json"])).unwrap();
    let new_ticket = tickets.len() > usize::from(number.is_some());
    let (ticket, kind) = {
        let show = |n: i64| -> Value {
            serde_json::from_str(&guichet(
                &config,
                &["tickets", "show", &n.to_string(), "--json"],
            ))
            .unwrap()
        };
        if new_ticket {
            let t = show(tickets[0]["number"].as_i64().unwrap());
            ("new", t["messages"][0]["kind"].clone())
        } else if let Some(n) = number {
            let t = show(n);
            let messages = t["messages"].as_array().unwrap();
            if messages.len() > 1 {
                ("existing", messages.last().unwrap()["kind"].clone())
            } else {
                ("none", Value::Null)
            }
        } else {
            ("none", Value::Null)
        }
    };
    let rows: Vec<Value> =
        serde_json::from_str(&guichet(&config, &["outbox", "list", "--json"])).unwrap();
    let sender = expected["from"]["email"].as_str().unwrap();
    let kinds_to = |address: &str| -> Vec<Value> {
        let mut new: Vec<&Value> = rows
            .iter()
            .filter(|r| r["id"].as_i64() > Some(before))
            .collect();
        new.sort_by_key(|r| r["id"].as_i64());
        new.into_iter()
            .filter(|r| r["state"] != "held")
            .filter(|r| r["to"].as_array().unwrap().iter().any(|t| t == address))
            .map(|r| r["kind"].clone())
            .collect()
    };
    serde_json::json!({
        "ticket": ticket,
        "kind": kind,
        "answered": kinds_to(sender),
        "agents_told": kinds_to("sau@example.test"),
    })
}

/// Every fixture through `guichet ingest`, compared with its `outcome`.
/// `GUICHET_BLESS=1` writes what it got to `target/fixture-outcomes.json`
/// instead, to be read and merged by hand.
#[test]
fn fixture_outcomes() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let bless = std::env::var_os("GUICHET_BLESS").is_some();
    // A blessing run compares nothing: never in CI.
    assert!(
        !(bless && std::env::var_os("CI").is_some()),
        "GUICHET_BLESS is set in CI: the fixtures' outcomes would be written, not checked"
    );
    let names = fixture_files(&dir);
    let mut problems = Vec::new();
    let mut blessed = serde_json::Map::new();
    for eml in &names {
        let name = eml.file_stem().unwrap().to_string_lossy().into_owned();
        let json = dir.join(format!("{name}.expected.json"));
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        let got = outcome(&name, eml, &expected);
        if bless {
            blessed.insert(name, got);
        } else if expected["outcome"] != got {
            problems.push(format!("{name}: got {got}, want {}", expected["outcome"]));
        }
    }
    if bless {
        let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/fixture-outcomes.json");
        std::fs::write(&out, serde_json::to_string_pretty(&blessed).unwrap()).unwrap();
        return;
    }
    assert!(names.len() >= 60, "only {} fixtures", names.len());
    assert!(
        problems.is_empty(),
        "{} fixture(s) handled otherwise than expected:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
