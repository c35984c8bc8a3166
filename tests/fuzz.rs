//! A bounded fuzz run over everything that reads mail we do not control:
//! parse, classify, bounce reading, quote stripping, subject tags,
//! commands, keywords, Authentication-Results. Inputs are MIME messages
//! generated from realistic pieces (headers, encodings, nesting) mixed
//! with arbitrary bytes. Nothing may panic.
//!
//! A run ends after `GUICHET_FUZZ_CASES` messages (default 100000) or
//! `GUICHET_FUZZ_SECONDS` seconds (default 60), whichever comes first;
//! scripts/test runs it bounded, on a fixed seed (`GUICHET_FUZZ_SEED`);
//! scripts/fuzz runs a long session on random seeds. A
//! parser panic counts as a failure here, although guichet catches it in
//! service: the fuzz run is where we learn of it.

use guichet::inbound::{self, auth, quote, reference::SubjectTagger};
use guichet::ticket::{command, machine};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,60}",
        Just("=?utf-8?q?R=C3=A9ponse_automatique?=".to_string()),
        Just("=?iso-8859-1?b?UHJvYmzobWU=?=".to_string()),
        Just("=?utf-8?q?bad=ZZ?=".to_string()),
        Just("=?unknown-charset?q?x?=".to_string()),
        "\\PC{0,40}",
        Just("RE : [SUPPORT #000042] Imprimante".to_string()),
        Just("<>".to_string()),
        Just("rfc822; a@b.example".to_string()),
        Just("mx.example.test; dmarc=pass header.from=a.example (".to_string()),
    ]
}

fn header() -> impl Strategy<Value = String> {
    let names = prop_oneof![
        Just("From"),
        Just("To"),
        Just("Subject"),
        Just("Message-ID"),
        Just("In-Reply-To"),
        Just("References"),
        Just("Auto-Submitted"),
        Just("Precedence"),
        Just("Return-Path"),
        Just("List-Id"),
        Just("X-Loop"),
        Just("Authentication-Results"),
        Just("Content-Type"),
        Just("Content-Transfer-Encoding"),
        Just("Content-Disposition"),
        Just("Date"),
    ];
    (names, header_value()).prop_map(|(n, v)| format!("{n}: {v}\r\n"))
}

fn content_type() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("text/plain; charset=utf-8".to_string()),
        Just("text/plain; charset=iso-8859-1".to_string()),
        Just("text/plain; charset=windows-1252".to_string()),
        Just("text/plain; charset=x-nonsense".to_string()),
        Just("text/html; charset=utf-8".to_string()),
        Just("message/rfc822".to_string()),
        Just("message/delivery-status".to_string()),
        Just("text/rfc822-headers".to_string()),
        Just("application/ms-tnef; name=winmail.dat".to_string()),
        Just("image/png; name*=utf-8''%C3%A9cran%00.png".to_string()),
        Just("application/octet-stream; name*0*=utf-8''a%2F..%2F; name*1=b.exe".to_string()),
        "[ -~]{0,30}",
    ]
}

fn encoding() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("7bit".to_string()),
        Just("8bit".to_string()),
        Just("base64".to_string()),
        Just("quoted-printable".to_string()),
        Just("x-uuencode".to_string()),
        "[a-z0-9-]{0,10}",
    ]
}

/// The start of a valid TNEF stream (signature, version, code page 1252),
/// so that generated winmail.dat parts reach the reader's deeper parts.
const TNEF_START: &[u8] = b"\x78\x9f\x3e\x22\x21\x4a\
    \x01\x06\x90\x08\x00\x04\x00\x00\x00\x00\x00\x01\x00\x01\x00\
    \x01\x07\x90\x06\x00\x08\x00\x00\x00\xe4\x04\x00\x00\x00\x00\x00\x00\xe8\x00";

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200)
            .prop_map(|tail| [TNEF_START, &tail].concat()),
        "[ -~\r\n>]{0,300}".prop_map(String::into_bytes),
        "\\PC{0,200}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..300),
        Just(b"Le lun. 23 nov. 2026 a ecrit :\r\n> cite\r\n-- \r\nsig\r\n".to_vec()),
        Just(b"=E9=\r\n=ZZ=\r\nabc".to_vec()),
        Just(b"<html><body><p>a<br>b</p><table><tr><td>x".to_vec()),
        Just(b"begin 644 x.txt\r\n#86)C\r\n`\r\nend\r\n".to_vec()),
        Just(b"Final-Recipient: rfc822; a@b\r\nStatus: 5.1.1\r\nAction: failed\r\n".to_vec()),
    ]
}

/// A MIME tree of depth `depth`.
fn part(depth: u32) -> BoxedStrategy<Vec<u8>> {
    let leaf = (content_type(), encoding(), body())
        .prop_map(|(ct, enc, body)| {
            let mut out = format!("Content-Type: {ct}\r\nContent-Transfer-Encoding: {enc}\r\n\r\n")
                .into_bytes();
            out.extend(body);
            out
        })
        .boxed();
    if depth == 0 {
        return leaf;
    }
    let multipart = (
        prop_oneof![
            Just("mixed"),
            Just("alternative"),
            Just("related"),
            Just("report; report-type=delivery-status"),
            Just("digest")
        ],
        "[a-zA-Z0-9'()+_,./:=?-]{1,20}",
        proptest::collection::vec(part(depth - 1), 0..4),
        any::<bool>(),
    )
        .prop_map(|(kind, boundary, parts, close)| {
            let mut out = format!(
                "Content-Type: multipart/{kind}; boundary=\"{boundary}\"\r\n\r\npreamble\r\n"
            )
            .into_bytes();
            for p in parts {
                out.extend(format!("--{boundary}\r\n").into_bytes());
                out.extend(p);
                out.extend(b"\r\n");
            }
            if close {
                out.extend(format!("--{boundary}--\r\n").into_bytes());
            }
            out
        });
    prop_oneof![2 => leaf, 1 => multipart].boxed()
}

fn message() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => (proptest::collection::vec(header(), 0..12), part(3)).prop_map(|(headers, body)| {
            let mut out: Vec<u8> = headers.concat().into_bytes();
            out.extend(body);
            out
        }),
        1 => proptest::collection::vec(any::<u8>(), 0..2000),
    ]
}

fn cases() -> u32 {
    std::env::var("GUICHET_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000)
}

/// The generator's seed: `GUICHET_FUZZ_SEED` (a number, or `random`),
/// fixed by default so that `scripts/test` explores the same messages on
/// every run and a red CI means a change of ours; `scripts/fuzz` explores
/// new ones.
fn seed() -> proptest::test_runner::RngSeed {
    match std::env::var("GUICHET_FUZZ_SEED").ok().as_deref() {
        Some("random") => proptest::test_runner::RngSeed::Random,
        Some(n) => proptest::test_runner::RngSeed::Fixed(
            n.parse().expect("GUICHET_FUZZ_SEED: a number or random"),
        ),
        None => proptest::test_runner::RngSeed::Fixed(0x0067_7569_6368_6574),
    }
}

fn budget() -> std::time::Duration {
    std::time::Duration::from_secs(
        std::env::var("GUICHET_FUZZ_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(60),
    )
}

/// Runs `test` over inputs of `strategy` in rounds of 500 until the case
/// count or the time budget is spent; prints how many ran.
fn fuzz<S: Strategy>(
    name: &str,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    const ROUND: u32 = 500;
    let start = std::time::Instant::now();
    let config = Config {
        cases: ROUND,
        failure_persistence: None,
        rng_seed: seed(),
        ..Config::default()
    };
    // A runner counts its successes for good: one per round, each with a
    // random generator of its own drawn from the first.
    let mut seeds = TestRunner::new(config.clone());
    let mut done = 0;
    while done < cases() && start.elapsed() < budget() {
        let mut runner = TestRunner::new_with_rng(config.clone(), seeds.new_rng());
        if let Err(e) = runner.run(&strategy, &test) {
            panic!("{name}: {e}");
        }
        done += ROUND;
    }
    eprintln!(
        "{name}: {done} cases in {:.1}s",
        start.elapsed().as_secs_f64()
    );
    assert!(done > 0, "{name}: no case ran");
}

/// The desk's rules with the configuration's defaults.
fn policy() -> machine::Policy {
    let config = r#"
[database]
url = "sqlite:///tmp/unused.db"
[imap]
host = "127.0.0.1"
tls = "none"
username = "support@example.test"
password = "x"
[smtp]
host = "127.0.0.1"
tls = "none"
from = "support@example.test"
[tickets]
agent_notify = ["sau@example.test"]
"#;
    guichet::config::Settings::parse(config)
        .expect("valid settings")
        .policy()
}

#[test]
fn nothing_that_reads_mail_panics() {
    let tagger = SubjectTagger::new("SUPPORT");
    let policy = policy();
    fuzz("mail readers", message(), |raw| {
        let _ = inbound::peek_message_id(&raw);
        let parsed = inbound::parse(&raw, "support@example.test");
        if let Err(inbound::ParseError::Panic(what)) = &parsed {
            prop_assert!(false, "the parser panicked: {what}");
        }
        if let Ok(m) = parsed {
            let _ = tagger.find(&m.subject);
            let _ = tagger.clean(&m.subject);
            let _ = quote::strip(&m.text);
            let _ = command::parse(&m.body);
            let _ = machine::decision_in(&m.body, &policy);
            let headers: Vec<&str> = m.auth_results.iter().map(String::as_str).collect();
            let _ = auth::judge(&headers, "mx.example.test", &m.from.email);
            prop_assert!(!m.from.email.is_empty());
            for a in &m.attachments {
                prop_assert!(!a.filename.is_empty());
                prop_assert!(!a.filename.contains('/') && !a.filename.contains('\\'));
                prop_assert!(!a.filename.chars().any(char::is_control));
            }
        }
        Ok(())
    });
}

#[test]
fn text_readers_never_panic_on_any_string() {
    let tagger = SubjectTagger::new("SUPPORT");
    let policy = policy();
    fuzz(
        "text readers",
        "\\PC{0,400}|[ -~\n>#]{0,400}",
        |s: String| {
            let stripped = quote::strip(&s);
            // Stripping never invents text.
            for line in stripped.lines() {
                prop_assert!(s.contains(line.trim_end()), "{line:?} not in the input");
            }
            let _ = tagger.find(&s);
            let _ = tagger.clean(&s);
            let _ = command::parse(&s);
            let _ = machine::decision_in(&s, &policy);
            let _ = auth::judge(&[s.as_str()], "mx.example.test", "a@b.example");
            let _ = inbound::html_to_text(&s);
            Ok(())
        },
    );
}

fn html_soup() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("<div>"),
        Just("</div>"),
        Just("<p>"),
        Just("</p>"),
        Just("<b>"),
        Just("<ul><li>"),
        Just("</li></ul>"),
        Just("<table><tr><td>"),
        Just("</td></tr></table>"),
        Just("<blockquote type=\"cite\">"),
        Just("</blockquote>"),
        Just("<!--"),
        Just("-->"),
        Just("<script>"),
        Just("</script>"),
        Just("<style>"),
        Just("<a href=\"https://x.example/?a>b\">"),
        Just("</a>"),
        Just("<br/>"),
        Just("<o:p>"),
        Just("<!DOCTYPE html>"),
        Just("\""),
        Just("'"),
        Just("<"),
        Just(">"),
        Just("</"),
        Just("&amp;"),
        Just("&#x"),
        Just("&#233;"),
        Just("texte "),
        Just("é"),
        Just("\n"),
    ];
    (proptest::collection::vec(piece, 0..400), "\\PC{0,40}")
        .prop_map(|(pieces, tail)| pieces.concat() + &tail)
}

#[test]
fn html_is_read_at_a_bounded_cost() {
    use guichet::inbound::html;
    fuzz("html", html_soup(), |s: String| {
        let flat = html::flatten(&s, 6);
        // Only a lone "<" grows (to "&lt;").
        prop_assert!(flat.len() <= s.len() + 3 * s.matches('<').count());
        // What was kept is kept again: the pass is a fixed point.
        prop_assert_eq!(html::flatten(&flat, 6), flat.clone());
        let _ = html::strip(&s);
        let _ = inbound::html_to_text(&s);
        Ok(())
    });
}
