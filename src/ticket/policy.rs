//! The desk's rules, as the configuration sets them (`config` converts its
//! settings into a [`Policy`]; the domain never reads the configuration).

use chrono::{Duration, NaiveDateTime};

use super::calendar::Calendar;
use super::sla::Sla;
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
    /// When the desk is open: what the acknowledgement says, and the
    /// business time the SLA counts.
    pub calendar: Calendar,
    pub sla: Option<Sla>,
    /// The member organisations, by mail domain (`[[organisation]]`).
    pub organisations: Vec<Organisation>,
    /// The queues (`[[queue]]`); a ticket in none is the desk's own, told
    /// to `agent_notify`.
    pub queues: Vec<Queue>,
    /// An agent's first answer on an unassigned ticket assigns it to them.
    pub assign_on_first_reply: bool,
    /// The articles the acknowledgement suggests and `#kb` sends.
    pub kb: std::sync::Arc<super::kb::KnowledgeBase>,
}

/// A queue of the desk: the addresses that route a new mail into it (To
/// or Cc), and where its tickets are told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queue {
    pub name: String,
    /// Lower case.
    pub addresses: Vec<String>,
    /// Lower case; empty: the desk's `agent_notify`.
    pub agent_notify: Vec<String>,
    /// The tag its tickets' subjects carry; `None`: the desk's.
    pub subject_tag: Option<String>,
}

/// A member organisation of the desk and its mail domains (lower case;
/// their subdomains belong to it too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Organisation {
    pub name: String,
    pub domains: Vec<String>,
}

/// Public mail providers: their domain names nobody's organisation.
const PUBLIC_PROVIDERS: &[&str] = &[
    "aliceadsl.fr",
    "aol.com",
    "bbox.fr",
    "club-internet.fr",
    "free.fr",
    "gmail.com",
    "gmx.com",
    "gmx.de",
    "gmx.fr",
    "googlemail.com",
    "hotmail.com",
    "hotmail.fr",
    "icloud.com",
    "laposte.net",
    "live.com",
    "live.fr",
    "mac.com",
    "mail.com",
    "me.com",
    "msn.com",
    "neuf.fr",
    "numericable.fr",
    "orange.fr",
    "outlook.com",
    "outlook.fr",
    "proton.me",
    "protonmail.com",
    "sfr.fr",
    "wanadoo.fr",
    "yahoo.com",
    "yahoo.fr",
    "yandex.com",
    "zoho.com",
];

impl Policy {
    /// Since when an open ticket of a requester's with a mail's subject
    /// takes that mail in, at `now` ([`Policy::duplicate_window`]).
    pub fn duplicate_since(&self, now: NaiveDateTime) -> NaiveDateTime {
        now - self.duplicate_window
    }

    /// The organisation of a requester: the `[[organisation]]` whose
    /// domain is the most specific one of the address's; with none
    /// configured, the address's domain itself, unless it is a public mail
    /// provider's ("gmail.com" is nobody's organisation).
    pub fn organisation_of(&self, email: &str) -> Option<String> {
        let domain = email.rsplit_once('@')?.1.to_ascii_lowercase();
        if domain.is_empty() {
            return None;
        }
        if self.organisations.is_empty() {
            return (!PUBLIC_PROVIDERS.contains(&domain.as_str())).then_some(domain);
        }
        let within = |d: &String| {
            domain == *d
                || domain
                    .strip_suffix(d.as_str())
                    .is_some_and(|rest| rest.ends_with('.'))
        };
        self.organisations
            .iter()
            .filter_map(|o| {
                o.domains
                    .iter()
                    .filter(|d| within(d))
                    .map(|d| (d.len(), o))
                    .max_by_key(|(n, _)| *n)
            })
            .max_by_key(|(n, _)| *n)
            .map(|(_, o)| o.name.clone())
    }

    /// Whether `address` is one of the agents' notification addresses,
    /// the desk's or a queue's.
    pub fn is_agent_notify(&self, address: &str) -> bool {
        self.agent_notify.iter().any(|a| a == address)
            || self
                .queues
                .iter()
                .any(|q| q.agent_notify.iter().any(|a| a == address))
    }

    /// Whether `address` is the desk's own: its address or a queue's.
    pub fn is_desk_address(&self, address: &str) -> bool {
        address == self.desk_address
            || self
                .queues
                .iter()
                .any(|q| q.addresses.iter().any(|a| a == address))
    }

    /// The tag in the subjects of a ticket of this queue: the queue's
    /// own, else the desk's.
    pub fn tag_of(&self, queue: Option<&str>) -> &str {
        queue
            .and_then(|q| self.queue(q))
            .and_then(|q| q.subject_tag.as_deref())
            .unwrap_or(&self.subject_tag)
    }

    /// Every tag a reference of the desk may carry: the desk's, then the
    /// queues' own.
    pub fn tags(&self) -> Vec<&str> {
        let mut tags = vec![self.subject_tag.as_str()];
        for q in &self.queues {
            if let Some(t) = q.subject_tag.as_deref() {
                if !tags.contains(&t) {
                    tags.push(t);
                }
            }
        }
        tags
    }

    /// The queue of this name.
    pub fn queue(&self, name: &str) -> Option<&Queue> {
        self.queues.iter().find(|q| q.name == name)
    }

    /// Where a queue's tickets are told: its own list, else the desk's.
    pub fn notify_of(&self, queue: Option<&str>) -> &[String] {
        match queue.and_then(|q| self.queue(q)) {
            Some(q) if !q.agent_notify.is_empty() => &q.agent_notify,
            _ => &self.agent_notify,
        }
    }

    /// The queue a new mail sent to these addresses (To, Cc) goes to:
    /// the first queue, in the configuration's order, that one of them
    /// routes to.
    pub fn queue_for(&self, copied: &[String]) -> Option<&Queue> {
        self.queues
            .iter()
            .find(|q| q.addresses.iter().any(|a| copied.contains(a)))
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
            calendar: Calendar::Always,
            sla: None,
            organisations: Vec::new(),
            queues: Vec::new(),
            assign_on_first_reply: true,
            kb: Default::default(),
        }
    }

    #[test]
    fn organisations_by_domain_and_subdomain_never_a_public_provider() {
        let mut p = policy();
        // None configured: the domain, but not a public provider's.
        assert_eq!(
            p.organisation_of("a@Mairie.Example").as_deref(),
            Some("mairie.example")
        );
        assert_eq!(p.organisation_of("jean.dupont@gmail.com"), None);
        assert_eq!(p.organisation_of("marie@orange.fr"), None);
        assert_eq!(p.organisation_of("nobody"), None);
        p.organisations = vec![
            Organisation {
                name: "Ville de Bobigny".into(),
                domains: vec!["ville-bobigny.fr".into()],
            },
            Organisation {
                name: "Université".into(),
                domains: vec!["univ.example".into()],
            },
            Organisation {
                name: "Faculté de médecine".into(),
                domains: vec!["med.univ.example".into()],
            },
        ];
        let of = |e: &str| p.organisation_of(e);
        assert_eq!(
            of("accueil@ville-bobigny.fr").as_deref(),
            Some("Ville de Bobigny")
        );
        assert_eq!(
            of("dsi@services.ville-bobigny.fr").as_deref(),
            Some("Ville de Bobigny")
        );
        assert_eq!(of("x@univ.example").as_deref(), Some("Université"));
        // The most specific domain wins.
        assert_eq!(
            of("y@labo.med.univ.example").as_deref(),
            Some("Faculté de médecine")
        );
        // Outside every listed domain: none, not the domain itself.
        assert_eq!(of("someone@other.example"), None);
        // A look-alike is not a subdomain.
        assert_eq!(of("spoof@notville-bobigny.fr"), None);
        assert_eq!(of("spoof@ville-bobigny.fr.evil.example"), None);
    }
}
