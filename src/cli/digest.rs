//! `guichet digest [--dry-run]`: the agents' digest now, as the daemon
//! sends it each morning at `[digest] at`.

use std::process::ExitCode;

use super::{admin::send_now, load_settings, open_db, Cli};
use crate::app::{digest, Desk};
use crate::clock::Clock;

#[derive(clap::Args, Debug)]
pub struct DigestArgs {
    /// Print each digest (recipients, subject, text) instead of sending
    #[arg(long)]
    dry_run: bool,
}

pub(super) fn run(cli: &Cli, args: &DigestArgs) -> anyhow::Result<ExitCode> {
    let settings = load_settings(cli)?;
    let mut conn = open_db(&settings)?;
    let desk = Desk::new(settings.clone())?;
    let clock = Clock::System;
    let readers = digest::readers(&mut conn, &desk)?;
    if readers.is_empty() {
        anyhow::bail!(
            "nobody to send a digest to: no agent (guichet agents add) and no [digest] to"
        );
    }
    let digests = digest::compose(&mut conn, &desk, &readers, clock.now_naive())?;
    if args.dry_run {
        for d in &digests {
            println!("To: {}", d.to.join(", "));
            println!("Subject: {}", d.mail.subject);
            println!();
            println!("{}", d.mail.body.trim_end());
            println!();
        }
        return Ok(ExitCode::SUCCESS);
    }
    let queued = digest::enqueue(&mut conn, &desk, &digests, false, &clock)?;
    let empty = digests.iter().filter(|d| d.empty).count();
    println!("{queued} digest(s) queued ({empty} with nothing in them, not sent)");
    send_now(&mut conn, settings)?;
    Ok(ExitCode::SUCCESS)
}
