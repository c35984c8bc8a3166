//! A rendered mail to RFC 5322 bytes: our Message-ID, threading headers,
//! and the headers that stop mail loops (RFC 3834).

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

/// A file a mail carries. Its contents are not in the composed mail:
/// its part is left empty, to be filled by [`splice`] when it is sent
/// (the outbox names the file, kept once in the database, instead of
/// holding it again in base64 for each recipient).
#[derive(Clone, Debug)]
pub struct File {
    pub filename: String,
    pub content_type: String,
    /// Its SHA-256, by which the outbox names it.
    pub sha256: String,
    /// Shown in the text, where its sender's client put it.
    pub inline: bool,
    pub content_id: Option<String>,
}

pub struct Composed {
    pub raw: Vec<u8>,
    /// Where each file's contents go in `raw`, in base64, in the order of
    /// [`Draft::files`] (see [`splice`]).
    pub files_at: Vec<usize>,
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
        for (i, f) in d.files.iter().enumerate() {
            mixed = mixed.singlepart(file_part(f, file_marker(d, i)));
        }
        builder.multipart(mixed)?
    };
    let raw = message.formatted();
    if d.files.is_empty() {
        return Ok(Composed {
            raw,
            files_at: Vec::new(),
        });
    }
    // Each file's part holds a marker in place of its contents; the
    // markers are taken out and where they were is kept. They are found
    // from the end: the files are the message's last parts, so a marker
    // that the text happened to hold (it names this very mail's random
    // Message-ID, unknown to whoever wrote the text) comes before.
    let mut found = Vec::with_capacity(d.files.len());
    let mut end = raw.len();
    for i in (0..d.files.len()).rev() {
        let marker = file_marker(d, i);
        let at = memchr::memmem::rfind(&raw[..end], marker.as_bytes())
            .expect("each file's part holds its marker");
        found.push((at, marker.len()));
        end = at;
    }
    found.reverse();
    let mut out = Vec::with_capacity(raw.len());
    let mut files_at = Vec::with_capacity(found.len());
    let mut from = 0;
    for (at, len) in found {
        out.extend_from_slice(&raw[from..at]);
        files_at.push(out.len());
        from = at + len;
    }
    out.extend_from_slice(&raw[from..]);
    Ok(Composed { raw: out, files_at })
}

/// What stands in a file's part while the mail is composed.
fn file_marker(d: &Draft<'_>, i: usize) -> String {
    format!("guichet-file-{i}-{}", d.message_id)
}

/// The line length of base64 in mail (RFC 2045 section 6.8), and the
/// bytes each line holds.
const BASE64_LINE: usize = 76;
const BASE64_LINE_BYTES: usize = BASE64_LINE / 4 * 3;

/// How many bytes `len` bytes of a file take in a composed mail.
pub(crate) fn base64_len(len: usize) -> usize {
    let chars = len.div_ceil(3) * 4;
    chars + chars.saturating_sub(1) / BASE64_LINE * 2
}

/// A composed mail with its files' contents put back, each at its place
/// (`files`: the offsets of [`Composed::files_at`] and the contents, in
/// that order): in base64, in lines of 76 characters, as a file's part is
/// written. `None` when an offset is out of order or past the end.
pub fn splice(raw: &[u8], files: &[(usize, &[u8])]) -> Option<Vec<u8>> {
    use base64::Engine;
    let grown: usize = files.iter().map(|(_, c)| base64_len(c.len())).sum();
    let mut out = Vec::with_capacity(raw.len() + grown);
    let mut from = 0;
    let mut line = [0u8; BASE64_LINE];
    for &(at, contents) in files {
        if at < from || at > raw.len() {
            return None;
        }
        out.extend_from_slice(&raw[from..at]);
        for (n, chunk) in contents.chunks(BASE64_LINE_BYTES).enumerate() {
            if n > 0 {
                out.extend_from_slice(b"\r\n");
            }
            let len = base64::engine::general_purpose::STANDARD
                .encode_slice(chunk, &mut line)
                .expect("a line holds 57 bytes in base64");
            out.extend_from_slice(&line[..len]);
        }
        from = at;
    }
    out.extend_from_slice(&raw[from..]);
    Some(out)
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
/// or `application/octet-stream` when lettre cannot write it. Its body is
/// `marker`, where [`splice`] puts the contents.
fn file_part(f: &File, marker: String) -> SinglePart {
    let content_type = ContentType::parse(&f.content_type)
        .unwrap_or_else(|_| ContentType::parse("application/octet-stream").expect("a valid type"));
    let attachment = match (&f.content_id, f.inline) {
        (Some(id), true) => Attachment::new_inline_with_name(id.clone(), f.filename.clone()),
        _ => Attachment::new(f.filename.clone()),
    };
    // Always base64: a text-like file left as it is (7bit, its own line
    // endings) would be mangled by relays or refused for its line length.
    let body = Body::dangerous_pre_encoded(marker.into_bytes(), ContentTransferEncoding::Base64);
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

    fn file(filename: &str, content_type: &str, inline: bool, cid: Option<&str>) -> File {
        File {
            filename: filename.into(),
            content_type: content_type.into(),
            sha256: String::new(),
            inline,
            content_id: cid.map(String::from),
        }
    }

    fn draft_with<'a>(
        from: &'a Mailbox,
        to: &'a [String],
        body: &'a str,
        html: Option<&'a str>,
        files: &'a [File],
    ) -> Draft<'a> {
        Draft {
            from,
            to,
            subject: "[SUPPORT #000001] Imprimante",
            body,
            html,
            message_id: "abc.guichet@example.test",
            in_reply_to: None,
            references: &[],
            auto_submitted: "auto-generated",
            date: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            files,
        }
    }

    #[test]
    fn files_travel_as_attachments_or_inline_and_read_back_whole() {
        use mail_parser::MimeHeaders;
        let from: Mailbox = "Support <sau@example.test>".parse().unwrap();
        let to = ["jeanne@mairie-exemple.fr".to_string()];
        // Text-like bytes with bare LF: kept byte for byte, never as 7bit.
        let pdf: Vec<u8> = b"%PDF-1.4 procedure\n".repeat(300);
        let files = [
            file("procédure.pdf", "application/pdf", false, None),
            file(
                "capture.png",
                "image/png",
                true,
                Some("capture1@mairie-exemple.fr"),
            ),
            file("odd", "not a type", true, None),
        ];
        let contents: [&[u8]; 3] = [&pdf, b"\x89PNG\r\n", b"x"];
        for html in [None, Some("<p>Bonjour</p>")] {
            let composed = compose(&draft_with(&from, &to, "Bonjour", html, &files)).unwrap();
            // What the outbox keeps: the files' parts empty.
            assert_eq!(composed.files_at.len(), 3);
            assert!(composed.raw.len() < 2_000, "{}", composed.raw.len());
            let placed: Vec<(usize, &[u8])> =
                composed.files_at.iter().copied().zip(contents).collect();
            let raw = splice(&composed.raw, &placed).unwrap();
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
            assert_eq!(got[2].1, b"x");
            let cid = m.attachments().nth(1).and_then(|a| a.content_id());
            assert_eq!(cid, Some("capture1@mairie-exemple.fr"));
        }
    }

    /// A file put back is byte for byte the part lettre writes with the
    /// contents in it, whatever the length (lines of 57 bytes, padding).
    #[test]
    fn a_file_put_back_is_the_part_lettre_writes() {
        let f = file("relevé.pdf", "application/pdf", false, None);
        for len in [0, 1, 2, 3, 56, 57, 58, 114, 115, 1_000, 100_000] {
            let contents: Vec<u8> = (0..len).map(|i| (i * 7 % 256) as u8).collect();
            let body =
                Body::new_with_encoding(contents.clone(), ContentTransferEncoding::Base64).unwrap();
            let content_type = ContentType::parse("application/pdf").unwrap();
            let lettre = Attachment::new(f.filename.clone())
                .body(body, content_type)
                .formatted();
            let marked = file_part(&f, "MARKER".into()).formatted();
            let at = memchr::memmem::find(&marked, b"MARKER").unwrap();
            let empty = [&marked[..at], &marked[at + 6..]].concat();
            let ours = splice(&empty, &[(at, &contents)]).unwrap();
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                String::from_utf8(lettre).unwrap(),
                "{len}"
            );
            let chars = base64_len(len);
            assert_eq!(chars, splice(b"", &[(0, &contents)]).unwrap().len());
        }
    }

    /// A stranger who writes the markers' shape in a request gets his
    /// text as he wrote it, and the agents the file whole.
    #[test]
    fn text_shaped_like_a_marker_is_left_alone() {
        let from: Mailbox = "Support <sau@example.test>".parse().unwrap();
        let to = ["jeanne@mairie-exemple.fr".to_string()];
        let files = [file("a.txt", "text/plain", false, None)];
        for body in [
            "guichet-file-0-abc.guichet@example.test",
            "avant guichet-file-0-abc.guichet@example.test après guichet-file-0-",
        ] {
            let composed = compose(&draft_with(&from, &to, body, None, &files)).unwrap();
            let raw = splice(&composed.raw, &[(composed.files_at[0], b"contenu")]).unwrap();
            let m = mail_parser::MessageParser::default().parse(&raw).unwrap();
            assert_eq!(m.body_text(0).unwrap().trim(), body);
            let got: Vec<&[u8]> = m.attachments().map(|a| a.contents()).collect();
            assert_eq!(got, [b"contenu"]);
        }
    }

    #[test]
    fn offsets_out_of_order_or_past_the_end_are_refused() {
        assert!(splice(b"abc", &[(4, b"x")]).is_none());
        assert!(splice(b"abc", &[(2, b"x"), (1, b"y")]).is_none());
        assert_eq!(
            splice(b"abc", &[(1, b"x"), (1, b"y")]).unwrap(),
            b"aeA==eQ==bc"
        );
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
