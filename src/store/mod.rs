//! The database: one diesel connection type over SQLite and PostgreSQL,
//! embedded migrations, and one file of queries per table.

pub mod addresses;
pub mod agents;
pub mod cursors;
pub mod health;
pub mod leases;
pub mod mails;
pub mod oauth_tokens;
pub mod outbox;
pub mod report;
pub mod retention;
pub mod schema;
pub mod tickets;

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// SQLite waits this long for a lock held by another process before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs a query on the connection of the database in use: the body is
/// compiled once for each backend, with `$c` its own connection.
///
/// The statements run for every mail go this way rather than through
/// [`AnyConnection`]: diesel's `MultiConnection` writes a statement's SQL
/// text anew at each run and walks it three times, which took a fifth of
/// the time of a mail; on its own connection a statement is looked up in
/// the statement cache by its type and only its values are bound.
macro_rules! native {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::store::AnyConnection::Sqlite($c) => $body,
            $crate::store::AnyConnection::Postgresql($c) => $body,
        }
    };
}
pub(crate) use native;

/// Runs an INSERT of one row (`$insert`, an expression built anew for each
/// database) and returns the new row's id (`$id`, its id column).
///
/// On PostgreSQL `RETURNING`, one round trip. On SQLite the INSERT alone,
/// then [`last_insert_rowid`]: SQLite runs a `RETURNING` clause as a
/// trigger, and a statement with a trigger, inside a transaction, first
/// copies each page it changes (16 KiB) to a statement journal, so that it
/// can be undone alone. On 3.6 KB requests that copying took two fifths of
/// the processing thread (perf: `subjournalPageIfRequired` under the
/// INSERTs of tickets, outgoing mail, raw mail and messages).
macro_rules! insert_id {
    ($conn:expr, $insert:expr, $id:expr) => {
        match $conn {
            $crate::store::AnyConnection::Postgresql(c) => {
                diesel::RunQueryDsl::get_result::<i64>($insert.returning($id), c)
            }
            $crate::store::AnyConnection::Sqlite(c) => {
                diesel::RunQueryDsl::execute($insert, &mut *c)
                    .and_then(|_| $crate::store::last_insert_rowid(c))
            }
        }
    };
}
pub(crate) use insert_id;

diesel::define_sql_function! {
    /// SQLite's rowid of the row this connection inserted last.
    #[sql_name = "last_insert_rowid"]
    fn sqlite_last_insert_rowid() -> diesel::sql_types::BigInt;
}

/// The id of the row the last INSERT of this SQLite connection wrote (see
/// [`insert_id!`]); a statement kept compiled.
pub(crate) fn last_insert_rowid(c: &mut diesel::SqliteConnection) -> QueryResult<i64> {
    diesel::select(sqlite_last_insert_rowid()).get_result(c)
}

/// One connection to whichever database the configuration names.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

/// Database errors as one log line: PostgreSQL's messages carry newlines
/// and tabs ("server closed the connection unexpectedly\n\tThis probably
/// means...").
fn one_line(e: &dyn std::fmt::Display) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {url}: {}", one_line(source))]
    Connect {
        url: String,
        #[source]
        source: diesel::ConnectionError,
    },
    #[error("cannot migrate the database: {}", one_line(.0))]
    Migrate(String),
    #[error("database error: {}", one_line(.0))]
    Query(#[from] diesel::result::Error),
    #[error("{0}")]
    Invalid(String),
    /// Our code panicked while applying one mail: a bug, never retried by
    /// itself, so that one mail cannot stop the mail behind it.
    #[error("panicked: {0}")]
    Panic(String),
}

impl StoreError {
    /// Whether trying the same work again later may succeed (a lost
    /// connection, a lock, a serialization failure, a full disk), as
    /// opposed to a bug or bad data.
    pub fn is_recoverable(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        match self {
            StoreError::Connect { .. } => true,
            StoreError::Query(Error::DatabaseError(kind, info)) => match kind {
                // What diesel classifies itself: PostgreSQL's SQLSTATE
                // 40001 and connection failures (class 08, or a connection
                // left unusable: a server restarted under us).
                DatabaseErrorKind::SerializationFailure
                | DatabaseErrorKind::ClosedConnection
                | DatabaseErrorKind::UnableToSendCommand => true,
                DatabaseErrorKind::Unknown => transient_message(info.message()),
                _ => false,
            },
            StoreError::Query(Error::BrokenTransactionManager) => true,
            _ => false,
        }
    }
}

/// The errors diesel leaves unclassified (`Unknown`) that waiting cures,
/// by the text the database writes, since diesel hands over no error code
/// beyond its kinds. SQLite's are the fixed strings of `sqlite3_errstr`
/// (SQLITE_BUSY, SQLITE_LOCKED, SQLITE_FULL), never translated.
/// PostgreSQL's are the primary messages of SQLSTATE 40P01 (deadlock),
/// 55P03 (lock not available), 57014 (statement cancelled or timed out),
/// 53100 (disk full), 57P01-57P03 (shutdown, crash, cannot connect now):
/// in English unless the server's `lc_messages` says otherwise, which is
/// why the README asks for `lc_messages = 'C'` on guichet's role.
fn transient_message(message: &str) -> bool {
    const SQLITE: &[&str] = &[
        "database is locked",
        "database table is locked",
        "database or disk is full",
    ];
    const POSTGRES: &[&str] = &[
        "deadlock detected",
        "could not obtain lock",
        "canceling statement",
        "could not extend file",
        "No space left on device",
        "terminating connection",
        "the database system is",
        "server closed the connection",
    ];
    SQLITE
        .iter()
        .chain(POSTGRES)
        .any(|known| message.contains(known))
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Which backend a database URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Option<Backend> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else if url.starts_with("sqlite://") || url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else {
            None
        }
    }
}

/// The file path in a `sqlite://PATH` or `sqlite:PATH` URL.
pub fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url)
}

/// Opens the database named by `url` and sets the session up for a
/// long-running service (SQLite: WAL, busy timeout, foreign keys).
pub fn connect(url: &str) -> StoreResult<AnyConnection> {
    let connect_err = |source| StoreError::Connect {
        url: redact_url(url),
        source,
    };
    match Backend::of_url(url) {
        Some(Backend::Postgres) => {
            let conn = diesel::PgConnection::establish(url).map_err(connect_err)?;
            Ok(AnyConnection::Postgresql(conn))
        }
        Some(Backend::Sqlite) => {
            let path = sqlite_path(url);
            if let Some(dir) = std::path::Path::new(path).parent() {
                if !dir.as_os_str().is_empty() && !dir.exists() {
                    return Err(StoreError::Invalid(format!(
                        "cannot open database {url}: directory {} does not exist",
                        dir.display()
                    )));
                }
            }
            if path != ":memory:" {
                create_private(std::path::Path::new(path))?;
            }
            let mut conn = diesel::SqliteConnection::establish(path).map_err(connect_err)?;
            conn.batch_execute(&format!(
                "PRAGMA busy_timeout = {};",
                SQLITE_BUSY_TIMEOUT.as_millis()
            ))?;
            // A new database's pages: mail is mostly large values, which
            // SQLite chains across pages; the setting takes effect only
            // before the first table exists (an existing file keeps its own).
            conn.batch_execute("PRAGMA page_size = 16384;")?;
            wal_mode(&mut conn)?;
            // synchronous = FULL: each commit is on disk (the log synced)
            // before it returns, as on PostgreSQL, so that a mail taken
            // from an MTA or moved away on the IMAP server survives a
            // power cut; [`relaxed_commits`] lifts it. temp_store:
            // statement and savepoint journals in memory, not in
            // temporary files written for every mail.
            conn.batch_execute(
                "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
                 PRAGMA temp_store = MEMORY;",
            )?;
            Ok(AnyConnection::Sqlite(conn))
        }
        None => Err(StoreError::Invalid(format!(
            "database URL {} is neither sqlite:// nor postgres://",
            redact_url(url)
        ))),
    }
}

/// Puts a SQLite database in WAL mode (a setting kept in the file, so only
/// a new database changes). The change needs the exclusive lock while the
/// statement holds a shared one, so SQLite answers "database is locked"
/// at once instead of waiting when another process opens the same new
/// file at that instant: tried again until the busy timeout.
fn wal_mode(conn: &mut diesel::SqliteConnection) -> StoreResult<()> {
    let start = std::time::Instant::now();
    loop {
        match conn.batch_execute("PRAGMA journal_mode = WAL;") {
            Err(e) if e.to_string().contains("locked") && start.elapsed() < SQLITE_BUSY_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(10));
            }
            done => return Ok(done?),
        }
    }
}

/// Applies every pending migration; returns how many ran.
///
/// Several processes may start on the same new database at once (the
/// daemon and an administrator's `guichet tickets list`, or two daemons):
/// the check for pending migrations and their run happen under one lock,
/// so the second waits and then finds nothing left to do instead of
/// creating the same tables again. SQLite: an immediate transaction (the
/// write lock, waited for up to the busy timeout). PostgreSQL: a
/// transaction-scoped advisory lock. Each migration runs in a savepoint
/// inside that transaction.
pub fn migrate(conn: &mut AnyConnection) -> StoreResult<usize> {
    let migrate_err =
        |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Migrate(e.to_string());
    match conn {
        AnyConnection::Postgresql(c) => c.transaction(|c| {
            diesel::sql_query(format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
                .execute(c)?;
            c.run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.len())
                .map_err(migrate_err)
        }),
        AnyConnection::Sqlite(c) => c.immediate_transaction(|c| {
            c.run_pending_migrations(SQLITE_MIGRATIONS)
                .map(|v| v.len())
                .map_err(migrate_err)
        }),
    }
}

/// The PostgreSQL advisory lock key held while migrating ("guichet" in
/// ASCII, so that it does not meet another application's key by chance).
const MIGRATION_LOCK: i64 = 0x67_7569_6368_6574;

/// Whether every migration has been applied.
pub fn is_migrated(conn: &mut AnyConnection) -> StoreResult<bool> {
    let pending = match conn {
        AnyConnection::Postgresql(c) => c
            .pending_migrations(POSTGRES_MIGRATIONS)
            .map(|v| v.is_empty()),
        AnyConnection::Sqlite(c) => c
            .pending_migrations(SQLITE_MIGRATIONS)
            .map(|v| v.is_empty()),
    };
    pending.map_err(|e| StoreError::Migrate(e.to_string()))
}

/// This session's commits stop waiting for the disk (PostgreSQL:
/// `synchronous_commit = off`; SQLite: `synchronous = NORMAL`, the log
/// synced at checkpoints only): for the connection that records what the
/// relay said of each mail. A crash of the machine can then forget the
/// last instant of those records, and those mails are sent again with
/// their Message-IDs, as after a daemon killed between the relay's answer
/// and the record; nothing is lost.
///
/// The session's statements are also planned once for any values
/// (`plan_cache_mode = force_generic_plan`): planned for the values of the
/// moment, the claim of due rows trusts statistics taken when little was
/// due and sorts every due row to take 64 (34 ms with 20,000 waiting,
/// against 2 ms along the index in due order, which the generic plan
/// takes); a backlog is exactly when statistics lag.
pub fn relaxed_commits(conn: &mut AnyConnection) -> StoreResult<()> {
    match conn {
        AnyConnection::Postgresql(c) => c.batch_execute(
            "SET synchronous_commit TO off; SET plan_cache_mode TO force_generic_plan",
        )?,
        AnyConnection::Sqlite(c) => c.batch_execute("PRAGMA synchronous = NORMAL")?,
    }
    Ok(())
}

/// Runs `work` in a transaction whose commit waits for the disk even on a
/// connection with [`relaxed_commits`] (a ticket change). SQLite allows
/// the setting only between transactions: it is raised for this one and
/// put back after.
pub fn durable_transaction<T>(
    conn: &mut AnyConnection,
    work: impl FnOnce(&mut AnyConnection) -> StoreResult<T>,
) -> StoreResult<T> {
    if let AnyConnection::Sqlite(c) = conn {
        let before = sqlite_synchronous(c)?;
        c.batch_execute("PRAGMA synchronous = FULL")?;
        let done = conn.transaction(work);
        // The change is committed whatever happens here: a connection
        // left at FULL only commits more slowly.
        if let AnyConnection::Sqlite(c) = conn {
            if let Err(e) = c.batch_execute(&format!("PRAGMA synchronous = {before}")) {
                tracing::warn!("SQLite: commits left waiting for the disk: {e}");
            }
        }
        return done;
    }
    conn.transaction(|conn| {
        if let AnyConnection::Postgresql(c) = conn {
            c.batch_execute("SET LOCAL synchronous_commit TO on")?;
        }
        work(conn)
    })
}

/// SQLite's `synchronous` setting of a connection (1 NORMAL, 2 FULL).
fn sqlite_synchronous(c: &mut diesel::SqliteConnection) -> StoreResult<i32> {
    #[derive(diesel::QueryableByName)]
    struct Synchronous {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        synchronous: i32,
    }
    Ok(diesel::sql_query("PRAGMA synchronous")
        .get_result::<Synchronous>(c)?
        .synchronous)
}

/// Takes the database-wide write lock for the current transaction: the
/// first statement is a write, so SQLite takes its write lock at once
/// (waiting up to the busy timeout) instead of failing when a read
/// transaction later wants to write, and PostgreSQL daemons apply ticket
/// changes one at a time. Call first in a transaction.
pub fn lock_for_write(conn: &mut AnyConnection) -> StoreResult<()> {
    use schema::counters;
    native!(conn, |c| diesel::update(counters::table.find("write_lock"))
        .set(counters::value.eq(counters::value + 1))
        .execute(c))?;
    Ok(())
}

/// Whether the daily job was already claimed for `day` (or a later day).
pub fn day_claimed(conn: &mut AnyConnection, job: &str, day: i64) -> StoreResult<bool> {
    use schema::counters;
    let last: Option<i64> = native!(conn, |c| counters::table
        .find(job)
        .select(counters::value)
        .first(c)
        .optional())?;
    Ok(last.is_some_and(|d| d >= day))
}

/// Claims a daily job for `day` (a day number): true for the first
/// caller of that day, across restarts and daemons (under the write lock,
/// in a transaction of its own, or a savepoint of the caller's: then the
/// claim stands only if the caller's work commits), false for every other.
pub fn claim_day(conn: &mut AnyConnection, job: &str, day: i64) -> StoreResult<bool> {
    use diesel::Connection;
    use schema::counters;
    conn.transaction(|conn| -> StoreResult<bool> {
        lock_for_write(conn)?;
        let last: Option<i64> = native!(conn, |c| counters::table
            .find(job)
            .select(counters::value)
            .first(c)
            .optional())?;
        match last {
            Some(d) if d >= day => Ok(false),
            Some(_) => {
                native!(conn, |c| diesel::update(counters::table.find(job))
                    .set(counters::value.eq(day))
                    .execute(c))?;
                Ok(true)
            }
            None => {
                native!(conn, |c| diesel::insert_into(counters::table)
                    .values((counters::name.eq(job), counters::value.eq(day)))
                    .execute(c))?;
                Ok(true)
            }
        }
    })
}

/// Writes a consistent copy of the SQLite database to `dest` while the
/// daemon may be writing (`VACUUM INTO`: one read transaction, so the copy
/// is the database as of one instant, without the WAL's pending pages and
/// compacted). Written under a temporary name, private (0600: it holds
/// everybody's mail), checked (`PRAGMA quick_check`), then renamed.
/// Returns its size.
pub fn backup_sqlite(conn: &mut AnyConnection, dest: &std::path::Path) -> StoreResult<u64> {
    let AnyConnection::Sqlite(c) = conn else {
        return Err(StoreError::Invalid(
            "the database is PostgreSQL: use pg_dump".into(),
        ));
    };
    let file_name = dest
        .file_name()
        .ok_or_else(|| StoreError::Invalid(format!("{}: not a file name", dest.display())))?;
    let mut partial_name = file_name.to_os_string();
    partial_name.push(format!(".partial-{}", std::process::id()));
    let partial = dest.with_file_name(partial_name);
    let failed = |e: String| {
        let _ = std::fs::remove_file(&partial);
        StoreError::Invalid(format!("backup to {}: {e}", dest.display()))
    };
    create_private(&partial)?;
    // VACUUM INTO wants a file that does not exist, or an empty one.
    let quoted = partial.to_string_lossy().replace('\'', "''");
    c.batch_execute(&format!("VACUUM INTO '{quoted}';"))
        .map_err(|e| failed(e.to_string()))?;
    let mut copy = diesel::SqliteConnection::establish(&partial.to_string_lossy())
        .map_err(|e| failed(e.to_string()))?;
    #[derive(QueryableByName)]
    struct Check {
        #[diesel(sql_type = diesel::sql_types::Text)]
        quick_check: String,
    }
    let check: Vec<Check> = diesel::sql_query("PRAGMA quick_check")
        .load(&mut copy)
        .map_err(|e| failed(e.to_string()))?;
    drop(copy);
    if check.first().map(|c| c.quick_check.as_str()) != Some("ok") {
        return Err(failed("the copy does not pass PRAGMA quick_check".into()));
    }
    std::fs::rename(&partial, dest).map_err(|e| failed(e.to_string()))?;
    Ok(std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0))
}

/// Runs database work from an async task: on this thread, with the
/// runtime told that it blocks (the connections are synchronous).
pub fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// The URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    // The user information ends at the last "@": a password may hold "?",
    // "/" or "#" written as they are. Redacting too much is safe.
    let (head, rest) = match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let head = match userinfo.find(':') {
                Some(colon) => format!("{}{}:***", &url[..scheme + 3], &userinfo[..colon]),
                None => url[..at].to_string(),
            };
            (head, &url[at..])
        }
        _ => (String::new(), url),
    };
    let (base, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let mut out = head + base;
    // libpq takes the password as a parameter too (`?password=…`).
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((k, _)) if k.to_ascii_lowercase().contains("password") => format!("{k}=***"),
                _ => p.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

/// Creates the SQLite database file readable by its owner alone (0600),
/// whatever the umask: it holds every mail and, with OAuth2, the tokens.
/// SQLite gives its WAL and shared-memory files the database file's mode.
/// An existing file is left as the administrator set it.
fn create_private(path: &std::path::Path) -> StoreResult<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Invalid(format!(
            "cannot create database {}: {e}",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Migration 000015 moves the bytes of stored mail and of the outbox
    /// into tables of their own, and back when reverted: a database of
    /// an earlier version keeps every mail.
    #[test]
    fn the_bodies_migration_keeps_every_byte() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("g.db").display());
        let AnyConnection::Sqlite(mut c) = connect(&url).unwrap() else {
            unreachable!()
        };
        let count = |c: &mut diesel::SqliteConnection| c.applied_migrations().unwrap().len();
        while count(&mut c) < 14 {
            c.run_next_migration(SQLITE_MIGRATIONS).unwrap();
        }
        c.batch_execute(
            "INSERT INTO raw_mails (source, sha256, raw, received_at, state) \
             VALUES ('INBOX', 'x', X'0d0a00ff', '2026-12-07 08:00:00', 'processed'); \
             INSERT INTO outbox (kind, message_id, sender, recipients, subject, raw, state, \
             attempts, next_attempt_at, created_at) VALUES ('alert', 'a@b', 's@b', 'r@b', \
             'Objet', X'48656c6c6f', 'sent', 1, '2026-12-07 08:00:00', '2026-12-07 08:00:00');",
        )
        .unwrap();
        c.run_pending_migrations(SQLITE_MIGRATIONS).unwrap();
        let mut conn = AnyConnection::Sqlite(c);
        let stored = mails::get(&mut conn, 1).unwrap();
        assert_eq!(stored.raw, b"\r\n\0\xff");
        assert_eq!(stored.state, "processed");
        let AnyConnection::Sqlite(mut c) = conn else {
            unreachable!()
        };
        let body: Vec<Vec<u8>> = schema::outbox_bodies::table
            .select(schema::outbox_bodies::raw)
            .load(&mut c)
            .unwrap();
        assert_eq!(body, [b"Hello".to_vec()]);
        // Deleting a mail deletes its bytes.
        diesel::delete(schema::outbox::table)
            .execute(&mut c)
            .unwrap();
        let left: i64 = schema::outbox_bodies::table
            .count()
            .get_result(&mut c)
            .unwrap();
        assert_eq!(left, 0);
        while count(&mut c) > 14 {
            c.revert_last_migration(SQLITE_MIGRATIONS).unwrap();
        }
        #[derive(QueryableByName)]
        struct Raw {
            #[diesel(sql_type = diesel::sql_types::Binary)]
            raw: Vec<u8>,
        }
        let back: Raw = diesel::sql_query("SELECT raw FROM raw_mails")
            .get_result(&mut c)
            .unwrap();
        assert_eq!(back.raw, b"\r\n\0\xff");
    }

    /// A new database is made of 16 KiB pages; one made earlier keeps
    /// the 4 KiB pages it was created with, and opens as before.
    #[test]
    fn new_databases_get_larger_pages_and_old_ones_keep_theirs() {
        #[derive(QueryableByName)]
        struct PageSize {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            page_size: i64,
        }
        let page_size = |url: &str| {
            let AnyConnection::Sqlite(mut c) = connect(url).unwrap() else {
                unreachable!()
            };
            diesel::sql_query("PRAGMA page_size")
                .get_result::<PageSize>(&mut c)
                .unwrap()
                .page_size
        };
        let dir = tempfile::tempdir().unwrap();
        let new = format!("sqlite://{}", dir.path().join("new.db").display());
        migrate(&mut connect(&new).unwrap()).unwrap();
        assert_eq!(page_size(&new), 16384);

        let old_path = dir.path().join("old.db");
        let mut old = diesel::SqliteConnection::establish(old_path.to_str().unwrap()).unwrap();
        old.batch_execute(
            "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE t (x);",
        )
        .unwrap();
        drop(old);
        let old = format!("sqlite://{}", old_path.display());
        assert!(migrate(&mut connect(&old).unwrap()).unwrap() > 0);
        assert_eq!(page_size(&old), 4096);
    }

    /// On SQLite, a commit waits for the disk (`synchronous = FULL`, 2)
    /// unless the connection is relaxed (`NORMAL`, 1); a durable
    /// transaction on a relaxed connection waits for it, and the
    /// connection is relaxed again after.
    #[test]
    fn sqlite_commits_wait_for_the_disk_unless_relaxed() {
        let level = |conn: &mut AnyConnection| {
            let AnyConnection::Sqlite(c) = conn else {
                unreachable!()
            };
            sqlite_synchronous(c).unwrap()
        };
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("g.db").display());
        let mut conn = connect(&url).unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(level(&mut conn), 2);
        relaxed_commits(&mut conn).unwrap();
        assert_eq!(level(&mut conn), 1);
        let inside = durable_transaction(&mut conn, |c| {
            lock_for_write(c)?;
            Ok(level(c))
        })
        .unwrap();
        assert_eq!(inside, 2);
        assert_eq!(level(&mut conn), 1, "relaxed again after");
    }

    #[test]
    fn passwords_never_printed() {
        assert_eq!(
            redact_url("postgres://guichet:s3cret@db/guichet"),
            "postgres://guichet:***@db/guichet"
        );
        assert_eq!(
            redact_url("postgres://db/guichet?user=guichet&password=s3cret&sslmode=require"),
            "postgres://db/guichet?user=guichet&password=***&sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://u:p@db/g?sslpassword=k&PassWord=x"),
            "postgres://u:***@db/g?sslpassword=***&PassWord=***"
        );
        assert_eq!(
            redact_url("sqlite:///var/lib/g.db"),
            "sqlite:///var/lib/g.db"
        );
        // A password holding "?", "/" or "#" as it is.
        for url in [
            "postgres://u:pa?ss@h/db",
            "postgres://u:pa/ss@h/db",
            "postgres://u:p#a?s/s@h/db?sslmode=require",
        ] {
            let shown = redact_url(url);
            assert!(shown.starts_with("postgres://u:***@h/db"), "{shown}");
            assert!(!shown.contains("pa") && !shown.contains("s/s"), "{shown}");
        }
    }

    #[test]
    fn what_waiting_cures_is_retried() {
        for m in [
            "database is locked",
            "database or disk is full",
            "deadlock detected",
            "could not extend file \"base/16384/2619\": No space left on device",
            "terminating connection due to administrator command",
            "the database system is starting up",
        ] {
            assert!(transient_message(m), "{m}");
        }
        for m in [
            "UNIQUE constraint failed: raw_mails.id",
            "no such table: tickets",
            "syntax error at or near \"SELEC\"",
        ] {
            assert!(!transient_message(m), "{m}");
        }
    }

    #[test]
    fn sqlite_urls() {
        assert_eq!(sqlite_path("sqlite:///var/lib/g.db"), "/var/lib/g.db");
        assert_eq!(sqlite_path("sqlite:g.db"), "g.db");
        assert_eq!(Backend::of_url("postgresql://x/y"), Some(Backend::Postgres));
        assert_eq!(Backend::of_url("mysql://x"), None);
    }
}
