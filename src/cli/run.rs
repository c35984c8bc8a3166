//! `guichet run [--once [--now RFC3339]]`

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};

use super::Cli;
use crate::app::Desk;
use crate::clock::Clock;

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// One full cycle (fetch, process, scheduler, send), then exit
    #[arg(long)]
    pub once: bool,
    /// With --once: the time the cycle runs at (RFC 3339), instead of the real clock
    #[arg(long, requires = "once", value_name = "RFC3339")]
    pub now: Option<String>,
}

pub(super) fn run(cli: &Cli, args: &RunArgs) -> anyhow::Result<ExitCode> {
    let settings = super::load_settings(cli)?;
    // The daemon talks to IMAP and SMTP: a password file it cannot read
    // is an invalid configuration, said before it starts.
    settings
        .secrets_readable()
        .map_err(|problems| crate::config::ConfigError {
            path: crate::config::resolve_path(cli.config.as_deref()),
            problems,
        })?;
    let clock = match &args.now {
        Some(text) => Clock::Fixed(
            DateTime::parse_from_rfc3339(text)
                .with_context(|| format!("--now {text:?} is not an RFC 3339 time"))?
                .with_timezone(&Utc),
        ),
        None => Clock::System,
    };
    let desk = Arc::new(Desk::new(settings)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        if args.once {
            crate::daemon::run_once(desk, clock).await
        } else {
            crate::daemon::run(
                desk,
                clock,
                crate::config::resolve_path(cli.config.as_deref()),
            )
            .await
        }
    })?;
    Ok(ExitCode::SUCCESS)
}
