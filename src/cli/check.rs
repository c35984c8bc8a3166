//! `guichet check`: the configuration, the database, the IMAP login and the
//! SMTP relay, each on its own line; non-zero exit if any fails. And
//! whether a daemon takes piped mail on `[ingest] socket`.

use std::process::ExitCode;

use super::Cli;
use crate::config::{self, Settings};
use crate::store;

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// Read each password file's name from DIR instead of where the
    /// configuration says (the unit's /run/credentials/… exist only for
    /// the service): e.g. a DIR holding copies named `imap` and `smtp`
    #[arg(long, value_name = "DIR")]
    pub credentials: Option<std::path::PathBuf>,
}

pub(super) fn run(cli: &Cli, args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let path = config::resolve_path(cli.config.as_deref());
    let settings = match Settings::load(&path) {
        Ok(s) => {
            println!("config: ok ({})", path.display());
            s
        }
        Err(e) => {
            println!("config: FAILED: {e}");
            return Ok(ExitCode::from(super::EXIT_CONFIG));
        }
    };
    let mut settings = settings;
    if let Some(dir) = &args.credentials {
        settings.imap.password = settings.imap.password.in_dir(dir);
        for m in &mut settings.mailboxes {
            m.imap.password = m.imap.password.in_dir(dir);
        }
        settings.smtp.password = settings.smtp.password.map(|p| p.in_dir(dir));
    }
    if let Some(dir) = &settings.templates_dir {
        match crate::outbound::Renderer::with_overrides(Some(dir)) {
            Ok(_) => println!("templates: ok (overrides from {})", dir.display()),
            Err(e) => {
                println!("templates: FAILED: {e}");
                return Ok(ExitCode::from(super::EXIT_CONFIG));
            }
        }
    }
    let mut ok = true;
    match store::connect(&settings.database_url).and_then(|mut c| store::is_migrated(&mut c)) {
        Ok(true) => println!(
            "database: ok ({})",
            store::redact_url(&settings.database_url)
        ),
        Ok(false) => println!(
            "database: ok ({}), schema not up to date: run `guichet migrate`",
            store::redact_url(&settings.database_url)
        ),
        Err(e) => {
            ok = false;
            println!("database: FAILED: {e}");
        }
    }
    // Several threads: the token store is read from the runtime.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let desk = std::sync::Arc::new(crate::app::Desk::new(settings.clone())?);
    for mailbox in &settings.mailboxes {
        let imap = &mailbox.imap;
        // "imap" for the one mailbox of [imap]; "imap NAME" for each [[mailbox]].
        let label = if settings.mailboxes.len() == 1 {
            "imap".to_string()
        } else {
            format!("imap {}", mailbox.name)
        };
        let imap_result = runtime.block_on(async {
            let login = match imap.auth {
                crate::config::Auth::Password => crate::imap::Login::password(imap)?,
                crate::config::Auth::OAuth2 => {
                    let token = crate::app::oauth::access_token(&desk, crate::app::oauth::IMAP)
                        .await
                        .map_err(|e| crate::imap::ImapError::OAuth(e.to_string()))?;
                    crate::imap::Login::Bearer(token)
                }
            };
            let mut session = crate::imap::connect(imap, &login).await?;
            let features = crate::imap::features(&mut session).await?;
            crate::imap::select(&mut session, &imap.mailbox).await?;
            let waiting = crate::imap::uids_after(&mut session, 0, None).await?.len();
            let _ = session.logout().await;
            Ok::<_, crate::imap::ImapError>((features, waiting))
        });
        match imap_result {
            Ok((f, waiting)) => println!(
                "{label}: ok ({}@{}:{}, {} message(s) in {}, IDLE {}, MOVE {})",
                imap.username,
                imap.host,
                imap.port,
                waiting,
                imap.mailbox,
                if f.idle { "yes" } else { "no" },
                if f.r#move { "yes" } else { "no" }
            ),
            Err(e) => {
                ok = false;
                println!("{label}: FAILED: {}:{}: {e}", imap.host, imap.port);
            }
        }
    }
    let smtp = &settings.smtp;
    let smtp_result = runtime.block_on(async {
        let transport = crate::app::oauth::transport(&desk).map_err(|e| e.to_string())?;
        transport.test_connection().await.map_err(|e| e.to_string())
    });
    match smtp_result {
        Ok(()) => println!("smtp: ok ({}:{})", smtp.host, smtp.port),
        Err(e) => {
            ok = false;
            println!("smtp: FAILED: {}:{}: {e}", smtp.host, smtp.port);
        }
    }
    // Not a failure: `check` usually runs before the daemon starts, and
    // without it each `guichet ingest` stores its mail itself.
    if let Some(socket) = &settings.ingest_socket {
        match std::os::unix::net::UnixStream::connect(socket) {
            Ok(_) => println!(
                "ingest: ok (a daemon takes piped mail on {})",
                socket.display()
            ),
            Err(e) => println!(
                "ingest: no daemon answers on {} ({e}): until `guichet run` listens there, each guichet ingest stores its mail itself",
                socket.display()
            ),
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
