//! How the desk is organised: its opening hours (`[hours]`), its service
//! levels (`[sla]`) and its member organisations (`[[organisation]]`),
//! read into the domain's types.

use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;

use super::reader::Reader;
use crate::ticket::calendar::{weekday_index, Calendar, Holidays, Hours, Range};
use crate::ticket::policy::Organisation;
use crate::ticket::sla::{Sla, Targets};

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
