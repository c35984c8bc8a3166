//! Strangers and hostile mail on the real bed: a mail whose sender is in
//! doubt acts on nothing, only the receiving server's own
//! Authentication-Results count, an untrusted mail is not quoted back, and
//! what a stranger writes in a header is made safe before it is stored,
//! shown or sent.

use crate::app::{mail, Db, Sent, TestApp};
use crate::on_both_databases;

const JEANNE: &str = "Jeanne Martin <jeanne.martin@mairie-exemple.fr>";
const JEANNE_ADDR: &str = "jeanne.martin@mairie-exemple.fr";
const MARC: &str = "Marc Agent <marc.agent@example.test>";
const MARC_ADDR: &str = "marc.agent@example.test";
const EVE: &str = "Eve <eve@elsewhere.example>";
const DESK: &str = "sau@example.test";

/// A command run under umask 022, as an administrator's shell has it.
fn under_umask_022(app: &TestApp, env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut c = std::process::Command::new("sh");
    c.arg("-c")
        .arg("umask 022; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_guichet"))
        .arg("--config")
        .arg(&app.config_path)
        .args(args)
        .env_remove("GUICHET_CONFIG");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// The database and its WAL are created 0600 whatever the umask; `-vv`,
/// even with RUST_LOG=trace, logs neither the IMAP password nor a mail's
/// body; `check` never prints a password given in the database URL.
#[test]
fn secrets_stay_out_of_files_and_logs() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("private.db");
    let app = TestApp::start_on_database(&format!("sqlite://{}", db.display()));
    let out = under_umask_022(&app, &[], &["check"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(mode(&db), 0o600, "the database file");

    app.append(&mail(
        JEANNE,
        "Mot de passe oublié",
        "sec1@mairie-exemple.fr",
        "",
        "Mon code personnel est 4711-corps-du-message.",
    ));
    let out = under_umask_022(&app, &[("RUST_LOG", "trace")], &["-vv", "run", "--once"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(app.tickets().len(), 1);
    assert!(
        !stderr.contains(&app.env["IMAP_PASSWORD"]),
        "the password: {stderr}"
    );
    assert!(!stderr.contains("4711-corps"), "a body: {stderr}");
    // Nor with directives naming the libraries' own modules.
    app.append(&mail(
        JEANNE,
        "Badge",
        "sec2@mairie-exemple.fr",
        "",
        "Le code du badge est 0815-corps-du-message.",
    ));
    let specific = "trace,async_imap::imap_stream=trace,async_imap=trace,lettre=trace";
    let out = under_umask_022(&app, &[("RUST_LOG", specific)], &["-vv", "run", "--once"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(app.tickets().len(), 2);
    assert!(
        !stderr.contains(&app.env["IMAP_PASSWORD"]),
        "the password: {stderr}"
    );
    assert!(!stderr.contains("0815-corps"), "a body: {stderr}");
    let wal = dir.path().join("private.db-wal");
    if wal.exists() {
        assert_eq!(mode(&wal), 0o600, "the WAL");
    }

    let url = "postgres://127.0.0.1:1/guichet?user=guichet&password=pg-s3cret-pw";
    app.edit_config(
        &format!("url = \"sqlite://{}\"", db.display()),
        &format!("url = \"{url}\""),
    );
    let out = under_umask_022(&app, &[], &["check"]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("database: FAILED"), "{all}");
    assert!(!all.contains("pg-s3cret-pw"), "{all}");
}

on_both_databases!(
    a_mail_with_several_senders_acts_on_nothing,
    only_the_topmost_authentication_results_count,
    an_untrusted_mail_is_not_quoted_back,
    names_subjects_and_file_names_are_made_safe,
    a_borrowed_message_id_drops_nobodys_mail,
    three_mib_of_nested_html_is_read,
    a_megabyte_of_misnested_html_is_read,
    a_backlog_of_large_mails_is_fetched_in_bounded_memory,
    a_strangers_automatic_mail_is_not_recorded_on_a_ticket,
);

fn last_to(app: &TestApp, address: &str) -> Sent {
    app.sent_to(address)
        .pop()
        .unwrap_or_else(|| panic!("nothing sent to {address}: {:?}", app.sent()))
}

/// A desk with one agent and one ticket awaiting Jeanne's validation.
fn solved_ticket(db: Db) -> (TestApp, Sent) {
    let app = TestApp::start(db);
    app.ok(&["agents", "add", MARC_ADDR, "--name", "Marc"]);
    app.append(&mail(
        JEANNE,
        "Copieur du 2e étage",
        "req1@mairie-exemple.fr",
        "",
        "Le copieur affiche une erreur.",
    ));
    app.run_at("2026-11-23T08:00:00Z");
    app.reply(
        &last_to(&app, DESK),
        MARC,
        "#solution Redémarrez le copieur.",
        "",
    );
    app.run_at("2026-11-23T09:00:00Z");
    assert_eq!(app.ticket(1)["status"], "solved");
    let solution = last_to(&app, JEANNE_ADDR);
    (app, solution)
}

/// Two From headers, or one with two addresses, or a Sender of another
/// address: the mail is kept on the ticket and the agents told, but it
/// validates nothing and no agent command in it runs.
fn a_mail_with_several_senders_acts_on_nothing(db: Db) {
    let (app, solution) = solved_ticket(db);
    // mail-parser alone would take the last From header (the requester).
    app.reply(&solution, EVE, "VALIDER", &format!("From: {JEANNE}\n"));
    // And the other way round: the first From header is the requester's.
    app.reply(&solution, JEANNE, "VALIDER", &format!("From: {EVE}\n"));
    app.reply(&solution, &format!("{JEANNE}, {EVE}"), "VALIDER", "");
    app.reply(
        &solution,
        JEANNE,
        "VALIDER",
        "Sender: eve@elsewhere.example\n",
    );
    app.run_at("2026-11-23T10:00:00Z");
    assert_eq!(app.ticket(1)["status"], "solved", "a stranger validated");
    // Marc's solution made the ticket his: he is the one told.
    let agents = app.sent_to(MARC_ADDR);
    let told: Vec<_> = agents
        .iter()
        .filter(|m| m.body.contains("eve@elsewhere.example"))
        .collect();
    assert!(told.len() >= 2, "the agents were not told: {agents:?}");

    // An agent's address beside a stranger's: no watcher added, no reply
    // sent on to the requester.
    let before = app.sent_to(JEANNE_ADDR).len();
    let to_desk = last_to(&app, DESK);
    app.reply(
        &to_desk,
        &format!("{MARC}, {EVE}"),
        "#watch add eve@elsewhere.example",
        "",
    );
    app.reply(
        &to_desk,
        MARC,
        "#watch add eve@elsewhere.example",
        &format!("From: {EVE}\n"),
    );
    app.reply(
        &to_desk,
        EVE,
        "Cliquez ici : https://evil.example",
        &format!("From: {MARC}\n"),
    );
    app.reply(
        &to_desk,
        MARC,
        "Cliquez ici : https://evil.example",
        &format!("From: {EVE}\n"),
    );
    app.run_at("2026-11-23T11:00:00Z");
    let ticket = app.ticket(1);
    assert!(!ticket["watchers"].to_string().contains("eve@"), "{ticket}");
    assert!(app
        .sent_to(JEANNE_ADDR)
        .iter()
        .skip(before)
        .all(|m| !m.body.contains("evil.example")));
    assert!(app
        .sent_to("eve@elsewhere.example")
        .iter()
        .all(|m| !m.body.contains("evil.example")));

    // Jeanne alone validates.
    app.reply(&solution, JEANNE, "VALIDER", "");
    app.run_at("2026-11-23T12:00:00Z");
    assert_eq!(app.ticket(1)["close_reason"], "validated");
}

/// With `[security]`, a pass counts only in the receiving server's own
/// headers at the top, for the From's own domain, read with quoted
/// strings and comments.
fn only_the_topmost_authentication_results_count(db: Db) {
    let (app, solution) = solved_ticket(db);
    let text = std::fs::read_to_string(&app.config_path).unwrap()
        + "\n[security]\ntrusted_authserv_id = \"mx.example.test\"\n";
    std::fs::write(&app.config_path, text).unwrap();
    let forged = [
        // A forged pass with the server's id, below another server's.
        "Authentication-Results: mx.example.test; spf=none smtp.mailfrom=mairie-exemple.fr; dmarc=none header.from=mairie-exemple.fr\n\
         Authentication-Results: relay.example.net; spf=pass smtp.mailfrom=relay.example.net\n\
         Authentication-Results: mx.example.test; dmarc=pass header.from=mairie-exemple.fr\n",
        // A pass for another domain.
        "Authentication-Results: mx.example.test; dmarc=pass header.from=elsewhere.example\n",
        // A pass inside a quoted value.
        "Authentication-Results: mx.example.test; dkim=fail reason=\"bad; dmarc=pass header.from=mairie-exemple.fr\" header.d=mairie-exemple.fr\n",
    ];
    for (i, headers) in forged.iter().enumerate() {
        app.reply(&solution, JEANNE, "VALIDER", headers);
        app.run_at(&format!("2026-11-23T1{i}:00:00Z"));
        assert_eq!(app.ticket(1)["status"], "solved", "forged case {i} passed");
    }
    assert_eq!(
        app.kinds(1).iter().filter(|k| *k == "followup").count(),
        3,
        "{:?}",
        app.kinds(1)
    );
    app.reply(
        &solution,
        JEANNE,
        "VALIDER",
        "Authentication-Results: mx.example.test;\n  dkim=pass (good signature) header.d=mairie-exemple.fr header.s=sel;\n  dmarc=pass (p=reject) header.from=mairie-exemple.fr\n",
    );
    app.run_at("2026-11-23T15:00:00Z");
    assert_eq!(app.ticket(1)["close_reason"], "validated");
}

/// A new mail that does not pass is acknowledged without its text nor its
/// file names (the desk would otherwise relay a stranger's words under its
/// name to whatever address is in From); the agents see all of it.
fn an_untrusted_mail_is_not_quoted_back(db: Db) {
    let app = TestApp::start(db);
    let phishing = "Votre compte expire ce soir : https://evil.example/connexion";
    // Without [security], a Sender of another address is a doubt: the
    // mail is not quoted back.
    app.append(&mail(
        JEANNE,
        "Paie : https://evil.example/paie",
        "ph2@elsewhere.example",
        "Sender: eve@elsewhere.example\n",
        phishing,
    ));
    app.run_at("2026-11-23T09:00:00Z");
    // With it, a mail with no pass.
    let text = std::fs::read_to_string(&app.config_path).unwrap()
        + "\n[security]\ntrusted_authserv_id = \"mx.example.test\"\n";
    std::fs::write(&app.config_path, text).unwrap();
    let raw = format!(
        "From: {JEANNE}\nTo: {DESK}\nSubject: Compte : https://evil.example/compte\nMessage-ID: <ph1@elsewhere.example>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain; charset=utf-8\n\n{phishing}\n--b\nContent-Type: application/pdf; name=\"facture-a-regler.pdf\"\nContent-Disposition: attachment; filename=\"facture-a-regler.pdf\"\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--b--\n"
    );
    app.append(raw.as_bytes());
    app.run_at("2026-11-23T10:00:00Z");
    let acks = app.sent_to(JEANNE_ADDR);
    assert_eq!(acks.len(), 2, "{acks:?}");
    for ack in &acks {
        assert!(!ack.body.contains("evil.example"), "{}", ack.body);
        assert!(!ack.body.contains("facture-a-regler"), "{}", ack.body);
        assert!(ack.body.contains("pas reproduit"), "{}", ack.body);
        // Nor its subject, nor the display name it came with.
        assert!(!ack.subject.contains("evil"), "{}", ack.subject);
        assert!(ack.body.starts_with("Bonjour,"), "{}", ack.body);
    }
    let agents = app.sent_to(DESK);
    assert!(agents.iter().all(|m| m.body.contains("evil.example")));
    assert!(
        agents
            .iter()
            .any(|m| m.body.contains("facture-a-regler.pdf")),
        "{agents:?}"
    );
}

/// A display name with CR/LF or bidi overrides, a subject of one
/// 5,000-character word, a file name of 400 bytes: stored and shown safe,
/// and the acknowledgement goes through the real relay (a header line over
/// 998 bytes is refused, and the requester would be marked undeliverable).
fn names_subjects_and_file_names_are_made_safe(db: Db) {
    let app = TestApp::start(db);
    let word = "x".repeat(5000);
    let long_name = format!("{}.pdf", "n".repeat(400));
    let raw = format!(
        "From: =?utf-8?q?Jeanne=0D=0AStatut=3A_clos=E2=80=AE?= <{JEANNE_ADDR}>\nTo: {DESK}\nSubject: {word}\nMessage-ID: <h1@mairie-exemple.fr>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain; charset=utf-8\n\nVoir la pièce jointe.\n--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=\"{long_name}\"\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--b--\n"
    );
    app.append(raw.as_bytes());
    app.run_at("2026-11-23T09:00:00Z");
    let ticket = app.ticket(1);
    assert_eq!(
        ticket["requester"]["name"], "Jeanne Statut: clos",
        "{ticket}"
    );
    assert!(ticket["subject"].as_str().unwrap().chars().count() <= 250);
    let ack = last_to(&app, JEANNE_ADDR);
    assert!(ack.subject.contains("xxxxxxxxxx"), "{}", ack.subject);
    let notice = last_to(&app, DESK);
    assert!(
        !notice.body.lines().any(|l| l.starts_with("Statut")),
        "{}",
        notice.body
    );
    assert!(!notice.body.contains('\u{202E}'));
    let shown = notice
        .body
        .lines()
        .find(|l| l.contains(".pdf"))
        .unwrap_or_else(|| panic!("{}", notice.body));
    let name = shown.trim().trim_start_matches("- ");
    let name = name.split(" (").next().unwrap();
    assert!(name.len() <= 255 && name.ends_with(".pdf"), "{name}");
    let undeliverable: Vec<_> = app
        .outbox()
        .into_iter()
        .filter(|r| r["state"] != "sent")
        .collect();
    assert!(undeliverable.is_empty(), "{undeliverable:?}");
    // Every line the sink received is within 998 bytes.
    let sink = std::path::PathBuf::from(&app.env["SINK_DIR"]).join("new");
    for entry in std::fs::read_dir(sink).unwrap() {
        let raw = std::fs::read(entry.unwrap().path()).unwrap();
        let longest = raw.split(|&b| b == b'\n').map(<[u8]>::len).max().unwrap();
        // 998 bytes and the CR before the LF split on.
        assert!(longest <= 999, "a line of {longest} bytes");
    }
}

/// A stranger sends first a mail with the Message-ID Jeanne's will carry:
/// hers still opens its ticket and is acknowledged. The same mail
/// delivered twice (to two support addresses: other transport headers)
/// is still one.
fn a_borrowed_message_id_drops_nobodys_mail(db: Db) {
    let app = TestApp::start(db);
    app.append(&mail(
        EVE,
        "Bonjour",
        "same-id@mairie-exemple.fr",
        "",
        "Rien d'important.",
    ));
    app.run_at("2026-11-23T09:00:00Z");
    let jeanne = mail(
        JEANNE,
        "Badge refusé",
        "same-id@mairie-exemple.fr",
        "",
        "Mon badge ne passe plus à l'entrée.",
    );
    app.append(&jeanne);
    let mut copy = b"Delivered-To: helpdesk@example.test\nReceived: from mx2.example.test by imap.example.test; Mon, 23 Nov 2026 10:00:05 +0100\n".to_vec();
    copy.extend_from_slice(&jeanne);
    app.append(&copy);
    app.run_at("2026-11-23T10:00:00Z");
    let tickets = app.tickets();
    assert_eq!(tickets.len(), 2, "{tickets:?}");
    assert_eq!(app.ticket(2)["requester"]["email"], JEANNE_ADDR);
    assert_eq!(app.kinds(2), ["initial"]);
    assert_eq!(app.sent_to(JEANNE_ADDR).len(), 1);
}

/// An HTML-only mail of 3 MiB of nested elements (html2text alone takes
/// minutes on it, past the 30 s a mail may take to read, and the mail
/// would fail): read, its text on the ticket, the next mail on time.
fn three_mib_of_nested_html_is_read(db: Db) {
    let app = TestApp::start(db);
    let depth = (3 << 20) / 11;
    let html = format!(
        "<html><body>{}L'imprimante est hors ligne.{}</body></html>",
        "<div>".repeat(depth),
        "</div>".repeat(depth)
    );
    let raw = format!(
        "From: {JEANNE}\nTo: {DESK}\nSubject: Imprimante\nMessage-ID: <deep1@mairie-exemple.fr>\nMIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n\n{html}\n"
    );
    app.append(raw.as_bytes());
    app.append(&mail(
        JEANNE,
        "Scanner",
        "deep2@mairie-exemple.fr",
        "",
        "Le scanner aussi.",
    ));
    app.run_at("2026-11-23T09:00:00Z");
    let tickets = app.tickets();
    assert_eq!(tickets.len(), 2, "{}", app.ok(&["failed", "list"]));
    let first = app.ticket(1);
    let body = first["messages"][0]["body"].as_str().unwrap();
    assert!(
        body.contains("L'imprimante est hors ligne."),
        "{}",
        body.chars().take(300).collect::<String>()
    );
}

/// Under 1 MiB, HTML is rendered: shapes that would have a flattening
/// trusting what the tags say of themselves let deep nesting through
/// (misnested "<b><div></b>", "<div/>"), each about 900 KB: read, on
/// time, the next mail too (html2text alone takes over a minute on each,
/// `cargo bench --bench html`).
fn a_megabyte_of_misnested_html_is_read(db: Db) {
    let app = TestApp::start(db);
    for (i, (open, close)) in [("<b><div>", "</b>"), ("<div/>", "")].iter().enumerate() {
        let n = 900_000 / (open.len() + close.len());
        let html = format!(
            "<html><body>{}Le badge {i} ne s'active plus.{}</body></html>",
            open.repeat(n),
            close.repeat(n)
        );
        let raw = format!(
            "From: {JEANNE}\nTo: {DESK}\nSubject: Badge {i}\nMessage-ID: <mis{i}@mairie-exemple.fr>\nMIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n\n{html}\n"
        );
        app.append(raw.as_bytes());
    }
    app.append(&mail(
        JEANNE,
        "Scanner",
        "mis9@mairie-exemple.fr",
        "",
        "Le scanner aussi.",
    ));
    app.run_at("2026-11-23T09:00:00Z");
    // Past its 30 s, a mail's reading is given up and the mail listed as
    // failed: none is.
    assert_eq!(app.tickets().len(), 3, "{}", app.ok(&["failed", "list"]));
    for i in 0..2 {
        let ticket = app.ticket(i as i64 + 1);
        let body = ticket["messages"][0]["body"].as_str().unwrap();
        assert!(
            body.contains(&format!("Le badge {i} ne s'active plus.")),
            "{}",
            body.chars().take(300).collect::<String>()
        );
    }
}

/// 24 mails of 8 MiB (a scan each) waiting: fetched in batches bounded by
/// bytes, not 200 at a time, so the daemon's peak memory stays far below
/// the backlog's 190 MiB times the copies a batch makes (it passed 600 MiB
/// before), and every mail becomes its ticket.
fn a_backlog_of_large_mails_is_fetched_in_bounded_memory(db: Db) {
    let app = TestApp::start(db);
    app.ok(&["migrate"]);
    // 6 MiB of base64 lines: 8 MiB of mail.
    let line = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\n";
    let blob = line.repeat((8 << 20) / line.len());
    app.seed((0..24).map(|i| {
        format!(
            "From: Scanner {i} <scan{i}@mairie-exemple.fr>\nTo: {DESK}\nSubject: Dossier {i}\nMessage-ID: <scan{i}@mairie-exemple.fr>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain; charset=utf-8\n\nLe dossier {i} en pièce jointe.\n--b\nContent-Type: application/pdf; name=\"dossier-{i}.pdf\"\nContent-Transfer-Encoding: base64\n\n{blob}--b--\n"
        )
        .into_bytes()
    }));
    let mut child = app
        .command()
        .args(["run", "--once", "--now", "2026-11-23T09:00:00Z"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    while child.try_wait().unwrap().is_none() {
        if let Some(kib) = std::fs::read_to_string(&status).ok().and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        }) {
            peak_kib = peak_kib.max(kib);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(app.tickets().len(), 24);
    assert!(peak_kib < 300 * 1024, "peak RSS {} MiB", peak_kib / 1024);
}

/// An out-of-office from someone the ticket does not know, carrying the
/// ticket's reference and a logo: nothing of it lands on the ticket, no
/// ticket opens, nobody is answered. The requester's own is recorded.
fn a_strangers_automatic_mail_is_not_recorded_on_a_ticket(db: Db) {
    let app = TestApp::start(db);
    app.append(&mail(
        JEANNE,
        "Accès au logiciel de paie",
        "paie1@mairie-exemple.fr",
        "",
        "Je n'arrive plus à me connecter.",
    ));
    app.run_at("2026-11-23T09:00:00Z");
    let ack = last_to(&app, JEANNE_ADDR);
    let out_of_office = |from: &str, id: &str| {
        format!(
            "From: {from}\nTo: {DESK}\nSubject: Réponse automatique : {subject}\nMessage-ID: <{id}>\nIn-Reply-To: <{irt}>\nAuto-Submitted: auto-replied\nX-Auto-Response-Suppress: All\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain; charset=utf-8\n\nJe suis absente jusqu'au 30 novembre.\n--b\nContent-Type: image/png; name=\"logo.png\"\nContent-Disposition: attachment; filename=\"logo.png\"\nContent-Transfer-Encoding: base64\n\niVBORw0KGgo=\n--b--\n",
            subject = ack.subject,
            irt = ack.message_id,
        )
        .into_bytes()
    };
    app.append(&out_of_office(EVE, "ooo1@elsewhere.example"));
    app.run_at("2026-11-23T09:10:00Z");
    assert_eq!(app.kinds(1), ["initial"]);
    assert_eq!(app.tickets().len(), 1);
    assert!(app.sent_to("eve@elsewhere.example").is_empty());
    let messages = app.ticket(1)["messages"].to_string();
    assert!(!messages.contains("logo.png"), "{messages}");

    app.append(&out_of_office(JEANNE, "ooo2@mairie-exemple.fr"));
    app.run_at("2026-11-23T09:20:00Z");
    assert_eq!(app.kinds(1), ["initial", "auto_reply"]);
    assert_eq!(
        app.sent_to(JEANNE_ADDR).len(),
        1,
        "an out-of-office was answered"
    );
}
