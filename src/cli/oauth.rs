//! `guichet oauth login imap|smtp` and `guichet oauth status`: the OAuth
//! 2.0 sign-in of the mailbox and the relay (Microsoft 365, Google
//! Workspace), done once by an administrator with the device authorization
//! grant (RFC 8628: a URL and a code to enter in any browser), then kept
//! fresh by the daemon.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{bail, Context};
use serde_json::json;

use super::Cli;
use crate::app::health::oauth_component;
use crate::app::oauth::{self, IMAP, SMTP};
use crate::app::Desk;
use crate::clock::{rfc3339, Clock};
use crate::config::Auth;
use crate::store;

#[derive(clap::Subcommand, Debug)]
pub enum OAuthCommand {
    /// Sign in the mailbox (imap) or the relay (smtp): prints the URL and
    /// the code to enter, waits, and keeps the tokens in the database
    Login {
        #[arg(value_parser = ["imap", "smtp"])]
        service: String,
    },
    /// Each service's account, scopes and expiry, and whether its last
    /// refresh worked
    Status {
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn run(cli: &Cli, cmd: &OAuthCommand) -> anyhow::Result<ExitCode> {
    let settings = super::load_settings(cli)?;
    match cmd {
        OAuthCommand::Login { service } => login(settings, service),
        OAuthCommand::Status { json } => status(settings, *json),
    }
}

fn uses_oauth(settings: &crate::config::Settings, service: &str) -> bool {
    match service {
        SMTP => settings.smtp.auth == Auth::OAuth2,
        _ => settings.imap.auth == Auth::OAuth2,
    }
}

fn login(settings: crate::config::Settings, service: &str) -> anyhow::Result<ExitCode> {
    if !uses_oauth(&settings, service) {
        bail!("{service}.auth is not \"oauth2\": set it (and [oauth2]) first");
    }
    let Some(oauth2) = settings.oauth2.clone() else {
        bail!("no [oauth2] section");
    };
    let mut conn = super::open_db(&settings)?;
    let desk = Desk::new(settings)?;
    let account = oauth::account(&desk, service);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let granted = runtime
        .block_on(crate::oauth::device_login(&oauth2, |code| {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(
                out,
                "To sign in {account} ({service}), open {} in a browser and enter the code {} (valid {}).",
                code.verification_uri,
                code.user_code,
                humantime::format_duration(code.expires_in)
            );
            if let Some(complete) = &code.verification_uri_complete {
                let _ = writeln!(out, "Or open: {complete}");
            }
            let _ = writeln!(out, "open: {}", code.verification_uri);
            let _ = writeln!(out, "code: {}", code.user_code);
            let _ = writeln!(out, "Waiting for the sign-in…");
            let _ = out.flush();
        }))
        .with_context(|| format!("OAuth 2.0 sign-in of {service}"))?;
    if granted.refresh_token.is_none() {
        eprintln!(
            "guichet: warning: no refresh token was granted (scope offline_access?): the daemon will need a new sign-in when the access token expires"
        );
    }
    let stored = oauth::store_login(&mut conn, &desk, service, &granted)?;
    println!(
        "signed in: {service} as {}, scopes {}, access token until {}",
        stored.account,
        stored.scopes,
        stored
            .access_expires_at
            .map(rfc3339)
            .unwrap_or_else(|| "(no expiry given)".into())
    );
    Ok(ExitCode::SUCCESS)
}

fn status(settings: crate::config::Settings, json_out: bool) -> anyhow::Result<ExitCode> {
    let mut conn = super::open_db(&settings)?;
    let now = Clock::System.now_naive();
    let mut rows = Vec::new();
    for service in [IMAP, SMTP] {
        if !uses_oauth(&settings, service) {
            continue;
        }
        let tokens = store::oauth_tokens::get(&mut conn, service)?;
        let health = store::health::get(&mut conn, &oauth_component(service))?;
        let failing = health
            .as_ref()
            .and_then(|h| h.failing_since.map(|s| (s, h.last_error.clone())));
        rows.push(json!({
            "service": service,
            "account": tokens.as_ref().map(|t| t.account.clone()),
            "scopes": tokens.as_ref().map(|t| t.scopes.split_whitespace().collect::<Vec<_>>()),
            "access_expires_at": tokens.as_ref().and_then(|t| t.access_expires_at).map(rfc3339),
            "access_valid": tokens.as_ref().is_some_and(|t| t.access_expires_at.is_none_or(|e| e > now)),
            "refresh_token": tokens.as_ref().is_some_and(|t| t.refresh_token.is_some()),
            "obtained_at": tokens.as_ref().map(|t| rfc3339(t.obtained_at)),
            "refreshed_at": tokens.as_ref().and_then(|t| t.refreshed_at).map(rfc3339),
            "failing_since": failing.as_ref().map(|(s, _)| rfc3339(*s)),
            "error": failing.and_then(|(_, e)| e),
        }));
    }
    if json_out {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("neither imap nor smtp signs in with OAuth 2.0 (auth = \"oauth2\")");
    }
    for r in &rows {
        let service = r["service"].as_str().unwrap_or("");
        if r["account"].is_null() {
            println!("{service}: no token: run `guichet oauth login {service}`");
            continue;
        }
        println!(
            "{service}: {} (scopes {}), access token until {}, {}, obtained {}{}{}",
            r["account"].as_str().unwrap_or(""),
            r["scopes"]
                .as_array()
                .map(|s| s
                    .iter()
                    .filter_map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join(" "))
                .unwrap_or_default(),
            r["access_expires_at"]
                .as_str()
                .unwrap_or("(no expiry given)"),
            if r["refresh_token"] == true {
                "refreshed by the daemon"
            } else {
                "no refresh token"
            },
            r["obtained_at"].as_str().unwrap_or(""),
            r["refreshed_at"]
                .as_str()
                .map(|t| format!(", last refreshed {t}"))
                .unwrap_or_default(),
            r["error"]
                .as_str()
                .map(|e| format!(
                    "; FAILING since {}: {e}",
                    r["failing_since"].as_str().unwrap_or("")
                ))
                .unwrap_or_default(),
        );
    }
    Ok(ExitCode::SUCCESS)
}
