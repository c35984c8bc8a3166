//! `agents`: who counts as an agent of the desk.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::agents;
use super::{native, AnyConnection, StoreResult};

#[derive(Queryable, Debug, Clone, serde::Serialize)]
pub struct Agent {
    pub email: String,
    pub name: Option<String>,
    #[serde(skip)]
    pub added_at: NaiveDateTime,
}

/// Adds an agent, or renames one already there. Returns whether it is new.
pub fn add(
    conn: &mut AnyConnection,
    email: &str,
    name: Option<&str>,
    now: NaiveDateTime,
) -> StoreResult<bool> {
    let email = email.to_lowercase();
    conn.transaction(|conn| {
        let updated = diesel::update(agents::table.find(&email))
            .set(agents::name.eq(name))
            .execute(conn)?;
        if updated > 0 {
            return Ok(false);
        }
        diesel::insert_into(agents::table)
            .values((
                agents::email.eq(&email),
                agents::name.eq(name),
                agents::added_at.eq(now),
            ))
            .execute(conn)?;
        Ok(true)
    })
}

pub fn remove(conn: &mut AnyConnection, email: &str) -> StoreResult<bool> {
    Ok(diesel::delete(agents::table.find(email.to_lowercase())).execute(conn)? > 0)
}

pub fn list(conn: &mut AnyConnection) -> StoreResult<Vec<Agent>> {
    Ok(native!(conn, |c| agents::table
        .order(agents::email.asc())
        .load(c))?)
}
