//! The current user: read, fill in nickname and avatar, bind a phone number, apply
//! legacy user info.
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{AvatarUrl, Nickname};
use crate::error::{ApiError, ErrorBody};
use crate::extractors::ClientAddress;
use crate::extractors::{ApiJson, Authenticated, AuthenticatedUser};
use crate::services::phone::{phone_by_code, phone_by_encrypted_data};
use crate::services::userinfo::{apply_user_info, update_profile, SignedUserInfo};
use crate::state::AppState;
use crate::storage::{Actor, User};

/// Close the account: the user, their identities, session keys, sessions and tokens are
/// deleted at once (WeChat's platform rules and PIPL); their next login creates a new user.
#[utoipa::path(delete, path = "/v1/me", tag = "user", security(("bearer" = [])),
    responses(
        (status = 204, description = "Account deleted; every token of it stops working"),
        (status = 401, description = "unauthorized", body = ErrorBody),
    ))]
pub async fn delete_me(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<axum::http::StatusCode, ApiError> {
    let deleted = state
        .store()
        .delete_user(&caller.user_id, Actor::TheUser, state.now())
        .await?;
    if !deleted {
        return Err(ApiError::user_gone());
    }
    tracing::info!(user_id = %caller.user_id, "account closed by its user");
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// The current user.
#[utoipa::path(get, path = "/v1/me", tag = "user", security(("bearer" = [])),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 401, description = "unauthorized", body = ErrorBody),
    ))]
pub async fn get_me(caller: AuthenticatedUser) -> ApiJson<User> {
    let AuthenticatedUser(_, user) = caller;
    ApiJson(user)
}

#[derive(Deserialize, ToSchema)]
pub struct ProfileUpdate {
    /// 1 to 64 characters (e.g. from `<input type="nickname">`).
    #[serde(default, alias = "nickName")]
    pub nickname: Option<String>,
    /// An absolute http(s) URL of at most 1024 bytes, where the client uploaded the avatar
    /// chosen with `<button open-type="chooseAvatar">`.
    #[serde(default, alias = "avatarUrl")]
    pub avatar_url: Option<String>,
}

/// Set nickname and/or avatar (the avatar-and-nickname fill-in flow). `PUT` is accepted
/// too, because `wx.request` cannot send `PATCH`.
#[utoipa::path(method(patch, put), path = "/v1/me", tag = "user", security(("bearer" = [])), request_body = ProfileUpdate,
    responses(
        (status = 200, description = "The updated user", body = User),
        (status = 400, description = "invalid_request", body = ErrorBody),
        (status = 401, description = "unauthorized", body = ErrorBody),
    ))]
pub async fn patch_me(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiJson(update): ApiJson<ProfileUpdate>,
) -> Result<ApiJson<User>, ApiError> {
    if update.nickname.is_none() && update.avatar_url.is_none() {
        return Err(ApiError::invalid_request("give nickname and/or avatar_url"));
    }
    let nickname = update
        .nickname
        .as_deref()
        .map(Nickname::parse)
        .transpose()?;
    let avatar_url = update
        .avatar_url
        .as_deref()
        .map(AvatarUrl::parse)
        .transpose()?;
    Ok(ApiJson(
        update_profile(&state, &caller, nickname, avatar_url).await?,
    ))
}

/// `{code}` (current API) or `{encrypted_data, iv}` (legacy API).
#[derive(Deserialize, ToSchema)]
pub struct PhoneRequest {
    /// `e.detail.code` of `<button open-type="getPhoneNumber">`.
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default, alias = "encryptedData")]
    pub encrypted_data: Option<String>,
    #[serde(default)]
    pub iv: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PhoneResponse {
    /// With the country prefix for non-mainland numbers.
    pub phone_number: String,
    pub pure_phone_number: String,
    pub country_code: String,
}

impl std::fmt::Debug for PhoneResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhoneResponse")
            .field(
                "phone_number",
                &crate::domain::MaskedPhone(&self.phone_number),
            )
            .field("country_code", &self.country_code)
            .finish_non_exhaustive()
    }
}

/// Bind the user's phone number.
#[utoipa::path(post, path = "/v1/me/phone", tag = "user", security(("bearer" = [])), request_body = PhoneRequest,
    responses(
        (status = 200, description = "The number, now stored on the user", body = PhoneResponse),
        (status = 400, description = "invalid_request, invalid_code, decrypt_failed (call wx.login again) or watermark_mismatch", body = ErrorBody),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 429, description = "rate_limited: too many requests for this user (Retry-After), or WeChat's quota", body = ErrorBody),
        (status = 502, description = "upstream_unavailable: WeChat rejected this server's credentials", body = ErrorBody),
        (status = 503, description = "upstream_unavailable", body = ErrorBody),
    ))]
pub async fn post_phone(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    Authenticated(caller): Authenticated,
    ApiJson(request): ApiJson<PhoneRequest>,
) -> Result<ApiJson<PhoneResponse>, ApiError> {
    state.rate_limits().check_open_data(&caller, client)?;
    let phone = match (&request.code, &request.encrypted_data, &request.iv) {
        (Some(code), _, _) => phone_by_code(&state, &caller, code).await?,
        (None, Some(encrypted_data), Some(iv)) => {
            phone_by_encrypted_data(&state, &caller, encrypted_data, iv).await?
        }
        _ => {
            return Err(ApiError::invalid_request(
                "give {code} or {encrypted_data, iv}",
            ))
        }
    };
    Ok(ApiJson(PhoneResponse {
        phone_number: phone.phone_number,
        pure_phone_number: phone.pure_phone_number,
        country_code: phone.country_code,
    }))
}

/// Legacy `wx.getUserInfo` / `wx.getUserProfile` data.
#[derive(Deserialize, ToSchema)]
pub struct UserInfoRequest {
    #[serde(alias = "rawData")]
    pub raw_data: String,
    pub signature: String,
    #[serde(alias = "encryptedData")]
    pub encrypted_data: String,
    pub iv: String,
}

/// Check and decrypt legacy user info and store nickname and avatar.
#[utoipa::path(post, path = "/v1/me/userinfo", tag = "user", security(("bearer" = [])), request_body = UserInfoRequest,
    responses(
        (status = 200, description = "The updated user", body = User),
        (status = 400, description = "invalid_request, signature_mismatch, decrypt_failed (call wx.login again) or watermark_mismatch", body = ErrorBody),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 429, description = "rate_limited: too many requests for this user (Retry-After)", body = ErrorBody),
    ))]
pub async fn post_userinfo(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    Authenticated(caller): Authenticated,
    ApiJson(request): ApiJson<UserInfoRequest>,
) -> Result<ApiJson<User>, ApiError> {
    state.rate_limits().check_open_data(&caller, client)?;
    let info = SignedUserInfo {
        raw_data: &request.raw_data,
        signature: &request.signature,
        encrypted_data: &request.encrypted_data,
        iv: &request.iv,
    };
    Ok(ApiJson(apply_user_info(&state, &caller, info).await?))
}
