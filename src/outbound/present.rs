//! What templates are told: the desk, the ticket, the letter, in the words
//! and formats of the requester's language (dates, sizes, statuses). The
//! names are listed in `templates/README.md`.

use chrono::{NaiveDateTime, TimeZone, Utc};
use serde_json::json;

use crate::config::Settings;
use crate::ticket::calendar::Calendar;
use crate::ticket::digest::{Digest, Reader};
use crate::ticket::plan::{Letter, Said};
use crate::ticket::policy::{Policy, ReplyToClosed};
use crate::ticket::text::{fold, size_in};
use crate::ticket::{machine, Language, Status, Ticket};

/// The desk as its mail presents it, built once from the settings.
#[derive(Clone, Debug)]
pub struct Presentation {
    pub desk_name: String,
    pub desk_address: String,
    /// The keywords as the configuration writes them.
    pub validate_keywords: Vec<String>,
    pub refuse_keywords: Vec<String>,
    /// Where dates in mail are given: `[tickets] timezone`, or the
    /// system's zone.
    pub timezone: Option<chrono_tz::Tz>,
    /// `[hours] urgent`: who to call when the desk is closed.
    pub urgent: Option<String>,
}

impl Presentation {
    pub fn new(settings: &Settings) -> Presentation {
        let from = &settings.smtp.from;
        Presentation {
            desk_name: from.name.clone().unwrap_or_else(|| from.email.to_string()),
            desk_address: from.email.to_string(),
            validate_keywords: settings.tickets.validate_keywords.clone(),
            refuse_keywords: settings.tickets.refuse_keywords.clone(),
            timezone: settings.tickets.timezone,
            urgent: settings.hours.urgent.clone(),
        }
    }

    fn desk(&self) -> serde_json::Value {
        json!({ "name": self.desk_name, "address": self.desk_address })
    }

    /// What a letter's template is told.
    /// `role`: who the mail goes to, `requester`, `watcher`, `agent` or
    /// `other`.
    pub fn letter_context(
        &self,
        ticket: &Ticket,
        letter: &Letter,
        policy: &Policy,
        role: &str,
    ) -> serde_json::Value {
        let lang = ticket.language;
        // The ticket's queue may have a tag of its own.
        let tag = policy.tag_of(ticket.queue.as_deref());
        json!({
            "desk": self.desk(),
            "ticket": {
                "number": ticket.number.0,
                "reference": ticket.number.display(tag),
                "subject": ticket.subject,
                "status": ticket.status.as_str(),
                "status_text": status_text(ticket.status, lang),
                "requester": {
                    "email": ticket.requester.email,
                    "name": ticket.requester.name,
                    "phone": ticket.requester_phone,
                },
                "organisation": ticket.organisation,
                "type": ticket.ticket_type.as_str(),
                "impact": ticket.impact.map(|i| i.as_str()),
                "category": ticket.category,
                "watchers": ticket.watchers,
                "auto_close_date": machine::deadline(ticket, policy)
                    .map(|d| long_date(d, lang, self.timezone)),
                "solved_date": ticket.solved_at.map(|d| long_date(d, lang, self.timezone)),
                "queue": ticket.queue,
                "channel": ticket.channel.as_str(),
                "assignee": ticket.assignee.as_ref()
                    .map(|a| json!({ "email": a.email, "name": a.name })),
                "first_answer_due": ticket.sla.first_answer_due.map(crate::clock::rfc3339),
                "resolution_due": ticket.sla.resolution_due.map(crate::clock::rfc3339),
                "first_answer_due_text": ticket.sla.first_answer_due
                    .map(|d| long_time(d, lang, self.timezone)),
                "resolution_due_text": ticket.sla.resolution_due
                    .map(|d| long_time(d, lang, self.timezone)),
            },
            "hours": self.hours(ticket, policy),
            "message": said_context(&letter.said, &letter.attached, lang),
            "solution": letter.solution.as_ref().map(|body| json!({ "body": body })),
            "articles": letter.articles.iter().map(|a| json!({
                "id": a.id,
                "title": a.title,
                "text": a.body,
                "link": a.link,
            })).collect::<Vec<_>>(),
            "keywords": {
                "validate": shown_keyword(&self.validate_keywords, lang),
                "refuse": shown_keyword(&self.refuse_keywords, lang),
            },
            "recipient": { "role": role },
            "situation": letter.situation.as_str(),
            "follows": letter.follows.map(|f| f.display(tag)),
            "related": letter.related.as_ref().map(|r| json!({
                "number": r.number.0,
                "reference": r.number.display(tag),
                "subject": r.subject,
            })),
            "error": letter.error.as_ref().map(|e| json!({ "command": e.command, "reason": e.reason })),
            "agent": letter.signature.as_ref().map(|name| json!({ "name": name })),
            "reply_to_closed": match policy.reply_to_closed {
                ReplyToClosed::NewTicket => "new_ticket",
                ReplyToClosed::Reopen => "reopen",
            },
        })
    }

    /// When the desk looks at a ticket opened at its creation: open then,
    /// or when it opens next ("lundi 7 décembre à partir de 8h30"), and
    /// who to call meanwhile. `null` without `[hours]`.
    fn hours(&self, ticket: &Ticket, policy: &Policy) -> serde_json::Value {
        let Calendar::Hours(hours) = &policy.calendar else {
            return serde_json::Value::Null;
        };
        let at = ticket.created_at;
        let open = policy.calendar.is_open(at);
        let next = (!open)
            .then(|| policy.calendar.next_opening(at))
            .flatten()
            .map(|next| opening_text(hours.local(at), hours.local(next), ticket.language));
        json!({
            "open": open,
            "next_opening": next,
            "urgent": self.urgent.as_ref().filter(|_| !open),
        })
    }

    /// What the `alert` template is told: the desk, and what is wrong.
    pub fn alert_context(&self, what: &str, detail: &str, minutes: u64) -> serde_json::Value {
        json!({
            "desk": self.desk(),
            "alert": { "what": what, "detail": detail, "minutes": minutes },
        })
    }
}

/// A digest lists at most this many tickets per section, then says how
/// many more there are.
const DIGEST_LISTED: usize = 50;

impl Presentation {
    /// What the `digest` template is told: the desk, the date, and each
    /// non-empty section's tickets, with what a reply link needs.
    pub fn digest_context(
        &self,
        digest: &Digest,
        reader: &Reader,
        agent_name: Option<&str>,
        policy: &Policy,
        now: NaiveDateTime,
        lang: Language,
    ) -> serde_json::Value {
        let zone = self.timezone;
        let item = |t: &Ticket| {
            let reference = t.number.display(policy.tag_of(t.queue.as_deref()));
            json!({
                "reference": reference,
                "subject": t.subject,
                "reply_subject": format!("RE: {reference} {}", t.subject),
                "requester": t.requester.name.clone().unwrap_or_else(|| t.requester.email.clone()),
                "organisation": t.organisation,
                "opened": long_date(t.created_at, lang, zone),
                "assignee": t.assignee.as_ref()
                    .map(|a| a.name.clone().unwrap_or_else(|| a.email.clone())),
            })
        };
        let with = |mut v: serde_json::Value, extra: serde_json::Value| {
            if let (Some(v), serde_json::Value::Object(extra)) = (v.as_object_mut(), extra) {
                v.extend(extra);
            }
            v
        };
        let mut assigned: Vec<&Ticket> = digest.assigned.iter().collect();
        if *reader == Reader::Desk {
            // By agent, each agent's oldest first.
            assigned.sort_by_key(|t| t.assignee.as_ref().map(|a| a.email.clone()));
        }
        let sections = [
            (
                "at_risk",
                digest
                    .at_risk
                    .iter()
                    .map(|r| {
                        with(
                            item(&r.ticket),
                            json!({
                                "target": r.target,
                                "due": long_time(r.due, lang, zone),
                                "missed": r.due <= now,
                            }),
                        )
                    })
                    .collect::<Vec<_>>(),
            ),
            ("unassigned", digest.unassigned.iter().map(item).collect()),
            ("assigned", assigned.into_iter().map(item).collect()),
            ("waiting", digest.waiting.iter().map(item).collect()),
            (
                "closing",
                digest
                    .closing
                    .iter()
                    .map(|(t, at)| with(item(t), json!({ "closes": long_time(*at, lang, zone) })))
                    .collect(),
            ),
        ];
        json!({
            "desk": {
                "name": self.desk_name,
                "address": self.desk_address,
                "tag": policy.subject_tag,
            },
            "digest": {
                "reader": match reader { Reader::Desk => "desk", Reader::Agent(_) => "agent" },
                "agent_name": agent_name,
                "date": long_date(now, lang, zone),
                "empty": digest.is_empty(),
                "at_risk": digest.at_risk.len(),
                "sections": sections
                    .into_iter()
                    .filter(|(_, tickets)| !tickets.is_empty())
                    .map(|(name, mut tickets)| {
                        // A mail to read, not the whole backlog.
                        let count = tickets.len();
                        tickets.truncate(DIGEST_LISTED);
                        json!({
                            "name": name,
                            "count": count,
                            "tickets": tickets,
                            "more": count - tickets.len(),
                        })
                    })
                    .collect::<Vec<_>>(),
            },
        })
    }
}

/// The keyword shown to requesters for `language`, from the list.
pub fn shown_keyword(list: &[String], language: Language) -> String {
    let preferred: &[&str] = match language {
        Language::Fr => &["valider", "refuser"],
        Language::En => &["accept", "refuse"],
    };
    list.iter()
        .find(|k| preferred.contains(&fold(k).as_str()))
        .or_else(|| list.first())
        .map(|k| k.to_uppercase())
        .unwrap_or_default()
}

/// What the mail that caused a letter said; `attached`: which of its
/// files the letter carries (the others are marked as left out, when the
/// letter is one that carries files).
fn said_context(said: &Said, attached: &[usize], lang: Language) -> serde_json::Value {
    json!({
        "from": { "email": said.from.email, "name": said.from.name },
        "body": said.body,
        "withheld": said.withheld,
        "attachments": said.attachments.iter().enumerate().map(|(i, a)| json!({
            "filename": a.filename,
            "content_type": a.content_type,
            "size": a.size,
            "size_text": size_in(a.size, lang),
            "attached": attached.contains(&i),
        })).collect::<Vec<_>>(),
        "refused": said.refused.iter().map(|r| json!({
            "filename": r.filename,
            "size_text": size_in(r.size, lang),
            "whole_mail": r.whole_mail,
            "limit_text": size_in(r.limit, lang),
        })).collect::<Vec<_>>(),
    })
}

fn status_text(status: Status, language: Language) -> &'static str {
    match (language, status) {
        (Language::Fr, Status::New) => "nouveau",
        (Language::Fr, Status::InProgress) => "en cours",
        (Language::Fr, Status::Waiting) => "en attente de votre réponse",
        (Language::Fr, Status::Solved) => "résolu",
        (Language::Fr, Status::Closed) => "clos",
        (Language::En, Status::New) => "new",
        (Language::En, Status::InProgress) => "in progress",
        (Language::En, Status::Waiting) => "waiting for your answer",
        (Language::En, Status::Solved) => "solved",
        (Language::En, Status::Closed) => "closed",
    }
}

const FR_DAYS: [&str; 7] = [
    "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
];
const FR_MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];
const EN_DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const EN_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// "lundi 30 novembre 2026" / "Monday 30 November 2026" for `t` (UTC), as
/// a calendar in `zone` shows it (the system's zone when `None`): a
/// solution sent at 00:30 in Paris is dated in Paris, whatever zone the
/// server is left in.
pub fn long_date(t: NaiveDateTime, language: Language, zone: Option<chrono_tz::Tz>) -> String {
    use chrono::Datelike;
    let local = local(t, zone).date();
    let weekday = local.weekday().num_days_from_monday() as usize;
    let month = local.month0() as usize;
    match language {
        Language::Fr => {
            let day = if local.day() == 1 {
                "1er".to_string()
            } else {
                local.day().to_string()
            };
            format!(
                "{} {} {} {}",
                FR_DAYS[weekday],
                day,
                FR_MONTHS[month],
                local.year()
            )
        }
        Language::En => {
            format!(
                "{} {} {} {}",
                EN_DAYS[weekday],
                local.day(),
                EN_MONTHS[month],
                local.year()
            )
        }
    }
}

/// "lundi 7 décembre 2026 à 9h30" / "Monday 7 December 2026 at 9:30 am"
/// for `t` (UTC), in `zone`.
pub fn long_time(t: NaiveDateTime, language: Language, zone: Option<chrono_tz::Tz>) -> String {
    let local = local(t, zone);
    match language {
        Language::Fr => format!(
            "{} à {}",
            long_date(t, language, zone),
            clock_time(local, language)
        ),
        Language::En => format!(
            "{} at {}",
            long_date(t, language, zone),
            clock_time(local, language)
        ),
    }
}

fn local(t: NaiveDateTime, zone: Option<chrono_tz::Tz>) -> NaiveDateTime {
    let utc = Utc.from_utc_datetime(&t);
    match zone {
        Some(zone) => utc.with_timezone(&zone).naive_local(),
        None => utc.with_timezone(&chrono::Local).naive_local(),
    }
}

/// "8h30", "14h" / "8:30 am", "2 pm".
fn clock_time(t: NaiveDateTime, language: Language) -> String {
    use chrono::Timelike;
    let (h, m) = (t.hour(), t.minute());
    match language {
        Language::Fr if m == 0 => format!("{h}h"),
        Language::Fr => format!("{h}h{m:02}"),
        Language::En => {
            let half = if h < 12 { "am" } else { "pm" };
            let h12 = match h % 12 {
                0 => 12,
                h => h,
            };
            if m == 0 {
                format!("{h12} {half}")
            } else {
                format!("{h12}:{m:02} {half}")
            }
        }
    }
}

/// When a closed desk opens, seen from `now` (both local): "demain à
/// partir de 8h30", "lundi 7 décembre à partir de 8h30" / "tomorrow from
/// 8:30 am", "on Monday 7 December from 8:30 am".
pub fn opening_text(now: NaiveDateTime, next: NaiveDateTime, language: Language) -> String {
    use chrono::Datelike;
    let days = (next.date() - now.date()).num_days();
    let time = clock_time(next, language);
    let weekday = next.weekday().num_days_from_monday() as usize;
    let month = next.month0() as usize;
    match language {
        Language::Fr => {
            let day = match days {
                0 => "aujourd'hui".to_string(),
                1 => "demain".to_string(),
                _ => {
                    let d = if next.day() == 1 {
                        "1er".to_string()
                    } else {
                        next.day().to_string()
                    };
                    format!("{} {d} {}", FR_DAYS[weekday], FR_MONTHS[month])
                }
            };
            format!("{day} à partir de {time}")
        }
        Language::En => {
            let day = match days {
                0 => "today".to_string(),
                1 => "tomorrow".to_string(),
                _ => format!(
                    "on {} {} {}",
                    EN_DAYS[weekday],
                    next.day(),
                    EN_MONTHS[month]
                ),
            };
            format!("{day} from {time}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_the_desks_calendar_days() {
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        let paris = Some(chrono_tz::Europe::Paris);
        // 23:30 UTC on 30 November is 00:30 on 1 December in Paris.
        assert_eq!(
            long_date(at("2026-11-30 23:30"), Language::Fr, paris),
            "mardi 1er décembre 2026"
        );
        assert_eq!(
            long_date(at("2026-11-30 23:30"), Language::En, Some(chrono_tz::UTC)),
            "Monday 30 November 2026"
        );
        // Summer time: 22:30 UTC on 30 June is 00:30 on 1 July in Paris.
        assert_eq!(
            long_date(at("2026-06-30 22:30"), Language::En, paris),
            "Wednesday 1 July 2026"
        );
        assert_eq!(
            long_date(at("2026-06-30 21:30"), Language::Fr, paris),
            "mardi 30 juin 2026"
        );
    }
}
