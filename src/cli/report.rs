//! `guichet report`: the desk's activity over a period, grouped as asked,
//! as a table, CSV, JSON or one HTML page with charts.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{bail, Context};
use chrono::{Datelike, Duration, NaiveDate, TimeZone};

use super::{load_settings, open_db, Cli};
use crate::clock::Clock;
use crate::config::system_zone;
use crate::report;
use crate::store::report as store;
use crate::ticket::report::{build, measure, utc, By, Period};

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// First day (YYYY-MM-DD, the desk's time zone) [default: 1 January of
    /// this year; with --year, the year of the first ticket]
    #[arg(long, value_name = "DATE")]
    from: Option<String>,
    /// Last day, included [default: today]
    #[arg(long, value_name = "DATE")]
    to: Option<String>,
    /// Group by organisation, queue, type, impact, category, agent, month
    /// or year; repeat it to group by several
    #[arg(long, value_name = "WHAT", value_parser = parse_by)]
    by: Vec<By>,
    /// The yearly report: tickets per year and per member organisation,
    /// since the first ticket
    #[arg(long)]
    year: bool,
    /// table, csv, json or html (one page with charts)
    #[arg(long, default_value = "table", value_parser = ["table", "csv", "json", "html"])]
    format: String,
    /// Write to FILE instead of standard output
    #[arg(long, value_name = "FILE")]
    output: Option<std::path::PathBuf>,
}

fn parse_by(s: &str) -> Result<By, String> {
    By::parse(s).ok_or_else(|| {
        let all: Vec<&str> = By::ALL.iter().map(|b| b.as_str()).collect();
        format!("one of {}", all.join(", "))
    })
}

fn date(s: &str) -> anyhow::Result<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .with_context(|| format!("{s:?} is not a date (YYYY-MM-DD)"))
}

pub(super) fn run(cli: &Cli, args: &ReportArgs) -> anyhow::Result<ExitCode> {
    let settings = load_settings(cli)?;
    let mut conn = open_db(&settings)?;
    let zone = settings.tickets.timezone.unwrap_or_else(system_zone);
    let calendar = &settings.hours.calendar;
    let now = Clock::System.now_naive();
    let today = zone.from_utc_datetime(&now).date_naive();
    let to = match &args.to {
        Some(d) => utc(date(d)? + Duration::days(1), zone),
        None => now,
    };
    let from = match (&args.from, args.year) {
        (Some(d), _) => utc(date(d)?, zone),
        (None, true) => {
            let first = store::first_opened(&mut conn)?.unwrap_or(now);
            let year = zone.from_utc_datetime(&first).year();
            utc(
                NaiveDate::from_ymd_opt(year, 1, 1).expect("1 January"),
                zone,
            )
        }
        (None, false) => utc(
            NaiveDate::from_ymd_opt(today.year(), 1, 1).expect("1 January"),
            zone,
        ),
    };
    if from >= to {
        bail!("the period is empty: --from must come before --to");
    }
    let mut by = args.by.clone();
    if args.year {
        for b in [By::Year, By::Organisation] {
            if !by.contains(&b) {
                by.push(b);
            }
        }
    }
    let period = Period { from, to, now };
    let measured = measure(store::rows(&mut conn, period)?, calendar);
    let report = build(&measured, period, &by, zone);
    let text = match args.format.as_str() {
        "csv" => report::csv(&report),
        "json" => serde_json::to_string_pretty(&report::json(&report))? + "\n",
        "html" => {
            let charts = report::charts(&measured, period, zone);
            let from = &settings.smtp.from;
            let desk = from.name.clone().unwrap_or_else(|| from.email.to_string());
            report::html(&report, &charts, &desk)?
        }
        _ => report::table(&report),
    };
    match &args.output {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?
        }
        None => std::io::stdout().write_all(text.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}
