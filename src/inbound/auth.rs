//! `Authentication-Results` (RFC 8601) written by a trusted receiving
//! server: did the sender's domain authenticate the mail (DMARC, or an
//! aligned DKIM signature or SPF pass)?
//!
//! Anybody can write such a header, so only the topmost ones count, and
//! only while they carry the trusted server's id: a receiving server adds
//! its own above everything the sender wrote, and stopping at the first
//! header of another id leaves every forged one below unread. The header
//! is read with a tokenizer (quoted strings, nested comments, quoted pairs)
//! so that a `;` or a `=` inside a quoted value or a comment splits
//! nothing.

use crate::ticket::Language;

/// The verdict for one mail, when a trusted server is configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthVerdict {
    Pass,
    /// Why it did not pass, for the sender and the agents.
    Fail(Failure),
}

/// Why a mail did not pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// No header of the trusted server at all.
    NoHeader { trusted: String },
    /// Headers, but the topmost is another server's.
    NotOnTop { trusted: String },
    /// The trusted server's headers hold no result.
    NoResult { trusted: String },
    /// What the trusted server said (`dmarc=fail`, …), none of it a pass
    /// for the From's domain.
    Failed {
        trusted: String,
        said: Vec<String>,
        domain: String,
    },
}

impl Failure {
    /// The reason as a sentence of `language`.
    pub fn text(&self, language: Language) -> String {
        match (self, language) {
            (Failure::NoHeader { trusted }, Language::En) => {
                format!("no Authentication-Results from {trusted}")
            }
            (Failure::NoHeader { trusted }, Language::Fr) => {
                format!("{trusted} n'a pas vérifié ce message")
            }
            (Failure::NotOnTop { trusted }, Language::En) => {
                format!("no Authentication-Results from {trusted} above the others")
            }
            (Failure::NotOnTop { trusted }, Language::Fr) => {
                format!("la vérification de {trusted} n'est pas la dernière reçue")
            }
            (Failure::NoResult { trusted }, Language::En) => {
                format!("{trusted} reported no result")
            }
            (Failure::NoResult { trusted }, Language::Fr) => {
                format!("{trusted} n'a donné aucun résultat")
            }
            (
                Failure::Failed {
                    trusted,
                    said,
                    domain,
                },
                Language::En,
            ) => format!(
                "{trusted} reported {} (no DMARC pass for {domain}, no DKIM or SPF pass aligned with it)",
                said.join(", ")
            ),
            (
                Failure::Failed {
                    trusted,
                    said,
                    domain,
                },
                Language::Fr,
            ) => format!(
                "{trusted} n'a pas pu confirmer que le message vient bien de {domain} ({})",
                said.join(", ")
            ),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text(Language::En))
    }
}

/// One lexical element of an Authentication-Results value. Comments are
/// dropped; whitespace only separates.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    /// A run of characters that are neither space, `;`, `=`, `(`, `)`
    /// nor `"`: a method, a result, a property (`header.from`), a value
    /// (`user@example.org`), an id.
    Word(String),
    /// A quoted string's content, quoted pairs undone.
    Quoted(String),
    Semicolon,
    Equals,
}

impl Token {
    fn text(&self) -> Option<&str> {
        match self {
            Token::Word(s) | Token::Quoted(s) => Some(s),
            _ => None,
        }
    }
}

/// The tokens of a header value, or `None` when it is not well formed (an
/// unterminated quoted string or comment): such a header says nothing.
fn tokenize(value: &str) -> Option<Vec<Token>> {
    let mut tokens = Vec::new();
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ';' => tokens.push(Token::Semicolon),
            '=' => tokens.push(Token::Equals),
            c if c.is_whitespace() => {}
            '(' => {
                let mut depth = 1u32;
                while depth > 0 {
                    match chars.next()? {
                        '\\' => {
                            chars.next()?;
                        }
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                }
            }
            // A closing parenthesis with no opening one is not a header.
            ')' => return None,
            '"' => {
                let mut s = String::new();
                loop {
                    match chars.next()? {
                        '\\' => s.push(chars.next()?),
                        '"' => break,
                        c => s.push(c),
                    }
                }
                tokens.push(Token::Quoted(s));
            }
            c => {
                let mut s = String::from(c);
                while let Some(&n) = chars.peek() {
                    if n.is_whitespace() || matches!(n, ';' | '=' | '(' | ')' | '"') {
                        break;
                    }
                    s.push(n);
                    chars.next();
                }
                tokens.push(Token::Word(s));
            }
        }
    }
    Some(tokens)
}

/// One `method=result` with its properties (`ptype.property=value`, the
/// property names lowercased).
#[derive(Clone, Debug, PartialEq, Eq)]
struct ResInfo {
    method: String,
    result: String,
    props: Vec<(String, String)>,
}

impl ResInfo {
    fn prop(&self, name: &str) -> Option<&str> {
        self.props
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A parsed header: its authserv-id (`None` when it has none, as
/// Microsoft 365 writes it) and its results.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Header {
    authserv_id: Option<String>,
    results: Vec<ResInfo>,
}

/// Reads one header value. Anything that is not `name=value` where a
/// method or a property belongs is skipped up to the next `;`.
fn parse_header(value: &str) -> Option<Header> {
    let tokens = tokenize(value)?;
    let mut groups = tokens.split(|t| *t == Token::Semicolon);
    let first = groups.next().unwrap_or(&[]);
    // The authserv-id, then an optional version number. A first group
    // that reads `name=value` is a result, not an id.
    let (authserv_id, first_results) = match first {
        [id, rest @ ..] if !matches!(rest.first(), Some(Token::Equals)) => {
            (id.text().map(str::to_string), None)
        }
        [] => (None, None),
        _ => (None, Some(first)),
    };
    let mut results = Vec::new();
    for group in first_results.into_iter().chain(groups) {
        if let Some(r) = parse_resinfo(group) {
            results.push(r);
        }
    }
    Some(Header {
        authserv_id,
        results,
    })
}

/// `method[/version] = result [reason=value] [ptype.prop=value …]`.
fn parse_resinfo(group: &[Token]) -> Option<ResInfo> {
    let [Token::Word(method), Token::Equals, result, rest @ ..] = group else {
        return None;
    };
    let method = method.split('/').next().unwrap_or("").to_ascii_lowercase();
    let result = result.text()?.to_ascii_lowercase();
    let mut props = Vec::new();
    let mut i = 0;
    while i < rest.len() {
        match (&rest[i], rest.get(i + 1), rest.get(i + 2)) {
            (Token::Word(name), Some(Token::Equals), Some(v)) if v.text().is_some() => {
                let mut value = v.text().unwrap_or("").to_string();
                i += 3;
                // A quoted local part and its domain are one address
                // (`smtp.mailfrom="a@victim.fr"@evil.example`): the
                // domain is what follows the quotes.
                if let (Token::Quoted(_), Some(Token::Word(domain))) = (v, rest.get(i)) {
                    if domain.starts_with('@') {
                        value.push_str(domain);
                        i += 1;
                    }
                }
                props.push((name.to_ascii_lowercase(), value));
            }
            _ => i += 1,
        }
    }
    Some(ResInfo {
        method,
        result,
        props,
    })
}

/// The domain of an address or of a bare domain, lowercased, without a
/// trailing dot.
fn domain_of(value: &str) -> String {
    value
        .rsplit('@')
        .next()
        .unwrap_or("")
        .trim()
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// Whether `d` (a DKIM d= or SPF domain) is aligned with the From domain
/// when one is the other or a subdomain of it. A single label ("fr",
/// "com") aligns with nothing. Stricter than DMARC's relaxed alignment
/// (RFC 7489 section 3.1), which needs the public suffix list: two sister
/// subdomains (a.example.org, b.example.org) do not align here.
fn aligned(d: &str, from_domain: &str) -> bool {
    let d = domain_of(d);
    let f = domain_of(from_domain);
    d.contains('.')
        && f.contains('.')
        && (d == f || f.ends_with(&format!(".{d}")) || d.ends_with(&format!(".{f}")))
}

/// Whether one result authenticates the From domain: a DMARC pass for
/// that very domain (`header.from`), or a DKIM or SPF pass aligned with it.
fn authenticates(r: &ResInfo, from_domain: &str) -> bool {
    if r.result != "pass" {
        return false;
    }
    match r.method.as_str() {
        "dmarc" => r
            .prop("header.from")
            .is_some_and(|d| domain_of(d) == from_domain),
        "dkim" => r
            .prop("header.d")
            .map(domain_of)
            .or_else(|| r.prop("header.i").map(domain_of))
            .is_some_and(|d| aligned(&d, from_domain)),
        "spf" => r
            .prop("smtp.mailfrom")
            .is_some_and(|m| aligned(m, from_domain)),
        _ => false,
    }
}

/// Judges the `Authentication-Results` header values of a mail, topmost
/// first. Only the topmost headers count, while their authserv-id is
/// `trusted`; the first of another id (or of none) ends them. The trusted
/// server must remove headers that arrive with its id (RFC 8601 section
/// 5); should one slip through right below its own, a DMARC failure
/// reported under that id wins over any pass.
pub fn judge(headers: &[&str], trusted: &str, from_email: &str) -> AuthVerdict {
    let from_domain = domain_of(from_email);
    let ours: Vec<Header> = headers
        .iter()
        .map(|h| parse_header(h))
        .take_while(|h| {
            h.as_ref()
                .and_then(|h| h.authserv_id.as_deref())
                .is_some_and(|id| id.eq_ignore_ascii_case(trusted))
        })
        .flatten()
        .collect();
    let trusted_id = trusted.to_string();
    if ours.is_empty() {
        return AuthVerdict::Fail(match headers.is_empty() {
            true => Failure::NoHeader {
                trusted: trusted_id,
            },
            false => Failure::NotOnTop {
                trusted: trusted_id,
            },
        });
    }
    let results: Vec<&ResInfo> = ours.iter().flat_map(|h| &h.results).collect();
    let dmarc_failed = results
        .iter()
        .any(|r| r.method == "dmarc" && matches!(r.result.as_str(), "fail" | "permerror"));
    let passed = results.iter().any(|r| authenticates(r, &from_domain));
    if passed && !dmarc_failed {
        AuthVerdict::Pass
    } else if results.is_empty() {
        AuthVerdict::Fail(Failure::NoResult {
            trusted: trusted_id,
        })
    } else {
        AuthVerdict::Fail(Failure::Failed {
            trusted: trusted_id,
            said: results
                .iter()
                .map(|r| format!("{}={}", r.method, r.result))
                .collect(),
            domain: from_domain,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MX: &str = "mx.example.org";
    const FROM: &str = "jeanne@mairie-exemple.fr";

    /// (what it shows, the headers topmost first, the From address,
    /// whether the mail is authenticated).
    const CASES: &[(&str, &[&str], &str, bool)] = &[
        // What real receiving servers write.
        ("rspamd-like dmarc pass", &["mx.example.org; dkim=pass header.d=mairie-exemple.fr header.s=dkim header.b=AbCd; spf=pass (mx.example.org: domain of jeanne@mairie-exemple.fr designates 192.0.2.1 as permitted sender) smtp.mailfrom=jeanne@mairie-exemple.fr; dmarc=pass (policy=reject) header.from=mairie-exemple.fr"], FROM, true),
        ("gmail-like", &["mx.example.org;\r\n       dkim=pass header.i=@gmail.com header.s=20230601 header.b=Xy12;\r\n       spf=pass (google.com: domain of someone@gmail.com designates 209.85.220.41 as permitted sender) smtp.mailfrom=someone@gmail.com;\r\n       dmarc=pass (p=NONE sp=QUARANTINE dis=NONE) header.from=gmail.com"], "someone@gmail.com", true),
        ("opendmarc alone, version number", &["mx.example.org 1; dmarc=pass header.from=mairie-exemple.fr"], FROM, true),
        ("one header per filter", &["mx.example.org; dmarc=none header.from=mairie-exemple.fr", "mx.example.org; dkim=pass header.d=mairie-exemple.fr"], FROM, true),
        ("aligned DKIM of a parent domain", &["mx.example.org; dkim=pass header.d=mairie-exemple.fr"], "a@services.mairie-exemple.fr", true),
        ("aligned SPF with a bare domain", &["mx.example.org; spf=pass smtp.mailfrom=mairie-exemple.fr"], FROM, true),
        ("upper case everywhere", &["MX.EXAMPLE.ORG; DMARC=PASS HEADER.FROM=Mairie-Exemple.FR"], FROM, true),
        ("quoted property value", &["mx.example.org; dmarc=pass header.from=\"mairie-exemple.fr\""], FROM, true),
        ("quoted authserv-id", &["\"mx.example.org\"; dmarc=pass header.from=mairie-exemple.fr"], FROM, true),
        ("a ; inside a comment splits nothing", &["mx.example.org; dkim=fail (bad sig; dmarc=pass header.from=mairie-exemple.fr) header.d=mairie-exemple.fr"], FROM, false),
        ("a ; inside a quoted reason splits nothing", &["mx.example.org; dkim=fail reason=\"x; dmarc=pass header.from=mairie-exemple.fr\" header.d=mairie-exemple.fr"], FROM, false),
        ("nested comments", &["mx.example.org (a (b; c) d); dmarc=pass (p=reject (strict)) header.from=mairie-exemple.fr"], FROM, true),
        ("quoted pair in a comment", &["mx.example.org; dmarc=pass (a \\) b) header.from=mairie-exemple.fr"], FROM, true),
        ("comment between the property and its value", &["mx.example.org; dmarc=pass header.from=(the From) mairie-exemple.fr"], FROM, true),
        ("trailing semicolon", &["mx.example.org; dmarc=pass header.from=mairie-exemple.fr;"], FROM, true),
        ("method version", &["mx.example.org; dkim/1=pass header.d=mairie-exemple.fr"], FROM, true),
        ("trailing dot in the domain", &["mx.example.org; dkim=pass header.d=mairie-exemple.fr."], FROM, true),
        // What a stranger writes, or a server that says no.
        ("another server's pass", &["evil.example; dmarc=pass header.from=mairie-exemple.fr"], FROM, false),
        ("no header at all", &[], FROM, false),
        ("dmarc fail", &["mx.example.org; dmarc=fail header.from=mairie-exemple.fr"], FROM, false),
        ("dmarc pass for another domain", &["mx.example.org; dmarc=pass header.from=evil.example"], FROM, false),
        ("dmarc pass without header.from", &["mx.example.org; dmarc=pass"], FROM, false),
        ("dmarc pass for a parent domain only", &["mx.example.org; dmarc=pass header.from=exemple.fr"], FROM, false),
        ("forged pass below the server's failure", &["mx.example.org; spf=softfail smtp.mailfrom=evil.example; dmarc=fail header.from=mairie-exemple.fr", "mx.example.org; dmarc=pass header.from=mairie-exemple.fr"], FROM, false),
        ("forged pass below another header", &["mx.example.org; spf=fail smtp.mailfrom=evil.example; dmarc=none header.from=mairie-exemple.fr", "relay.example.net; spf=pass smtp.mailfrom=x", "mx.example.org; dmarc=pass header.from=mairie-exemple.fr"], FROM, false),
        ("trusted id only below a stranger's", &["spam-filter.example.net; dmarc=pass header.from=mairie-exemple.fr", "mx.example.org; dmarc=pass header.from=mairie-exemple.fr"], FROM, false),
        ("no authserv-id (Microsoft 365 style)", &["spf=pass (sender IP is 192.0.2.1) smtp.mailfrom=mairie-exemple.fr; dkim=pass (signature was verified) header.d=mairie-exemple.fr;dmarc=pass action=none header.from=mairie-exemple.fr;compauth=pass reason=100"], FROM, false),
        ("look-alike id", &["mx.example.org.evil.example; dmarc=pass header.from=mairie-exemple.fr"], FROM, false),
        ("id inside a comment", &["(mx.example.org) evil.example; dmarc=pass header.from=mairie-exemple.fr"], FROM, false),
        ("DKIM of an unrelated signer", &["mx.example.org; dkim=pass header.d=mailer.example"], FROM, false),
        ("DKIM of a look-alike domain", &["mx.example.org; dkim=pass header.d=evilmairie-exemple.fr"], FROM, false),
        ("DKIM of a top-level domain", &["mx.example.org; dkim=pass header.d=fr"], FROM, false),
        ("SPF of another domain", &["mx.example.org; spf=pass smtp.mailfrom=bounce@evil.example"], FROM, false),
        ("SPF of another domain behind a quoted local part", &["mx.example.org; spf=pass smtp.mailfrom=\"jeanne@mairie-exemple.fr\"@evil.example"], FROM, false),
        ("SPF with a quoted local part of the From's domain", &["mx.example.org; spf=pass smtp.mailfrom=\"jeanne martin\"@mairie-exemple.fr"], FROM, true),
        ("SPF pass by HELO only", &["mx.example.org; spf=pass smtp.helo=mairie-exemple.fr"], FROM, false),
        ("softfail is not a pass", &["mx.example.org; dkim=neutral header.d=mairie-exemple.fr; spf=softfail smtp.mailfrom=mairie-exemple.fr"], FROM, false),
        ("none", &["mx.example.org; none"], FROM, false),
        ("unterminated quoted string", &["mx.example.org; dmarc=pass header.from=\"mairie-exemple.fr"], FROM, false),
        ("unterminated comment", &["mx.example.org; dmarc=pass (header.from=mairie-exemple.fr"], FROM, false),
        ("stray closing parenthesis", &["mx.example.org; dmarc=pass) header.from=mairie-exemple.fr"], FROM, false),
        ("pass hidden in a property value", &["mx.example.org; dkim=fail header.b=dmarc=pass header.from=mairie-exemple.fr"], FROM, false),
        ("arc pass is not ours to trust", &["mx.example.org; arc=pass header.from=mairie-exemple.fr"], FROM, false),
        ("dmarc pass with a dkim fail, fine", &["mx.example.org; dkim=fail header.d=mairie-exemple.fr; dmarc=pass header.from=mairie-exemple.fr"], FROM, true),
        ("dmarc permerror beats an aligned dkim pass", &["mx.example.org; dkim=pass header.d=mairie-exemple.fr; dmarc=permerror header.from=mairie-exemple.fr"], FROM, false),
        ("empty value", &[""], FROM, false),
    ];

    #[test]
    fn the_table_of_headers() {
        assert!(CASES.len() >= 30);
        let mut wrong = Vec::new();
        for (what, headers, from, expected) in CASES {
            let verdict = judge(headers, MX, from);
            if (verdict == AuthVerdict::Pass) != *expected {
                wrong.push(format!("{what}: {verdict:?}"));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn the_reasons_say_what_the_server_said() {
        let why = |h: &[&str]| match judge(h, MX, FROM) {
            AuthVerdict::Fail(f) => (f.text(Language::En), f.text(Language::Fr)),
            AuthVerdict::Pass => panic!("passed: {h:?}"),
        };
        let (en, fr) = why(&["evil.example; dmarc=pass header.from=mairie-exemple.fr"]);
        assert_eq!(
            en,
            "no Authentication-Results from mx.example.org above the others"
        );
        assert_eq!(
            fr,
            "la vérification de mx.example.org n'est pas la dernière reçue"
        );
        assert_eq!(why(&[]).0, "no Authentication-Results from mx.example.org");
        let (en, fr) = why(&["mx.example.org; dmarc=fail header.from=mairie-exemple.fr"]);
        assert!(en.contains("dmarc=fail"), "{en}");
        assert_eq!(
            fr,
            "mx.example.org n'a pas pu confirmer que le message vient bien de mairie-exemple.fr (dmarc=fail)"
        );
        assert_eq!(
            why(&["mx.example.org; none"]).0,
            "mx.example.org reported no result"
        );
    }

    #[test]
    fn the_tokenizer() {
        assert_eq!(
            tokenize("a (c; d) \"q;\\\"x\"=b;").unwrap(),
            vec![
                Token::Word("a".into()),
                Token::Quoted("q;\"x".into()),
                Token::Equals,
                Token::Word("b".into()),
                Token::Semicolon,
            ]
        );
        assert_eq!(tokenize("a (b"), None);
        assert_eq!(tokenize("\"a"), None);
        assert_eq!(tokenize("a) b"), None);
    }
}
