//! OAuth 2.0 for the mailboxes of Microsoft 365 and Google Workspace (and
//! any server that speaks the same): the device authorization grant (RFC
//! 8628) an administrator goes through once, the refresh that keeps the
//! access token fresh unattended, and the SASL XOAUTH2 string both IMAP and
//! SMTP take. HTTP only (the `oauth2` crate over reqwest); where tokens are
//! kept is the application's business.

use std::time::Duration;

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthType, ClientId, ClientSecret, DeviceAuthorizationUrl, ErrorResponse, ExtraTokenFields,
    HttpClientError, RefreshToken, RequestTokenError, Scope, StandardDeviceAuthorizationResponse,
    StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
};

/// The one field beyond RFC 6749 that matters here: how long the refresh
/// token lives, which Google and Azure AD B2C send
/// (`refresh_token_expires_in`, seconds), so that the administrators are
/// told before it dies.
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize)]
pub struct RefreshExpiry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_expires_in: Option<u64>,
}

impl ExtraTokenFields for RefreshExpiry {}

/// A token answer with that field.
pub type MailTokenResponse = StandardTokenResponse<RefreshExpiry, BasicTokenType>;

type MailClient = oauth2::Client<
    BasicErrorResponse,
    MailTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
>;

use crate::config::OAuth2Settings;

/// How long an HTTP exchange with the authorization server may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// What the authorization server granted. Debug never shows the tokens.
#[derive(Clone)]
pub struct Granted {
    pub access_token: String,
    pub expires_in: Option<Duration>,
    /// A new refresh token (at sign-in, or when the server rotates it).
    pub refresh_token: Option<String>,
    /// How long that refresh token lives, when the server says.
    pub refresh_expires_in: Option<Duration>,
    /// The scopes granted, when the server says (else those asked for).
    pub scopes: Vec<String>,
}

impl std::fmt::Debug for Granted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Granted")
            .field("expires_in", &self.expires_in)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// What the administrator is shown to sign in.
#[derive(Clone, Debug)]
pub struct DeviceCode {
    pub verification_uri: String,
    /// The same with the code in it, when the server gives one.
    pub verification_uri_complete: Option<String>,
    pub user_code: String,
    pub expires_in: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("OAuth 2.0 configuration: {0}")]
    Config(String),
    /// The server answered with an OAuth error (RFC 6749 section 5.2).
    #[error("the authorization server refused: {error}{}", .description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused {
        error: String,
        description: Option<String>,
    },
    #[error("cannot reach the authorization server: {0}")]
    Unreachable(String),
    #[error("the authorization server's answer: {0}")]
    Other(String),
    /// No token was ever obtained for the service.
    #[error("no OAuth 2.0 token for {0}: run `guichet oauth login {0}`")]
    NoToken(String),
}

impl OAuthError {
    /// Whether only a new sign-in (`guichet oauth login`) can cure it: the
    /// refresh token is revoked, expired or was already used.
    pub fn needs_login(&self) -> bool {
        match self {
            OAuthError::Refused { error, .. } => matches!(
                error.as_str(),
                "invalid_grant" | "invalid_client" | "unauthorized_client" | "access_denied"
            ),
            OAuthError::NoToken(_) | OAuthError::Config(_) => true,
            _ => false,
        }
    }
}

// The client's credentials go in the request body (RFC 6749 section
// 2.3.1): what Google's device flow and public clients at Microsoft need,
// and what every server takes.
fn http_client() -> Result<reqwest::Client, OAuthError> {
    reqwest::ClientBuilder::new()
        // Following redirects would let the server send the client
        // credentials elsewhere.
        .redirect(reqwest::redirect::Policy::none())
        .timeout(HTTP_TIMEOUT)
        .build()
        .map_err(|e| OAuthError::Config(e.to_string()))
}

fn classify<RE: ErrorResponse + 'static>(
    e: RequestTokenError<HttpClientError<reqwest::Error>, RE>,
) -> OAuthError {
    match e {
        RequestTokenError::ServerResponse(r) => {
            // The standard fields, read back from the answer as sent.
            let v = serde_json::to_value(&r).unwrap_or_default();
            OAuthError::Refused {
                error: v["error"].as_str().unwrap_or("error").to_string(),
                description: v["error_description"].as_str().map(String::from),
            }
        }
        RequestTokenError::Request(e) => OAuthError::Unreachable(one_line(&e)),
        RequestTokenError::Parse(e, _) => OAuthError::Other(one_line(&e)),
        RequestTokenError::Other(e) => OAuthError::Other(e),
    }
}

/// An error and its causes on one line.
fn one_line(e: &dyn std::error::Error) -> String {
    let mut line = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = s.source();
    }
    line
}

fn granted(token: &MailTokenResponse, asked: &[String]) -> Granted {
    Granted {
        access_token: token.access_token().secret().clone(),
        expires_in: token.expires_in(),
        refresh_token: token.refresh_token().map(|r| r.secret().clone()),
        refresh_expires_in: token
            .extra_fields()
            .refresh_token_expires_in
            .filter(|_| token.refresh_token().is_some())
            .map(Duration::from_secs),
        scopes: token
            .scopes()
            .map(|s| s.iter().map(|s| s.to_string()).collect())
            .unwrap_or_else(|| asked.to_vec()),
    }
}

fn secret(settings: &OAuth2Settings) -> Result<Option<ClientSecret>, OAuthError> {
    settings
        .client_secret
        .as_ref()
        .map(|s| s.read().map(ClientSecret::new).map_err(OAuthError::Config))
        .transpose()
}

/// The device authorization grant: asks for a code, hands it to `show`
/// (the administrator opens the page and enters it), then polls the token
/// endpoint as the server says until the sign-in is done, refused, or the
/// code expires.
pub async fn device_login(
    settings: &OAuth2Settings,
    show: impl FnOnce(&DeviceCode),
) -> Result<Granted, OAuthError> {
    let http = http_client()?;
    let mut client = MailClient::new(ClientId::new(settings.client_id.clone()))
        .set_auth_type(AuthType::RequestBody)
        .set_token_uri(TokenUrl::new(settings.token_url.clone()).map_err(config)?)
        .set_device_authorization_url(
            DeviceAuthorizationUrl::new(settings.device_authorization_url.clone())
                .map_err(config)?,
        );
    if let Some(s) = secret(settings)? {
        client = client.set_client_secret(s);
    }
    let details: StandardDeviceAuthorizationResponse = client
        .exchange_device_code()
        .add_scopes(settings.scopes.iter().cloned().map(Scope::new))
        .request_async(&http)
        .await
        .map_err(classify)?;
    show(&DeviceCode {
        verification_uri: details.verification_uri().to_string(),
        verification_uri_complete: details
            .verification_uri_complete()
            .map(|u| u.secret().to_string()),
        user_code: details.user_code().secret().to_string(),
        expires_in: details.expires_in(),
    });
    let token = client
        .exchange_device_access_token(&details)
        .request_async(&http, tokio::time::sleep, None)
        .await
        .map_err(classify)?;
    Ok(granted(&token, &settings.scopes))
}

/// A new access token for `refresh_token` (and, from a server that
/// rotates them, a new refresh token).
pub async fn refresh(
    settings: &OAuth2Settings,
    refresh_token: &str,
) -> Result<Granted, OAuthError> {
    let http = http_client()?;
    let mut client = MailClient::new(ClientId::new(settings.client_id.clone()))
        .set_auth_type(AuthType::RequestBody)
        .set_token_uri(TokenUrl::new(settings.token_url.clone()).map_err(config)?);
    if let Some(s) = secret(settings)? {
        client = client.set_client_secret(s);
    }
    let token = client
        .exchange_refresh_token(&RefreshToken::new(refresh_token.to_string()))
        .request_async(&http)
        .await
        .map_err(classify)?;
    Ok(granted(&token, &settings.scopes))
}

fn config(e: impl std::fmt::Display) -> OAuthError {
    OAuthError::Config(e.to_string())
}

/// The SASL XOAUTH2 initial response (Google's and Microsoft's mechanism
/// for IMAP and SMTP): `user=…^Aauth=Bearer …^A^A`, before base64.
pub fn xoauth2(user: &str, access_token: &str) -> String {
    format!("user={user}\x01auth=Bearer {access_token}\x01\x01")
}

/// The SASL OAUTHBEARER initial response (RFC 7628 section 3.1), before
/// base64: the GS2 header naming the user, then host, port and token.
pub fn oauthbearer(user: &str, host: &str, port: u16, access_token: &str) -> String {
    // RFC 5801: "," and "=" in the authorization identity are escaped.
    let user = user.replace('=', "=3D").replace(',', "=2C");
    format!("n,a={user},\x01host={host}\x01port={port}\x01auth=Bearer {access_token}\x01\x01")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oauthbearer_string_is_as_rfc_7628_writes_it() {
        assert_eq!(
            oauthbearer("user@example.com", "server.example.com", 143, "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="),
            "n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"
        );
        assert!(oauthbearer("a,b=c@x", "h", 1, "t").starts_with("n,a=a=2Cb=3Dc@x,"));
    }

    #[test]
    fn the_xoauth2_string_is_as_providers_document_it() {
        assert_eq!(
            xoauth2("support@example.org", "ya29.abc"),
            "user=support@example.org\x01auth=Bearer ya29.abc\x01\x01"
        );
    }

    #[test]
    fn only_a_dead_grant_needs_a_new_sign_in() {
        let refused = |e: &str| OAuthError::Refused {
            error: e.into(),
            description: None,
        };
        assert!(refused("invalid_grant").needs_login());
        assert!(!refused("temporarily_unavailable").needs_login());
        assert!(!OAuthError::Unreachable("connection refused".into()).needs_login());
        assert!(OAuthError::NoToken("imap".into()).needs_login());
        let shown = refused("invalid_grant").to_string();
        assert_eq!(shown, "the authorization server refused: invalid_grant");
        let granted = Granted {
            access_token: "sekrit-access".into(),
            expires_in: None,
            refresh_token: Some("sekrit-refresh".into()),
            refresh_expires_in: None,
            scopes: vec![],
        };
        assert!(!format!("{granted:?}").contains("sekrit"));
    }

    #[test]
    fn a_refresh_tokens_life_is_read_when_the_server_says_it() {
        let google: MailTokenResponse = serde_json::from_str(
            r#"{"access_token":"ya29.a0","expires_in":3599,"refresh_token":"1//0g","refresh_token_expires_in":604799,"scope":"https://mail.google.com/","token_type":"Bearer"}"#,
        )
        .unwrap();
        let g = granted(&google, &[]);
        assert_eq!(g.refresh_expires_in, Some(Duration::from_secs(604_799)));
        assert_eq!(g.scopes, ["https://mail.google.com/"]);
        let microsoft: MailTokenResponse = serde_json::from_str(
            r#"{"token_type":"Bearer","scope":"https://outlook.office.com/IMAP.AccessAsUser.All","expires_in":4284,"ext_expires_in":4284,"access_token":"eyJ0","refresh_token":"0.AR"}"#,
        )
        .unwrap();
        assert_eq!(granted(&microsoft, &[]).refresh_expires_in, None);
        // Without a refresh token the field means nothing.
        let bare: MailTokenResponse = serde_json::from_str(
            r#"{"access_token":"a","token_type":"bearer","refresh_token_expires_in":10}"#,
        )
        .unwrap();
        assert_eq!(granted(&bare, &[]).refresh_expires_in, None);
    }
}
