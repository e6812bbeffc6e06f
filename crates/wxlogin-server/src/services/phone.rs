//! `POST /v1/me/phone`: the caller's phone number, by the button's `code` (current API)
//! or by `encryptedData` + `iv` (legacy API, decrypted with the stored session key).
use wxlogin_client::ClientError;
use wxlogin_crypto::{decrypt_phone_number, Watermark, WatermarkPolicy};

use crate::domain::MaskedPhone;
use crate::error::ApiError;
use crate::sessions::AuthContext as Caller;
use crate::state::AppState;
use crate::storage::PhoneNumber;

use super::upstream_error;

/// Exchange a phone-number code through getuserphonenumber and store the number.
pub async fn phone_by_code(
    state: &AppState,
    caller: &Caller,
    code: &str,
) -> Result<PhoneNumber, ApiError> {
    let code = code.trim();
    if code.is_empty() || code.len() > 512 {
        return Err(ApiError::invalid_request(
            "code must be the phone-number button's code",
        ));
    }
    let app = state
        .app(&caller.appid)
        .ok_or_else(|| caller_app_gone(caller))?;
    // `--wechat-timeout` bounds each HTTP call, but this request may also wait for an
    // access-token fetch and its retries; the client must hear back within the deadline
    // all the same. A fetch under way keeps running (it is its own task) and fills the
    // cache for the next request.
    let deadline = state.settings().wechat_timeout;
    // Only where configured: the optional openid has been reported to make WeChat answer
    // a format error, and the call works without it.
    let openid = state
        .settings()
        .phone_send_openid
        .then_some(caller.openid.as_str());
    let info = tokio::time::timeout(
        deadline,
        state.wechat().get_user_phone_number(app, code, openid),
    )
    .await
    .unwrap_or(Err(ClientError::Timeout))
    .map_err(|error| upstream_error("phone number", &error))?;
    // WeChat signs the code path too; when it says whose data this is, it must be ours.
    if let Some(watermark) = &info.watermark {
        check_watermark_appid(state, caller, watermark)?;
    }
    let phone = PhoneNumber {
        phone_number: info.phone_number,
        pure_phone_number: info.pure_phone_number,
        country_code: info.country_code,
    };
    store_phone(state, caller, phone, "code").await
}

/// Decrypt legacy `getPhoneNumber` data with the caller's session key and store the number.
pub async fn phone_by_encrypted_data(
    state: &AppState,
    caller: &Caller,
    encrypted_data: &str,
    iv: &str,
) -> Result<PhoneNumber, ApiError> {
    let key = state
        .store()
        .session_key(&caller.appid, &caller.openid)
        .await?
        .ok_or_else(ApiError::missing_session_key)?;
    let payload = decrypt_phone_number(&key, iv, encrypted_data)?;
    watermark_policy(state, caller).check(payload.watermark.as_ref(), state.now())?;
    let phone = PhoneNumber {
        phone_number: payload.phone_number,
        pure_phone_number: payload.pure_phone_number,
        country_code: payload.country_code,
    };
    store_phone(state, caller, phone, "encrypted_data").await
}

pub(super) fn watermark_policy(state: &AppState, caller: &Caller) -> WatermarkPolicy {
    WatermarkPolicy {
        appid: caller.appid.clone(),
        max_age_secs: Some(state.settings().watermark_max_age.as_secs() as i64),
    }
}

fn check_watermark_appid(
    state: &AppState,
    caller: &Caller,
    watermark: &Watermark,
) -> Result<(), ApiError> {
    let policy = WatermarkPolicy {
        appid: caller.appid.clone(),
        max_age_secs: None,
    };
    Ok(policy.check(Some(watermark), state.now())?)
}

async fn store_phone(
    state: &AppState,
    caller: &Caller,
    phone: PhoneNumber,
    via: &'static str,
) -> Result<PhoneNumber, ApiError> {
    let stored = state
        .store()
        .set_phone_number(&caller.user_id, &phone, state.now())
        .await?;
    if !stored {
        return Err(ApiError::user_gone());
    }
    tracing::info!(user_id = %caller.user_id, phone = %MaskedPhone(&phone.phone_number), via, "phone number stored");
    Ok(phone)
}

pub(super) fn caller_app_gone(caller: &Caller) -> ApiError {
    ApiError::unauthorized(format!(
        "app {} is no longer configured on this server; log in again",
        caller.appid
    ))
}
