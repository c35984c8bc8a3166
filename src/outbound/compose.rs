//! A rendered mail to RFC 5322 bytes: our Message-ID, threading headers,
//! and the headers that stop mail loops (RFC 3834).

use std::time::SystemTime;

use chrono::{DateTime, Utc};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::Message;

/// What to send, before it becomes bytes.
pub struct Draft<'a> {
    pub from: &'a Mailbox,
    pub to: &'a [String],
    pub subject: &'a str,
    pub body: &'a str,
    /// An HTML alternative of the body.
    pub html: Option<&'a str>,
    /// Without angle brackets.
    pub message_id: &'a str,
    pub in_reply_to: Option<&'a str>,
    pub references: &'a [String],
    /// "auto-replied" or "auto-generated".
    pub auto_submitted: &'a str,
    pub date: DateTime<Utc>,
}

pub struct Composed {
    pub raw: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("invalid recipient {0:?}")]
    Recipient(String),
    #[error("cannot build the mail: {0}")]
    Build(#[from] lettre::error::Error),
}

/// An unguessable Message-ID in the desk's domain (128 random bits), so
/// that nobody can forge a reply into a ticket by guessing one.
pub fn new_message_id(from: &Mailbox) -> String {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).expect("the operating system provides randomness");
    format!(
        "{}.guichet@{}",
        crate::hex::hex(&bytes),
        from.email.domain()
    )
}

/// Whether a Message-ID has the shape of ours ([`new_message_id`]): only
/// those are looked up among the mails sent.
pub fn may_be_ours(message_id: &str) -> bool {
    message_id.contains(".guichet@")
}

fn header(name: &'static str, value: &str) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value.to_string())
}

/// The longest word written as it is in a header: past it, a word cannot
/// be folded and the line would outgrow what a relay takes (998 bytes,
/// RFC 5322 section 2.1.1; 78 recommended).
const LONGEST_WORD: usize = 76;

/// The Subject header. lettre encodes non-ASCII words in pieces but writes
/// an ASCII word as it is, however long: a subject holding one word of
/// thousands of characters (a pasted URL or log line) would make a line
/// the relay refuses. Such a subject is written whole as RFC 2047
/// encoded-words of whole characters, each on its own folded line.
fn subject_header(subject: &str) -> HeaderValue {
    let name = HeaderName::new_from_ascii_str("Subject");
    if subject.split(' ').all(|w| w.len() <= LONGEST_WORD) {
        return HeaderValue::new(name, subject.to_string());
    }
    let mut words = Vec::new();
    let mut word = String::new();
    for c in subject.chars() {
        let mut piece = String::new();
        let mut buf = [0u8; 4];
        for &b in c.encode_utf8(&mut buf).as_bytes() {
            match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'!' | b'*' | b'+' | b'-' | b'/' => {
                    piece.push(b as char)
                }
                b' ' => piece.push('_'),
                _ => piece.push_str(&format!("={b:02X}")),
            }
        }
        // Lines of at most 76 characters (RFC 2047 section 2): the first
        // one starts with "Subject: ", the next ones with a space.
        let room = if words.is_empty() { 51 } else { 60 };
        if word.len() + piece.len() > room {
            words.push(format!("=?utf-8?q?{word}?="));
            word.clear();
        }
        word.push_str(&piece);
    }
    if !word.is_empty() {
        words.push(format!("=?utf-8?q?{word}?="));
    }
    HeaderValue::dangerous_new_pre_encoded(name, subject.to_string(), words.join("\r\n "))
}

pub fn compose(d: &Draft<'_>) -> Result<Composed, ComposeError> {
    let mut builder = Message::builder()
        .from(d.from.clone())
        .raw_header(subject_header(d.subject))
        .date(SystemTime::from(d.date))
        .message_id(Some(format!("<{}>", d.message_id)))
        .raw_header(header("Auto-Submitted", d.auto_submitted))
        .raw_header(header("X-Auto-Response-Suppress", "All"))
        .raw_header(header("Precedence", "bulk"))
        .raw_header(header("X-Loop", d.from.email.as_ref()));
    for to in d.to {
        let mbox: Mailbox = to
            .parse()
            .map_err(|_| ComposeError::Recipient(to.clone()))?;
        builder = builder.to(mbox);
    }
    if let Some(irt) = d.in_reply_to {
        builder = builder.raw_header(header("In-Reply-To", &format!("<{irt}>")));
    }
    if !d.references.is_empty() {
        let refs: Vec<String> = d.references.iter().map(|r| format!("<{r}>")).collect();
        builder = builder.raw_header(header("References", &refs.join(" ")));
    }
    let message = match d.html {
        None => builder
            .header(ContentType::TEXT_PLAIN)
            .body(d.body.to_string())?,
        Some(html) => {
            // The boundary comes from the Message-ID: the same mail composes
            // to the same bytes (golden tests, and a resend is identical).
            let boundary = format!("=_{}", d.message_id.split('.').next().unwrap_or("guichet"));
            builder.multipart(
                MultiPart::alternative()
                    .boundary(boundary)
                    .singlepart(SinglePart::plain(d.body.to_string()))
                    .singlepart(SinglePart::html(html.to_string())),
            )?
        }
    };
    Ok(Composed {
        raw: message.formatted(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn composed(subject: &str, references: &[String]) -> String {
        let from: Mailbox = "Support <sau@example.test>".parse().unwrap();
        let to = ["jeanne@mairie-exemple.fr".to_string()];
        let raw = compose(&Draft {
            from: &from,
            to: &to,
            subject,
            body: "Bonjour",
            html: None,
            message_id: "abc.guichet@example.test",
            in_reply_to: references.last().map(String::as_str),
            references,
            auto_submitted: "auto-replied",
            date: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        })
        .unwrap()
        .raw;
        String::from_utf8(raw).unwrap()
    }

    fn longest_line(raw: &str) -> usize {
        raw.split("\r\n").map(str::len).max().unwrap_or(0)
    }

    #[test]
    fn no_header_line_passes_998_bytes() {
        let long_ascii = "x".repeat(5000);
        let long_accents = "é".repeat(3000);
        let long_emoji = "👩\u{200D}💻".repeat(800);
        let refs: Vec<String> = (0..200)
            .map(|i| format!("{i:032x}.guichet@example.test"))
            .collect();
        for subject in [
            long_ascii.as_str(),
            long_accents.as_str(),
            long_emoji.as_str(),
        ] {
            let raw = composed(&format!("[SUPPORT #000001] {subject}"), &refs);
            assert!(longest_line(&raw) <= 998, "{}", longest_line(&raw));
            // The subject's lines keep to RFC 2047's 76 characters.
            let head = &raw[..raw.find("\r\n\r\n").unwrap()];
            let start = head.find("Subject: ").unwrap();
            let subject_lines: Vec<&str> = head[start..]
                .split("\r\n")
                .enumerate()
                .take_while(|(i, l)| *i == 0 || l.starts_with(' '))
                .map(|(_, l)| l)
                .collect();
            assert!(subject_lines.len() > 1);
            assert!(
                subject_lines.iter().all(|l| l.len() <= 76),
                "{subject_lines:?}"
            );
            // And the subject reads back whole.
            let m = mail_parser::MessageParser::default()
                .parse(raw.as_bytes())
                .unwrap();
            assert_eq!(
                m.subject().unwrap().replace(' ', ""),
                format!("[SUPPORT#000001]{subject}")
            );
        }
    }
}
