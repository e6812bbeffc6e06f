//! `POST /v1/introspect` (RFC 7662) for services that must see a logout at once: the token's
//! signature, expiry, audience and issuer are checked, and then its session in the
//! database. Form or JSON body `token=…`; an admin key with `tokens:introspect`.
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::AdminScope;
use crate::error::{ApiError, ErrorBody};
use crate::extractors::{AdminCaller, ApiJson};
use crate::sessions::AuthError;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
pub struct IntrospectionRequest {
    /// The access token to check.
    pub token: String,
    /// Accepted and ignored (only access tokens are introspected).
    #[serde(default)]
    pub token_type_hint: Option<String>,
}

/// `{active: false}` alone for a bad, expired or revoked token; the claims when active.
#[derive(Debug, Serialize, ToSchema)]
pub struct Introspection {
    pub active: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub claims: Option<ActiveClaims>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActiveClaims {
    pub sub: String,
    pub aud: String,
    pub sid: String,
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Always `access_token`.
    pub token_type: &'static str,
}

fn parse_request(headers: &HeaderMap, body: &Bytes) -> Result<IntrospectionRequest, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let request: IntrospectionRequest = match content_type.as_str() {
        "application/x-www-form-urlencoded" => serde_urlencoded::from_bytes(body)
            .map_err(|_| ApiError::invalid_request("the form must carry token=<access token>"))?,
        "application/json" => serde_json::from_slice(body)
            .map_err(|_| ApiError::invalid_request("the JSON body must be {\"token\": \"…\"}"))?,
        _ => {
            return Err(ApiError::invalid_request(
                "send token=… as application/x-www-form-urlencoded or JSON",
            ))
        }
    };
    if request.token.trim().is_empty() || request.token.len() > 4096 {
        return Err(ApiError::invalid_request("token must be an access token"));
    }
    Ok(request)
}

/// Is this access token active?
#[utoipa::path(post, path = "/v1/introspect", tag = "admin", request_body(
        content = IntrospectionRequest,
        content_type = "application/x-www-form-urlencoded",
        description = "RFC 7662: token=… (JSON is accepted too)"),
    security(("admin_key" = ["tokens:introspect"])),
    responses(
        (status = 200, description = "Active with its claims, or {\"active\": false}", body = Introspection),
        (status = 400, description = "invalid_request: no token", body = ErrorBody),
        (status = 401, description = "unauthorized: missing or unknown admin key", body = ErrorBody),
        (status = 403, description = "forbidden: the key lacks tokens:introspect", body = ErrorBody),
    ))]
pub async fn introspect(
    State(state): State<AppState>,
    caller: AdminCaller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<ApiJson<Introspection>, ApiError> {
    caller.require(AdminScope::TokensIntrospect)?;
    let request = parse_request(&headers, &body)?;
    let inactive = || {
        ApiJson(Introspection {
            active: false,
            claims: None,
        })
    };
    match state
        .sessions()
        .live_claims(request.token.trim(), state.now())
        .await
    {
        Ok(claims) => Ok(ApiJson(Introspection {
            active: true,
            claims: Some(ActiveClaims {
                sub: claims.sub,
                aud: claims.aud,
                sid: claims.sid,
                iss: claims.iss,
                iat: claims.iat,
                exp: claims.exp,
                roles: claims.roles,
                token_type: "access_token",
            }),
        })),
        Err(AuthError::Storage(error)) => Err(error.into()),
        Err(AuthError::InvalidToken(_) | AuthError::SessionEnded) => Ok(inactive()),
    }
}
