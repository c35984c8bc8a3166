//! How a new ticket is classified: the type and impact a requester states
//! at the start of the subject ("[Incident][Bloquant] …", as the seed
//! desk's guide asks), and what the desk's rules (`[[rule]]`, matched by
//! the application layer) set. Each decision is recorded on the ticket,
//! with what made it.

use super::policy::Policy;
use super::text::fold;
use super::{Impact, Ticket, TicketType};

/// What the requester stated in the subject's leading tags, and the
/// subject without them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stated {
    pub ticket_type: Option<TicketType>,
    pub impact: Option<Impact>,
    pub subject: String,
}

/// At most this many leading tags are read.
const MAX_TAGS: usize = 4;

fn type_word(word: &str) -> Option<TicketType> {
    Some(match word {
        "incident" | "panne" => TicketType::Incident,
        "demande" | "request" | "requete" | "service request" => TicketType::Request,
        "information" | "info" | "question" | "renseignement" => TicketType::Information,
        _ => return None,
    })
}

fn impact_word(word: &str) -> Option<Impact> {
    Some(match word {
        "bloquant" | "bloquante" | "blocking" | "blocker" | "critique" | "critical" => {
            Impact::Blocking
        }
        "important" | "importante" | "major" | "majeur" | "high" => Impact::Important,
        "normal" | "normale" | "minor" | "mineur" | "low" => Impact::Normal,
        _ => return None,
    })
}

/// Reads the type and impact tags at the start of a subject:
/// "[Incident][Bloquant] Logiciel de paie", "[Demande] [Normal] …",
/// "[Incident - Bloquant] …", "[INCIDENT/BLOQUANT] …". A tag is read only
/// when every word in it is one of these; anything else ("[EXT]", "[Paie]")
/// ends the reading and stays in the subject. Stating one thing twice
/// keeps the first.
pub fn stated_in_subject(subject: &str) -> Stated {
    let mut stated = Stated {
        ticket_type: None,
        impact: None,
        subject: subject.trim().to_string(),
    };
    let mut rest = subject.trim_start();
    for _ in 0..MAX_TAGS {
        let Some(inner) = rest.strip_prefix('[') else {
            break;
        };
        let Some(end) = inner.find(']') else {
            break;
        };
        let words: Vec<String> = inner[..end]
            .split(['-', '/', ',', ';', '|', '–'])
            .map(|w| fold(w.trim()))
            .collect();
        if words.is_empty() || words.iter().any(|w| w.is_empty()) {
            break;
        }
        let known = words
            .iter()
            .all(|w| type_word(w).is_some() || impact_word(w).is_some());
        if !known {
            break;
        }
        for w in &words {
            if let Some(t) = type_word(w) {
                stated.ticket_type.get_or_insert(t);
            } else if let Some(i) = impact_word(w) {
                stated.impact.get_or_insert(i);
            }
        }
        rest = inner[end + 1..].trim_start();
    }
    let rest = rest.trim_start_matches([':', '-', '–']).trim();
    // A subject made only of tags keeps them: it is all the requester wrote.
    if !rest.is_empty() {
        stated.subject = rest.to_string();
    }
    stated
}

/// What set a field of a new ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum By {
    /// The desk's `[[rule]]` of this number (1 for the first).
    Rule(usize),
    /// The requester, in the subject's tags.
    Subject,
}

/// One value set on a new ticket, and what set it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Set<T> {
    pub value: T,
    pub by: By,
}

/// What a new ticket is given beyond its defaults: per field, by the
/// requester's subject tags (type, impact), else by the first matching
/// rule that sets it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Classified {
    pub category: Option<Set<String>>,
    pub ticket_type: Option<Set<TicketType>>,
    pub impact: Option<Set<Impact>>,
    pub queue: Option<Set<String>>,
    pub organisation: Option<Set<String>>,
}

impl Classified {
    /// The rules' classification, with what the requester stated in the
    /// subject taking the type and impact: the requester knows whether
    /// the work stops; an agent's `#impact` still overrides both.
    pub fn with_stated(mut self, stated: &Stated) -> Classified {
        if let Some(t) = stated.ticket_type {
            self.ticket_type = Some(Set {
                value: t,
                by: By::Subject,
            });
        }
        if let Some(i) = stated.impact {
            self.impact = Some(Set {
                value: i,
                by: By::Subject,
            });
        }
        self
    }
}

fn why(by: By) -> String {
    match by {
        By::Rule(n) => format!("set by rule {n}"),
        By::Subject => "stated in the subject".to_string(),
    }
}

/// Gives a new ticket what was classified, and its queue: a rule's, else
/// the queue of the mailbox it was fetched from, else the first queue an
/// address of the mail (To, Cc) routes to. Returns the lines recorded on
/// the ticket, one per decision and what made it.
/// `copied`: the mail's To and Cc; `mailbox_queue`: the queue of the
/// mailbox it was fetched from.
pub fn apply(
    ticket: &mut Ticket,
    c: &Classified,
    (copied, mailbox_queue): (&[String], Option<&str>),
    policy: &Policy,
) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(s) = &c.ticket_type {
        ticket.ticket_type = s.value;
        lines.push(format!("type: {} ({})", s.value, why(s.by)));
    }
    if let Some(s) = &c.impact {
        ticket.impact = Some(s.value);
        lines.push(format!("impact: {} ({})", s.value, why(s.by)));
    }
    if let Some(s) = &c.category {
        ticket.category = Some(s.value.clone());
        lines.push(format!("category: {} ({})", s.value, why(s.by)));
    }
    if let Some(s) = &c.organisation {
        ticket.organisation = Some(s.value.clone());
        lines.push(format!("organisation: {} ({})", s.value, why(s.by)));
    }
    let fetched_in = mailbox_queue.and_then(|q| policy.queue(q));
    match (&c.queue, policy.queue_for(copied)) {
        (Some(s), _) if policy.queue(&s.value).is_some() => {
            ticket.queue = Some(s.value.clone());
            lines.push(format!("queue: {} ({})", s.value, why(s.by)));
        }
        _ if fetched_in.is_some() => {
            let q = fetched_in.expect("checked");
            ticket.queue = Some(q.name.clone());
            lines.push(format!("queue: {} (the mailbox it came to)", q.name));
        }
        (_, Some(q)) => {
            ticket.queue = Some(q.name.clone());
            let to = q
                .addresses
                .iter()
                .find(|a| copied.contains(a))
                .map(String::as_str)
                .unwrap_or_default();
            lines.push(format!("queue: {} (the mail was sent to {to})", q.name));
        }
        _ => {}
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_people_write_at_the_start_of_a_subject() {
        let cases: &[(&str, Option<TicketType>, Option<Impact>, &str)] = &[
            // The seed desk's form, and how people really type it.
            (
                "[Incident][Bloquant] Logiciel de paie inaccessible",
                Some(TicketType::Incident),
                Some(Impact::Blocking),
                "Logiciel de paie inaccessible",
            ),
            (
                "[Demande] [Normal] Création d'un compte pour une stagiaire",
                Some(TicketType::Request),
                Some(Impact::Normal),
                "Création d'un compte pour une stagiaire",
            ),
            (
                "[INCIDENT][BLOQUANT] messagerie",
                Some(TicketType::Incident),
                Some(Impact::Blocking),
                "messagerie",
            ),
            (
                "[Incident - Bloquant] Plus de réseau à la médiathèque",
                Some(TicketType::Incident),
                Some(Impact::Blocking),
                "Plus de réseau à la médiathèque",
            ),
            (
                "[incident/important] : Imprimante",
                Some(TicketType::Incident),
                Some(Impact::Important),
                "Imprimante",
            ),
            (
                "[Information] Horaires de la hotline",
                Some(TicketType::Information),
                None,
                "Horaires de la hotline",
            ),
            (
                "[Bloquant] Caisse de la piscine",
                None,
                Some(Impact::Blocking),
                "Caisse de la piscine",
            ),
            (
                "[Request][Blocking] VPN down for the finance team",
                Some(TicketType::Request),
                Some(Impact::Blocking),
                "VPN down for the finance team",
            ),
            (
                "[Demande][Importante] Droits sur le dossier partagé",
                Some(TicketType::Request),
                Some(Impact::Important),
                "Droits sur le dossier partagé",
            ),
            // Accents and case do not matter.
            (
                "[Requête][Critique] Serveur de fichiers",
                Some(TicketType::Request),
                Some(Impact::Blocking),
                "Serveur de fichiers",
            ),
        ];
        for (subject, t, i, rest) in cases {
            let s = stated_in_subject(subject);
            assert_eq!(
                (s.ticket_type, s.impact, s.subject.as_str()),
                (*t, *i, *rest),
                "{subject}"
            );
        }
    }

    #[test]
    fn other_brackets_and_words_are_left_alone() {
        for subject in [
            "[EXT] Incident bloquant sur la paie",
            "[Paie] Bulletins de novembre",
            "Incident bloquant sur la paie",
            "Re: [Incident] suite",
            "[Incident bloquant] paie",
            "[] vide",
            "[Incident",
            "Bloquant",
        ] {
            let s = stated_in_subject(subject);
            assert_eq!(s.subject, subject.trim(), "{subject}");
            assert_eq!((s.ticket_type, s.impact), (None, None), "{subject}");
        }
        // A known tag, then another bracket: only the known one is read.
        let s = stated_in_subject("[Incident][Paie] bulletins");
        assert_eq!(s.ticket_type, Some(TicketType::Incident));
        assert_eq!(s.subject, "[Paie] bulletins");
        // Only tags: the subject keeps them, the statements still count.
        let s = stated_in_subject("[Incident][Bloquant]");
        assert_eq!(s.subject, "[Incident][Bloquant]");
        assert_eq!(s.impact, Some(Impact::Blocking));
        // Said twice, the first counts; more than four tags are not read.
        let s = stated_in_subject("[Bloquant][Normal] x");
        assert_eq!(s.impact, Some(Impact::Blocking));
        let s = stated_in_subject("[Incident][Incident][Incident][Incident][Bloquant] x");
        assert_eq!(s.impact, None);
        assert_eq!(s.subject, "[Bloquant] x");
    }
}
