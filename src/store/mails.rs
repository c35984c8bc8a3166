//! `raw_mails`: every mail as received, stored before it is processed.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{raw_mail_bodies, raw_mails};
use super::{native, AnyConnection, StoreResult};

/// What became of a raw mail.
pub mod state {
    /// Stored, not processed yet (or processing was interrupted).
    pub const RECEIVED: &str = "received";
    pub const PROCESSED: &str = "processed";
    /// The same mail was processed before (same Message-ID or same bytes).
    pub const DUPLICATE: &str = "duplicate";
    /// Automatic mail that matched no ticket: kept, not answered.
    pub const IGNORED: &str = "ignored";
    /// Could not be read; kept for `guichet failed retry`.
    pub const FAILED: &str = "failed";
}

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = raw_mails)]
pub struct RawMail {
    pub id: i64,
    pub source: String,
    pub uidvalidity: Option<i64>,
    pub uid: Option<i64>,
    pub message_id: Option<String>,
    pub sha256: String,
    /// In `raw_mail_bodies`, apart from the row whose state changes.
    #[diesel(select_expression = raw_mail_bodies::raw)]
    pub raw: Vec<u8>,
    pub received_at: NaiveDateTime,
    pub state: String,
    pub error: Option<String>,
    pub ticket_id: Option<i64>,
}

// None is written as NULL, not as the column's default: the statement
// then has one text whatever the values, and is compiled once.
#[derive(Insertable)]
#[diesel(table_name = raw_mails, treat_none_as_default_value = false)]
pub struct NewRawMail<'a> {
    pub source: &'a str,
    pub uidvalidity: Option<i64>,
    pub uid: Option<i64>,
    pub message_id: Option<&'a str>,
    pub sha256: &'a str,
    /// Written to `raw_mail_bodies`.
    #[diesel(skip_insertion)]
    pub raw: &'a [u8],
    pub received_at: NaiveDateTime,
    pub state: &'a str,
    /// What the mail says, when it was read before being stored (see
    /// [`find_processed_twin`]).
    pub fingerprint: Option<&'a str>,
    /// Its sender's address, when it was read before being stored.
    #[diesel(skip_insertion)]
    pub sender: Option<&'a str>,
    /// With a sender: the sender's open tickets created since then are
    /// looked up too (see [`Inserted::open_tickets`]).
    #[diesel(skip_insertion)]
    pub open_since: Option<NaiveDateTime>,
}

/// The raw mail already stored under this (source, UIDVALIDITY, UID).
pub fn find_by_key(
    conn: &mut AnyConnection,
    source: &str,
    uidvalidity: i64,
    uid: i64,
) -> StoreResult<Option<(i64, String)>> {
    // The key is unique: no LIMIT, whose bound value would make SQLite
    // compile the statement again at each use.
    Ok(native!(conn, |c| raw_mails::table
        .filter(raw_mails::source.eq(source))
        .filter(raw_mails::uidvalidity.eq(uidvalidity))
        .filter(raw_mails::uid.eq(uid))
        .select((raw_mails::id, raw_mails::state))
        .load(c))?
    .pop())
}

/// A mail just stored, and what the statement that stored it looked up
/// too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inserted {
    pub id: i64,
    /// [`find_processed_twin`]'s answer, when looked up with the INSERT.
    pub twin: Option<Option<i64>>,
    /// Whether the sender ([`NewRawMail::sender`]) is marked undeliverable,
    /// when looked up with the INSERT.
    pub sender_undeliverable: Option<bool>,
    /// The sender's tickets not closed and created since
    /// [`NewRawMail::open_since`], newest first, with their subjects (what
    /// [`tickets::open_with_subject`] reads), when looked up with the
    /// INSERT.
    ///
    /// [`tickets::open_with_subject`]: super::tickets::open_with_subject
    pub open_tickets: Option<Vec<(i64, String)>>,
}

/// Stores a mail: its row, and its bytes in `raw_mail_bodies`; `None`
/// when a mail is stored already under the same (source, UIDVALIDITY,
/// UID), then left as it is.
///
/// On PostgreSQL one statement, one round trip. For a mail read before
/// being stored (its sender given, and its fingerprint when it has a
/// Message-ID), the same statement also looks up its processed twin and
/// whether its sender is marked undeliverable, and, given
/// [`NewRawMail::open_since`], the sender's open tickets: three round
/// trips the processing of a new mail would otherwise make. SQLite has no round trip to save: the caller looks
/// them up itself.
pub fn insert(conn: &mut AnyConnection, mail: &NewRawMail<'_>) -> StoreResult<Option<Inserted>> {
    match conn {
        AnyConnection::Postgresql(c) => {
            // A mail read first has a fingerprint when it has a
            // Message-ID; without one, only its bytes are looked up.
            let looked_up =
                mail.sender.is_some() && (mail.fingerprint.is_some() || mail.message_id.is_none());
            let sender = mail.sender.map(str::to_lowercase);
            let open_looked_up = mail.sender.is_some() && mail.open_since.is_some();
            let row: Option<StoreMailRow> = StoreMail {
                mail,
                sender: sender.as_deref(),
            }
            .get_result(c)
            .optional()?;
            Ok(
                row.map(|(id, twin, sender_undeliverable, ids, subjects)| Inserted {
                    id,
                    twin: looked_up.then_some(twin),
                    sender_undeliverable: sender_undeliverable.filter(|_| looked_up),
                    open_tickets: open_looked_up.then(|| ids.into_iter().zip(subjects).collect()),
                }),
            )
        }
        AnyConnection::Sqlite(c) => {
            // Without RETURNING, which SQLite runs as a trigger, with a
            // statement journal (`store::insert_id!`).
            let inserted = diesel::insert_into(raw_mails::table)
                .values(mail)
                .on_conflict((raw_mails::source, raw_mails::uidvalidity, raw_mails::uid))
                .do_nothing()
                .execute(c)?;
            if inserted == 0 {
                return Ok(None);
            }
            let id = crate::store::last_insert_rowid(c)?;
            diesel::insert_into(raw_mail_bodies::table)
                .values((
                    raw_mail_bodies::raw_mail_id.eq(id),
                    raw_mail_bodies::raw.eq(mail.raw),
                ))
                .execute(c)?;
            Ok(Some(Inserted {
                id,
                twin: None,
                sender_undeliverable: None,
                open_tickets: None,
            }))
        }
    }
}

/// PostgreSQL's statement of [`insert`], written out so that it is
/// prepared once per connection and kept (a `sql_query` is parsed and
/// planned anew at each run, which cost more than the round trips it
/// saved). Without a sender, or with a Message-ID but no fingerprint,
/// [`insert`] leaves the answers of its lookups aside.
struct StoreMail<'a> {
    mail: &'a NewRawMail<'a>,
    /// The sender's address, lowercased as `undeliverable` keeps it.
    sender: Option<&'a str>,
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for StoreMail<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{BigInt, Binary, Nullable, Text, Timestamp};
        let m = self.mail;
        // Each value is bound once, in `p`, read by the rest. The
        // statement's own row is not seen by its lookups (they read the
        // snapshot taken before it), as `id != self` does in
        // `find_processed_twin`; LEAST passes over a lookup that found
        // nothing (NULL).
        out.push_sql("WITH p AS (SELECT ");
        out.push_bind_param::<Text, _>(m.source)?;
        out.push_sql(" AS source, ");
        out.push_bind_param::<Nullable<BigInt>, _>(&m.uidvalidity)?;
        out.push_sql(" AS uidvalidity, ");
        out.push_bind_param::<Nullable<BigInt>, _>(&m.uid)?;
        out.push_sql(" AS uid, ");
        out.push_bind_param::<Nullable<Text>, _>(&m.message_id)?;
        out.push_sql(" AS message_id, ");
        out.push_bind_param::<Text, _>(m.sha256)?;
        out.push_sql(" AS sha256, ");
        out.push_bind_param::<Timestamp, _>(&m.received_at)?;
        out.push_sql(" AS received_at, ");
        out.push_bind_param::<Text, _>(m.state)?;
        out.push_sql(" AS state, ");
        out.push_bind_param::<Nullable<Text>, _>(&m.fingerprint)?;
        out.push_sql(" AS fingerprint, ");
        out.push_bind_param::<Binary, _>(m.raw)?;
        out.push_sql(" AS raw, ");
        out.push_bind_param::<Nullable<Text>, _>(&self.sender)?;
        out.push_sql(" AS sender, ");
        out.push_bind_param::<Text, _>(state::PROCESSED)?;
        out.push_sql(" AS processed, ");
        out.push_bind_param::<Text, _>(state::IGNORED)?;
        out.push_sql(" AS ignored, ");
        out.push_bind_param::<Nullable<Timestamp>, _>(&m.open_since)?;
        out.push_sql(" AS open_since, ");
        out.push_bind_param::<Text, _>(crate::ticket::Status::Closed.as_str())?;
        out.push_sql(
            " AS closed), \
             row AS (INSERT INTO raw_mails \
             (source, uidvalidity, uid, message_id, sha256, received_at, state, fingerprint) \
             SELECT source, uidvalidity, uid, message_id, sha256, received_at, state, fingerprint \
             FROM p ON CONFLICT (source, uidvalidity, uid) DO NOTHING RETURNING id), \
             body AS (INSERT INTO raw_mail_bodies (raw_mail_id, raw) \
             SELECT row.id, p.raw FROM row, p RETURNING raw_mail_id), \
             open AS (SELECT id, subject FROM tickets \
                      WHERE requester_email = (SELECT sender FROM p) \
                      AND status <> (SELECT closed FROM p) \
                      AND created_at >= (SELECT open_since FROM p)) \
             SELECT raw_mail_id, \
             LEAST((SELECT min(id) FROM raw_mails \
                    WHERE message_id = (SELECT message_id FROM p) \
                    AND state IN ((SELECT processed FROM p), (SELECT ignored FROM p)) \
                    AND (fingerprint = (SELECT fingerprint FROM p) OR fingerprint IS NULL)), \
                   (SELECT min(id) FROM raw_mails \
                    WHERE sha256 = (SELECT sha256 FROM p) \
                    AND state IN ((SELECT processed FROM p), (SELECT ignored FROM p)))), \
             EXISTS (SELECT 1 FROM undeliverable WHERE email = (SELECT sender FROM p)), \
             ARRAY(SELECT id FROM open ORDER BY id DESC), \
             ARRAY(SELECT subject FROM open ORDER BY id DESC) \
             FROM body",
        );
        Ok(())
    }
}

impl diesel::query_builder::QueryId for StoreMail<'_> {
    type QueryId = StoreMail<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl diesel::query_builder::Query for StoreMail<'_> {
    type SqlType = (
        diesel::sql_types::BigInt,
        diesel::sql_types::Nullable<diesel::sql_types::BigInt>,
        diesel::sql_types::Nullable<diesel::sql_types::Bool>,
        diesel::sql_types::Array<diesel::sql_types::BigInt>,
        diesel::sql_types::Array<diesel::sql_types::Text>,
    );
}

/// What [`StoreMail`] answers: the row's id, the twin, the sender's
/// bounce mark, and the ids and subjects of the sender's open tickets.
type StoreMailRow = (i64, Option<i64>, Option<bool>, Vec<i64>, Vec<String>);

impl RunQueryDsl<diesel::PgConnection> for StoreMail<'_> {}

pub fn get(conn: &mut AnyConnection, id: i64) -> StoreResult<RawMail> {
    Ok(native!(conn, |c| raw_mails::table
        .inner_join(raw_mail_bodies::table)
        .filter(raw_mails::id.eq(id))
        .select(RawMail::as_select())
        .first(c))?)
}

/// Another mail already handled that is this one: the same bytes, or the
/// same Message-ID with the same [`fingerprint`](InboundMessage) (sender,
/// text, attachments; a mail stored before fingerprints counts by its
/// Message-ID alone). One statement, a `UNION ALL` of the two lookups, so
/// that each reads along its own index (with OR, SQLite would read along
/// the state index, all the mails); written without `IN` and without
/// `LIMIT`, so SQLite keeps it compiled between mails. Without a
/// Message-ID the first lookup (`= NULL`) finds nothing.
///
/// [`InboundMessage`]: crate::inbound::InboundMessage
pub fn find_processed_twin(
    conn: &mut AnyConnection,
    id: i64,
    message_id: Option<&str>,
    fingerprint: &str,
    sha256: &str,
) -> StoreResult<Option<i64>> {
    let handled = raw_mails::state
        .eq(state::PROCESSED)
        .or(raw_mails::state.eq(state::IGNORED));
    let by_message_id = raw_mails::table
        .filter(raw_mails::message_id.eq(message_id))
        .filter(raw_mails::id.ne(id))
        .filter(handled)
        .filter(
            raw_mails::fingerprint
                .eq(fingerprint)
                .or(raw_mails::fingerprint.is_null()),
        )
        .select(raw_mails::id);
    let by_bytes = raw_mails::table
        .filter(raw_mails::sha256.eq(sha256))
        .filter(raw_mails::id.ne(id))
        .filter(handled)
        .select(raw_mails::id);
    let twins: Vec<i64> = native!(conn, |c| by_message_id.union_all(by_bytes).load(c))?;
    Ok(twins.into_iter().min())
}

/// Records what a stored mail says (see [`find_processed_twin`]).
pub fn set_fingerprint(conn: &mut AnyConnection, id: i64, fingerprint: &str) -> StoreResult<()> {
    native!(conn, |c| diesel::update(raw_mails::table.find(id))
        .set(raw_mails::fingerprint.eq(fingerprint))
        .execute(c))?;
    Ok(())
}

pub fn set_state(
    conn: &mut AnyConnection,
    id: i64,
    new_state: &str,
    error: Option<&str>,
    ticket_id: Option<i64>,
) -> StoreResult<()> {
    let update = SetState {
        id,
        state: new_state,
        error,
        ticket_id,
    };
    native!(conn, |c| update.execute(c))?;
    Ok(())
}

/// A mail's state as its processing leaves it, written with others by
/// [`set_states`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateChange {
    pub id: i64,
    pub state: &'static str,
    pub error: Option<String>,
    pub ticket_id: Option<i64>,
}

/// Sets the states of several mails (a batch's, at its end). On
/// PostgreSQL one statement, one round trip for the batch instead of one
/// per mail; on SQLite, which has no round trip to save, the compiled
/// UPDATE of [`set_state`] for each.
pub fn set_states(conn: &mut AnyConnection, changes: &[StateChange]) -> StoreResult<()> {
    if changes.is_empty() {
        return Ok(());
    }
    match conn {
        AnyConnection::Postgresql(c) => {
            SetStates {
                ids: changes.iter().map(|s| s.id).collect(),
                states: changes.iter().map(|s| s.state).collect(),
                errors: changes.iter().map(|s| s.error.as_deref()).collect(),
                tickets: changes.iter().map(|s| s.ticket_id).collect(),
            }
            .execute(c)?;
        }
        AnyConnection::Sqlite(c) => {
            for s in changes {
                SetState {
                    id: s.id,
                    state: s.state,
                    error: s.error.as_deref(),
                    ticket_id: s.ticket_id,
                }
                .execute(c)?;
            }
        }
    }
    Ok(())
}

/// PostgreSQL's statement of [`set_states`]: the changes bound as four
/// arrays, one per column, read back as rows by `unnest`; written out so
/// that it is prepared once per connection whatever the batch's size.
struct SetStates<'a> {
    ids: Vec<i64>,
    states: Vec<&'a str>,
    errors: Vec<Option<&'a str>>,
    tickets: Vec<Option<i64>>,
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for SetStates<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Array, BigInt, Nullable, Text};
        out.push_sql(
            "UPDATE raw_mails SET state = v.state, error = v.error, ticket_id = v.ticket_id \
             FROM unnest(",
        );
        out.push_bind_param::<Array<BigInt>, _>(&self.ids)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&self.states)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.errors)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<BigInt>>, _>(&self.tickets)?;
        out.push_sql(") AS v (id, state, error, ticket_id) WHERE raw_mails.id = v.id");
        Ok(())
    }
}

impl diesel::query_builder::QueryId for SetStates<'_> {
    type QueryId = SetStates<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl RunQueryDsl<diesel::PgConnection> for SetStates<'_> {}

/// `UPDATE raw_mails SET state, error, ticket_id WHERE id`, written out so
/// that it is compiled once per connection and kept: diesel compiles each
/// UPDATE of its query builder anew at every run (the text of one may
/// change with its values), and this one runs for every mail.
struct SetState<'a> {
    id: i64,
    state: &'a str,
    error: Option<&'a str>,
    ticket_id: Option<i64>,
}

impl<'a, DB> diesel::query_builder::QueryFragment<DB> for SetState<'a>
where
    DB: diesel::backend::Backend,
    str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
    i64: diesel::serialize::ToSql<diesel::sql_types::BigInt, DB>,
    Option<&'a str>:
        diesel::serialize::ToSql<diesel::sql_types::Nullable<diesel::sql_types::Text>, DB>,
    Option<i64>:
        diesel::serialize::ToSql<diesel::sql_types::Nullable<diesel::sql_types::BigInt>, DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{BigInt, Nullable, Text};
        out.push_sql("UPDATE raw_mails SET state = ");
        out.push_bind_param::<Text, str>(self.state)?;
        out.push_sql(", error = ");
        out.push_bind_param::<Nullable<Text>, _>(&self.error)?;
        out.push_sql(", ticket_id = ");
        out.push_bind_param::<Nullable<BigInt>, _>(&self.ticket_id)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<BigInt, _>(&self.id)?;
        Ok(())
    }
}

impl diesel::query_builder::QueryId for SetState<'_> {
    type QueryId = SetState<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<C> RunQueryDsl<C> for SetState<'_> {}

/// Mails whose processing was interrupted (a crash between storing and
/// processing), oldest first.
pub fn unprocessed(conn: &mut AnyConnection) -> StoreResult<Vec<i64>> {
    Ok(raw_mails::table
        .filter(raw_mails::state.eq(state::RECEIVED))
        .order(raw_mails::id.asc())
        .select(raw_mails::id)
        .load(conn)?)
}

/// A mail that could not be read.
#[derive(Queryable, Debug, Clone)]
pub struct FailedMail {
    pub id: i64,
    pub received_at: NaiveDateTime,
    pub message_id: Option<String>,
    pub error: Option<String>,
}

/// Mails that could not be read, with why.
pub fn failed(conn: &mut AnyConnection) -> StoreResult<Vec<FailedMail>> {
    Ok(raw_mails::table
        .filter(raw_mails::state.eq(state::FAILED))
        .order(raw_mails::id.asc())
        .select((
            raw_mails::id,
            raw_mails::received_at,
            raw_mails::message_id,
            raw_mails::error,
        ))
        .load(conn)?)
}

/// Puts a failed mail back to be processed; false if it is not failed.
/// How many mails could not be read: received since `since`, and in all.
pub fn failed_counts(conn: &mut AnyConnection, since: NaiveDateTime) -> StoreResult<(i64, i64)> {
    let failed = raw_mails::table.filter(raw_mails::state.eq(state::FAILED));
    let total = failed.count().get_result(conn)?;
    let recent = failed
        .filter(raw_mails::received_at.ge(since))
        .count()
        .get_result(conn)?;
    Ok((recent, total))
}

pub fn reset_failed(conn: &mut AnyConnection, id: i64) -> StoreResult<bool> {
    Ok(diesel::update(
        raw_mails::table
            .find(id)
            .filter(raw_mails::state.eq(state::FAILED)),
    )
    .set((
        raw_mails::state.eq(state::RECEIVED),
        raw_mails::error.eq(None::<String>),
    ))
    .execute(conn)?
        > 0)
}
