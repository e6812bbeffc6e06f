//! `Authorization: Bearer <access token>`: verified offline (signature, expiry, audience)
//! and then against the database, so a logged-out session is refused at once.
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::sessions::AuthContext;
use crate::state::AppState;
use crate::storage::User;

/// The caller of an authenticated route.
#[derive(Debug, Clone)]
pub struct Authenticated(pub AuthContext);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts, "access_token")?;
        match state.sessions().authenticate(token, state.now()).await {
            Ok(context) => Ok(Authenticated(context)),
            Err(error) => Err(error.into()),
        }
    }
}

/// The caller of an authenticated route together with its user, read with the session in
/// one statement (for routes that answer with the user).
#[derive(Debug, Clone)]
pub struct AuthenticatedUser(pub AuthContext, pub User);

impl FromRequestParts<AppState> for AuthenticatedUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts, "access_token")?;
        match state
            .sessions()
            .authenticate_with_user(token, state.now())
            .await
        {
            Ok((context, Some(user))) => Ok(AuthenticatedUser(context, user)),
            Ok((_, None)) => Err(ApiError::user_gone()),
            Err(error) => Err(error.into()),
        }
    }
}

/// The credential of `Authorization: Bearer <credential>` (`what` names it in the answer).
pub(super) fn bearer_token<'a>(parts: &'a Parts, what: &str) -> Result<&'a str, ApiError> {
    let expected = || ApiError::unauthorized(format!("expected Authorization: Bearer <{what}>"));
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized(format!("missing Authorization: Bearer <{what}>")))?;
    let value = header
        .to_str()
        .map_err(|_| ApiError::unauthorized("the Authorization header is not readable text"))?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(expected)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(expected());
    }
    Ok(token.trim())
}
