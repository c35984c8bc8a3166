//! The command line (see the contract): parsing, logging set-up, dispatch
//! to one module per subcommand.

mod admin;
mod check;
mod digest;
mod generate;
mod ingest;
mod kb;
mod logging;
mod oauth;
mod report;
mod retention;
mod run;
mod status;
mod tickets;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::{self, Settings};
use crate::store::{self, AnyConnection};

/// guichet — an email-driven helpdesk: support mail in, tickets and replies out.
#[derive(Parser, Debug)]
#[command(name = "guichet", version, about)]
pub struct Cli {
    /// Configuration file [default: $GUICHET_CONFIG, then /etc/guichet/guichet.toml]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// More logging (-v: debug, -vv: trace); RUST_LOG overrides it.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// How to log, from the configuration file named (text when it
    /// cannot be read: the command then says why).
    pub fn log_format(&self) -> config::LogFormat {
        config::LogFormat::of_file(&config::resolve_path(self.config.as_deref()))
    }
}

/// EX_CONFIG (sysexits.h): the configuration is invalid. The unit's
/// `RestartPreventExitStatus=78` keeps systemd from restarting the daemon
/// every few seconds on it, forever.
pub const EXIT_CONFIG: u8 = 78;

/// The one line a failed command leaves on stderr: an error for journald
/// too (`<3>`) when stderr is the journal's.
pub fn error_line(e: &anyhow::Error) -> String {
    let prefix = if logging::to_journal() { "<3>" } else { "" };
    format!("{prefix}guichet: {}", one_line(e))
}

/// The exit status for a command's error: 78 for an invalid
/// configuration, 1 otherwise.
pub fn exit_code(e: &anyhow::Error) -> ExitCode {
    if e.chain().any(|c| c.is::<config::ConfigError>()) {
        ExitCode::from(EXIT_CONFIG)
    } else {
        ExitCode::FAILURE
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// The daemon: fetch, process, send, until SIGTERM/SIGINT
    Run(run::RunArgs),
    /// Create or upgrade the database schema
    Migrate,
    /// Check the configuration, the database, the IMAP login and the SMTP relay
    Check(check::CheckArgs),
    /// Process RFC 5322 messages from files, or one from stdin (MTA pipe mode)
    Ingest(ingest::IngestArgs),
    /// Inspect tickets
    #[command(subcommand)]
    Tickets(tickets::TicketsCommand),
    /// Who counts as an agent
    #[command(subcommand)]
    Agents(admin::AgentsCommand),
    /// Watchers of a ticket
    #[command(subcommand)]
    Watchers(admin::WatchersCommand),
    /// Outgoing mail and its state
    #[command(subcommand)]
    Outbox(admin::OutboxCommand),
    /// Mail that could not be read or processed
    #[command(subcommand)]
    Failed(admin::FailedCommand),
    /// Health for monitoring (Nagios plugin exit codes: 0 OK, 1 WARNING,
    /// 2 CRITICAL, 3 UNKNOWN), one line per item
    Status(status::StatusArgs),
    /// Delete closed tickets, their mail and files (GDPR retention)
    Purge(retention::PurgeArgs),
    /// Consistent copy of a SQLite database while the daemon runs
    Backup(retention::BackupArgs),
    /// The desk's activity over a period: tickets opened, closed, open,
    /// time to answer and resolve, service levels met
    Report(report::ReportArgs),
    /// The agents' digest, now (the daemon sends it at [digest] at)
    Digest(digest::DigestArgs),
    /// The knowledge base: its articles, and those an acknowledgement would
    /// suggest
    #[command(subcommand)]
    Kb(kb::KbCommand),
    /// OAuth 2.0 sign-in of the mailbox and the relay (Microsoft 365, Gmail)
    #[command(subcommand)]
    Oauth(oauth::OAuthCommand),
    /// Manual pages and shell completions, for packaging
    #[command(subcommand, hide = true)]
    Generate(generate::GenerateCommand),
}

/// Libraries that log the bytes of their sessions below info: async-imap
/// (the LOGIN password, whole mails) and lettre (the SMTP dialogue, AUTH
/// included). Never shown, whatever RUST_LOG says.
const SESSION_LOGGERS: &[&str] = &[
    "async_imap",
    "imap_proto",
    "lettre",
    // The HTTP exchanges with the authorization server carry the tokens.
    "oauth2",
    "reqwest",
    "hyper",
    "hyper_util",
];

pub fn init_logging(verbose: u8, format: config::LogFormat) {
    use tracing_subscriber::filter::{filter_fn, EnvFilter};
    use tracing_subscriber::prelude::*;
    // -v and -vv open guichet's own modules; the libraries stay at info.
    let default = match verbose {
        0 => "info",
        1 => "info,guichet=debug",
        _ => "info,guichet=trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // A filter of its own, after RUST_LOG's: no directive of it, however
    // specific (async_imap::imap_stream=trace), opens these.
    let sessions = filter_fn(|m| {
        *m.level() <= tracing::Level::INFO
            || !SESSION_LOGGERS
                .iter()
                .any(|t| m.target().split("::").next() == Some(t))
    });
    let base = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    type Boxed = Box<dyn tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync>;
    let layer: Boxed = match (format, logging::to_journal()) {
        (config::LogFormat::Json, _) => Box::new(base.json().with_ansi(false)),
        // journald adds its own timestamps, and reads each line's
        // priority from its `<N>` prefix: `journalctl -p warning` finds
        // the warnings and errors.
        (config::LogFormat::Text, true) => Box::new(
            base.without_time()
                .with_ansi(false)
                .event_format(logging::SyslogPriority(
                    tracing_subscriber::fmt::format()
                        .without_time()
                        .with_target(false),
                )),
        ),
        (config::LogFormat::Text, false) => Box::new(base),
    };
    tracing_subscriber::registry()
        .with(layer.with_filter(filter).with_filter(sessions))
        .init();
}

/// An error and its causes on one line, as administrators and MTAs want
/// it: causes already in the message are not repeated, newlines (libpq
/// writes some) become spaces.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let c = cause.to_string();
        if line.contains(c.trim()) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&c);
    }
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub(crate) fn load_settings(cli: &Cli) -> anyhow::Result<Settings> {
    let path = config::resolve_path(cli.config.as_deref());
    Ok(Settings::load(&path)?)
}

/// Opens the database and applies pending migrations.
pub(crate) fn open_db(settings: &Settings) -> anyhow::Result<AnyConnection> {
    let mut conn = store::connect(&settings.database_url)?;
    store::migrate(&mut conn).context("database migration")?;
    Ok(conn)
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Run(args) => run::run(&cli, args),
        Command::Migrate => {
            let settings = load_settings(&cli)?;
            let mut conn = store::connect(&settings.database_url)?;
            let n = store::migrate(&mut conn)?;
            println!("database up to date ({n} migration(s) applied)");
            Ok(ExitCode::SUCCESS)
        }
        Command::Check(args) => check::run(&cli, args),
        Command::Ingest(args) => ingest::run(&cli, args),
        Command::Tickets(cmd) => tickets::run(&cli, cmd),
        Command::Agents(cmd) => admin::agents(&cli, cmd),
        Command::Watchers(cmd) => admin::watchers(&cli, cmd),
        Command::Outbox(cmd) => admin::outbox(&cli, cmd),
        Command::Failed(cmd) => admin::failed(&cli, cmd),
        Command::Status(args) => status::run(&cli, args),
        Command::Purge(args) => retention::purge(&cli, args),
        Command::Backup(args) => retention::backup(&cli, args),
        Command::Oauth(cmd) => oauth::run(&cli, cmd),
        Command::Kb(cmd) => kb::run(&cli, cmd),
        Command::Report(args) => report::run(&cli, args),
        Command::Digest(args) => digest::run(&cli, args),
        Command::Generate(cmd) => generate::run(cmd),
    }
}
