//! `guichet status [--json]`: the desk's health for monitoring, as a
//! Nagios plugin says it (exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN):
//! the first line is the worst item, then one line per item. It reads the
//! database only, what the daemon recorded there, so it answers in an
//! instant and says so as well when the daemon is not running at all.

use std::process::ExitCode;

use serde_json::json;

use super::Cli;
use crate::app::health::Level;
use crate::app::status::{items, Item};
use crate::clock::Clock;

#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// One JSON object instead of lines
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(cli: &Cli, args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let items = match super::load_settings(cli) {
        Ok(settings) => items(&settings, &Clock::System),
        Err(e) => vec![Item {
            name: "configuration",
            level: Level::Unknown,
            text: super::one_line(&e),
        }],
    };
    let worst = items
        .iter()
        .map(|i| i.level)
        .max()
        .unwrap_or(Level::Unknown);
    if args.json {
        let out = json!({
            "status": worst.as_str(),
            "code": worst.exit_code(),
            "items": items.iter().map(|i| json!({
                "item": i.name,
                "status": i.level.as_str(),
                "text": i.text,
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        let summary: Vec<String> = items
            .iter()
            .filter(|i| i.level == worst)
            .map(|i| format!("{}: {}", i.name, i.text))
            .collect();
        println!("guichet {}: {}", worst.as_str(), summary.join("; "));
        for i in &items {
            println!("{} {}: {}", i.level.as_str(), i.name, i.text);
        }
    }
    Ok(ExitCode::from(worst.exit_code()))
}
