//! `mailbox_cursors`: (UIDVALIDITY, last UID handled) per mailbox.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::mailbox_cursors;
use super::{AnyConnection, StoreResult};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub uidvalidity: i64,
    pub last_uid: i64,
}

pub fn get(conn: &mut AnyConnection, mailbox: &str) -> StoreResult<Option<Cursor>> {
    Ok(mailbox_cursors::table
        .find(mailbox)
        .select((mailbox_cursors::uidvalidity, mailbox_cursors::last_uid))
        .first::<(i64, i64)>(conn)
        .optional()?
        .map(|(uidvalidity, last_uid)| Cursor {
            uidvalidity,
            last_uid,
        }))
}

pub fn set(
    conn: &mut AnyConnection,
    mailbox: &str,
    cursor: Cursor,
    now: NaiveDateTime,
) -> StoreResult<()> {
    let updated = diesel::update(mailbox_cursors::table.find(mailbox))
        .set((
            mailbox_cursors::uidvalidity.eq(cursor.uidvalidity),
            mailbox_cursors::last_uid.eq(cursor.last_uid),
            mailbox_cursors::updated_at.eq(now),
        ))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(mailbox_cursors::table)
            .values((
                mailbox_cursors::mailbox.eq(mailbox),
                mailbox_cursors::uidvalidity.eq(cursor.uidvalidity),
                mailbox_cursors::last_uid.eq(cursor.last_uid),
                mailbox_cursors::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}
