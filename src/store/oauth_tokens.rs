//! `oauth_tokens`: the OAuth 2.0 tokens of each service ("imap", "smtp").

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::oauth_tokens;
use super::{AnyConnection, StoreResult};

/// A service's tokens. Debug never shows them.
#[derive(Queryable, Selectable, Clone, PartialEq, Eq)]
#[diesel(table_name = oauth_tokens)]
pub struct StoredTokens {
    pub service: String,
    pub account: String,
    /// Space-separated, as granted.
    pub scopes: String,
    pub access_token: String,
    pub access_expires_at: Option<NaiveDateTime>,
    pub refresh_token: Option<String>,
    /// When the refresh token dies, when the server said.
    pub refresh_expires_at: Option<NaiveDateTime>,
    pub obtained_at: NaiveDateTime,
    pub refreshed_at: Option<NaiveDateTime>,
}

impl std::fmt::Debug for StoredTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredTokens")
            .field("service", &self.service)
            .field("account", &self.account)
            .field("scopes", &self.scopes)
            .field("access_expires_at", &self.access_expires_at)
            .field("refresh_expires_at", &self.refresh_expires_at)
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

pub fn get(conn: &mut AnyConnection, service: &str) -> StoreResult<Option<StoredTokens>> {
    Ok(oauth_tokens::table
        .find(service)
        .select(StoredTokens::as_select())
        .first(conn)
        .optional()?)
}

pub fn all(conn: &mut AnyConnection) -> StoreResult<Vec<StoredTokens>> {
    Ok(oauth_tokens::table
        .select(StoredTokens::as_select())
        .order(oauth_tokens::service)
        .load(conn)?)
}

/// Tokens from a new sign-in replace whatever the service had.
pub fn replace(conn: &mut AnyConnection, t: &StoredTokens) -> StoreResult<()> {
    conn.transaction(|conn| {
        diesel::delete(oauth_tokens::table.find(&t.service)).execute(conn)?;
        diesel::insert_into(oauth_tokens::table)
            .values((
                oauth_tokens::service.eq(&t.service),
                oauth_tokens::account.eq(&t.account),
                oauth_tokens::scopes.eq(&t.scopes),
                oauth_tokens::access_token.eq(&t.access_token),
                oauth_tokens::access_expires_at.eq(t.access_expires_at),
                oauth_tokens::refresh_token.eq(&t.refresh_token),
                oauth_tokens::refresh_expires_at.eq(t.refresh_expires_at),
                oauth_tokens::obtained_at.eq(t.obtained_at),
                oauth_tokens::refreshed_at.eq(t.refreshed_at),
            ))
            .execute(conn)?;
        Ok(())
    })
}

/// What a refresh brought.
pub struct Refreshed<'a> {
    pub access_token: &'a str,
    pub access_expires_at: Option<NaiveDateTime>,
    /// A new refresh token, from a server that rotates them, and when it
    /// dies if the server says.
    pub refresh_token: Option<&'a str>,
    pub refresh_expires_at: Option<NaiveDateTime>,
}

/// A refresh's result, written only if the refresh token used is still
/// the stored one (another process may have rotated it meanwhile): returns
/// whether it was written. A server that sends no new refresh token keeps
/// the old one valid, with its known end.
pub fn refreshed(
    conn: &mut AnyConnection,
    service: &str,
    used_refresh_token: &str,
    new: &Refreshed<'_>,
    now: NaiveDateTime,
) -> StoreResult<bool> {
    let target = oauth_tokens::table
        .find(service)
        .filter(oauth_tokens::refresh_token.eq(used_refresh_token));
    let access = (
        oauth_tokens::access_token.eq(new.access_token),
        oauth_tokens::access_expires_at.eq(new.access_expires_at),
        oauth_tokens::refreshed_at.eq(Some(now)),
    );
    let updated = match new.refresh_token {
        Some(rotated) => diesel::update(target)
            .set((
                access,
                oauth_tokens::refresh_token.eq(rotated),
                oauth_tokens::refresh_expires_at.eq(new.refresh_expires_at),
            ))
            .execute(conn)?,
        None => diesel::update(target).set(access).execute(conn)?,
    };
    Ok(updated == 1)
}
