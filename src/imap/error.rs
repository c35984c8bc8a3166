//! IMAP errors, classified: a refused login needs the administrator, a lost
//! connection only needs a reconnection.

#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error("IMAP login refused: {0}")]
    Login(String),
    /// The password could not be read (its file).
    #[error("IMAP: {0}")]
    Secret(String),
    /// No access token could be had for XOAUTH2.
    #[error("IMAP OAuth 2.0: {0}")]
    OAuth(String),
    #[error("IMAP TLS: {0}")]
    Tls(String),
    #[error("IMAP {0} timed out")]
    Timeout(&'static str),
    #[error("IMAP connection closed by the server")]
    Closed,
    #[error("IMAP I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("IMAP: {0}")]
    Protocol(String),
}

impl From<async_imap::error::Error> for ImapError {
    fn from(e: async_imap::error::Error) -> ImapError {
        match e {
            async_imap::error::Error::Io(io) => ImapError::Io(io),
            async_imap::error::Error::ConnectionLost => ImapError::Closed,
            other => ImapError::Protocol(other.to_string()),
        }
    }
}

impl ImapError {
    /// Whether reconnecting may help without anybody changing anything.
    pub fn is_recoverable(&self) -> bool {
        !matches!(
            self,
            ImapError::Login(_) | ImapError::Tls(_) | ImapError::Secret(_)
        )
    }
}
