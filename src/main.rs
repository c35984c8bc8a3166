//! guichet, the email-driven helpdesk daemon.
//!
//! The flow of a mail, and the module that does each step:
//!
//! ```text
//! imap/       fetch from the support mailbox (IDLE or poll), batched
//! store/      raw bytes stored first: nothing is lost (raw_mails)
//! inbound/    parse, classify automatic mail, strip quotes, find [TAG #n]
//! app/        load what the rules need, ask the domain for a plan, apply
//!             it: ticket + messages + outbox rows in one transaction
//! ticket/     the domain, pure: decide(context, mail, policy, now) -> Plan
//! outbound/   render (tera), compose (lettre), dispatch the outbox (SMTP)
//! daemon/     the supervised tasks of `guichet run`, systemd notify and
//!             watchdog, SIGTERM
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
    guichet::cli::init_logging(cli.verbose, cli.log_format());
    match guichet::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{}", guichet::cli::error_line(&e));
            guichet::cli::exit_code(&e)
        }
    }
}
