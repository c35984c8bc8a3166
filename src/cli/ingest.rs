//! `guichet ingest [FILE…]`: the pipe mode for an MTA. Exits 75
//! (EX_TEMPFAIL) when a message could not be stored, so the MTA keeps it
//! and tries again. With `[ingest] socket`, the mail read from stdin is
//! handed to the running daemon, which stores it.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use super::Cli;
use crate::app::{self, Desk, Outcome, Source, PIPED};
use crate::clock::Clock;
use crate::daemon::handover;

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
    // The MTA's one mail goes to the running daemon, which has the desk
    // and the database ready; without an answer from it, the mail is
    // stored here as it would be without a daemon.
    if let (Some(socket), [(name, raw)]) = (&settings.ingest_socket, &inputs[..]) {
        if args.files.is_empty() && raw.len() as u64 <= settings.tickets.max_message_size {
            match handover::hand_over(socket, raw) {
                Ok(text) => {
                    println!("{name}: {text}");
                    return Ok(ExitCode::SUCCESS);
                }
                Err(e) => eprintln!("guichet: {e}; storing the mail here"),
            }
        }
    }
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
    // Each mail is stored and processed in the same transaction, in
    // batches bounded like the fetcher's: exit 0 means stored and
    // committed to disk (the MTA then forgets the mail); a failure that
    // retrying can fix leaves the batch unstored, and the MTA keeps it.
    let sized: Vec<(u32, Option<u32>)> = (0u32..)
        .zip(&inputs)
        .map(|(i, (_, raw))| (i, u32::try_from(raw.len()).ok()))
        .collect();
    for batch in crate::imap::batches(&sized, crate::imap::BATCH, crate::imap::BATCH_BYTES) {
        let mails: Vec<(Source<'_>, Arc<[u8]>)> = batch
            .iter()
            .map(|&i| (PIPED, Arc::from(std::mem::take(&mut inputs[i as usize].1))))
            .collect();
        let outcomes = match app::ingest_batch(&mut conn, &desk, &mails, &clock, &|| {}) {
            Ok(o) => o,
            Err(e) => {
                for &i in &batch {
                    eprintln!("guichet: {}: mail not stored: {e}", inputs[i as usize].0);
                }
                return Ok(ExitCode::from(EX_TEMPFAIL));
            }
        };
        for (&i, outcome) in batch.iter().zip(outcomes) {
            report(&inputs[i as usize].0, outcome, &desk);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One line on stdout: what became of the mail read from `name`.
fn report(name: &str, outcome: Outcome, desk: &Desk) {
    println!("{name}: {}", outcome.describe(desk.tagger.tag()));
}
