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

/// Stores a mail: its row, and its bytes in `raw_mail_bodies`; `None`
/// when a mail is stored already under the same (source, UIDVALIDITY,
/// UID), then left as it is. On PostgreSQL one statement (one round
/// trip); SQLite has none to save.
pub fn insert(conn: &mut AnyConnection, mail: &NewRawMail<'_>) -> StoreResult<Option<i64>> {
    match conn {
        AnyConnection::Postgresql(c) => {
            use diesel::sql_types::{BigInt, Binary, Nullable, Text, Timestamp};
            #[derive(QueryableByName)]
            struct Id {
                #[diesel(sql_type = BigInt)]
                id: i64,
            }
            let id: Option<Id> = diesel::sql_query(
                "WITH row AS (INSERT INTO raw_mails \
                 (source, uidvalidity, uid, message_id, sha256, received_at, state, fingerprint) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (source, uidvalidity, uid) DO NOTHING RETURNING id) \
                 INSERT INTO raw_mail_bodies (raw_mail_id, raw) \
                 SELECT id, $9 FROM row RETURNING raw_mail_id AS id",
            )
            .bind::<Text, _>(mail.source)
            .bind::<Nullable<BigInt>, _>(mail.uidvalidity)
            .bind::<Nullable<BigInt>, _>(mail.uid)
            .bind::<Nullable<Text>, _>(mail.message_id)
            .bind::<Text, _>(mail.sha256)
            .bind::<Timestamp, _>(mail.received_at)
            .bind::<Text, _>(mail.state)
            .bind::<Nullable<Text>, _>(mail.fingerprint)
            .bind::<Binary, _>(mail.raw)
            .get_result(c)
            .optional()?;
            Ok(id.map(|i| i.id))
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
            Ok(Some(id))
        }
    }
}

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
