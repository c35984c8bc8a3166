//! Delivery status notifications (RFC 3464) and other bounces: which of
//! our mails failed, to whom, and whether for good.

use std::sync::LazyLock;

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};
use regex::Regex;

pub use crate::ticket::Bounce;

static STATUS_IN_TEXT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b").expect("static regex"));
static MESSAGE_ID_IN_TEXT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?im)^\s*Message-ID:\s*<([^<>\s]+)>").expect("static regex"));

fn content_type_of(part: &mail_parser::MessagePart<'_>) -> String {
    part.content_type()
        .map(|ct| format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or("")))
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// The per-recipient fields of a `message/delivery-status` body: the first
/// recipient whose action is "failed", else the first one.
fn read_delivery_status(text: &str) -> (Option<String>, Option<String>, Option<String>) {
    let mut best: Option<(Option<String>, Option<String>, Option<String>)> = None;
    for block in text.replace("\r\n", "\n").split("\n\n") {
        let mut recipient = None;
        let mut status = None;
        let mut action = None;
        for line in block.lines() {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "final-recipient" | "original-recipient"
                    if recipient.is_none()
                        || name.trim().eq_ignore_ascii_case("final-recipient") =>
                {
                    let addr = value.split_once(';').map(|(_, a)| a).unwrap_or(value);
                    recipient = Some(addr.trim().trim_matches(['<', '>']).to_lowercase());
                }
                "status" => {
                    status = value.split_whitespace().next().map(str::to_string);
                }
                "action" => action = Some(value.to_ascii_lowercase()),
                _ => {}
            }
        }
        if recipient.is_none() && status.is_none() {
            continue;
        }
        let failed = action.as_deref() == Some("failed");
        let found = (recipient, status, action);
        if failed {
            return found;
        }
        best.get_or_insert(found);
    }
    best.unwrap_or((None, None, None))
}

fn normalize_id(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

/// Reads a bounce. `own_id` is the bounce's own Message-ID, never taken
/// for the original's.
pub fn read(message: &Message<'_>) -> Bounce {
    let own_id = message.message_id().map(normalize_id);
    let mut recipient = None;
    let mut status = None;
    let mut action = None;
    let mut original_message_id = None;
    let mut original_to = None;
    for part in &message.parts {
        let ct = content_type_of(part);
        match (&part.body, ct.as_str()) {
            (_, "message/delivery-status" | "message/global-delivery-status") => {
                let text = String::from_utf8_lossy(part.contents());
                (recipient, status, action) = read_delivery_status(&text);
            }
            (PartType::Message(original), _) => {
                original_message_id = original.message_id().map(normalize_id);
                original_to = original
                    .to()
                    .and_then(|a| a.first())
                    .and_then(|a| a.address())
                    .map(str::to_lowercase);
            }
            (_, "text/rfc822-headers") => {
                if let Some(headers) = MessageParser::new().parse_headers(part.contents()) {
                    original_message_id = headers.message_id().map(normalize_id);
                    original_to = headers
                        .to()
                        .and_then(|a| a.first())
                        .and_then(|a| a.address())
                        .map(str::to_lowercase);
                }
            }
            _ => {}
        }
    }
    // Bounces without a DSN part: look in the text for what is quoted.
    if original_message_id.is_none() || status.is_none() {
        for part in &message.parts {
            let Some(text) = part.text_contents() else {
                continue;
            };
            if original_message_id.is_none() {
                original_message_id = MESSAGE_ID_IN_TEXT
                    .captures_iter(text)
                    .map(|c| c[1].to_string())
                    .find(|id| Some(id) != own_id.as_ref());
            }
            if status.is_none() {
                status = STATUS_IN_TEXT.captures(text).map(|c| c[0].to_string());
            }
        }
    }
    let permanent = match (&status, action.as_deref()) {
        (_, Some("delayed" | "relayed" | "delivered" | "expanded")) => false,
        (Some(s), _) => s.starts_with('5'),
        (None, Some("failed")) => true,
        (None, _) => false,
    };
    Bounce {
        original_message_id,
        recipient: recipient.or(original_to),
        status,
        permanent,
    }
}
