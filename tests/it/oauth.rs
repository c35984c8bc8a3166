//! OAuth 2.0 as Microsoft 365 and Google Workspace mailboxes need it, on a
//! real authorization server (scripts/oauthbed: django-oauth-toolkit) whose
//! tokens the real Dovecot checks for IMAP and for SMTP submission: the
//! device sign-in, the refresh at expiry with the rotated refresh token
//! kept, a revoked token alerted once with `status` CRITICAL, and no token
//! in any log line.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use crate::app::{mail, Db, TestApp};
use crate::on_both_databases;

const ADMIN: &str = "admin@example.test";

fn request(n: usize) -> Vec<u8> {
    mail(
        &format!("Agent {n} <agent{n}@mairie-exemple.fr>"),
        &format!("Messagerie {n} : mot de passe oublié"),
        &format!("oauth{n}@mairie-exemple.fr"),
        "",
        "Bonjour,\nje n'arrive plus à me connecter.\nMerci",
    )
}

/// The bed's config signed in with OAuth 2.0 for IMAP and for SMTP
/// (through Dovecot's submission service).
fn oauth_app(db: Db, access_seconds: u32) -> TestApp {
    configured(TestApp::start_oauth(db, access_seconds))
}

fn configured(app: TestApp) -> TestApp {
    let o = &app.oauth_env;
    let secret = app.path().join("client_secret");
    std::fs::write(&secret, format!("{}\n", o["CLIENT_SECRET"])).unwrap();
    app.edit_config("password = \"secret\"", "auth = \"oauth2\"");
    app.edit_config(
        &format!("port = {}\ntls = \"none\"\nfrom", app.env["SMTP_PORT"]),
        &format!(
            "port = {}\ntls = \"none\"\nusername = \"support@example.test\"\nauth = \"oauth2\"\nfrom",
            app.env["SUBMISSION_PORT"]
        ),
    );
    let text = std::fs::read_to_string(&app.config_path).unwrap()
        + &format!(
            "\n[oauth2]\nprovider = \"generic\"\nclient_id = \"{}\"\nclient_secret_file = \"{}\"\ndevice_authorization_url = \"{}\"\ntoken_url = \"{}\"\nscopes = [\"{}\"]\n\n[alerts]\nto = [\"{ADMIN}\"]\nafter = \"1h\"\n",
            o["CLIENT_ID"],
            secret.display(),
            o["DEVICE_AUTHORIZATION_URL"],
            o["TOKEN_URL"],
            o["OAUTH_SCOPE"],
        );
    std::fs::write(&app.config_path, text).unwrap();
    app
}

/// `guichet oauth login SERVICE`, with the bed approving the code it
/// prints as the administrator would in a browser; returns its output.
fn login(app: &TestApp, service: &str) -> String {
    let mut child = app
        .command()
        .args(["oauth", "login", service])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut shown = String::new();
    let code = loop {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "no code shown: {shown}"
        );
        shown.push_str(&line);
        if let Some(code) = line.strip_prefix("code: ") {
            break code.trim().to_string();
        }
    };
    let approved = app.oauthbed("approve", &[&code]);
    assert!(
        approved.status.success(),
        "approve {code}: {}",
        String::from_utf8_lossy(&approved.stderr)
    );
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(
        status.success(),
        "oauth login {service}: {shown}{rest}{err}"
    );
    shown + &rest
}

/// The tokens stored for `service`: (access, refresh).
fn tokens(app: &TestApp, service: &str) -> (String, String) {
    let mut conn = guichet::store::connect(&app.database_url).unwrap();
    let t = guichet::store::oauth_tokens::get(&mut conn, service)
        .unwrap()
        .unwrap_or_else(|| panic!("no {service} tokens"));
    (t.access_token, t.refresh_token.unwrap_or_default())
}

fn status(app: &TestApp) -> (i32, String) {
    let out = app.guichet(&["status"]);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Sign-in, use, refresh with rotation, revocation and a new sign-in, by
/// `run --once`, as a cron-driven desk would.
fn a_mailbox_signed_in_with_oauth2_lives_through_expiry_and_revocation(db: Db) {
    let app = oauth_app(db, 5);
    let mut seen_tokens: Vec<String> = Vec::new();
    let mut logs = String::new();

    // Before any sign-in: said clearly, CRITICAL.
    app.ok(&["migrate"]);
    let (code, text) = status(&app);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("oauth imap: no token"), "{text}");
    app.append(&request(1));
    let out = app.guichet(&["run", "--once"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success());
    assert!(err.contains("guichet oauth login imap"), "{err}");
    logs.push_str(&err);

    let shown = login(&app, "imap");
    assert!(shown.contains("enter the code"), "{shown}");
    assert!(
        shown.contains("signed in: imap as support@example.test"),
        "{shown}"
    );
    logs.push_str(&shown);
    logs.push_str(&login(&app, "smtp"));
    let (imap_access, imap_refresh) = tokens(&app, "imap");
    seen_tokens.extend([imap_access, imap_refresh.clone()]);
    seen_tokens.extend(<[String; 2]>::from(tokens(&app, "smtp")));

    // The waiting request is read over IMAP XOAUTH2 and acknowledged over
    // SMTP XOAUTH2 (Dovecot's submission, relaying to the sink).
    logs.push_str(&app.run_once());
    assert_eq!(app.tickets().len(), 1);
    assert_eq!(app.sent_to("agent1@mairie-exemple.fr").len(), 1);
    let out = app.guichet(&["oauth", "status"]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.contains("imap: support@example.test (scopes mail)"),
        "{listed}"
    );
    assert!(listed.contains("smtp: support@example.test"), "{listed}");

    // Past the access token's life: refreshed, and the server's new
    // refresh token kept (the old one no longer works there).
    std::thread::sleep(Duration::from_secs(6));
    app.append(&request(2));
    let log = app.run_once();
    assert!(log.contains("OAuth 2.0 access token refreshed"), "{log}");
    logs.push_str(&log);
    assert_eq!(app.tickets().len(), 2);
    assert_eq!(app.sent_to("agent2@mairie-exemple.fr").len(), 1);
    let (access, refresh) = tokens(&app, "imap");
    assert_ne!(refresh, imap_refresh, "the rotated refresh token is kept");
    seen_tokens.extend([access, refresh]);
    seen_tokens.extend(<[String; 2]>::from(tokens(&app, "smtp")));
    let (code, text) = status(&app);
    assert_eq!(code, 0, "{text}");

    // Revoked at the server: the next refresh fails; one alert per
    // service at once (a new sign-in is needed), CRITICAL meanwhile.
    let revoked = app.oauthbed("revoke", &[]);
    assert!(
        revoked.status.success(),
        "{}",
        String::from_utf8_lossy(&revoked.stderr)
    );
    std::thread::sleep(Duration::from_secs(6));
    app.append(&request(3));
    for _ in 0..2 {
        let out = app.guichet(&["run", "--once"]);
        assert!(!out.status.success());
        logs.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    let (code, text) = status(&app);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("CRITICAL oauth imap:"), "{text}");
    assert!(text.contains("invalid_grant"), "{text}");
    let alerts: Vec<String> = app
        .outbox()
        .into_iter()
        .filter(|r| r["kind"] == "alert")
        .map(|r| r["subject"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(alerts.len(), 2, "one per service, once: {alerts:?}");
    assert!(alerts.iter().all(|s| s.contains("OAuth 2.0")), "{alerts:?}");

    // A new sign-in: everything that waited leaves, the end told.
    logs.push_str(&login(&app, "imap"));
    logs.push_str(&login(&app, "smtp"));
    seen_tokens.extend(<[String; 2]>::from(tokens(&app, "imap")));
    seen_tokens.extend(<[String; 2]>::from(tokens(&app, "smtp")));
    logs.push_str(&app.run_once());
    assert_eq!(app.sent_to("agent3@mairie-exemple.fr").len(), 1);
    let told: Vec<String> = app.sent_to(ADMIN).into_iter().map(|m| m.subject).collect();
    assert_eq!(told.len(), 4, "{told:?}");
    assert_eq!(
        told.iter().filter(|s| s.contains("RÉTABLI")).count(),
        2,
        "{told:?}"
    );
    let (code, text) = status(&app);
    assert_eq!(code, 0, "{text}");

    for token in seen_tokens.iter().filter(|t| !t.is_empty()) {
        assert!(!logs.contains(token.as_str()), "a token in the logs");
    }
}

on_both_databases!(a_mailbox_signed_in_with_oauth2_lives_through_expiry_and_revocation);

/// The daemon over a long run: the access token expires while it waits on
/// IDLE; when the connection drops it signs in again with a refreshed
/// token, by itself. Its most verbose log holds no token.
#[test]
fn the_daemon_refreshes_the_token_when_it_signs_in_again() {
    let app = oauth_app(Db::Sqlite, 4);
    login(&app, "imap");
    login(&app, "smtp");
    let log_path = app.path().join("daemon.log");
    let mut child = app
        .command()
        .args(["run", "-vv"])
        .env("RUST_LOG", "trace")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    app.append(&request(10));
    assert!(app.wait_for(Duration::from_secs(20), || app
        .sent_to("agent10@mairie-exemple.fr")
        .len()
        == 1));
    let before = tokens(&app, "imap");
    std::thread::sleep(Duration::from_secs(5));
    app.mailbed("imap-drop", &[]);
    app.append(&request(11));
    let acknowledged = app.wait_for(Duration::from_secs(30), || {
        app.sent_to("agent11@mairie-exemple.fr").len() == 1
    });
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(acknowledged, "{log}");
    assert!(log.contains("OAuth 2.0 access token refreshed"), "{log}");
    let after = tokens(&app, "imap");
    assert_ne!(before.1, after.1, "rotated");
    for token in [before.0, before.1, after.0, after.1] {
        assert!(!log.contains(&token), "a token in the -vv log");
    }
}

/// A server that gives its refresh tokens a known end (Google's testing
/// apps: seven days): the administrators are told once before it, with
/// `status` WARNING, and once more when a new sign-in replaced it.
fn a_refresh_tokens_known_end_is_told_before_it_comes(db: Db) {
    let app = configured(TestApp::start_oauth_refresh_expiring(db, 3600, 10));
    login(&app, "imap");
    login(&app, "smtp");
    app.append(&request(20));
    app.run_once();
    assert_eq!(app.sent_to("agent20@mairie-exemple.fr").len(), 1);
    let (code, text) = status(&app);
    assert_eq!(code, 0, "{text}");
    assert!(app.sent_to(ADMIN).is_empty());

    // A fifth of its ten seconds left: told, once.
    std::thread::sleep(Duration::from_millis(8500));
    let log = app.run_once();
    assert!(
        log.contains("ALERT: the OAuth 2.0 refresh token comes near its end"),
        "{log}"
    );
    let (code, text) = status(&app);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("WARNING oauth imap:"), "{text}");
    assert!(text.contains("the refresh token ends at"), "{text}");
    app.run_once();
    let told: Vec<String> = app.sent_to(ADMIN).into_iter().map(|m| m.subject).collect();
    assert_eq!(told.len(), 2, "one per service, once: {told:?}");
    assert!(
        told.iter().all(|s| s.contains("à refaire bientôt")),
        "{told:?}"
    );

    login(&app, "imap");
    login(&app, "smtp");
    app.run_once();
    let told: Vec<String> = app.sent_to(ADMIN).into_iter().map(|m| m.subject).collect();
    assert_eq!(told.len(), 4, "{told:?}");
    assert_eq!(
        told.iter().filter(|s| s.contains("a été refaite")).count(),
        2,
        "{told:?}"
    );
    let (code, text) = status(&app);
    assert_eq!(code, 0, "{text}");
}

on_both_databases!(a_refresh_tokens_known_end_is_told_before_it_comes);

/// A server that offers only the standard OAUTHBEARER (RFC 7628) for
/// IMAP (XOAUTH2 would be refused there), and no SASL-IR: guichet reads
/// what it offers before login and signs in with that, the response
/// after the server's go-ahead (the other tests, on Dovecot's SASL-IR,
/// send it with the command).
#[test]
fn a_server_offering_only_oauthbearer_is_signed_in_to_with_it() {
    let app = TestApp::start_oauth_offering(Db::Sqlite, 3600, "oauthbearer");
    let app = configured(app);
    // The relay without a sign-in: the bed's sink itself.
    app.edit_config(
        &format!(
            "port = {}\ntls = \"none\"\nusername = \"support@example.test\"\nauth = \"oauth2\"\n",
            app.env["SUBMISSION_PORT"]
        ),
        &format!("port = {}\ntls = \"none\"\n", app.env["SMTP_PORT"]),
    );
    login(&app, "imap");
    app.append(&request(30));
    app.run_once();
    assert_eq!(app.tickets().len(), 1);
    assert_eq!(app.sent_to("agent30@mairie-exemple.fr").len(), 1);
}
