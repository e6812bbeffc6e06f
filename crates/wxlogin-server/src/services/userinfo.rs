//! `POST /v1/me/userinfo` (legacy getUserInfo / getUserProfile data) and `PATCH /v1/me`
//! (the avatar-and-nickname fill-in flow).
use wxlogin_crypto::{decrypt_user_info, verify_raw_data_signature};

use crate::domain::{AvatarUrl, Nickname};
use crate::error::ApiError;
use crate::sessions::AuthContext as Caller;
use crate::state::AppState;
use crate::storage::User;

use super::phone::watermark_policy;

/// The legacy user-info bundle as the client sends it.
pub struct SignedUserInfo<'a> {
    pub raw_data: &'a str,
    pub signature: &'a str,
    pub encrypted_data: &'a str,
    pub iv: &'a str,
}

/// Check the rawData signature, decrypt, check the watermark, and store nickname and avatar.
pub async fn apply_user_info(
    state: &AppState,
    caller: &Caller,
    info: SignedUserInfo<'_>,
) -> Result<User, ApiError> {
    let key = state
        .store()
        .session_key(&caller.appid, &caller.openid)
        .await?
        .ok_or_else(ApiError::missing_session_key)?;
    verify_raw_data_signature(info.raw_data, info.signature, &key)?;
    let payload = decrypt_user_info(&key, info.iv, info.encrypted_data)?;
    watermark_policy(state, caller).check(payload.watermark.as_ref(), state.now())?;
    if let Some(open_id) = payload.open_id.as_deref() {
        if open_id != caller.openid {
            return Err(ApiError::invalid_request(
                "the user info belongs to another user",
            ));
        }
    }
    // WeChat's values are still user input: keep what passes our own rules, drop the rest.
    let nickname = payload
        .nick_name
        .as_deref()
        .and_then(|text| Nickname::parse(text).ok());
    let avatar_url = payload
        .avatar_url
        .as_deref()
        .and_then(|text| AvatarUrl::parse(text).ok());
    update_profile(state, caller, nickname, avatar_url).await
}

/// Store the given profile fields (absent ones stay) and return the user.
pub async fn update_profile(
    state: &AppState,
    caller: &Caller,
    nickname: Option<Nickname>,
    avatar_url: Option<AvatarUrl>,
) -> Result<User, ApiError> {
    let user = state
        .store()
        .update_profile_and_read(
            &caller.user_id,
            &caller.appid,
            &caller.openid,
            nickname.as_ref().map(Nickname::as_str),
            avatar_url.as_ref().map(AvatarUrl::as_str),
            state.now(),
        )
        .await?
        .ok_or_else(ApiError::user_gone)?;
    tracing::info!(user_id = %caller.user_id, nickname_changed = nickname.is_some(), avatar_changed = avatar_url.is_some(), "profile updated");
    Ok(user)
}
