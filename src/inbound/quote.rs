//! Quoted history and signature stripping for the mail clients requesters
//! use (Outlook, Gmail, Thunderbird, Apple Mail, phones), in French and
//! English. When unsure, text is kept: a too-long follow-up is better than a
//! lost one, and the full original always stays with the raw mail.

use std::sync::LazyLock;

use regex::Regex;

/// A line that opens a block of history written without `>` by top-posting
/// clients: everything from it on is the old thread.
static HISTORY_SEPARATOR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^\s*(
            -{2,}\s*(original\s+message|message\s+d'origine|message\s+original|ursprüngliche\s+nachricht)\s*-{2,}
          | _{10,}
        )\s*$",
    )
    .expect("static regex")
});

/// The first line of an Outlook header block ("De : …", "From: …").
static HEADER_FROM: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^\s*\**(de|from|von)\s*:\**\s*\S").expect("static regex"));

/// The lines that follow it in such a block.
static HEADER_NEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*\**(envoyé|sent|date|à|to|cc|objet|subject|gesendet|an|betreff)\s*:")
        .expect("static regex")
});

/// An attribution line: "Le … a écrit :", "On … wrote:", "Am … schrieb …:".
/// Gmail folds long ones, so it is matched on one line or two joined. What
/// follows the verb is at most [`ATTRIBUTION_TAIL`] characters, counted
/// in [`is_attribution`]: a bounded repetition of any character is an
/// automaton of hundreds of states, built again by every `guichet ingest`
/// process (a sixth of one's instructions).
static ATTRIBUTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^\s*(
            (le|on|am|el|il)\s.{4,}\s(a\s+écrit|wrote|schrieb|escribió|ha\s+scritto)\s?(?P<tail>.*):
        )\s*$",
    )
    .expect("static regex")
});

/// The longest text between an attribution's verb and its colon ("wrote
/// on behalf of …:").
const ATTRIBUTION_TAIL: usize = 80;

/// Whether a line is an attribution. The greedy `.{4,}` takes the last
/// verb of the line, so the tail is the shortest any reading gives.
fn is_attribution(line: &str) -> bool {
    line.contains(':')
        && ATTRIBUTION.captures(line).is_some_and(|c| {
            c.name("tail")
                .is_some_and(|t| t.as_str().chars().count() <= ATTRIBUTION_TAIL)
        })
}

/// Sign-offs added by phone clients; the device's name is at most
/// [`DEVICE_NAME`] characters, counted in [`is_mobile_signoff`] (see
/// [`ATTRIBUTION`] for why).
static MOBILE_SIGNOFF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*(envoyé\s+(de|depuis)\s+mon\s+(?P<fr>.+?)|sent\s+from\s+my\s+(?P<en>.+?)|(obtenir|télécharger|get)\s+outlook\s+(pour|for)\s+(ios|android))\s*(<[^<>\s]*>)?\s*$",
    )
    .expect("static regex")
});

/// The longest device name of a sign-off ("Envoyé de mon iPhone").
const DEVICE_NAME: usize = 40;

/// Whether a line is a phone client's sign-off. The lazy `.+?` takes the
/// device's name alone, without the spaces or link after it.
fn is_mobile_signoff(line: &str) -> bool {
    MOBILE_SIGNOFF.captures(line).is_some_and(|c| {
        c.name("fr")
            .or(c.name("en"))
            .is_none_or(|d| d.as_str().chars().count() <= DEVICE_NAME)
    })
}

fn is_quoted(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

// Each regex below needs a character most lines lack ("--", "__", ':'):
// looked for first, so that most lines are left at memchr's speed, and a
// one-mail `guichet ingest` builds a regex only for a mail that has such
// a line.

fn is_history_separator(line: &str) -> bool {
    (line.contains("--") || line.contains("__")) && HISTORY_SEPARATOR.is_match(line)
}

fn is_header_from(line: &str) -> bool {
    line.contains(':') && HEADER_FROM.is_match(line)
}

fn is_header_next(line: &str) -> bool {
    line.contains(':') && HEADER_NEXT.is_match(line)
}

/// Where the top-posted history starts, if a separator or an Outlook header
/// block is found.
fn history_start(lines: &[&str]) -> Option<usize> {
    for (i, line) in lines.iter().enumerate() {
        if is_history_separator(line) {
            return Some(i);
        }
        if is_header_from(line) {
            // "De : x" alone is ordinary prose; a header block has at least
            // two of Envoyé/Date/À/Objet right after it.
            let following = lines[i + 1..]
                .iter()
                .take(5)
                .filter(|l| is_header_next(l))
                .count();
            if following >= 2 {
                return Some(i);
            }
        }
    }
    None
}

/// Whether line `i` opens the quoted history: a separator, an Outlook
/// header block, an attribution ("Le … a écrit :").
pub fn starts_history(lines: &[&str], i: usize) -> bool {
    let line = lines[i];
    if is_history_separator(line) || attribution_at(lines, i).is_some() {
        return true;
    }
    is_header_from(line)
        && lines[i + 1..]
            .iter()
            .take(5)
            .filter(|l| is_header_next(l))
            .count()
            >= 2
}

/// Whether the attribution at `i` spans one line or two; returns the number
/// of lines it covers.
fn attribution_at(lines: &[&str], i: usize) -> Option<usize> {
    if is_attribution(lines[i]) {
        return Some(1);
    }
    if let Some(next) = lines.get(i + 1) {
        let joined = format!("{} {}", lines[i].trim_end(), next.trim());
        if !is_quoted(lines[i]) && !is_quoted(next) && is_attribution(&joined) {
            return Some(2);
        }
    }
    None
}

/// Returns the text the sender wrote, without quoted history, signature or
/// phone sign-off. Never returns an empty string for a non-empty input:
/// when everything looks quoted, the whole text is kept.
pub fn strip(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    let all: Vec<&str> = text.lines().collect();
    let mut lines: &[&str] = &all;
    if let Some(cut) = history_start(lines) {
        lines = &lines[..cut];
    }

    let mut kept: Vec<&str> = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        if let Some(span) = attribution_at(lines, i) {
            // An attribution followed by quoted lines introduces them; one
            // followed by plain text (some clients do not quote) ends the
            // new text.
            let next = lines[i + span..].iter().find(|l| !l.trim().is_empty());
            match next {
                Some(l) if is_quoted(l) => {
                    i += span;
                    continue;
                }
                _ => break,
            }
        }
        let line = lines[i];
        if line == "-- " || line == "--" {
            // RFC 3676 section 4.3 signature delimiter: the rest is the
            // signature, unless quoted answers follow (interleaved replies).
            let rest = &lines[i + 1..];
            match rest.iter().position(|l| is_quoted(l)) {
                Some(q) => i += 1 + q,
                None => break,
            }
            continue;
        }
        if !is_quoted(line) {
            kept.push(line.trim_end());
        }
        i += 1;
    }

    // Drop a phone sign-off when it is the last thing written.
    while let Some(last) = kept.iter().rposition(|l| !l.trim().is_empty()) {
        if is_mobile_signoff(kept[last]) {
            kept.truncate(last);
        } else {
            break;
        }
    }

    let body = collapse_blank_lines(&kept);
    if body.is_empty() {
        collapse_blank_lines(&all.iter().map(|l| l.trim_end()).collect::<Vec<_>>())
    } else {
        body
    }
}

/// Joins lines, trimming blank lines at both ends and keeping at most one
/// blank line in a row (removed quotes leave gaps).
fn collapse_blank_lines(lines: &[&str]) -> String {
    let mut out = String::new();
    let mut blank_run = 0;
    for line in lines {
        if line.trim().is_empty() {
            blank_run += 1;
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
            if blank_run > 0 {
                out.push('\n');
            }
        }
        blank_run = 0;
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{is_attribution, is_mobile_signoff, strip};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        /// The lengths counted in code say what the bounded repetitions
        /// said, on lines made to sit near both bounds.
        #[test]
        fn the_counted_bounds_read_as_the_repetitions_did(
            line in "(On|Le|on) [a-zé<>@. ]{0,12}( wrote| a écrit| Wrote)[ xé:]{0,90}( wrote| a écrit)?[ xé:]{0,8}",
            device in "(Envoyé de mon|Sent from my|sent from my) [a-zé ]{0,45}( <http://x>)?[ ]{0,2}",
        ) {
            let attribution = regex::Regex::new(
                r"(?ix)^\s*((le|on|am|el|il)\s.{4,}\s(a\s+écrit|wrote|schrieb|escribió|ha\s+scritto)\s?.{0,80}:)\s*$",
            ).unwrap();
            let signoff = regex::Regex::new(
                r"(?i)^\s*(envoyé\s+(de|depuis)\s+mon\s+.{1,40}|sent\s+from\s+my\s+.{1,40}|(obtenir|télécharger|get)\s+outlook\s+(pour|for)\s+(ios|android))\s*(<[^<>\s]*>)?\s*$",
            ).unwrap();
            prop_assert_eq!(is_attribution(&line), attribution.is_match(&line), "{:?}", line);
            prop_assert_eq!(is_mobile_signoff(&device), signoff.is_match(&device), "{:?}", device);
        }
    }

    /// The bounds on what follows an attribution's verb and on a device's
    /// name, counted in characters, each side of the limit.
    #[test]
    fn attribution_and_signoff_bounds() {
        let tail = |n: usize| format!("On Mon, 23 Nov 2026, Support wrote {}:", "é".repeat(n));
        assert!(is_attribution(&tail(0)));
        assert!(is_attribution(&tail(80)));
        assert!(!is_attribution(&tail(81)));
        assert!(is_attribution(
            "Le lun. 23 nov. 2026 à 09:20, Support <s@x.fr> a écrit :"
        ));
        // The last verb of the line counts: "wrote" in the name is not it.
        assert!(is_attribution(&format!(
            "On Mon, Jo Wrote-Smith <j@x.org> wrote {}:",
            "x".repeat(70)
        )));
        assert!(!is_attribution("Le client a écrit : merci"));
        let device = |n: usize| format!("Envoyé de mon {}", "é".repeat(n));
        assert!(is_mobile_signoff(&device(40)));
        assert!(!is_mobile_signoff(&device(41)));
        assert!(is_mobile_signoff("Sent from my iPhone  "));
        assert!(is_mobile_signoff(
            "Envoyé depuis mon Galaxy <https://aka.ms/x>"
        ));
        assert!(is_mobile_signoff("Télécharger Outlook pour Android"));
        assert!(!is_mobile_signoff(
            "Envoyé de mon bureau, le dossier est prêt à signer pour la réunion de lundi matin"
        ));
    }

    #[test]
    fn gmail_french_attribution_on_two_lines() {
        let text = "Bonjour,\nc'est réparé merci.\n\nLe lun. 23 nov. 2026 à 09:20, Support informatique <\nsupport@example.test> a écrit :\n> Bonjour,\n> avez-vous redémarré ?\n";
        assert_eq!(strip(text), "Bonjour,\nc'est réparé merci.");
    }

    #[test]
    fn english_attribution_and_signature() {
        let text = "It works now.\n\n-- \nJohn Smith\nIT office\n\nOn Mon, 23 Nov 2026 at 09:20, Support <support@example.test> wrote:\n> Did you restart?\n";
        assert_eq!(strip(text), "It works now.");
    }

    #[test]
    fn outlook_french_header_block() {
        let text = "Toujours en panne.\n\nCordialement,\nJeanne\n\n________________________________\nDe : Support informatique <support@example.test>\nEnvoyé : lundi 23 novembre 2026 09:20\nÀ : Jeanne Martin\nObjet : [SUPPORT #000042] Imprimante\n\nBonjour, avez-vous redémarré ?";
        assert_eq!(strip(text), "Toujours en panne.\n\nCordialement,\nJeanne");
    }

    #[test]
    fn original_message_separator() {
        let text = "See attached.\r\n\r\n-----Original Message-----\r\nFrom: Support\r\nSent: Monday\r\n\r\nold text";
        assert_eq!(strip(text), "See attached.");
    }

    #[test]
    fn interleaved_answers_are_kept() {
        let text = "On 23/11/2026 09:20, Support wrote:\n> Which floor?\nSecond floor.\n> Which model?\nHP 4250.\n";
        assert_eq!(strip(text), "Second floor.\nHP 4250.");
    }

    #[test]
    fn iphone_signoff_removed() {
        let text = "Voilà la photo.\n\nEnvoyé de mon iPhone\n\nLe 23 nov. 2026 à 09:20, Support <support@example.test> a écrit :\n\n> Pouvez-vous envoyer une photo ?";
        assert_eq!(strip(text), "Voilà la photo.");
    }

    #[test]
    fn prose_mentioning_de_is_kept() {
        let text = "De : nos collègues, aucune plainte.\nMerci.";
        assert_eq!(strip(text), text);
    }

    #[test]
    fn everything_quoted_keeps_the_text() {
        let text = "> only a quote\n";
        assert_eq!(strip(text), "> only a quote");
    }
}
