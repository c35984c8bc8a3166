//! Configuration: the TOML file read into validated [`Settings`]. Every
//! problem (unknown key, bad value, missing file) is collected with its key
//! path and reported at once, so an administrator fixes them in one go.

mod desk;
mod reader;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use desk::{business_duration, system_zone, DigestSettings, HoursSettings, KbSettings};
use reader::Reader;

/// A password or other secret: never printed, not even in debug output.
/// One in a file (`password_file`) is read only when it is used: the
/// commands that do not talk to IMAP or SMTP work without access to it
/// (`tickets list` outside the unit, whose credentials only the service
/// can read).
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    Inline(String),
    File(PathBuf),
}

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret::Inline(s.into())
    }

    /// The secret, read from its file when it is one (without the final
    /// line ending).
    pub fn read(&self) -> Result<String, String> {
        match self {
            Secret::Inline(s) => Ok(s.clone()),
            Secret::File(path) => std::fs::read_to_string(path)
                .map(|s| s.trim_end_matches(['\r', '\n']).to_string())
                .map_err(|e| format!("cannot read the password file {}: {e}", path.display())),
        }
    }

    /// The same secret read from `dir` instead of where its file is named
    /// (`check --credentials DIR`: the unit's credentials, e.g.
    /// `/run/credentials/guichet.service/imap`, as copies in DIR).
    pub fn in_dir(&self, dir: &Path) -> Secret {
        match self {
            Secret::File(path) => match path.file_name() {
                Some(name) => Secret::File(dir.join(name)),
                None => self.clone(),
            },
            Secret::Inline(_) => self.clone(),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Inline(_) => f.write_str("Secret(***)"),
            Secret::File(path) => write!(f, "Secret(file {})", path.display()),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tls {
    Implicit,
    Starttls,
    /// Plain text; only allowed towards the loopback interface.
    None,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterProcessing {
    Move,
    Flag,
    Delete,
}

pub use crate::ticket::Language;

/// How guichet signs in to the mailbox or the relay (`auth`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    Password,
    /// A bearer token from `[oauth2]` (XOAUTH2), obtained once with
    /// `guichet oauth login imap|smtp` and refreshed unattended.
    OAuth2,
}

/// Who issues the tokens (`[oauth2]`), with the endpoints of the device
/// authorization grant (RFC 8628) and the scopes to ask for.
#[derive(Clone, Debug)]
pub struct OAuth2Settings {
    pub provider: String,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    pub device_authorization_url: String,
    pub token_url: String,
    pub scopes: Vec<String>,
}

/// The longest path a local socket's address holds (Linux's `sun_path`
/// is 108 bytes, its terminating NUL included; a little room is kept).
const MAX_SOCKET_PATH: usize = 100;

/// Microsoft's endpoints for a tenant (its id or domain, or "organizations").
fn microsoft(tenant: &str) -> (String, String) {
    let base = format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0");
    (format!("{base}/devicecode"), format!("{base}/token"))
}

#[derive(Clone, Debug)]
pub struct ImapSettings {
    pub host: String,
    pub port: u16,
    pub tls: Tls,
    pub ca_file: Option<PathBuf>,
    pub username: String,
    pub auth: Auth,
    /// Empty under `auth = "oauth2"`.
    pub password: Secret,
    pub mailbox: String,
    pub after_processing: AfterProcessing,
    pub processed_mailbox: String,
    pub failed_mailbox: String,
    pub poll_interval: Duration,
    pub idle: bool,
}

impl ImapSettings {
    /// The mailbox as one name, `imap://user@host:port/MAILBOX`: what its
    /// lease, its health and the messages about it call it.
    pub fn url(&self) -> String {
        format!(
            "imap://{}@{}:{}/{}",
            self.username, self.host, self.port, self.mailbox
        )
    }
}

/// One mailbox the daemon fetches, and the queue its new tickets go to.
#[derive(Clone, Debug)]
pub struct MailboxSettings {
    pub name: String,
    pub queue: Option<String>,
    /// What its fetch cursor and its mails' source are named by: the IMAP
    /// folder for `[imap]` (as before `[[mailbox]]`), "NAME/FOLDER" for a
    /// `[[mailbox]]`.
    pub key: String,
    pub imap: ImapSettings,
}

#[derive(Clone, Debug)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: Tls,
    pub ca_file: Option<PathBuf>,
    pub username: Option<String>,
    pub auth: Auth,
    pub password: Option<Secret>,
    /// The desk's address, as `Name <address>`.
    pub from: lettre::message::Mailbox,
}

impl SmtpSettings {
    pub fn from_address(&self) -> String {
        self.from.email.to_string().to_lowercase()
    }
}

#[derive(Clone, Debug)]
pub struct TicketSettings {
    pub subject_tag: String,
    pub language: Language,
    /// The desk's time zone for dates in mail (IANA name); `None`: the
    /// system's.
    pub timezone: Option<chrono_tz::Tz>,
    pub auto_close_after: Duration,
    /// The reminder goes this long before the automatic closure.
    pub remind_before: Duration,
    pub agent_notify: Vec<String>,
    /// As written in the configuration (shown in mail); matched folded.
    pub validate_keywords: Vec<String>,
    pub refuse_keywords: Vec<String>,
    pub reply_to_closed: crate::ticket::policy::ReplyToClosed,
    /// Whether mail written by an agent is signed with the agent's name
    /// (the agent's address is never shown).
    pub sign_with_agent_name: bool,
    /// Loop guard: at most this many automatic answers (acknowledgements
    /// and the like) to one address per hour, and per day.
    pub max_auto_per_hour: u32,
    pub max_auto_per_day: u32,
    /// Larger attachments are not stored; the sender is told.
    pub max_attachment_size: u64,
    /// A larger mail keeps its text but none of its attachments.
    pub max_message_size: u64,
    /// A mail's files travel with the mails it causes up to this size.
    pub forward_attachments_up_to: u64,
    /// A new mail whose subject is that of an open ticket of the same
    /// requester opened within this window is added to that ticket.
    pub duplicate_window: Duration,
    /// A courtesy reply ("merci", "OK") this soon after closure is
    /// recorded on the closed ticket, nothing more.
    pub closed_grace: Duration,
    /// Whether the people the requester put in copy become watchers.
    pub cc_become_watchers: bool,
    /// An agent's first answer on an unassigned ticket assigns it to them.
    pub assign_on_first_reply: bool,
}

impl Settings {
    /// Whether the passwords' files can be read: `run` says so before it
    /// starts (an invalid configuration), the other commands only when
    /// they talk to IMAP or SMTP.
    pub fn secrets_readable(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        for m in &self.mailboxes {
            if m.imap.auth == Auth::Password {
                if let Err(why) = m.imap.password.read() {
                    let key = if m.name == "main" && m.key == m.imap.mailbox {
                        "imap.password_file".to_string()
                    } else {
                        format!("mailbox {:?}: password_file", m.name)
                    };
                    problems.push(format!("{key}: {why}"));
                }
            }
        }
        let secrets = [
            ("smtp.password_file", self.smtp.password.as_ref()),
            (
                "oauth2.client_secret_file",
                self.oauth2.as_ref().and_then(|o| o.client_secret.as_ref()),
            ),
        ];
        for (key, secret) in secrets {
            if let Some(Err(why)) = secret.map(Secret::read) {
                problems.push(format!("{key}: {why}"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// The desk's rules, as the domain takes them.
    pub fn policy(&self) -> crate::ticket::policy::Policy {
        use crate::ticket::text::fold;
        let t = &self.tickets;
        let to_chrono =
            |d: Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(3650));
        crate::ticket::policy::Policy {
            desk_address: self.smtp.from_address(),
            subject_tag: t.subject_tag.clone(),
            language: t.language,
            agent_notify: t.agent_notify.iter().map(|a| a.to_lowercase()).collect(),
            validate_keywords: t.validate_keywords.iter().map(|k| fold(k)).collect(),
            refuse_keywords: t.refuse_keywords.iter().map(|k| fold(k)).collect(),
            auto_close_after: to_chrono(t.auto_close_after),
            remind_before: to_chrono(t.remind_before),
            reply_to_closed: t.reply_to_closed,
            sign_with_agent_name: t.sign_with_agent_name,
            duplicate_window: to_chrono(t.duplicate_window),
            closed_grace: to_chrono(t.closed_grace),
            cc_become_watchers: t.cc_become_watchers,
            max_attachment_size: t.max_attachment_size,
            max_message_size: t.max_message_size,
            forward_attachments_up_to: t.forward_attachments_up_to,
            max_auto_per_hour: t.max_auto_per_hour,
            max_auto_per_day: t.max_auto_per_day,
            calendar: self.hours.calendar.clone(),
            sla: self.sla.clone(),
            organisations: self.organisations.clone(),
            queues: self.queues.clone(),
            assign_on_first_reply: t.assign_on_first_reply,
            kb: std::sync::Arc::clone(&self.kb.base),
        }
    }
}

/// Where the administrators are told when the daemon cannot do its job.
#[derive(Clone, Debug)]
pub struct AlertSettings {
    /// Addresses of the administrators; empty: the log line only.
    pub to: Vec<String>,
    /// How long a failure (the IMAP login) lasts before it is raised.
    pub after: Duration,
}

/// How long closed tickets are kept (`[retention]`).
#[derive(Clone, Debug, Default)]
pub struct RetentionSettings {
    /// Closed tickets older than this are deleted, daily; `None`: kept.
    pub closed_tickets: Option<Duration>,
}

#[derive(Clone, Debug, Default)]
pub struct SecuritySettings {
    /// When set, commands and validations are honoured only if this
    /// server's Authentication-Results says the sender authenticated.
    pub trusted_authserv_id: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub database_url: String,
    /// The desk's mailbox account: the first mailbox that signs in with
    /// OAuth 2.0 (the account `oauth login imap` signs in), else the first
    /// mailbox (`[imap]`, else the first `[[mailbox]]`).
    pub imap: ImapSettings,
    /// Every mailbox fetched: `[imap]` (named "main"), then each
    /// `[[mailbox]]`.
    pub mailboxes: Vec<MailboxSettings>,
    pub smtp: SmtpSettings,
    pub tickets: TicketSettings,
    pub security: SecuritySettings,
    pub alerts: AlertSettings,
    /// Where OAuth 2.0 tokens come from, when a server signs in with them.
    pub oauth2: Option<OAuth2Settings>,
    pub retention: RetentionSettings,
    /// `[templates] dir`: the desk's overrides of the built-in templates.
    pub templates_dir: Option<PathBuf>,
    /// `[metrics] listen`: where Prometheus text metrics are served (a
    /// loopback address).
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// `[ingest] socket`: where the daemon takes mail piped to `guichet
    /// ingest`, which stores it itself when no daemon answers there.
    pub ingest_socket: Option<PathBuf>,
    pub log: LogFormat,
    pub hours: HoursSettings,
    pub sla: Option<crate::ticket::sla::Sla>,
    pub organisations: Vec<crate::ticket::policy::Organisation>,
    pub queues: Vec<crate::ticket::policy::Queue>,
    /// `[[rule]]`, in order.
    pub rules: Vec<crate::inbound::rules::Rule>,
    pub kb: desk::KbSettings,
    pub digest: desk::DigestSettings,
}

/// How log lines are written (`[log] format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    /// One JSON object per line, for a log collector.
    Json,
}

impl LogFormat {
    /// `[log] format` of the file at `path`, read before anything else
    /// (logging starts before the configuration is checked): text when
    /// the file cannot be read or says nothing valid, and the check that
    /// follows reports why.
    pub fn of_file(path: &Path) -> LogFormat {
        let format = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| t.parse::<toml::Table>().ok())
            .and_then(|t| t.get("log")?.get("format")?.as_str().map(str::to_string));
        match format.as_deref() {
            Some("json") => LogFormat::Json,
            _ => LogFormat::Text,
        }
    }
}

/// All the problems found in a configuration file.
#[derive(Debug)]
pub struct ConfigError {
    pub path: PathBuf,
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid configuration {}: {}",
            self.path.display(),
            self.problems.join("; ")
        )
    }
}

impl std::error::Error for ConfigError {}

/// The config path from `--config`, else `GUICHET_CONFIG`, else the default.
pub fn resolve_path(cli: Option<&Path>) -> PathBuf {
    cli.map(Path::to_path_buf)
        .or_else(|| std::env::var_os("GUICHET_CONFIG").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/etc/guichet/guichet.toml"))
}

impl Settings {
    pub fn load(path: &Path) -> Result<Settings, ConfigError> {
        let fail = |problem: String| ConfigError {
            path: path.to_path_buf(),
            problems: vec![problem],
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read: {e}")))?;
        Settings::parse(&text).map_err(|problems| ConfigError {
            path: path.to_path_buf(),
            problems,
        })
    }

    /// Parses TOML text; on failure, every problem with its key path.
    pub fn parse(text: &str) -> Result<Settings, Vec<String>> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| vec![toml_error(text, &e)])?;
        let mut root = Reader::new(table, "");

        let mut database = root.section("database");
        let database_url = database.string_or("url", "sqlite:///var/lib/guichet/guichet.db");
        if crate::store::Backend::of_url(&database_url).is_none() {
            database.problem("url", "must start with sqlite:// or postgres://");
        }
        database.finish();

        // [imap], the one-mailbox form, and [[mailbox]]: several, each
        // with its name and queue and every [imap] key.
        let mut mailboxes: Vec<MailboxSettings> = Vec::new();
        let has_imap = root.has("imap");
        let listed = root.tables("mailbox");
        if has_imap || listed.is_empty() {
            let mut imap = root.section("imap");
            let settings = imap_settings(&mut imap);
            imap.finish();
            mailboxes.push(MailboxSettings {
                name: "main".into(),
                queue: None,
                key: settings.mailbox.clone(),
                imap: settings,
            });
        }
        for mut r in listed {
            let name = r.string("name");
            if !desk::is_one_word(&name) {
                r.problem("name", "must be one word (letters, digits, - or _)");
            } else if mailboxes.iter().any(|m| m.name == name) {
                r.problem("name", &format!("{name:?} is listed twice"));
            }
            let queue = r.opt_string("queue");
            let settings = imap_settings(&mut r);
            if let Some(other) = mailboxes.iter().find(|m| m.imap.url() == settings.url()) {
                r.problem("mailbox", &format!("the same mailbox as {:?}", other.name));
            }
            r.finish();
            mailboxes.push(MailboxSettings {
                key: format!("{name}/{}", settings.mailbox),
                name,
                queue,
                imap: settings,
            });
        }
        let imap_auth = if mailboxes.iter().any(|m| m.imap.auth == Auth::OAuth2) {
            Auth::OAuth2
        } else {
            Auth::Password
        };

        let mut smtp = root.section("smtp");
        let smtp_host = smtp.string("host");
        let smtp_tls = smtp.tls("tls", Tls::Starttls, &smtp_host);
        let smtp_port = smtp.port(
            "port",
            match smtp_tls {
                Tls::Implicit => 465,
                Tls::Starttls => 587,
                Tls::None => 25,
            },
        );
        let smtp_ca = smtp.existing_file("ca_file");
        let smtp_username = smtp.opt_string("username");
        let smtp_auth = smtp.auth();
        let smtp_password = smtp.password(false);
        if smtp_auth == Auth::OAuth2 {
            if smtp_username.is_none() {
                smtp.problem(
                    "username",
                    "the account to sign in as is needed with auth = \"oauth2\"",
                );
            }
        } else if smtp_username.is_some() != smtp_password.is_some() {
            smtp.problem("username", "username and password go together");
        }
        let from_text = smtp.string("from");
        let from = match from_text.parse::<lettre::message::Mailbox>() {
            Ok(m) => Some(m),
            Err(e) => {
                if !from_text.is_empty() {
                    smtp.problem("from", &format!("not a valid address ({e})"));
                }
                None
            }
        };
        smtp.finish();

        let mut tickets = root.section("tickets");
        let subject_tag = tickets.string_or("subject_tag", "SUPPORT");
        if subject_tag.is_empty()
            || !subject_tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            tickets.problem("subject_tag", "must be letters, digits, - or _");
        }
        let language = tickets.string_or("language", "fr");
        let language = Language::parse(&language).unwrap_or_else(|| {
            tickets.problem("language", "must be \"fr\" or \"en\"");
            Language::Fr
        });
        let timezone = tickets.opt_string("timezone").and_then(|name| {
            name.parse::<chrono_tz::Tz>().ok().or_else(|| {
                tickets.problem(
                    "timezone",
                    &format!("unknown time zone {name:?}: an IANA name such as \"Europe/Paris\""),
                );
                None
            })
        });
        let auto_close_after =
            tickets.duration_or("auto_close_after", Duration::from_secs(7 * 86_400));
        let remind_before = tickets.duration_or("remind_before", Duration::from_secs(2 * 86_400));
        if remind_before >= auto_close_after {
            tickets.problem("remind_before", "must be shorter than auto_close_after");
        }
        let agent_notify = tickets.address_list("agent_notify");
        let validate_keywords = tickets.word_list(
            "validate_keywords",
            &["VALIDER", "ACCEPTER", "ACCEPT", "OK"],
        );
        let refuse_keywords = tickets.word_list("refuse_keywords", &["REFUSER", "REFUSE"]);
        {
            use crate::ticket::text::fold;
            for k in &validate_keywords {
                if refuse_keywords.iter().any(|r| fold(r) == fold(k)) {
                    tickets.problem(
                        "refuse_keywords",
                        &format!("{k:?} is also a validate keyword"),
                    );
                }
            }
        }
        let reply_to_closed = match tickets.string_or("reply_to_closed", "new_ticket").as_str() {
            "new_ticket" => crate::ticket::policy::ReplyToClosed::NewTicket,
            "reopen" => crate::ticket::policy::ReplyToClosed::Reopen,
            _ => {
                tickets.problem("reply_to_closed", "must be \"new_ticket\" or \"reopen\"");
                crate::ticket::policy::ReplyToClosed::NewTicket
            }
        };
        let sign_with_agent_name = match tickets.string_or("agent_identity", "hidden").as_str() {
            "hidden" => false,
            "name" => true,
            _ => {
                tickets.problem("agent_identity", "must be \"hidden\" or \"name\"");
                false
            }
        };
        let max_auto_per_hour = tickets.count_or("max_auto_per_hour", 5);
        let max_auto_per_day = tickets.count_or("max_auto_per_day", 20);
        let max_attachment_size = tickets.size_or("max_attachment_size", 50 << 20);
        let max_message_size = tickets.size_or("max_message_size", 100 << 20);
        let forward_attachments_up_to = tickets.size_or("forward_attachments_up_to", 10 << 20);
        let duplicate_window = tickets.duration_or("duplicate_window", Duration::from_secs(86_400));
        let closed_grace = tickets.duration_or("closed_grace", Duration::from_secs(7 * 86_400));
        let cc_become_watchers = tickets.bool_or("cc_become_watchers", false);
        let assign_on_first_reply = tickets.bool_or("assign_on_first_reply", true);
        tickets.finish();

        let mut security = root.section("security");
        let trusted_authserv_id = security.opt_string("trusted_authserv_id");
        security.finish();

        let mut alerts = root.section("alerts");
        let alert_to = alerts.address_list("to");
        let alert_after = alerts.duration_or("after", Duration::from_secs(600));
        alerts.finish();

        let mut oauth = root.section("oauth2");
        let oauth2 = if oauth.is_present() {
            let provider = oauth.string_or("provider", "generic");
            let tenant = oauth.opt_string("tenant");
            let client_id = oauth.string("client_id");
            let client_secret = oauth
                .opt_string("client_secret_file")
                .map(|f| Secret::File(f.into()));
            let device = oauth.opt_string("device_authorization_url");
            let token = oauth.opt_string("token_url");
            let scopes = oauth.opt_string_list("scopes");
            let endpoints = match provider.as_str() {
                "microsoft" => Some(microsoft(tenant.as_deref().unwrap_or("organizations"))),
                "google" => Some((
                    "https://oauth2.googleapis.com/device/code".to_string(),
                    "https://oauth2.googleapis.com/token".to_string(),
                )),
                "generic" => match (device, token) {
                    (Some(d), Some(t)) => Some((d, t)),
                    _ => {
                        oauth.problem(
                            "device_authorization_url",
                            "device_authorization_url and token_url are needed with provider = \"generic\"",
                        );
                        None
                    }
                },
                _ => {
                    oauth.problem(
                        "provider",
                        "must be \"microsoft\", \"google\" or \"generic\"",
                    );
                    None
                }
            };
            // Client credentials and tokens travel on these: TLS, but on
            // this machine (a test server, a local proxy).
            for (key, url) in endpoints
                .iter()
                .flat_map(|(d, t)| [("device_authorization_url", d), ("token_url", t)])
            {
                let plain_host = url
                    .strip_prefix("http://")
                    .map(|rest| rest.split(['/', '?']).next().unwrap_or(""))
                    .map(|hostport| match hostport.rsplit_once(':') {
                        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => h,
                        _ => hostport,
                    });
                match plain_host {
                    Some(host) if !is_loopback(host) => oauth.problem(
                        key,
                        "must be https:// (plain http only towards this machine)",
                    ),
                    None if !url.starts_with("https://") => {
                        oauth.problem(key, "must be an https:// URL")
                    }
                    _ => {}
                }
            }
            if tenant.is_some() && provider != "microsoft" {
                oauth.problem("tenant", "only for provider = \"microsoft\"");
            }
            let default_scopes: &[&str] = match provider.as_str() {
                // One token for both: IMAP and SMTP are the same resource.
                "microsoft" => &[
                    "offline_access",
                    "https://outlook.office.com/IMAP.AccessAsUser.All",
                    "https://outlook.office.com/SMTP.Send",
                ],
                "google" => &["https://mail.google.com/"],
                _ => &[],
            };
            let scopes =
                scopes.unwrap_or_else(|| default_scopes.iter().map(|s| s.to_string()).collect());
            if scopes.is_empty() && endpoints.is_some() {
                oauth.problem("scopes", "missing: the scopes the mail server asks for");
            }
            oauth.finish();
            endpoints.map(|(device_authorization_url, token_url)| OAuth2Settings {
                provider,
                client_id,
                client_secret,
                device_authorization_url,
                token_url,
                scopes,
            })
        } else {
            oauth.finish();
            None
        };
        if oauth2.is_none() && (imap_auth == Auth::OAuth2 || smtp_auth == Auth::OAuth2) {
            root.problem(
                "oauth2",
                "missing: auth = \"oauth2\" needs an [oauth2] section",
            );
        }

        let mut retention = root.section("retention");
        let closed_tickets = retention.opt_duration("closed_tickets");
        if closed_tickets.is_some_and(|d| d < Duration::from_secs(86_400)) {
            retention.problem(
                "closed_tickets",
                "must be at least a day (\"3y\", \"18months\")",
            );
        }
        retention.finish();

        let mut metrics = root.section("metrics");
        let metrics_listen = metrics.opt_string("listen").and_then(|text| {
            match text.parse::<std::net::SocketAddr>() {
                Ok(addr) if addr.ip().is_loopback() => Some(addr),
                Ok(_) => {
                    metrics.problem(
                        "listen",
                        "must be a loopback address (127.0.0.1:PORT or [::1]:PORT): put a proxy in front to serve it further",
                    );
                    None
                }
                Err(_) => {
                    metrics.problem("listen", "must be an address and port such as \"127.0.0.1:9187\"");
                    None
                }
            }
        });
        metrics.finish();

        let mut ingest = root.section("ingest");
        let ingest_socket = ingest.opt_string("socket").and_then(|text| {
            if !text.starts_with('/') {
                ingest.problem(
                    "socket",
                    "must be an absolute path, such as \"/run/guichet/ingest.sock\"",
                );
                None
            } else if text.len() > MAX_SOCKET_PATH {
                ingest.problem(
                    "socket",
                    &format!(
                        "must be at most {MAX_SOCKET_PATH} bytes long (a limit of local sockets)"
                    ),
                );
                None
            } else {
                Some(PathBuf::from(text))
            }
        });
        ingest.finish();

        let mut templates = root.section("templates");
        let templates_dir = templates.existing_dir("dir");
        templates.finish();

        let mut log = root.section("log");
        let log_format = match log.string_or("format", "text").as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            _ => {
                log.problem("format", "must be \"text\" or \"json\"");
                LogFormat::Text
            }
        };
        log.finish();

        let zone = timezone.unwrap_or_else(system_zone);
        let hours = desk::hours(&mut root, zone);
        let sla = desk::sla(&mut root, &hours.calendar);
        let organisations = desk::organisations(&mut root);
        let queues = desk::queues(&mut root);
        let rules = desk::rules(&mut root, &queues, &organisations);
        let kb = desk::kb(&mut root);
        let digest = desk::digest(&mut root);
        // [[mailbox]] tables count from 1, after [imap]'s "main" if any.
        let first = usize::from(!has_imap && !mailboxes.is_empty());
        for (i, m) in mailboxes.iter_mut().enumerate() {
            if let Some(q) = &m.queue {
                match queues.iter().find(|x| x.name.eq_ignore_ascii_case(q)) {
                    Some(x) => m.queue = Some(x.name.clone()),
                    None => root.problem(
                        &format!("mailbox[{}].queue", i + first),
                        &format!("no [[queue]] is named {q:?}"),
                    ),
                }
            }
        }

        let mut problems = root.finish_all();
        if from.is_none() && problems.is_empty() {
            problems.push("smtp.from: missing".into());
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Settings {
            database_url,
            // The account `oauth login imap` signs in: the first mailbox
            // that uses OAuth 2.0, else the first.
            imap: mailboxes
                .iter()
                .find(|m| m.imap.auth == Auth::OAuth2)
                .unwrap_or(&mailboxes[0])
                .imap
                .clone(),
            mailboxes,
            smtp: SmtpSettings {
                host: smtp_host,
                port: smtp_port,
                tls: smtp_tls,
                ca_file: smtp_ca,
                username: smtp_username,
                auth: smtp_auth,
                password: smtp_password,
                from: from.expect("checked above"),
            },
            tickets: TicketSettings {
                subject_tag,
                language,
                timezone,
                auto_close_after,
                remind_before,
                agent_notify,
                validate_keywords,
                refuse_keywords,
                reply_to_closed,
                sign_with_agent_name,
                max_auto_per_hour,
                max_auto_per_day,
                max_attachment_size,
                max_message_size,
                forward_attachments_up_to,
                duplicate_window,
                closed_grace,
                cc_become_watchers,
                assign_on_first_reply,
            },
            security: SecuritySettings {
                trusted_authserv_id,
            },
            alerts: AlertSettings {
                to: alert_to,
                after: alert_after,
            },
            oauth2,
            retention: RetentionSettings { closed_tickets },
            templates_dir,
            metrics_listen,
            ingest_socket,
            log: log_format,
            hours,
            sla,
            organisations,
            queues,
            rules,
            kb,
            digest,
        })
    }
}

/// The keys of `[imap]` and of each `[[mailbox]]`.
fn imap_settings(imap: &mut Reader) -> ImapSettings {
    let imap_host = imap.string("host");
    let imap_tls = imap.tls("tls", Tls::Implicit, &imap_host);
    let imap_port = imap.port(
        "port",
        match imap_tls {
            Tls::Implicit => 993,
            _ => 143,
        },
    );
    let imap_ca = imap.existing_file("ca_file");
    let imap_username = imap.string("username");
    let imap_auth = imap.auth();
    let imap_password = imap
        .password(imap_auth == Auth::Password)
        .unwrap_or_else(|| Secret::new(""));
    let mailbox = imap.string_or("mailbox", "INBOX");
    let after_processing = match imap.string_or("after_processing", "move").as_str() {
        "move" => AfterProcessing::Move,
        "flag" => AfterProcessing::Flag,
        "delete" => AfterProcessing::Delete,
        _ => {
            imap.problem(
                "after_processing",
                "must be \"move\", \"flag\" or \"delete\"",
            );
            AfterProcessing::Move
        }
    };
    let processed_mailbox = imap.string_or("processed_mailbox", "Processed");
    let failed_mailbox = imap.string_or("failed_mailbox", "Failed");
    if processed_mailbox == mailbox || failed_mailbox == mailbox {
        imap.problem(
            "processed_mailbox",
            "processed_mailbox and failed_mailbox must differ from mailbox",
        );
    }
    let poll_interval = imap.duration_or("poll_interval", Duration::from_secs(60));
    let idle = imap.bool_or("idle", true);
    ImapSettings {
        host: imap_host,
        port: imap_port,
        tls: imap_tls,
        ca_file: imap_ca,
        username: imap_username,
        auth: imap_auth,
        password: imap_password,
        mailbox,
        after_processing,
        processed_mailbox,
        failed_mailbox,
        poll_interval,
        idle,
    }
}

/// A TOML syntax error with where it is: "line 12, column 8".
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!(
                "not valid TOML at line {line}, column {column}: {}",
                e.message()
            )
        }
        None => format!("not valid TOML: {}", e.message()),
    }
}

/// Whether a host name designates this machine (plain text is allowed only
/// there).
pub fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[database]
url = "sqlite:///tmp/g.db"

[imap]
host = "127.0.0.1"
port = 1143
tls = "none"
username = "support@example.test"
password = "secret"

[smtp]
host = "127.0.0.1"
port = 2525
tls = "none"
from = "Support informatique <support@example.test>"

[tickets]
agent_notify = ["sau@example.test"]
"#;

    #[test]
    fn good_config_with_defaults() {
        let s = Settings::parse(GOOD).unwrap();
        assert_eq!(s.imap.mailbox, "INBOX");
        assert_eq!(s.imap.after_processing, AfterProcessing::Move);
        assert_eq!(s.imap.poll_interval, Duration::from_secs(60));
        assert_eq!(s.tickets.subject_tag, "SUPPORT");
        assert_eq!(s.tickets.language, Language::Fr);
        assert_eq!(s.tickets.timezone, None);
        let paris = GOOD.replace(
            "agent_notify = [\"sau@example.test\"]",
            "agent_notify = [\"sau@example.test\"]\ntimezone = \"Europe/Paris\"",
        );
        assert_eq!(
            Settings::parse(&paris).unwrap().tickets.timezone,
            Some(chrono_tz::Europe::Paris)
        );
        let mars = GOOD.replace(
            "agent_notify = [\"sau@example.test\"]",
            "agent_notify = [\"sau@example.test\"]\ntimezone = \"Mars/Olympus\"",
        );
        let problems = Settings::parse(&mars).unwrap_err().join("\n");
        assert!(
            problems.contains("tickets.timezone: unknown time zone \"Mars/Olympus\""),
            "{problems}"
        );
        assert_eq!(s.tickets.auto_close_after, Duration::from_secs(7 * 86400));
        assert_eq!(s.smtp.from_address(), "support@example.test");
        assert_eq!(s.imap.password.read().unwrap(), "secret");
        assert!(!format!("{:?}", s.imap).contains("secret\""));
    }

    #[test]
    fn every_problem_reported_with_its_path() {
        let bad = GOOD
            .replace("port = 1143", "port = 99999\ncolour = \"blue\"")
            .replace("tls = \"none\"\nusername", "tls = \"sometimes\"\nusername")
            .replace(
                "agent_notify = [\"sau@example.test\"]",
                "agent_notify = [\"not an address\"]\nlanguage = \"de\"",
            )
            + "\n[extra]\nx = 1\n";
        let problems = Settings::parse(&bad).unwrap_err();
        let all = problems.join("\n");
        for expected in [
            "imap.port",
            "imap.colour: unknown key",
            "imap.tls",
            "tickets.agent_notify[0]",
            "tickets.language",
            "extra: unknown section",
        ] {
            assert!(all.contains(expected), "missing {expected:?} in:\n{all}");
        }
    }

    #[test]
    fn the_desks_hours_service_levels_and_organisations() {
        let s = Settings::parse(GOOD).unwrap();
        assert_eq!(s.hours.calendar, crate::ticket::calendar::Calendar::Always);
        assert!(s.sla.is_none() && s.organisations.is_empty());
        let desk = format!(
            r#"{GOOD}timezone = "Europe/Paris"
[hours]
monday = ["13:30-17:00", "08:30-12:00"]
friday = ["08:30-12:00"]
holidays = "fr"
closed = ["2026-12-24"]
urgent = "Astreinte : 01 23 45 67 89"
[sla]
first_answer = {{ blocking = "1h", normal = "2d" }}
resolution = {{ normal = "10d" }}
[[organisation]]
name = "Ville de Bobigny"
domains = ["Ville-Bobigny.fr", "@ccas-bobigny.fr"]
[[organisation]]
name = "Syndicat des eaux"
domains = ["eaux.example"]
"#
        );
        let s = Settings::parse(&desk).unwrap();
        let crate::ticket::calendar::Calendar::Hours(h) = &s.hours.calendar else {
            panic!("hours");
        };
        // Sorted; 10 h 30 over two open days: a day is 5 h 15.
        assert_eq!(h.week[0][0].start, 510);
        assert_eq!(h.zone, chrono_tz::Europe::Paris);
        assert_eq!(
            s.hours.urgent.as_deref(),
            Some("Astreinte : 01 23 45 67 89")
        );
        let sla = s.sla.as_ref().unwrap();
        assert_eq!(
            sla.first_answer.normal,
            Some(chrono::Duration::minutes(2 * 315))
        );
        assert_eq!(sla.first_answer.important, None);
        assert_eq!(sla.warn_before, chrono::Duration::minutes(30));
        assert_eq!(
            s.organisations[0].domains,
            ["ville-bobigny.fr", "ccas-bobigny.fr"]
        );
        assert_eq!(
            s.policy().organisation_of("x@ccas-bobigny.fr").as_deref(),
            Some("Ville de Bobigny")
        );

        let bad = format!(
            r#"{GOOD}[hours]
monday = ["08:30-12:00", "11:00-14:00"]
tuesday = ["8h30-12h"]
holidays = "de"
closed = ["24/12/2026"]
sundy = ["10:00-11:00"]
[sla]
first_answer = {{ blocking = "1 hour", urgent = "1h" }}
[[organisation]]
name = "Ville"
domains = ["ville.fr"]
[[organisation]]
name = "Ville"
domains = ["ville.fr", "not a domain"]
[[organisation]]
domains = []
"#
        );
        let all = Settings::parse(&bad).unwrap_err().join("\n");
        for expected in [
            "hours.monday: ranges overlap",
            "hours.tuesday[0]: \"8h30-12h\" is not a range",
            "hours.holidays: must be \"fr\" or \"none\"",
            "hours.closed[0]: \"24/12/2026\" is not a date",
            "hours.sundy: unknown key",
            "sla.first_answer.blocking: \"1 hour\" is not a duration",
            "sla.first_answer.urgent: unknown key",
            "organisation[2].name: \"Ville\" is listed twice",
            "organisation[2].domains[0]: ville.fr is already \"Ville\"'s",
            "organisation[2].domains[1]: \"not a domain\" is not a mail domain",
            "organisation[3].name: missing",
            "organisation[3].domains: must list",
        ] {
            assert!(all.contains(expected), "missing {expected:?} in:\n{all}");
        }
        let closed_all_week = format!("{GOOD}[hours]\nholidays = \"fr\"\n");
        let all = Settings::parse(&closed_all_week).unwrap_err().join("\n");
        assert!(
            all.contains("hours.monday: no opening hours on any day"),
            "{all}"
        );
    }

    #[test]
    fn queues_and_rules() {
        let desk = format!(
            r#"{GOOD}assign_on_first_reply = false
[[queue]]
name = "dsin"
addresses = ["Help@Univ.example"]
agent_notify = ["dsin-agents@univ.example"]
[[queue]]
name = "grh"
addresses = ["rh@univ.example"]
[[organisation]]
name = "Université"
domains = ["univ.example"]
[[rule]]
if_subject = "paie|bulletin"
set_category = "GRH"
set_queue = "GRH"
[[rule]]
if_from = "@univ\\.example>?$"
if_body = "urgent"
set_impact = "important"
set_organisation = "Université"
"#
        );
        let s = Settings::parse(&desk).unwrap();
        assert!(!s.tickets.assign_on_first_reply);
        assert_eq!(s.queues[0].addresses, ["help@univ.example"]);
        assert_eq!(s.queues[1].agent_notify, Vec::<String>::new());
        assert_eq!(s.rules.len(), 2);
        assert_eq!(s.rules[0].sets.queue.as_deref(), Some("grh"));
        assert_eq!(s.rules[1].number, 2);
        assert_eq!(s.rules[1].conditions.len(), 2);
        let p = s.policy();
        assert_eq!(p.notify_of(Some("grh")), ["sau@example.test"]);
        assert_eq!(p.notify_of(Some("dsin")), ["dsin-agents@univ.example"]);
        assert!(p.is_agent_notify("dsin-agents@univ.example"));
        assert!(p.is_desk_address("rh@univ.example"));

        let bad = format!(
            r#"{GOOD}[[queue]]
name = "dsin info"
addresses = ["not an address"]
[[queue]]
name = "grh"
addresses = ["rh@univ.example"]
[[queue]]
name = "GRH"
addresses = ["rh@univ.example"]
[[rule]]
if_subject = "paie("
set_queue = "compta"
set_type = "bug"
set_impact = "urgent"
set_organisation = "Nobody"
[[rule]]
set_category = "x"
[[rule]]
if_to = "rh@"
colour = "blue"
"#
        );
        let all = Settings::parse(&bad).unwrap_err().join("\n");
        for expected in [
            "queue[1].name: must be one word",
            "queue[1].addresses[0]: not an email address",
            "queue[3].name: \"GRH\" is listed twice",
            "queue[3].addresses: rh@univ.example already routes to \"grh\"",
            "rule[1].if_subject: not a valid regex",
            "rule[1].set_queue: no [[queue]] is named \"compta\"",
            "rule[1].set_type: must be",
            "rule[1].set_impact: must be",
            "rule[2].if_subject: a rule needs a condition",
            "rule[3].set_category: a rule needs something to set",
            "rule[3].colour: unknown key",
        ] {
            assert!(all.contains(expected), "missing {expected:?} in:\n{all}");
        }
    }

    #[test]
    fn several_mailboxes() {
        let s = Settings::parse(GOOD).unwrap();
        assert_eq!(s.mailboxes.len(), 1);
        assert_eq!(
            (s.mailboxes[0].name.as_str(), s.mailboxes[0].key.as_str()),
            ("main", "INBOX")
        );
        let rh = r#"
[[queue]]
name = "grh"
[[mailbox]]
name = "rh"
queue = "GRH"
host = "imap.univ.example"
username = "rh@univ.example"
password = "x"
mailbox = "INBOX"
"#;
        let s = Settings::parse(&format!("{GOOD}{rh}")).unwrap();
        assert_eq!(s.mailboxes.len(), 2);
        let m = &s.mailboxes[1];
        assert_eq!(
            (m.name.as_str(), m.queue.as_deref(), m.key.as_str()),
            ("rh", Some("grh"), "rh/INBOX")
        );
        assert_eq!(m.imap.port, 993);
        // [[mailbox]] alone: the first one is the desk's [imap].
        let without_imap = GOOD
            .replace("[imap]", "[unused]")
            .lines()
            .filter(|l| !l.starts_with("[unused]"))
            .collect::<Vec<_>>()
            .join("\n");
        let without_imap: String = without_imap
            .split("\n[smtp]")
            .enumerate()
            .map(|(i, part)| {
                if i == 0 {
                    part.split("\nhost").next().unwrap().to_string()
                } else {
                    format!("\n[smtp]{part}")
                }
            })
            .collect();
        let s = Settings::parse(&format!("{without_imap}{rh}")).unwrap();
        assert_eq!(s.mailboxes.len(), 1);
        assert_eq!(s.imap.username, "rh@univ.example");
        let bad = format!(
            "{GOOD}{}\n[[mailbox]]\nname = \"rh\"\nqueue = \"compta\"\nhost = \"imap.univ.example\"\nusername = \"rh@univ.example\"\npassword = \"x\"\n",
            rh
        );
        let all = Settings::parse(&bad).unwrap_err().join("\n");
        for expected in [
            "mailbox[2].name: \"rh\" is listed twice",
            "mailbox[2].mailbox: the same mailbox as \"rh\"",
            "mailbox[2].queue: no [[queue]] is named \"compta\"",
        ] {
            assert!(all.contains(expected), "missing {expected:?} in:\n{all}");
        }
    }

    #[test]
    fn retention_and_templates_are_checked() {
        let s = Settings::parse(GOOD).unwrap();
        assert_eq!(s.retention.closed_tickets, None);
        assert_eq!(s.templates_dir, None);
        let kept = format!("{GOOD}\n[retention]\nclosed_tickets = \"3y\"\n");
        let years = Settings::parse(&kept)
            .unwrap()
            .retention
            .closed_tickets
            .unwrap();
        assert!(years > Duration::from_secs(3 * 365 * 86_400), "{years:?}");
        let bad = format!(
            "{GOOD}\n[retention]\nclosed_tickets = \"2h\"\n[templates]\ndir = \"/nonexistent/tpl\"\n"
        );
        let all = Settings::parse(&bad).unwrap_err().join("\n");
        assert!(
            all.contains("retention.closed_tickets: must be at least a day"),
            "{all}"
        );
        assert!(
            all.contains("templates.dir: directory /nonexistent/tpl does not exist"),
            "{all}"
        );
    }

    #[test]
    fn the_ingest_socket_is_an_absolute_path_a_socket_can_have() {
        assert_eq!(Settings::parse(GOOD).unwrap().ingest_socket, None);
        let set = format!("{GOOD}\n[ingest]\nsocket = \"/run/guichet/ingest.sock\"\n");
        assert_eq!(
            Settings::parse(&set).unwrap().ingest_socket,
            Some(PathBuf::from("/run/guichet/ingest.sock"))
        );
        let long = format!("/run/{}/ingest.sock", "d".repeat(90));
        for (socket, problem) in [
            ("ingest.sock", "ingest.socket: must be an absolute path"),
            ("", "ingest.socket: must be an absolute path"),
            (
                long.as_str(),
                "ingest.socket: must be at most 100 bytes long",
            ),
        ] {
            let bad = format!("{GOOD}\n[ingest]\nsocket = \"{socket}\"\nport = 25\n");
            let all = Settings::parse(&bad).unwrap_err().join("\n");
            assert!(all.contains(problem), "{socket}: {all}");
            assert!(
                all.contains("ingest.port"),
                "unknown key not reported: {all}"
            );
        }
    }

    #[test]
    fn the_knowledge_base_is_read_and_each_bad_article_named() {
        let dir = std::env::temp_dir().join(format!("guichet-kb-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
        write(
            "vpn.md",
            "---\ntitle: Se connecter au VPN\nkeywords: vpn, télétravail\n---\nOuvrez le client.\n",
        );
        write(
            "wifi.md",
            "---\ntitle: Wi-Fi\nlink: https://wiki.example/wifi\n---\nTexte.\n",
        );
        write("notes.txt", "not an article");
        let with = |extra: &str| {
            format!(
                "{GOOD}\n[kb]\ndir = {:?}\n{extra}\n",
                dir.display().to_string()
            )
        };
        let s = Settings::parse(&with("link = \"https://intranet.example/kb/{id}\"")).unwrap();
        let kb = &s.kb.base;
        assert_eq!(kb.articles().len(), 2);
        assert_eq!(kb.suggest, 3);
        assert_eq!(
            kb.get("vpn").unwrap().link.as_deref(),
            Some("https://intranet.example/kb/vpn")
        );
        // An article's own link wins.
        assert_eq!(
            kb.get("wifi").unwrap().link.as_deref(),
            Some("https://wiki.example/wifi")
        );

        write("broken.md", "title: no front matter\n");
        write(
            "big.md",
            &format!("---\ntitle: x\n---\n{}", "x".repeat(300_000)),
        );
        let all = Settings::parse(&with(
            "suggest = 50\nlink = \"https://intranet.example/kb\"\nmin_score = -1",
        ))
        .unwrap_err()
        .join("\n");
        for expected in [
            "kb.dir: broken.md: no front matter",
            "kb.dir: big.md: 300017 bytes, at most 262144",
            "kb.suggest: must be a whole number from 0 to 20",
            "kb.link: must contain {id}",
            "kb.min_score: must be a number of at least 0",
        ] {
            assert!(all.contains(expected), "{expected}: {all}");
        }
        let missing = format!("{GOOD}\n[kb]\ndir = \"/nonexistent/kb\"\n");
        let all = Settings::parse(&missing).unwrap_err().join("\n");
        assert!(
            all.contains("kb.dir: directory /nonexistent/kb does not exist"),
            "{all}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        // Without [kb], an empty base: nothing suggested, #kb finds nothing.
        assert!(Settings::parse(GOOD).unwrap().kb.base.is_empty());
    }

    #[test]
    fn oauth2_providers_have_their_endpoints_and_scopes() {
        let with = |extra: &str| {
            format!("{GOOD}\n[oauth2]\n{extra}\n")
                .replace("password = \"secret\"", "auth = \"oauth2\"")
        };
        let ms = Settings::parse(&with(
            "provider = \"microsoft\"\ntenant = \"univ.example\"\nclient_id = \"abc\"",
        ))
        .unwrap();
        assert_eq!(ms.imap.auth, Auth::OAuth2);
        let o = ms.oauth2.unwrap();
        assert_eq!(
            o.token_url,
            "https://login.microsoftonline.com/univ.example/oauth2/v2.0/token"
        );
        assert!(o.scopes.contains(&"offline_access".to_string()));
        assert!(o
            .scopes
            .iter()
            .any(|s| s.ends_with("IMAP.AccessAsUser.All")));
        let google = Settings::parse(&with("provider = \"google\"\nclient_id = \"abc\"")).unwrap();
        assert_eq!(google.oauth2.unwrap().scopes, ["https://mail.google.com/"]);
        let local = Settings::parse(&with("client_id = \"a\"\ndevice_authorization_url = \"http://127.0.0.1:9/d\"\ntoken_url = \"http://localhost:9/t\"\nscopes = [\"mail\"]")).unwrap();
        assert_eq!(local.oauth2.unwrap().provider, "generic");

        let all = Settings::parse(&with("client_id = \"a\"\ndevice_authorization_url = \"http://auth.example.org/d\"\ntoken_url = \"ftp://x\"\ntenant = \"t\"")).unwrap_err().join("\n");
        for expected in [
            "oauth2.device_authorization_url: must be https://",
            "oauth2.token_url: must be an https:// URL",
            "oauth2.tenant: only for provider = \"microsoft\"",
            "oauth2.scopes: missing",
        ] {
            assert!(all.contains(expected), "{expected:?} not in:\n{all}");
        }
        let missing = Settings::parse(&GOOD.replace("password = \"secret\"", "auth = \"oauth2\""))
            .unwrap_err()
            .join("\n");
        assert!(missing.contains("oauth2: missing"), "{missing}");
        // No password needed for the mailbox then, and none read.
        assert!(
            Settings::parse(&with("provider = \"google\"\nclient_id = \"abc\""))
                .unwrap()
                .secrets_readable()
                .is_ok()
        );
    }

    #[test]
    fn plain_text_only_on_loopback() {
        let bad = GOOD.replace(
            "host = \"127.0.0.1\"\nport = 1143",
            "host = \"imap.example.org\"\nport = 1143",
        );
        let problems = Settings::parse(&bad).unwrap_err();
        assert!(
            problems.iter().any(|p| p.starts_with("imap.tls")),
            "{problems:?}"
        );
    }

    #[test]
    fn toml_errors_say_where_they_are() {
        let broken = GOOD.replace("[smtp]", "[smtp\nport = 25");
        let problems = Settings::parse(&broken).unwrap_err();
        let line = GOOD.lines().position(|l| l == "[smtp]").unwrap() + 1;
        assert!(
            problems[0].starts_with(&format!("not valid TOML at line {line}, column ")),
            "{problems:?}"
        );
    }

    #[test]
    fn password_file_is_read_and_missing_one_reported() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("imap");
        std::fs::write(&file, "from-file\n").unwrap();
        let with_file = GOOD.replace(
            "password = \"secret\"",
            &format!("password_file = \"{}\"", file.display()),
        );
        assert_eq!(
            Settings::parse(&with_file)
                .unwrap()
                .imap
                .password
                .read()
                .unwrap(),
            "from-file"
        );
        // A file that cannot be read is said when it is used, not before:
        // commands that need no password work without it.
        let missing = GOOD.replace(
            "password = \"secret\"",
            "password_file = \"/nonexistent/pw\"",
        );
        let settings = Settings::parse(&missing).unwrap();
        let why = settings.imap.password.read().unwrap_err();
        assert!(why.contains("/nonexistent/pw"), "{why}");
        let problems = settings.secrets_readable().unwrap_err();
        assert!(
            problems.iter().any(|p| p.starts_with("imap.password_file")),
            "{problems:?}"
        );
        // From another directory (check --credentials DIR).
        let moved = settings.imap.password.in_dir(dir.path());
        assert_eq!(moved, Secret::File(dir.path().join("pw")));
    }
}
