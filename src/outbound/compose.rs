//! A rendered mail to RFC 5322 bytes: our Message-ID, threading headers,
//! and the headers that stop mail loops (RFC 3834).

use std::sync::Arc;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Body, Mailbox, MultiPart, SinglePart};
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
    /// Files that travel with the mail, in order.
    pub files: &'a [File],
}

/// A file a mail carries.
#[derive(Clone, Debug)]
pub struct File {
    pub filename: String,
    pub content_type: String,
    pub content: Arc<[u8]>,
    /// Shown in the text, where its sender's client put it.
    pub inline: bool,
    pub content_id: Option<String>,
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
    // Boundaries come from the Message-ID: the same mail composes to the
    // same bytes (golden tests, and a resend is identical).
    let boundary = |n: &str| {
        format!(
            "={n}_{}",
            d.message_id.split('.').next().unwrap_or("guichet")
        )
    };
    let text = |b: lettre::message::MessageBuilder| match d.html {
        None => b.header(ContentType::TEXT_PLAIN).body(d.body.to_string()),
        Some(html) => b.multipart(alternative(d, html, boundary(""))),
    };
    let message = if d.files.is_empty() {
        text(builder)?
    } else {
        let mixed = MultiPart::mixed().boundary(boundary("m"));
        let mut mixed = match d.html {
            None => mixed.singlepart(SinglePart::plain(d.body.to_string())),
            Some(html) => mixed.multipart(alternative(d, html, boundary(""))),
        };
        for f in d.files {
            mixed = mixed.singlepart(file_part(f));
        }
        builder.multipart(mixed)?
    };
    Ok(Composed {
        raw: message.formatted(),
    })
}

/// The text and its HTML alternative.
fn alternative(d: &Draft<'_>, html: &str, boundary: String) -> MultiPart {
    MultiPart::alternative()
        .boundary(boundary)
        .singlepart(SinglePart::plain(d.body.to_string()))
        .singlepart(SinglePart::html(html.to_string()))
}

/// One file as a part, in base64: inline with its Content-ID where its
/// sender's client had it so, else an attachment; its type as received,
/// or `application/octet-stream` when lettre cannot write it.
fn file_part(f: &File) -> SinglePart {
    let content_type = ContentType::parse(&f.content_type)
        .unwrap_or_else(|_| ContentType::parse("application/octet-stream").expect("a valid type"));
    let attachment = match (&f.content_id, f.inline) {
        (Some(id), true) => Attachment::new_inline_with_name(id.clone(), f.filename.clone()),
        _ => Attachment::new(f.filename.clone()),
    };
    // Always base64: a text-like file left as it is (7bit, its own line
    // endings) would be mangled by relays or refused for its line length.
    let body = Body::new_with_encoding(f.content.to_vec(), ContentTransferEncoding::Base64)
        .expect("base64 takes any bytes");
    attachment.body(body, content_type)
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
            files: &[],
        })
        .unwrap()
        .raw;
        String::from_utf8(raw).unwrap()
    }

    fn longest_line(raw: &str) -> usize {
        raw.split("\r\n").map(str::len).max().unwrap_or(0)
    }

    #[test]
    fn files_travel_as_attachments_or_inline_and_read_back_whole() {
        use mail_parser::MimeHeaders;
        let from: Mailbox = "Support <sau@example.test>".parse().unwrap();
        let to = ["jeanne@mairie-exemple.fr".to_string()];
        // Text-like bytes with bare LF: kept byte for byte, never as 7bit.
        let pdf: Vec<u8> = b"%PDF-1.4 procedure\n".repeat(300);
        let files = [
            File {
                filename: "procédure.pdf".into(),
                content_type: "application/pdf".into(),
                content: Arc::from(pdf.as_slice()),
                inline: false,
                content_id: None,
            },
            File {
                filename: "capture.png".into(),
                content_type: "image/png".into(),
                content: Arc::from(&b"\x89PNG\r\n"[..]),
                inline: true,
                content_id: Some("capture1@mairie-exemple.fr".into()),
            },
            File {
                filename: "odd".into(),
                content_type: "not a type".into(),
                content: Arc::from(&b"x"[..]),
                inline: true,
                content_id: None,
            },
        ];
        for html in [None, Some("<p>Bonjour</p>")] {
            let raw = compose(&Draft {
                from: &from,
                to: &to,
                subject: "[SUPPORT #000001] Imprimante",
                body: "Bonjour",
                html,
                message_id: "abc.guichet@example.test",
                in_reply_to: None,
                references: &[],
                auto_submitted: "auto-generated",
                date: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
                files: &files,
            })
            .unwrap()
            .raw;
            assert!(longest_line(&String::from_utf8_lossy(&raw)) <= 78);
            let m = mail_parser::MessageParser::default().parse(&raw).unwrap();
            assert_eq!(m.body_text(0).unwrap().trim(), "Bonjour");
            let got: Vec<(String, Vec<u8>, bool)> = m
                .attachments()
                .map(|a| {
                    (
                        a.attachment_name().unwrap_or("").to_string(),
                        a.contents().to_vec(),
                        a.content_disposition().is_some_and(|d| d.is_inline()),
                    )
                })
                .collect();
            assert_eq!(got.len(), 3, "{html:?}");
            assert_eq!(got[0], ("procédure.pdf".to_string(), pdf.clone(), false));
            assert_eq!(got[1].1, b"\x89PNG\r\n");
            assert!(got[1].2, "kept inline");
            // Without a Content-ID an inline file cannot be shown in
            // place: an attachment, of a type lettre can write.
            assert!(!got[2].2);
            let cid = m.attachments().nth(1).and_then(|a| a.content_id());
            assert_eq!(cid, Some("capture1@mairie-exemple.fr"));
        }
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
