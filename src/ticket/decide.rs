//! The decision: (a snapshot of what the rules need, the mail, the policy,
//! now) to a [`Plan`]. Whose mail it is, which ticket it enters or opens,
//! what is recorded, what is kept of it, and who is told what.

use std::sync::Arc;

use chrono::NaiveDateTime;

use super::classify::{self, Classified};
use super::command::CommandError;
use super::kb::Article;
use super::letters::{self, Agents, Seen, Thread};
use super::limits::{self, Refused};
use super::machine::{self, Actor, Decision, Event, Record, Verdict};
use super::notice::{Audience, Notice, Situation, Template};
use super::plan::{
    AddressChange, Author, Entry, Join, Letter, Plan, PlanOutcome, Related, Said, TicketChange,
};
use super::policy::Policy;
use super::sla;
use super::text::{self, quoted_note, size_text};
use super::{
    Attachment, Automatic, Bounce, Channel, Forwarded, MessageKind, Person, Status, Ticket,
    TicketRef,
};

/// A received mail, as the rules read it.
#[derive(Clone, Copy, Debug)]
pub struct Mail<'a> {
    pub from: &'a Person,
    /// The addresses it was sent to (To and Cc), lower case.
    pub copied: &'a [String],
    pub message_id: Option<&'a str>,
    /// The subject without reply prefixes nor our tags.
    pub subject: &'a str,
    /// What the sender wrote, quoted history and signature stripped.
    pub body: &'a str,
    pub automatic: Option<Automatic>,
    pub bounce: Option<&'a Bounce>,
    /// What the trusted receiving server says of the sender: `None` when
    /// the desk checks nothing, else passed or why not.
    pub authenticated: Option<&'a Result<(), String>>,
    /// Why the sender is not one clear address (several From, a Sender of
    /// another address): the mail is then treated as not authenticated,
    /// whatever the desk checks.
    pub sender_doubt: Option<&'a str>,
    pub attachments: &'a [Attachment],
    /// The size of the whole raw mail, in bytes.
    pub raw_size: u64,
    /// What the requester stated in the subject and the desk's rules set,
    /// for the ticket it opens.
    pub classified: &'a Classified,
    /// The phone number in the sender's signature.
    pub phone: Option<&'a str>,
    /// A requester's mail forwarded in it, inline or attached.
    pub forwarded: Option<&'a Forwarded>,
    /// The queue of the mailbox (`[[mailbox]] queue`) it was fetched from.
    pub mailbox_queue: Option<&'a str>,
}

impl Mail<'_> {
    /// Whether the mail may act as its sender: `None` when the desk checks
    /// nothing and the sender is clear, else passed or why not. A sender
    /// in doubt never passes.
    pub fn trust(&self) -> Option<Result<(), String>> {
        match self.sender_doubt {
            Some(doubt) => Some(Err(doubt.to_string())),
            None => self.authenticated.cloned(),
        }
    }

    /// Whether what the mail says must not be repeated outside the desk.
    fn untrusted(&self) -> bool {
        matches!(self.trust(), Some(Err(_)))
    }
}

/// A ticket as loaded for a decision: its state, the mails of its thread
/// (for threading headers), and the solution it awaits an answer to.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub ticket: Ticket,
    pub thread: Thread,
    pub solution: Option<String>,
    /// The ticket's internal notes: no text of them leaves the desk.
    pub notes: Vec<String>,
    /// The people the requester's mails were also sent to (To, Cc).
    pub participants: Vec<String>,
    /// The SHA-256 of the files already on the ticket (loaded, like the
    /// notes, for an agent's mail): a file quoted back in an agent's reply
    /// (an Outlook reply keeps the pictures of the mail it answers, a
    /// note's included) is not sent on again.
    pub files: Vec<String>,
}

/// At most this many participants are recorded on a ticket.
pub const MAX_PARTICIPANTS: usize = 20;

/// What the application layer loads before deciding on a mail.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// The mail's Message-ID is one of ours: our own mail came back.
    pub ours: bool,
    /// For a delivery report: the recipients of the mail of ours it names
    /// (its original Message-ID), when it names one.
    pub reported: Option<&'a [String]>,
    /// The ticket the mail's threading headers or subject tag name.
    pub matched: Option<&'a Snapshot>,
    /// Whether it was its threading headers (In-Reply-To, References)
    /// that named it, rather than the subject tag.
    pub threaded: bool,
    /// The sender's open ticket with the same subject, opened within the
    /// duplicate window: loaded when [`may_merge`] says so.
    pub same_subject: Option<&'a Snapshot>,
    /// The ticket an agent's `#merge N` names, when there is one: loaded
    /// when [`merge_target`] says so.
    pub target: Option<&'a Ticket>,
    pub agents: &'a Agents,
}

/// The ticket an agent's mail asks its ticket to join (`#merge N`), so
/// that it is loaded before deciding.
pub fn merge_target(mail: &Mail<'_>, agents: &Agents) -> Option<TicketRef> {
    if !agents.is_agent(&mail.from.email) {
        return None;
    }
    match super::command::parse(mail.body)?.command {
        Ok(super::command::Command::Merge(n)) => Some(n),
        _ => None,
    }
}

/// Who the sender of a mail is to a ticket.
pub fn actor_of(ticket: &Ticket, email: &str, agents: &Agents) -> Actor {
    if email == ticket.requester.email {
        Actor::Requester
    } else if agents.is_agent(email) {
        Actor::Agent
    } else if ticket.watchers.iter().any(|w| w == email) {
        Actor::Watcher
    } else {
        Actor::Stranger
    }
}

/// Who the sender of a mail is to the ticket it names: someone the
/// requester put in copy is a participant only when the mail answers in
/// the thread (its In-Reply-To or References name a mail of the ticket);
/// the reference in a subject alone is no proof of having been there.
pub fn sender_of(snapshot: &Snapshot, threaded: bool, email: &str, agents: &Agents) -> Actor {
    match actor_of(&snapshot.ticket, email, agents) {
        Actor::Stranger if threaded && snapshot.participants.iter().any(|p| p == email) => {
            Actor::Participant
        }
        actor => actor,
    }
}

/// The people a requester's mail was also sent to who become the ticket's
/// participants: not the desk, its agents, its notification addresses,
/// the requester, its watchers, nor those already known; at most
/// [`MAX_PARTICIPANTS`] in all.
fn new_participants(
    mail: &Mail<'_>,
    ticket: &Ticket,
    known: &[String],
    agents: &Agents,
    policy: &Policy,
) -> Vec<String> {
    let room = MAX_PARTICIPANTS.saturating_sub(known.len());
    let mut out: Vec<String> = Vec::new();
    for a in mail.copied {
        let ours = policy.is_desk_address(a) || policy.is_agent_notify(a) || agents.is_agent(a);
        let in_ticket = *a == ticket.requester.email || ticket.watchers.contains(a);
        if !(ours || in_ticket || known.contains(a) || out.contains(a)) {
            out.push(a.clone());
        }
    }
    out.truncate(room);
    out
}

/// What ticket `s` brings to `target` when it joins it: a line for its
/// thread, its requester and participants (who may then follow up there),
/// its watchers.
fn join(s: &Snapshot, target: &Ticket, policy: &Policy) -> Join {
    let from = &s.ticket;
    let outside = |p: &String| *p != target.requester.email && !target.watchers.contains(p);
    let mut participants: Vec<String> = Vec::new();
    for p in std::iter::once(&from.requester.email).chain(&s.participants) {
        if outside(p) && !participants.contains(p) {
            participants.push(p.clone());
        }
    }
    Join {
        into: target.number,
        entry: format!(
            "{} joined this ticket (its requester: {}); its thread is now here",
            from.number.display(policy.tag_of(from.queue.as_deref())),
            from.requester.email
        ),
        participants: participants.into_iter().take(MAX_PARTICIPANTS).collect(),
        watchers: from
            .watchers
            .iter()
            .filter(|w| outside(w))
            .cloned()
            .collect(),
    }
}

/// Whether our own mail came back: its Message-ID is ours, or it is from
/// the desk's own address.
fn is_ours(context: &Context<'_>, mail: &Mail<'_>, policy: &Policy) -> bool {
    context.ours || policy.is_desk_address(&mail.from.email)
}

/// What a delivery report may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reported {
    /// It is about a mail we sent, to one of its recipients (or to an
    /// address it does not say): recorded on that mail's ticket, and the
    /// address stops being mailed when the failure is permanent.
    OurMail,
    /// Anything else has no effect: anyone can write a delivery report,
    /// and one that named any address would silence it.
    Nothing(String),
}

/// Whether a delivery report is about a mail we sent to the address it
/// says failed: only then does it act. An address of the desk's own (its
/// address, the agents' notification addresses, an agent) is never
/// silenced by one: a failing notification address is the
/// administrators' to see in the log.
pub fn reported(
    bounce: &Bounce,
    sent_to: Option<&[String]>,
    agents: &Agents,
    policy: &Policy,
) -> Reported {
    let Some(sent_to) = sent_to else {
        return Reported::Nothing(
            "a delivery report naming no mail we sent: no effect".to_string(),
        );
    };
    let Some(failed) = &bounce.recipient else {
        return Reported::OurMail;
    };
    let failed = failed.to_lowercase();
    if !sent_to
        .iter()
        .any(|r| r.trim().eq_ignore_ascii_case(&failed))
    {
        return Reported::Nothing(format!(
            "a delivery report about {failed}, to whom the mail it names was not sent: no effect"
        ));
    }
    if policy.is_desk_address(&failed)
        || policy.is_agent_notify(&failed)
        || agents.is_agent(&failed)
    {
        return Reported::Nothing(format!(
            "a delivery report about the desk's own address {failed}: nothing marked"
        ));
    }
    Reported::OurMail
}

/// Whether the mail would open a new ticket of its own (no ticket, or a
/// ticket it may not enter), so that the sender's open ticket with the
/// same subject is looked up: the same request sent again while it is
/// open is a follow-up on it.
pub fn may_merge(
    mail: &Mail<'_>,
    matched: Option<&Snapshot>,
    threaded: bool,
    agents: &Agents,
) -> bool {
    // "Urgent", "Question", no subject at all: two such mails are not
    // the same request.
    if mail.automatic.is_some() || !text::is_meaningful_subject(mail.subject) {
        return false;
    }
    match matched {
        None => true,
        Some(s) => sender_of(s, threaded, &mail.from.email, agents) == Actor::Stranger,
    }
}

/// Decides what a mail does. `ids` gives each mail to send its Message-ID,
/// in order.
pub fn decide(
    context: &Context<'_>,
    mail: &Mail<'_>,
    policy: &Policy,
    now: NaiveDateTime,
    ids: &mut dyn Iterator<Item = String>,
) -> Plan {
    if is_ours(context, mail, policy) {
        return Plan::ignore("our own mail came back");
    }
    if let Some(b) = mail.bounce {
        if let Reported::Nothing(why) = reported(b, context.reported, context.agents, policy) {
            return Plan::ignore(why);
        }
    }
    if let (Some(s), Some(Automatic::AutoReply)) = (context.matched, mail.automatic) {
        if sender_of(s, context.threaded, &mail.from.email, context.agents) == Actor::Stranger {
            // An out-of-office of someone the ticket does not know, even
            // with the ticket's reference: nothing of it is kept there.
            return Plan::ignore("automatic mail from someone outside the ticket: not recorded");
        }
    }
    let (kept, refused) = limits::sort_attachments(mail.attachments, mail.raw_size, policy);
    let mut addresses = Vec::new();
    if mail.automatic.is_none() {
        addresses.push(AddressChange::Deliverable(mail.from.email.clone()));
    }
    if let Some(b) = mail.bounce {
        if let (true, Some(r)) = (b.permanent, &b.recipient) {
            addresses.push(AddressChange::Undeliverable {
                address: r.clone(),
                reason: format!("bounced: {}", b.status.as_deref().unwrap_or("no status")),
            });
        }
    }
    let verdict = match (context.matched, mail.automatic) {
        (Some(s), _) => {
            let actor = sender_of(s, context.threaded, &mail.from.email, context.agents);
            let courtesy = (mail.automatic.is_none() && mail.attachments.is_empty())
                .then(|| machine::courtesy_after_closure(&s.ticket, mail.body, actor, now, policy))
                .flatten();
            let verdict = match courtesy {
                Some(decision) => Verdict::Apply(decision),
                None => machine::apply(&s.ticket, &event_of(mail), actor, now, policy),
            };
            Some((s, verdict))
        }
        (None, Some(auto)) => {
            let mut plan = Plan::ignore(format!(
                "automatic mail ({auto:?}) matching no ticket, not answered"
            ));
            plan.addresses = addresses;
            return plan;
        }
        (None, None) => None,
    };
    let said = Said {
        from: mail.from.clone(),
        body: String::new(),
        attachments: kept.iter().map(|&i| mail.attachments[i].clone()).collect(),
        refused,
        withheld: false,
    };
    // A stranger with a ticket's reference (another address of its
    // requester, someone forwarded a mail): a ticket apart, which names
    // that one to the agents.
    let apart = match &verdict {
        Some((s, Verdict::OpenNew { follows: None })) => Some(Related {
            number: s.ticket.number,
            subject: s.ticket.subject.clone(),
        }),
        _ => None,
    };
    // An agent's new mail asking for their digest.
    if context.matched.is_none() && asks_digest(mail, context.agents) {
        if mail.untrusted() {
            return Plan::ignore("#digest in a mail that could not be authenticated: not sent");
        }
        let mut plan = Plan::ignore("the agent's digest, asked by #digest");
        plan.outcome = PlanOutcome::DigestAsked;
        return plan;
    }
    // An agent's new mail opening a ticket for someone else.
    let behalf = context
        .matched
        .is_none()
        .then(|| on_behalf(mail, context.agents, policy))
        .flatten();
    let mut draft = match verdict {
        Some((s, Verdict::Apply(decision))) => Draft::update(s, decision, false),
        Some((s, Verdict::Merge { into, line, text })) => {
            let asked = into;
            match machine::merge(
                s.ticket.clone(),
                context.target,
                asked,
                line,
                &text,
                now,
                policy,
            ) {
                machine::Merged::Joins(decision) => {
                    let target = context.target.expect("a merge has its target");
                    let mut draft = Draft::update(s, decision, false);
                    draft.joins = Some(join(s, target, policy));
                    draft.related = Some(Related {
                        number: target.number,
                        subject: target.subject.clone(),
                    });
                    draft
                }
                machine::Merged::Refused(refused) => Draft::update(s, refused, false),
            }
        }
        Some((_, Verdict::OpenNew { follows: Some(old) })) => {
            let subject = context.matched.map(|s| s.ticket.subject.clone());
            Draft::open(mail, subject, Some(old), policy, now)
        }
        None if behalf.is_some() => Draft::open_for(mail, behalf.expect("checked"), policy, now),
        Some((_, Verdict::OpenNew { follows: None })) | None => match context.same_subject {
            Some(s) if may_merge(mail, context.matched, context.threaded, context.agents) => {
                let event = Event::Mail {
                    body: mail.body.to_string(),
                    authenticated: mail.trust(),
                    sender: mail.from.clone(),
                };
                match machine::apply(&s.ticket, &event, Actor::Requester, now, policy) {
                    Verdict::Apply(decision) => Draft::update(s, decision, true),
                    Verdict::OpenNew { .. } | Verdict::Merge { .. } => {
                        Draft::open(mail, None, None, policy, now)
                    }
                }
            }
            _ => Draft::open(mail, None, None, policy, now),
        },
    };
    if let Some(s) = context.matched {
        if actor_of(&s.ticket, &mail.from.email, context.agents) == Actor::Agent {
            draft.withhold_notes(&s.notes, mail);
        }
    }
    if draft.outcome == PlanOutcome::Opened {
        draft.related = apart;
    }
    draft.copied(mail, context, policy);
    draft.addresses = addresses;
    draft.kept = kept;
    draft.finish(Some(mail), said, context.agents, policy, now, ids)
}

/// A ticket an agent opens for someone else: a request taken by phone
/// (`#requester EMAIL [Name]` on the first line of a new mail), or a
/// requester's mail forwarded from the agent's own mailbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Behalf {
    requester: Person,
    /// The request: what the agent wrote of the call, or the forwarded
    /// mail's text.
    body: String,
    /// What the agent wrote above a forwarded mail.
    note: Option<String>,
    subject: Option<String>,
    channel: Channel,
    phone: Option<String>,
}

/// Whether a new mail is an agent's opening a ticket for someone. Only
/// from an agent, never from a mail that could not be trusted (a forged
/// agent's address would have the desk write to anyone), never for the
/// desk's own addresses or an agent.
fn on_behalf(mail: &Mail<'_>, agents: &Agents, policy: &Policy) -> Option<Behalf> {
    if !agents.is_agent(&mail.from.email) || mail.automatic.is_some() || mail.untrusted() {
        return None;
    }
    let for_someone = |p: &Person| {
        p.email != mail.from.email
            && !agents.is_agent(&p.email)
            && !policy.is_desk_address(&p.email)
            && !policy.is_agent_notify(&p.email)
    };
    if let Some(parsed) = super::command::parse(mail.body) {
        if let Ok(super::command::Command::Requester(p)) = parsed.command {
            return for_someone(&p).then_some(Behalf {
                requester: p,
                body: parsed.text,
                note: None,
                subject: None,
                channel: Channel::Phone,
                phone: None,
            });
        }
    }
    let f = mail.forwarded.filter(|f| for_someone(&f.from))?;
    Some(Behalf {
        requester: f.from.clone(),
        body: f.body.clone(),
        note: Some(f.note.clone()).filter(|n| !n.trim().is_empty()),
        subject: f.subject.clone().filter(|s| !s.trim().is_empty()),
        channel: Channel::Mail,
        phone: f.phone.clone(),
    })
}

/// Whether a new mail is an agent's `#digest`.
fn asks_digest(mail: &Mail<'_>, agents: &Agents) -> bool {
    agents.is_agent(&mail.from.email)
        && mail.automatic.is_none()
        && super::command::parse(mail.body)
            .is_some_and(|p| p.command == Ok(super::command::Command::Digest))
}

/// The event a mail is to the ticket it names.
fn event_of(mail: &Mail<'_>) -> Event {
    match (mail.bounce, mail.automatic) {
        (Some(b), _) => Event::Bounce {
            recipient: b.recipient.clone(),
            status: b.status.clone(),
            permanent: b.permanent,
        },
        (None, Some(a)) => Event::Automatic(a),
        (None, None) => Event::Mail {
            body: mail.body.to_string(),
            authenticated: mail.trust(),
            sender: mail.from.clone(),
        },
    }
}

/// What a relay said of a mail it refused for good.
#[derive(Clone, Debug)]
pub struct Refusal<'a> {
    pub recipient: &'a str,
    /// The template of the refused mail, when it was a letter.
    pub template: Option<Template>,
    /// The reply's status: the enhanced code ("5.1.1") when there was one.
    pub status: Option<String>,
    /// The relay's whole answer, for the record.
    pub why: &'a str,
}

/// A relay refused for good (5xx) a mail of a ticket to `recipient`: like
/// a bounce, the address stops being mailed, the refusal is recorded on
/// the ticket and the agents are told. `None` for mail to the agents' own
/// addresses and for the agents' notice of a bounce, so that a failing
/// notification address cannot feed itself (the refusal is only logged).
pub fn relay_refused(
    snapshot: &Snapshot,
    agents: &Agents,
    refusal: Refusal<'_>,
    policy: &Policy,
    now: NaiveDateTime,
    ids: &mut dyn Iterator<Item = String>,
) -> Option<Plan> {
    let Refusal {
        recipient,
        template,
        status,
        why,
    } = refusal;
    if !refusal_matters(recipient, template, policy) {
        return None;
    }
    // Too large for the relay (RFC 3463: 5.3.4, 5.2.3): the mail is the
    // problem, not the address, which goes on being mailed.
    let too_large = matches!(status.as_deref(), Some("5.3.4" | "5.2.3"));
    let event = Event::Bounce {
        recipient: Some(recipient.to_string()),
        status,
        permanent: true,
    };
    let Verdict::Apply(decision) =
        machine::apply(&snapshot.ticket, &event, Actor::System, now, policy)
    else {
        return None;
    };
    let mut draft = Draft::update(snapshot, decision, false);
    if !too_large {
        draft.addresses = vec![AddressChange::Undeliverable {
            address: recipient.to_string(),
            reason: format!("refused by the relay: {why}"),
        }];
    }
    Some(draft.finish(None, desk_said(policy), agents, policy, now, ids))
}

/// Whether a relay's refusal of a mail to `recipient` changes anything:
/// not for the agents' own addresses nor the agents' notice of a bounce.
pub fn refusal_matters(recipient: &str, template: Option<Template>, policy: &Policy) -> bool {
    !(policy.is_agent_notify(recipient) || template == Some(Template::AgentBounce))
}

/// What a letter shows when no mail caused it: the desk wrote.
pub(super) fn desk_said(policy: &Policy) -> Said {
    Said {
        from: Person {
            email: policy.desk_address.clone(),
            name: None,
        },
        body: String::new(),
        attachments: Vec::new(),
        refused: Vec::new(),
        withheld: false,
    }
}

/// A plan being built: the ticket's change and what the machine decided.
pub(super) struct Draft {
    outcome: PlanOutcome,
    before: Option<Ticket>,
    decision: Decision,
    thread: Thread,
    solution: Option<String>,
    follows: Option<TicketRef>,
    merged: bool,
    kept: Vec<usize>,
    addresses: Vec<AddressChange>,
    /// The ticket's participants so far, and those the mail adds.
    participants: Vec<String>,
    new_participants: Vec<String>,
    /// Watchers added from the requester's copy list.
    cc_watchers: Vec<String>,
    known_files: Vec<String>,
    joins: Option<Join>,
    related: Option<Related>,
    /// What classified a new ticket, for its thread.
    classified: Vec<String>,
    /// The requester an agent opened the ticket for.
    behalf: Option<Behalf>,
}

impl Draft {
    /// A decision on an existing ticket; `merged`: a new mail added to
    /// the open ticket with its subject, acknowledged as such.
    pub(super) fn update(snapshot: &Snapshot, decision: Decision, merged: bool) -> Draft {
        let outcome = match &decision.record {
            Some(r) => PlanOutcome::Added(r.kind),
            None => PlanOutcome::CommandRefused,
        };
        Draft {
            outcome,
            before: Some(snapshot.ticket.clone()),
            decision,
            thread: snapshot.thread.clone(),
            solution: snapshot.solution.clone(),
            follows: None,
            merged,
            kept: Vec::new(),
            addresses: Vec::new(),
            participants: snapshot.participants.clone(),
            new_participants: Vec::new(),
            cc_watchers: Vec::new(),
            known_files: snapshot.files.clone(),
            joins: None,
            related: None,
            classified: Vec::new(),
            behalf: None,
        }
    }

    /// A new ticket from the mail; `follows` is the closed ticket it was
    /// written on, whose subject it keeps (ours carries decorations,
    /// "Demande clôturée : …").
    fn open(
        mail: &Mail<'_>,
        closed_subject: Option<String>,
        follows: Option<TicketRef>,
        policy: &Policy,
        now: NaiveDateTime,
    ) -> Draft {
        let subject = match (follows, closed_subject) {
            (Some(_), Some(s)) => s,
            _ if mail.subject.is_empty() => policy.language.no_subject().to_string(),
            _ => mail.subject.to_string(),
        };
        Draft::opened(
            mail,
            (mail.from.clone(), subject, mail.body),
            follows,
            policy,
            now,
        )
    }

    /// A new ticket of `requester`, with this subject and first message,
    /// classified as the mail says.
    fn opened(
        mail: &Mail<'_>,
        (requester, subject, body): (Person, String, &str),
        follows: Option<TicketRef>,
        policy: &Policy,
        now: NaiveDateTime,
    ) -> Draft {
        let mut decision = machine::open(TicketRef(0), requester, subject, body, policy, now);
        let classified = classify::apply(
            &mut decision.ticket,
            mail.classified,
            (mail.copied, mail.mailbox_queue),
            policy,
        );
        Draft {
            outcome: PlanOutcome::Opened,
            before: None,
            decision,
            thread: Thread::default(),
            solution: None,
            follows,
            merged: false,
            kept: Vec::new(),
            addresses: Vec::new(),
            participants: Vec::new(),
            new_participants: Vec::new(),
            cc_watchers: Vec::new(),
            known_files: Vec::new(),
            joins: None,
            related: None,
            classified,
            behalf: None,
        }
    }

    /// A new ticket an agent opens for a requester: acknowledged to the
    /// requester, told to the queue; the agent's words above a forwarded
    /// mail kept as a note.
    fn open_for(mail: &Mail<'_>, behalf: Behalf, policy: &Policy, now: NaiveDateTime) -> Draft {
        let subject = match &behalf.subject {
            Some(s) => s.clone(),
            None if mail.subject.is_empty() => policy.language.no_subject().to_string(),
            None => mail.subject.to_string(),
        };
        let opening = (behalf.requester.clone(), subject, behalf.body.as_str());
        let mut draft = Draft::opened(mail, opening, None, policy, now);
        let decision = &mut draft.decision;
        decision.ticket.channel = behalf.channel;
        decision.ticket.opened_by = Some(mail.from.email.clone());
        decision.ticket.requester_phone = behalf.phone.clone();
        decision.notices[0].situation = Situation::OnBehalf;
        draft.behalf = Some(behalf);
        draft
    }

    /// The people the requester's mail was also sent to become the
    /// ticket's participants (and its watchers, when the desk says so).
    /// Only from a mail that may act as the requester, recorded on her
    /// ticket: a forged one would let anybody in.
    fn copied(&mut self, mail: &Mail<'_>, context: &Context<'_>, policy: &Policy) {
        let ticket = &self.decision.ticket;
        let recorded = self.decision.record.is_some();
        if !recorded
            || mail.automatic.is_some()
            || mail.untrusted()
            || ticket.requester.email != mail.from.email
        {
            return;
        }
        let added = new_participants(mail, ticket, &self.participants, context.agents, policy);
        // Watchers receive the ticket's mail: only a mail proven to be
        // hers makes them, never one that merely names her (no check
        // configured).
        if policy.cc_become_watchers && mail.trust() == Some(Ok(())) && !added.is_empty() {
            self.decision.ticket.watchers.extend(added.iter().cloned());
            self.decision.ticket.watchers.sort();
            self.cc_watchers = added.clone();
        }
        self.new_participants = added;
    }

    /// The last guard before an agent's mail leaves the desk: when what the
    /// requester or the watchers would read of it (the reply, the
    /// solution, the closing words) repeats an internal note of the ticket
    /// (quote stripping missed a client's quoting, the agent pasted it),
    /// none of it is sent and nothing changes: it is recorded as a note,
    /// and the agent is told why.
    fn withhold_notes(&mut self, notes: &[String], mail: &Mail<'_>) {
        let Some(before) = &self.before else {
            return;
        };
        let outside = self.decision.notices.iter().any(|n| {
            n.to.iter()
                .any(|a| matches!(a, Audience::Requester | Audience::Watchers))
        });
        let text = match &self.decision.record {
            Some(r) if r.kind == MessageKind::System => return,
            Some(r) => r.body.as_str(),
            None => mail.body,
        };
        let Some(note) = quoted_note(text, notes).filter(|_| outside) else {
            return;
        };
        let opening: String = note
            .split_whitespace()
            .take(12)
            .collect::<Vec<_>>()
            .join(" ");
        self.outcome = PlanOutcome::Added(MessageKind::Note);
        self.decision = Decision {
            ticket: before.clone(),
            record: Some(Record {
                kind: MessageKind::Note,
                body: mail.body.to_string(),
                with_attachments: true,
            }),
            notices: vec![
                Notice::new(Template::ReplyWithheld, &[Audience::Sender]).error(CommandError {
                    command: opening,
                    reason: "it repeats an internal note".into(),
                }),
            ],
        };
    }

    /// The plan: records, then each notice addressed, with the threading
    /// headers of what each recipient saw (the mail itself included).
    pub(super) fn finish(
        self,
        mail: Option<&Mail<'_>>,
        said: Said,
        agents: &Agents,
        policy: &Policy,
        now: NaiveDateTime,
        ids: &mut dyn Iterator<Item = String>,
    ) -> Plan {
        let Draft {
            outcome,
            before,
            decision,
            mut thread,
            solution,
            follows,
            merged,
            kept,
            addresses,
            participants: _,
            new_participants,
            cc_watchers,
            known_files,
            joins,
            related,
            classified,
            behalf,
        } = self;
        let mut decision = decision;
        let mut outcome = outcome;
        let by_agent = mail.is_some_and(|m| agents.is_agent(&m.from.email));
        if let (Some(before), Some(m), true) = (&before, mail, by_agent) {
            if let Some(refused) = refuse_assignment(before, &decision, m, agents) {
                decision = refused;
                outcome = PlanOutcome::CommandRefused;
            }
            let kind = decision.record.as_ref().map(|r| r.kind);
            let t = &mut decision.ticket;
            if t.sla.first_answered_at.is_none() && sla::answers(kind, t) {
                t.sla.first_answered_at = Some(now);
            }
            // An agent's first answer on a ticket nobody has takes it (no
            // line in the thread: the answer there says who).
            let answered = matches!(kind, Some(MessageKind::AgentReply | MessageKind::Solution));
            if policy.assign_on_first_reply
                && answered
                && before.assignee.is_none()
                && t.assignee.is_none()
                && t.status != Status::Closed
            {
                t.assignee = Some(m.from.clone());
            }
        }
        // The requester's phone, from the first of their mails that gives
        // one (never from a mail that could not be trusted).
        if let Some(m) = mail.filter(|m| !m.untrusted() && decision.record.is_some()) {
            let t = &mut decision.ticket;
            if t.requester_phone.is_none() && m.from.email == t.requester.email {
                t.requester_phone = m.phone.map(str::to_string);
            }
        }
        // The assignee's name as the desk knows the agent.
        if let Some(a) = &mut decision.ticket.assignee {
            if let Some(Some(name)) = agents.name_of(&a.email) {
                a.name = Some(name.to_string());
            }
        }
        sla::refresh(&mut decision.ticket, policy.sla.as_ref(), &policy.calendar);
        let ticket = &decision.ticket;
        let mut entries = Vec::new();
        if let Some(r) = &decision.record {
            entries.push(Entry {
                for_whom: behalf.as_ref().map(|b| b.requester.clone()),
                kind: r.kind,
                body: r.body.clone(),
                author: if mail.is_some() {
                    Author::Sender
                } else {
                    Author::Desk
                },
                with_attachments: r.with_attachments,
            });
            if let Some((m, id)) = mail.and_then(|m| Some((m, m.message_id?))) {
                thread.received.push(Seen {
                    at: now,
                    who: m.from.email.clone(),
                    message_id: id.to_string(),
                });
            }
        }
        if let (Some(b), Some(m)) = (&behalf, mail) {
            entries.push(Entry {
                for_whom: None,
                kind: MessageKind::System,
                body: format!(
                    "opened by {} for {} ({})",
                    m.from.email,
                    b.requester.email,
                    match b.channel {
                        Channel::Phone => "a request taken by phone",
                        Channel::Mail => "a mail forwarded by the agent",
                    }
                ),
                author: Author::Desk,
                with_attachments: false,
            });
            if let Some(note) = &b.note {
                entries.push(Entry {
                    for_whom: None,
                    kind: MessageKind::Note,
                    body: note.clone(),
                    author: Author::Sender,
                    with_attachments: false,
                });
            }
        }
        if !classified.is_empty() {
            entries.push(Entry {
                for_whom: None,
                kind: MessageKind::System,
                body: classified.join("\n"),
                author: Author::Desk,
                with_attachments: false,
            });
        }
        if !cc_watchers.is_empty() {
            entries.push(Entry {
                for_whom: None,
                kind: MessageKind::System,
                body: format!(
                    "watchers added, in copy of the requester's mail: {}",
                    cc_watchers.join(", ")
                ),
                author: Author::Desk,
                with_attachments: false,
            });
        }
        if let (Some(r), None) = (&related, &before) {
            entries.push(Entry {
                for_whom: None,
                kind: MessageKind::System,
                body: format!(
                    "opened apart: the mail carried the reference of {}, but its sender is not one of that ticket's people",
                    r.number.display(&policy.subject_tag)
                ),
                author: Author::Desk,
                with_attachments: false,
            });
        }
        if let (Some(old), None) = (follows, &before) {
            entries.push(Entry {
                for_whom: None,
                kind: MessageKind::System,
                body: format!(
                    "follows {}, which was closed",
                    old.display(&policy.subject_tag)
                ),
                author: Author::Desk,
                with_attachments: false,
            });
        }
        // What the letters show: the recorded text (a solution without its
        // command line), never an internal system line.
        let body = match &decision.record {
            Some(r) if r.kind == MessageKind::System => String::new(),
            Some(r) => r.body.clone(),
            None => mail.map(|m| m.body.to_string()).unwrap_or_default(),
        };
        let said = Arc::new(Said { body, ..said });
        // What an untrusted mail said goes to the agents only: repeated to
        // its From, it would be the desk relaying a stranger's text (a
        // phishing link, a file name) under its own name.
        let withheld = mail.filter(|m| m.untrusted()).map(|_| {
            Arc::new(Said {
                body: String::new(),
                attachments: Vec::new(),
                withheld: true,
                ..(*said).clone()
            })
        });
        // The articles that may answer a new request: its acknowledgement
        // suggests them, the agents' notice names them. Not for a mail
        // that could not be trusted (its text is not repeated either).
        let articles: Vec<Arc<Article>> = if before.is_none() && withheld.is_none() {
            policy
                .kb
                .suggest(&ticket.subject, &said.body)
                .into_iter()
                .map(|s| s.article)
                .collect()
        } else {
            Vec::new()
        };
        if !articles.is_empty() {
            let ids: Vec<&str> = articles.iter().map(|a| a.id.as_str()).collect();
            entries.push(Entry {
                for_whom: None,
                kind: MessageKind::System,
                body: format!("articles suggested: {}", ids.join(", ")),
                author: Author::Desk,
                with_attachments: false,
            });
        }
        let outside = |notice: &Notice| notice.to.iter().any(|a| *a != Audience::Agents);
        let solution = match &decision.record {
            Some(r) if r.kind == MessageKind::Solution => Some(r.body.clone()),
            _ => solution,
        };
        let reminds = decision
            .notices
            .iter()
            .any(|n| n.template == Template::Reminder);
        let solution = solution.filter(|_| ticket.status == Status::Solved || reminds);
        let mut notices = decision.notices.clone();
        if merged {
            notices.insert(
                0,
                Notice::new(Template::Acknowledgement, &[Audience::Requester])
                    .situation(Situation::Merged),
            );
        }
        let sender = mail.map(|m| m.from.email.as_str());
        let replying_to = mail.and_then(|m| m.message_id);
        let signature = mail.and_then(|m| {
            letters::signature(&m.from.email, m.from.name.as_deref(), agents, policy)
        });
        // Who has the mail already: the agent answered them directly.
        let received = mail.map(|m| m.copied).unwrap_or_default();
        let mut write = |notice: &Notice, said: &Arc<Said>, thread: &Thread| {
            let received = match notice.template {
                Template::AgentReply => received,
                _ => &[],
            };
            let to = letters::recipients(ticket, notice, sender, received, policy);
            Letter {
                template: notice.template,
                situation: notice.situation,
                error: notice.error.clone(),
                said: Arc::clone(said),
                solution: solution.clone(),
                follows,
                related: related.clone(),
                articles: match (notice.template, notice.situation) {
                    (Template::Acknowledgement | Template::AgentNewTicket, situation)
                        if situation != Situation::Merged =>
                    {
                        articles.clone()
                    }
                    _ => Vec::new(),
                },
                signature: signature
                    .clone()
                    .filter(|_| notice.template.is_agent_words()),
                attached: if notice.template.carries_files() {
                    // What goes outside the desk: none of the files the
                    // ticket has already (quoted back, a note's).
                    let outside = outside(notice);
                    within(&said.attachments, policy.forward_attachments_up_to)
                        .into_iter()
                        .filter(|&i| {
                            !(outside && known_files.contains(&said.attachments[i].sha256))
                        })
                        .collect()
                } else {
                    Vec::new()
                },
                to: letters::address(to, thread, ticket, replying_to, agents, policy, ids),
            }
        };
        // The letters of one change were decided together: each names the
        // thread as it was, not the others.
        let shown = |notice: &Notice| match &withheld {
            Some(w) if outside(notice) => w,
            _ => &said,
        };
        let mut letters: Vec<Letter> = notices
            .iter()
            .map(|n| write(n, shown(n), &thread))
            .collect();
        if !said.refused.is_empty() {
            entries.push(Entry {
                for_whom: None,
                kind: MessageKind::System,
                body: refused_lines(&said.refused),
                author: Author::Desk,
                with_attachments: false,
            });
            if let Some(m) = mail.filter(|m| m.automatic.is_none()) {
                // Told after the rest: it names the mails sent before it.
                for a in letters.iter().flat_map(|l| &l.to) {
                    thread.sent.push(Seen {
                        at: now,
                        who: a.to.clone(),
                        message_id: a.message_id.clone(),
                    });
                }
                let notice = Notice::new(Template::AttachmentRefused, &[Audience::Sender]);
                let told = match &withheld {
                    Some(w) => Arc::clone(w),
                    None => Arc::new(Said {
                        body: m.body.to_string(),
                        ..(*said).clone()
                    }),
                };
                letters.push(write(&notice, &told, &thread));
            }
        }
        let ticket = match before {
            Some(before) => TicketChange::Update {
                before,
                after: decision.ticket,
            },
            None => TicketChange::Open(decision.ticket),
        };
        Plan {
            outcome,
            ticket,
            entries,
            kept,
            addresses,
            participants: new_participants,
            letters,
            joins,
        }
    }
}

/// An agent's `#assign` to an address that is not an agent's: refused,
/// nothing changed, the agent told why (a ticket assigned to a stranger
/// would send them the requester's mail).
fn refuse_assignment(
    before: &Ticket,
    decision: &Decision,
    mail: &Mail<'_>,
    agents: &Agents,
) -> Option<Decision> {
    let after = decision.ticket.assignee.as_ref()?;
    if before.assignee.as_ref().map(|a| &a.email) == Some(&after.email)
        || agents.is_agent(&after.email)
    {
        return None;
    }
    let line = super::command::parse(mail.body)
        .map(|p| p.line)
        .unwrap_or_default();
    Some(Decision {
        ticket: before.clone(),
        record: None,
        notices: vec![
            Notice::new(Template::CommandError, &[Audience::Sender]).error(CommandError {
                command: line,
                reason: "assign_not_agent".into(),
            }),
        ],
    })
}

/// The files that travel with a mail: in their order, each while the
/// whole stays within `limit` as written in the mail (base64: 78 bytes of
/// lines for every 57 of file), a large one left out and smaller ones
/// after it still sent.
fn within(files: &[Attachment], limit: u64) -> Vec<usize> {
    let mut total = 0u64;
    let mut out = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let encoded = f.size.div_ceil(57).saturating_mul(78);
        if total.saturating_add(encoded) <= limit {
            total += encoded;
            out.push(i);
        }
    }
    out
}

/// The system line recording which attachments were not kept.
fn refused_lines(refused: &[Refused]) -> String {
    refused
        .iter()
        .map(|r| {
            let why = if r.whole_mail {
                "the whole mail is over"
            } else {
                "over"
            };
            format!(
                "attachment not kept: {} ({}): {why} {}",
                r.filename,
                size_text(r.size),
                size_text(r.limit)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
#[path = "decide_tests.rs"]
pub(crate) mod tests;
