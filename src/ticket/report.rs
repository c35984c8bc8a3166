//! The activity report: over a period, per group of tickets (organisation,
//! queue, type, impact, category, agent, month, year, several at once),
//! how many were opened, closed (validated, automatically, by an agent),
//! reopened and left open at the end, how long the first answer and the
//! resolution took (median and 90th percentile, in business time when the
//! desk has hours), and how often the service levels were met. A pure
//! function of the tickets' dates and fields: the store reads them, the
//! command line prints the result.
//!
//! Each count is dated by its own event: a ticket opened in March and
//! closed in April counts as opened in March and closed in April, and the
//! backlog of a month is what was open at its end.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;

use super::calendar::Calendar;
use super::{CloseReason, Impact, TicketType};

string_enum!(
    /// What a report groups tickets by.
    By {
        Organisation => "organisation",
        Queue => "queue",
        Type => "type",
        Impact => "impact",
        Category => "category",
        Agent => "agent",
        Month => "month",
        Year => "year",
    }
);

/// What the report reads of a ticket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub created_at: NaiveDateTime,
    pub closed_at: Option<NaiveDateTime>,
    pub close_reason: Option<CloseReason>,
    /// When its latest solution was proposed.
    pub solved_at: Option<NaiveDateTime>,
    pub first_answered_at: Option<NaiveDateTime>,
    pub first_answer_due: Option<NaiveDateTime>,
    pub resolution_due: Option<NaiveDateTime>,
    pub ticket_type: TicketType,
    pub impact: Option<Impact>,
    pub category: Option<String>,
    pub organisation: Option<String>,
    pub queue: Option<String>,
    /// The assignee's address.
    pub agent: Option<String>,
    pub reopened: u32,
}

impl Row {
    /// When the ticket was resolved: its accepted or unanswered solution,
    /// else its closure.
    fn resolved_at(&self) -> Option<NaiveDateTime> {
        let closed = self.closed_at?;
        Some(self.solved_at.filter(|s| *s <= closed).unwrap_or(closed))
    }
}

/// From `from` (included) to `to` (excluded), in UTC, as known at `now`:
/// nothing after `now` has happened yet (a target due later is neither met
/// nor missed, the backlog of a month to come is not counted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDateTime,
    pub to: NaiveDateTime,
    pub now: NaiveDateTime,
}

impl Period {
    pub fn contains(&self, t: NaiveDateTime) -> bool {
        self.from <= t && t < self.to
    }

    /// Whether `t` is in the period and already past.
    fn passed(&self, t: NaiveDateTime) -> bool {
        self.from <= t && t < self.to.min(self.now)
    }

    /// Its first and last days in `zone` (the last one included).
    pub fn days(&self, zone: Tz) -> (NaiveDate, NaiveDate) {
        (
            local(self.from, zone).date(),
            local(self.to - Duration::seconds(1), zone).date(),
        )
    }
}

/// A median and a 90th percentile (nearest rank) over `count` durations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub count: usize,
    pub median: Option<Duration>,
    pub p90: Option<Duration>,
}

impl Stats {
    fn of(mut seconds: Vec<i64>) -> Stats {
        seconds.sort_unstable();
        let rank = |p: f64| -> Option<Duration> {
            let n = seconds.len();
            if n == 0 {
                return None;
            }
            let i = ((p * n as f64).ceil() as usize).clamp(1, n) - 1;
            Some(Duration::seconds(seconds[i]))
        };
        Stats {
            count: seconds.len(),
            median: rank(0.5),
            p90: rank(0.9),
        }
    }
}

/// How often a service level was met: `met` of `due`, over the targets
/// that fell due in the period (each counted once, when it fell due).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Met {
    pub met: usize,
    pub due: usize,
}

impl Met {
    /// In percent, when some target fell due.
    pub fn percent(&self) -> Option<f64> {
        (self.due > 0).then(|| 100.0 * self.met as f64 / self.due as f64)
    }

    fn count(&mut self, met: bool) {
        self.due += 1;
        self.met += usize::from(met);
    }
}

/// One line of the report: a group's figures.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Line {
    /// The group's value for each `By` of the report, in order; `None`:
    /// none (no organisation, the desk's own queue, nobody's).
    pub key: Vec<Option<String>>,
    pub opened: usize,
    pub validated: usize,
    pub auto: usize,
    pub by_agent: usize,
    /// Tickets opened in the period that were reopened after a closure.
    pub reopened: usize,
    /// Open at the end of the period (of the month or year, for those).
    pub backlog: usize,
    pub first_answer: Stats,
    pub resolution: Stats,
    pub first_answer_met: Met,
    pub resolution_met: Met,
}

impl Line {
    pub fn closed(&self) -> usize {
        self.validated + self.auto + self.by_agent
    }
}

/// The whole report.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub period: Period,
    /// The desk's time zone: months, years and the period's days.
    pub zone: Tz,
    pub by: Vec<By>,
    /// Whether durations are in the desk's opening hours (`[hours]`).
    pub business_time: bool,
    pub lines: Vec<Line>,
    pub total: Line,
}

/// The tickets with their first answer and resolution measured once, in
/// business time when the desk has hours: several reports (the table and
/// each chart) are built from one measure.
#[derive(Clone, Debug)]
pub struct Measured {
    tickets: Vec<Timed>,
    business_time: bool,
}

#[derive(Clone, Debug)]
struct Timed {
    row: Row,
    /// Seconds from opening to the first answer, and to the resolution.
    first_answer: Option<i64>,
    resolution: Option<i64>,
}

/// Measures each ticket's durations on `calendar`.
pub fn measure(rows: Vec<Row>, calendar: &Calendar) -> Measured {
    let start = rows.iter().map(|r| r.created_at).min();
    let end = rows
        .iter()
        .flat_map(|r| [r.first_answered_at, r.resolved_at()])
        .flatten()
        .max();
    let (Some(start), Some(end)) = (start, end) else {
        return Measured {
            tickets: rows
                .into_iter()
                .map(|row| Timed {
                    row,
                    first_answer: None,
                    resolution: None,
                })
                .collect(),
            business_time: matches!(calendar, Calendar::Hours(_)),
        };
    };
    let meter = calendar.meter(start, end);
    let seconds = |from: NaiveDateTime, to: NaiveDateTime| meter.between(from, to).num_seconds();
    Measured {
        tickets: rows
            .into_iter()
            .map(|row| Timed {
                first_answer: row.first_answered_at.map(|a| seconds(row.created_at, a)),
                resolution: row.resolved_at().map(|r| seconds(row.created_at, r)),
                row,
            })
            .collect(),
        business_time: matches!(calendar, Calendar::Hours(_)),
    }
}

/// A group's figures while they are counted.
#[derive(Default)]
struct Acc {
    line: Line,
    first_answer: Vec<i64>,
    resolution: Vec<i64>,
}

/// The report of the measured tickets (every ticket whose life meets the
/// period) over `period`, grouped by `by`; months and years are the
/// desk's, in `zone`.
pub fn build(measured: &Measured, period: Period, by: &[By], zone: Tz) -> Report {
    let rows = &measured.tickets;
    // Without grouping, the total says it all.
    let lines = if by.is_empty() {
        Vec::new()
    } else {
        accumulate(rows, period, by, zone)
            .into_values()
            .map(finish)
            .collect()
    };
    let total = accumulate(rows, period, &[], zone)
        .into_values()
        .next()
        .map(finish)
        .unwrap_or_default();
    Report {
        period,
        zone,
        by: by.to_vec(),
        business_time: measured.business_time,
        lines,
        total,
    }
}

fn finish(acc: Acc) -> Line {
    Line {
        first_answer: Stats::of(acc.first_answer),
        resolution: Stats::of(acc.resolution),
        ..acc.line
    }
}

/// The key of a group: time keys sort in time order, `None` (none) last.
type Key = Vec<(u8, Option<String>)>;

fn accumulate(tickets: &[Timed], period: Period, by: &[By], zone: Tz) -> BTreeMap<Key, Acc> {
    let mut groups: BTreeMap<Key, Acc> = BTreeMap::new();
    let key = |row: &Row, at: NaiveDateTime| -> Key {
        by.iter()
            .map(|b| {
                let v = match b {
                    By::Organisation => row.organisation.clone(),
                    By::Queue => row.queue.clone(),
                    By::Type => Some(row.ticket_type.as_str().to_string()),
                    By::Impact => row.impact.map(|i| i.as_str().to_string()),
                    By::Category => row.category.clone(),
                    By::Agent => row.agent.clone(),
                    By::Month => Some(local(at, zone).format("%Y-%m").to_string()),
                    By::Year => Some(local(at, zone).format("%Y").to_string()),
                };
                (u8::from(v.is_none()), v)
            })
            .collect()
    };
    fn slot(groups: &mut BTreeMap<Key, Acc>, k: Key) -> &mut Acc {
        groups.entry(k.clone()).or_insert_with(|| Acc {
            line: Line {
                key: k.into_iter().map(|(_, v)| v).collect(),
                ..Line::default()
            },
            ..Acc::default()
        })
    }
    let ends = bucket_ends(period, by, zone);
    for timed in tickets {
        let row = &timed.row;
        if period.contains(row.created_at) {
            let acc = slot(&mut groups, key(row, row.created_at));
            acc.line.opened += 1;
            acc.line.reopened += usize::from(row.reopened > 0);
            if let Some(took) = timed.first_answer {
                acc.first_answer.push(took);
            }
        }
        if let Some(closed) = row.closed_at {
            if period.contains(closed) {
                let acc = slot(&mut groups, key(row, closed));
                match row.close_reason {
                    Some(CloseReason::Validated) => acc.line.validated += 1,
                    Some(CloseReason::Auto) => acc.line.auto += 1,
                    Some(CloseReason::Agent) | None => acc.line.by_agent += 1,
                }
                acc.resolution.extend(timed.resolution);
            }
        }
        // Each target where it fell due: met if answered (resolved: a
        // solution given, or the closure) by then.
        if let Some(due) = row.first_answer_due.filter(|d| period.passed(*d)) {
            let met = row.first_answered_at.is_some_and(|a| a <= due);
            slot(&mut groups, key(row, due))
                .line
                .first_answer_met
                .count(met);
        }
        if let Some(due) = row.resolution_due.filter(|d| period.passed(*d)) {
            let met =
                row.solved_at.is_some_and(|s| s <= due) || row.closed_at.is_some_and(|c| c <= due);
            slot(&mut groups, key(row, due))
                .line
                .resolution_met
                .count(met);
        }
        for &end in &ends {
            let open = row.created_at < end && row.closed_at.is_none_or(|c| c >= end);
            if open {
                slot(&mut groups, key(row, end - Duration::seconds(1)))
                    .line
                    .backlog += 1;
            }
        }
    }
    groups
}

/// The instants the backlog is counted at: the end of each month or year
/// of the period when the report is by month or year (the period's end,
/// or now, for the last one), else the period's end (or now).
fn bucket_ends(period: Period, by: &[By], zone: Tz) -> Vec<NaiveDateTime> {
    let end = period.to.min(period.now);
    let step: Option<fn(NaiveDate) -> NaiveDate> = if by.contains(&By::Month) {
        Some(|d| {
            let (y, m) = if d.month() == 12 {
                (d.year() + 1, 1)
            } else {
                (d.year(), d.month() + 1)
            };
            NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(d)
        })
    } else if by.contains(&By::Year) {
        Some(|d| NaiveDate::from_ymd_opt(d.year() + 1, 1, 1).unwrap_or(d))
    } else {
        None
    };
    let Some(step) = step else {
        return vec![end];
    };
    let mut ends = Vec::new();
    let mut day = local(period.from, zone).date();
    // At most 1,200 months (a century of a report by month).
    for _ in 0..1_200 {
        let next = step(day);
        let month_end = utc(next, zone);
        if month_end >= end {
            break;
        }
        ends.push(month_end);
        day = next;
    }
    ends.push(end);
    ends
}

fn local(t: NaiveDateTime, zone: Tz) -> NaiveDateTime {
    zone.from_utc_datetime(&t).naive_local()
}

/// Local midnight of `date`, in UTC (the first instant of a day the clock
/// skips midnight on).
pub fn utc(date: NaiveDate, zone: Tz) -> NaiveDateTime {
    let midnight = date.and_time(chrono::NaiveTime::MIN);
    (0..4)
        .find_map(|h| {
            zone.from_local_datetime(&(midnight + Duration::hours(h)))
                .earliest()
        })
        .map(|t| t.naive_utc())
        .unwrap_or(midnight)
}

/// The first answers' distribution, for a chart: how many tickets opened
/// in the period were first answered within each of `limits` (business
/// time when the desk has hours), then beyond the last; the unanswered
/// are not counted.
pub fn first_answer_distribution(
    measured: &Measured,
    period: Period,
    limits: &[Duration],
) -> Vec<usize> {
    let mut counts = vec![0; limits.len() + 1];
    for t in measured
        .tickets
        .iter()
        .filter(|t| period.contains(t.row.created_at))
    {
        if let Some(took) = t.first_answer.map(Duration::seconds) {
            let slot = limits
                .iter()
                .position(|l| took <= *l)
                .unwrap_or(limits.len());
            counts[slot] += 1;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ticket::calendar::tests::sau;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn row(created: &str) -> Row {
        Row {
            created_at: at(created),
            closed_at: None,
            close_reason: None,
            solved_at: None,
            first_answered_at: None,
            first_answer_due: None,
            resolution_due: None,
            ticket_type: TicketType::Request,
            impact: None,
            category: None,
            organisation: None,
            queue: None,
            agent: None,
            reopened: 0,
        }
    }

    fn closed(mut r: Row, solved: Option<&str>, at_: &str, reason: CloseReason) -> Row {
        r.solved_at = solved.map(at);
        r.closed_at = Some(at(at_));
        r.close_reason = Some(reason);
        r
    }

    const PARIS: Tz = chrono_tz::Europe::Paris;

    /// The year 2026, reported on in 2027.
    fn year_2026() -> Period {
        Period {
            from: utc(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(), PARIS),
            to: utc(NaiveDate::from_ymd_opt(2027, 1, 1).unwrap(), PARIS),
            now: at("2027-01-05 09:00"),
        }
    }

    /// A small desk's year, computed by hand: five tickets of two towns.
    fn desk() -> Vec<Row> {
        let bobigny = |mut r: Row| {
            r.organisation = Some("Ville de Bobigny".into());
            r
        };
        let mut a = bobigny(closed(
            row("2026-03-02 08:00"),
            Some("2026-03-02 10:00"),
            "2026-03-05 09:00",
            CloseReason::Validated,
        ));
        a.first_answered_at = Some(at("2026-03-02 09:00"));
        a.first_answer_due = Some(at("2026-03-02 12:00"));
        a.resolution_due = Some(at("2026-03-03 08:00"));
        let mut b = bobigny(closed(
            row("2026-03-10 08:00"),
            Some("2026-03-12 08:00"),
            "2026-03-19 08:00",
            CloseReason::Auto,
        ));
        b.first_answered_at = Some(at("2026-03-10 12:00"));
        b.first_answer_due = Some(at("2026-03-10 10:00"));
        b.resolution_due = Some(at("2026-03-11 08:00"));
        b.ticket_type = TicketType::Incident;
        let mut c = closed(
            row("2026-04-01 08:00"),
            None,
            "2026-04-01 14:00",
            CloseReason::Agent,
        );
        c.organisation = Some("Syndicat des eaux".into());
        c.first_answered_at = Some(at("2026-04-01 08:30"));
        c.reopened = 1;
        // Opened in 2025, closed in April 2026.
        let mut d = bobigny(closed(
            row("2025-12-20 08:00"),
            Some("2026-04-02 08:00"),
            "2026-04-10 08:00",
            CloseReason::Validated,
        ));
        d.first_answered_at = Some(at("2025-12-21 08:00"));
        // Still open, its resolution target passed in May.
        let mut e = bobigny(row("2026-05-04 08:00"));
        e.resolution_due = Some(at("2026-05-06 08:00"));
        e.first_answer_due = Some(at("2026-05-04 09:00"));
        vec![a, b, c, d, e]
    }

    #[test]
    fn the_figures_of_a_small_desk_computed_by_hand() {
        let r = build(
            &measure(desk(), &Calendar::Always),
            year_2026(),
            &[By::Organisation],
            PARIS,
        );
        assert!(!r.business_time);
        let keys: Vec<_> = r.lines.iter().map(|l| l.key.clone()).collect();
        assert_eq!(
            keys,
            [
                vec![Some("Syndicat des eaux".to_string())],
                vec![Some("Ville de Bobigny".to_string())],
            ]
        );
        let bob = &r.lines[1];
        assert_eq!(
            (
                bob.opened,
                bob.validated,
                bob.auto,
                bob.by_agent,
                bob.backlog
            ),
            (3, 2, 1, 0, 1)
        );
        // First answers of a, b (1 h, 4 h); d's was in 2025's, not counted.
        assert_eq!(bob.first_answer.count, 2);
        assert_eq!(bob.first_answer.median, Some(Duration::hours(1)));
        assert_eq!(bob.first_answer.p90, Some(Duration::hours(4)));
        // Resolutions: a 2 h, b 48 h, d from 2025-12-20 to 2026-04-02.
        assert_eq!(bob.resolution.count, 3);
        assert_eq!(bob.resolution.median, Some(Duration::hours(48)));
        assert_eq!(
            bob.resolution.p90,
            Some(at("2026-04-02 08:00") - at("2025-12-20 08:00"))
        );
        // First answer: a met, b missed, e missed (due, never answered).
        assert_eq!(bob.first_answer_met, Met { met: 1, due: 3 });
        // Resolution: a met (10:00 ≤ next day), b missed (solved 2 days
        // later), e still open past its target.
        assert_eq!(bob.resolution_met, Met { met: 1, due: 3 });
        let eaux = &r.lines[0];
        assert_eq!(
            (eaux.opened, eaux.by_agent, eaux.reopened, eaux.backlog),
            (1, 1, 1, 0)
        );
        assert_eq!(eaux.resolution.median, Some(Duration::hours(6)));
        assert_eq!(
            (r.total.opened, r.total.closed(), r.total.backlog),
            (4, 4, 1)
        );
        assert_eq!(r.total.first_answer_met.percent(), Some(100.0 / 3.0));
    }

    #[test]
    fn months_count_each_event_when_it_happened() {
        let r = build(
            &measure(desk(), &Calendar::Always),
            year_2026(),
            &[By::Month],
            PARIS,
        );
        let get = |m: &str| {
            r.lines
                .iter()
                .find(|l| l.key[0].as_deref() == Some(m))
                .unwrap_or_else(|| panic!("no {m}: {:?}", r.lines))
        };
        // January: nothing opened or closed, d open at its end.
        assert_eq!((get("2026-01").opened, get("2026-01").backlog), (0, 1));
        // March: a and b opened and closed; d still open at its end.
        let march = get("2026-03");
        assert_eq!((march.opened, march.closed(), march.backlog), (2, 2, 1));
        // April: c opened and closed, d closed; nothing open at its end.
        let april = get("2026-04");
        assert_eq!((april.opened, april.closed(), april.backlog), (1, 2, 0));
        // From May, e is open at each month's end, December included.
        assert_eq!(get("2026-05").backlog, 1);
        assert_eq!(get("2026-12").backlog, 1);
        assert_eq!(r.lines.len(), 12, "every month of the year has its line");
    }

    #[test]
    fn durations_are_in_business_time_with_hours() {
        // Opened Friday 16:00 Paris (15:00 UTC), answered Monday 9:00
        // Paris: one hour on Friday, half an hour on Monday.
        let mut r = row("2026-12-04 15:00");
        r.first_answered_at = Some(at("2026-12-07 08:00"));
        let report = build(&measure(vec![r], &sau()), year_2026(), &[], PARIS);
        assert!(report.business_time);
        assert_eq!(
            report.total.first_answer.median,
            Some(Duration::minutes(90))
        );
    }

    #[test]
    fn months_follow_the_desks_clock() {
        // 31 March 23:30 UTC is 1 April in Paris.
        let r = row("2026-03-31 23:30");
        let report = build(
            &measure(vec![r], &Calendar::Always),
            year_2026(),
            &[By::Month, By::Type],
            PARIS,
        );
        let opened: Vec<_> = report
            .lines
            .iter()
            .filter(|l| l.opened > 0)
            .map(|l| l.key.clone())
            .collect();
        assert_eq!(
            opened,
            [vec![
                Some("2026-04".to_string()),
                Some("request".to_string())
            ]]
        );
    }

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let s = Stats::of((1..=10).rev().map(|h| h * 3600).collect());
        assert_eq!(
            (s.median, s.p90),
            (Some(Duration::hours(5)), Some(Duration::hours(9)))
        );
        let one = Stats::of(vec![60]);
        assert_eq!(
            (one.median, one.p90),
            (Some(Duration::minutes(1)), Some(Duration::minutes(1)))
        );
        assert_eq!(Stats::of(Vec::new()), Stats::default());
    }

    #[test]
    fn the_distribution_of_first_answers() {
        let limits = [Duration::hours(1), Duration::hours(4), Duration::days(1)];
        let counts =
            first_answer_distribution(&measure(desk(), &Calendar::Always), year_2026(), &limits);
        // a: 1 h, b: 4 h, c: 30 min; d was opened in 2025, e unanswered.
        assert_eq!(counts, [2, 1, 0, 0]);
    }

    #[test]
    fn what_has_not_happened_yet_is_not_counted() {
        // The year 2026 as known on 4 May at 8:00: e's first answer (due at
        // 9:00) is neither met nor missed, its resolution is not due, and
        // the months to come have no backlog.
        let mut period = year_2026();
        period.now = at("2026-05-04 08:00");
        let r = build(
            &measure(desk(), &Calendar::Always),
            period,
            &[By::Month],
            PARIS,
        );
        assert_eq!(r.total.first_answer_met, Met { met: 1, due: 2 });
        assert_eq!(r.total.resolution_met, Met { met: 1, due: 2 });
        let months: Vec<_> = r.lines.iter().filter_map(|l| l.key[0].clone()).collect();
        assert_eq!(months.last().map(String::as_str), Some("2026-05"));
        // A solution given in time counts as met before the ticket closes.
        let mut solved = row("2026-06-01 08:00");
        solved.resolution_due = Some(at("2026-06-03 08:00"));
        solved.solved_at = Some(at("2026-06-02 08:00"));
        let r = build(
            &measure(vec![solved], &Calendar::Always),
            year_2026(),
            &[],
            PARIS,
        );
        assert_eq!(r.total.resolution_met, Met { met: 1, due: 1 });
    }
}
