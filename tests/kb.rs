//! How well the knowledge base answers requests: the labelled set of
//! `fixtures/kb/relevance.toml` (requests as people write them, each with
//! the articles that truly answer it, or none) against the articles of
//! `fixtures/kb/articles`, read by the configuration as a desk's `[kb]
//! dir` is. Prints the figures the README gives:
//!
//! ```text
//! cargo test --test kb -- --nocapture
//! ```

use std::collections::BTreeSet;

use guichet::config::Settings;
use guichet::ticket::kb::KnowledgeBase;

fn base(extra: &str) -> Settings {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/kb/articles");
    Settings::parse(&format!(
        r#"
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
[kb]
dir = "{dir}"
{extra}
"#
    ))
    .unwrap()
}

struct Case {
    subject: String,
    body: String,
    relevant: BTreeSet<String>,
}

fn cases() -> Vec<Case> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/kb/relevance.toml");
    let set: toml::Table = std::fs::read_to_string(path).unwrap().parse().unwrap();
    set["case"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Case {
            subject: c["subject"].as_str().unwrap().to_string(),
            // What the desk reads of a mail: without quoted history and
            // signature, as ingest strips them.
            body: guichet::inbound::quote::strip(c["body"].as_str().unwrap()),
            relevant: c["relevant"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().to_string())
                .collect(),
        })
        .collect()
}

/// The figures of one threshold over the set.
#[derive(Debug)]
struct Figures {
    /// Of the suggestions made, the share that answer the request.
    precision: f64,
    /// Of the requests some article answers, the share that got one.
    answered: f64,
    /// Of the requests no article answers, the share that got nothing.
    quiet: f64,
    suggestions: usize,
}

fn measure(kb: &KnowledgeBase, cases: &[Case]) -> Figures {
    let (mut made, mut right) = (0, 0);
    let (mut answerable, mut answered) = (0, 0);
    let (mut unrelated, mut quiet) = (0, 0);
    for c in cases {
        let found = kb.suggest(&c.subject, &c.body);
        made += found.len();
        let hits = found
            .iter()
            .filter(|s| c.relevant.contains(&s.article.id))
            .count();
        right += hits;
        if c.relevant.is_empty() {
            unrelated += 1;
            quiet += usize::from(found.is_empty());
        } else {
            answerable += 1;
            answered += usize::from(hits > 0);
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    Figures {
        precision: ratio(right, made),
        answered: ratio(answered, answerable),
        quiet: ratio(quiet, unrelated),
        suggestions: made,
    }
}

#[test]
fn the_labelled_set_is_sound() {
    let settings = base("");
    let kb = &settings.kb.base;
    let cases = cases();
    assert!(
        kb.articles().len() >= 20,
        "{} articles",
        kb.articles().len()
    );
    assert!(cases.len() >= 40, "{} requests", cases.len());
    for c in &cases {
        for id in &c.relevant {
            assert!(
                kb.get(id).is_some(),
                "{:?} names no article {id:?}",
                c.subject
            );
        }
    }
}

#[test]
fn top_3_suggestions_on_the_labelled_set() {
    let settings = base("suggest = 3");
    let kb = &settings.kb.base;
    let cases = cases();
    let f = measure(kb, &cases);
    eprintln!(
        "kb relevance, {} requests × {} articles, min_score {}: top-3 precision {:.2}, requests answered {:.2}, unrelated requests left alone {:.2} ({} suggestions)",
        cases.len(),
        kb.articles().len(),
        kb.min_score,
        f.precision,
        f.answered,
        f.quiet,
        f.suggestions,
    );
    // How the threshold trades precision for recall, for the README.
    for min in [0.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0] {
        let s = base(&format!("suggest = 3\nmin_score = {min:.1}"));
        let g = measure(&s.kb.base, &cases);
        eprintln!(
            "  min_score {min:>4.1}: precision {:.2}, answered {:.2}, left alone {:.2}",
            g.precision, g.answered, g.quiet
        );
    }
    // What a desk can count on with the default threshold.
    // (measured: 0.63, 0.58 and 0.69 on 58 requests × 20 articles)
    assert!(f.precision >= 0.55, "{f:?}");
    assert!(f.answered >= 0.55, "{f:?}");
    assert!(f.quiet >= 0.6, "{f:?}");
}

/// Each miss, to see what the ranking gets wrong
/// (`cargo test --test kb misses -- --ignored --nocapture`).
#[test]
#[ignore]
fn misses() {
    let settings = base("suggest = 3");
    let kb = &settings.kb.base;
    for c in cases() {
        let found = kb.rank(&c.subject, &c.body);
        let top: Vec<String> = found
            .iter()
            .take(3)
            .map(|s| format!("{} {:.1}", s.article.id, s.score))
            .collect();
        let suggested = kb.suggest(&c.subject, &c.body);
        let ok = if c.relevant.is_empty() {
            suggested.is_empty()
        } else {
            suggested.iter().any(|s| c.relevant.contains(&s.article.id))
        };
        eprintln!(
            "{} {:?} wants {:?}; ranked {top:?}",
            if ok { "  " } else { "!!" },
            c.subject,
            c.relevant
        );
    }
}
