//! `guichet ingest [FILE…]`: the pipe mode for an MTA. Exits 75
//! (EX_TEMPFAIL) when a message could not be stored, so the MTA keeps it
//! and tries again.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use super::Cli;
use crate::app::{self, Desk, Outcome, Source};
use crate::clock::Clock;

/// sysexits.h: temporary failure, the MTA retries later.
const EX_TEMPFAIL: u8 = 75;

#[derive(clap::Args, Debug)]
pub struct IngestArgs {
    /// Message files; without any, one message is read from stdin
    pub files: Vec<PathBuf>,
}

pub(super) fn run(cli: &Cli, args: &IngestArgs) -> anyhow::Result<ExitCode> {
    let settings = match super::load_settings(cli) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("guichet: {}", super::one_line(&e));
            return Ok(ExitCode::from(EX_TEMPFAIL));
        }
    };
    let clock = Clock::System;
    let desk = match Desk::new(settings) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("guichet: mail not stored: {}", super::one_line(&e));
            return Ok(ExitCode::from(EX_TEMPFAIL));
        }
    };
    let mut conn = match super::open_db(&desk.settings) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("guichet: mail not stored: {}", super::one_line(&e));
            return Ok(ExitCode::from(EX_TEMPFAIL));
        }
    };
    let mut inputs: Vec<(String, Vec<u8>)> = Vec::new();
    if args.files.is_empty() {
        let mut raw = Vec::new();
        if let Err(e) = std::io::stdin().read_to_end(&mut raw) {
            eprintln!("guichet: cannot read the mail from stdin: {e}");
            return Ok(ExitCode::from(EX_TEMPFAIL));
        }
        inputs.push(("stdin".into(), raw));
    } else {
        for f in &args.files {
            match std::fs::read(f) {
                Ok(raw) => inputs.push((f.display().to_string(), raw)),
                Err(e) => {
                    eprintln!("guichet: cannot read {}: {e}", f.display());
                    return Ok(ExitCode::from(EX_TEMPFAIL));
                }
            }
        }
    }
    for (name, raw) in inputs {
        let source = Source {
            name: "ingest",
            uidvalidity: None,
            uid: None,
        };
        let id = match app::store_raw(&mut conn, source, &raw, &clock) {
            Ok(id) => id,
            Err(e) => {
                eprintln!("guichet: {name}: mail not stored: {e}");
                return Ok(ExitCode::from(EX_TEMPFAIL));
            }
        };
        // Stored: from here on nothing is lost, whatever happens.
        match app::process(&mut conn, &desk, id, &clock) {
            Ok(Outcome::Created(n)) => {
                println!("{name}: new ticket {}", n.display(desk.tagger.tag()))
            }
            Ok(Outcome::Added(n, kind)) => {
                println!("{name}: {kind} on ticket {}", n.display(desk.tagger.tag()))
            }
            Ok(Outcome::CommandRefused(n)) => println!(
                "{name}: agent command not understood on {}; the agent was told",
                n.display(desk.tagger.tag())
            ),
            Ok(Outcome::Duplicate) => println!("{name}: duplicate, already processed"),
            Ok(Outcome::Ignored(why)) => println!("{name}: not answered: {why}"),
            Ok(Outcome::AlreadyDone(state)) => println!("{name}: already handled ({state})"),
            Ok(Outcome::Failed(why)) => {
                println!("{name}: could not be processed, kept as raw mail #{id} (guichet failed list): {why}");
            }
            Err(e) => {
                // Stored but not processed: the daemon resumes it.
                eprintln!("guichet: {name}: stored as raw mail #{id}, processing deferred: {e}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
