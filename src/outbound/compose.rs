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

pub fn compose(d: &Draft<'_>) -> Result<Composed, ComposeError> {
    let mut builder = Message::builder()
        .from(d.from.clone())
        .subject(d.subject)
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
