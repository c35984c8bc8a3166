//! A requester's mail forwarded by an agent, inline: the forwarding
//! client's separator ("---------- Forwarded message ---------",
//! "-------- Message transféré --------", "Début du message réexpédié :",
//! Outlook's header block "De : … Envoyé : … À : … Objet : …"), the
//! original's sender, subject and text, and what the agent wrote above it.
//! A forward attached as message/rfc822 is read by the parser itself.

use std::sync::LazyLock;

use regex::Regex;

use crate::ticket::Person;

/// The line that opens a forwarded mail in the clients people use.
static SEPARATOR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^\s*(
            -{2,}\s*(forwarded\s+message|message\s+transf[ée]r[ée]|original\s+message|message\s+d'origine|weitergeleitete\s+nachricht)\s*-{2,}
          | (begin\s+forwarded\s+message|d[ée]but\s+du\s+message\s+r[ée]exp[ée]di[ée])\s*:
          | _{10,}
        )\s*$",
    )
    .expect("static regex")
});

/// A header line of the forwarded block: "De : …", "**From:** …".
static HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*\**\s*(de|from|envoy[ée]|sent|date|[àa]|to|pour|cc|objet|sujet|subject|r[ée]pondre\s+[àa]|reply-to)\s*\**\s*:\s*\**\s*(.*)$",
    )
    .expect("static regex")
});

/// "Jeanne Martin <jeanne.martin@ville.example>", "jeanne@ville.example",
/// "Jeanne Martin [mailto:jeanne@ville.example]", "\"Martin, Jeanne\"
/// <jeanne@…>".
static ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)[<\[(]?(?:mailto:)?([a-z0-9._%+\-']+@[a-z0-9.\-]+\.[a-z]{2,})[>\])]?")
        .expect("static regex")
});

/// A forwarded mail found in a text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Forwarded {
    /// Who wrote the original.
    pub from: Person,
    /// Its subject, when the block gives one.
    pub subject: Option<String>,
    /// Its text, as written there (the caller strips quotes and
    /// signature).
    pub text: String,
    /// What the forwarding agent wrote above it.
    pub note: String,
}

/// The forwarded mail in `text`, when there is one whose sender can be
/// read: the first separator (or header block) followed by a From line.
pub fn find(text: &str) -> Option<Forwarded> {
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let header_start = if is_separator(line) {
            Some(i + 1)
        } else if is_from_line(line) && header_block_len(&lines[i..]) >= 3 {
            Some(i)
        } else {
            None
        };
        if let Some(start) = header_start {
            // Blank lines may come between the separator and the headers.
            let start = (start..lines.len())
                .find(|&k| !lines[k].trim().is_empty())
                .unwrap_or(start);
            let len = header_block_len(&lines[start..]);
            if len >= 2 {
                if let Some(f) = read_block(&lines, i, start, len) {
                    return Some(f);
                }
            }
        }
        i += 1;
    }
    None
}

/// A separator has "--", "__" or ':', which most lines lack: looked for
/// first, at memchr's speed (and a one-mail `guichet ingest` then builds
/// the regex only for a mail that has such a line). The same for ':' in a
/// header line.
fn is_separator(line: &str) -> bool {
    (line.contains("--") || line.contains("__") || line.contains(':')) && SEPARATOR.is_match(line)
}

fn is_header(line: &str) -> bool {
    line.contains(':') && HEADER.is_match(line)
}

fn is_from_line(line: &str) -> bool {
    line.contains(':')
        && HEADER
            .captures(line)
            .is_some_and(|c| matches!(fold(&c[1]).as_str(), "de" | "from"))
}

/// How many header lines follow in a row (a folded value's continuation
/// line is not counted, and ends nothing).
fn header_block_len(lines: &[&str]) -> usize {
    lines.iter().take(12).take_while(|l| is_header(l)).count()
}

fn fold(s: &str) -> String {
    crate::ticket::text::fold(s.trim())
}

fn read_block(lines: &[&str], separator: usize, start: usize, len: usize) -> Option<Forwarded> {
    let mut from = None;
    let mut subject = None;
    for line in &lines[start..start + len] {
        let c = HEADER.captures(line)?;
        let value = c[2].trim().trim_matches('*').trim();
        match fold(&c[1]).as_str() {
            "de" | "from" if from.is_none() => from = person(value),
            "objet" | "sujet" | "subject" if subject.is_none() => {
                subject = Some(value.to_string()).filter(|s| !s.is_empty())
            }
            _ => {}
        }
    }
    let from = from?;
    let text = lines[start + len..].join("\n").trim().to_string();
    let note = lines[..separator].join("\n").trim().to_string();
    Some(Forwarded {
        from,
        subject,
        text,
        note,
    })
}

/// The person a "From:" value names.
fn person(value: &str) -> Option<Person> {
    let m = ADDRESS.captures(value)?;
    let email = m[1].to_lowercase();
    let whole = m.get(0).expect("the match");
    let name = value[..whole.start()]
        .trim()
        .trim_matches(['"', '\'', ' '])
        .to_string();
    Some(Person {
        email,
        name: (!name.is_empty() && !name.contains('@')).then_some(name),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jeanne() -> Person {
        Person {
            email: "jeanne.martin@ville-bobigny.fr".into(),
            name: Some("Jeanne Martin".into()),
        }
    }

    /// Forwards as each client writes them, with what the agent wrote.
    #[test]
    fn forwards_as_clients_write_them() {
        let cases: &[(&str, &str, Option<&str>, &str, &str)] = &[
            (
                "Gmail, English",
                "Can you take this one?\n\n---------- Forwarded message ---------\nFrom: Jeanne Martin <jeanne.martin@ville-bobigny.fr>\nDate: Mon, 23 Nov 2026 at 09:12\nSubject: Imprimante bloquée\nTo: Marc <marc.agent@example.test>\n\n\nBonjour Marc,\nl'imprimante est bloquée.\nJeanne\n",
                Some("Imprimante bloquée"),
                "Bonjour Marc,\nl'imprimante est bloquée.\nJeanne",
                "Can you take this one?",
            ),
            (
                "Gmail, French",
                "Pour le support.\n\n---------- Message transféré ---------\nDe : Jeanne Martin <jeanne.martin@ville-bobigny.fr>\nDate: lun. 23 nov. 2026 à 09:12\nSubject: Imprimante bloquée\nTo: <marc.agent@example.test>\n\nL'imprimante est bloquée.\n",
                Some("Imprimante bloquée"),
                "L'imprimante est bloquée.",
                "Pour le support.",
            ),
            (
                "Outlook desktop, French",
                "Bonjour,\nDemande reçue sur ma boîte, je vous la transmets.\nMarc\n\n________________________________\nDe : Jeanne Martin <jeanne.martin@ville-bobigny.fr>\nEnvoyé : lundi 23 novembre 2026 09:12\nÀ : Marc Agent <marc.agent@example.test>\nObjet : Imprimante bloquée\n\nBonjour,\nl'imprimante est bloquée.\n",
                Some("Imprimante bloquée"),
                "Bonjour,\nl'imprimante est bloquée.",
                "Bonjour,\nDemande reçue sur ma boîte, je vous la transmets.\nMarc",
            ),
            (
                "Outlook, header block without a rule, mailto form",
                "Voir ci-dessous.\n\nDe : Martin, Jeanne [mailto:jeanne.martin@ville-bobigny.fr]\nEnvoyé : lundi 23 novembre 2026 09:12\nÀ : Agent, Marc\nObjet : Imprimante bloquée\n\nL'imprimante est bloquée.\n",
                Some("Imprimante bloquée"),
                "L'imprimante est bloquée.",
                "Voir ci-dessous.",
            ),
            (
                "Outlook on the web, HTML made text with bold labels",
                "Transmis.\n\n**De :** Jeanne Martin <jeanne.martin@ville-bobigny.fr>\n**Envoyé :** lundi 23 novembre 2026 09:12\n**À :** Marc Agent\n**Objet :** Imprimante bloquée\n\nL'imprimante est bloquée.\n",
                Some("Imprimante bloquée"),
                "L'imprimante est bloquée.",
                "Transmis.",
            ),
            (
                "Thunderbird, French",
                "\n\n-------- Message transféré --------\nSujet : \tImprimante bloquée\nDate : \tMon, 23 Nov 2026 09:12:00 +0100\nDe : \tJeanne Martin <jeanne.martin@ville-bobigny.fr>\nPour : \tmarc.agent@example.test\n\nL'imprimante est bloquée.\n",
                Some("Imprimante bloquée"),
                "L'imprimante est bloquée.",
                "",
            ),
            (
                "Thunderbird, English",
                "FYI\n\n-------- Forwarded Message --------\nSubject: \tImprimante bloquée\nDate: \tMon, 23 Nov 2026 09:12:00 +0100\nFrom: \tJeanne Martin <jeanne.martin@ville-bobigny.fr>\nTo: \tmarc.agent@example.test\n\nL'imprimante est bloquée.\n",
                Some("Imprimante bloquée"),
                "L'imprimante est bloquée.",
                "FYI",
            ),
            (
                "Apple Mail, French",
                "À traiter.\n\nDébut du message réexpédié :\n\nDe: Jeanne Martin <jeanne.martin@ville-bobigny.fr>\nObjet: Imprimante bloquée\nDate: 23 novembre 2026 à 09:12:00 UTC+1\nÀ: Marc Agent <marc.agent@example.test>\n\nL'imprimante est bloquée.\n",
                Some("Imprimante bloquée"),
                "L'imprimante est bloquée.",
                "À traiter.",
            ),
            (
                "iPhone, English",
                "Sent to the desk\n\nBegin forwarded message:\n\nFrom: Jeanne Martin <jeanne.martin@ville-bobigny.fr>\nDate: 23 November 2026 at 09:12:00 CET\nTo: marc.agent@example.test\nSubject: Imprimante bloquée\n\nL'imprimante est bloquée.\n",
                Some("Imprimante bloquée"),
                "L'imprimante est bloquée.",
                "Sent to the desk",
            ),
        ];
        for (what, text, subject, body, note) in cases {
            let f = find(text).unwrap_or_else(|| panic!("{what}: no forward found"));
            if *what == "Outlook, header block without a rule, mailto form" {
                assert_eq!(f.from.email, "jeanne.martin@ville-bobigny.fr", "{what}");
                assert_eq!(f.from.name.as_deref(), Some("Martin, Jeanne"), "{what}");
            } else if f.from.name.is_some() {
                assert_eq!(f.from, jeanne(), "{what}");
            }
            assert_eq!(f.subject.as_deref(), *subject, "{what}");
            assert_eq!(f.text, *body, "{what}");
            assert_eq!(f.note, *note, "{what}");
        }
    }

    #[test]
    fn what_is_not_a_forward() {
        for text in [
            "Bonjour,\nde : la part de Jeanne, l'imprimante est bloquée.\nMarc",
            "From: the accounting team\nWe need a new account.",
            "---------- Forwarded message ---------\nno headers here\n",
            "---------- Forwarded message ---------\nFrom: nobody\nSubject: x\n\ntext",
            "",
        ] {
            assert_eq!(find(text), None, "{text}");
        }
    }
}
