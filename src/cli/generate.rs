//! `guichet generate man DIR` and `guichet generate completions SHELL`
//! (hidden): the manual pages and the shell completions, made from the
//! command line's own definition so that they never drift from it; the
//! Debian package (scripts/package) ships them.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::CommandFactory;

use super::Cli;

#[derive(clap::Subcommand, Debug)]
pub enum GenerateCommand {
    /// guichet.1 and one page per subcommand (guichet-run.1, …) into DIR
    Man { dir: PathBuf },
    /// The completion script for SHELL, on standard output
    Completions { shell: clap_complete::Shell },
}

pub(crate) fn run(cmd: &GenerateCommand) -> anyhow::Result<ExitCode> {
    let mut command = Cli::command();
    command.build();
    match cmd {
        GenerateCommand::Man { dir } => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            write_pages(&command, "guichet", dir)?;
        }
        GenerateCommand::Completions { shell } => {
            clap_complete::generate(*shell, &mut command, "guichet", &mut std::io::stdout());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `command`'s page as NAME.1, then its subcommands' as NAME-SUB.1.
fn write_pages(command: &clap::Command, name: &str, dir: &std::path::Path) -> anyhow::Result<()> {
    let page = command.clone().name(name.to_string());
    let path = dir.join(format!("{name}.1"));
    let mut out = Vec::new();
    clap_mangen::Man::new(page).render(&mut out)?;
    std::fs::write(&path, out).with_context(|| format!("cannot write {}", path.display()))?;
    // Not the "help" subcommands clap adds: `--help` says it all.
    for sub in command
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        write_pages(sub, &format!("{name}-{}", sub.get_name()), dir)?;
    }
    Ok(())
}
