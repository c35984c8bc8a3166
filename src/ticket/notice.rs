//! The mails a change causes, as the rules name them: which template,
//! to whom (an audience, not addresses yet), and why.

use super::command::CommandError;

/// Who a notice goes to; [`super::letters::recipients`] turns these into
/// addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    Requester,
    Watchers,
    /// The desk's notification addresses (never the author of the mail).
    Agents,
    /// The author of the mail that caused the notice.
    Sender,
    /// The agent the ticket is assigned to (never the author of the mail).
    Assignee,
}

string_enum!(
    /// Which mail to send; each is a template in `templates/{fr,en}/`,
    /// named by [`Template::as_str`].
    Template {
        Acknowledgement => "acknowledgement",
        AgentNewTicket => "agent_new_ticket",
        AgentFollowUp => "agent_followup",
        AgentReply => "agent_reply",
        AgentNote => "agent_note",
        Solution => "solution",
        ValidationConfirmation => "validation_confirmation",
        ValidatedNotice => "validated_notice",
        RefusalAcknowledged => "refusal_acknowledged",
        AgentRefusal => "agent_refusal",
        Reminder => "reminder",
        AutoClosure => "auto_closure",
        AgentClosure => "agent_closure",
        CommandError => "command_error",
        SecurityRefused => "security_refused",
        AgentBounce => "agent_bounce",
        AttachmentRefused => "attachment_refused",
        AnswerUndecided => "answer_undecided",
        ReplyWithheld => "reply_withheld",
        CommandDone => "command_done",
        SlaAlert => "sla_alert",
    }
);

impl Template {
    /// The answers to someone's mail (RFC 3834 `auto-replied`), which the
    /// loop guard counts; the rest is `auto-generated`.
    pub const AUTO_REPLIED: [Template; 9] = [
        Template::Acknowledgement,
        Template::ValidationConfirmation,
        Template::RefusalAcknowledged,
        Template::CommandError,
        Template::SecurityRefused,
        Template::AttachmentRefused,
        Template::AnswerUndecided,
        Template::ReplyWithheld,
        Template::CommandDone,
    ];

    /// RFC 3834 section 5: direct answers to a person's mail are
    /// "auto-replied", everything else we send is "auto-generated".
    pub fn auto_submitted(self) -> &'static str {
        if self.is_auto_reply() {
            "auto-replied"
        } else {
            "auto-generated"
        }
    }

    /// Whether this mail answers someone's mail (and so counts for the
    /// loop guard).
    pub fn is_auto_reply(self) -> bool {
        Template::AUTO_REPLIED.contains(&self)
    }

    /// Whether what this mail says was written by an agent (and may be
    /// signed with the agent's name).
    pub fn is_agent_words(self) -> bool {
        matches!(
            self,
            Template::AgentReply | Template::Solution | Template::AgentClosure
        )
    }
}

impl Template {
    /// Whether the agents' copy goes to the ticket's assignee alone when
    /// it has one: what the requester and the watchers say (follow-ups,
    /// refusal, validation), a bounce, a service-level alert. A new
    /// ticket, a note and the copies of an agent's words go to the queue.
    pub fn goes_to_assignee(self) -> bool {
        matches!(
            self,
            Template::AgentFollowUp
                | Template::AgentRefusal
                | Template::ValidatedNotice
                | Template::AgentBounce
                | Template::SlaAlert
        )
    }

    /// Whether this mail carries the files of the mail that caused it:
    /// the agents' notices carry the requester's (a screenshot they have
    /// no other way to see), what the agents write to the requester
    /// carries theirs (the procedure in PDF), a note carries its own to
    /// the agents only.
    pub fn carries_files(self) -> bool {
        matches!(
            self,
            Template::AgentNewTicket
                | Template::AgentFollowUp
                | Template::AgentRefusal
                | Template::AgentNote
                | Template::AgentReply
                | Template::Solution
                | Template::AgentClosure
        )
    }
}

/// Why the agents are told of a requester's or watcher's mail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Situation {
    FollowUp,
    /// On a solved ticket, without validating or refusing.
    Undecided,
    /// On a closed ticket, which was reopened.
    Reopened,
    /// A command or keyword whose mail could not be authenticated.
    Unauthenticated,
    /// A new mail with the subject of an open ticket of the same
    /// requester, added to it instead of opening another.
    Merged,
    /// On a closed ticket, which stays closed.
    Closed,
    /// From someone the requester put in copy, who is not a watcher.
    Participant,
    /// A service-level target about to be missed (`[sla] warn_before`),
    /// or missed.
    FirstAnswerSoon,
    FirstAnswerMissed,
    ResolutionSoon,
    ResolutionMissed,
    /// A ticket moved to another queue (`#queue`), told to that queue.
    Moved,
    /// A ticket assigned to an agent by another (`#assign`), told to them.
    Assigned,
    /// A ticket an agent opened for the requester (by phone, or
    /// forwarding their mail), acknowledged to the requester.
    OnBehalf,
}

impl Situation {
    pub fn as_str(self) -> &'static str {
        match self {
            Situation::FollowUp => "followup",
            Situation::Undecided => "undecided",
            Situation::Reopened => "reopened",
            Situation::Unauthenticated => "unauthenticated",
            Situation::Merged => "merged",
            Situation::Closed => "closed",
            Situation::Participant => "participant",
            Situation::FirstAnswerSoon => "first_answer_soon",
            Situation::FirstAnswerMissed => "first_answer_missed",
            Situation::ResolutionSoon => "resolution_soon",
            Situation::ResolutionMissed => "resolution_missed",
            Situation::Moved => "moved",
            Situation::Assigned => "assigned",
            Situation::OnBehalf => "on_behalf",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub template: Template,
    pub to: Vec<Audience>,
    pub situation: Situation,
    pub error: Option<CommandError>,
}

impl Notice {
    pub fn new(template: Template, to: &[Audience]) -> Notice {
        Notice {
            template,
            to: to.to_vec(),
            situation: Situation::FollowUp,
            error: None,
        }
    }

    pub fn situation(mut self, s: Situation) -> Notice {
        self.situation = s;
        self
    }

    pub fn error(mut self, e: CommandError) -> Notice {
        self.error = Some(e);
        self
    }
}
