//! How the desk is organised: its opening hours (`[hours]`), its service
//! levels (`[sla]`), its member organisations (`[[organisation]]`), its
//! queues (`[[queue]]`), its routing rules (`[[rule]]`) and its knowledge
//! base (`[kb]`), read into the domain's types.

use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;

use super::reader::Reader;
use crate::inbound::rules::{compile, Field, Rule, Sets};
use crate::ticket::calendar::{weekday_index, Calendar, Holidays, Hours, Range};
use crate::ticket::kb::{Article, KnowledgeBase};
use crate::ticket::policy::{Organisation, Queue};
use crate::ticket::sla::{Sla, Targets};
use crate::ticket::{Impact, TicketType};

/// `[hours]`.
#[derive(Clone, Debug)]
pub struct HoursSettings {
    pub calendar: Calendar,
    /// Who to call when the desk is closed (on-call service, urgent
    /// number), said by the acknowledgement then.
    pub urgent: Option<String>,
}

const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// `[hours]`: absent, the desk is always open.
pub(super) fn hours(root: &mut Reader, zone: Tz) -> HoursSettings {
    let mut r = root.section("hours");
    if !r.is_present() {
        r.finish();
        return HoursSettings {
            calendar: Calendar::Always,
            urgent: None,
        };
    }
    let mut week: [Vec<Range>; 7] = Default::default();
    for day in WEEKDAYS {
        let i = weekday_index(day).expect("an English weekday");
        let Some(ranges) = r.opt_string_list(day) else {
            continue;
        };
        let mut parsed = Vec::new();
        for (k, text) in ranges.iter().enumerate() {
            match Range::parse(text) {
                Some(range) => parsed.push(range),
                None => r.problem(
                    &format!("{day}[{k}]"),
                    &format!("{text:?} is not a range such as \"08:30-12:00\""),
                ),
            }
        }
        parsed.sort();
        if parsed.windows(2).any(|w| w[0].end > w[1].start) {
            r.problem(day, "ranges overlap");
        }
        week[i] = parsed;
    }
    if week.iter().all(Vec::is_empty) {
        r.problem(
            "monday",
            "no opening hours on any day: give each open weekday its ranges, e.g. monday = [\"08:30-12:00\", \"13:30-17:00\"]",
        );
    }
    let holidays = match r.string_or("holidays", "none").as_str() {
        "fr" => Holidays::France,
        "none" => Holidays::None,
        _ => {
            r.problem("holidays", "must be \"fr\" or \"none\"");
            Holidays::None
        }
    };
    let mut closed = Vec::new();
    for (k, text) in r
        .opt_string_list("closed")
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(d) => closed.push(d),
            Err(_) => r.problem(
                &format!("closed[{k}]"),
                &format!("{text:?} is not a date YYYY-MM-DD"),
            ),
        }
    }
    let urgent = r.opt_string("urgent").filter(|s| !s.trim().is_empty());
    r.finish();
    HoursSettings {
        calendar: Calendar::Hours(Hours {
            week,
            holidays,
            closed,
            zone,
        }),
        urgent,
    }
}

/// `[sla]`: targets per impact, in business time ("4h", "2d": a day is
/// the desk's average open day).
pub(super) fn sla(root: &mut Reader, calendar: &Calendar) -> Option<Sla> {
    let mut r = root.section("sla");
    if !r.is_present() {
        r.finish();
        return None;
    }
    let day = calendar.day_length();
    let targets = |r: &mut Reader, key: &str| -> Targets {
        let Some(mut t) = r.inline(key) else {
            return Targets::default();
        };
        let mut one = |name: &str| {
            let text = t.opt_string(name)?;
            let d = business_duration(&text, day);
            if d.is_none() {
                t.problem(
                    name,
                    &format!("{text:?} is not a duration such as \"4h\", \"30m\" or \"2d\""),
                );
            }
            d
        };
        let out = Targets {
            blocking: one("blocking"),
            important: one("important"),
            normal: one("normal"),
        };
        t.finish();
        out
    };
    let first_answer = targets(&mut r, "first_answer");
    let resolution = targets(&mut r, "resolution");
    let warn_before = match r.opt_string("warn_before") {
        None => Duration::minutes(30),
        Some(text) => business_duration(&text, day).unwrap_or_else(|| {
            r.problem(
                "warn_before",
                &format!("{text:?} is not a duration such as \"30m\""),
            );
            Duration::minutes(30)
        }),
    };
    if first_answer == Targets::default() && resolution == Targets::default() {
        r.problem(
            "first_answer",
            "no target: set first_answer and/or resolution per impact",
        );
    }
    r.finish();
    Some(Sla {
        first_answer,
        resolution,
        warn_before,
    })
}

/// "1h30m", "2d", "45m", "1d 4h": days are business days of `day`.
pub fn business_duration(text: &str, day: Duration) -> Option<Duration> {
    let mut total = Duration::zero();
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let n: i32 = rest[..digits].parse().ok()?;
        rest = rest[digits..].trim_start();
        let unit = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        total += match &rest[..unit] {
            "m" | "min" => Duration::minutes(n.into()),
            "h" => Duration::hours(n.into()),
            "d" => day * n,
            _ => return None,
        };
        rest = rest[unit..].trim_start();
    }
    (total > Duration::zero()).then_some(total)
}

/// `[[organisation]]`: each a name and its mail domains.
pub(super) fn organisations(root: &mut Reader) -> Vec<Organisation> {
    let mut out: Vec<Organisation> = Vec::new();
    for mut r in root.tables("organisation") {
        let name = r.string("name");
        if !name.is_empty() && out.iter().any(|o| o.name == name) {
            r.problem("name", &format!("{name:?} is listed twice"));
        }
        let mut domains = Vec::new();
        for (k, d) in r
            .opt_string_list("domains")
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let d = d.trim().trim_start_matches('@').to_ascii_lowercase();
            let valid = d.contains('.')
                && !d.starts_with('.')
                && d.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
            if !valid {
                r.problem(
                    &format!("domains[{k}]"),
                    &format!("{d:?} is not a mail domain"),
                );
            } else if let Some(o) = out.iter().find(|o| o.domains.contains(&d)) {
                r.problem(
                    &format!("domains[{k}]"),
                    &format!("{d} is already {:?}'s", o.name),
                );
            } else {
                domains.push(d);
            }
        }
        if domains.is_empty() {
            r.problem("domains", "must list the organisation's mail domains");
        }
        r.finish();
        out.push(Organisation { name, domains });
    }
    out
}

/// A queue's or a mailbox's name: one word (letters, digits, - or _).
/// Empty is reported as missing elsewhere.
pub(super) fn is_one_word(name: &str) -> bool {
    name.chars()
        .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
}

/// `[[queue]]`: each a name, the addresses that route to it, where its
/// tickets are told.
pub(super) fn queues(root: &mut Reader) -> Vec<Queue> {
    let mut out: Vec<Queue> = Vec::new();
    for mut r in root.tables("queue") {
        let name = r.string("name");
        if !is_one_word(&name) {
            r.problem("name", "must be one word (letters, digits, - or _)");
        } else if out.iter().any(|q| q.name.eq_ignore_ascii_case(&name)) {
            r.problem("name", &format!("{name:?} is listed twice"));
        }
        let addresses = r.address_list("addresses");
        for a in &addresses {
            if let Some(q) = out.iter().find(|q| q.addresses.contains(a)) {
                r.problem("addresses", &format!("{a} already routes to {:?}", q.name));
            }
        }
        let agent_notify = r.address_list("agent_notify");
        let subject_tag = r.opt_string("subject_tag");
        if let Some(tag) = &subject_tag {
            if tag.is_empty()
                || !tag
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                r.problem("subject_tag", "must be letters, digits, - or _");
            }
        }
        r.finish();
        out.push(Queue {
            name,
            addresses,
            agent_notify,
            subject_tag,
        });
    }
    out
}

/// `[[rule]]`: conditions (`if_subject`, `if_body`, `if_from`, `if_to`,
/// case-insensitive regexes, all of which must match) and what it sets
/// (`set_category`, `set_type`, `set_impact`, `set_queue`,
/// `set_organisation`).
pub(super) fn rules(
    root: &mut Reader,
    queues: &[Queue],
    organisations: &[Organisation],
) -> Vec<Rule> {
    let mut out = Vec::new();
    for (i, mut r) in root.tables("rule").into_iter().enumerate() {
        let mut conditions = Vec::new();
        for (key, field) in [
            ("if_subject", Field::Subject),
            ("if_body", Field::Body),
            ("if_from", Field::From),
            ("if_to", Field::To),
        ] {
            let Some(pattern) = r.opt_string(key) else {
                continue;
            };
            match compile(&pattern) {
                Ok(re) => conditions.push((field, re)),
                Err(e) => {
                    let e = e.to_string();
                    let last = e.lines().last().unwrap_or("").trim().to_string();
                    r.problem(key, &format!("not a valid regex: {last}"));
                }
            }
        }
        let ticket_type = r.opt_string("set_type").and_then(|t| {
            TicketType::parse(&t).or_else(|| {
                r.problem(
                    "set_type",
                    "must be \"request\", \"incident\" or \"information\"",
                );
                None
            })
        });
        let impact = r.opt_string("set_impact").and_then(|t| {
            Impact::parse(&t).or_else(|| {
                r.problem(
                    "set_impact",
                    "must be \"blocking\", \"important\" or \"normal\"",
                );
                None
            })
        });
        let queue = r.opt_string("set_queue").and_then(|q| {
            match queues.iter().find(|x| x.name.eq_ignore_ascii_case(&q)) {
                Some(x) => Some(x.name.clone()),
                None => {
                    r.problem("set_queue", &format!("no [[queue]] is named {q:?}"));
                    None
                }
            }
        });
        let organisation = r.opt_string("set_organisation").and_then(|o| {
            if organisations.is_empty() || organisations.iter().any(|x| x.name == o) {
                Some(o)
            } else {
                r.problem(
                    "set_organisation",
                    &format!("no [[organisation]] is named {o:?}"),
                );
                None
            }
        });
        let sets = Sets {
            category: r
                .opt_string("set_category")
                .filter(|c| !c.trim().is_empty()),
            ticket_type,
            impact,
            queue,
            organisation,
        };
        if conditions.is_empty() {
            r.problem(
                "if_subject",
                "a rule needs a condition: if_subject, if_body, if_from or if_to",
            );
        }
        if sets == Sets::default() {
            r.problem(
                "set_category",
                "a rule needs something to set: set_category, set_type, set_impact, set_queue or set_organisation",
            );
        }
        r.finish();
        out.push(Rule {
            number: i + 1,
            conditions,
            sets,
        });
    }
    out
}

/// The system's time zone, for a desk that names none: `TZ`, then
/// `/etc/timezone`, then the zone `/etc/localtime` links to; UTC when none
/// of them says.
pub fn system_zone() -> Tz {
    let named = std::env::var("TZ")
        .ok()
        .map(|tz| tz.trim_start_matches(':').to_string())
        .or_else(|| std::fs::read_to_string("/etc/timezone").ok())
        .or_else(|| {
            let link = std::fs::read_link("/etc/localtime").ok()?;
            let link = link.to_string_lossy().into_owned();
            Some(link.split_once("zoneinfo/")?.1.to_string())
        });
    named
        .and_then(|n| n.trim().parse::<Tz>().ok())
        .unwrap_or(chrono_tz::UTC)
}

/// `[kb]`: the knowledge base.
#[derive(Clone, Debug, Default)]
pub struct KbSettings {
    /// Where the articles are (`ID.md`); `None`: no knowledge base.
    pub dir: Option<std::path::PathBuf>,
    /// The articles, read and indexed when the configuration is.
    pub base: std::sync::Arc<KnowledgeBase>,
}

/// An article larger than this is refused: it is a page to read in a
/// mail, not a manual.
const MAX_ARTICLE_BYTES: u64 = 256 * 1024;
/// At most this many articles are read from `[kb] dir`.
const MAX_ARTICLES: usize = 10_000;

/// `[kb]`: reads every `*.md` of `dir` (each problem reported with its
/// file), `suggest` (0: none), `min_score`, and `link`, a URL with `{id}`
/// given to the articles whose front matter has none.
pub(super) fn kb(root: &mut Reader) -> KbSettings {
    let mut r = root.section("kb");
    let dir = r.existing_dir("dir");
    let suggest = r.number_or("suggest", 3, 20) as usize;
    let min_score = r.real_or("min_score", crate::ticket::kb::DEFAULT_MIN_SCORE);
    let link = r.opt_string("link");
    if link.as_ref().is_some_and(|l| !l.contains("{id}")) {
        r.problem("link", "must contain {id}, where the article's name goes");
    }
    let mut articles: Vec<Article> = Vec::new();
    if let Some(dir) = dir.as_ref().filter(|d| d.is_dir()) {
        let mut files: Vec<std::path::PathBuf> = match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "md") && p.is_file())
                .collect(),
            Err(e) => {
                r.problem("dir", &format!("{}: {e}", dir.display()));
                Vec::new()
            }
        };
        files.sort();
        if files.len() > MAX_ARTICLES {
            r.problem(
                "dir",
                &format!("{} articles: at most {MAX_ARTICLES}", files.len()),
            );
            files.truncate(MAX_ARTICLES);
        }
        for path in files {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            let id = name.strip_suffix(".md").unwrap_or(&name);
            let size = path.metadata().map(|m| m.len()).unwrap_or(0);
            if size > MAX_ARTICLE_BYTES {
                r.problem(
                    "dir",
                    &format!("{name}: {size} bytes, at most {MAX_ARTICLE_BYTES}"),
                );
                continue;
            }
            let parsed = std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| String::from_utf8(b).map_err(|_| "not UTF-8 text".to_string()))
                .and_then(|text| Article::parse(id, &text));
            match parsed {
                Ok(mut a) => {
                    if articles.iter().any(|b| b.id == a.id) {
                        r.problem(
                            "dir",
                            &format!("{name}: another article is named {:?}", a.id),
                        );
                        continue;
                    }
                    if a.link.is_none() {
                        a.link = link.as_ref().map(|l| l.replace("{id}", &a.id));
                    }
                    articles.push(a);
                }
                Err(why) => r.problem("dir", &format!("{name}: {why}")),
            }
        }
    }
    r.finish();
    KbSettings {
        dir,
        base: std::sync::Arc::new(KnowledgeBase::new(articles, suggest, min_score)),
    }
}

/// `[digest]`: when the daemon sends the agents' digest, and to whom.
#[derive(Clone, Debug, Default)]
pub struct DigestSettings {
    /// The desk's local time, on business days; `None`: only on demand
    /// (`guichet digest`, `#digest`).
    pub at: Option<chrono::NaiveTime>,
    /// One digest of every ticket to these addresses; empty: one to each
    /// agent, of their tickets.
    pub to: Vec<String>,
}

/// `[digest] at = "08:15"`, `to = [...]`.
pub(super) fn digest(root: &mut Reader) -> DigestSettings {
    let mut r = root.section("digest");
    let at = r.opt_string("at").and_then(|text| {
        let parsed = chrono::NaiveTime::parse_from_str(&text, "%H:%M").ok();
        if parsed.is_none() {
            r.problem("at", "must be a time of day such as \"08:15\"");
        }
        parsed
    });
    let to = r.address_list("to");
    r.finish();
    DigestSettings { at, to }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn business_durations() {
        let day = Duration::hours(7);
        assert_eq!(business_duration("4h", day), Some(Duration::hours(4)));
        assert_eq!(business_duration("2d", day), Some(Duration::hours(14)));
        assert_eq!(business_duration("1h30m", day), Some(Duration::minutes(90)));
        assert_eq!(business_duration("1d 4h", day), Some(Duration::hours(11)));
        assert_eq!(business_duration("45min", day), Some(Duration::minutes(45)));
        for bad in ["", "h", "4", "4 hours", "-1h", "0h", "1w"] {
            assert_eq!(business_duration(bad, day), None, "{bad}");
        }
    }
}
