//! Limits the desk sets: the size of what is kept from a mail, and the
//! loop guard on automatic answers.

use chrono::{Duration, NaiveDateTime};

use super::notice::Template;
use super::policy::Policy;
use super::Attachment;

/// An attachment that was not kept, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    pub filename: String,
    pub size: u64,
    /// Refused because the whole mail was too large, not this file alone.
    pub whole_mail: bool,
    /// The limit it went over, in bytes.
    pub limit: u64,
}

/// Which attachments are kept (their indices) and which are refused: each
/// one over `max_attachment_size`, and all of them when the whole mail is
/// over `max_message_size`. The text is always kept.
pub fn sort_attachments(
    attachments: &[Attachment],
    raw_size: u64,
    policy: &Policy,
) -> (Vec<usize>, Vec<Refused>) {
    let whole_too_big = raw_size > policy.max_message_size;
    let mut kept = Vec::new();
    let mut refused = Vec::new();
    for (i, a) in attachments.iter().enumerate() {
        if !whole_too_big && a.size <= policy.max_attachment_size {
            kept.push(i);
        } else {
            refused.push(Refused {
                filename: a.filename.clone(),
                size: a.size,
                whole_mail: whole_too_big,
                limit: if whole_too_big {
                    policy.max_message_size
                } else {
                    policy.max_attachment_size
                },
            });
        }
    }
    (kept, refused)
}

/// Whether a mail of `template` to `to` counts for the loop guard: the
/// automatic answers to someone's mail, except to the agents' own
/// notification addresses, which are never limited.
pub fn is_guarded(template: Template, to: &str, policy: &Policy) -> bool {
    template.is_auto_reply() && !policy.is_agent_notify(to)
}

/// Why one more automatic answer must not go to an address that was sent
/// these (the times of the automatic answers of the last day), if it must
/// not: the backstop against loops with autoresponders that no header
/// betrays.
pub fn loop_guard(sent: &[NaiveDateTime], now: NaiveDateTime, policy: &Policy) -> Option<String> {
    let hour = sent
        .iter()
        .filter(|at| **at >= now - Duration::hours(1))
        .count();
    if hour >= policy.max_auto_per_hour as usize {
        return Some(format!(
            "loop guard: {hour} automatic answers to this address in the last hour"
        ));
    }
    let day = sent
        .iter()
        .filter(|at| **at >= now - Duration::days(1))
        .count();
    if day >= policy.max_auto_per_day as usize {
        return Some(format!(
            "loop guard: {day} automatic answers to this address in the last day"
        ));
    }
    None
}

/// Why a mail is held back instead of sent, if it is: its recipient
/// bounced for good, or the loop guard stops it. `answered` holds the
/// times of the automatic answers to that address in the last day.
pub fn hold_reason(
    template: Template,
    to: &str,
    bounced: bool,
    answered: &[NaiveDateTime],
    now: NaiveDateTime,
    policy: &Policy,
) -> Option<String> {
    if bounced {
        return Some("the address bounced for good".to_string());
    }
    if is_guarded(template, to, policy) {
        return loop_guard(answered, now, policy);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ticket::policy::tests::policy;

    fn at(h: u32, m: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 11, 30)
            .and_then(|d| d.and_hms_opt(h, m, 0))
            .expect("valid time")
    }

    fn file(name: &str, size: u64) -> Attachment {
        Attachment {
            filename: name.into(),
            content_type: "application/pdf".into(),
            size,
            sha256: format!("sha-of-{name}"),
        }
    }

    #[test]
    fn attachments_over_the_limit_are_refused_alone() {
        let p = Policy {
            max_attachment_size: 1000,
            max_message_size: 5000,
            ..policy()
        };
        let files = [file("small.pdf", 999), file("big.pdf", 1001)];
        let (kept, refused) = sort_attachments(&files, 3000, &p);
        assert_eq!(kept, [0]);
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].filename, "big.pdf");
        assert!(!refused[0].whole_mail);
        assert_eq!(refused[0].limit, 1000);
    }

    #[test]
    fn a_mail_over_the_whole_limit_keeps_no_attachment() {
        let p = Policy {
            max_attachment_size: 1000,
            max_message_size: 5000,
            ..policy()
        };
        let files = [file("a.png", 10), file("b.png", 20)];
        let (kept, refused) = sort_attachments(&files, 5001, &p);
        assert!(kept.is_empty());
        assert!(refused.iter().all(|r| r.whole_mail && r.limit == 5000));
        let (kept, _) = sort_attachments(&files, 5000, &p);
        assert_eq!(kept, [0, 1]);
    }

    #[test]
    fn the_loop_guard_counts_the_last_hour_and_day() {
        let p = Policy {
            max_auto_per_hour: 3,
            max_auto_per_day: 5,
            ..policy()
        };
        let now = at(12, 0);
        assert_eq!(loop_guard(&[], now, &p), None);
        let two = [at(11, 10), at(11, 50)];
        assert_eq!(loop_guard(&two, now, &p), None);
        let three = [at(11, 10), at(11, 30), at(11, 50)];
        assert!(loop_guard(&three, now, &p)
            .unwrap()
            .contains("3 automatic answers to this address in the last hour"));
        // Older than an hour: only the day counts.
        let spread = [at(1, 0), at(3, 0), at(5, 0), at(7, 0), at(9, 0)];
        assert!(loop_guard(&spread, now, &p)
            .unwrap()
            .contains("in the last day"));
        assert_eq!(loop_guard(&spread[1..], now, &p), None);
    }

    #[test]
    fn only_answers_to_people_are_guarded_and_bounced_addresses_held() {
        let p = Policy {
            max_auto_per_hour: 1,
            ..policy()
        };
        let now = at(12, 0);
        let once = [at(11, 59)];
        let to = "alice@mairie.example";
        assert!(hold_reason(Template::Acknowledgement, to, false, &once, now, &p).is_some());
        // What an agent wrote is never held by the guard.
        assert_eq!(
            hold_reason(Template::AgentReply, to, false, &once, now, &p),
            None
        );
        // The agents' notification address is never limited.
        let agents = p.agent_notify[0].clone();
        assert_eq!(
            hold_reason(Template::Acknowledgement, &agents, false, &once, now, &p),
            None
        );
        assert_eq!(
            hold_reason(Template::AgentReply, to, true, &[], now, &p).as_deref(),
            Some("the address bounced for good")
        );
    }
}
