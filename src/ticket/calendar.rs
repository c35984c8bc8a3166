//! The desk's calendar: its opening hours, its national holidays and the
//! days it closes, and the business time they make. When the desk is open,
//! when it opens next (the acknowledgement says so), and the SLA's due
//! times, counted in opening hours. Times are UTC, as stored; the hours
//! are the desk's local times, in its zone.

use chrono::{Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Weekday};
use chrono_tz::Tz;

/// The national holidays the desk closes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holidays {
    None,
    /// The eleven French public holidays (Code du travail, L3133-1).
    France,
}

/// One opening range of a day, in minutes since local midnight: start
/// included, end excluded (1440 is midnight at the end of the day).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Range {
    pub start: u16,
    pub end: u16,
}

impl Range {
    /// "08:30-12:00" (and "24:00" as an end). `None` unless the start
    /// comes before the end.
    pub fn parse(text: &str) -> Option<Range> {
        let (a, b) = text.trim().split_once('-')?;
        let minutes = |t: &str| -> Option<u16> {
            let (h, m) = t.trim().split_once(':')?;
            let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
            (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
        };
        let (start, end) = (minutes(a)?, minutes(b)?);
        (start < end).then_some(Range { start, end })
    }
}

/// Opening hours: each weekday's ranges, the holidays and the closed days.
#[derive(Clone, Debug, PartialEq)]
pub struct Hours {
    /// Monday first; each day's ranges in order, never overlapping.
    pub week: [Vec<Range>; 7],
    pub holidays: Holidays,
    pub closed: Vec<NaiveDate>,
    pub zone: Tz,
}

/// When the desk works.
#[derive(Clone, Debug, PartialEq)]
pub enum Calendar {
    /// No opening hours set: always open, business time is calendar time.
    Always,
    Hours(Hours),
}

/// How far ahead the calendar looks for an opening: a desk closed longer
/// than this has no business time.
const HORIZON_DAYS: i64 = 5 * 366;

impl Calendar {
    /// Whether the desk is open at `at`.
    pub fn is_open(&self, at: NaiveDateTime) -> bool {
        self.next_opening(at) == Some(at)
    }

    /// When the desk is next open, from `at`: `at` itself when it is open
    /// then. `None` when it never opens again within five years.
    pub fn next_opening(&self, at: NaiveDateTime) -> Option<NaiveDateTime> {
        match self {
            Calendar::Always => Some(at),
            Calendar::Hours(h) => h.open_from(at).next().map(|(a, _)| a.max(at)),
        }
    }

    /// The moment `business` of opening time after `start` has passed: a
    /// due time, always within opening hours (at the end of a range at
    /// the latest). A zero duration is the next opening.
    pub fn add(&self, start: NaiveDateTime, business: Duration) -> NaiveDateTime {
        let Calendar::Hours(h) = self else {
            return start + business;
        };
        if business <= Duration::zero() {
            return self.next_opening(start).unwrap_or(start);
        }
        let mut left = business;
        for (a, b) in h.open_from(start) {
            let from = a.max(start);
            let room = b - from;
            if left <= room {
                return from + left;
            }
            left -= room;
        }
        start + business
    }

    /// The opening time between `from` and `to` (zero when `to` is not
    /// after `from`).
    pub fn between(&self, from: NaiveDateTime, to: NaiveDateTime) -> Duration {
        if to <= from {
            return Duration::zero();
        }
        let Calendar::Hours(h) = self else {
            return to - from;
        };
        let mut total = Duration::zero();
        for (a, b) in h.open_from(from) {
            if a >= to {
                break;
            }
            total += b.min(to) - a.max(from);
        }
        total
    }

    /// An average open day, what "1d" of business time is: the week's
    /// opening time over its open days (24 hours when always open).
    pub fn day_length(&self) -> Duration {
        let Calendar::Hours(h) = self else {
            return Duration::hours(24);
        };
        let open = h.week.iter().filter(|d| !d.is_empty()).count() as i64;
        let minutes: i64 = h
            .week
            .iter()
            .flatten()
            .map(|r| i64::from(r.end - r.start))
            .sum();
        if open == 0 {
            Duration::hours(24)
        } else {
            Duration::minutes(minutes / open)
        }
    }

    /// Whether the desk opens at all on this local date (not a weekend
    /// day without hours, a holiday or a closed day).
    pub fn is_business_day(&self, date: NaiveDate) -> bool {
        match self {
            Calendar::Always => true,
            Calendar::Hours(h) => h.opens_on(date),
        }
    }
}

/// Business time measured many times over one stretch of days (a report
/// measures each ticket's first answer and resolution): each local day's
/// open intervals are computed once, with running totals, so that a
/// measure costs two partial days instead of a walk over every day
/// between. It gives what [`Calendar::between`] gives.
#[derive(Clone, Debug)]
pub struct Meter<'a> {
    calendar: &'a Calendar,
    /// The first local day of the stretch.
    first: NaiveDate,
    /// Each day's open intervals, in UTC.
    days: Vec<Vec<(NaiveDateTime, NaiveDateTime)>>,
    /// The open seconds of the days before each one (one more than days).
    before: Vec<i64>,
}

impl Calendar {
    /// A meter for times from `from` to `to` (UTC); times outside are
    /// measured by [`Calendar::between`].
    pub fn meter(&self, from: NaiveDateTime, to: NaiveDateTime) -> Meter<'_> {
        let Calendar::Hours(h) = self else {
            return Meter {
                calendar: self,
                first: from.date(),
                days: Vec::new(),
                before: vec![0],
            };
        };
        let first = h.local(from).date() - Duration::days(1);
        let last = h.local(to.max(from)).date() + Duration::days(1);
        let n = (last - first).num_days().clamp(0, 200 * 366) as usize + 1;
        let mut days = Vec::with_capacity(n);
        let mut before = Vec::with_capacity(n + 1);
        let mut total = 0;
        before.push(0);
        for k in 0..n {
            let d = first + Duration::days(k as i64);
            let open: Vec<(NaiveDateTime, NaiveDateTime)> = if h.opens_on(d) {
                h.week[d.weekday().num_days_from_monday() as usize]
                    .iter()
                    .map(|r| (h.utc(d, r.start), h.utc(d, r.end)))
                    .filter(|(a, b)| a < b)
                    .collect()
            } else {
                Vec::new()
            };
            total += open
                .iter()
                .map(|(a, b)| (*b - *a).num_seconds())
                .sum::<i64>();
            before.push(total);
            days.push(open);
        }
        Meter {
            calendar: self,
            first,
            days,
            before,
        }
    }
}

impl Meter<'_> {
    /// The opening time between `from` and `to` (zero when `to` is not
    /// after `from`), as [`Calendar::between`] measures it.
    pub fn between(&self, from: NaiveDateTime, to: NaiveDateTime) -> Duration {
        if to <= from {
            return Duration::zero();
        }
        let Calendar::Hours(h) = self.calendar else {
            return to - from;
        };
        let index = |t: NaiveDateTime| {
            usize::try_from((h.local(t).date() - self.first).num_days())
                .ok()
                .filter(|&i| i < self.days.len())
        };
        let (Some(i), Some(j)) = (index(from), index(to)) else {
            return self.calendar.between(from, to);
        };
        // Beyond the calendar's horizon, `between` stops counting.
        if (j - i) as i64 >= HORIZON_DAYS - 1 {
            return self.calendar.between(from, to);
        }
        let within = |k: usize| -> Duration {
            self.days[k]
                .iter()
                .map(|&(a, b)| (b.min(to) - a.max(from)).max(Duration::zero()))
                .sum()
        };
        if i == j {
            within(i)
        } else {
            within(i) + Duration::seconds(self.before[j] - self.before[i + 1]) + within(j)
        }
    }
}

impl Hours {
    fn opens_on(&self, date: NaiveDate) -> bool {
        let closed = self.week[date.weekday().num_days_from_monday() as usize].is_empty()
            || self.closed.contains(&date)
            || (self.holidays == Holidays::France && is_french_holiday(date));
        !closed
    }

    /// The open intervals (UTC, start included, end excluded) that end
    /// after `at`, in order, within the horizon.
    fn open_from(
        &self,
        at: NaiveDateTime,
    ) -> impl Iterator<Item = (NaiveDateTime, NaiveDateTime)> + '_ {
        // The day before too: a zone west of UTC has its evening hours
        // on the next UTC date.
        let first = self.zone.from_utc_datetime(&at).date_naive() - Duration::days(1);
        (0..HORIZON_DAYS)
            .map(move |k| first + Duration::days(k))
            .filter(|d| self.opens_on(*d))
            .flat_map(move |d| {
                self.week[d.weekday().num_days_from_monday() as usize]
                    .iter()
                    .map(move |r| (self.utc(d, r.start), self.utc(d, r.end)))
            })
            .filter(move |&(a, b)| a < b && b > at)
    }

    /// A local date and minute of the day, in UTC. A time that the clock
    /// skips (spring forward) is taken an hour later; a time it shows
    /// twice (fall back), the first time.
    fn utc(&self, date: NaiveDate, minute: u16) -> NaiveDateTime {
        let local = date.and_time(chrono::NaiveTime::MIN) + Duration::minutes(i64::from(minute));
        match self.zone.from_local_datetime(&local) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.naive_utc(),
            LocalResult::None => match self.zone.from_local_datetime(&(local + Duration::hours(1)))
            {
                LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.naive_utc(),
                LocalResult::None => local,
            },
        }
    }

    /// `at` (UTC) in the desk's local time.
    pub fn local(&self, at: NaiveDateTime) -> NaiveDateTime {
        self.zone.from_utc_datetime(&at).naive_local()
    }
}

/// Easter Sunday of a Gregorian year (the anonymous algorithm published
/// in Nature, 1876, also known as Meeus/Jones/Butcher).
pub fn easter(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).expect("Easter is a date")
}

/// The French public holidays of a year: eight fixed dates, and Easter
/// Monday, Ascension Thursday and Whit Monday from Easter.
pub fn french_holidays(year: i32) -> [NaiveDate; 11] {
    let fixed = |m: u32, d: u32| NaiveDate::from_ymd_opt(year, m, d).expect("a fixed holiday");
    let easter = easter(year);
    [
        fixed(1, 1),
        easter + Duration::days(1),
        fixed(5, 1),
        fixed(5, 8),
        easter + Duration::days(39),
        easter + Duration::days(50),
        fixed(7, 14),
        fixed(8, 15),
        fixed(11, 1),
        fixed(11, 11),
        fixed(12, 25),
    ]
}

fn is_french_holiday(date: NaiveDate) -> bool {
    french_holidays(date.year()).contains(&date)
}

/// A weekday's index in [`Hours::week`], from its English name.
pub fn weekday_index(name: &str) -> Option<usize> {
    let day: Weekday = name.parse().ok()?;
    Some(day.num_days_from_monday() as usize)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("a time")
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a date")
    }

    /// The seed desk's hours: weekdays 8:30-12:00 and 13:30-17:00, in
    /// Paris, French holidays, closed on Christmas Eve.
    pub(crate) fn sau() -> Calendar {
        let day = || {
            vec![
                Range::parse("08:30-12:00").unwrap(),
                Range::parse("13:30-17:00").unwrap(),
            ]
        };
        Calendar::Hours(Hours {
            week: [day(), day(), day(), day(), day(), Vec::new(), Vec::new()],
            holidays: Holidays::France,
            closed: vec![date("2026-12-24")],
            zone: chrono_tz::Europe::Paris,
        })
    }

    #[test]
    fn easter_sundays() {
        for (year, day) in [
            (2024, "2024-03-31"),
            (2025, "2025-04-20"),
            (2026, "2026-04-05"),
            (2027, "2027-03-28"),
            (2028, "2028-04-16"),
            (2038, "2038-04-25"),
            (2285, "2285-03-22"),
            (1943, "1943-04-25"),
        ] {
            assert_eq!(easter(year), date(day), "{year}");
        }
    }

    #[test]
    fn french_holidays_of_2026_and_2027() {
        let h = french_holidays(2026);
        for d in [
            "2026-01-01",
            "2026-04-06",
            "2026-05-01",
            "2026-05-08",
            "2026-05-14",
            "2026-05-25",
            "2026-07-14",
            "2026-08-15",
            "2026-11-01",
            "2026-11-11",
            "2026-12-25",
        ] {
            assert!(h.contains(&date(d)), "{d}");
        }
        // 2027: Easter on 28 March, Ascension on 6 May, Whit Monday on 17 May.
        let h = french_holidays(2027);
        for d in ["2027-03-29", "2027-05-06", "2027-05-17"] {
            assert!(h.contains(&date(d)), "{d}");
        }
        assert!(
            !h.contains(&date("2027-03-28")),
            "Easter Sunday is a Sunday anyway"
        );
        assert!(
            !h.contains(&date("2027-12-26")),
            "26 December is only in Alsace-Moselle"
        );
    }

    #[test]
    fn ranges_parse() {
        assert_eq!(
            Range::parse("08:30-12:00"),
            Some(Range {
                start: 510,
                end: 720
            })
        );
        assert_eq!(
            Range::parse(" 13:30 - 24:00 "),
            Some(Range {
                start: 810,
                end: 1440
            })
        );
        for bad in [
            "12:00-08:30",
            "08:30-08:30",
            "8h30-12h",
            "25:00-26:00",
            "08:60-09:00",
            "08:30",
        ] {
            assert_eq!(Range::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn open_and_next_opening_in_paris() {
        let c = sau();
        // Saturday 5 December 2026, 22:00 in Paris (21:00 UTC): Monday 8:30.
        assert!(!c.is_open(at("2026-12-05 21:00")));
        assert_eq!(
            c.next_opening(at("2026-12-05 21:00")),
            Some(at("2026-12-07 07:30"))
        );
        // Tuesday 10:00 in Paris: open.
        assert!(c.is_open(at("2026-12-08 09:00")));
        // Lunch: opens at 13:30.
        assert_eq!(
            c.next_opening(at("2026-12-08 11:15")),
            Some(at("2026-12-08 12:30"))
        );
        // The end of a range is closed.
        assert!(!c.is_open(at("2026-12-08 16:00")));
        // Wednesday 23 December after 17:00: the 24th is closed, the 25th
        // a holiday, then the weekend: Monday 28th.
        assert_eq!(
            c.next_opening(at("2026-12-23 17:00")),
            Some(at("2026-12-28 07:30"))
        );
        // Summer time: 8:30 in Paris is 6:30 UTC; Ascension Thursday 2026 closed.
        assert_eq!(
            c.next_opening(at("2026-05-13 16:00")),
            Some(at("2026-05-15 06:30"))
        );
    }

    #[test]
    fn business_time_adds_over_lunch_nights_weekends_and_holidays() {
        let c = sau();
        // Friday 11:00 in Paris + 1 h: 12:00, the end of the morning.
        assert_eq!(
            c.add(at("2026-12-04 10:00"), Duration::hours(1)),
            at("2026-12-04 11:00")
        );
        // Friday 11:30 Paris + 1 h: 30 min before lunch, 30 after: 14:00.
        assert_eq!(
            c.add(at("2026-12-04 10:30"), Duration::hours(1)),
            at("2026-12-04 13:00")
        );
        // Friday 16:30 Paris + 2 h: 30 min, then Monday 8:30 + 1h30 = 10:00.
        assert_eq!(
            c.add(at("2026-12-04 15:30"), Duration::hours(2)),
            at("2026-12-07 09:00")
        );
        // Saturday + 1 h: Monday 9:30.
        assert_eq!(
            c.add(at("2026-12-05 10:00"), Duration::hours(1)),
            at("2026-12-07 08:30")
        );
        // A business day is 7 hours.
        assert_eq!(
            c.between(at("2026-12-07 00:00"), at("2026-12-08 00:00")),
            Duration::hours(7)
        );
        assert_eq!(
            c.between(at("2026-12-05 00:00"), at("2026-12-07 00:00")),
            Duration::zero()
        );
        // Always open: calendar time.
        assert_eq!(
            Calendar::Always.add(at("2026-12-05 10:00"), Duration::hours(1)),
            at("2026-12-05 11:00")
        );
        assert!(c.is_business_day(date("2026-12-07")));
        assert!(!c.is_business_day(date("2026-12-25")));
        assert!(!c.is_business_day(date("2026-12-24")));
    }

    #[test]
    fn a_desk_west_of_utc_and_one_open_around_the_clock() {
        let day = || vec![Range::parse("09:00-18:00").unwrap()];
        let c = Calendar::Hours(Hours {
            week: [day(), day(), day(), day(), day(), Vec::new(), Vec::new()],
            holidays: Holidays::None,
            closed: Vec::new(),
            zone: chrono_tz::America::Montreal,
        });
        // Friday 18:00 in Montreal is 23:00 UTC; Monday 9:00 is 14:00 UTC.
        assert_eq!(
            c.next_opening(at("2026-12-04 23:30")),
            Some(at("2026-12-07 14:00"))
        );
        assert!(c.is_open(at("2026-12-04 22:59")));
        assert!(!c.is_open(at("2026-12-04 23:00")));
        let all = || vec![Range::parse("00:00-24:00").unwrap()];
        let c = Calendar::Hours(Hours {
            week: [all(), all(), all(), all(), all(), all(), all()],
            holidays: Holidays::None,
            closed: Vec::new(),
            zone: chrono_tz::UTC,
        });
        assert_eq!(
            c.add(at("2026-12-05 10:00"), Duration::days(3)),
            at("2026-12-08 10:00")
        );
    }

    fn any_start() -> impl Strategy<Value = NaiveDateTime> {
        // Any minute of 2025-2028 (summer time changes, Easter moves).
        (0i64..4 * 366 * 1440).prop_map(|m| at("2025-01-01 00:00") + Duration::minutes(m))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Adding business time, then measuring it, gives it back; the
        /// due time is within opening hours.
        #[test]
        fn adding_then_measuring_gives_the_duration_back(
            start in any_start(),
            minutes in 1i64..60 * 24 * 30,
        ) {
            let c = sau();
            let d = Duration::minutes(minutes);
            let due = c.add(start, d);
            prop_assert_eq!(c.between(start, due), d);
            // Within hours: open just before it.
            prop_assert!(c.is_open(due - Duration::minutes(1)), "due {} not in opening hours", due);
            prop_assert!(due > start);
        }

        /// A meter measures as the calendar does, inside and outside its
        /// stretch, to the second (times are given to the second).
        #[test]
        fn a_meter_measures_as_the_calendar(
            start in any_start(),
            seconds in 0i64..90 * 86_400,
            back in -86_400i64..86_400,
        ) {
            let c = sau();
            let from = start + Duration::seconds(back.rem_euclid(60) + 7);
            let to = from + Duration::seconds(seconds);
            let meter = c.meter(at("2025-06-01 00:00"), at("2028-06-01 00:00"));
            prop_assert_eq!(meter.between(from, to), c.between(from, to));
            prop_assert_eq!(meter.between(to, from), Duration::zero());
            let always = Calendar::Always;
            prop_assert_eq!(always.meter(from, to).between(from, to), to - from);
        }

        /// The next opening is open, and nothing before it is.
        #[test]
        fn the_next_opening_is_the_first_open_minute(start in any_start()) {
            let c = sau();
            let next = c.next_opening(start).expect("it opens");
            prop_assert!(c.is_open(next));
            prop_assert_eq!(c.between(start, next), Duration::zero());
        }
    }
}
