//! `tickets`, `messages`, `attachments`, `blobs`, `watchers`,
//! `participants`, `counters`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{attachments, blobs, messages, participants, tickets, watchers};
use super::{insert_id, native, AnyConnection, StoreError, StoreResult};
use crate::config::Language;
use crate::ticket::sla::{Deadlines, Stage};
use crate::ticket::{
    Channel, CloseReason, Impact, MessageKind, Person, Status, Ticket, TicketRef, TicketType,
};

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = tickets)]
struct TicketRow {
    id: i64,
    number: i64,
    subject: String,
    status: String,
    close_reason: Option<String>,
    ticket_type: String,
    impact: Option<String>,
    category: Option<String>,
    organisation: Option<String>,
    requester_email: String,
    requester_name: Option<String>,
    language: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    solved_at: Option<NaiveDateTime>,
    closed_at: Option<NaiveDateTime>,
    reminded_at: Option<NaiveDateTime>,
    first_answer_due: Option<NaiveDateTime>,
    resolution_due: Option<NaiveDateTime>,
    first_answered_at: Option<NaiveDateTime>,
    first_answer_told: Option<String>,
    resolution_told: Option<String>,
    queue: Option<String>,
    assignee_email: Option<String>,
    assignee_name: Option<String>,
    requester_phone: Option<String>,
    channel: String,
    opened_by: Option<String>,
    reopened: i32,
}

fn stage(text: Option<&str>) -> StoreResult<Option<Stage>> {
    match text {
        Some(s) => Ok(Some(Stage::parse(s).ok_or_else(|| bad("SLA stage", s))?)),
        None => Ok(None),
    }
}

fn bad(what: &str, value: &str) -> StoreError {
    StoreError::Invalid(format!("unexpected {what} {value:?} in the database"))
}

impl TicketRow {
    fn into_domain(self, watchers: Vec<String>) -> StoreResult<(i64, Ticket)> {
        let ticket = Ticket {
            number: TicketRef(self.number),
            status: Status::parse(&self.status).ok_or_else(|| bad("status", &self.status))?,
            close_reason: match self.close_reason.as_deref() {
                Some(r) => Some(CloseReason::parse(r).ok_or_else(|| bad("close reason", r))?),
                None => None,
            },
            ticket_type: TicketType::parse(&self.ticket_type)
                .ok_or_else(|| bad("type", &self.ticket_type))?,
            impact: match self.impact.as_deref() {
                Some(i) => Some(Impact::parse(i).ok_or_else(|| bad("impact", i))?),
                None => None,
            },
            category: self.category,
            organisation: self.organisation,
            requester: Person {
                email: self.requester_email,
                name: self.requester_name,
            },
            language: Language::parse(&self.language).unwrap_or(Language::Fr),
            subject: self.subject,
            watchers,
            created_at: self.created_at,
            updated_at: self.updated_at,
            solved_at: self.solved_at,
            closed_at: self.closed_at,
            reminded_at: self.reminded_at,
            sla: Deadlines {
                first_answer_due: self.first_answer_due,
                resolution_due: self.resolution_due,
                first_answered_at: self.first_answered_at,
                first_answer_told: stage(self.first_answer_told.as_deref())?,
                resolution_told: stage(self.resolution_told.as_deref())?,
            },
            queue: self.queue,
            requester_phone: self.requester_phone,
            channel: Channel::parse(&self.channel).ok_or_else(|| bad("channel", &self.channel))?,
            opened_by: self.opened_by,
            reopened: u32::try_from(self.reopened).unwrap_or(0),
            assignee: self.assignee_email.map(|email| Person {
                email,
                name: self.assignee_name,
            }),
        };
        Ok((self.id, ticket))
    }
}

/// The name of the counter of ticket numbers.
const TICKET_NUMBER: &str = "ticket_number";

/// The values of a new ticket's row, its number given as an expression
/// (a bound value, or what the statement reads from the counter).
macro_rules! ticket_row {
    ($t:expr, $number:expr) => {{
        let t: &Ticket = $t;
        (
            tickets::number.eq($number),
            tickets::subject.eq(&t.subject),
            tickets::status.eq(t.status.as_str()),
            tickets::close_reason.eq(t.close_reason.map(CloseReason::as_str)),
            tickets::ticket_type.eq(t.ticket_type.as_str()),
            tickets::impact.eq(t.impact.map(Impact::as_str)),
            tickets::category.eq(&t.category),
            tickets::organisation.eq(&t.organisation),
            tickets::requester_email.eq(&t.requester.email),
            tickets::requester_name.eq(&t.requester.name),
            tickets::language.eq(t.language.as_str()),
            tickets::created_at.eq(t.created_at),
            tickets::updated_at.eq(t.updated_at),
            tickets::solved_at.eq(t.solved_at),
            tickets::closed_at.eq(t.closed_at),
            tickets::reminded_at.eq(t.reminded_at),
            tickets::first_answer_due.eq(t.sla.first_answer_due),
            tickets::resolution_due.eq(t.sla.resolution_due),
            tickets::first_answered_at.eq(t.sla.first_answered_at),
            tickets::first_answer_told.eq(t.sla.first_answer_told.map(Stage::as_str)),
            tickets::resolution_told.eq(t.sla.resolution_told.map(Stage::as_str)),
            tickets::queue.eq(&t.queue),
            tickets::assignee_email.eq(t.assignee.as_ref().map(|a| &a.email)),
            tickets::assignee_name.eq(t.assignee.as_ref().and_then(|a| a.name.as_ref())),
            tickets::requester_phone.eq(&t.requester_phone),
            tickets::channel.eq(t.channel.as_str()),
            tickets::opened_by.eq(&t.opened_by),
            tickets::reopened.eq(i32::try_from(t.reopened).unwrap_or(i32::MAX)),
        )
    }};
}

/// Opens a ticket: its row inserted under the next number, which is set in
/// `t`; returns the row's id. The counter row is updated in the caller's
/// transaction, so PostgreSQL serialises concurrent daemons on it, and a
/// number is never skipped nor given twice.
///
/// On PostgreSQL one statement, one round trip: the counter's UPDATE in a
/// CTE that the INSERT reads its number from. SQLite, which has no round
/// trip to save, runs the two.
pub fn open(conn: &mut AnyConnection, t: &mut Ticket) -> StoreResult<i64> {
    match conn {
        AnyConnection::Postgresql(c) => {
            let from_counter =
                diesel::dsl::sql::<diesel::sql_types::BigInt>("(SELECT value FROM n)");
            let insert = diesel::insert_into(tickets::table)
                .values(ticket_row!(t, from_counter))
                .returning((tickets::id, tickets::number));
            let (id, number): (i64, i64) = Numbered { insert }.get_result(c)?;
            t.number = TicketRef(number);
            Ok(id)
        }
        AnyConnection::Sqlite(c) => {
            let number: i64 = Bump {
                name: TICKET_NUMBER,
            }
            .get_result(c)?;
            t.number = TicketRef(number);
            diesel::insert_into(tickets::table)
                .values(ticket_row!(t, number))
                .execute(c)?;
            Ok(crate::store::last_insert_rowid(c)?)
        }
    }
}

/// PostgreSQL's statement of [`open`]: the ticket's INSERT preceded by
/// the CTE `n` that bumps the counter. Its text is the same at every run
/// (only [`open`] builds one), so it is declared static and safe to keep,
/// to be prepared once per connection; diesel would otherwise prepare it
/// anew at each run, for the SQL literal it holds.
struct Numbered<Q> {
    insert: Q,
}

impl<Q> diesel::query_builder::QueryFragment<diesel::pg::Pg> for Numbered<Q>
where
    Q: diesel::query_builder::QueryFragment<diesel::pg::Pg>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        out.push_sql("WITH n AS (UPDATE counters SET value = value + 1 WHERE name = ");
        out.push_bind_param::<diesel::sql_types::Text, str>(TICKET_NUMBER)?;
        out.push_sql(" RETURNING value) ");
        self.insert.walk_ast(out.reborrow())
    }

    /// The SQL literal it holds makes diesel take it for a text that may
    /// change; this one does not.
    fn is_safe_to_cache_prepared(&self, _: &diesel::pg::Pg) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q> diesel::query_builder::QueryId for Numbered<Q> {
    type QueryId = Numbered<()>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<Q: diesel::query_builder::Query> diesel::query_builder::Query for Numbered<Q> {
    type SqlType = Q::SqlType;
}

impl<Q> RunQueryDsl<diesel::PgConnection> for Numbered<Q> {}

/// `UPDATE counters SET value = value + 1 WHERE name RETURNING value`,
/// written out so that it is compiled once per connection and kept:
/// diesel compiles each UPDATE of its query builder anew at every run, and
/// this one runs for every new ticket (on SQLite; see [`open`]).
struct Bump<'a> {
    name: &'a str,
}

impl<DB> diesel::query_builder::QueryFragment<DB> for Bump<'_>
where
    DB: diesel::backend::Backend,
    str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        out.push_sql("UPDATE counters SET value = value + 1 WHERE name = ");
        out.push_bind_param::<diesel::sql_types::Text, str>(self.name)?;
        out.push_sql(" RETURNING value");
        Ok(())
    }
}

impl diesel::query_builder::QueryId for Bump<'_> {
    type QueryId = Bump<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl diesel::query_builder::Query for Bump<'_> {
    type SqlType = diesel::sql_types::BigInt;
}

impl<C> RunQueryDsl<C> for Bump<'_> {}

/// Writes back the fields the state machine may change.
pub fn update(conn: &mut AnyConnection, id: i64, t: &Ticket) -> StoreResult<()> {
    native!(conn, |c| diesel::update(tickets::table.find(id))
        .set((
            tickets::subject.eq(&t.subject),
            tickets::status.eq(t.status.as_str()),
            tickets::close_reason.eq(t.close_reason.map(CloseReason::as_str)),
            tickets::ticket_type.eq(t.ticket_type.as_str()),
            tickets::impact.eq(t.impact.map(Impact::as_str)),
            tickets::category.eq(&t.category),
            tickets::organisation.eq(&t.organisation),
            tickets::updated_at.eq(t.updated_at),
            tickets::solved_at.eq(t.solved_at),
            tickets::closed_at.eq(t.closed_at),
            tickets::reminded_at.eq(t.reminded_at),
            tickets::first_answer_due.eq(t.sla.first_answer_due),
            tickets::resolution_due.eq(t.sla.resolution_due),
            tickets::first_answered_at.eq(t.sla.first_answered_at),
            tickets::first_answer_told.eq(t.sla.first_answer_told.map(Stage::as_str)),
            tickets::resolution_told.eq(t.sla.resolution_told.map(Stage::as_str)),
            tickets::queue.eq(&t.queue),
            tickets::assignee_email.eq(t.assignee.as_ref().map(|a| &a.email)),
            tickets::assignee_name.eq(t.assignee.as_ref().and_then(|a| a.name.as_ref())),
            tickets::requester_phone.eq(&t.requester_phone),
            tickets::reopened.eq(i32::try_from(t.reopened).unwrap_or(i32::MAX)),
        ))
        .execute(c))?;
    Ok(())
}

fn watchers_of(conn: &mut AnyConnection, id: i64) -> StoreResult<Vec<String>> {
    Ok(native!(conn, |c| watchers::table
        .filter(watchers::ticket_id.eq(id))
        .order(watchers::email.asc())
        .select(watchers::email)
        .load(c))?)
}

pub fn get_by_id(conn: &mut AnyConnection, id: i64) -> StoreResult<(i64, Ticket)> {
    let row: TicketRow = native!(conn, |c| tickets::table
        .find(id)
        .select(TicketRow::as_select())
        .first(c))?;
    let w = watchers_of(conn, id)?;
    row.into_domain(w)
}

pub fn find_by_number(
    conn: &mut AnyConnection,
    number: TicketRef,
) -> StoreResult<Option<(i64, Ticket)>> {
    let row: Option<TicketRow> = native!(conn, |c| tickets::table
        .filter(tickets::number.eq(number.0))
        .select(TicketRow::as_select())
        .first(c)
        .optional())?;
    match row {
        Some(row) => {
            let w = watchers_of(conn, row.id)?;
            row.into_domain(w).map(Some)
        }
        None => Ok(None),
    }
}

/// Which tickets `tickets list` shows.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub status: Option<Status>,
    /// Every status but closed.
    pub open: bool,
    pub organisation: Option<String>,
    /// A queue's name; "" for the desk's own queue.
    pub queue: Option<String>,
    pub assignee: Option<String>,
    pub limit: Option<i64>,
}

/// Tickets newest first, as the filter says.
pub fn list(conn: &mut AnyConnection, filter: &ListFilter) -> StoreResult<Vec<Ticket>> {
    let mut query = tickets::table
        .select(TicketRow::as_select())
        .order(tickets::number.desc())
        .into_boxed();
    if let Some(s) = filter.status {
        query = query.filter(tickets::status.eq(s.as_str()));
    }
    if filter.open {
        query = query.filter(tickets::status.ne(Status::Closed.as_str()));
    }
    if let Some(o) = &filter.organisation {
        query = query.filter(tickets::organisation.eq(o));
    }
    match filter.queue.as_deref() {
        Some("") => query = query.filter(tickets::queue.is_null()),
        Some(q) => query = query.filter(tickets::queue.eq(q.to_string())),
        None => {}
    }
    match filter.assignee.as_deref() {
        Some("-") => query = query.filter(tickets::assignee_email.is_null()),
        Some(a) => query = query.filter(tickets::assignee_email.eq(a.to_lowercase())),
        None => {}
    }
    if let Some(n) = filter.limit {
        query = query.limit(n);
    }
    let rows: Vec<TicketRow> = query.load(conn)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let w = watchers_of(conn, row.id)?;
        out.push(row.into_domain(w)?.1);
    }
    Ok(out)
}

pub fn add_watcher(
    conn: &mut AnyConnection,
    ticket_id: i64,
    email: &str,
    now: NaiveDateTime,
) -> StoreResult<bool> {
    let email = email.to_lowercase();
    let exists: i64 = native!(conn, |c| watchers::table
        .filter(watchers::ticket_id.eq(ticket_id))
        .filter(watchers::email.eq(&email))
        .count()
        .get_result(c))?;
    if exists > 0 {
        return Ok(false);
    }
    native!(conn, |c| diesel::insert_into(watchers::table)
        .values((
            watchers::ticket_id.eq(ticket_id),
            watchers::email.eq(&email),
            watchers::added_at.eq(now),
        ))
        .execute(c))?;
    Ok(true)
}

/// Moves a ticket's thread to another (`#merge`): its messages (their
/// attachments with them), the raw mails it was made of, and the mail
/// sent for it (so that answers to it thread there).
pub fn move_thread(conn: &mut AnyConnection, from: i64, to: i64) -> StoreResult<()> {
    use super::schema::{outbox, raw_mails};
    native!(conn, |c| diesel::update(
        messages::table.filter(messages::ticket_id.eq(from))
    )
    .set(messages::ticket_id.eq(to))
    .execute(c))?;
    native!(conn, |c| diesel::update(
        raw_mails::table.filter(raw_mails::ticket_id.eq(Some(from)))
    )
    .set(raw_mails::ticket_id.eq(Some(to)))
    .execute(c))?;
    native!(conn, |c| diesel::update(
        outbox::table.filter(outbox::ticket_id.eq(Some(from)))
    )
    .set(outbox::ticket_id.eq(Some(to)))
    .execute(c))?;
    Ok(())
}

/// The people the requester's mails on a ticket were also sent to.
pub fn participants_of(conn: &mut AnyConnection, ticket_id: i64) -> StoreResult<Vec<String>> {
    Ok(native!(conn, |c| participants::table
        .filter(participants::ticket_id.eq(ticket_id))
        .order(participants::added_at.asc())
        .then_order_by(participants::email.asc())
        .select(participants::email)
        .load(c))?)
}

/// Records participants of a ticket; those known already are left alone.
pub fn add_participants(
    conn: &mut AnyConnection,
    ticket_id: i64,
    emails: &[String],
    now: NaiveDateTime,
) -> StoreResult<()> {
    let known = participants_of(conn, ticket_id)?;
    let rows: Vec<_> = emails
        .iter()
        .filter(|e| !known.contains(e))
        .map(|e| {
            (
                participants::ticket_id.eq(ticket_id),
                participants::email.eq(e.as_str()),
                participants::added_at.eq(now),
            )
        })
        .collect();
    if !rows.is_empty() {
        native!(conn, |c| diesel::insert_into(participants::table)
            .values(&rows)
            .execute(c))?;
    }
    Ok(())
}

pub fn remove_watcher(conn: &mut AnyConnection, ticket_id: i64, email: &str) -> StoreResult<bool> {
    Ok(diesel::delete(
        watchers::table
            .filter(watchers::ticket_id.eq(ticket_id))
            .filter(watchers::email.eq(email.to_lowercase())),
    )
    .execute(conn)?
        > 0)
}

/// One message of a thread, to record.
pub struct NewMessage<'a> {
    pub ticket_id: i64,
    pub raw_mail_id: Option<i64>,
    pub kind: MessageKind,
    pub from: &'a Person,
    pub at: NaiveDateTime,
    pub body: &'a str,
    pub message_id: Option<&'a str>,
}

pub struct NewAttachment<'a> {
    pub filename: &'a str,
    pub content_type: &'a str,
    pub content: &'a [u8],
    pub sha256: &'a str,
}

pub fn insert_message(
    conn: &mut AnyConnection,
    m: &NewMessage<'_>,
    files: &[NewAttachment<'_>],
) -> StoreResult<i64> {
    let id = insert_id!(
        conn,
        diesel::insert_into(messages::table).values((
            messages::ticket_id.eq(m.ticket_id),
            messages::raw_mail_id.eq(m.raw_mail_id),
            messages::kind.eq(m.kind.as_str()),
            messages::from_email.eq(&m.from.email),
            messages::from_name.eq(&m.from.name),
            messages::at.eq(m.at),
            messages::body.eq(m.body),
            messages::message_id.eq(m.message_id),
        )),
        messages::id
    )?;
    for (position, f) in files.iter().enumerate() {
        store_file(conn, f.sha256, f.content)?;
        native!(conn, |c| diesel::insert_into(attachments::table)
            .values((
                attachments::message_id.eq(id),
                attachments::position.eq(position as i32),
                attachments::filename.eq(f.filename),
                attachments::content_type.eq(f.content_type),
                attachments::size.eq(f.content.len() as i64),
                attachments::sha256.eq(f.sha256),
            ))
            .execute(c))?;
    }
    Ok(id)
}

/// Stores a file's contents under its SHA-256, once: a file already known
/// (a signature's logo) is left as it is, in the same statement (one
/// round trip, not two).
pub fn store_file(conn: &mut AnyConnection, sha256: &str, content: &[u8]) -> StoreResult<()> {
    native!(conn, |c| diesel::insert_into(blobs::table)
        .values((
            blobs::sha256.eq(sha256),
            blobs::size.eq(content.len() as i64),
            blobs::content.eq(content),
        ))
        .on_conflict(blobs::sha256)
        .do_nothing()
        .execute(c))?;
    Ok(())
}

/// The ticket a Message-ID belongs to, among the mails of its thread.
pub fn ticket_of_message_ids(conn: &mut AnyConnection, ids: &[String]) -> StoreResult<Option<i64>> {
    if ids.is_empty() {
        return Ok(None);
    }
    Ok(native!(conn, |c| messages::table
        .filter(messages::message_id.eq_any(ids))
        .order(messages::id.desc())
        .select(messages::ticket_id)
        .first(c)
        .optional())?)
}

/// The Message-IDs of a ticket's thread, oldest first, for References.
/// The mails received on a ticket that carry a Message-ID, oldest first:
/// (when, sender, Message-ID).
pub fn thread_received(
    conn: &mut AnyConnection,
    ticket_id: i64,
) -> StoreResult<Vec<(NaiveDateTime, String, String)>> {
    let rows: Vec<(NaiveDateTime, String, Option<String>)> = native!(conn, |c| messages::table
        .filter(messages::ticket_id.eq(ticket_id))
        .filter(messages::message_id.is_not_null())
        .order(messages::id.asc())
        .select((messages::at, messages::from_email, messages::message_id))
        .load(c))?;
    Ok(rows
        .into_iter()
        .filter_map(|(at, from, id)| Some((at, from, id?)))
        .collect())
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct AttachmentView {
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct MessageView {
    pub kind: String,
    #[serde(serialize_with = "person")]
    pub from: Person,
    pub at: String,
    pub body: String,
    pub message_id: Option<String>,
    pub attachments: Vec<AttachmentView>,
}

/// A person as the contract's JSON writes one: `{"email", "name"}`.
fn person<S: serde::Serializer>(p: &Person, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct;
    let mut out = s.serialize_struct("Person", 2)?;
    out.serialize_field("email", &p.email)?;
    out.serialize_field("name", &p.name)?;
    out.end()
}

/// The SHA-256 of every file on a ticket's thread.
pub fn file_hashes(conn: &mut AnyConnection, ticket_id: i64) -> StoreResult<Vec<String>> {
    Ok(native!(conn, |c| attachments::table
        .inner_join(messages::table)
        .filter(messages::ticket_id.eq(ticket_id))
        .select(attachments::sha256)
        .distinct()
        .load(c))?)
}

/// A file of a ticket's thread, with the message that brought it.
#[derive(Debug, Clone)]
pub struct StoredFile {
    /// When its message was recorded, and its kind.
    pub at: NaiveDateTime,
    pub kind: String,
    pub content_type: String,
    pub content: Vec<u8>,
}

/// The files of a ticket named `filename`, newest first; only the newest
/// one with its contents.
pub fn files_named(
    conn: &mut AnyConnection,
    ticket_id: i64,
    filename: &str,
) -> StoreResult<Vec<StoredFile>> {
    let rows: Vec<(NaiveDateTime, String, String, String)> = native!(conn, |c| attachments::table
        .inner_join(messages::table)
        .filter(messages::ticket_id.eq(ticket_id))
        .filter(attachments::filename.eq(filename))
        .order((messages::id.desc(), attachments::position.asc()))
        .select((
            messages::at,
            messages::kind,
            attachments::content_type,
            attachments::sha256,
        ))
        .load(c))?;
    let mut out = Vec::with_capacity(rows.len());
    for (i, (at, kind, content_type, sha256)) in rows.into_iter().enumerate() {
        // The newest one's contents only: the others are named.
        let content: Vec<u8> = if i == 0 {
            native!(conn, |c| blobs::table
                .find(&sha256)
                .select(blobs::content)
                .first(c))?
        } else {
            Vec::new()
        };
        out.push(StoredFile {
            at,
            kind,
            content_type,
            content,
        });
    }
    Ok(out)
}

/// The whole thread of a ticket, oldest first.
pub fn thread(conn: &mut AnyConnection, ticket_id: i64) -> StoreResult<Vec<MessageView>> {
    type Row = (
        i64,
        String,
        String,
        Option<String>,
        NaiveDateTime,
        String,
        Option<String>,
    );
    let rows: Vec<Row> = messages::table
        .filter(messages::ticket_id.eq(ticket_id))
        .order(messages::id.asc())
        .select((
            messages::id,
            messages::kind,
            messages::from_email,
            messages::from_name,
            messages::at,
            messages::body,
            messages::message_id,
        ))
        .load(conn)?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, kind, email, name, at, body, message_id) in rows {
        let files: Vec<(String, String, i64, String)> = attachments::table
            .filter(attachments::message_id.eq(id))
            .order(attachments::position.asc())
            .select((
                attachments::filename,
                attachments::content_type,
                attachments::size,
                attachments::sha256,
            ))
            .load(conn)?;
        out.push(MessageView {
            kind,
            from: Person { email, name },
            at: crate::clock::rfc3339(at),
            body,
            message_id,
            attachments: files
                .into_iter()
                .map(|(filename, content_type, size, sha256)| AttachmentView {
                    filename,
                    content_type,
                    size,
                    sha256,
                })
                .collect(),
        });
    }
    Ok(out)
}

/// The statuses whose service-level targets still run.
const UNRESOLVED: [&str; 3] = ["new", "in_progress", "waiting"];

/// The tickets with a service-level target still running and not yet
/// told missed: what the scheduler's SLA pass looks at.
pub fn sla_running(conn: &mut AnyConnection) -> StoreResult<Vec<i64>> {
    Ok(native!(conn, |c| tickets::table
        .filter(tickets::status.eq_any(UNRESOLVED))
        .filter(
            tickets::first_answer_due
                .is_not_null()
                .and(tickets::first_answered_at.is_null())
                .and(
                    tickets::first_answer_told
                        .is_null()
                        .or(tickets::first_answer_told.ne("missed"))
                )
                .or(tickets::resolution_due.is_not_null().and(
                    tickets::resolution_told
                        .is_null()
                        .or(tickets::resolution_told.ne("missed"))
                ))
        )
        .order(tickets::id.asc())
        .select(tickets::id)
        .load(c))?)
}

/// How many unresolved tickets are past their first-answer target without
/// an answer, and past their resolution target, as of `now`.
pub fn sla_breaches(conn: &mut AnyConnection, now: NaiveDateTime) -> StoreResult<(i64, i64)> {
    let first: i64 = native!(conn, |c| tickets::table
        .filter(tickets::status.eq_any(UNRESOLVED))
        .filter(tickets::first_answered_at.is_null())
        .filter(tickets::first_answer_due.le(now))
        .count()
        .get_result(c))?;
    let resolution: i64 = native!(conn, |c| tickets::table
        .filter(tickets::status.eq_any(UNRESOLVED))
        .filter(tickets::resolution_due.le(now))
        .count()
        .get_result(c))?;
    Ok((first, resolution))
}

/// Ids of the tickets of one status, oldest first.
pub fn ids_with_status(conn: &mut AnyConnection, status: Status) -> StoreResult<Vec<i64>> {
    Ok(tickets::table
        .filter(tickets::status.eq(status.as_str()))
        .order(tickets::id.asc())
        .select(tickets::id)
        .load(conn)?)
}

/// The body of the latest message of `kind` in a thread.
pub fn latest_of_kind(
    conn: &mut AnyConnection,
    ticket_id: i64,
    kind: MessageKind,
) -> StoreResult<Option<String>> {
    Ok(native!(conn, |c| messages::table
        .filter(messages::ticket_id.eq(ticket_id))
        .filter(messages::kind.eq(kind.as_str()))
        .order(messages::id.desc())
        .select(messages::body)
        .first(c)
        .optional())?)
}

/// The bodies of a ticket's messages of one kind, oldest first.
pub fn bodies_of_kind(
    conn: &mut AnyConnection,
    ticket_id: i64,
    kind: MessageKind,
) -> StoreResult<Vec<String>> {
    Ok(native!(conn, |c| messages::table
        .filter(messages::ticket_id.eq(ticket_id))
        .filter(messages::kind.eq(kind.as_str()))
        .order(messages::id.asc())
        .select(messages::body)
        .load(c))?)
}

/// The newest open ticket of `requester` with this subject (compared
/// without case) created since `since`.
pub fn open_with_subject(
    conn: &mut AnyConnection,
    requester: &str,
    subject: &str,
    since: NaiveDateTime,
) -> StoreResult<Option<(i64, Ticket)>> {
    let candidates: Vec<(i64, String)> = native!(conn, |c| tickets::table
        .filter(tickets::requester_email.eq(requester))
        .filter(tickets::status.ne(Status::Closed.as_str()))
        .filter(tickets::created_at.ge(since))
        .order(tickets::id.desc())
        .select((tickets::id, tickets::subject))
        .load(c))?;
    with_subject_among(conn, &candidates, subject)
}

/// The first of `candidates` (ticket ids and subjects, newest first, as
/// [`open_with_subject`] reads them) with this subject, compared without
/// case.
pub fn with_subject_among(
    conn: &mut AnyConnection,
    candidates: &[(i64, String)],
    subject: &str,
) -> StoreResult<Option<(i64, Ticket)>> {
    let wanted = subject.to_lowercase();
    match candidates.iter().find(|(_, s)| s.to_lowercase() == wanted) {
        Some(&(id, _)) => get_by_id(conn, id).map(Some),
        None => Ok(None),
    }
}
