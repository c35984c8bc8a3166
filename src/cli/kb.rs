//! `guichet kb list` and `guichet kb suggest TEXT`: the knowledge base's
//! articles (`[kb] dir`), and the ones an acknowledgement would suggest.

use std::io::Read;
use std::process::ExitCode;

use anyhow::bail;
use serde_json::json;

use super::{load_settings, Cli};
use crate::ticket::kb::Readers;

#[derive(clap::Subcommand, Debug)]
pub enum KbCommand {
    /// The articles: name (what #kb takes), readers, title, keywords
    List {
        #[arg(long)]
        json: bool,
    },
    /// The articles an acknowledgement would suggest for TEXT (the
    /// request's text; "-" reads it from stdin), best first, with their
    /// scores
    Suggest {
        /// The request's text
        #[arg(required = true)]
        text: Vec<String>,
        /// The request's subject, which counts a little more
        #[arg(long, default_value = "")]
        subject: String,
        /// Every article sharing a word with the request, with its score,
        /// the agents' ones and those under the threshold included
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
}

pub(super) fn run(cli: &Cli, cmd: &KbCommand) -> anyhow::Result<ExitCode> {
    let settings = load_settings(cli)?;
    let kb = &settings.kb.base;
    if settings.kb.dir.is_none() {
        bail!("no knowledge base: [kb] dir is not set");
    }
    match cmd {
        KbCommand::List { json } => {
            if *json {
                let list: Vec<_> = kb
                    .articles()
                    .iter()
                    .map(|a| {
                        json!({
                            "id": a.id,
                            "title": a.title,
                            "keywords": a.keywords,
                            "audience": a.readers.as_str(),
                            "link": a.link,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                let width = kb.articles().iter().map(|a| a.id.len()).max().unwrap_or(0);
                for a in kb.articles() {
                    let readers = match a.readers {
                        Readers::Requesters => "",
                        Readers::Agents => " (agents)",
                    };
                    println!("{:width$}  {}{readers}", a.id, a.title);
                }
                eprintln!("{} article(s)", kb.articles().len());
            }
        }
        KbCommand::Suggest {
            text,
            subject,
            all,
            json,
        } => {
            let body = if text.len() == 1 && text[0] == "-" {
                let mut s = String::new();
                std::io::stdin().read_to_string(&mut s)?;
                s
            } else {
                text.join(" ")
            };
            let found = if *all {
                kb.rank(subject, &body)
            } else {
                kb.suggest(subject, &body)
            };
            if *json {
                let list: Vec<_> = found
                    .iter()
                    .map(|s| {
                        json!({
                            "id": s.article.id,
                            "title": s.article.title,
                            "score": s.score,
                            "on_topic": s.on_topic,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for s in &found {
                    println!("{:6.2}  {}  {}", s.score, s.article.id, s.article.title);
                }
                if found.is_empty() {
                    eprintln!(
                        "no article to suggest (a suggestion scores at least {}, [kb] min_score)",
                        kb.min_score
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
