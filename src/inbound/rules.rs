//! The desk's routing rules (`[[rule]]`): case-insensitive regexes on a
//! new mail's subject, body, sender or recipients, each rule setting some
//! of a ticket's fields. Matched here, on the mail as read; the domain
//! applies what they set when the mail opens a ticket
//! ([`crate::ticket::classify`]).

use regex::Regex;

use crate::ticket::classify::{By, Classified, Set};
use crate::ticket::{Impact, Person, TicketType};

/// What a rule looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Subject,
    Body,
    /// The sender, as "Name <address>".
    From,
    /// Each address the mail was sent to (To, Cc).
    To,
}

/// What a rule sets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sets {
    pub category: Option<String>,
    pub ticket_type: Option<TicketType>,
    pub impact: Option<Impact>,
    pub queue: Option<String>,
    pub organisation: Option<String>,
}

/// One `[[rule]]`: every condition must match.
#[derive(Clone, Debug)]
pub struct Rule {
    /// 1 for the configuration's first rule.
    pub number: usize,
    pub conditions: Vec<(Field, Regex)>,
    pub sets: Sets,
}

/// The mail as the rules read it.
#[derive(Clone, Copy, Debug)]
pub struct Fields<'a> {
    pub subject: &'a str,
    /// What the sender wrote (quotes and signature stripped).
    pub body: &'a str,
    pub from: &'a Person,
    pub to: &'a [String],
}

/// Only the start of a long body is read: what decides a request's
/// routing is in its first lines, and a rule costs the same on every mail.
const BODY_READ: usize = 64 * 1024;

/// The regexes' compiled size is bounded: a rule's regex is the
/// administrator's, but a typo ("(a|b)*{1000}") must not take the memory.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

impl Rule {
    fn matches(&self, f: &Fields<'_>) -> bool {
        let from = match &f.from.name {
            Some(name) => format!("{name} <{}>", f.from.email),
            None => f.from.email.clone(),
        };
        self.conditions.iter().all(|(field, re)| match field {
            Field::Subject => re.is_match(f.subject),
            Field::Body => re.is_match(head(f.body, BODY_READ)),
            Field::From => re.is_match(&from),
            Field::To => f.to.iter().any(|a| re.is_match(a)),
        })
    }
}

fn head(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// What the rules set on a mail's ticket: each field by the first
/// matching rule that sets it, in the configuration's order.
pub fn classify(rules: &[Rule], fields: &Fields<'_>) -> Classified {
    let mut out = Classified::default();
    for rule in rules {
        if !rule.matches(fields) {
            continue;
        }
        let by = By::Rule(rule.number);
        let s = &rule.sets;
        fn first<T: Clone>(slot: &mut Option<Set<T>>, value: &Option<T>, by: By) {
            if slot.is_none() {
                *slot = value.clone().map(|value| Set { value, by });
            }
        }
        first(&mut out.category, &s.category, by);
        first(&mut out.ticket_type, &s.ticket_type, by);
        first(&mut out.impact, &s.impact, by);
        first(&mut out.queue, &s.queue, by);
        first(&mut out.organisation, &s.organisation, by);
    }
    out
}

/// A rule's regex: case-insensitive, size-bounded.
pub fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(number: usize, conditions: &[(Field, &str)], sets: Sets) -> Rule {
        Rule {
            number,
            conditions: conditions
                .iter()
                .map(|(f, p)| (*f, compile(p).unwrap()))
                .collect(),
            sets,
        }
    }

    /// The seed desk's rules: payroll to HR, the finance software to the
    /// finance directorate, anything from the water board's domain is
    /// theirs, "urgent" in a subject is important.
    fn desk_rules() -> Vec<Rule> {
        vec![
            rule(
                1,
                &[(Field::Subject, r"paie|bulletin|salaire")],
                Sets {
                    category: Some("GRH".into()),
                    queue: Some("grh".into()),
                    ..Sets::default()
                },
            ),
            rule(
                2,
                &[(Field::Body, r"\bcegid\b|\bfacture")],
                Sets {
                    category: Some("Finances".into()),
                    ..Sets::default()
                },
            ),
            rule(
                3,
                &[(Field::From, r"@eaux-idf\.example>?$")],
                Sets {
                    organisation: Some("Syndicat des eaux".into()),
                    ..Sets::default()
                },
            ),
            rule(
                4,
                &[(Field::Subject, r"\burgent")],
                Sets {
                    impact: Some(Impact::Important),
                    ..Sets::default()
                },
            ),
            rule(
                5,
                &[(Field::To, r"^rh@"), (Field::Subject, r"absence")],
                Sets {
                    category: Some("Absences".into()),
                    ticket_type: Some(TicketType::Request),
                    ..Sets::default()
                },
            ),
        ]
    }

    fn person(email: &str, name: Option<&str>) -> Person {
        Person {
            email: email.into(),
            name: name.map(String::from),
        }
    }

    #[test]
    fn first_match_wins_per_field() {
        let rules = desk_rules();
        let jeanne = person("jeanne@ville.example", Some("Jeanne Martin"));
        let to = ["support@sau.example".to_string()];
        let c = classify(
            &rules,
            &Fields {
                subject: "URGENT : bulletins de PAIE de novembre",
                body: "Les bulletins ne sortent pas, et la facture Cegid non plus.",
                from: &jeanne,
                to: &to,
            },
        );
        assert_eq!(
            c.category,
            Some(Set {
                value: "GRH".into(),
                by: By::Rule(1)
            })
        );
        assert_eq!(
            c.queue,
            Some(Set {
                value: "grh".into(),
                by: By::Rule(1)
            })
        );
        assert_eq!(
            c.impact,
            Some(Set {
                value: Impact::Important,
                by: By::Rule(4)
            })
        );
        assert_eq!(c.organisation, None);
        let paul = person("paul@eaux-idf.example", Some("Paul"));
        let c = classify(
            &rules,
            &Fields {
                subject: "Import des factures",
                body: "Bonjour, l'import CEGID échoue.",
                from: &paul,
                to: &to,
            },
        );
        assert_eq!(
            c.category,
            Some(Set {
                value: "Finances".into(),
                by: By::Rule(2)
            })
        );
        assert_eq!(
            c.organisation,
            Some(Set {
                value: "Syndicat des eaux".into(),
                by: By::Rule(3)
            })
        );
        // Every condition of a rule must hold.
        let to_rh = ["rh@ville.example".to_string()];
        let fields = |subject, to| Fields {
            subject,
            body: "",
            from: &jeanne,
            to,
        };
        assert_eq!(
            classify(&rules, &fields("Absence de mardi", &to_rh))
                .category
                .unwrap()
                .by,
            By::Rule(5)
        );
        assert_eq!(
            classify(&rules, &fields("Absence de mardi", &to)).category,
            None
        );
        assert_eq!(classify(&rules, &fields("Question", &to_rh)).category, None);
        // Nothing matches: nothing set.
        assert_eq!(
            classify(&rules, &fields("Imprimante", &to)),
            Classified::default()
        );
    }

    #[test]
    fn a_stranger_cannot_make_a_rule_slow_or_reach_what_it_does_not_read() {
        let rules = desk_rules();
        let x = person("x@spam.example", None);
        // A mail of 10 MB of text: the rules read its first 64 KiB only,
        // so "facture" beyond it sets nothing.
        let mut body = "a".repeat(10 << 20);
        body.push_str(" facture");
        let c = classify(
            &rules,
            &Fields {
                subject: "",
                body: &body,
                from: &x,
                to: &[],
            },
        );
        assert_eq!(c.category, None);
        // Multi-byte text cut at 64 KiB: no panic.
        let body = "é".repeat(40_000);
        let _ = classify(
            &rules,
            &Fields {
                subject: "",
                body: &body,
                from: &x,
                to: &[],
            },
        );
        // A display name that imitates a domain does not make the sender
        // the water board's: the rule reads the end of "Name <address>".
        let forged = person("x@spam.example", Some("paul@eaux-idf.example"));
        let c = classify(
            &rules,
            &Fields {
                subject: "",
                body: "",
                from: &forged,
                to: &[],
            },
        );
        assert_eq!(c.organisation, None);
        // An administrator's runaway pattern is refused when compiled.
        assert!(compile(r"(\w{100}){100}").is_err());
    }
}
