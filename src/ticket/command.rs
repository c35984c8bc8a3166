//! Agent commands: a first line beginning with `#` (after quotes are
//! stripped), e.g. `#solution …`, `#note …`, `#watch add x@y`, `#close`.

use super::text::{fold, is_address};
use super::{Impact, Person, TicketRef, TicketType};

/// What an agent asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Propose a solution: the requester validates or refuses it.
    Solution,
    /// Ask the requester something: the ticket waits for the answer.
    Question,
    /// An internal note, for agents only.
    Note,
    WatchAdd(String),
    WatchRemove(String),
    /// Close the ticket; the text, if any, is sent to the requester.
    Close,
    SetType(TicketType),
    SetImpact(Impact),
    SetCategory(String),
    /// This ticket joins ticket N: its thread moves there, it is closed.
    Merge(TicketRef),
    /// Assign the ticket to the agent who writes.
    Take,
    /// Assign the ticket to this agent.
    Assign(String),
    /// The ticket is nobody's.
    Unassign,
    /// Move the ticket to this queue.
    Queue(String),
    /// In an agent's new mail: open the ticket for this requester (a
    /// request taken by phone).
    Requester(Person),
    /// Propose this knowledge-base article as the solution.
    Kb(String),
    /// In an agent's new mail: send me my digest now.
    Digest,
}

/// A command line that could not be understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandError {
    /// The line as the agent wrote it.
    pub command: String,
    /// Why, as a key the templates put into words in the desk's language:
    /// `unknown`, `empty`, `misplaced`, `needs_text`, `not_an_address`,
    /// `watch_usage`, `type_usage`, `impact_usage`, `category_usage`,
    /// `already_closed`, `merge_usage`, `merge_unknown`, `merge_self`,
    /// `merge_closed`, `assign_usage`, `assign_not_agent`, `queue_usage`,
    /// `queue_unknown`, `requester_usage`, `requester_on_ticket`, `kb_usage`,
    /// `kb_unknown`, `digest_on_ticket`. Other notices use this field for their own
    /// values (see templates/README.md).
    pub reason: String,
}

/// A parsed command and the text that follows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    pub command: Result<Command, CommandError>,
    /// The command line, as written.
    pub line: String,
    /// The rest of the first line after the command, then the next lines.
    pub text: String,
}

/// The names a command is written with, folded.
const NAMES: &[&str] = &[
    "solution",
    "resolu",
    "resolution",
    "question",
    "attente",
    "ask",
    "note",
    "close",
    "clore",
    "fermer",
    "cloturer",
    "watch",
    "suivi",
    "watcher",
    "type",
    "impact",
    "category",
    "categorie",
    "merge",
    "fusion",
    "fusionner",
    "take",
    "prendre",
    "assign",
    "assigner",
    "attribuer",
    "unassign",
    "desassigner",
    "liberer",
    "queue",
    "file",
    "requester",
    "demandeur",
    "kb",
    "digest",
];

/// The ticket number of `#merge 12`, `#merge #000012` or
/// `#merge [SUPPORT #000012]`.
fn ticket_number(args: &[&str]) -> Option<TicketRef> {
    let (last, tag) = match args {
        [n] => (*n, None),
        [tag, n] => (*n, Some(*tag)),
        _ => return None,
    };
    if tag.is_some_and(|t| !t.starts_with('[')) {
        return None;
    }
    let digits = last.strip_prefix('#').unwrap_or(last);
    let digits = if tag.is_some() {
        digits.strip_suffix(']')?
    } else {
        digits
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|&n: &i64| n > 0).map(TicketRef)
}

/// The command name a line starts with (`#solution …`), folded, if it is
/// one: "#1042" or "#hashtag" are text.
fn command_name(line: &str) -> Option<String> {
    let name = fold(line.trim().strip_prefix('#')?.split_whitespace().next()?);
    NAMES.contains(&name.as_str()).then_some(name)
}

/// Parses the first meaningful line (greeting lines such as "Bonjour
/// Alice," passed over) if it starts with `#`. A known command further
/// down is an error, never text for the requester: the agent meant it,
/// and it would be sent on as words. `None`: a plain reply.
pub fn parse(body: &str) -> Option<Parsed> {
    let mut lines = body
        .lines()
        .skip_while(|l| l.trim().is_empty() || super::answer::is_greeting_only(l));
    let first = lines.next()?.trim();
    let Some(line) = first.strip_prefix('#') else {
        let misplaced = lines.find(|l| command_name(l).is_some())?.trim();
        return Some(Parsed {
            command: Err(CommandError {
                command: misplaced.to_string(),
                reason: "misplaced".into(),
            }),
            line: misplaced.to_string(),
            text: String::new(),
        });
    };
    let rest_lines: Vec<&str> = lines.collect();
    let mut words = line.split_whitespace();
    let name = fold(words.next().unwrap_or(""));
    let args: Vec<&str> = words.collect();
    let error = |reason: &str| CommandError {
        command: first.to_string(),
        reason: reason.to_string(),
    };
    let join_text = |head: &[&str]| -> String {
        let mut text = head.join(" ");
        let tail = rest_lines.join("\n");
        let tail = tail.trim_matches('\n');
        if !tail.trim().is_empty() {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(tail);
        }
        text.trim().to_string()
    };
    let (command, text) = match name.as_str() {
        "solution" | "resolu" | "resolution" => (Ok(Command::Solution), join_text(&args)),
        "question" | "attente" | "ask" => (Ok(Command::Question), join_text(&args)),
        "note" => (Ok(Command::Note), join_text(&args)),
        "close" | "clore" | "fermer" | "cloturer" => (Ok(Command::Close), join_text(&args)),
        "watch" | "suivi" | "watcher" => {
            let sub = args.first().map(|s| fold(s));
            let addr = args
                .get(1)
                .map(|s| s.trim_matches(['<', '>']).to_lowercase());
            let cmd = match (sub.as_deref(), addr) {
                (Some("add" | "ajouter"), Some(a)) if is_address(&a) => Ok(Command::WatchAdd(a)),
                (Some("remove" | "retirer" | "del"), Some(a)) if is_address(&a) => {
                    Ok(Command::WatchRemove(a))
                }
                (Some("add" | "ajouter" | "remove" | "retirer" | "del"), Some(_)) => {
                    Err(error("not_an_address"))
                }
                _ => Err(error("watch_usage")),
            };
            (cmd, join_text(args.get(2..).unwrap_or(&[])))
        }
        "type" => {
            let value = args.first().map(|s| fold(s));
            let t = match value.as_deref() {
                Some("request" | "demande") => Ok(Command::SetType(TicketType::Request)),
                Some("incident") => Ok(Command::SetType(TicketType::Incident)),
                Some("information") => Ok(Command::SetType(TicketType::Information)),
                _ => Err(error("type_usage")),
            };
            (t, join_text(args.get(1..).unwrap_or(&[])))
        }
        "impact" => {
            let value = args.first().map(|s| fold(s));
            let i = match value.as_deref() {
                Some("blocking" | "bloquant") => Ok(Command::SetImpact(Impact::Blocking)),
                Some("important") => Ok(Command::SetImpact(Impact::Important)),
                Some("normal") => Ok(Command::SetImpact(Impact::Normal)),
                _ => Err(error("impact_usage")),
            };
            (i, join_text(args.get(1..).unwrap_or(&[])))
        }
        "category" | "categorie" => {
            if args.is_empty() {
                (Err(error("category_usage")), join_text(&[]))
            } else {
                (Ok(Command::SetCategory(args.join(" "))), join_text(&[]))
            }
        }
        "merge" | "fusion" | "fusionner" => {
            // The number, then nothing: words after it would be a reason
            // kept on the ticket.
            let (number, rest) = match args.iter().position(|a| a.ends_with(']')) {
                Some(end) if args.first().is_some_and(|a| a.starts_with('[')) => {
                    args.split_at(end + 1)
                }
                _ => args.split_at(args.len().min(1)),
            };
            let command = ticket_number(number)
                .map(Command::Merge)
                .ok_or_else(|| error("merge_usage"));
            (command, join_text(rest))
        }
        "kb" => match args.first() {
            Some(id) => (
                Ok(Command::Kb(id.trim_end_matches(".md").to_lowercase())),
                join_text(&args[1..]),
            ),
            None => (Err(error("kb_usage")), join_text(&[])),
        },
        "digest" => (Ok(Command::Digest), join_text(&args)),
        "take" | "prendre" => (Ok(Command::Take), join_text(&args)),
        "unassign" | "desassigner" | "liberer" => (Ok(Command::Unassign), join_text(&args)),
        "assign" | "assigner" | "attribuer" => {
            let addr = args
                .first()
                .map(|s| s.trim_matches(['<', '>']).to_lowercase());
            let cmd = match addr {
                Some(a) if is_address(&a) => Ok(Command::Assign(a)),
                Some(_) => Err(error("not_an_address")),
                None => Err(error("assign_usage")),
            };
            (cmd, join_text(args.get(1..).unwrap_or(&[])))
        }
        "queue" | "file" => match args.first() {
            Some(name) => (Ok(Command::Queue(name.to_string())), join_text(&args[1..])),
            None => (Err(error("queue_usage")), join_text(&[])),
        },
        "requester" | "demandeur" => {
            // The address, then the name: the rest of the line.
            let addr = args
                .first()
                .map(|s| s.trim_matches(['<', '>']).to_lowercase());
            let name = args.get(1..).unwrap_or(&[]).join(" ");
            let name = name.trim_matches(['"', '(', ')']).trim().to_string();
            let cmd = match addr {
                Some(a) if is_address(&a) => Ok(Command::Requester(Person {
                    email: a,
                    name: (!name.is_empty()).then_some(name),
                })),
                Some(_) => Err(error("not_an_address")),
                None => Err(error("requester_usage")),
            };
            (cmd, join_text(&[]))
        }
        "" => (Err(error("empty")), join_text(&args)),
        _ => (Err(error("unknown")), join_text(&args)),
    };
    Some(Parsed {
        command,
        line: first.to_string(),
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_replies_are_not_commands() {
        assert_eq!(parse(""), None);
        assert_eq!(parse("Le ticket #1042 est réglé.\nVoir #support"), None);
        // On the first line, "#1042" is no command the agent can mean.
        assert!(parse("#1042 est réglé").unwrap().command.is_err());
    }

    #[test]
    fn a_command_after_a_greeting_counts() {
        for body in [
            "Bonjour Alice,\n\n#solution Redémarrez le copieur.",
            "Madame, Monsieur,\n#solution Redémarrez le copieur.",
            "Hello,\n\n#solution Redémarrez le copieur.",
        ] {
            let p = parse(body).unwrap();
            assert_eq!(p.command, Ok(Command::Solution), "{body}");
            assert_eq!(p.text, "Redémarrez le copieur.");
            assert_eq!(p.line, "#solution Redémarrez le copieur.");
        }
        // A short lead-in to a command is a greeting too.
        let p = parse("Bonjour Alice, voici la solution :\n#solution Redémarrez").unwrap();
        assert_eq!(p.command, Ok(Command::Solution));
        // Words before it are not: the command is misplaced.
        let p = parse("J'ai redémarré le serveur hier soir.\n#solution Redémarrez").unwrap();
        assert!(p.command.is_err());
    }

    #[test]
    fn a_command_further_down_is_an_error_never_text() {
        let p = parse("Je regarde ça.\n\n#note appeler le fournisseur").unwrap();
        let e = p.command.unwrap_err();
        assert_eq!(e.command, "#note appeler le fournisseur");
        assert_eq!(e.reason, "misplaced");
        assert!(parse("Merci.\n#CLÔTURER").unwrap().command.is_err());
    }

    #[test]
    fn solution_text_on_the_line_and_below() {
        let p = parse("\n#solution Redémarrez le copieur.\nPuis relancez l'impression.").unwrap();
        assert_eq!(p.command, Ok(Command::Solution));
        assert_eq!(
            p.text,
            "Redémarrez le copieur.\nPuis relancez l'impression."
        );
        let p = parse("#Solution\n\nChangez le toner.").unwrap();
        assert_eq!(p.text, "Changez le toner.");
    }

    #[test]
    fn watch_type_impact_category() {
        assert_eq!(
            parse("#watch add <Chef@Mairie-Exemple.fr>")
                .unwrap()
                .command,
            Ok(Command::WatchAdd("chef@mairie-exemple.fr".into()))
        );
        assert_eq!(
            parse("#watch remove a@b.example").unwrap().command,
            Ok(Command::WatchRemove("a@b.example".into()))
        );
        assert!(parse("#watch add nobody").unwrap().command.is_err());
        assert_eq!(
            parse("#type incident").unwrap().command,
            Ok(Command::SetType(TicketType::Incident))
        );
        assert_eq!(
            parse("#impact Bloquant").unwrap().command,
            Ok(Command::SetImpact(Impact::Blocking))
        );
        assert!(parse("#impact huge").unwrap().command.is_err());
        assert_eq!(
            parse("#catégorie Logiciel finances").unwrap().command,
            Ok(Command::SetCategory("Logiciel finances".into()))
        );
    }

    #[test]
    fn merge_names_a_ticket_as_agents_write_it() {
        for (line, n) in [
            ("#merge 12", 12),
            ("#merge #000012", 12),
            ("#merge [SUPPORT #000012]", 12),
            ("#fusionner 7 même demande, autre adresse", 7),
        ] {
            assert_eq!(
                parse(line).unwrap().command,
                Ok(Command::Merge(TicketRef(n))),
                "{line}"
            );
        }
        assert_eq!(parse("#merge 7 même demande").unwrap().text, "même demande");
        for line in [
            "#merge",
            "#merge douze",
            "#merge 0",
            "#merge -3",
            "#merge SUPPORT #12]",
        ] {
            let e = parse(line).unwrap().command.unwrap_err();
            assert_eq!(e.reason, "merge_usage", "{line}");
        }
    }

    #[test]
    fn unknown_commands_are_errors_with_the_line() {
        let p = parse("#fixit now").unwrap();
        let e = p.command.unwrap_err();
        assert_eq!(e.command, "#fixit now");
        assert_eq!(e.reason, "unknown");
    }

    #[test]
    fn assignment_and_queues() {
        assert_eq!(parse("#take").unwrap().command, Ok(Command::Take));
        assert_eq!(
            parse("#prendre je m'en occupe").unwrap().text,
            "je m'en occupe"
        );
        assert_eq!(
            parse("#assign <Marc.Agent@Example.test> il connaît ce logiciel")
                .unwrap()
                .command,
            Ok(Command::Assign("marc.agent@example.test".into()))
        );
        assert_eq!(
            parse("#attribuer marc@example.test").unwrap().command,
            Ok(Command::Assign("marc@example.test".into()))
        );
        assert_eq!(
            parse("#assign").unwrap().command.unwrap_err().reason,
            "assign_usage"
        );
        assert_eq!(
            parse("#assign Marc").unwrap().command.unwrap_err().reason,
            "not_an_address"
        );
        assert_eq!(parse("#unassign").unwrap().command, Ok(Command::Unassign));
        assert_eq!(parse("#Libérer").unwrap().command, Ok(Command::Unassign));
        assert_eq!(
            parse("#queue grh pour les bulletins").unwrap().command,
            Ok(Command::Queue("grh".into()))
        );
        assert_eq!(
            parse("#file").unwrap().command.unwrap_err().reason,
            "queue_usage"
        );
    }

    #[test]
    fn requester_for_a_request_taken_by_phone() {
        let p = parse("#requester jeanne.martin@ville-bobigny.fr Jeanne Martin\nAppel à 9h10 : l'imprimante de l'accueil est bloquée.").unwrap();
        assert_eq!(
            p.command,
            Ok(Command::Requester(Person {
                email: "jeanne.martin@ville-bobigny.fr".into(),
                name: Some("Jeanne Martin".into()),
            }))
        );
        assert_eq!(
            p.text,
            "Appel à 9h10 : l'imprimante de l'accueil est bloquée."
        );
        let p = parse("Bonjour,\n#demandeur <Paul@Eaux.example>\nPlus de réseau.").unwrap();
        assert_eq!(
            p.command,
            Ok(Command::Requester(Person {
                email: "paul@eaux.example".into(),
                name: None,
            }))
        );
        assert_eq!(
            parse("#requester").unwrap().command.unwrap_err().reason,
            "requester_usage"
        );
        assert_eq!(
            parse("#requester Jeanne")
                .unwrap()
                .command
                .unwrap_err()
                .reason,
            "not_an_address"
        );
    }
}
