//! `TestApp`: a real Dovecot and a real SMTP sink (scripts/mailbed), a
//! database (SQLite file or a fresh PostgreSQL database), a config file
//! written inline, and the real `guichet` binary.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use diesel::{Connection, RunQueryDsl};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub dir: tempfile::TempDir,
    pub env: HashMap<String, String>,
    pub database_url: String,
    pg_admin: Option<(String, String)>,
    pub config_path: PathBuf,
    /// scripts/oauthbed's env (CLIENT_ID, TOKEN_URL, …) for a bed started
    /// with [`TestApp::start_oauth`].
    pub oauth_env: HashMap<String, String>,
}

/// A mail the SMTP sink received.
#[derive(Debug, Clone)]
pub struct Sent {
    pub to: String,
    pub subject: String,
    pub message_id: String,
    pub in_reply_to: String,
    /// The Message-IDs of `References`, in order, without angle brackets.
    pub references: Vec<String>,
    pub auto_submitted: String,
    pub body: String,
    /// The files it carries: name, contents, and whether inline.
    pub files: Vec<(String, Vec<u8>, bool)>,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn mailbed() -> PathBuf {
    repo().join("scripts/mailbed")
}

fn oauthbed() -> PathBuf {
    repo().join("scripts/oauthbed")
}

/// The PostgreSQL server tests create their databases in.
pub fn pg_admin_url() -> String {
    std::env::var("GUICHET_TEST_PG_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn unique() -> String {
    let mut b = [0u8; 6];
    getrandom::getrandom(&mut b).unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl TestApp {
    pub fn start(db: Db) -> TestApp {
        TestApp::start_with(db, "")
    }

    /// Starts a bed; `extra_tickets` is appended to the [tickets] section.
    pub fn start_with(db: Db, extra_tickets: &str) -> TestApp {
        TestApp::start_bed(db, extra_tickets, false, None)
    }

    /// A bed with a real OAuth 2.0 server (scripts/oauthbed, in DIR/oauth,
    /// access tokens living `access_seconds`) whose tokens Dovecot's IMAP
    /// and its submission service (SUBMISSION_PORT, relaying to the sink)
    /// take; the config still signs in with passwords.
    pub fn start_oauth(db: Db, access_seconds: u32) -> TestApp {
        TestApp::start_bed(db, "", false, Some((access_seconds, None, None)))
    }

    /// The same, Dovecot offering only these bearer mechanisms
    /// ("oauthbearer": the standard one, without Google's XOAUTH2), and
    /// no SASL-IR.
    pub fn start_oauth_offering(db: Db, access_seconds: u32, mechanisms: &str) -> TestApp {
        TestApp::start_bed(
            db,
            "",
            false,
            Some((access_seconds, None, Some(mechanisms))),
        )
    }

    /// The same, the server also giving its refresh tokens a life of
    /// `refresh_seconds` (refused after, and said in its answers as
    /// `refresh_token_expires_in`, as Google does).
    pub fn start_oauth_refresh_expiring(
        db: Db,
        access_seconds: u32,
        refresh_seconds: u32,
    ) -> TestApp {
        TestApp::start_bed(
            db,
            "",
            false,
            Some((access_seconds, Some(refresh_seconds), None)),
        )
    }

    /// Runs `scripts/oauthbed VERB DIR/oauth ARGS…` (approve, revoke, …).
    pub fn oauthbed(&self, verb: &str, args: &[&str]) -> Output {
        Command::new(oauthbed())
            .arg(verb)
            .arg(self.path().join("oauth"))
            .args(args)
            .output()
            .unwrap()
    }

    /// A bed whose database is at `database_url` (a server or file the
    /// test runs itself).
    pub fn start_on_database(database_url: &str) -> TestApp {
        let mut app = TestApp::start_bed(Db::Sqlite, "", false, None);
        app.database_url = database_url.to_string();
        app.write_config("", "");
        app
    }

    /// A bed whose Dovecot also serves STARTTLS and implicit TLS, with a
    /// throwaway CA (env CA_FILE, IMAPS_PORT).
    pub fn start_tls(db: Db) -> TestApp {
        TestApp::start_bed(db, "", true, None)
    }

    fn start_bed(
        db: Db,
        extra_tickets: &str,
        tls: bool,
        oauth: Option<(u32, Option<u32>, Option<&str>)>,
    ) -> TestApp {
        // Dovecot socket paths must stay short: a directory under /tmp.
        let dir = tempfile::Builder::new()
            .prefix("gt")
            .tempdir_in("/tmp")
            .unwrap();
        let mut oauth_env = HashMap::new();
        let mut up = Command::new(mailbed());
        up.arg("up").arg(dir.path());
        if tls {
            up.arg("--tls");
        }
        if let Some((seconds, refresh, mechanisms)) = oauth {
            if let Some(m) = mechanisms {
                up.env("MAILBED_OAUTH_MECHANISMS", m);
                // Nor SASL-IR: the older exchange, the response after the
                // server's go-ahead.
                up.env(
                    "MAILBED_IMAP_CAPABILITY",
                    "IMAP4rev1 LITERAL+ ID ENABLE IDLE",
                );
            }
            let oauth_dir = dir.path().join("oauth");
            std::fs::create_dir(&oauth_dir).unwrap();
            let mut bed = Command::new(oauthbed());
            bed.arg("up").arg(&oauth_dir).args([
                "--access-seconds",
                &seconds.to_string(),
                "--interval",
                "1",
            ]);
            if let Some(r) = refresh {
                bed.args(["--refresh-seconds", &r.to_string()]);
            }
            let out = bed.output().expect("scripts/oauthbed runs");
            assert!(
                out.status.success(),
                "oauthbed up failed (run scripts/install-deps): {}",
                String::from_utf8_lossy(&out.stderr)
            );
            oauth_env = parse_env(&String::from_utf8_lossy(&out.stdout));
            up.arg("--oauth").arg(&oauth_dir);
        }
        let out = up.output().expect("scripts/mailbed runs");
        assert!(
            out.status.success(),
            "mailbed up failed (run scripts/install-deps): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let env = parse_env(&String::from_utf8_lossy(&out.stdout));
        let (database_url, pg_admin) = match db {
            Db::Sqlite => (
                format!("sqlite://{}/guichet.db", dir.path().display()),
                None,
            ),
            Db::Postgres => {
                let admin = pg_admin_url();
                let name = format!("guichet_test_{}", unique());
                let mut conn = diesel::PgConnection::establish(&admin)
                    .unwrap_or_else(|e| panic!("PostgreSQL at {admin}: {e}"));
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .unwrap();
                let base = admin.rsplit_once('/').unwrap().0;
                (format!("{base}/{name}"), Some((admin, name)))
            }
        };
        let config_path = dir.path().join("guichet.toml");
        let app = TestApp {
            dir,
            env,
            database_url,
            pg_admin,
            config_path,
            oauth_env,
        };
        app.write_config(extra_tickets, "");
        app
    }

    pub fn write_config(&self, extra_tickets: &str, extra_imap: &str) {
        let config = format!(
            r#"[database]
url = "{db}"

[imap]
host = "127.0.0.1"
port = {imap_port}
tls = "none"
username = "{user}"
password = "{password}"
poll_interval = "1s"
{extra_imap}

[smtp]
host = "127.0.0.1"
port = {smtp_port}
tls = "none"
from = "Support informatique <support@example.test>"

[tickets]
agent_notify = ["sau@example.test"]
{extra_tickets}
"#,
            db = self.database_url,
            imap_port = self.env["IMAP_PORT"],
            user = self.env["IMAP_USER"],
            password = self.env["IMAP_PASSWORD"],
            smtp_port = self.env["SMTP_PORT"],
        );
        std::fs::write(&self.config_path, config).unwrap();
    }

    /// Runs `scripts/mailbed VERB DIR ARGS…` (smtp-stop, imap-drop, …).
    pub fn mailbed(&self, verb: &str, args: &[&str]) -> String {
        let out = Command::new(mailbed())
            .arg(verb)
            .arg(self.path())
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mailbed {verb}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Replaces `from` by `to` in the config file.
    pub fn edit_config(&self, from: &str, to: &str) {
        let text = std::fs::read_to_string(&self.config_path).unwrap();
        assert!(text.contains(from), "{from:?} not in the config");
        std::fs::write(&self.config_path, text.replace(from, to)).unwrap();
    }

    /// Puts a backlog of mails straight into the INBOX (`mailbed seed`):
    /// thousands in a second, where APPEND takes minutes.
    pub fn seed(&self, mails: impl Iterator<Item = Vec<u8>>) {
        let dir = tempfile::Builder::new()
            .prefix("backlog")
            .tempdir_in(self.path())
            .unwrap();
        for (i, raw) in mails.enumerate() {
            std::fs::write(dir.path().join(format!("{i:06}.eml")), raw).unwrap();
        }
        self.mailbed("seed", &[dir.path().to_str().unwrap()]);
    }

    /// Runs SQL statements on this app's database (after `guichet
    /// migrate`), for a test that must shape the database itself.
    pub fn sql(&self, statements: &str) {
        use diesel::connection::SimpleConnection;
        let mut conn = guichet::store::connect(&self.database_url).unwrap();
        match &mut conn {
            guichet::store::AnyConnection::Sqlite(c) => c.batch_execute(statements),
            guichet::store::AnyConnection::Postgresql(c) => c.batch_execute(statements),
        }
        .unwrap_or_else(|e| panic!("{statements}: {e}"));
    }

    pub fn outbox(&self) -> Vec<serde_json::Value> {
        serde_json::from_str(&self.ok(&["outbox", "list", "--json"])).unwrap()
    }

    /// Why each outbox row in `state` is there (its last error, "" if none).
    pub fn outbox_reasons(&self, state: &str) -> Vec<String> {
        self.outbox()
            .into_iter()
            .filter(|r| r["state"] == state)
            .map(|r| r["last_error"].as_str().unwrap_or("").to_string())
            .collect()
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// APPENDs a mail to the INBOX.
    pub fn append(&self, raw: &[u8]) {
        self.append_to("INBOX", raw);
    }

    /// APPENDs a mail to a folder of the account (created when missing):
    /// the INBOX, or a second mailbox of the desk.
    pub fn append_to(&self, folder: &str, raw: &[u8]) {
        let out = spawn_with_stdin(
            Command::new(mailbed())
                .arg("append")
                .arg(self.path())
                .arg("-")
                .env("MAILBED_APPEND_TO", folder),
            raw,
        )
        .wait_with_output()
        .unwrap();
        assert!(
            out.status.success(),
            "append to {folder}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn count(&self, mailbox: &str) -> usize {
        let out = Command::new(mailbed())
            .args(["count"])
            .arg(self.path())
            .arg(mailbox)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "count: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_guichet"));
        c.arg("--config").arg(&self.config_path);
        c.env_remove("GUICHET_CONFIG").env("RUST_LOG", "info");
        c
    }

    pub fn guichet(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    /// Runs the command and asserts it succeeded; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.guichet(args);
        assert!(
            out.status.success(),
            "guichet {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `guichet run`, ready to spawn, its log going to the file `log`
    /// (read while it runs).
    pub fn daemon_command(&self, log: &Path) -> Command {
        let mut c = self.command();
        c.arg("run")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap());
        c
    }

    pub fn run_once(&self) -> String {
        let out = self.guichet(&["run", "--once"]);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "run --once failed: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        stderr
    }

    /// `run --once --now T`: the cycle as if it were `now` (RFC 3339).
    pub fn run_at(&self, now: &str) -> String {
        let out = self.guichet(&["run", "--once", "--now", now]);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            out.status.success(),
            "run --once --now {now} failed: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        stderr
    }

    /// Appends a reply to a mail guichet sent, threaded by In-Reply-To.
    pub fn reply(&self, to: &Sent, from: &str, body: &str, extra_headers: &str) {
        let id = format!("{}@test.example", unique());
        let headers = format!(
            "In-Reply-To: <{}>\nReferences: <{}>\n{extra_headers}",
            to.message_id, to.message_id
        );
        self.append(&mail(
            from,
            &format!("RE: {}", to.subject),
            &id,
            &headers,
            body,
        ));
    }

    /// The thread's message kinds, in order.
    pub fn kinds(&self, number: i64) -> Vec<String> {
        self.ticket(number)["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["kind"].as_str().unwrap().to_string())
            .collect()
    }

    pub fn ticket(&self, number: i64) -> serde_json::Value {
        let out = self.ok(&["tickets", "show", &number.to_string(), "--json"]);
        serde_json::from_str(&out).unwrap()
    }

    pub fn tickets(&self) -> Vec<serde_json::Value> {
        let out = self.ok(&["tickets", "list", "--json"]);
        serde_json::from_str(&out).unwrap()
    }

    /// Every mail the SMTP sink received, in order of arrival.
    pub fn sent(&self) -> Vec<Sent> {
        let dir = PathBuf::from(&self.env["SINK_DIR"]).join("new");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort_by_key(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            // aiosmtpd names files "<secs>.M<usecs>P<pid>Q<n>.<host>".
            let q: u64 = name
                .split('Q')
                .nth(1)
                .and_then(|s| s.split('.').next())
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            q
        });
        files
            .iter()
            .map(|p| {
                use mail_parser::MimeHeaders;
                let raw = std::fs::read(p).unwrap();
                let m = mail_parser::MessageParser::default().parse(&raw).unwrap();
                let header = |name: &str| {
                    m.headers_raw()
                        .find(|(n, _)| n.eq_ignore_ascii_case(name))
                        .map(|(_, v)| v.trim().to_string())
                        .unwrap_or_default()
                };
                Sent {
                    to: header("X-RcptTo"),
                    subject: m.subject().unwrap_or("").to_string(),
                    message_id: m.message_id().unwrap_or("").to_string(),
                    in_reply_to: header("In-Reply-To").trim_matches(['<', '>']).to_string(),
                    references: header("References")
                        .split_whitespace()
                        .map(|id| id.trim_matches(['<', '>']).to_string())
                        .collect(),
                    auto_submitted: header("Auto-Submitted"),
                    body: m.body_text(0).unwrap_or_default().into_owned(),
                    files: m
                        .attachments()
                        .map(|a| {
                            (
                                a.attachment_name().unwrap_or("").to_string(),
                                a.contents().to_vec(),
                                a.content_disposition().is_some_and(|d| d.is_inline()),
                            )
                        })
                        .collect(),
                }
            })
            .collect()
    }

    /// The acknowledgements the sink received (`Auto-Submitted:
    /// auto-replied`), copies included.
    pub fn acknowledgements(&self) -> Vec<Sent> {
        self.sent()
            .into_iter()
            .filter(|m| m.auto_submitted == "auto-replied")
            .collect()
    }

    pub fn sent_to(&self, address: &str) -> Vec<Sent> {
        self.sent()
            .into_iter()
            .filter(|s| s.to == address)
            .collect()
    }

    /// Waits until `cond` holds, for at most `limit`.
    pub fn wait_for(&self, limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if cond() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        cond()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = Command::new(mailbed())
            .arg("down")
            .arg(self.dir.path())
            .output();
        if !self.oauth_env.is_empty() {
            let _ = Command::new(oauthbed())
                .arg("down")
                .arg(self.dir.path().join("oauth"))
                .output();
        }
        if let Some((admin, name)) = &self.pg_admin {
            if let Ok(mut conn) = diesel::PgConnection::establish(admin) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn);
            }
        }
    }
}

fn parse_env(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            (
                k.trim().to_string(),
                v.trim().trim_matches('\'').to_string(),
            )
        })
        .collect()
}

/// Standard base64 (RFC 4648), in lines of 76 characters.
/// `command` started with `input` written to its stdin (then closed), its
/// stdout and stderr piped.
pub fn spawn_with_stdin(command: &mut Command, input: &[u8]) -> std::process::Child {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child
}

pub fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for (i, chunk) in bytes.chunks(3).enumerate() {
        if i > 0 && i % 19 == 0 {
            out.push('\n');
        }
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A file of a mail: its name, type, contents, and its Content-ID when
/// it is shown inline (a pasted picture).
pub struct FileOf<'a> {
    pub name: &'a str,
    pub content_type: &'a str,
    pub content: &'a [u8],
    pub inline_id: Option<&'a str>,
}

/// A mail with files, as `mail` otherwise.
pub fn mail_with_files(
    from: &str,
    subject: &str,
    message_id: &str,
    extra_headers: &str,
    body: &str,
    files: &[FileOf<'_>],
) -> Vec<u8> {
    let mut raw = format!(
        "From: {from}\nTo: support@example.test\nSubject: {subject}\nMessage-ID: <{message_id}>\nDate: Mon, 23 Nov 2026 09:00:00 +0100\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b1\"\n{extra_headers}\n--b1\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n{body}\n"
    );
    for f in files {
        let disposition = match f.inline_id {
            Some(id) => format!("inline; filename=\"{}\"\nContent-ID: <{id}>", f.name),
            None => format!("attachment; filename=\"{}\"", f.name),
        };
        raw.push_str(&format!(
            "--b1\nContent-Type: {}; name=\"{}\"\nContent-Transfer-Encoding: base64\nContent-Disposition: {disposition}\n\n{}\n",
            f.content_type,
            f.name,
            base64(f.content)
        ));
    }
    raw.push_str("--b1--\n");
    raw.into_bytes()
}

/// A plain mail, LF line endings (mailbed converts to CRLF);
/// `extra_headers` lines each end with a newline.
pub fn mail(
    from: &str,
    subject: &str,
    message_id: &str,
    extra_headers: &str,
    body: &str,
) -> Vec<u8> {
    format!(
        "From: {from}\nTo: support@example.test\nSubject: {subject}\nMessage-ID: <{message_id}>\nDate: Mon, 23 Nov 2026 09:00:00 +0100\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n{extra_headers}\n{body}\n"
    )
    .into_bytes()
}
