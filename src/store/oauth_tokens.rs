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
                oauth_tokens::obtained_at.eq(t.obtained_at),
                oauth_tokens::refreshed_at.eq(t.refreshed_at),
            ))
            .execute(conn)?;
        Ok(())
    })
}

/// A refresh's result, written only if the refresh token used is still
/// the stored one (another process may have rotated it meanwhile): returns
/// whether it was written. A server that sends no new refresh token keeps
/// the old one valid.
pub fn refreshed(
    conn: &mut AnyConnection,
    service: &str,
    used_refresh_token: &str,
    access_token: &str,
    access_expires_at: Option<NaiveDateTime>,
    new_refresh_token: Option<&str>,
    now: NaiveDateTime,
) -> StoreResult<bool> {
    let updated = diesel::update(
        oauth_tokens::table
            .find(service)
            .filter(oauth_tokens::refresh_token.eq(used_refresh_token)),
    )
    .set((
        oauth_tokens::access_token.eq(access_token),
        oauth_tokens::access_expires_at.eq(access_expires_at),
        oauth_tokens::refresh_token.eq(new_refresh_token.unwrap_or(used_refresh_token)),
        oauth_tokens::refreshed_at.eq(Some(now)),
    ))
    .execute(conn)?;
    Ok(updated == 1)
}
