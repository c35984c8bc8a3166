//! `guichet tickets list [--status S] [--json]`, `tickets show N [--json]`
//! and `tickets attachment N NAME [--output FILE]`.

use std::process::ExitCode;

use anyhow::{anyhow, bail};
use serde_json::json;

use super::Cli;
use crate::clock::rfc3339;
use crate::store::tickets;
use crate::ticket::{Person, Status, Ticket, TicketRef};

#[derive(clap::Subcommand, Debug)]
pub enum TicketsCommand {
    /// Tickets, newest first
    List {
        /// Only tickets of this status (new, in_progress, waiting, solved, closed)
        #[arg(long)]
        status: Option<String>,
        /// Only tickets not closed
        #[arg(long)]
        open: bool,
        /// Only the tickets of this organisation (as `[[organisation]]` names it)
        #[arg(long)]
        organisation: Option<String>,
        /// Only the tickets of this queue (`-` for the desk's own)
        #[arg(long)]
        queue: Option<String>,
        /// Only the tickets assigned to this agent (`-` for nobody's)
        #[arg(long)]
        assignee: Option<String>,
        /// At most this many, the newest
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// One ticket with its whole thread
    Show {
        /// Ticket number (123, 000123 or #000123)
        number: String,
        #[arg(long)]
        json: bool,
    },
    /// Writes a file of ticket N's thread (the latest one named NAME) to
    /// FILE, or to standard output
    Attachment {
        /// Ticket number (123, 000123 or #000123)
        number: String,
        /// The file's name, as `tickets show` lists it
        name: String,
        /// Where to write it (default: standard output, not a terminal)
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
    },
}

/// The contract's ticket object, without `messages`.
pub(super) fn ticket_json(t: &Ticket, tag: &str) -> serde_json::Value {
    json!({
        "number": t.number.0,
        "reference": t.number.display(tag),
        "subject": t.subject,
        "status": t.status.as_str(),
        "close_reason": t.close_reason.map(|r| r.as_str()),
        "type": t.ticket_type.as_str(),
        "impact": t.impact.map(|i| i.as_str()),
        "category": t.category,
        "organisation": t.organisation,
        "requester": {
            "email": t.requester.email,
            "name": t.requester.name,
            "phone": t.requester_phone,
        },
        "watchers": t.watchers,
        "language": t.language.as_str(),
        "created_at": rfc3339(t.created_at),
        "updated_at": rfc3339(t.updated_at),
        "solved_at": t.solved_at.map(rfc3339),
        "closed_at": t.closed_at.map(rfc3339),
        "first_answer_due": t.sla.first_answer_due.map(rfc3339),
        "resolution_due": t.sla.resolution_due.map(rfc3339),
        "first_answered_at": t.sla.first_answered_at.map(rfc3339),
        "queue": t.queue,
        "channel": t.channel.as_str(),
        "opened_by": t.opened_by,
        "reopened": t.reopened,
        "assignee": t.assignee.as_ref().map(person_json),
    })
}

/// `{"email": …, "name": …}`
pub(super) fn person_json(p: &Person) -> serde_json::Value {
    json!({ "email": p.email, "name": p.name })
}

pub(super) fn parse_number(s: &str) -> anyhow::Result<TicketRef> {
    s.trim()
        .trim_start_matches('#')
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .map(TicketRef)
        .ok_or_else(|| anyhow!("{s:?} is not a ticket number"))
}

pub(super) fn run(cli: &Cli, cmd: &TicketsCommand) -> anyhow::Result<ExitCode> {
    let settings = super::load_settings(cli)?;
    let tag = settings.tickets.subject_tag.clone();
    let policy = settings.policy();
    let mut conn = super::open_db(&settings)?;
    match cmd {
        TicketsCommand::List {
            status,
            open,
            organisation,
            queue,
            assignee,
            limit,
            json,
        } => {
            let status = match status {
                Some(s) => Some(Status::parse(s).ok_or_else(|| {
                    anyhow!("unknown status {s:?} (new, in_progress, waiting, solved, closed)")
                })?),
                None => None,
            };
            let filter = tickets::ListFilter {
                status,
                open: *open,
                organisation: organisation.clone(),
                queue: queue
                    .as_deref()
                    .map(|q| if q == "-" { "" } else { q }.to_string()),
                assignee: assignee.clone(),
                limit: limit.map(i64::from),
            };
            let list = tickets::list(&mut conn, &filter)?;
            if *json {
                let all: Vec<_> = list
                    .iter()
                    .map(|t| ticket_json(t, policy.tag_of(t.queue.as_deref())))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                for t in &list {
                    println!(
                        "{}  {:<11}  {:<30}  {:<20}  {:<10}  {:<24}  {}",
                        t.number.display(policy.tag_of(t.queue.as_deref())),
                        t.status.as_str(),
                        t.requester.email,
                        t.organisation.as_deref().unwrap_or("-"),
                        t.queue.as_deref().unwrap_or("-"),
                        t.assignee.as_ref().map_or("-", |a| a.email.as_str()),
                        t.subject
                    );
                }
            }
        }
        TicketsCommand::Attachment {
            number,
            name,
            output,
        } => {
            let number = parse_number(number)?;
            attachment(&mut conn, &tag, number, name, output.as_deref())?;
        }
        TicketsCommand::Show { number, json } => {
            let number = parse_number(number)?;
            let Some((id, t)) = tickets::find_by_number(&mut conn, number)? else {
                bail!("no ticket {}", number.display(&tag));
            };
            let thread = tickets::thread(&mut conn, id)?;
            if *json {
                let mut obj = ticket_json(&t, policy.tag_of(t.queue.as_deref()));
                obj["messages"] = serde_json::to_value(&thread)?;
                println!("{}", serde_json::to_string_pretty(&obj)?);
            } else {
                println!(
                    "{} {}",
                    t.number.display(policy.tag_of(t.queue.as_deref())),
                    t.subject
                );
                println!(
                    "status: {}{}",
                    t.status,
                    t.close_reason
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                );
                println!(
                    "requester: {}{}",
                    t.requester
                        .name
                        .as_ref()
                        .map(|n| format!("{n} "))
                        .unwrap_or_default(),
                    t.requester.email
                );
                println!(
                    "type: {}  impact: {}  category: {}",
                    t.ticket_type,
                    t.impact
                        .map(|i| i.to_string())
                        .unwrap_or_else(|| "-".into()),
                    t.category.as_deref().unwrap_or("-")
                );
                if !t.watchers.is_empty() {
                    println!("watchers: {}", t.watchers.join(", "));
                }
                for m in &thread {
                    println!("\n--- {} · {} · {}", m.kind, m.from.email, m.at);
                    println!("{}", m.body);
                    for a in &m.attachments {
                        println!(
                            "  [attachment] {} ({}, {} bytes)",
                            a.filename, a.content_type, a.size
                        );
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `tickets attachment N NAME [--output FILE]`: the latest file of that
/// name in the ticket's thread; the others of that name are mentioned on
/// stderr.
fn attachment(
    conn: &mut crate::store::AnyConnection,
    tag: &str,
    number: TicketRef,
    name: &str,
    output: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    use std::io::{IsTerminal, Write};
    let Some((id, _)) = tickets::find_by_number(conn, number)? else {
        bail!("no ticket {}", number.display(tag));
    };
    let files = tickets::files_named(conn, id, name)?;
    let Some(tickets::StoredFile {
        at,
        kind,
        content_type,
        content,
    }) = files.first()
    else {
        bail!(
            "no file named {name:?} on ticket {} (`guichet tickets show {}` lists them)",
            number.display(tag),
            number.0
        );
    };
    match output {
        Some(path) => std::fs::write(path, content)
            .map_err(|e| anyhow!("cannot write {}: {e}", path.display()))?,
        None if std::io::stdout().is_terminal() => {
            bail!("{name} is a file ({content_type}): write it with --output FILE")
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(content)?;
            out.flush()?;
        }
    }
    eprintln!(
        "{name} ({content_type}, {} bytes) from the {kind} of {}",
        content.len(),
        rfc3339(*at)
    );
    if files.len() > 1 {
        eprintln!(
            "{} older file(s) of that name on the ticket were left aside",
            files.len() - 1
        );
    }
    Ok(())
}
