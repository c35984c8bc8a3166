//! The SMTP relay client: lettre's SMTP connections over sockets we open
//! ourselves, with TCP_NODELAY (lettre writes a message and its final dot
//! in two writes: with Nagle's algorithm each mail waits for a delayed
//! ACK, about 40 ms), kept open between mails and used several at once.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters,
};
use lettre::transport::smtp::extension::ClientId;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::rustls;

use crate::config::{SmtpSettings, Tls};

/// Mails sent at once, each on its own connection.
pub const PARALLEL: usize = 4;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// A whole exchange for one mail (MAIL, RCPT, DATA, the message).
const SEND_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The relay answered (or the SMTP exchange broke).
    #[error("{0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("cannot reach the relay {0}")]
    Unreachable(String),
    #[error("{0}")]
    Config(String),
}

impl RelayError {
    /// The relay refused this mail for good (5xx): retrying is useless.
    pub fn is_permanent(&self) -> bool {
        matches!(self, RelayError::Smtp(e) if e.is_permanent())
    }

    /// The relay answered this mail with a temporary refusal (4xx): the
    /// others may still go through.
    pub fn is_transient(&self) -> bool {
        matches!(self, RelayError::Smtp(e) if e.is_transient())
    }

    /// The relay's reply status, when it answered with one.
    pub fn status(&self) -> Option<ReplyStatus> {
        let RelayError::Smtp(e) = self else {
            return None;
        };
        let code = e.status()?;
        let text = std::error::Error::source(e).map(|s| s.to_string());
        Some(ReplyStatus::new(&code.to_string(), text.as_deref()))
    }
}

/// An SMTP reply's status: its code (RFC 5321 section 4.2.1) and the
/// enhanced status code that begins its text, when the relay gave one
/// (RFC 3463, RFC 2034).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyStatus {
    pub code: u16,
    /// Class, subject, detail: 5.1.1 is (5, 1, 1).
    pub enhanced: Option<(u8, u16, u16)>,
}

impl ReplyStatus {
    /// From the reply's code ("550") and text ("5.1.1 <a@b>: unknown").
    pub fn new(code: &str, text: Option<&str>) -> ReplyStatus {
        let enhanced = text
            .and_then(|t| t.split_whitespace().next())
            .and_then(|word| {
                let mut parts = word.split('.');
                let class: u8 = parts.next()?.parse().ok()?;
                let subject: u16 = parts.next()?.parse().ok()?;
                let detail: u16 = parts.next()?.parse().ok()?;
                (parts.next().is_none()
                    && matches!(class, 2 | 4 | 5)
                    && subject < 1000
                    && detail < 1000)
                    .then_some((class, subject, detail))
            });
        ReplyStatus {
            code: code.parse().unwrap_or(0),
            enhanced,
        }
    }
}

impl std::fmt::Display for ReplyStatus {
    /// The enhanced code when there is one ("5.1.1"), else the code ("550").
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.enhanced {
            Some((c, s, d)) => write!(f, "{c}.{s}.{d}"),
            None => write!(f, "{}", self.code),
        }
    }
}

/// An implicit-TLS stream that lettre can drive.
#[derive(Debug)]
struct TlsTcp(tokio_rustls::client::TlsStream<TcpStream>);

impl AsyncRead for TlsTcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsTcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for TlsTcp {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

/// A stream that holds what is written until the next read (or shutdown):
/// lettre writes a message and its final dot separately, and flushes
/// each command, so that with TCP_NODELAY each would be a packet and a
/// wakeup of the relay of its own. SMTP answers every command before the
/// next is useful, so nothing written is ever waited for without a read
/// after it: holding it until then sends each exchange in one write.
#[derive(Debug)]
struct Coalescing<S> {
    inner: S,
    held: Vec<u8>,
    /// How much of `held` has gone out.
    sent: usize,
}

impl<S: AsyncWrite + Unpin> Coalescing<S> {
    fn new(inner: S) -> Self {
        Coalescing {
            inner,
            held: Vec::new(),
            sent: 0,
        }
    }

    /// Writes out what is held.
    fn poll_push(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while self.sent < self.held.len() {
            match Pin::new(&mut self.inner).poll_write(cx, &self.held[self.sent..]) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
                }
                Poll::Ready(Ok(n)) => self.sent += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        self.held.clear();
        self.sent = 0;
        Pin::new(&mut self.inner).poll_flush(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Coalescing<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if !this.held.is_empty() {
            std::task::ready!(this.poll_push(cx))?;
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Coalescing<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        // A large message goes out as it comes, not all in memory twice.
        if this.held.len() >= HOLD_AT_MOST {
            std::task::ready!(this.poll_push(cx))?;
        }
        this.held.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        // Held until the next read: see the type's comment.
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_push(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

impl<S: AsyncTokioStream + AsyncRead + AsyncWrite + Unpin> AsyncTokioStream for Coalescing<S> {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.inner.peer_addr()
    }
}

/// Written data held at most, in bytes, before it is pushed out anyway.
const HOLD_AT_MOST: usize = 64 * 1024;

/// The relay a configuration names, as `host:port`.
pub fn name(settings: &SmtpSettings) -> String {
    format!("{}:{}", settings.host, settings.port)
}

/// Where a relay signing in with OAuth 2.0 gets a valid access token, at
/// each new connection (the application keeps and refreshes it); the
/// error is one line.
pub type TokenSource = Arc<
    dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, String>> + Send>>
        + Send
        + Sync,
>;

/// How the relay is signed in to.
enum RelayAuth {
    None,
    Password(Credentials),
    /// XOAUTH2 as `user`, with a fresh token from the source.
    Bearer {
        user: String,
        tokens: TokenSource,
    },
}

/// The relay, with its idle connections.
pub struct Relay {
    settings: SmtpSettings,
    hello: ClientId,
    starttls: Option<TlsParameters>,
    implicit: Option<Arc<rustls::ClientConfig>>,
    auth: RelayAuth,
    idle: Mutex<Vec<Connection>>,
}

/// An open SMTP session, and whether the relay takes pipelined commands
/// (RFC 2920).
struct Connection {
    smtp: AsyncSmtpConnection,
    pipelining: bool,
}

/// What a pipelined exchange left the session fit for.
enum After {
    /// Ready for the next mail.
    Reusable,
    /// To be closed with a QUIT.
    Quit,
    /// To be dropped without a word: the relay accepted DATA after refusing
    /// a recipient, and closing the connection before the final dot is the
    /// only way to send nothing (a QUIT would be read as the message).
    Drop,
}

/// Sends one mail with the envelope pipelined (RFC 2920): MAIL, every RCPT
/// and DATA in one write, their answers read together, then the message:
/// two round trips where one command at a time takes three and one per
/// recipient. Any refusal fails the whole mail, as lettre's own exchange
/// does.
async fn send_pipelined(
    conn: &mut AsyncSmtpConnection,
    envelope: &Envelope,
    raw: &[u8],
) -> (Result<(), lettre::transport::smtp::Error>, After) {
    use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
    use lettre::transport::smtp::extension::{Extension, MailBodyParameter, MailParameter};
    let utf8 = envelope
        .from()
        .into_iter()
        .chain(envelope.to())
        .any(|a| !AsRef::<str>::as_ref(a).is_ascii());
    let eight_bit = !raw.is_ascii();
    let info = conn.server_info();
    if (utf8 && !info.supports_feature(Extension::SmtpUtfEight))
        || (eight_bit && !info.supports_feature(Extension::EightBitMime))
    {
        // lettre's exchange refuses it, and says why.
        let sent = conn.send(envelope, raw).await.map(drop);
        let after = if conn.has_broken() {
            After::Drop
        } else {
            After::Reusable
        };
        return (sent, after);
    }
    let mut options = Vec::new();
    if utf8 {
        options.push(MailParameter::SmtpUtfEight);
    }
    if eight_bit {
        options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    let mut commands = Mail::new(envelope.from().cloned(), options).to_string();
    for to in envelope.to() {
        commands.push_str(&Rcpt::new(to.clone(), Vec::new()).to_string());
    }
    commands.push_str(&Data.to_string());
    // lettre's `command` writes what it is given and reads one answer:
    // MAIL's. Those of each RCPT and of DATA follow.
    let mut answers = vec![conn.command(commands).await];
    for _ in 0..=envelope.to().len() {
        if answers
            .last()
            .is_some_and(|a| a.as_ref().is_err_and(|e| e.status().is_none()))
        {
            break;
        }
        answers.push(conn.read_response().await);
    }
    let data_accepted =
        answers.len() == envelope.to().len() + 2 && answers.last().is_some_and(|a| a.is_ok());
    // The first refusal, or the connection breaking, is the mail's error.
    if let Some(Err(e)) = answers.into_iter().find(|a| a.is_err()) {
        let after = if data_accepted || e.status().is_none() {
            After::Drop
        } else {
            After::Quit
        };
        return (Err(e), after);
    }
    // The message and its final dot as one "command" (written whole, one
    // answer read): lettre's `message` dot-stuffs byte by byte, a third of
    // the drain's time on mail with attachments. Mail that is not UTF-8
    // (none of ours) goes through lettre's.
    let sent = match std::str::from_utf8(raw) {
        Ok(text) => conn.command(DataBlock(text)).await,
        Err(_) => conn.message(raw).await,
    };
    match sent {
        Ok(_) => (Ok(()), After::Reusable),
        Err(e) if e.status().is_some() => (Err(e), After::Reusable),
        Err(e) => (Err(e), After::Drop),
    }
}

/// A message as SMTP's DATA carries it (RFC 5321 section 4.5.2): a dot
/// doubled at the start of each line, then CRLF, a dot and CRLF, as
/// lettre's `message` writes it.
struct DataBlock<'a>(&'a str);

impl std::fmt::Display for DataBlock<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.0;
        let mut from = 0;
        for at in memchr::memchr_iter(b'.', text.as_bytes()) {
            if at == 0 || text.as_bytes()[..at].ends_with(b"\r\n") {
                // Up to and with the dot, which is then written again.
                f.write_str(&text[from..=at])?;
                from = at;
            }
        }
        f.write_str(&text[from..])?;
        f.write_str("\r\n.\r\n")
    }
}

impl Relay {
    /// A relay signed in to with a password, or with nothing (see
    /// [`Relay::with_tokens`] for OAuth 2.0).
    pub fn new(settings: &SmtpSettings) -> Result<Relay, RelayError> {
        Relay::build(settings, None)
    }

    /// A relay signed in to with OAuth 2.0 (`[smtp] auth = "oauth2"`).
    pub fn with_tokens(settings: &SmtpSettings, tokens: TokenSource) -> Result<Relay, RelayError> {
        Relay::build(settings, Some(tokens))
    }

    fn build(settings: &SmtpSettings, tokens: Option<TokenSource>) -> Result<Relay, RelayError> {
        let starttls = match settings.tls {
            Tls::Starttls => {
                let mut b = TlsParameters::builder(settings.host.clone());
                if let Some(path) = &settings.ca_file {
                    let pem = std::fs::read(path).map_err(|e| {
                        RelayError::Config(format!("cannot read {}: {e}", path.display()))
                    })?;
                    let cert = Certificate::from_pem(&pem).map_err(|e| {
                        RelayError::Config(format!("bad certificate {}: {e}", path.display()))
                    })?;
                    b = b.add_root_certificate(cert);
                }
                Some(
                    b.build_rustls()
                        .map_err(|e| RelayError::Config(e.to_string()))?,
                )
            }
            _ => None,
        };
        let implicit = match settings.tls {
            Tls::Implicit => Some(Arc::new(
                crate::imap::tls_config(settings.ca_file.as_deref())
                    .map_err(|e| RelayError::Config(e.to_string()))?,
            )),
            _ => None,
        };
        Ok(Relay {
            settings: settings.clone(),
            hello: ClientId::default(),
            starttls,
            implicit,
            auth: match (
                settings.auth,
                &settings.username,
                &settings.password,
                tokens,
            ) {
                (crate::config::Auth::OAuth2, Some(user), _, Some(tokens)) => RelayAuth::Bearer {
                    user: user.clone(),
                    tokens,
                },
                (crate::config::Auth::OAuth2, ..) => {
                    return Err(RelayError::Config(
                        "smtp.auth = \"oauth2\" needs an account (username) and its tokens".into(),
                    ))
                }
                (_, Some(u), Some(p), _) => RelayAuth::Password(Credentials::new(
                    u.clone(),
                    p.read().map_err(RelayError::Config)?,
                )),
                _ => RelayAuth::None,
            },
            idle: Mutex::new(Vec::new()),
        })
    }

    /// `host:port`: what a hold on this relay is recorded under.
    pub fn name(&self) -> String {
        name(&self.settings)
    }

    fn unreachable(&self, what: impl std::fmt::Display) -> RelayError {
        RelayError::Unreachable(format!(
            "{}:{}: {what}",
            self.settings.host, self.settings.port
        ))
    }

    async fn connect(&self) -> Result<Connection, RelayError> {
        let addr = (self.settings.host.as_str(), self.settings.port);
        let tcp = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(e)) => return Err(self.unreachable(e)),
            Err(_) => return Err(self.unreachable("connection timed out")),
        };
        tcp.set_nodelay(true).map_err(|e| self.unreachable(e))?;
        let mut conn = match &self.implicit {
            Some(config) => {
                let name = rustls::pki_types::ServerName::try_from(self.settings.host.clone())
                    .map_err(|e| RelayError::Config(format!("invalid server name: {e}")))?;
                let tls = tokio_rustls::TlsConnector::from(Arc::clone(config))
                    .connect(name, tcp)
                    .await
                    .map_err(|e| self.unreachable(format!("TLS: {e}")))?;
                let stream = Coalescing::new(TlsTcp(tls));
                AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello).await?
            }
            None => {
                let stream = Coalescing::new(tcp);
                AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello).await?
            }
        };
        if let Some(params) = &self.starttls {
            if !conn.can_starttls() {
                conn.abort().await;
                return Err(RelayError::Config(format!(
                    "{} does not offer STARTTLS (tls = \"starttls\")",
                    self.settings.host
                )));
            }
            conn.starttls(params.clone(), &self.hello).await?;
        }
        match &self.auth {
            RelayAuth::None => {}
            RelayAuth::Password(credentials) => {
                conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                    .await?;
            }
            RelayAuth::Bearer { user, tokens } => {
                // Without a token the relay cannot be used: waited for as
                // an unreachable relay is, the outbox kept.
                let token = match tokens().await {
                    Ok(t) => t,
                    Err(why) => {
                        conn.abort().await;
                        return Err(self.unreachable(format!("OAuth 2.0: {why}")));
                    }
                };
                conn.auth(
                    &[Mechanism::Xoauth2],
                    &Credentials::new(user.clone(), token),
                )
                .await?;
            }
        }
        // lettre keeps no note of PIPELINING: the relay's EHLO answer,
        // asked again, says whether it takes it.
        let ehlo = conn
            .command(lettre::transport::smtp::commands::Ehlo::new(
                self.hello.clone(),
            ))
            .await?;
        let pipelining = ehlo.message().any(|line| {
            line.split_whitespace()
                .next()
                .is_some_and(|word| word.eq_ignore_ascii_case("PIPELINING"))
        });
        Ok(Connection {
            smtp: conn,
            pipelining,
        })
    }

    /// Sends one mail, on an idle connection or a new one.
    pub async fn send(&self, envelope: &Envelope, raw: &[u8]) -> Result<(), RelayError> {
        let reused = self.idle.lock().expect("relay pool").pop();
        let mut conn = match reused {
            Some(c) if !c.smtp.has_broken() => c,
            _ => self.connect().await?,
        };
        let exchange = async {
            if conn.pipelining {
                send_pipelined(&mut conn.smtp, envelope, raw).await
            } else {
                // lettre's exchange aborts the session itself on an error.
                let sent = conn.smtp.send(envelope, raw).await.map(drop);
                (sent, After::Reusable)
            }
        };
        let (sent, after) = match tokio::time::timeout(SEND_TIMEOUT, exchange).await {
            Ok(done) => done,
            Err(_) => {
                // Dropped, not told QUIT: it may be waiting for the message.
                return Err(self.unreachable("no answer within 2 minutes"));
            }
        };
        match after {
            After::Reusable if !conn.smtp.has_broken() => {
                self.idle.lock().expect("relay pool").push(conn);
            }
            After::Quit => conn.smtp.abort().await,
            _ => {}
        }
        sent.map_err(RelayError::from)
    }

    /// Connects and says goodbye: what `guichet check` needs.
    pub async fn test_connection(&self) -> Result<(), RelayError> {
        let mut conn = self.connect().await?;
        conn.smtp.quit().await?;
        Ok(())
    }

    /// Closes the idle connections politely.
    pub async fn close(&self) {
        let conns: Vec<_> = std::mem::take(&mut *self.idle.lock().expect("relay pool"));
        for mut c in conns {
            let _ = c.smtp.quit().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::DataBlock;
    use proptest::prelude::*;

    /// What SMTP's DATA must carry, line by line: each line that starts
    /// with a dot gets one more, lines being what CRLF separates.
    fn by_lines(text: &str) -> String {
        let lines: Vec<String> = text
            .split("\r\n")
            .map(|l| match l.starts_with('.') {
                true => format!(".{l}"),
                false => l.to_string(),
            })
            .collect();
        format!("{}\r\n.\r\n", lines.join("\r\n"))
    }

    #[test]
    fn dots_at_the_start_of_lines_are_doubled() {
        assert_eq!(DataBlock("Bonjour").to_string(), "Bonjour\r\n.\r\n");
        assert_eq!(
            DataBlock(".a\r\n.\r\n..b\r\nc.\r\n").to_string(),
            "..a\r\n..\r\n...b\r\nc.\r\n\r\n.\r\n"
        );
        // A bare LF or CR does not start a line.
        assert_eq!(DataBlock("a\n.b\r.c").to_string(), "a\n.b\r.c\r\n.\r\n");
        assert_eq!(DataBlock("é\r\n.ü").to_string(), "é\r\n..ü\r\n.\r\n");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn the_data_is_what_each_line_needs(text in "[.\r\na é]{0,40}") {
            prop_assert_eq!(DataBlock(&text).to_string(), by_lines(&text));
        }
    }
}
