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
            .map(|b| serde_json::to_value(b).unwrap())
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

#[test]
fn golden_fixtures() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut ran = 0;
    let mut problems = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    names.sort();
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
