//! The knowledge base: the desk's articles (Markdown with a front matter),
//! and which of them answer a request. Ranking is Okapi BM25 over three
//! fields (keywords, title, body) on folded, lightly stemmed words: with
//! tens or hundreds of articles a full-text engine would bring nothing a
//! page of code does not, and this stays a pure function, tested here and
//! measured against a labelled set (`fixtures/kb/relevance.toml`,
//! `tests/kb.rs`).

use std::collections::HashMap;
use std::sync::Arc;

use super::text::fold;

string_enum!(
    /// Who an article is written for: the acknowledgement only suggests
    /// the requesters' ones; `#kb` may send any.
    Readers {
        Requesters => "requesters",
        Agents => "agents",
    }
);

/// One article: `ID.md`, whose front matter gives the title, keywords,
/// readers and an optional link (the same article on the intranet).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Article {
    /// The file's name without `.md`, lower case.
    pub id: String,
    pub title: String,
    pub keywords: Vec<String>,
    pub readers: Readers,
    pub link: Option<String>,
    /// The Markdown after the front matter, trimmed.
    pub body: String,
}

/// Front matter keys an article may have.
const KEYS: &[&str] = &["title", "keywords", "audience", "link"];

impl Article {
    /// Reads `text`, the file `ID.md`:
    ///
    /// ```text
    /// ---
    /// title: Réinitialiser son mot de passe
    /// keywords: mot de passe, identifiant, compte bloqué
    /// audience: requesters
    /// ---
    /// The article…
    /// ```
    ///
    /// `keywords` may also be written `[a, b]`; `audience` is `requesters`
    /// (the default) or `agents`. The error says what is wrong, for the
    /// configuration's report.
    pub fn parse(id: &str, text: &str) -> Result<Article, String> {
        if !is_id(id) {
            return Err(format!(
                "{id:?} is not an article name (letters, digits, '-', '_' and '.')"
            ));
        }
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        // Lines with their ends, so that the body starts where the front
        // matter stops, whatever the line endings.
        let mut lines = text.split_inclusive('\n');
        if lines.next().map(str::trim_end) != Some("---") {
            return Err("no front matter (a first line \"---\")".into());
        }
        let mut fields: HashMap<&str, String> = HashMap::new();
        let mut body_at = None;
        let mut at = text.find('\n').map_or(text.len(), |i| i + 1);
        for line in lines {
            at += line.len();
            let line = line.trim_end();
            if line == "---" {
                body_at = Some(at);
                break;
            }
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once(':') else {
                return Err(format!("front matter line {line:?} is not \"key: value\""));
            };
            let key = key.trim();
            if !KEYS.contains(&key) {
                return Err(format!(
                    "unknown front matter key {key:?} (known: {})",
                    KEYS.join(", ")
                ));
            }
            fields.insert(key, unquote(value.trim()).to_string());
        }
        let Some(body_at) = body_at else {
            return Err("the front matter has no closing \"---\"".into());
        };
        let title = fields
            .remove("title")
            .filter(|t| !t.is_empty())
            .ok_or("the front matter has no title")?;
        let keywords: Vec<String> = fields
            .remove("keywords")
            .map(|k| {
                let k = k.trim();
                let k = k
                    .strip_prefix('[')
                    .and_then(|k| k.strip_suffix(']'))
                    .unwrap_or(k);
                k.split(',')
                    .map(|w| unquote(w.trim()).to_string())
                    .filter(|w| !w.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let readers = match fields.remove("audience").as_deref() {
            None | Some("") => Readers::Requesters,
            Some(a) => Readers::parse(a).ok_or_else(|| {
                format!("audience {a:?} is neither \"requesters\" nor \"agents\"")
            })?,
        };
        let link = fields.remove("link").filter(|l| !l.is_empty());
        let body = text[body_at..].trim();
        Ok(Article {
            id: id.to_lowercase(),
            title,
            keywords,
            readers,
            link,
            body: body.replace("\r\n", "\n"),
        })
    }

    /// The article as a solution or a suggestion gives it in plain text:
    /// its title, its text, its link.
    pub fn as_text(&self) -> String {
        let mut text = format!("{}\n\n{}", self.title, self.body);
        if let Some(link) = &self.link {
            text.push_str("\n\n");
            text.push_str(link);
        }
        text
    }
}

/// An article's name: what `#kb ID` writes.
fn is_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 100
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !id.starts_with('.')
}

fn unquote(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
}

/// An article found for a request, with its relevance.
#[derive(Clone, Debug, PartialEq)]
pub struct Suggestion {
    pub article: Arc<Article>,
    pub score: f64,
    /// How many of the article's keywords the request has (all their
    /// words), plus how many words of its title.
    pub on_topic: usize,
}

/// The articles, indexed.
#[derive(Clone, Debug, Default)]
pub struct KnowledgeBase {
    articles: Vec<Arc<Article>>,
    docs: Vec<Doc>,
    /// In how many articles each term appears.
    df: HashMap<String, u32>,
    avg_len: f64,
    /// At most this many suggestions in an acknowledgement (0: none).
    pub suggest: usize,
    /// Articles scoring less are never suggested: unrelated mail gets
    /// nothing rather than noise.
    pub min_score: f64,
}

/// An article's terms, each with its weighted frequency.
#[derive(Clone, Debug, Default)]
struct Doc {
    tf: HashMap<String, f64>,
    len: f64,
    /// Its keywords, each as its terms ("réunion en ligne": "reunio",
    /// "ligne"), and its title's terms: what it is about.
    keywords: Vec<Vec<String>>,
    title: Vec<String>,
}

/// How much a word counts in each field: the keywords an author chose
/// say more than the title, which says more than the text.
const KEYWORD_WEIGHT: f64 = 3.0;
const TITLE_WEIGHT: f64 = 2.0;
const BODY_WEIGHT: f64 = 0.5;
/// BM25's usual saturation and length normalisation.
const K1: f64 = 1.2;
const B: f64 = 0.75;
/// The request's subject counts this much more than its text.
const SUBJECT_WEIGHT: f64 = 2.5;
/// At most this much of a request is read: a 10 MB mail costs no more
/// than a long one.
const MAX_QUERY_BYTES: usize = 16 * 1024;
/// An article is suggested beside the best one only if it scores at
/// least this share of it.
const RUNNER_UP: f64 = 0.7;
/// The default of `[kb] min_score`, tuned on the labelled set.
pub const DEFAULT_MIN_SCORE: f64 = 5.0;

impl KnowledgeBase {
    pub fn new(mut articles: Vec<Article>, suggest: usize, min_score: f64) -> KnowledgeBase {
        articles.sort_by(|a, b| a.id.cmp(&b.id));
        let docs: Vec<Doc> = articles.iter().map(index).collect();
        let mut df: HashMap<String, u32> = HashMap::new();
        for d in &docs {
            for term in d.tf.keys() {
                *df.entry(term.clone()).or_default() += 1;
            }
        }
        let avg_len = if docs.is_empty() {
            1.0
        } else {
            (docs.iter().map(|d| d.len).sum::<f64>() / docs.len() as f64).max(1.0)
        };
        KnowledgeBase {
            articles: articles.into_iter().map(Arc::new).collect(),
            docs,
            df,
            avg_len,
            suggest,
            min_score,
        }
    }

    pub fn articles(&self) -> &[Arc<Article>] {
        &self.articles
    }

    pub fn is_empty(&self) -> bool {
        self.articles.is_empty()
    }

    /// The article `#kb ID` names (case does not matter).
    pub fn get(&self, id: &str) -> Option<&Arc<Article>> {
        let id = id.to_lowercase();
        self.articles.iter().find(|a| a.id == id)
    }

    /// Every article that shares a word with the request, best first
    /// (ties by name), whatever its score and readers.
    pub fn rank(&self, subject: &str, body: &str) -> Vec<Suggestion> {
        // No article, nothing to read the request for (a desk without
        // `[kb]`).
        if self.articles.is_empty() {
            return Vec::new();
        }
        let mut query: HashMap<String, f64> = HashMap::new();
        for term in terms(cut(subject)) {
            let w = query.entry(term).or_default();
            *w = w.max(SUBJECT_WEIGHT);
        }
        for term in terms(own_words(cut(body))) {
            let w = query.entry(term).or_default();
            *w = w.max(1.0);
        }
        let n = self.docs.len() as f64;
        let mut scored: Vec<Suggestion> = self
            .docs
            .iter()
            .zip(&self.articles)
            .filter_map(|(doc, article)| {
                let mut score = 0.0;
                // A keyword counts when the request has all its words
                // ("réunion" alone is not "réunion en ligne").
                let on_topic = doc
                    .keywords
                    .iter()
                    .filter(|k| k.iter().all(|t| query.contains_key(t)))
                    .count()
                    + doc.title.iter().filter(|t| query.contains_key(*t)).count();
                for (term, weight) in &query {
                    let Some(&tf) = doc.tf.get(term) else {
                        continue;
                    };
                    let df = f64::from(self.df.get(term).copied().unwrap_or(0));
                    let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
                    let norm = K1 * (1.0 - B + B * doc.len / self.avg_len);
                    score += weight * idf * tf * (K1 + 1.0) / (tf + norm);
                }
                (score > 0.0).then(|| Suggestion {
                    article: Arc::clone(article),
                    score,
                    on_topic,
                })
            })
            .collect();
        scored.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.article.id.cmp(&b.article.id))
        });
        scored
    }

    /// What an acknowledgement suggests: the requesters' articles that
    /// score at least `min_score`, best first, at most `suggest`.
    pub fn suggest(&self, subject: &str, body: &str) -> Vec<Suggestion> {
        if self.suggest == 0 {
            return Vec::new();
        }
        let mut found = self.rank(subject, body);
        // The request must name what the article is about: two of its
        // keywords or title words, or one with twice the threshold's
        // score (a rare, telling word).
        found.retain(|s| {
            s.article.readers == Readers::Requesters
                && s.score >= self.min_score
                && (s.on_topic >= 2 || s.on_topic == 1 && s.score >= 2.0 * self.min_score)
        });
        // Far behind the best, an article shares words, not the subject.
        let best = found.first().map_or(0.0, |s| s.score);
        found.retain(|s| s.score >= best * RUNNER_UP);
        found.truncate(self.suggest);
        found
    }
}

/// The request up to its closing formula ("Cordialement", "Best
/// regards"): what follows is a signature, whose service name and
/// address say who writes, not what about.
fn own_words(body: &str) -> &str {
    let mut at = 0;
    for line in body.split_inclusive('\n') {
        let folded = fold(line.trim().trim_end_matches([',', '.', '!']));
        if at > 0 && CLOSINGS.contains(&folded.as_str()) {
            return &body[..at];
        }
        at += line.len();
    }
    body
}

/// Closing formulas, folded: the signature follows them.
const CLOSINGS: &[&str] = &[
    "cordialement",
    "bien cordialement",
    "tres cordialement",
    "bien a vous",
    "salutations",
    "sincerement",
    "merci",
    "merci d'avance",
    "merci par avance",
    "merci beaucoup",
    "bonne journee",
    "bonne soiree",
    "cdt",
    "cdlt",
    "regards",
    "best regards",
    "kind regards",
    "best",
    "thanks",
    "thank you",
    "many thanks",
    "thanks in advance",
    "cheers",
];

/// At most [`MAX_QUERY_BYTES`] of `s`, cut on a character boundary.
fn cut(s: &str) -> &str {
    if s.len() <= MAX_QUERY_BYTES {
        return s;
    }
    let mut end = MAX_QUERY_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn index(a: &Article) -> Doc {
    let mut doc = Doc::default();
    let mut add = |text: &str, weight: f64| {
        for term in terms(text) {
            *doc.tf.entry(term).or_default() += weight;
            doc.len += weight;
        }
    };
    for k in &a.keywords {
        add(k, KEYWORD_WEIGHT);
    }
    add(&a.title, TITLE_WEIGHT);
    add(&a.body, BODY_WEIGHT);
    doc.keywords = a
        .keywords
        .iter()
        .map(|k| terms(k).collect::<Vec<_>>())
        .filter(|k| !k.is_empty())
        .collect();
    doc.title = terms(&a.title).collect();
    doc
}

/// Words that say nothing of what a request is about: articles,
/// pronouns, courtesy, the words of every request ("problème",
/// "besoin"), in French and English, folded.
/// [`STOP_WORDS`] to look up: each word of a request is.
static STOP: std::sync::LazyLock<std::collections::HashSet<&'static str>> =
    std::sync::LazyLock::new(|| STOP_WORDS.iter().copied().collect());

const STOP_WORDS: &[&str] = &[
    // French
    "alors",
    "aussi",
    "autre",
    "avant",
    "avec",
    "avoir",
    "avons",
    "bien",
    "bonjour",
    "bonne",
    "bonsoir",
    "car",
    "ceci",
    "cela",
    "celle",
    "celui",
    "ces",
    "cette",
    "chez",
    "comme",
    "comment",
    "cordialement",
    "dans",
    "depuis",
    "des",
    "deux",
    "dois",
    "doit",
    "donc",
    "elle",
    "encore",
    "entre",
    "est",
    "etait",
    "etre",
    "fait",
    "faire",
    "faut",
    "hier",
    "ici",
    "jour",
    "journee",
    "les",
    "leur",
    "lui",
    "madame",
    "mais",
    "matin",
    "meme",
    "merci",
    "mes",
    "moi",
    "monsieur",
    "mon",
    "nos",
    "notre",
    "nous",
    "par",
    "pas",
    "peu",
    "peut",
    "peux",
    "plus",
    "pour",
    "pourriez",
    "pourrais",
    "pouvez",
    "probleme",
    "problemes",
    "quand",
    "que",
    "quel",
    "quelle",
    "qui",
    "rien",
    "sans",
    "ses",
    "soir",
    "son",
    "sont",
    "sur",
    "svp",
    "tous",
    "tout",
    "tres",
    "une",
    "vos",
    "votre",
    "vous",
    "besoin",
    "souci",
    "aujourd",
    "hui",
    "salut",
    "aide",
    "aider",
    "urgent",
    "demande",
    "plait",
    "avez",
    "suis",
    "sommes",
    "ont",
    "ete",
    "sera",
    "serait",
    "cdt",
    "bien",
    "envoye",
    "iphone",
    "android",
    "telephone",
    // English
    "about",
    "after",
    "again",
    "all",
    "and",
    "any",
    "are",
    "been",
    "but",
    "can",
    "cannot",
    "could",
    "dear",
    "does",
    "doesn",
    "for",
    "from",
    "get",
    "had",
    "has",
    "have",
    "hello",
    "help",
    "her",
    "him",
    "his",
    "how",
    "just",
    "kind",
    "many",
    "may",
    "more",
    "morning",
    "not",
    "now",
    "one",
    "our",
    "please",
    "regards",
    "sent",
    "she",
    "since",
    "some",
    "thank",
    "thanks",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "this",
    "today",
    "too",
    "was",
    "were",
    "what",
    "when",
    "which",
    "will",
    "with",
    "would",
    "you",
    "your",
    "issue",
    "problem",
    "best",
    "yesterday",
];

/// The words of `text` as the index compares them: folded, cut at
/// letters and digits, stop words and one- and two-letter words left
/// out, lightly stemmed ([`stem`]).
fn terms(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3)
        .map(fold)
        .filter(|w| !STOP.contains(w.as_str()))
        .map(stem)
}

const ENDINGS: [&str; 10] = [
    "ements", "ement", "ations", "ation", "ing", "ees", "es", "e", "s", "x",
];

/// A light stemmer for French and English: the plural and feminine
/// endings go, then the word is cut to its first six letters, so that
/// "imprimante", "imprimantes" and "imprimer" meet at "imprim".
fn stem(word: String) -> String {
    let mut w = word.as_str();
    // Twice: "bloquées" → "bloquée" → "bloqué", as "bloqué" → "bloqu".
    for _ in 0..2 {
        if let Some(stripped) = ENDINGS
            .iter()
            .filter(|e| w.len() > e.len() + 3)
            .find_map(|e| w.strip_suffix(e))
        {
            w = stripped;
        }
    }
    w.chars().take(6).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn article(id: &str, front: &str, body: &str) -> Article {
        Article::parse(id, &format!("---\n{front}\n---\n{body}\n")).unwrap()
    }

    fn kb() -> KnowledgeBase {
        KnowledgeBase::new(
            vec![
                article(
                    "mot-de-passe",
                    "title: Réinitialiser son mot de passe\nkeywords: mot de passe, identifiant, connexion",
                    "Rendez-vous sur la page de réinitialisation et suivez les étapes.",
                ),
                article(
                    "imprimante",
                    "title: L'imprimante est hors ligne\nkeywords: imprimante, impression, hors ligne",
                    "Vérifiez que l'imprimante est allumée et reliée au réseau.",
                ),
                article(
                    "mfa-admin",
                    "title: Réinitialiser la double authentification d'un agent\nkeywords: mfa, authentification, mot de passe\naudience: agents",
                    "Dans la console d'administration, ouvrez le compte.",
                ),
            ],
            3,
            // Three articles make small scores: the default threshold
            // is measured on the labelled set (tests/kb.rs).
            1.0,
        )
    }

    #[test]
    fn front_matter_is_read() {
        let a = Article::parse(
            "VPN-Maison",
            "\u{feff}---\r\ntitle: \"Se connecter au VPN\"\r\nkeywords: [vpn, télétravail, \"accès distant\"]\r\naudience: agents\r\nlink: https://intranet.example/kb/vpn\r\n---\r\n\r\n1. Ouvrez le client.\r\n",
        )
        .unwrap();
        assert_eq!(a.id, "vpn-maison");
        assert_eq!(a.title, "Se connecter au VPN");
        assert_eq!(a.keywords, ["vpn", "télétravail", "accès distant"]);
        assert_eq!(a.readers, Readers::Agents);
        assert_eq!(a.link.as_deref(), Some("https://intranet.example/kb/vpn"));
        assert_eq!(a.body, "1. Ouvrez le client.");
        assert_eq!(
            a.as_text(),
            "Se connecter au VPN\n\n1. Ouvrez le client.\n\nhttps://intranet.example/kb/vpn"
        );
    }

    #[test]
    fn a_bad_article_says_why() {
        let cases = [
            ("a", "title: x\n---\nbody", "no front matter"),
            ("a", "---\ntitle: x\n", "no closing"),
            ("a", "---\nkeywords: x\n---\nbody", "no title"),
            (
                "a",
                "---\ntitle: x\ncolour: red\n---\n",
                "unknown front matter key",
            ),
            ("a", "---\ntitle: x\naudience: everyone\n---\n", "audience"),
            ("a", "---\ntitle x\n---\n", "is not \"key: value\""),
            (
                "../etc/passwd",
                "---\ntitle: x\n---\n",
                "not an article name",
            ),
            (".hidden", "---\ntitle: x\n---\n", "not an article name"),
        ];
        for (id, text, why) in cases {
            let e = Article::parse(id, text).unwrap_err();
            assert!(e.contains(why), "{text:?}: {e}");
        }
    }

    #[test]
    fn the_best_article_comes_first_and_only_for_requesters() {
        let kb = kb();
        let found = kb.suggest(
            "Imprimante du 2e étage",
            "Bonjour, l'imprimante du couloir ne répond plus, elle est hors ligne.",
        );
        assert_eq!(found[0].article.id, "imprimante", "{found:?}");
        let found = kb.suggest("mot de passe oublié", "Je n'arrive plus à me connecter.");
        let ids: Vec<&str> = found.iter().map(|s| s.article.id.as_str()).collect();
        assert_eq!(
            ids,
            ["mot-de-passe"],
            "agents' articles are never suggested"
        );
        // …but `rank` (kb suggest, #kb) sees them.
        assert!(kb
            .rank("mot de passe oublié", "")
            .iter()
            .any(|s| s.article.id == "mfa-admin"));
    }

    #[test]
    fn unrelated_mail_and_courtesy_get_nothing() {
        let kb = kb();
        for (subject, body) in [
            (
                "Réunion de jeudi",
                "Bonjour, la réunion est déplacée à 15h. Cordialement",
            ),
            ("Merci !", "Merci beaucoup pour votre aide, bonne journée."),
            ("", ""),
            ("RE: [SUPPORT #000012]", "OK"),
        ] {
            assert!(kb.suggest(subject, body).is_empty(), "{subject}: {body}");
        }
    }

    #[test]
    fn stemming_meets_plurals_and_verbs() {
        assert_eq!(stem("imprimantes".into()), stem("imprimante".into()));
        assert_eq!(stem("imprimer".into()), stem("imprimante".into()));
        assert_eq!(stem("printers".into()), stem("printer".into()));
        let t: Vec<String> = terms("Le MOT de passe, l'IMPRIMANTE était bloquée").collect();
        assert_eq!(t, ["mot", "pass", "imprim", "bloqu"]);
    }

    #[test]
    fn hostile_input_is_bounded() {
        let kb = kb();
        // A huge request reads 16 KiB, even cut inside a character.
        let body = "é".repeat(5_000_000) + " imprimante";
        assert!(kb.suggest("", &body).is_empty());
        let body = "imprimante hors ligne ".repeat(1_000_000);
        let found = kb.suggest("", &body);
        assert_eq!(found[0].article.id, "imprimante");
        // Repeating a keyword does not outweigh a subject (terms count once).
        let stuffed = kb.rank("", &"imprimante ".repeat(1_000));
        let once = kb.rank("", "imprimante");
        assert_eq!(stuffed[0].score, once[0].score);
        // An empty base suggests nothing, and #kb finds nothing.
        let empty = KnowledgeBase::default();
        assert!(empty.suggest("imprimante", "").is_empty());
        assert!(empty.get("imprimante").is_none());
    }

    #[test]
    fn ids_are_case_insensitive() {
        let kb = kb();
        assert_eq!(kb.get("Imprimante").unwrap().id, "imprimante");
        assert!(kb.get("imprimante.md").is_none());
    }
}
