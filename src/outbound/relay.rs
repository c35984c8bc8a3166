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

impl super::dispatch::SendErrorClass for RelayError {
    fn is_permanent(&self) -> bool {
        matches!(self, RelayError::Smtp(e) if e.is_permanent())
    }
    fn is_transient(&self) -> bool {
        matches!(self, RelayError::Smtp(e) if e.is_transient())
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

/// The relay, with its idle connections.
pub struct Relay {
    settings: SmtpSettings,
    hello: ClientId,
    starttls: Option<TlsParameters>,
    implicit: Option<Arc<rustls::ClientConfig>>,
    credentials: Option<Credentials>,
    idle: Mutex<Vec<AsyncSmtpConnection>>,
}

impl Relay {
    pub fn new(settings: &SmtpSettings) -> Result<Relay, RelayError> {
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
            credentials: match (&settings.username, &settings.password) {
                (Some(u), Some(p)) => Some(Credentials::new(u.clone(), p.expose().to_string())),
                _ => None,
            },
            idle: Mutex::new(Vec::new()),
        })
    }

    fn unreachable(&self, what: impl std::fmt::Display) -> RelayError {
        RelayError::Unreachable(format!(
            "{}:{}: {what}",
            self.settings.host, self.settings.port
        ))
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, RelayError> {
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
        if let Some(credentials) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await?;
        }
        Ok(conn)
    }

    /// Sends one mail, on an idle connection or a new one.
    pub async fn send(&self, envelope: &Envelope, raw: &[u8]) -> Result<(), RelayError> {
        let reused = self.idle.lock().expect("relay pool").pop();
        let mut conn = match reused {
            Some(c) if !c.has_broken() => c,
            _ => self.connect().await?,
        };
        let sent = match tokio::time::timeout(SEND_TIMEOUT, conn.send(envelope, raw)).await {
            Ok(r) => r.map(|_| ()).map_err(RelayError::from),
            Err(_) => {
                conn.abort().await;
                return Err(self.unreachable("no answer within 2 minutes"));
            }
        };
        if !conn.has_broken() {
            self.idle.lock().expect("relay pool").push(conn);
        }
        sent
    }

    /// Connects and says goodbye: what `guichet check` needs.
    pub async fn test_connection(&self) -> Result<(), RelayError> {
        let mut conn = self.connect().await?;
        conn.quit().await?;
        Ok(())
    }

    /// Closes the idle connections politely.
    pub async fn close(&self) {
        let conns: Vec<_> = std::mem::take(&mut *self.idle.lock().expect("relay pool"));
        for mut c in conns {
            let _ = c.quit().await;
        }
    }
}
