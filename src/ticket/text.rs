//! Text as the ticket rules compare it: words folded to lower case without
//! accents, and the shape of an email address. Written on `std` alone so
//! that the domain depends on nothing but itself (see `scripts/check-layers`);
//! `tests/fold.rs` checks [`fold`] against Unicode's own decomposition.

/// Lower case without accents, so that `VALIDÉ`, `validé` and `valide`
/// match, and `#Clôturer` is `#cloturer`. Precomposed Latin letters lose
/// their diacritics (`é` → `e`); combining marks (mail from
/// Apple devices may come decomposed, `e` + U+0301) are dropped.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        // Most of a mail's letters: no table to look them up in.
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
            continue;
        }
        if is_combining_mark(c) {
            continue;
        }
        match base_letters(c) {
            Some(base) => out.push_str(base),
            None => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// U+0300–U+036F, the combining diacritical marks (and their extension
/// and supplement blocks), which a decomposed accent is made of.
fn is_combining_mark(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}' | '\u{20D0}'..='\u{20FF}')
}

/// The folded form of a precomposed Latin letter with a diacritic.
fn base_letters(c: char) -> Option<&'static str> {
    Some(match c {
        'À'..='Å' | 'à'..='å' | 'Ā' | 'ā' | 'Ă' | 'ă' | 'Ą' | 'ą' => "a",
        'Ç' | 'ç' | 'Ć' | 'ć' | 'Ĉ' | 'ĉ' | 'Ċ' | 'ċ' | 'Č' | 'č' => "c",
        'Ď' | 'ď' => "d",
        'È'..='Ë' | 'è'..='ë' | 'Ē' | 'ē' | 'Ĕ' | 'ĕ' | 'Ė' | 'ė' | 'Ę' | 'ę' | 'Ě' | 'ě' => {
            "e"
        }
        'Ĝ' | 'ĝ' | 'Ğ' | 'ğ' | 'Ġ' | 'ġ' | 'Ģ' | 'ģ' => "g",
        'Ĥ' | 'ĥ' => "h",
        'Ì'..='Ï' | 'ì'..='ï' | 'Ĩ' | 'ĩ' | 'Ī' | 'ī' | 'Ĭ' | 'ĭ' | 'Į' | 'į' | 'İ' => {
            "i"
        }
        'Ĵ' | 'ĵ' => "j",
        'Ķ' | 'ķ' => "k",
        'Ĺ' | 'ĺ' | 'Ļ' | 'ļ' | 'Ľ' | 'ľ' => "l",
        'Ñ' | 'ñ' | 'Ń' | 'ń' | 'Ņ' | 'ņ' | 'Ň' | 'ň' => "n",
        'Ò'..='Ö' | 'ò'..='ö' | 'Ō' | 'ō' | 'Ŏ' | 'ŏ' | 'Ő' | 'ő' => "o",
        'Ŕ' | 'ŕ' | 'Ŗ' | 'ŗ' | 'Ř' | 'ř' => "r",
        'Ś' | 'ś' | 'Ŝ' | 'ŝ' | 'Ş' | 'ş' | 'Š' | 'š' => "s",
        'Ţ' | 'ţ' | 'Ť' | 'ť' => "t",
        'Ù'..='Ü'
        | 'ù'..='ü'
        | 'Ũ'
        | 'ũ'
        | 'Ū'
        | 'ū'
        | 'Ŭ'
        | 'ŭ'
        | 'Ů'
        | 'ů'
        | 'Ű'
        | 'ű'
        | 'Ų'
        | 'ų' => "u",
        'Ŵ' | 'ŵ' => "w",
        'Ý' | 'ý' | 'ÿ' | 'Ŷ' | 'ŷ' | 'Ÿ' => "y",
        'Ź' | 'ź' | 'Ż' | 'ż' | 'Ž' | 'ž' => "z",
        _ => return None,
    })
}

/// Whether `s` has the shape of a mail address an agent may name in a
/// command (`#watch add chef@mairie.fr`): one `@`, a local part and a
/// domain of printable characters without spaces, brackets, quotes or
/// separators, and a domain of dot-separated labels (RFC 5321 section
/// 4.1.2's dot-atom form; quoted local parts are not accepted from a
/// command line).
pub fn is_address(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let atom_char = |c: char| {
        !c.is_control()
            && !c.is_whitespace()
            && !matches!(
                c,
                '@' | '<' | '>' | '(' | ')' | '[' | ']' | ',' | ';' | ':' | '\\' | '"'
            )
    };
    let dot_atom = |part: &str| {
        !part.is_empty()
            && part.len() <= 255
            && part
                .split('.')
                .all(|label| !label.is_empty() && label.chars().all(atom_char))
    };
    local.len() <= 64
        && dot_atom(local)
        && dot_atom(domain)
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.')
}

/// A size as people read it: "830 B", "31 KiB", "2.5 MiB".
pub fn size_text(size: u64) -> String {
    match size {
        s if s >= 1 << 20 => {
            let text = format!("{:.1}", s as f64 / (1u64 << 20) as f64);
            format!("{} MiB", text.trim_end_matches(".0"))
        }
        s if s >= 1 << 10 => format!("{} KiB", s.div_ceil(1 << 10)),
        s => format!("{s} B"),
    }
}

/// A size as a reader of `language` writes it: "30 Ko", "2,5 Mo",
/// "512 octets" in French; "30 KiB", "2.5 MiB", "512 B" in English.
pub fn size_in(size: u64, language: super::Language) -> String {
    let english = size_text(size);
    match language {
        super::Language::En => english,
        super::Language::Fr => {
            let (number, unit) = english.split_once(' ').unwrap_or((&english, ""));
            let unit = match unit {
                "MiB" => "Mo",
                "KiB" => "Ko",
                _ => "octets",
            };
            format!("{} {unit}", number.replace('.', ","))
        }
    }
}

/// Whether a subject says what a request is about, so that a second mail
/// with it from the same requester is the same request: not empty, not
/// what clients write for none ("(sans objet)", "(no subject)"), not only
/// generic words ("Urgent", "Question", "Demande d'aide", "Help needed").
pub fn is_meaningful_subject(subject: &str) -> bool {
    const GENERIC: &[&str] = &[
        "sans",
        "objet",
        "aucun",
        "pas",
        "no",
        "subject",
        "untitled",
        "urgent",
        "urgente",
        "urgence",
        "tres",
        "very",
        "probleme",
        "problem",
        "souci",
        "question",
        "questions",
        "demande",
        "request",
        "requete",
        "aide",
        "help",
        "besoin",
        "need",
        "needed",
        "bonjour",
        "hello",
        "hi",
        "info",
        "infos",
        "information",
        "informations",
        "test",
        "important",
        "support",
        "issue",
        "bug",
        "panne",
        "svp",
        "please",
        "merci",
        "thanks",
        "d",
        "de",
        "du",
        "la",
        "le",
        "l",
        "un",
        "une",
        "mon",
        "ma",
        "mes",
        "a",
        "an",
        "the",
        "my",
        "of",
        "for",
        "pour",
        "re",
        "tr",
        "fw",
        "fwd",
    ];
    fold(subject)
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| !w.is_empty() && !GENERIC.contains(&w))
}

/// The fewest words of an internal note a text must repeat, in order, to
/// be taken as quoting it; notes shorter than that are too ordinary
/// ("rappeler demain") to be told apart from what anybody writes.
pub const NOTE_WORDS: usize = 5;
/// A run this long of a longer note's words is enough.
const NOTE_RUN: usize = 8;

/// A text's words, folded: compared whatever their case, accents,
/// wrapping, punctuation or quoting (`>`).
fn plain_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(fold)
        .collect()
}

/// The first of `notes` that `text` quotes: all of a note's words in
/// order, or [`NOTE_RUN`] of them in a row for a longer one.
pub fn quoted_note<'a>(text: &str, notes: &'a [String]) -> Option<&'a str> {
    let words = plain_words(text);
    let mut runs: std::collections::HashMap<usize, std::collections::HashSet<&[String]>> =
        std::collections::HashMap::new();
    notes.iter().map(String::as_str).find(|note| {
        let note_words = plain_words(note);
        if note_words.len() < NOTE_WORDS {
            return false;
        }
        let n = note_words.len().min(NOTE_RUN);
        let seen = runs.entry(n).or_insert_with(|| words.windows(n).collect());
        note_words.windows(n).any(|w| seen.contains(w))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_each_language() {
        use crate::ticket::Language::{En, Fr};
        assert_eq!(size_in(30 * 1024, Fr), "30 Ko");
        assert_eq!(size_in(5 << 19, Fr), "2,5 Mo");
        assert_eq!(size_in(512, Fr), "512 octets");
        assert_eq!(size_in(5 << 19, En), "2.5 MiB");
    }

    #[test]
    fn meaningful_subjects() {
        for s in [
            "Imprimante du 2e étage",
            "Badge",
            "VPN hors service",
            "Help with Zoom",
        ] {
            assert!(is_meaningful_subject(s), "{s}");
        }
        for s in [
            "",
            "(sans objet)",
            "(no subject)",
            "URGENT !!!",
            "Question",
            "Demande d'aide",
            "Help needed",
            "Problème urgent",
            "TR: Fwd: bonjour",
        ] {
            assert!(!is_meaningful_subject(s), "{s}");
        }
    }

    #[test]
    fn folds_case_and_accents() {
        assert_eq!(fold("VALIDÉ"), "valide");
        assert_eq!(fold("Clôturer"), "cloturer");
        assert_eq!(fold("Catégorie"), "categorie");
        assert_eq!(fold("refusé"), "refuse");
        // Decomposed, as Apple Mail may send it: e + combining acute.
        assert_eq!(fold("Valide\u{301}"), "valide");
        assert_eq!(fold("Ok"), "ok");
        assert_eq!(fold("Straße"), "straße");
    }

    #[test]
    fn addresses() {
        for good in [
            "chef@mairie-exemple.fr",
            "a.b+tag@sub.example.org",
            "x@localhost",
        ] {
            assert!(is_address(good), "{good}");
        }
        for bad in [
            "nobody",
            "@example.org",
            "a@",
            "a@@b.example",
            "a b@example.org",
            "a@exa mple.org",
            "<a@b.example>",
            "a@b..example",
            ".a@b.example",
            "a@b.example,c@d.example",
            "a\r\n@b.example",
            "\"a\"@b.example",
        ] {
            assert!(!is_address(bad), "{bad:?}");
        }
    }

    #[test]
    fn an_internal_note_is_found_however_it_is_quoted() {
        let notes = vec![
            "Rappeler demain".to_string(),
            "Le poste de Mme Martin est à remplacer, budget refusé par la DGS : ne pas le lui dire.".to_string(),
        ];
        // Quoted by Outlook, rewrapped, with ">" and another case.
        let reply = "Bonjour,\n\nC'est fait.\n\n> le poste de Mme MARTIN est a\n> remplacer, budget refusé par la DGS\n";
        assert_eq!(quoted_note(reply, &notes), Some(notes[1].as_str()));
        // Eight words in a row of a long note are enough.
        assert!(quoted_note("budget refusé par la DGS : ne pas le lui", &notes).is_some());
        // A short note, and a few words in common, are not a quote.
        assert_eq!(quoted_note("Je vous rappelle demain matin.", &notes), None);
        assert_eq!(
            quoted_note("Le poste de Mme Martin est prêt.", &notes),
            None
        );
        assert_eq!(quoted_note("", &notes), None);
    }
}
