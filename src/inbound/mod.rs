//! Inbound mail: bytes to an owned [`InboundMessage`], with the sender, the
//! threading headers, the text body (quotes stripped) and the attachments.
//! No network and no database here: everything is testable on bytes.

pub mod auth;
pub mod bounce;
pub mod classify;
pub mod forward;
pub mod html;
pub mod hygiene;
pub mod phone;
pub mod quote;
pub mod reader;
pub mod reference;
pub mod rfc2231;
pub mod rules;
pub mod tnef;
pub mod uuencode;

use std::panic::{catch_unwind, AssertUnwindSafe};

use mail_parser::{MessageParser, MimeHeaders, PartType};
use sha2::{Digest, Sha256};

pub use crate::ticket::{Automatic, Person};
pub use reader::{panic_message, parse_within, Reader};

#[derive(Clone, Debug)]
pub struct InboundAttachment {
    pub filename: String,
    pub content_type: String,
    pub content: Vec<u8>,
    pub sha256: String,
    /// Shown in the text where the client put it (an image pasted into
    /// the mail), rather than offered as a file.
    pub inline: bool,
    /// Its `Content-ID`, without angle brackets, when it has a usable one.
    pub content_id: Option<String>,
}

/// A part's Content-ID as it may be written again in a header: printable
/// ASCII without spaces, at most 200 characters.
fn usable_content_id(id: &str) -> Option<String> {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    (!id.is_empty()
        && id.len() <= 200
        && id
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>'))
    .then(|| id.to_string())
}

/// Everything guichet needs from one received mail, owned.
#[derive(Clone, Debug)]
pub struct InboundMessage {
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub from: Person,
    /// The addresses the mail was sent to (To and Cc), lower case, each
    /// once, at most [`MAX_COPIED`].
    pub copied: Vec<String>,
    pub subject: String,
    /// The whole text of the mail (HTML-only mail converted).
    pub text: String,
    /// What the sender wrote, without quoted history nor signature.
    pub body: String,
    /// The phone number in the sender's signature, if any.
    pub phone: Option<String>,
    /// A mail forwarded in this one, inline or attached.
    pub forwarded: Option<ForwardedMail>,
    pub attachments: Vec<InboundAttachment>,
    pub automatic: Option<Automatic>,
    /// The raw `Authentication-Results` header values (RFC 8601).
    pub auth_results: Vec<String>,
    /// What a bounce says, when the mail is one.
    pub bounce: Option<bounce::Bounce>,
    /// Why the sender is not one clear address, when it is not: several
    /// From headers or addresses, or a Sender of another address. Such a
    /// mail acts on no ticket.
    pub sender_doubt: Option<SenderDoubt>,
}

/// A mail forwarded in another: its sender, subject and text (quotes and
/// signature stripped), its sender's phone, and the forwarder's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardedMail {
    pub from: Person,
    pub subject: Option<String>,
    pub body: String,
    pub phone: Option<String>,
    pub note: String,
}

/// "TR :", "Fwd:", "FW:", "WG:", "RV:", "Enc:": a forward's subject.
fn is_forward_subject(subject: &str) -> bool {
    let s = subject.trim_start().to_ascii_lowercase();
    ["tr", "fwd", "fw", "wg", "rv", "enc"].iter().any(|p| {
        s.strip_prefix(p)
            .is_some_and(|rest| rest.trim_start().starts_with(':'))
    })
}

/// The one mail attached to a forward (message/rfc822), read: who wrote
/// it, its subject and text, and its own files (name, type, content).
type AttachedForward = (ForwardedMail, Vec<(String, String, Vec<u8>)>);

fn attached_forward(message: &mail_parser::Message<'_>) -> Option<AttachedForward> {
    if !is_forward_subject(message.subject().unwrap_or("")) {
        return None;
    }
    let mut inner = message.attachments().filter_map(|p| match &p.body {
        PartType::Message(m) => Some(m),
        _ => None,
    });
    let original = inner.next()?;
    if inner.next().is_some() {
        return None;
    }
    let (from, _) = sender(original).ok()?;
    let has_html = original
        .text_bodies()
        .any(|p| matches!(p.body, PartType::Html(_)));
    let text = body_text(original, has_html);
    let files = original
        .attachments()
        .filter(|p| !matches!(p.body, PartType::Message(_)))
        .map(|p| {
            let content_type = p
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{}", ct.ctype(), sub),
                    None => ct.ctype().to_string(),
                })
                .unwrap_or_else(|| "application/octet-stream".into())
                .to_ascii_lowercase();
            (
                p.attachment_name().unwrap_or("").to_string(),
                content_type,
                p.contents().to_vec(),
            )
        })
        .collect();
    let note = quote::strip(&body_text(message, true));
    Some((
        ForwardedMail {
            from,
            subject: original
                .subject()
                .map(hygiene::subject)
                .filter(|s| !s.is_empty()),
            body: quote::strip(&text),
            phone: phone::find(&text),
            note,
        },
        files,
    ))
}

/// Why a mail's sender is not one clear address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SenderDoubt {
    /// Several From headers (the addresses they name).
    SeveralFromHeaders(Vec<String>),
    /// One From naming several addresses.
    SeveralAddresses(Vec<String>),
    /// A Sender of another address than the From.
    OnBehalf { sender: String, from: String },
}

impl SenderDoubt {
    /// The reason as a sentence of `language`.
    pub fn text(&self, language: crate::ticket::Language) -> String {
        use crate::ticket::Language::{En, Fr};
        match (self, language) {
            (SenderDoubt::SeveralFromHeaders(a), En) => {
                format!("the mail has several From headers ({})", a.join(", "))
            }
            (SenderDoubt::SeveralFromHeaders(a), Fr) => {
                format!("le message a plusieurs en-têtes From ({})", a.join(", "))
            }
            (SenderDoubt::SeveralAddresses(a), En) => {
                format!("the mail names several senders ({})", a.join(", "))
            }
            (SenderDoubt::SeveralAddresses(a), Fr) => {
                format!("le message nomme plusieurs expéditeurs ({})", a.join(", "))
            }
            (SenderDoubt::OnBehalf { sender, from }, En) => {
                format!("sent by {sender} on behalf of {from}")
            }
            (SenderDoubt::OnBehalf { sender, from }, Fr) => {
                format!("envoyé par {sender} au nom de {from}")
            }
        }
    }
}

impl InboundMessage {
    /// What the mail says, apart from how it travelled: a hash of the
    /// sender's address, the text and the attachments. One mail that
    /// reached two support addresses has one fingerprint (only its
    /// transport headers differ); another mail that borrowed its
    /// Message-ID has another.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.from.email.as_bytes());
        h.update([0]);
        h.update(self.text.as_bytes());
        for a in &self.attachments {
            h.update([0]);
            h.update(a.sha256.as_bytes());
        }
        crate::hex::hex(&h.finalize())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("not an RFC 5322 message")]
    NotAMessage,
    #[error("no sender address (From)")]
    NoSender,
    #[error("the parser crashed on this mail: {0}")]
    Panic(String),
    #[error("reading this mail took longer than {0:?}")]
    Timeout(std::time::Duration),
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    crate::hex::hex(&Sha256::digest(bytes))
}

/// The Message-ID of raw mail, for de-duplication before a full parse.
pub fn peek_message_id(raw: &[u8]) -> Option<String> {
    catch_unwind(|| {
        MessageParser::new()
            .parse_headers(raw)
            .and_then(|m| m.message_id().map(normalize_id))
    })
    .ok()
    .flatten()
}

fn normalize_id(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

/// Parses raw mail. A parser panic is caught and returned as an error, so a
/// single poison mail never stops ingestion.
pub fn parse(raw: &[u8], own_loop_id: &str) -> Result<InboundMessage, ParseError> {
    catch_unwind(AssertUnwindSafe(|| parse_inner(raw, own_loop_id)))
        .unwrap_or_else(|panic| Err(ParseError::Panic(panic_message(panic.as_ref()))))
}

/// The message with its top-level header lines made UTF-8 where they hold
/// raw 8-bit bytes that are not UTF-8: old clients write accented names
/// and subjects in their own charset without RFC 2047, and the only
/// sensible reading of those bytes is Windows-1252 (a superset of the
/// printable ISO-8859-1). Lines that are valid UTF-8 (RFC 6532) are left
/// alone, and so is the body, whose parts name their charsets.
fn repair_8bit_headers(raw: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    // The header block: lines up to the first empty one (LF or CRLF).
    let mut end = raw.len();
    let mut at = 0;
    while at < raw.len() {
        let line_end = raw[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(raw.len(), |p| at + p + 1);
        let line = &raw[at..line_end];
        if line == b"\n" || line == b"\r\n" {
            end = at;
            break;
        }
        at = line_end;
    }
    let head = &raw[..end];
    if head.is_ascii() || std::str::from_utf8(head).is_ok() {
        return std::borrow::Cow::Borrowed(raw);
    }
    let mut out = Vec::with_capacity(raw.len() + 64);
    for line in head.split_inclusive(|&b| b == b'\n') {
        match std::str::from_utf8(line) {
            Ok(_) => out.extend_from_slice(line),
            Err(_) => {
                let (text, _, _) = encoding_rs::WINDOWS_1252.decode(line);
                out.extend_from_slice(text.as_bytes());
            }
        }
    }
    out.extend_from_slice(&raw[end..]);
    std::borrow::Cow::Owned(out)
}

fn parse_inner(raw: &[u8], own_loop_id: &str) -> Result<InboundMessage, ParseError> {
    let raw = repair_8bit_headers(raw);
    let raw = raw.as_ref();
    let message = MessageParser::default()
        .parse(raw)
        .ok_or(ParseError::NotAMessage)?;
    if message.headers().is_empty() {
        return Err(ParseError::NotAMessage);
    }
    let (from, sender_doubt) = sender(&message)?;

    let ids = |v: &mail_parser::HeaderValue<'_>| -> Vec<String> {
        match v {
            mail_parser::HeaderValue::Text(t) => vec![normalize_id(t)],
            mail_parser::HeaderValue::TextList(list) => {
                list.iter().map(|t| normalize_id(t)).collect()
            }
            _ => Vec::new(),
        }
    };

    let (text, uuencoded) = uuencode::extract(&body_text(&message, false));
    // What the sender wrote: the HTML's quoted history goes on its
    // structure first, then the text's on its patterns.
    let has_html = message
        .text_bodies()
        .any(|p| matches!(p.body, PartType::Html(_)));
    let (body, phone, inline_forward) = if has_html {
        let own = uuencode::extract(&body_text(&message, true)).0;
        (quote::strip(&own), phone::find(&own), forward::find(&own))
    } else {
        (
            quote::strip(&text),
            phone::find(&text),
            forward::find(&text),
        )
    };
    let automatic = classify::classify(&message, &from.email, own_loop_id);
    let bounce = (automatic == Some(Automatic::Bounce)).then(|| bounce::read(&message));

    // The parts of a delivery or read report are the report itself, not
    // files anybody sent: the bounce reading keeps what matters.
    let is_report = message.root_part().is_content_type("multipart", "report");
    let mut attachments = Vec::new();
    for (i, part) in message.attachments().enumerate() {
        if is_report {
            continue;
        }
        let uuencoded_part = part
            .content_transfer_encoding()
            .is_some_and(uuencode::is_transfer_encoding);
        let content = match &part.body {
            // A forwarded mail is kept as a mail file: CRLF line endings,
            // whatever the transport did to them.
            PartType::Message(_) => to_crlf(part.contents()),
            // mail-parser leaves `x-uuencode` parts as they came.
            _ if uuencoded_part => {
                uuencode::decode_part(part.contents()).unwrap_or_else(|| part.contents().to_vec())
            }
            _ => part.contents().to_vec(),
        };
        let content_type = part
            .content_type()
            .map(|ct| match ct.subtype() {
                Some(sub) => format!("{}/{}", ct.ctype(), sub),
                None => ct.ctype().to_string(),
            })
            .unwrap_or_else(|| match &part.body {
                PartType::Message(_) => "message/rfc822".into(),
                PartType::Text(_) => "text/plain".into(),
                _ => "application/octet-stream".into(),
            })
            .to_ascii_lowercase();
        // mail-parser reads an RFC 2231 name's charset from its first
        // segment only: later segments in Latin-1 come out broken.
        let repaired = part
            .attachment_name()
            .filter(|n| n.contains('\u{FFFD}'))
            .and_then(|_| {
                part.headers.iter().find_map(|h| {
                    let raw = message
                        .raw_message()
                        .get(h.offset_start as usize..h.offset_end as usize)?;
                    rfc2231::filename(&String::from_utf8_lossy(raw))
                })
            });
        let name = repaired.as_deref().or(part.attachment_name());
        let filename = sanitize_filename(name, i + 1, &content_type);
        let content_id = part.content_id().and_then(usable_content_id);
        // Inline as the client said, or an image it refers to by its
        // Content-ID without saying (Outlook's pasted pictures).
        let inline = match part.content_disposition() {
            Some(d) => d.is_inline(),
            None => content_id.is_some() && content_type.starts_with("image/"),
        };
        attachments.push(InboundAttachment {
            filename,
            sha256: sha256_hex(&content),
            content_type,
            content,
            inline,
            content_id,
        });
    }

    // The files Outlook wrapped in a winmail.dat, beside it, then the
    // uuencoded ones of the text. Neither comes with a type: the
    // winmail.dat's take one from their extension; uuencoded files keep
    // application/octet-stream (the fixtures' rule).
    let wrapped: Vec<(String, Vec<u8>, &str)> = attachments
        .iter()
        .filter(|a| tnef::is_tnef(&a.content_type, &a.filename))
        .flat_map(|a| tnef::unpack(&a.content))
        .map(|(name, content)| {
            let content_type = type_of_name(&name);
            (name, content, content_type)
        })
        .collect();
    let extracted = wrapped.into_iter().chain(
        uuencoded
            .into_iter()
            .map(|(name, content)| (name, content, "application/octet-stream")),
    );
    for (name, content, content_type) in extracted {
        let position = attachments.len() + 1;
        attachments.push(InboundAttachment {
            filename: sanitize_filename(Some(&name), position, content_type),
            content_type: content_type.into(),
            sha256: sha256_hex(&content),
            content,
            inline: false,
            content_id: None,
        });
    }

    // A forward: the mail attached whole (message/rfc822, under a "TR:",
    // "Fwd:" subject), its files joining the mail's; else one quoted
    // inline under a forwarding client's separator.
    let attached_forward = attached_forward(&message);
    let forwarded = match attached_forward {
        Some((f, files)) => {
            for (name, content_type, content) in files {
                let position = attachments.len() + 1;
                attachments.push(InboundAttachment {
                    filename: sanitize_filename(Some(&name), position, &content_type),
                    sha256: sha256_hex(&content),
                    content_type,
                    content,
                    inline: false,
                    content_id: None,
                });
            }
            Some(f)
        }
        None => inline_forward.map(|f| ForwardedMail {
            body: quote::strip(&f.text),
            phone: phone::find(&f.text),
            from: f.from,
            subject: f.subject,
            note: f.note,
        }),
    };

    Ok(InboundMessage {
        message_id: message.message_id().map(normalize_id),
        in_reply_to: ids(message.in_reply_to()),
        references: ids(message.references()),
        subject: hygiene::subject(message.subject().unwrap_or("")),
        copied: copied(&message),
        from,
        text,
        body,
        phone,
        forwarded,
        attachments,
        automatic,
        auth_results: message
            .headers_raw()
            .filter(|(n, _)| n.eq_ignore_ascii_case("Authentication-Results"))
            .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect(),
        bounce,
        sender_doubt,
    })
}

/// One person from a parsed address: its address lowercased, its display
/// name made safe ([`hygiene::name`]) and dropped when it only repeats
/// the address.
fn person(addr: &mail_parser::Addr<'_>) -> Option<Person> {
    let email = addr.address()?.trim().to_lowercase();
    if !email.contains('@') {
        return None;
    }
    let name = addr
        .name()
        .map(hygiene::name)
        .filter(|n| !n.is_empty() && !n.eq_ignore_ascii_case(&email));
    Some(Person { email, name })
}

/// At most this many addresses of a mail's To and Cc are read: a mail
/// to a thousand people is not a conversation among them.
pub const MAX_COPIED: usize = 50;

/// The addresses of the To and Cc headers, lower case, each once.
fn copied(message: &mail_parser::Message<'_>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let fields = [mail_parser::HeaderName::To, mail_parser::HeaderName::Cc];
    let people = fields
        .into_iter()
        .flat_map(|f| message.header_values(f))
        .filter_map(|v| v.as_address())
        .flat_map(|a| a.iter())
        .filter_map(person);
    for p in people {
        if out.len() == MAX_COPIED {
            break;
        }
        if !out.contains(&p.email) {
            out.push(p.email);
        }
    }
    out
}

/// The sender: the first address of the first From header, and why it is
/// in doubt when the mail names more than one (RFC 5322 allows one From
/// header; a list of authors needs a Sender, which guichet does not take
/// as the actor) or carries a Sender of another address (a delegate, a
/// list, or someone borrowing a name: it may not act for the From).
fn sender(message: &mail_parser::Message<'_>) -> Result<(Person, Option<SenderDoubt>), ParseError> {
    let headers: Vec<&mail_parser::Address<'_>> = message
        .header_values(mail_parser::HeaderName::From)
        .filter_map(|v| v.as_address())
        .collect();
    let named: Vec<Person> = headers
        .iter()
        .flat_map(|a| a.iter())
        .filter_map(person)
        .collect();
    let from = named.first().cloned().ok_or(ParseError::NoSender)?;
    let mut distinct: Vec<String> = Vec::new();
    for p in &named {
        if !distinct.contains(&p.email) {
            distinct.push(p.email.clone());
        }
    }
    let from_headers = message.header_values(mail_parser::HeaderName::From).count();
    let doubt = if from_headers > 1 {
        Some(SenderDoubt::SeveralFromHeaders(distinct))
    } else if distinct.len() > 1 {
        Some(SenderDoubt::SeveralAddresses(distinct))
    } else {
        message
            .sender()
            .and_then(|a| a.first())
            .and_then(person)
            .filter(|s| s.email != from.email)
            .map(|s| SenderDoubt::OnBehalf {
                sender: s.email,
                from: from.email.clone(),
            })
    };
    Ok((from, doubt))
}

/// The text of the first body part; HTML-only mail is converted to text
/// (`new_only`: without the history its structure marks as quoted),
/// format=flowed text (RFC 3676) is unwrapped.
fn body_text(message: &mail_parser::Message<'_>, new_only: bool) -> String {
    // Several inline text parts (text, an image, more text, as some
    // clients send it): all of them, in order, none lost.
    let texts: Vec<String> = message
        .text_bodies()
        .map(|part| part_text(part, new_only))
        .filter(|t| !t.trim().is_empty())
        .collect();
    texts.join("\n")
}

/// One body part as text: charset repaired, format=flowed unwrapped, HTML
/// turned into text.
fn part_text(part: &mail_parser::MessagePart<'_>, new_only: bool) -> String {
    match &part.body {
        PartType::Text(t) => {
            let ct = part.content_type();
            let text = t.replace("\r\n", "\n");
            let label = ct
                .and_then(|c| c.attribute("charset"))
                .unwrap_or("us-ascii");
            let text = repair_mislabelled_utf8(text, label);
            let flowed = ct
                .and_then(|c| c.attribute("format"))
                .is_some_and(|f| f.eq_ignore_ascii_case("flowed"));
            if flowed {
                let delsp = ct
                    .and_then(|c| c.attribute("delsp"))
                    .is_some_and(|d| d.eq_ignore_ascii_case("yes"));
                unflow(&text, delsp)
            } else {
                text
            }
        }
        PartType::Html(h) if new_only => html_to_new_text(h),
        PartType::Html(h) => html_to_text(h),
        _ => String::new(),
    }
}

/// Text sent as UTF-8 but labelled Latin-1 or Windows-1252 (old mailers,
/// misconfigured scripts) decodes as "Ã©" for "é". When the decoded text,
/// turned back into the bytes of its label, is valid UTF-8 with multi-byte
/// characters, those bytes were UTF-8: decode them as such.
fn repair_mislabelled_utf8(text: String, label: &str) -> String {
    let label = label.to_ascii_lowercase();
    let single_byte = matches!(
        label.as_str(),
        "iso-8859-1"
            | "iso8859-1"
            | "latin1"
            | "latin-1"
            | "windows-1252"
            | "cp1252"
            | "us-ascii"
            | "ascii"
    );
    if !single_byte || text.is_ascii() {
        return text;
    }
    let mut bytes = Vec::with_capacity(text.len());
    for c in text.chars() {
        let b = match c as u32 {
            n @ 0..=0xFF => n as u8,
            // Windows-1252's 0x80-0x9F range.
            _ => match WINDOWS_1252_HIGH.iter().position(|&w| w == c) {
                Some(i) => 0x80 + i as u8,
                None => return text,
            },
        };
        bytes.push(b);
    }
    match String::from_utf8(bytes) {
        Ok(repaired) if repaired.chars().any(|c| c as u32 > 0x7F) => repaired,
        _ => text,
    }
}

/// Windows-1252 characters of bytes 0x80 to 0x9F (U+FFFD where unused).
const WINDOWS_1252_HIGH: [char; 32] = [
    '€', '\u{FFFD}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{FFFD}', 'Ž',
    '\u{FFFD}', '\u{FFFD}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{FFFD}',
    'ž', 'Ÿ',
];

/// Undoes format=flowed (RFC 3676 section 4): a line ending in a space
/// continues on the next one (the space removed too with DelSp=yes);
/// space-stuffing is removed; quoted lines join only lines of the same
/// quote depth; the signature separator is never joined.
pub fn unflow(text: &str, delsp: bool) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut open: Option<(usize, String)> = None;
    for raw in text.split('\n') {
        let depth = raw.chars().take_while(|c| *c == '>').count();
        let mut line = &raw[depth..];
        if line.starts_with(' ') {
            line = &line[1..];
        }
        let soft = line.ends_with(' ') && line != "-- ";
        let content = if soft && delsp {
            &line[..line.len() - 1]
        } else {
            line
        };
        let prefix = ">".repeat(depth);
        match open.take() {
            Some((d, mut acc)) if d == depth => {
                acc.push_str(content);
                if soft {
                    open = Some((d, acc));
                } else {
                    out.push(acc);
                }
            }
            previous => {
                if let Some((d, acc)) = previous {
                    let _ = d;
                    out.push(acc);
                }
                let start = if depth > 0 {
                    format!("{prefix} {content}")
                } else {
                    content.to_string()
                };
                if soft {
                    open = Some((depth, start));
                } else {
                    out.push(start);
                }
            }
        }
    }
    if let Some((_, acc)) = open {
        out.push(acc);
    }
    out.join("\n")
}

/// Bytes with every line ending as CRLF.
fn to_crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 32);
    let mut previous = 0u8;
    for &b in bytes {
        if b == b'\n' && previous != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        previous = b;
    }
    out
}

/// Readable text from HTML: paragraphs, lists and links kept, no wrapping.
/// The cost is bounded whatever the HTML: see [`html`].
pub fn html_to_text(html: &str) -> String {
    let text = if html.len() > html::MAX_HTML_BYTES {
        html::strip(html)
    } else {
        html2text::config::plain()
            .no_table_borders()
            .string_from_read(html::flatten(html, html::MAX_DEPTH).as_bytes(), 10_000)
            .unwrap_or_default()
    };
    text.lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The text of HTML without the quoted history its structure marks
/// ([`html::without_quotes`]); the whole text when nothing would be left
/// (a forward with nothing written above it).
pub fn html_to_new_text(html: &str) -> String {
    if html.len() <= html::MAX_HTML_BYTES {
        if let Some(new) = html::without_quotes(html) {
            let text = html_to_text(&new);
            if text.chars().any(char::is_alphanumeric) {
                return text;
            }
        }
    }
    html_to_text(html)
}

/// The type of a file that came without one (uuencoded, inside a
/// winmail.dat), from its name's extension; `application/octet-stream`
/// when unknown.
pub fn type_of_name(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("pdf") => "application/pdf",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("txt" | "log") => "text/plain",
        Some("csv") => "text/csv",
        Some("doc") => "application/msword",
        Some("docx") => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        Some("xls") => "application/vnd.ms-excel",
        Some("xlsx") => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        Some("odt") => "application/vnd.oasis.opendocument.text",
        Some("ods") => "application/vnd.oasis.opendocument.spreadsheet",
        Some("zip") => "application/zip",
        _ => "application/octet-stream",
    }
}

/// A file name safe to show and to write: no directories, no control nor
/// format characters, at most 255 bytes, never empty.
pub fn sanitize_filename(name: Option<&str>, position: usize, content_type: &str) -> String {
    let base = name.unwrap_or("").rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned = hygiene::filename(base)
        .trim()
        .trim_start_matches('.')
        .to_string();
    if !cleaned.is_empty() {
        return cleaned;
    }
    let ext = match content_type {
        "image/png" => ".png",
        "image/jpeg" => ".jpg",
        "image/gif" => ".gif",
        "application/pdf" => ".pdf",
        "message/rfc822" => ".eml",
        "text/plain" => ".txt",
        _ => ".bin",
    };
    format!("attachment-{position}{ext}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered(i: usize) -> std::sync::Arc<[u8]> {
        format!(
            "From: a{i}@example.org\r\nSubject: n{i}\r\nMessage-ID: <m{i}@x>\r\n\r\nbody {i}\r\n"
        )
        .into_bytes()
        .into()
    }

    #[test]
    fn the_reader_gives_every_result_in_order() {
        let raws: Vec<_> = (0..50).map(numbered).collect();
        let read: Vec<_> = Reader::start(
            raws,
            "support@example.test",
            std::time::Duration::from_secs(30),
        )
        .map(|r| r.unwrap().message_id.unwrap())
        .collect();
        let expected: Vec<_> = (0..50).map(|i| format!("m{i}@x")).collect();
        assert_eq!(read, expected);
    }

    #[test]
    fn a_reader_that_gives_up_still_answers_for_every_mail() {
        // No time at all: each mail is either read already or given up,
        // the ones after a given-up mail go to a new thread, and there is
        // exactly one answer per mail, in order.
        let raws: Vec<_> = (0..20).map(numbered).collect();
        let read: Vec<_> =
            Reader::start(raws, "support@example.test", std::time::Duration::ZERO).collect();
        assert_eq!(read.len(), 20);
        for (i, r) in read.iter().enumerate() {
            match r {
                Ok(m) => assert_eq!(m.message_id.as_deref(), Some(format!("m{i}@x").as_str())),
                Err(e) => assert_eq!(*e, ParseError::Timeout(std::time::Duration::ZERO)),
            }
        }
        // And the parsing thread works again afterwards.
        let m = parse_within(
            &numbered(7),
            "support@example.test",
            std::time::Duration::from_secs(30),
        )
        .unwrap();
        assert_eq!(m.message_id.as_deref(), Some("m7@x"));
    }

    #[test]
    fn filenames_lose_paths_and_controls() {
        assert_eq!(
            sanitize_filename(Some("C:\\Users\\x\\rapport.pdf"), 1, "application/pdf"),
            "rapport.pdf"
        );
        assert_eq!(
            sanitize_filename(Some("../../etc/passwd"), 1, "text/plain"),
            "passwd"
        );
        assert_eq!(
            sanitize_filename(Some("a\u{7}b\n.txt"), 1, "text/plain"),
            "ab.txt"
        );
        assert_eq!(sanitize_filename(None, 2, "image/png"), "attachment-2.png");
        assert_eq!(sanitize_filename(Some(".."), 3, "x/y"), "attachment-3.bin");
    }

    #[test]
    fn utf8_under_a_latin1_label_is_repaired_and_latin1_kept() {
        assert_eq!(
            repair_mislabelled_utf8("probl\u{c3}\u{a8}me".into(), "iso-8859-1"),
            "problème"
        );
        assert_eq!(
            repair_mislabelled_utf8(
                "l\u{e2}\u{20ac}\u{2122}\u{c3}\u{a9}cran".into(),
                "windows-1252"
            ),
            "l’écran"
        );
        assert_eq!(
            repair_mislabelled_utf8("problème".into(), "iso-8859-1"),
            "problème"
        );
        assert_eq!(repair_mislabelled_utf8("Ã©".into(), "utf-8"), "Ã©");
    }

    #[test]
    fn raw_latin1_header_lines_only_are_read_as_windows_1252() {
        let raw = b"From: R\xe9gis <r@example.org>\nSubject: Caf\xc3\xa9\n\r\n\xe9t\xe9 (body)\n";
        let fixed = repair_8bit_headers(raw);
        let text = String::from_utf8_lossy(&fixed);
        assert!(text.starts_with("From: R\u{e9}gis <r@example.org>\nSubject: Caf\u{e9}\n\r\n"));
        // The body is not the header's business: its bytes stay as sent.
        assert!(fixed.ends_with(b"\n\r\n\xe9t\xe9 (body)\n"));
        let clean = b"From: a@example.org\r\n\r\n\xe9\r\n";
        assert!(matches!(
            repair_8bit_headers(clean),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let garbage: Vec<u8> = (0..2000u32).map(|i| (i * 7919 % 251) as u8).collect();
        assert!(parse(&garbage, "support@example.test").is_err());
        assert_eq!(parse(b"", "x").unwrap_err(), ParseError::NotAMessage);
    }

    #[test]
    fn sender_and_threading() {
        let raw = b"From: =?utf-8?q?Jos=C3=A9?= <Jose@Mairie-Exemple.fr>\r\nTo: support@example.test\r\nSubject: =?iso-8859-1?q?Probl=E8me?=\r\nMessage-ID: <a1@x>\r\nIn-Reply-To: <b2@y>\r\nReferences: <c3@z> <b2@y>\r\n\r\nBonjour\r\n";
        let m = parse(raw, "support@example.test").unwrap();
        assert_eq!(m.from.email, "jose@mairie-exemple.fr");
        assert_eq!(m.from.name.as_deref(), Some("José"));
        assert_eq!(m.subject, "Problème");
        assert_eq!(m.message_id.as_deref(), Some("a1@x"));
        assert_eq!(m.in_reply_to, vec!["b2@y"]);
        assert_eq!(m.references, vec!["c3@z", "b2@y"]);
        assert_eq!(m.body, "Bonjour");
        assert_eq!(m.automatic, None);
        assert_eq!(m.copied, ["support@example.test"]);
    }

    #[test]
    fn to_and_cc_are_read_each_once_in_lower_case() {
        let raw = b"From: Alice <alice@mairie.example>\r\nTo: \"Support\" <Support@Example.test>, bob@mairie.example\r\nCc: Chef <CHEF@mairie.example>, undisclosed-recipients:;, bob@mairie.example\r\nSubject: x\r\n\r\nBonjour\r\n";
        let m = parse(raw, "support@example.test").unwrap();
        assert_eq!(
            m.copied,
            [
                "support@example.test",
                "bob@mairie.example",
                "chef@mairie.example"
            ]
        );
        // A mail to a crowd: only the first ones are read.
        let crowd: Vec<String> = (0..500).map(|i| format!("p{i}@x.example")).collect();
        let raw = format!(
            "From: a@x.example\r\nTo: {}\r\nSubject: x\r\n\r\nBonjour\r\n",
            crowd.join(", ")
        );
        let m = parse(raw.as_bytes(), "support@example.test").unwrap();
        assert_eq!(m.copied.len(), MAX_COPIED);
        assert_eq!(m.copied[0], "p0@x.example");
    }
}
