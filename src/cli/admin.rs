//! `guichet agents …`, `guichet watchers …`, `guichet outbox list`.

use std::process::ExitCode;

use anyhow::bail;
use serde_json::json;

use super::tickets::parse_number;
use super::Cli;
use crate::app;
use crate::clock::rfc3339;
use crate::clock::Clock;
use crate::outbound::relay::name as relay_name;
use crate::store::{agents as agent_store, outbox as outbox_store};

#[derive(clap::Subcommand, Debug)]
pub enum AgentsCommand {
    /// Make EMAIL an agent (or rename one)
    Add {
        email: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// List the agents
    List,
    /// EMAIL is no longer an agent
    Remove { email: String },
}

#[derive(clap::Subcommand, Debug)]
pub enum WatchersCommand {
    /// EMAIL receives the notifications of ticket N
    Add { number: String, email: String },
    /// EMAIL no longer follows ticket N
    Remove { number: String, email: String },
}

#[derive(clap::Subcommand, Debug)]
pub enum OutboxCommand {
    /// Outgoing mail, newest first, and its state
    List {
        #[arg(long)]
        json: bool,
    },
    /// Send now: the given rows (even failed or held ones), or every
    /// pending one, with whatever else is due; what the relay does not
    /// take waits for the daemon, as before
    Retry {
        /// Outbox row ids (from `outbox list`)
        ids: Vec<i64>,
    },
}

#[derive(clap::Subcommand, Debug)]
pub enum FailedCommand {
    /// Mail that could not be read or processed, with why
    List {
        #[arg(long)]
        json: bool,
    },
    /// Process a failed mail again (after a fix); it stays failed if it
    /// still cannot be processed
    Retry {
        /// Raw mail id (from `failed list`)
        id: i64,
    },
}

fn check_address(email: &str) -> anyhow::Result<String> {
    match email.parse::<lettre::Address>() {
        Ok(a) => Ok(a.to_string().to_lowercase()),
        Err(_) => bail!("{email:?} is not an email address"),
    }
}

pub(super) fn agents(cli: &Cli, cmd: &AgentsCommand) -> anyhow::Result<ExitCode> {
    let settings = super::load_settings(cli)?;
    let mut conn = super::open_db(&settings)?;
    match cmd {
        AgentsCommand::Add { email, name } => {
            let email = check_address(email)?;
            let now = Clock::System.now_naive();
            if agent_store::add(&mut conn, &email, name.as_deref(), now)? {
                println!("{email} is now an agent");
            } else {
                println!("{email} was already an agent (name updated)");
            }
        }
        AgentsCommand::List => {
            for a in agent_store::list(&mut conn)? {
                match a.name {
                    Some(n) => println!("{}\t{}", a.email, n),
                    None => println!("{}", a.email),
                }
            }
        }
        AgentsCommand::Remove { email } => {
            if !agent_store::remove(&mut conn, email)? {
                bail!("{email} is not an agent");
            }
            println!("{email} is no longer an agent");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn watchers(cli: &Cli, cmd: &WatchersCommand) -> anyhow::Result<ExitCode> {
    let settings = super::load_settings(cli)?;
    let tag = settings.tickets.subject_tag.clone();
    let mut conn = super::open_db(&settings)?;
    match cmd {
        WatchersCommand::Add { number, email } => {
            let n = parse_number(number)?;
            let email = check_address(email)?;
            if app::watchers::add_watcher(&mut conn, n, &email, &Clock::System)? {
                println!("{email} now follows {}", n.display(&tag));
            } else {
                println!("{email} already follows {}", n.display(&tag));
            }
        }
        WatchersCommand::Remove { number, email } => {
            let n = parse_number(number)?;
            if !app::watchers::remove_watcher(&mut conn, n, email)? {
                bail!("{email} does not follow {}", n.display(&tag));
            }
            println!("{email} no longer follows {}", n.display(&tag));
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn outbox(cli: &Cli, cmd: &OutboxCommand) -> anyhow::Result<ExitCode> {
    let settings = super::load_settings(cli)?;
    let mut conn = super::open_db(&settings)?;
    let json = match cmd {
        OutboxCommand::List { json } => json,
        OutboxCommand::Retry { ids } => {
            let now = Clock::System.now_naive();
            // What a daemon of this machine that died had claimed is free.
            outbox_store::release_dead_claims(&mut conn, now, crate::instance::is_dead)?;
            // Now means now, even while the relay is on hold.
            outbox_store::lift_relay_hold(&mut conn, &relay_name(&settings.smtp))?;
            let n = outbox_store::retry(&mut conn, ids, now)?;
            if !ids.is_empty() && n < ids.len() {
                eprintln!(
                    "guichet: {} of the given rows do not exist, were already sent or are being sent by a daemon",
                    ids.len() - n
                );
            }
            println!("{n} mail(s) due now");
            send_now(&mut conn, settings)?;
            if !ids.is_empty() && n < ids.len() {
                return Ok(ExitCode::FAILURE);
            }
            return Ok(ExitCode::SUCCESS);
        }
    };
    let rows = outbox_store::list(&mut conn)?;
    let hold = outbox_store::relay_hold(&mut conn, &relay_name(&settings.smtp))?;
    // A pending row waits for its own retry time, or for the end of the
    // relay's hold, whichever comes last; and says why.
    let waits = |r: &outbox_store::Outgoing| match &hold {
        Some(h) if r.state == outbox_store::state::PENDING && r.next_attempt_at <= h.until => (
            h.until,
            Some(format!(
                "relay unreachable since {}: {}",
                rfc3339(h.since),
                h.reason
            )),
        ),
        _ => (r.next_attempt_at, r.last_error.clone()),
    };
    if *json {
        let all: Vec<_> = rows
            .iter()
            .map(|r| {
                let (next, why) = waits(r);
                json!({
                    "id": r.id,
                    "kind": r.kind,
                    "to": r.recipients.split(',').collect::<Vec<_>>(),
                    "subject": r.subject,
                    "message_id": r.message_id,
                    "state": r.state,
                    "attempts": r.attempts,
                    "next_attempt_at": rfc3339(next),
                    "last_error": why,
                    "created_at": rfc3339(r.created_at),
                    "sent_at": r.sent_at.map(rfc3339),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&all)?);
    } else {
        for r in &rows {
            let (next, why) = waits(r);
            let detail = match (&r.state[..], why) {
                ("pending", Some(e)) => format!(" (retry at {}: {e})", rfc3339(next)),
                (_, Some(e)) => format!(" ({e})"),
                _ => String::new(),
            };
            println!(
                "{:>6}  {:<8}  {:<30}  {}{}",
                r.id, r.state, r.recipients, r.subject, detail
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn failed(cli: &Cli, cmd: &FailedCommand) -> anyhow::Result<ExitCode> {
    use crate::store::mails;
    let settings = super::load_settings(cli)?;
    let desk = crate::app::Desk::new(settings)?;
    let mut conn = super::open_db(&desk.settings)?;
    match cmd {
        FailedCommand::List { json } => {
            let rows = mails::failed(&mut conn)?;
            if *json {
                let all: Vec<_> = rows
                    .iter()
                    .map(|r| {
                        json!({
                            "id": r.id,
                            "received_at": rfc3339(r.received_at),
                            "message_id": r.message_id,
                            "error": r.error,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                for r in rows {
                    println!(
                        "{:>6}  {}  {}  {}",
                        r.id,
                        rfc3339(r.received_at),
                        r.message_id.as_deref().unwrap_or("-"),
                        r.error.as_deref().unwrap_or("")
                    );
                }
            }
        }
        FailedCommand::Retry { id } => {
            if !mails::reset_failed(&mut conn, *id)? {
                bail!("no failed mail #{id}");
            }
            let clock = Clock::System;
            // `process` marks it failed again when it still cannot be
            // processed; a passing database error leaves it to the daemon.
            match app::process(&mut conn, &desk, *id, &clock)? {
                app::Outcome::Failed(why) => bail!("mail #{id} still fails: {why}"),
                other => println!("mail #{id}: {other:?}"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Sends every due outbox row now, with what else is due, as `run --once`
/// would, and says what the relay did.
pub(super) fn send_now(
    conn: &mut crate::store::AnyConnection,
    settings: crate::config::Settings,
) -> anyhow::Result<()> {
    let desk = std::sync::Arc::new(crate::app::Desk::new(settings)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let report = runtime.block_on(async {
        let transport = crate::app::oauth::transport(&desk)?;
        let clock = Clock::System;
        let report = crate::app::delivery::send_due(conn, &desk, &transport, &clock, || true).await;
        transport.close().await;
        anyhow::Ok(report?)
    })?;
    println!(
        "{} sent, {} refused for good, {} waiting",
        report.sent, report.failed, report.deferred
    );
    if let Some(e) = report.error {
        bail!("the relay did not take everything: {e}");
    }
    Ok(())
}
