//! The support mailbox over IMAP (async-imap on tokio, rustls): connect,
//! log in, and the few commands the fetcher needs, all batched.

pub mod error;

use std::collections::HashSet;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use async_imap::types::Capabilities;
use futures::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls;

pub use error::ImapError;

use crate::config::{AfterProcessing, ImapSettings, Tls};

/// How long one network operation may take before the connection is
/// considered dead.
pub const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// Messages fetched per `UID FETCH` and moved per `UID MOVE`, at most.
pub const BATCH: usize = 200;

/// The bytes of mail one batch holds, at most (a larger mail is a batch
/// of its own): one batch is processed while the next is fetched, so that
/// about twice this is in memory, whatever the size of the mails. 16 MiB
/// held 104 MiB at the peak of a backlog of the mix (bench/README.md), 8
/// MiB 84 MiB, for 3-5 % more time.
pub const BATCH_BYTES: u64 = 8 << 20;

/// The UIDs in batches of at most `max_count` mails and `max_bytes` bytes
/// (by their RFC822.SIZE), in order; a mail larger than `max_bytes` is a
/// batch alone. A UID whose size is unknown counts as `max_bytes`.
pub fn batches(sized: &[(u32, Option<u32>)], max_count: usize, max_bytes: u64) -> Vec<Vec<u32>> {
    let mut out: Vec<Vec<u32>> = Vec::new();
    let mut bytes = 0u64;
    for &(uid, size) in sized {
        let size = size.map_or(max_bytes, u64::from);
        match out.last_mut() {
            Some(last) if last.len() < max_count && bytes + size <= max_bytes => {
                last.push(uid);
                bytes += size;
            }
            _ => {
                out.push(vec![uid]);
                bytes = size;
            }
        }
    }
    out
}

/// The keyword set on processed mail when `after_processing = "flag"`.
pub const PROCESSED_KEYWORD: &str = "$GuichetProcessed";

pub trait ImapStream: AsyncRead + AsyncWrite + Unpin + Send + Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Debug> ImapStream for T {}

pub type Session = async_imap::Session<Box<dyn ImapStream>>;

/// A TLS client configuration trusting the system roots and `ca_file`.
pub fn tls_config(ca_file: Option<&std::path::Path>) -> Result<rustls::ClientConfig, ImapError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        // A broken system certificate must not prevent using the others.
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| ImapError::Tls(format!("cannot read {}: {e}", path.display())))?;
        for cert in certs {
            roots.add(cert).map_err(|e| {
                ImapError::Tls(format!("bad certificate in {}: {e}", path.display()))
            })?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ImapError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// `fut`, given up after `IO_TIMEOUT` as a timeout of `what`.
pub async fn with_timeout<T, E>(
    what: &'static str,
    fut: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, ImapError>
where
    ImapError: From<E>,
{
    match tokio::time::timeout(IO_TIMEOUT, fut).await {
        Ok(r) => r.map_err(ImapError::from),
        Err(_) => Err(ImapError::Timeout(what)),
    }
}

async fn upgrade(
    tcp: TcpStream,
    settings: &ImapSettings,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, ImapError> {
    let config = tls_config(settings.ca_file.as_deref())?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = rustls::pki_types::ServerName::try_from(settings.host.clone())
        .map_err(|e| ImapError::Tls(format!("invalid server name {}: {e}", settings.host)))?;
    with_timeout("TLS handshake", connector.connect(name, tcp)).await
}

/// How to sign in: the account's password, or an OAuth 2.0 access token
/// (SASL XOAUTH2, what Microsoft 365 and Gmail take).
pub enum Login {
    Password(String),
    Bearer(String),
}

impl Login {
    /// The login `settings` ask for, when it needs no token (the
    /// password, read from its file now).
    pub fn password(settings: &ImapSettings) -> Result<Login, ImapError> {
        settings
            .password
            .read()
            .map(Login::Password)
            .map_err(ImapError::Secret)
    }
}

/// A bearer token's SASL exchange (XOAUTH2 or OAUTHBEARER): the initial
/// response, then an empty answer to the error the server sends as a
/// challenge when it refuses the token (it then ends with NO).
struct Bearer {
    response: Option<String>,
}

impl async_imap::Authenticator for Bearer {
    type Response = String;

    fn process(&mut self, _challenge: &[u8]) -> String {
        self.response.take().unwrap_or_default()
    }
}

/// Connects, secures and logs in.
pub async fn connect(settings: &ImapSettings, login: &Login) -> Result<Session, ImapError> {
    let addr = (settings.host.as_str(), settings.port);
    let tcp = with_timeout("connect", TcpStream::connect(addr)).await?;
    // Commands are small and answered one by one: Nagle only adds latency.
    tcp.set_nodelay(true)?;
    let stream: Box<dyn ImapStream> = match settings.tls {
        Tls::None => Box::new(tcp),
        Tls::Implicit => Box::new(upgrade(tcp, settings).await?),
        Tls::Starttls => {
            let mut client = async_imap::Client::new(tcp);
            greeting(&mut client).await?;
            with_timeout(
                "STARTTLS",
                client.run_command_and_check_ok("STARTTLS", None),
            )
            .await?;
            Box::new(upgrade(client.into_inner(), settings).await?)
        }
    };
    let mut client = async_imap::Client::new(stream);
    if settings.tls != Tls::Starttls {
        greeting(&mut client).await?;
    }
    let signed_in = match login {
        Login::Password(password) => {
            tokio::time::timeout(IO_TIMEOUT, client.login(&settings.username, password)).await
        }
        Login::Bearer(token) => {
            // XOAUTH2 where offered (what Microsoft and Google document),
            // else the standard OAUTHBEARER (RFC 7628).
            let offered = capabilities(&mut client).await?;
            let offers = |c: &str| offered.iter().any(|o| o == c);
            let (mechanism, response) = if offers("AUTH=XOAUTH2") || !offers("AUTH=OAUTHBEARER") {
                ("XOAUTH2", crate::oauth::xoauth2(&settings.username, token))
            } else {
                (
                    "OAUTHBEARER",
                    crate::oauth::oauthbearer(
                        &settings.username,
                        &settings.host,
                        settings.port,
                        token,
                    ),
                )
            };
            // SASL-IR (RFC 4959): the response goes with the command, one
            // round trip instead of two; a refusal still comes as a
            // challenge, answered empty.
            let (command, bearer) = if offers("SASL-IR") {
                use base64::Engine;
                let ir = base64::engine::general_purpose::STANDARD.encode(&response);
                (format!("{mechanism} {ir}"), Bearer { response: None })
            } else {
                (
                    mechanism.to_string(),
                    Bearer {
                        response: Some(response),
                    },
                )
            };
            tokio::time::timeout(IO_TIMEOUT, client.authenticate(command, bearer)).await
        }
    };
    match signed_in {
        Ok(Ok(session)) => Ok(session),
        Ok(Err((e, _))) => Err(ImapError::Login(e.to_string())),
        Err(_) => Err(ImapError::Timeout("login")),
    }
}

/// What the server says it can do before login (its CAPABILITY answer,
/// RFC 3501 section 6.1.1), upper case: `AUTH=XOAUTH2`, `SASL-IR`, ….
async fn capabilities<T: ImapStream>(
    client: &mut async_imap::Client<T>,
) -> Result<Vec<String>, ImapError> {
    use async_imap::imap_proto::{Capability, Response};
    use async_imap::types::UnsolicitedResponse;
    // The untagged answer comes through the channel of responses the
    // client does not wait for (before login, the only way to read it).
    let (tx, rx) = async_channel::unbounded();
    with_timeout(
        "CAPABILITY",
        client.run_command_and_check_ok("CAPABILITY", Some(tx)),
    )
    .await?;
    let mut offered = Vec::new();
    while let Ok(response) = rx.try_recv() {
        if let UnsolicitedResponse::Other(data) = response {
            if let Response::Capabilities(caps) = data.parsed() {
                offered.extend(caps.iter().map(|c| match c {
                    Capability::Auth(m) => format!("AUTH={}", m.to_ascii_uppercase()),
                    Capability::Atom(a) => a.to_ascii_uppercase(),
                    Capability::Imap4rev1 => "IMAP4REV1".to_string(),
                }));
            }
        }
    }
    Ok(offered)
}

async fn greeting<T: ImapStream>(client: &mut async_imap::Client<T>) -> Result<(), ImapError> {
    match tokio::time::timeout(IO_TIMEOUT, client.read_response()).await {
        Ok(Ok(Some(_))) => Ok(()),
        Ok(Ok(None)) => Err(ImapError::Closed),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(ImapError::Timeout("greeting")),
    }
}

/// What the server can do, as far as the fetcher cares.
#[derive(Clone, Copy, Debug, Default)]
pub struct Features {
    pub idle: bool,
    pub r#move: bool,
    pub uidplus: bool,
}

pub async fn features(session: &mut Session) -> Result<Features, ImapError> {
    let caps: Capabilities = with_timeout("CAPABILITY", session.capabilities()).await?;
    Ok(Features {
        idle: caps.has_str("IDLE"),
        r#move: caps.has_str("MOVE"),
        uidplus: caps.has_str("UIDPLUS"),
    })
}

/// Creates the mailboxes mail is moved to, when missing.
pub async fn ensure_mailbox(session: &mut Session, name: &str) -> Result<(), ImapError> {
    let existing: Vec<_> = with_timeout("LIST", async {
        session
            .list(Some(""), Some(name))
            .await?
            .try_collect::<Vec<_>>()
            .await
    })
    .await?;
    if existing.is_empty() {
        with_timeout("CREATE", session.create(name)).await?;
    }
    Ok(())
}

/// Selects the mailbox; returns its UIDVALIDITY.
pub async fn select(session: &mut Session, mailbox: &str) -> Result<u32, ImapError> {
    let mb = with_timeout("SELECT", session.select(mailbox)).await?;
    mb.uid_validity
        .ok_or_else(|| ImapError::Protocol(format!("{mailbox} has no UIDVALIDITY")))
}

/// UIDs above `after`, ascending; `exclude_keyword` skips processed mail
/// left in place by `after_processing = "flag"`.
pub async fn uids_after(
    session: &mut Session,
    after: u32,
    exclude_keyword: Option<&str>,
) -> Result<Vec<u32>, ImapError> {
    let query = match exclude_keyword {
        Some(k) => format!("UID {}:* UNKEYWORD {k}", after.saturating_add(1)),
        None => format!("UID {}:*", after.saturating_add(1)),
    };
    let found: HashSet<u32> = with_timeout("UID SEARCH", session.uid_search(query)).await?;
    // "n:*" always includes the highest UID, even below n (RFC 3501 6.4.8).
    let mut uids: Vec<u32> = found.into_iter().filter(|u| *u > after).collect();
    uids.sort_unstable();
    Ok(uids)
}

/// A compact UID set: "3:7,9,12:13".
pub fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// Fetches whole messages in one `UID FETCH`, without setting \Seen.
pub async fn fetch(
    session: &mut Session,
    uids: &[u32],
) -> Result<Vec<(u32, Arc<[u8]>)>, ImapError> {
    if uids.is_empty() {
        return Ok(Vec::new());
    }
    let set = uid_set(uids);
    let fetched = with_timeout("UID FETCH", async {
        session
            .uid_fetch(&set, "(UID BODY.PEEK[])")
            .await?
            .try_collect::<Vec<_>>()
            .await
    })
    .await?;
    // Each response let go once its mail is copied out.
    let mut out: Vec<(u32, Arc<[u8]>)> = fetched
        .into_iter()
        .filter_map(|f| Some((f.uid?, Arc::from(f.body()?))))
        .collect();
    out.sort_by_key(|(uid, _)| *uid);
    Ok(out)
}

/// The size (RFC822.SIZE) of each of `uids`, in their order; `None` for a
/// mail the server gave none for. A command per thousand UIDs (a few
/// bytes of answer a mail), so that a scattered UID set stays a short
/// command line.
pub async fn sizes(
    session: &mut Session,
    uids: &[u32],
) -> Result<Vec<(u32, Option<u32>)>, ImapError> {
    let mut known = std::collections::HashMap::with_capacity(uids.len());
    for chunk in uids.chunks(1000) {
        let set = uid_set(chunk);
        let fetched = with_timeout("UID FETCH RFC822.SIZE", async {
            session
                .uid_fetch(&set, "(UID RFC822.SIZE)")
                .await?
                .try_collect::<Vec<_>>()
                .await
        })
        .await?;
        known.extend(fetched.iter().filter_map(|f| Some((f.uid?, f.size?))));
    }
    Ok(uids.iter().map(|u| (*u, known.get(u).copied())).collect())
}

/// Moves messages out of the selected mailbox: `UID MOVE` (RFC 6851) when
/// the server has it, else COPY + \Deleted + (UID) EXPUNGE.
pub async fn move_to(
    session: &mut Session,
    features: Features,
    uids: &[u32],
    target: &str,
) -> Result<(), ImapError> {
    if uids.is_empty() {
        return Ok(());
    }
    let set = uid_set(uids);
    if features.r#move {
        with_timeout("UID MOVE", session.uid_mv(&set, target)).await?;
        return Ok(());
    }
    with_timeout("UID COPY", session.uid_copy(&set, target)).await?;
    delete(session, features, uids).await
}

/// Marks messages \Deleted and expunges exactly them when UIDPLUS allows.
pub async fn delete(
    session: &mut Session,
    features: Features,
    uids: &[u32],
) -> Result<(), ImapError> {
    if uids.is_empty() {
        return Ok(());
    }
    let set = uid_set(uids);
    with_timeout("UID STORE", async {
        session
            .uid_store(&set, "+FLAGS.SILENT (\\Deleted)")
            .await?
            .try_collect::<Vec<_>>()
            .await
    })
    .await?;
    if features.uidplus {
        with_timeout("UID EXPUNGE", async {
            session
                .uid_expunge(&set)
                .await?
                .try_collect::<Vec<_>>()
                .await
        })
        .await?;
    } else {
        with_timeout("EXPUNGE", async {
            session.expunge().await?.try_collect::<Vec<_>>().await
        })
        .await?;
    }
    Ok(())
}

/// Marks processed mail that stays in the mailbox.
pub async fn flag(session: &mut Session, uids: &[u32]) -> Result<(), ImapError> {
    if uids.is_empty() {
        return Ok(());
    }
    let set = uid_set(uids);
    let query = format!("+FLAGS.SILENT (\\Seen {PROCESSED_KEYWORD})");
    with_timeout("UID STORE", async {
        session
            .uid_store(&set, &query)
            .await?
            .try_collect::<Vec<_>>()
            .await
    })
    .await?;
    Ok(())
}

/// Disposes of handled mail as configured; unreadable mail always goes to
/// the failed mailbox.
pub async fn dispose(
    session: &mut Session,
    features: Features,
    settings: &ImapSettings,
    done: &[u32],
    failed: &[u32],
) -> Result<(), ImapError> {
    move_to(session, features, failed, &settings.failed_mailbox).await?;
    match settings.after_processing {
        AfterProcessing::Move => {
            move_to(session, features, done, &settings.processed_mailbox).await
        }
        AfterProcessing::Delete => delete(session, features, done).await,
        AfterProcessing::Flag => flag(session, done).await,
    }
}

#[cfg(test)]
mod tests {
    use super::{batches, uid_set};

    #[test]
    fn batches_are_bounded_by_count_and_bytes() {
        const MIB: u32 = 1 << 20;
        // Small mails: by count.
        let small: Vec<(u32, Option<u32>)> = (1..=450).map(|u| (u, Some(4000))).collect();
        let b = batches(&small, 200, 16 << 20);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), [200, 200, 50]);
        assert_eq!(b.concat(), (1..=450).collect::<Vec<_>>());
        // 10 MiB mails: one a batch; 5 MiB: three.
        let large: Vec<(u32, Option<u32>)> = (1..=4).map(|u| (u, Some(10 * MIB))).collect();
        assert_eq!(batches(&large, 200, 16 << 20), [[1], [2], [3], [4]]);
        let mid: Vec<(u32, Option<u32>)> = (1..=7).map(|u| (u, Some(5 * MIB))).collect();
        assert_eq!(
            batches(&mid, 200, 16 << 20),
            [vec![1, 2, 3], vec![4, 5, 6], vec![7]]
        );
        // A mail over the bound is alone; one of unknown size too.
        let mixed = [
            (1, Some(1000)),
            (2, Some(40 * MIB)),
            (3, None),
            (4, Some(1000)),
            (5, Some(1000)),
        ];
        assert_eq!(
            batches(&mixed, 200, 16 << 20),
            [vec![1], vec![2], vec![3], vec![4, 5]]
        );
        assert!(batches(&[], 200, 16 << 20).is_empty());
    }

    #[test]
    fn uid_sets_are_compact() {
        assert_eq!(uid_set(&[1, 2, 3, 5, 7, 8]), "1:3,5,7:8");
        assert_eq!(uid_set(&[9]), "9");
        assert_eq!(uid_set(&[4, 2, 3, 3]), "2:4");
    }
}
