//! `guichet purge --closed-before DATE [--dry-run]` and `guichet backup
//! FILE`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use chrono::{NaiveDate, NaiveDateTime, TimeZone};

use super::Cli;
use crate::store::{self, retention, Backend};

#[derive(clap::Args, Debug)]
pub struct PurgeArgs {
    /// Delete the tickets closed before this date (YYYY-MM-DD, midnight in
    /// the desk's time zone, or an RFC 3339 time), with their mail, sent
    /// mail and files
    #[arg(long, value_name = "DATE")]
    closed_before: String,
    /// Count what would be deleted, delete nothing
    #[arg(long)]
    dry_run: bool,
}

#[derive(clap::Args, Debug)]
pub struct BackupArgs {
    /// Where to write the copy (must not exist)
    file: PathBuf,
}

/// DATE as a stored (UTC) time: a day starts at midnight in `tz`.
fn parse_cutoff(text: &str, tz: Option<chrono_tz::Tz>) -> anyhow::Result<NaiveDateTime> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.naive_utc());
    }
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").with_context(|| {
        format!("--closed-before {text:?}: not a date (YYYY-MM-DD) nor an RFC 3339 time")
    })?;
    let midnight = day.and_hms_opt(0, 0, 0).expect("midnight exists");
    let utc = match tz {
        Some(tz) => tz
            .from_local_datetime(&midnight)
            .earliest()
            .map(|t| t.naive_utc())
            .unwrap_or(midnight),
        None => chrono::Local
            .from_local_datetime(&midnight)
            .earliest()
            .map(|t| t.naive_utc())
            .unwrap_or(midnight),
    };
    Ok(utc)
}

pub(crate) fn purge(cli: &Cli, args: &PurgeArgs) -> anyhow::Result<ExitCode> {
    let settings = super::load_settings(cli)?;
    let before = parse_cutoff(&args.closed_before, settings.tickets.timezone)?;
    if before > crate::clock::Clock::System.now_naive() {
        bail!(
            "--closed-before {}: a date in the future",
            args.closed_before
        );
    }
    let mut conn = super::open_db(&settings)?;
    let purged = retention::purge_closed_before(&mut conn, before, args.dry_run)?;
    let verb = if args.dry_run {
        "would delete"
    } else {
        "deleted"
    };
    println!(
        "{verb}: {} ticket(s) closed before {}, {} message(s), {} received mail(s), {} sent mail(s), {} file(s)",
        purged.tickets,
        crate::clock::rfc3339(before),
        purged.messages,
        purged.raw_mails,
        purged.sent_mails,
        purged.files
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn backup(cli: &Cli, args: &BackupArgs) -> anyhow::Result<ExitCode> {
    let settings = super::load_settings(cli)?;
    if Backend::of_url(&settings.database_url) == Some(Backend::Postgres) {
        bail!(
            "the database is PostgreSQL: back it up with pg_dump (for example: pg_dump --format=custom --file={} '{}')",
            args.file.display(),
            store::redact_url(&settings.database_url)
        );
    }
    if args.file.exists() {
        bail!(
            "{} exists already: give a new file name",
            args.file.display()
        );
    }
    let mut conn = super::open_db(&settings)?;
    let size = store::backup_sqlite(&mut conn, &args.file)?;
    println!(
        "backup written: {} ({})",
        args.file.display(),
        human_size(size)
    );
    Ok(ExitCode::SUCCESS)
}

fn human_size(bytes: u64) -> String {
    crate::ticket::text::size_in(bytes, crate::ticket::Language::En)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_starts_at_midnight_in_the_desks_zone() {
        let paris = parse_cutoff("2026-07-01", Some(chrono_tz::Europe::Paris)).unwrap();
        assert_eq!(paris.to_string(), "2026-06-30 22:00:00");
        let exact = parse_cutoff("2026-07-01T08:00:00+02:00", None).unwrap();
        assert_eq!(exact.to_string(), "2026-07-01 06:00:00");
        assert!(parse_cutoff("01/07/2026", None).is_err());
    }
}
