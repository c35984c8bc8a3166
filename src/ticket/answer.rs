//! How a requester's answer to a proposed solution reads, as people write
//! it: after a greeting ("Bonjour Marc,"), as a phrase ("je valide",
//! "c'est bon", "it works now") as well as a keyword, and not when what
//! follows takes it back or puts it off ("OK mais…", "ok je regarde
//! demain"). A wrong validation closes a ticket that is not fixed, the
//! worst mistake here: when in doubt, the answer decides nothing, and a
//! person reads it.
//!
//! The text given is what the person wrote, quotes and signature already
//! stripped. Only its first meaningful line decides; the two lines after
//! it can only take a validation back.

use super::text::fold;

/// A requester's decision on a proposed solution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decided {
    Validate,
    /// With the explanation that goes with it.
    Refuse(String),
}

/// Words a greeting line starts with.
const GREETINGS: &[&str] = &[
    "bonjour",
    "bonsoir",
    "rebonjour",
    "re",
    "bjr",
    "salut",
    "coucou",
    "cher",
    "chere",
    "madame",
    "monsieur",
    "mesdames",
    "messieurs",
    "hello",
    "hi",
    "hey",
    "dear",
    "good",
];

/// Words that say nothing yet, before the answer: "Merci, c'est bon",
/// "Yes, that fixed it".
const COURTESY: &[&str] = &[
    "oui", "yes", "merci", "thanks", "thank", "you", "beaucoup", "bien", "alors", "donc", "so",
    "well",
];

/// Phrases that validate, beyond the configured keywords.
const VALIDATE: &[&[&str]] = &[
    &["valide"],
    &["validee"],
    &["je", "valide"],
    &["je", "confirme"],
    &["okay"],
    &["c", "est", "bon"],
    &["c", "est", "ok"],
    &["c", "est", "regle"],
    &["c", "est", "resolu"],
    &["c", "est", "parfait"],
    &["ca", "marche"],
    &["ca", "fonctionne"],
    &["ca", "remarche"],
    &["ca", "refonctionne"],
    &["tout", "marche"],
    &["tout", "fonctionne"],
    &["tout", "est", "ok"],
    &["tout", "est", "bon"],
    &["tout", "est", "rentre", "dans", "l", "ordre"],
    &["probleme", "resolu"],
    &["probleme", "regle"],
    &["resolu"],
    &["regle"],
    &["it", "works"],
    &["it", "worked"],
    &["that", "worked"],
    &["it", "s", "working"],
    &["working", "now"],
    &["works", "now"],
    &["fixed"],
    &["solved"],
    &["resolved"],
    &["all", "good"],
    &["confirmed"],
];

/// Phrases that refuse, beyond the configured keywords.
const REFUSE: &[&[&str]] = &[
    &["je", "refuse"],
    &["je", "ne", "valide", "pas"],
    &["pas", "ok"],
    &["pas", "bon"],
    &["pas", "resolu"],
    &["pas", "regle"],
    &["c", "est", "pas", "bon"],
    &["ce", "n", "est", "pas", "bon"],
    &["ca", "ne", "marche", "pas"],
    &["ca", "ne", "marche", "toujours", "pas"],
    &["ca", "ne", "marche", "plus"],
    &["ca", "ne", "fonctionne", "pas"],
    &["ca", "ne", "fonctionne", "toujours", "pas"],
    &["ca", "ne", "fonctionne", "plus"],
    &["ca", "marche", "pas"],
    &["ca", "marche", "toujours", "pas"],
    &["ca", "fonctionne", "pas"],
    &["toujours", "pas"],
    &["toujours", "en", "panne"],
    &["probleme", "persiste"],
    &["le", "probleme", "persiste"],
    &["still", "not"],
    &["still", "broken"],
    &["still", "doesn", "t"],
    &["not", "working"],
    &["not", "fixed"],
    &["not", "solved"],
    &["not", "resolved"],
    &["doesn", "t", "work"],
    &["does", "not", "work"],
    &["didn", "t", "work"],
    &["did", "not", "work"],
    &["isn", "t", "fixed"],
];

/// Whether the line says the requester has not tried yet ("je n'ai
/// toujours pas pu tester", "I haven't had a chance to try"): nothing is
/// decided, whatever else it says. Only with a verb of trying: "je n'ai
/// toujours pas accès" is a refusal.
fn not_tried(w: &[(String, usize)]) -> bool {
    const TRY_FR: &[&str] = &[
        "pu", "eu", "teste", "essaye", "reessaye", "verifie", "regarde",
    ];
    const TRY_EN: &[&str] = &["had", "tried", "tested", "checked", "looked", "yet"];
    let w: Vec<&str> = w.iter().map(|(x, _)| x.as_str()).collect();
    (0..w.len()).any(|i| {
        let at = |k: usize| w.get(i + k).copied().unwrap_or("");
        let french_verb = |k: usize| match (at(k), at(k + 1)) {
            ("toujours", "pas") | ("pas", "encore") => TRY_FR.contains(&at(k + 2)),
            _ => false,
        };
        (at(0) == "n" && matches!(at(1), "ai" | "avons") && french_verb(2))
            || (at(0) == "pas" && at(1) == "encore" && TRY_FR.contains(&at(2)))
            || (matches!(at(0), "haven" | "hasn") && at(1) == "t" && TRY_EN.contains(&at(2)))
            || (matches!(at(0), "have" | "has") && at(1) == "not" && TRY_EN.contains(&at(2)))
            || (at(0) == "not" && matches!(at(1), "yet" | "tested" | "tried"))
    })
}

/// Refusals that count only as the first word: elsewhere in a line they
/// mean anything ("je ne sais pas si c'est bon ou non").
const REFUSE_FIRST: &[&str] = &["non", "no", "nope"];

/// Words that make a validation not one: a negation in its line.
const NEGATIONS: &[&str] = &["ne", "n", "pas", "not", "never", "jamais", "don", "doesn"];

/// Words that take a validation back or put it off, in its line or the
/// two after it.
const BUT: &[&[&str]] = &[
    &["mais"],
    &["but"],
    &["toujours"],
    &["still"],
    &["encore"],
    &["demain"],
    &["tomorrow"],
    &["plus", "tard"],
    &["later"],
    &["teste"],
    &["tester"],
    &["testerai"],
    &["test"],
    &["testing"],
    &["regarde"],
    &["regarderai"],
    &["verifie"],
    &["verifier"],
    &["check"],
    &["pas", "encore"],
    &["not", "yet"],
    &["sauf"],
    &["except"],
    &["however"],
    &["cependant"],
    &["pourtant"],
    &["neanmoins"],
    &["par", "contre"],
    &["en", "revanche"],
    &["although"],
    &["presque"],
    &["almost"],
    &["partiellement"],
    &["partially"],
    &["again"],
];

/// A line's words, folded (lower case, no accents), each with the byte
/// offset in the line just past it. Apostrophes split ("c'est": c, est).
fn words(line: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in line
        .char_indices()
        .chain(std::iter::once((line.len(), ' ')))
    {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((fold(&line[s..i]), i));
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// Whether `phrase` starts at `at` in `words`.
fn starts(words: &[(String, usize)], at: usize, phrase: &[&str]) -> bool {
    phrase.len() + at <= words.len() && phrase.iter().zip(&words[at..]).all(|(p, (w, _))| p == w)
}

/// Where the first of `phrases` is in `words`, and its length.
fn find(words: &[(String, usize)], phrases: &[&[&str]]) -> Option<(usize, usize)> {
    (0..words.len()).find_map(|at| {
        phrases
            .iter()
            .find(|p| starts(words, at, p))
            .map(|p| (at, p.len()))
    })
}

/// The line with its greeting taken off: a line that is only a greeting
/// ("Bonjour Marc,", "Madame, Monsieur,") is empty; "Hello, all good"
/// keeps "all good".
/// Whether a line is a greeting and nothing else ("Bonjour Alice,",
/// "Madame, Monsieur,").
pub(super) fn is_greeting_only(line: &str) -> bool {
    let w = words(line);
    !w.is_empty() && words(without_greeting(line)).is_empty()
}

fn without_greeting(line: &str) -> &str {
    let w = words(line);
    let Some((first, end)) = w.first() else {
        return line;
    };
    if !GREETINGS.contains(&first.as_str()) {
        return line;
    }
    let trimmed = line.trim_end();
    if trimmed.ends_with([',', '!', ':']) && w.len() <= 6 || w.len() <= 2 {
        return "";
    }
    // "Bonjour Marc, c'est bon": what follows the first comma, when it
    // comes within the first four words.
    match line.find(',') {
        Some(comma) if w.iter().take(4).any(|(_, e)| *e >= comma) || w.len() <= 4 => {
            &line[comma + 1..]
        }
        _ => &line[*end..],
    }
}

/// Reads the answer: `validate` and `refuse` are the configured keywords,
/// folded.
pub fn read(body: &str, validate: &[String], refuse: &[String]) -> Option<Decided> {
    let mut lines = body
        .lines()
        .map(str::trim)
        .enumerate()
        .filter(|(_, l)| !l.starts_with('>') && !words(l).is_empty());
    let (line, first) = lines.find_map(|(i, l)| {
        let rest = without_greeting(l);
        (!words(rest).is_empty()).then_some((rest, i))
    })?;
    let w = words(line);
    if not_tried(&w) {
        return None;
    }
    let is_validate_kw = |s: &str| validate.iter().any(|k| k == s);
    let is_refuse_kw = |s: &str| refuse.iter().any(|k| k == s);
    // The answer proper, past the courtesy words.
    let start = w
        .iter()
        .position(|(x, _)| !COURTESY.contains(&x.as_str()))
        .unwrap_or(w.len());
    let negated = |upto: usize| {
        w[..upto]
            .iter()
            .any(|(x, _)| NEGATIONS.contains(&x.as_str()))
    };

    // A refusal: a refusing phrase anywhere in the line (not negated: "je
    // ne refuse pas"), a configured keyword, or "non" first.
    let refuse_kw = w.iter().position(|(x, _)| is_refuse_kw(x));
    let refuse_phrase = find(&w, REFUSE).map(|(at, _)| at);
    let refuse_first =
        (start < w.len() && REFUSE_FIRST.contains(&w[start].0.as_str())).then_some(start);
    let refusal = [
        refuse_kw.filter(|&at| !negated(at)),
        refuse_phrase,
        refuse_first,
    ]
    .into_iter()
    .flatten()
    .min();
    // A validation: a keyword or phrase first, or anywhere in a short
    // line, with no negation in the line.
    let validate_kw = w.iter().position(|(x, _)| is_validate_kw(x));
    let validate_phrase = find(&w, VALIDATE).map(|(at, _)| at);
    let validation = [validate_kw, validate_phrase]
        .into_iter()
        .flatten()
        .min()
        .filter(|&at| at == start || w.len() <= 12)
        .filter(|_| !negated(w.len()));

    if refusal.is_some() {
        // Two keywords that say opposite things ("VALIDER REFUSER").
        if validate_kw.is_some() && refuse_kw.is_some() && validation.is_some() {
            return None;
        }
        return Some(Decided::Refuse(explanation(body, line, &w, refuse_kw)));
    }
    validation?;
    // Taken back or put off, in the line or the two after it, or asked.
    let after: Vec<&str> = body
        .lines()
        .map(str::trim)
        .skip(first + 1)
        .filter(|l| !l.is_empty() && !l.starts_with('>') && !is_link_footnote(l))
        .take(2)
        .collect();
    let but = std::iter::once(line)
        .chain(after)
        .any(|l| find(&words(l), BUT).is_some());
    if but || line.contains('?') {
        return None;
    }
    Some(Decided::Validate)
}

/// A link of HTML mail as its text lists it ("[1]: https://…"): an
/// address, whose words ("test", "check") say nothing of the answer.
fn is_link_footnote(line: &str) -> bool {
    line.strip_prefix('[')
        .and_then(|l| l.split_once("]:"))
        .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// What the requester says is wrong: what follows a refusal keyword near
/// the start of its line ("REFUSER : toujours hors ligne"), else the whole
/// answer from that line on ("Ça ne marche toujours pas").
fn explanation(body: &str, line: &str, w: &[(String, usize)], keyword: Option<usize>) -> String {
    let from = body.find(line).unwrap_or(0);
    let cut = match keyword {
        Some(at) if at < 3 => from + w[at].1,
        _ => from,
    };
    body[cut..]
        .trim_start_matches([' ', ':', ',', '.', '-', '!', '\t'])
        .trim()
        .to_string()
}

/// Words a courtesy reply is made of ("Merci beaucoup, bonne journée",
/// "OK c'est noté", "Thanks, have a nice day"), folded.
const COURTESY_WORDS: &[&str] = &[
    "merci",
    "mille",
    "beaucoup",
    "bien",
    "ok",
    "okay",
    "oki",
    "d",
    "accord",
    "daccord",
    "parfait",
    "parfaitement",
    "super",
    "top",
    "genial",
    "excellent",
    "nickel",
    "impeccable",
    "cool",
    "bonne",
    "journee",
    "soiree",
    "fin",
    "de",
    "week",
    "end",
    "weekend",
    "semaine",
    "continuation",
    "et",
    "encore",
    "a",
    "vous",
    "toi",
    "tous",
    "tout",
    "cordialement",
    "cdlt",
    "bav",
    "salutations",
    "sinceres",
    "c",
    "est",
    "note",
    "recu",
    "entendu",
    "tres",
    "pour",
    "votre",
    "ton",
    "aide",
    "retour",
    "rapidite",
    "reactivite",
    "ca",
    "marche",
    "vu",
    "oui",
    "thanks",
    "thank",
    "thx",
    "you",
    "so",
    "much",
    "very",
    "many",
    "great",
    "perfect",
    "awesome",
    "cheers",
    "regards",
    "kind",
    "best",
    "have",
    "nice",
    "good",
    "day",
    "noted",
    "received",
    "got",
    "it",
    "all",
    "the",
    "fine",
    "brilliant",
    "lovely",
    "appreciated",
    "again",
    "and",
    "for",
    "your",
    "help",
    "quick",
    "fix",
    "yes",
    "wishes",
    "bon",
    "valide",
    "validee",
    "accepte",
    "la",
    "le",
    "l",
    "les",
    "du",
    "des",
    "vos",
];

/// Phrases of courtesy whose words alone say something else ("pas",
/// "problème"), folded.
const COURTESY_PHRASES: &[&[&str]] = &[
    &["pas", "de", "souci"],
    &["pas", "de", "soucis"],
    &["pas", "de", "probleme"],
    &["sans", "souci"],
    &["no", "problem"],
    &["no", "worries"],
];

/// Words after which a capitalised word is a name ("Merci Marc",
/// "Thanks John").
const BEFORE_A_NAME: &[&str] = &[
    "merci", "thanks", "thank", "bonjour", "bonsoir", "hello", "hi", "cher", "chere", "dear",
    "madame", "monsieur", "you",
];

/// Whether a mail is only courtesy: thanks, "OK", good wishes, the
/// validation keyword again, with a name or a sign-off, and nothing else
/// ("Merci, mais l'imprimante…" is not). `validate` are the configured
/// keywords, folded. A refusal keyword is never courtesy.
pub fn is_courtesy(body: &str, validate: &[String]) -> bool {
    let lines: Vec<&str> = body
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('>') && l.chars().any(char::is_alphanumeric))
        .collect();
    if lines.is_empty() || lines.len() > 4 {
        return false;
    }
    let mut total = 0;
    let mut kind = 0;
    for (n, line) in lines.iter().enumerate() {
        // Each word, and whether a sentence starts with it.
        let mut tokens: Vec<(&str, bool)> = Vec::new();
        let mut sentence = true;
        let mut start = None;
        for (i, c) in line
            .char_indices()
            .chain(std::iter::once((line.len(), ' ')))
        {
            if c.is_alphanumeric() {
                start.get_or_insert(i);
                continue;
            }
            if let Some(s) = start.take() {
                tokens.push((&line[s..i], sentence));
                sentence = false;
            }
            if matches!(c, '.' | '!' | '?' | ';' | ':') {
                sentence = true;
            }
        }
        total += tokens.len();
        let capitalised = |t: &str| t.chars().next().is_some_and(char::is_uppercase);
        // A sign-off line: a name alone, last.
        if n > 0
            && n == lines.len() - 1
            && tokens.len() <= 3
            && tokens.iter().all(|(t, _)| capitalised(t))
        {
            continue;
        }
        let folded: Vec<(String, usize)> = tokens.iter().map(|(t, _)| (fold(t), 0)).collect();
        let mut covered = vec![false; tokens.len()];
        for at in 0..folded.len() {
            if let Some(p) = COURTESY_PHRASES.iter().find(|p| starts(&folded, at, p)) {
                covered[at..at + p.len()].iter_mut().for_each(|c| *c = true);
            }
        }
        let mut name_may_follow = false;
        for (i, (token, starts_sentence)) in tokens.iter().enumerate() {
            let w = folded[i].0.as_str();
            if covered[i]
                || COURTESY_WORDS.contains(&w)
                || GREETINGS.contains(&w)
                || validate.iter().any(|k| k == w)
            {
                kind += 1;
                name_may_follow = BEFORE_A_NAME.contains(&w);
                continue;
            }
            if !(name_may_follow && !starts_sentence && capitalised(token)) {
                return false;
            }
        }
    }
    total <= 30 && kind > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keywords() -> (Vec<String>, Vec<String>) {
        (
            ["valider", "accepter", "accept", "ok"]
                .map(String::from)
                .to_vec(),
            ["refuser", "refuse"].map(String::from).to_vec(),
        )
    }

    fn reads(body: &str) -> Option<Decided> {
        let (v, r) = keywords();
        read(body, &v, &r)
    }

    #[test]
    fn greetings_are_passed_over() {
        assert_eq!(reads("Bonjour Marc,\n\nVALIDER"), Some(Decided::Validate));
        assert_eq!(
            reads("Madame, Monsieur,\nJe valide."),
            Some(Decided::Validate)
        );
        assert_eq!(reads("Hello, all good now"), Some(Decided::Validate));
        assert_eq!(reads("Bonjour c'est bon merci"), Some(Decided::Validate));
        assert_eq!(reads("Bonjour,"), None);
    }

    #[test]
    fn a_validation_taken_back_is_none() {
        assert_eq!(reads("OK mais l'écran clignote encore"), None);
        assert_eq!(reads("Ok je regarde demain"), None);
        assert_eq!(
            reads("OK.\n\nMais le scanner ne marche toujours pas."),
            None
        );
        assert_eq!(reads("OK ?"), None);
        assert_eq!(reads("Je ne sais pas si ça marche"), None);
        assert_eq!(reads("Merci"), None);
        assert_eq!(reads("VALIDER REFUSER"), None);
    }

    #[test]
    fn refusals_keep_what_is_wrong() {
        assert_eq!(
            reads("REFUSER : toujours hors ligne"),
            Some(Decided::Refuse("toujours hors ligne".into()))
        );
        assert_eq!(
            reads("Non, REFUSER : l'imprimante n'imprime rien"),
            Some(Decided::Refuse("l'imprimante n'imprime rien".into()))
        );
        assert_eq!(
            reads("Ça ne marche toujours pas."),
            Some(Decided::Refuse("Ça ne marche toujours pas.".into()))
        );
        assert_eq!(reads("Pas OK"), Some(Decided::Refuse("Pas OK".into())));
        assert_eq!(
            reads("OK, ça ne marche toujours pas"),
            Some(Decided::Refuse("OK, ça ne marche toujours pas".into()))
        );
    }
}
