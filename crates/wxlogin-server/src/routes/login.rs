//! Login, refresh, logout.
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::extractors::{ApiJson, Authenticated, ClientAddress};
use crate::routes::user::UserBody;
use crate::services::login::user_for_code;
use crate::sessions::TokenPair;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    /// The code of `wx.login()` (valid 5 minutes, single use; a retry of the same code
    /// within the retry window gets a fresh token pair for the same user).
    pub code: String,
    /// Required when the server serves more than one mini program.
    #[serde(default)]
    pub appid: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// A token pair and the user it is for.
#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    #[serde(flatten)]
    pub tokens: TokenPair,
    pub user: UserBody,
}

impl std::fmt::Debug for LoginResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginResponse")
            .field("tokens", &self.tokens)
            .field("user", &self.user)
            .finish()
    }
}

/// Exchange a `wx.login` code for our own tokens.
#[utoipa::path(post, path = "/v1/login", tag = "login", request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = LoginResponse),
        (status = 400, description = "invalid_request, or invalid_code (WeChat 40029)", body = ErrorBody),
        (status = 403, description = "login_refused: WeChat blocked the user (40226)", body = ErrorBody),
        (status = 409, description = "code_used: the code was exchanged before and the retry window has passed", body = ErrorBody),
        (status = 429, description = "rate_limited: too many logins from this address (Retry-After), or WeChat's quota (45011, 45009)", body = ErrorBody),
        (status = 502, description = "upstream_unavailable: WeChat rejected this server's credentials", body = ErrorBody),
        (status = 503, description = "upstream_unavailable: WeChat busy or unreachable", body = ErrorBody),
    ))]
pub async fn login(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<ApiJson<LoginResponse>, ApiError> {
    state.rate_limits().check_login(client)?;
    let login = user_for_code(&state, request.appid.as_deref(), &request.code).await?;
    let tokens = match login.take_session() {
        Some(stored) => {
            state
                .sessions()
                .issue_planned(&login.user, stored, state.now())
                .await?
        }
        None => state.sessions().issue(&login.user, state.now()).await?,
    };
    Ok(ApiJson(LoginResponse {
        tokens,
        user: login.user.into(),
    }))
}

/// Spend a refresh token for a new pair. Reusing a spent one revokes its whole family.
#[utoipa::path(post, path = "/v1/token/refresh", tag = "login", request_body = RefreshRequest,
    responses(
        (status = 200, description = "New pair (the presented refresh token is now spent)", body = LoginResponse),
        (status = 400, description = "invalid_request", body = ErrorBody),
        (status = 401, description = "unauthorized: unknown, expired or reused refresh token, or ended session", body = ErrorBody),
    ))]
pub async fn refresh(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<RefreshRequest>,
) -> Result<ApiJson<LoginResponse>, ApiError> {
    let token = request.refresh_token.trim();
    if token.is_empty() || token.len() > 512 {
        return Err(ApiError::invalid_request(
            "refresh_token must be the refresh token of a login",
        ));
    }
    let (tokens, user) = state.sessions().refresh(token, state.now()).await?;
    Ok(ApiJson(LoginResponse {
        tokens,
        user: user.into(),
    }))
}

/// End the current session: its access and refresh tokens stop working at once.
#[utoipa::path(post, path = "/v1/logout", tag = "login", security(("bearer" = [])),
    responses(
        (status = 204, description = "Session revoked"),
        (status = 401, description = "unauthorized", body = ErrorBody),
    ))]
pub async fn logout(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<StatusCode, ApiError> {
    state
        .sessions()
        .logout(&caller.session_id, state.now())
        .await?;
    tracing::info!(user_id = %caller.user_id, session_id = %caller.session_id, "logged out");
    Ok(StatusCode::NO_CONTENT)
}
