//! How `guichet ingest` hands a piped mail to the running daemon, over the
//! local socket of `[ingest] socket`, so that the MTA's process neither
//! opens the database nor builds the desk: the daemon, which has both
//! ready, stores and processes the mail in one transaction and answers once
//! it is on disk.
//!
//! The exchange, one mail per connection:
//!
//! ```text
//! client: GUICHET-INGEST/1 <length in bytes>\n<the raw mail>
//! daemon: OK <what became of the mail>\n
//!     or: TEMPFAIL <why it was not stored>\n
//! ```
//!
//! A client that gets no `OK` stores the mail itself, as without a daemon:
//! the daemon only ever makes the pipe mode faster, never less reliable.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// The first word of a hand-over, and its version.
const HELLO: &str = "GUICHET-INGEST/1";

/// At most this many bytes in the client's first line or the daemon's
/// answer: longer is not this protocol.
pub(crate) const MAX_LINE: usize = 4096;

/// How long the client waits for the daemon's answer once the mail is
/// sent: a batch in hand plus the database's lock timeout, with room.
const ANSWER_WAIT: Duration = Duration::from_secs(300);

/// How long sending the mail may take (a local socket: the daemon reads
/// as fast as it is written, unless it is stuck).
const SEND_WAIT: Duration = Duration::from_secs(60);

/// The client's first line, announcing a mail of `len` bytes.
pub(crate) fn hello(len: usize) -> String {
    format!("{HELLO} {len}\n")
}

/// The length a client's first line announces (without its newline).
pub(crate) fn parse_hello(line: &str) -> Result<u64, String> {
    let Some(len) = line.strip_prefix(HELLO).and_then(|r| r.strip_prefix(' ')) else {
        return Err(format!(
            "not a guichet hand-over (expected \"{HELLO} <length>\")"
        ));
    };
    if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("the length {len:?} is not a number of bytes"));
    }
    len.parse()
        .map_err(|_| format!("the length {len:?} is too large"))
}

/// The daemon's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Stored and committed to disk; what became of the mail.
    Taken(String),
    /// Not stored; why.
    NotTaken(String),
}

impl Answer {
    /// The answer's line, newline included; line breaks in the text would
    /// end the answer early, so they become spaces.
    pub(crate) fn line(&self) -> String {
        let (word, text) = match self {
            Answer::Taken(t) => ("OK", t),
            Answer::NotTaken(t) => ("TEMPFAIL", t),
        };
        let text: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        format!("{word} {text}\n")
    }

    /// Reads an answer's line (without its newline).
    pub(crate) fn parse(line: &str) -> Option<Answer> {
        if let Some(text) = line.strip_prefix("OK ") {
            Some(Answer::Taken(text.to_string()))
        } else {
            line.strip_prefix("TEMPFAIL ")
                .map(|text| Answer::NotTaken(text.to_string()))
        }
    }
}

/// Why a hand-over did not end with the mail taken. In every case the
/// client stores the mail itself; with `Lost` the daemon may have stored
/// it too, which the duplicate check by Message-ID catches.
#[derive(Debug, thiserror::Error)]
pub enum HandOverError {
    /// Nothing was sent: no daemon listens (not running, or stopping).
    #[error("no daemon answers on {path}: {source}")]
    Unreachable {
        path: String,
        source: std::io::Error,
    },
    /// The daemon answered that it did not store the mail.
    #[error("the daemon did not store the mail: {0}")]
    NotTaken(String),
    /// The connection broke or timed out after the mail was sent, or the
    /// answer was not one of this protocol.
    #[error("the daemon did not answer: {0}")]
    Lost(String),
}

/// Hands `raw` to the daemon listening on `path`; its description of what
/// became of the mail once stored.
pub fn hand_over(path: &Path, raw: &[u8]) -> Result<String, HandOverError> {
    let mut stream = UnixStream::connect(path).map_err(|source| HandOverError::Unreachable {
        path: path.display().to_string(),
        source,
    })?;
    let lost = |what: &str, e: std::io::Error| HandOverError::Lost(format!("{what}: {e}"));
    stream
        .set_write_timeout(Some(SEND_WAIT))
        .and_then(|()| stream.set_read_timeout(Some(ANSWER_WAIT)))
        .map_err(|e| lost("socket", e))?;
    stream
        .write_all(hello(raw.len()).as_bytes())
        .and_then(|()| stream.write_all(raw))
        .and_then(|()| stream.flush())
        .map_err(|e| lost("sending the mail", e))?;
    let mut line = Vec::new();
    BufReader::new(std::io::Read::take(stream, MAX_LINE as u64))
        .read_until(b'\n', &mut line)
        .map_err(|e| lost("reading the answer", e))?;
    let line = String::from_utf8_lossy(&line);
    let Some(line) = line.strip_suffix('\n') else {
        return Err(HandOverError::Lost(if line.is_empty() {
            "the connection closed without an answer".into()
        } else {
            "the answer was cut short".into()
        }));
    };
    match Answer::parse(line) {
        Some(Answer::Taken(text)) => Ok(text),
        Some(Answer::NotTaken(why)) => Err(HandOverError::NotTaken(why)),
        None => Err(HandOverError::Lost(format!(
            "an answer that is not of this protocol: {:?}",
            line.chars().take(80).collect::<String>()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_line_announces_the_length_and_nothing_else() {
        assert_eq!(hello(1234), "GUICHET-INGEST/1 1234\n");
        assert_eq!(parse_hello("GUICHET-INGEST/1 1234"), Ok(1234));
        assert_eq!(parse_hello("GUICHET-INGEST/1 0"), Ok(0));
        for bad in [
            "",
            "GUICHET-INGEST/1",
            "GUICHET-INGEST/1 ",
            "GUICHET-INGEST/1 -5",
            "GUICHET-INGEST/1 +5",
            "GUICHET-INGEST/1 12 34",
            "GUICHET-INGEST/1  12",
            "GUICHET-INGEST/2 12",
            "guichet-ingest/1 12",
            "From: someone@example.org",
            "EHLO attacker.example",
            "GUICHET-INGEST/1 99999999999999999999999",
        ] {
            assert!(parse_hello(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn an_answer_is_one_line_whatever_its_text() {
        let taken = Answer::Taken("new ticket [SUPPORT #000012]".into());
        assert_eq!(taken.line(), "OK new ticket [SUPPORT #000012]\n");
        assert_eq!(
            Answer::parse(taken.line().trim_end_matches('\n')),
            Some(taken)
        );
        // A reason quoting a database error over several lines stays one
        // answer: the client would otherwise read only its start.
        let refused = Answer::NotTaken("database is locked\r\nDETAIL: x".into());
        assert_eq!(refused.line(), "TEMPFAIL database is locked  DETAIL: x\n");
        assert_eq!(
            Answer::parse("TEMPFAIL database is locked  DETAIL: x"),
            Some(Answer::NotTaken("database is locked  DETAIL: x".into()))
        );
        for bad in ["", "OK", "ok fine", "250 2.0.0 Ok", "TEMPFAIL"] {
            assert_eq!(Answer::parse(bad), None, "{bad:?}");
        }
    }
}
