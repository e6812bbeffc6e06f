//! Console sessions and their CSRF tokens.
//!
//! Signing in trades an admin key (with the `console` scope) for a random session token in
//! an HttpOnly, SameSite=Strict cookie scoped to `/admin` (Secure when the issuer is
//! https). Only the token's SHA-256 is stored, beside a CSRF token that every form of the
//! session carries back. A session ends on sign-out, after [`IDLE_TIMEOUT`] without a
//! request or [`ABSOLUTE_TIMEOUT`] after sign-in, and with its admin key.
//!
//! The sign-in form has no session yet: its CSRF token is a double-submit cookie, which a
//! cross-site page can neither read nor set (SameSite=Strict, and the value must match the
//! form's).
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use cookie::{Cookie, SameSite};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::refusal::Refusal;
use crate::domain::{AdminScope, ConsoleTokenHash};
use crate::state::AppState;
use crate::storage::UnixSeconds;

pub const SESSION_COOKIE: &str = "wxlogin_console";
pub const SIGN_IN_CSRF_COOKIE: &str = "wxlogin_console_csrf";
/// A session unused this long ends.
pub const IDLE_TIMEOUT: UnixSeconds = 30 * 60;
/// A session ends this long after sign-in, used or not.
pub const ABSOLUTE_TIMEOUT: UnixSeconds = 12 * 3600;
/// How often (at most) a session's last use is written: not on every page view.
const TOUCH_RESOLUTION: UnixSeconds = 60;

/// The value of the first cookie named `name`.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
}

/// 32 random bytes, base64url: session tokens and CSRF tokens.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn hash_token(token: &str) -> ConsoleTokenHash {
    ConsoleTokenHash::new(hex::encode(Sha256::digest(token.as_bytes())))
}

/// Equal without telling by the time taken where they differ.
pub fn tokens_match(presented: &str, expected: &str) -> bool {
    !expected.is_empty() && bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
}

/// A `Set-Cookie` value for one of the console's cookies.
pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age_secs: i64) -> HeaderValue {
    let secure = state.settings().tokens.issuer.starts_with("https://");
    let cookie = Cookie::build((name, value))
        .path("/admin")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(max_age_secs))
        .build();
    HeaderValue::from_str(&cookie.to_string()).expect("cookie names and tokens are ASCII")
}

/// A signed-in operator: the admin key's name and the session's CSRF token. A request
/// without a live session is sent to the sign-in page.
#[derive(Debug, Clone)]
pub struct Operator {
    pub key_name: String,
    pub csrf: String,
    pub(super) token_hash: ConsoleTokenHash,
}

impl Operator {
    /// Refuse a form whose CSRF token is not this session's.
    pub fn check_csrf(&self, presented: &str) -> Result<(), Refusal> {
        if tokens_match(presented, &self.csrf) {
            Ok(())
        } else {
            Err(Refusal::FormExpired)
        }
    }
}

/// Why a request has no operator: it goes to the sign-in page (or gets the error page).
pub enum NoOperator {
    SignIn,
    Failed(Refusal),
}

impl IntoResponse for NoOperator {
    fn into_response(self) -> Response {
        match self {
            NoOperator::SignIn => Redirect::to("/admin/sign-in").into_response(),
            NoOperator::Failed(refusal) => refusal.into_response(),
        }
    }
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = NoOperator;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(NoOperator::SignIn);
        };
        let token_hash = hash_token(token);
        let store = state.store();
        let failed = |error| NoOperator::Failed(Refusal::from(error));
        let Some(session) = store.console_session(&token_hash).await.map_err(failed)? else {
            return Err(NoOperator::SignIn);
        };
        let now = state.now();
        let expired = now - session.last_seen_at >= IDLE_TIMEOUT
            || now - session.created_at >= ABSOLUTE_TIMEOUT
            || !session.scopes.contains(AdminScope::Console);
        if expired {
            store
                .end_console_session(&token_hash, None, now)
                .await
                .map_err(failed)?;
            return Err(NoOperator::SignIn);
        }
        if now - session.last_seen_at >= TOUCH_RESOLUTION {
            store
                .touch_console_session(&token_hash, now)
                .await
                .map_err(failed)?;
        }
        Ok(Operator {
            key_name: session.key_name,
            csrf: session.csrf,
            token_hash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_exact_name_in_any_cookie_header() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; wxlogin_console_csrf=x"),
        );
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("wxlogin_console=tok"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("tok"));
        assert_eq!(cookie(&headers, SIGN_IN_CSRF_COOKIE), Some("x"));
        assert_eq!(cookie(&headers, "wxlogin"), None);
    }

    #[test]
    fn an_empty_expected_token_matches_nothing() {
        assert!(tokens_match("abc", "abc"));
        assert!(!tokens_match("abd", "abc"));
        assert!(!tokens_match("", ""));
    }
}
