//! guichet, the email-driven helpdesk daemon.
//!
//! The flow of a mail, and the module that does each step:
//!
//! ```text
//! imap/       fetch from the support mailbox (IDLE or poll), batched
//! store/      raw bytes stored first: nothing is lost (raw_mails)
//! inbound/    parse, classify automatic mail, strip quotes, find [TAG #n]
//! ticket/     match the ticket and the sender's role, run the state
//!             machine, write ticket + message + outbox in one transaction
//! outbound/   render (tera), compose (lettre), dispatch the outbox (SMTP)
//! daemon.rs   the tasks of `guichet run`, systemd notify, SIGTERM
//! cli/        one file per subcommand
//! ```

use std::process::ExitCode;

use clap::Parser;

/// mimalloc: allocation was a fifth of the ingest time with the system
/// allocator (many small strings per mail, across threads).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = guichet::cli::Cli::parse();
    guichet::cli::init_logging(cli.verbose);
    match guichet::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("guichet: {}", guichet::cli::one_line(&e));
            ExitCode::FAILURE
        }
    }
}
