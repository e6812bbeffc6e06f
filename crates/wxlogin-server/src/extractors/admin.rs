//! `Authorization: Bearer <admin key>` on the admin routes. A missing or unknown key is
//! 401 `unauthorized`; a key without the route's scope is 403 `forbidden` (checked by the
//! handler with [`AdminCaller::require`], so each route names its scope where it is
//! defined). A mini program's access token is never an admin key: anything without the
//! key's `wxa_` shape is refused before the database is asked.
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::auth::bearer_token;
use crate::domain::{hash_admin_key, AdminKeySecret, AdminScope, AdminScopes};
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// The admin key a request came with.
#[derive(Debug, Clone)]
pub struct AdminCaller {
    /// The key's name (audit log, logs); never the key.
    pub name: String,
    pub scopes: AdminScopes,
}

impl AdminCaller {
    /// 403 unless the key holds `scope`.
    pub fn require(&self, scope: AdminScope) -> Result<(), ApiError> {
        if self.scopes.contains(scope) {
            return Ok(());
        }
        Err(ApiError::new(
            ErrorCode::Forbidden,
            format!("this admin key lacks the {scope} scope"),
        ))
    }
}

impl FromRequestParts<AppState> for AdminCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let presented = bearer_token(parts, "admin key")?;
        if !AdminKeySecret::looks_like_one(presented) {
            return Err(ApiError::unauthorized(
                "this route needs an admin API key (wxlogin admin-keys create), not an access token",
            ));
        }
        let record = state
            .store()
            .admin_key_by_hash(&hash_admin_key(presented), state.now())
            .await?
            .ok_or_else(|| ApiError::unauthorized("unknown or revoked admin key"))?;
        Ok(AdminCaller {
            name: record.name,
            scopes: record.scopes,
        })
    }
}
