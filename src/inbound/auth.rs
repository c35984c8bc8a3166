//! `Authentication-Results` (RFC 8601) written by a trusted receiving
//! server: did the sender's domain authenticate the mail (DMARC, or an
//! aligned DKIM signature or SPF pass)?

/// The verdict for one mail, when a trusted server is configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthVerdict {
    Pass,
    /// Why it did not pass, for the sender and the logs.
    Fail(String),
}

/// Whether `d` (a DKIM d= or SPF domain) is aligned with the From domain
/// under relaxed alignment (RFC 7489 section 3.1): one is the other or a
/// subdomain of it.
fn aligned(d: &str, from_domain: &str) -> bool {
    let d = d.trim().trim_end_matches('.').to_ascii_lowercase();
    let f = from_domain.to_ascii_lowercase();
    !d.is_empty() && (d == f || f.ends_with(&format!(".{d}")) || d.ends_with(&format!(".{f}")))
}

/// Removes RFC 5322 comments "( … )".
fn uncomment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut depth = 0u32;
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Judges the `Authentication-Results` header values of a mail. Only
/// headers whose authserv-id is `trusted` count: anybody can write the
/// others. The trusted server must remove such headers that arrive with
/// its id (RFC 8601 section 5); should one slip through, a DMARC failure
/// reported under that id wins over any pass, so a forged
/// "dmarc=pass" beside the server's own verdict changes nothing.
pub fn judge(headers: &[&str], trusted: &str, from_email: &str) -> AuthVerdict {
    let from_domain = from_email.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
    let mut seen_trusted = false;
    let mut passed = false;
    let mut dmarc_failed = false;
    let mut results: Vec<String> = Vec::new();
    for value in headers {
        let value = uncomment(value);
        let mut parts = value.split(';');
        let authserv = parts
            .next()
            .unwrap_or("")
            .split_whitespace()
            .next()
            .unwrap_or("");
        if !authserv.eq_ignore_ascii_case(trusted) {
            continue;
        }
        seen_trusted = true;
        for resinfo in parts {
            let tokens: Vec<&str> = resinfo.split_whitespace().collect();
            let Some((method, result)) = tokens.first().and_then(|t| t.split_once('=')) else {
                continue;
            };
            let method = method.to_ascii_lowercase();
            let result = result.to_ascii_lowercase();
            let prop = |name: &str| {
                tokens.iter().find_map(|t| {
                    t.split_once('=')
                        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                        .map(|(_, v)| v.trim_matches('"').to_string())
                })
            };
            results.push(format!("{method}={result}"));
            if method == "dmarc" && matches!(result.as_str(), "fail" | "permerror") {
                dmarc_failed = true;
            }
            if result != "pass" {
                continue;
            }
            let ok = match method.as_str() {
                "dmarc" => true,
                "dkim" => prop("header.d")
                    .or_else(|| {
                        prop("header.i").map(|i| i.rsplit('@').next().unwrap_or("").to_string())
                    })
                    .is_some_and(|d| aligned(&d, from_domain)),
                "spf" => prop("smtp.mailfrom")
                    .map(|m| m.rsplit('@').next().unwrap_or("").to_string())
                    .is_some_and(|d| aligned(&d, from_domain)),
                _ => false,
            };
            passed |= ok;
        }
    }
    if passed && !dmarc_failed {
        AuthVerdict::Pass
    } else if !seen_trusted {
        AuthVerdict::Fail(format!("no Authentication-Results from {trusted}"))
    } else if results.is_empty() {
        AuthVerdict::Fail(format!("{trusted} reported no result"))
    } else {
        AuthVerdict::Fail(format!(
            "{trusted} reported {} (no DMARC pass, no DKIM or SPF pass aligned with {from_domain})",
            results.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MX: &str = "mx.example.org";

    #[test]
    fn dmarc_pass_from_the_trusted_server() {
        let h = ["mx.example.org; spf=fail smtp.mailfrom=x.example; dmarc=pass (p=reject) header.from=mairie-exemple.fr"];
        assert_eq!(judge(&h, MX, "a@mairie-exemple.fr"), AuthVerdict::Pass);
    }

    #[test]
    fn aligned_dkim_or_spf() {
        let h = ["mx.example.org; dkim=pass header.d=mairie-exemple.fr header.s=sel"];
        assert_eq!(
            judge(&h, MX, "a@services.mairie-exemple.fr"),
            AuthVerdict::Pass
        );
        let h = ["mx.example.org; dkim=pass header.d=mailer.example"];
        assert!(matches!(
            judge(&h, MX, "a@mairie-exemple.fr"),
            AuthVerdict::Fail(_)
        ));
        let h = ["mx.example.org; spf=pass smtp.mailfrom=bounce@mairie-exemple.fr"];
        assert_eq!(judge(&h, MX, "a@mairie-exemple.fr"), AuthVerdict::Pass);
    }

    #[test]
    fn other_servers_are_not_believed() {
        let h = ["evil.example; dmarc=pass header.from=mairie-exemple.fr"];
        let v = judge(&h, MX, "a@mairie-exemple.fr");
        assert_eq!(
            v,
            AuthVerdict::Fail("no Authentication-Results from mx.example.org".into())
        );
        let h = ["mx.example.org; dmarc=fail header.from=mairie-exemple.fr"];
        match judge(&h, MX, "a@mairie-exemple.fr") {
            AuthVerdict::Fail(why) => assert!(why.contains("dmarc=fail"), "{why}"),
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn a_forged_pass_below_the_servers_failure_changes_nothing() {
        let h = [
            "mx.example.org; spf=softfail smtp.mailfrom=evil.example; dmarc=fail header.from=mairie-exemple.fr",
            "mx.example.org; dmarc=pass header.from=mairie-exemple.fr",
        ];
        match judge(&h, MX, "a@mairie-exemple.fr") {
            AuthVerdict::Fail(why) => assert!(why.contains("dmarc=fail"), "{why}"),
            v => panic!("{v:?}"),
        }
        // Several headers of the trusted server (one per filter) together.
        let h = [
            "mx.example.org; dmarc=none header.from=mairie-exemple.fr",
            "mx.example.org; dkim=pass header.d=mairie-exemple.fr",
        ];
        assert_eq!(judge(&h, MX, "a@mairie-exemple.fr"), AuthVerdict::Pass);
    }
}
