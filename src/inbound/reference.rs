//! Ticket references in subjects: `[SUPPORT #000123]`, found whatever the
//! reply or forward prefixes and the leading zeros.

use regex::Regex;

pub use crate::ticket::TicketRef;

/// Finds and removes the ticket tags of one desk (its own, and its
/// queues').
#[derive(Clone, Debug)]
pub struct SubjectTagger {
    tag: String,
    find: Regex,
    prefixes: Regex,
}

impl SubjectTagger {
    pub fn new(tag: &str) -> SubjectTagger {
        SubjectTagger::with_tags(&[tag])
    }

    /// A tagger that reads each of `tags` (the first is the desk's own).
    pub fn with_tags(tags: &[&str]) -> SubjectTagger {
        let tag = tags.first().copied().unwrap_or("SUPPORT");
        let alternatives: Vec<String> = tags.iter().map(|t| regex::escape(t)).collect();
        // Ticket numbers are written in ASCII digits; Unicode's `\d`
        // (hundreds of ranges, twelve times over) made this regex, built
        // at every start, five times longer to build.
        let find = Regex::new(&format!(
            r"(?i)\[\s*(?:{})\s*#\s*0*([0-9]{{1,12}})\s*\]",
            alternatives.join("|")
        ))
        .expect("escaped tags make a valid regex");
        // RE:, RE :, Réf., TR:, Fwd:, FW:, AW:, WG:, SV:, VS:, Antw:, R:, I:
        let prefixes = Regex::new(
            r"(?i)^\s*((re|ré|ref|réf|tr|fwd?|aw|wg|sv|vs|antw|rif|r|i)\s*(\[[0-9]+\])?\s*:\s*)+",
        )
        .expect("static regex");
        SubjectTagger {
            tag: tag.to_string(),
            find,
            prefixes,
        }
    }

    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// The first reference of ours in a subject.
    pub fn find(&self, subject: &str) -> Option<TicketRef> {
        self.find
            .captures(subject)
            .and_then(|c| c[1].parse().ok())
            .filter(|n| *n > 0)
            .map(TicketRef)
    }

    /// The subject a new ticket keeps: reply and forward prefixes and our
    /// tags removed, so it reads as the request itself.
    pub fn clean(&self, subject: &str) -> String {
        let without_tags = self.find.replace_all(subject, " ");
        let mut s = without_tags.trim().to_string();
        loop {
            let stripped = self.prefixes.replace(&s, "").trim().to_string();
            if stripped == s {
                break;
            }
            s = stripped;
        }
        // Empty when the mail had none: the ticket then takes its
        // language's "(sans objet)" / "(no subject)".
        s.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// `[TAG #000123] subject`
    pub fn tagged(&self, number: TicketRef, subject: &str) -> String {
        format!("{} {}", number.display(&self.tag), subject)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_references_behind_any_prefix() {
        let t = SubjectTagger::new("SUPPORT");
        for s in [
            "RE : [SUPPORT #000123] Imprimante",
            "TR: [SUPPORT #123] Imprimante",
            "Fwd: [support #0000123]",
            "AW: AW: [SUPPORT # 123 ] VPN",
            "Réponse : [SUPPORT #000123]",
        ] {
            assert_eq!(t.find(s), Some(TicketRef(123)), "{s}");
        }
        assert_eq!(t.find("[OTHER #000123] x"), None);
        assert_eq!(t.find("[SUPPORT #000000] x"), None);
        assert_eq!(t.find("SUPPORT 123"), None);
        // Digits of another script are not a number of ours, and do not
        // hide the reference that follows them.
        assert_eq!(t.find("[SUPPORT #١٢٣] x"), None);
        assert_eq!(
            t.find("RE: [SUPPORT #١٢٣] [SUPPORT #000123] x"),
            Some(TicketRef(123))
        );
    }

    #[test]
    fn cleans_subjects() {
        let t = SubjectTagger::new("SUPPORT");
        assert_eq!(
            t.clean("RE: TR : [SUPPORT #000004]  Imprimante   HS"),
            "Imprimante HS"
        );
        assert_eq!(t.clean("Fwd: Wi-Fi"), "Wi-Fi");
        assert_eq!(t.clean("Relance facture"), "Relance facture");
        assert_eq!(t.clean("  "), "");
        assert_eq!(t.tagged(TicketRef(42), "VPN"), "[SUPPORT #000042] VPN");
    }

    #[test]
    fn a_queues_own_tag_is_read_too() {
        let t = SubjectTagger::with_tags(&["SUPPORT", "HELP"]);
        assert_eq!(t.find("RE: [HELP #000007] VPN"), Some(TicketRef(7)));
        assert_eq!(t.find("RE: [SUPPORT #000007] VPN"), Some(TicketRef(7)));
        assert_eq!(t.find("RE: [OTHER #000007] VPN"), None);
        assert_eq!(t.clean("TR: [HELP #000007] VPN"), "VPN");
        assert_eq!(t.tag(), "SUPPORT");
    }
}
