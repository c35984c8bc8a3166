//! The desk's rules, as the configuration sets them (`config` converts its
//! settings into a [`Policy`]; the domain never reads the configuration).

use chrono::Duration;

use super::Language;

/// What to do with a mail on a closed ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyToClosed {
    NewTicket,
    Reopen,
}

/// The desk's rules.
#[derive(Clone, Debug)]
pub struct Policy {
    /// The desk's own address, lower case: mail from it is ours come back.
    pub desk_address: String,
    /// The subject tag, as in `[SUPPORT #000123]`.
    pub subject_tag: String,
    /// The language of the mail new tickets' requesters receive.
    pub language: Language,
    /// The agents' notification addresses, lower case: new tickets and
    /// requesters' mail are told there.
    pub agent_notify: Vec<String>,
    /// Folded (lower case, no accents: [`super::text::fold`]).
    pub validate_keywords: Vec<String>,
    pub refuse_keywords: Vec<String>,
    pub auto_close_after: Duration,
    /// The reminder goes this long before the automatic closure.
    pub remind_before: Duration,
    pub reply_to_closed: ReplyToClosed,
    /// Whether what an agent wrote is signed with the agent's name (the
    /// agent's address is never shown).
    pub sign_with_agent_name: bool,
    /// A new mail with the subject of an open ticket of the same requester
    /// opened within this window is added to that ticket.
    pub duplicate_window: Duration,
    /// A courtesy reply ("merci", "OK", the validation keyword again) from
    /// a participant this soon after closure is recorded on the closed
    /// ticket and changes nothing.
    pub closed_grace: Duration,
    /// Whether the people the requester put in copy become watchers of
    /// the ticket (else they may add follow-ups, and receive nothing).
    pub cc_become_watchers: bool,
    /// Larger attachments are not kept; the sender is told.
    pub max_attachment_size: u64,
    /// A larger mail keeps its text but none of its attachments.
    pub max_message_size: u64,
    /// The files of a mail travel with the mails it causes up to this
    /// size in all; the others are listed, and stay in the desk.
    pub forward_attachments_up_to: u64,
    /// The loop guard: at most this many automatic answers to one address
    /// per hour, and per day.
    pub max_auto_per_hour: u32,
    pub max_auto_per_day: u32,
}

impl Policy {
    /// Whether `address` is one of the agents' notification addresses.
    pub fn is_agent_notify(&self, address: &str) -> bool {
        self.agent_notify.iter().any(|a| a == address)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A desk's policy for the domain's tests.
    pub(crate) fn policy() -> Policy {
        Policy {
            desk_address: "support@example.test".into(),
            subject_tag: "SUPPORT".into(),
            language: Language::Fr,
            agent_notify: vec!["sau@example.test".into()],
            validate_keywords: ["valider", "accepter", "accept", "ok"]
                .map(String::from)
                .to_vec(),
            refuse_keywords: ["refuser", "refuse"].map(String::from).to_vec(),
            auto_close_after: Duration::days(7),
            remind_before: Duration::days(2),
            reply_to_closed: ReplyToClosed::NewTicket,
            sign_with_agent_name: false,
            duplicate_window: Duration::days(1),
            closed_grace: Duration::days(7),
            cc_become_watchers: false,
            max_attachment_size: 50 << 20,
            max_message_size: 60 << 20,
            forward_attachments_up_to: 10 << 20,
            max_auto_per_hour: 5,
            max_auto_per_day: 20,
        }
    }
}
