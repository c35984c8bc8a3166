//! The requester's phone number, from the signature of what they wrote
//! (before the signature is stripped), so that an agent can call back:
//! "Tél. : 01 23 45 67 89", "Mobile +33 6 12 34 56 78", "Phone: +44 20
//! 7946 0958", or a number alone on a line of the signature. Never made
//! up: a number must look like a phone number as written (French ten
//! digits in pairs, or an international "+" number), a labelled fax is
//! not one, and dates, postcodes, references and quoted history are not
//! read.

use std::sync::LazyLock;

use regex::Regex;

/// A phone number as people write them: "+33 (0)1 23 45 67 89",
/// "0033 1 23 45 67 89", "01.23.45.67.89", "0123456789", "+1 (514)
/// 555-0199", "+44 20 7946 0958". It must not touch a letter or digit on
/// either side (a reference, an IBAN): the letters are those of the Latin
/// scripts, accents and combining accents included, the ones signatures
/// are written in here. Unicode's whole `\w`, hundreds of ranges on each
/// side, made this regex four times longer to build, and it is built in
/// every one-mail `guichet ingest` whose signature holds nine digits.
static NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?x)
        (?:^|[^+{WORD}])
        (
            (?:\+|00)[0-9]{{1,3}}[\s.\-]?(?:\(0\)[\s.\-]?)?(?:\(?[0-9]{{1,4}}\)?[\s.\-]?){{2,5}}[0-9]{{2,4}}
          | 0[1-9](?:[\s.\-]?[0-9]{{2}}){{4}}
        )
        (?:$|[^{WORD}])"
    ))
    .expect("static regex")
});

/// What a number must not touch, as the inside of a character class:
/// digits, `_`, and the letters of the Latin scripts (Latin-1, Extended-A
/// and -B, combining accents, Extended Additional).
const WORD: &str = r"0-9A-Za-z_\u{AA}\u{B5}\u{BA}\u{C0}-\u{D6}\u{D8}-\u{F6}\u{F8}-\u{24F}\u{300}-\u{36F}\u{1E00}-\u{1EFF}";

/// A label before a phone number.
static LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        \b(t[ée]l(?:[ée]phone)?|tel|phone|ph|mobile|mob|portable|port|gsm|cell|standard|
           ligne\s+directe|direct|poste\s+fixe|fixe|t|m|p)\b
        \s*\.?\s*(?:\([^)]{0,20}\)\s*)?[:.]?\s*$",
    )
    .expect("static regex")
});

/// A label that is not a phone to call.
static NOT_A_PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(fax|t[ée]l[ée]copie|siret|siren|iban|bic|n°\s*tva|tva|rib)\b")
        .expect("static regex")
});

/// The lines of what the sender wrote themself: before any quoted
/// history (an attribution, an Outlook header block, `>` lines).
fn own_lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        if t.starts_with('>') {
            break;
        }
        if super::quote::starts_history(&lines, i) {
            break;
        }
        out.push(*line);
    }
    out
}

/// The digits of a number, to count them.
fn digits(s: &str) -> usize {
    s.chars().filter(char::is_ascii_digit).count()
}

/// The requester's phone number in their signature, as written, or
/// `None`. The signature is the end of what they wrote: after a "-- "
/// line when there is one, else its last twelve lines.
pub fn find(text: &str) -> Option<String> {
    let lines = own_lines(text);
    let start = match lines.iter().rposition(|l| *l == "-- " || *l == "--") {
        Some(i) => i + 1,
        None => lines.len().saturating_sub(12),
    };
    let signature = &lines[start..];
    let mut bare = None;
    for line in signature {
        // A number has at least nine digits: most signature lines have
        // none, and are left before any regex (each built on first use,
        // which is most of the reading in a one-mail `guichet ingest`).
        if digits(line) < 9 {
            continue;
        }
        if NOT_A_PHONE.is_match(line) && !has_phone_label(line) {
            continue;
        }
        for m in NUMBER.captures_iter(line) {
            let number = m.get(1).expect("the number group");
            let written = number.as_str().trim();
            let n = digits(written);
            if !(9..=15).contains(&n) {
                continue;
            }
            let before = &line[..number.start()];
            // "Fax : 01 …" on a line that also has "Tél." is the fax.
            if NOT_A_PHONE.is_match(last_words(before)) {
                continue;
            }
            if LABEL.is_match(before) {
                return Some(written.to_string());
            }
            // A number alone on its line (beside a name or a dash).
            let rest = line.replace(written, "");
            let alone = rest.trim().chars().all(|c| !c.is_alphanumeric()) || rest.trim().len() <= 3;
            if alone && bare.is_none() {
                bare = Some(written.to_string());
            }
        }
    }
    bare
}

fn has_phone_label(line: &str) -> bool {
    NUMBER
        .captures_iter(line)
        .any(|m| LABEL.is_match(&line[..m.get(1).expect("the number group").start()]))
}

/// The end of `s`, back to the previous number or separator: the label
/// of the number that follows it.
fn last_words(s: &str) -> &str {
    let cut = s
        .rfind(|c: char| c.is_ascii_digit() || c == '|' || c == '/' || c == '•' || c == '–')
        .map(|i| i + 1)
        .unwrap_or(0);
    let mut cut = cut;
    while !s.is_char_boundary(cut) {
        cut += 1;
    }
    &s[cut..]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Signatures as people write them, with the number they give, or
    /// none.
    #[test]
    fn signatures_with_and_without_a_number() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            (
                "Outlook desktop, a town hall",
                "Bonjour,\n\nL'imprimante est hors ligne.\n\nCordialement,\n\nJeanne MARTIN\nOfficier d'état civil – Service Population\nMairie de Villeneuve-Exemple\nTél. : 01 23 45 67 89\n",
                Some("01 23 45 67 89"),
            ),
            (
                "Outlook, phone and fax on one line",
                "Merci.\n\nPaul Durand\nDirection des finances\nTél : 01 41 60 93 93 | Fax : 01 41 60 93 94\n",
                Some("01 41 60 93 93"),
            ),
            (
                "fax first, then the phone",
                "Bien à vous,\nAnne\nFax : 01 41 60 93 94 - Tél : 01 41 60 93 93\n",
                Some("01 41 60 93 93"),
            ),
            (
                "dotted, with Portable",
                "Bonne journée\nSophie Leroy\nPortable : 06.12.34.56.78\n",
                Some("06.12.34.56.78"),
            ),
            (
                "international French, with (0)",
                "Best regards,\nMarc\nMobile: +33 (0)6 12 34 56 78\n",
                Some("+33 (0)6 12 34 56 78"),
            ),
            (
                "Gmail, English, UK number",
                "Thanks for your help.\n\n--\nDaniel Hughes\nResearch Office\nPhone: +44 20 7946 0958\n",
                Some("+44 20 7946 0958"),
            ),
            (
                "Canadian number with parentheses",
                "Regards,\nJulie Tremblay\nT: +1 (514) 555-0199\n",
                Some("+1 (514) 555-0199"),
            ),
            (
                "Thunderbird, RFC 3676 delimiter, 0033",
                "Le VPN refuse ma connexion.\n\n-- \nLuc Bernard\nService informatique\n0033 1 23 45 67 89\n",
                Some("0033 1 23 45 67 89"),
            ),
            (
                "no spaces",
                "Merci d'avance\nKarim\nTel 0612345678\n",
                Some("0612345678"),
            ),
            (
                "Apple Mail, a bare number under the name",
                "Bonjour,\nje n'ai plus accès au portail.\n\nClaire Petit\n07 81 22 33 44\n\nEnvoyé de mon iPhone\n",
                Some("07 81 22 33 44"),
            ),
            (
                "ligne directe and standard: the first",
                "Cordialement\nM. Roux\nLigne directe : 01 49 00 12 34\nStandard : 01 49 00 00 00\n",
                Some("01 49 00 12 34"),
            ),
            (
                "Téléphone written out, dashes",
                "Salutations,\nH. Dupré\nTéléphone : 01-23-45-67-89\n",
                Some("01-23-45-67-89"),
            ),
            (
                "Android, no signature at all",
                "Le wifi ne marche plus dans la salle du conseil.\n\nEnvoyé depuis mon smartphone Samsung Galaxy.",
                None,
            ),
            (
                "a date and a reference are not numbers to call",
                "Depuis le 23/11/2026, la facture n° 2026-11-0042 est bloquée.\nCordialement,\nJeanne",
                None,
            ),
            (
                "a postcode and a SIRET",
                "Cordialement\nMairie de Bobigny\n31 avenue Salvador Allende\n93000 Bobigny\nSIRET : 219 300 089 00013\n",
                None,
            ),
            (
                "only a fax",
                "Cordialement\nService RH\nFax : 01 41 60 93 94\n",
                None,
            ),
            (
                "a number in the request, not the signature",
                "Pouvez-vous rappeler le 01 23 45 67 89 ? C'est le poste de l'accueil, mon collègue y répond le matin et l'après-midi.\nLigne 2\nLigne 3\nLigne 4\nLigne 5\nLigne 6\nLigne 7\nLigne 8\nLigne 9\nLigne 10\nLigne 11\nLigne 12\nMerci\nJeanne",
                None,
            ),
            (
                "the desk's number in the quoted history",
                "Toujours en panne.\n\nLe lun. 23 nov. 2026 à 09:20, Support informatique <support@example.test> a écrit :\n> Votre demande est enregistrée.\n> Tél. : 01 00 00 00 00\n",
                None,
            ),
            (
                "an Outlook header block below",
                "OK merci.\nJeanne\n\nDe : Support <support@example.test>\nEnvoyé : lundi 23 novembre 2026 09:30\nÀ : Jeanne\nObjet : RE: Imprimante\n\nTél. : 01 00 00 00 00\n",
                None,
            ),
            (
                "Outlook HTML: no-break spaces around the colon",
                "Cordialement,\nJeanne MARTIN\nTél.\u{a0}:\u{a0}01\u{a0}23\u{a0}45\u{a0}67\u{a0}89\n",
                Some("01\u{a0}23\u{a0}45\u{a0}67\u{a0}89"),
            ),
            (
                "digits glued to letters, accented or not, are a code",
                "Cordialement\nService urbanisme\nDossier PCé0612345678è\nCode ABC0612345678\nDossier PCe\u{301}0612345679\n",
                None,
            ),
            (
                "a ticket number and an amount",
                "Suite à [SUPPORT #000123], le montant de 1 234 567 890 € est faux.\nMerci",
                None,
            ),
        ];
        for (what, text, want) in cases {
            assert_eq!(find(text).as_deref(), *want, "{what}");
        }
    }

    #[test]
    fn hostile_text_costs_little_and_finds_nothing() {
        let long = "0".repeat(1 << 20);
        assert_eq!(find(&long), None);
        let many = "Tél. : 01 23 45 67 89 Tél. : ".repeat(10_000);
        assert!(find(&many).is_some());
        assert_eq!(find("Tél. : +99999999999999999999"), None);
        assert_eq!(find(""), None);
    }
}
