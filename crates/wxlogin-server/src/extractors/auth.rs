//! `Authorization: Bearer <access token>`: verified offline (signature, expiry, audience)
//! and then against the database, so a logged-out session is refused at once.
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::services::storage_error;
use crate::sessions::{AuthContext, AuthError};
use crate::state::AppState;

/// The caller of an authenticated route.
#[derive(Debug, Clone)]
pub struct Authenticated(pub AuthContext);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts)?;
        match state.sessions().authenticate(token, state.now()).await {
            Ok(context) => Ok(Authenticated(context)),
            Err(AuthError::Storage(error)) => Err(storage_error(error)),
            Err(AuthError::InvalidToken(error)) => {
                tracing::debug!(reason = %error, "access token refused");
                Err(ApiError::unauthorized(format!(
                    "{error}; refresh it or log in again"
                )))
            }
            Err(AuthError::SessionEnded) => Err(ApiError::unauthorized(
                "the session has ended (logged out or revoked); log in again",
            )),
        }
    }
}

fn bearer_token(parts: &Parts) -> Result<&str, ApiError> {
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("missing Authorization: Bearer <access_token>"))?;
    let value = header
        .to_str()
        .map_err(|_| ApiError::unauthorized("the Authorization header is not readable text"))?;
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or_else(|| ApiError::unauthorized("expected Authorization: Bearer <access_token>"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::unauthorized(
            "expected Authorization: Bearer <access_token>",
        ));
    }
    Ok(token.trim())
}
