//! The device side: what a phone running the mini program would get from WeChat.
//! Each action is a method on [`Simulator`] (for in-process use) and a `/sim/*` route.
use std::fmt;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wxlogin_crypto::{encrypt_json, raw_data_signature, SessionKey, Watermark};

use crate::codes::PhoneGrant;
use crate::config::SimApp;
use crate::ids;
use crate::simulator::Simulator;

/// Why the device side refused; answered as HTTP 400 `{"error":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    #[error("invalid request body: {0}")]
    BadRequest(String),
    #[error("appid {0} is not registered with this simulator")]
    UnknownApp(String),
    #[error("user must be a non-empty name")]
    EmptyUser,
    #[error("phone must be 5 to 15 digits (mainland number without +86)")]
    InvalidPhone,
    #[error("user {user} has no session_key in app {appid} yet: mint a code with /sim/login and exchange it at /sns/jscode2session first")]
    NoSessionKey { appid: String, user: String },
}

impl IntoResponse for DeviceError {
    fn into_response(self) -> Response {
        (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response()
    }
}

/// `wx.login`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginCode {
    pub code: String,
}

/// What `<button open-type="getPhoneNumber">` hands the mini program: the code for
/// getuserphonenumber and the legacy encrypted payload. `Debug` hides the code, which is
/// as good as the phone number.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneGrantData {
    pub code: String,
    pub encrypted_data: String,
    pub iv: String,
}

impl fmt::Debug for PhoneGrantData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhoneGrantData")
            .field("code", &"<redacted>")
            .field("encrypted_data", &self.encrypted_data)
            .field("iv", &self.iv)
            .finish()
    }
}

/// What `wx.getUserInfo` hands the mini program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfoData {
    pub raw_data: String,
    pub signature: String,
    pub encrypted_data: String,
    pub iv: String,
}

#[derive(Deserialize)]
struct UserRequest {
    appid: String,
    user: String,
}

#[derive(Deserialize)]
struct PhoneRequest {
    appid: String,
    user: String,
    #[serde(default)]
    phone: Option<String>,
}

/// The legacy getPhoneNumber plaintext, in the doc's field order; countryCode is a string here.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LegacyPhonePayload<'a> {
    phone_number: &'a str,
    pure_phone_number: &'a str,
    country_code: &'a str,
    watermark: Watermark,
}

/// `rawData`: the public profile, compact JSON in this order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RawProfile {
    nick_name: String,
    gender: i64,
    language: &'static str,
    city: &'static str,
    province: &'static str,
    country: &'static str,
    avatar_url: String,
}

/// getUserInfo plaintext, in the doc's field order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserInfoPayload<'a> {
    open_id: &'a str,
    nick_name: &'a str,
    gender: i64,
    language: &'a str,
    city: &'a str,
    province: &'a str,
    country: &'a str,
    avatar_url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    union_id: Option<&'a str>,
    watermark: Watermark,
}

impl Simulator {
    /// `wx.login`: a fresh login code for `user` in `appid`.
    pub fn login_code(&self, appid: &str, user: &str) -> Result<LoginCode, DeviceError> {
        let now = self.now_unix();
        let mut world = self.world();
        let app = registered(&world.apps, appid, user)?;
        world.users.entry(&app, user);
        Ok(LoginCode {
            code: world.codes.mint_login(appid, user, now),
        })
    }

    /// The getPhoneNumber button: `phone` (default: the user's own, "138" + 8 digits).
    /// Needs the user's session key, which the legacy payload is encrypted under.
    pub fn phone_grant(
        &self,
        appid: &str,
        user: &str,
        phone: Option<&str>,
    ) -> Result<PhoneGrantData, DeviceError> {
        let pure = match phone {
            Some(phone)
                if (5..=15).contains(&phone.len()) && phone.bytes().all(|b| b.is_ascii_digit()) =>
            {
                phone.to_owned()
            }
            Some(_) => return Err(DeviceError::InvalidPhone),
            None => ids::default_phone(user),
        };
        let now = self.now_unix();
        let mut world = self.world();
        let app = registered(&world.apps, appid, user)?;
        let key = current_key(&world.users, &app, user)?;
        let grant = PhoneGrant {
            phone_number: pure.clone(),
            pure_phone_number: pure.clone(),
            country_code: "86".to_owned(),
            granted_at: now,
        };
        let payload = LegacyPhonePayload {
            phone_number: &grant.phone_number,
            pure_phone_number: &grant.pure_phone_number,
            country_code: &grant.country_code,
            watermark: Watermark {
                appid: appid.to_owned(),
                timestamp: now,
            },
        };
        let (encrypted_data, iv) = encrypt_json(&key, &ids::iv(), &payload);
        let code = world.codes.mint_phone(appid, user, grant, now);
        Ok(PhoneGrantData {
            code,
            encrypted_data,
            iv,
        })
    }

    /// `wx.getUserInfo`: the profile as rawData with its signature, and the encrypted payload
    /// (openId, unionId when the app has an open platform, watermark) under the current key.
    pub fn user_info(&self, appid: &str, user: &str) -> Result<UserInfoData, DeviceError> {
        let now = self.now_unix();
        let mut world = self.world();
        let app = registered(&world.apps, appid, user)?;
        let key = current_key(&world.users, &app, user)?;
        let record = world.users.entry(&app, user);
        let profile = RawProfile {
            nick_name: user.to_owned(),
            gender: ids::gender(user),
            language: "zh_CN",
            city: "Guangzhou",
            province: "Guangdong",
            country: "China",
            avatar_url: ids::avatar_url(user),
        };
        let raw_data = serde_json::to_string(&profile)
            .map_err(|error| DeviceError::BadRequest(error.to_string()))?;
        let payload = UserInfoPayload {
            open_id: &record.openid,
            nick_name: &profile.nick_name,
            gender: profile.gender,
            language: profile.language,
            city: profile.city,
            province: profile.province,
            country: profile.country,
            avatar_url: &profile.avatar_url,
            union_id: record.unionid.as_deref(),
            watermark: Watermark {
                appid: appid.to_owned(),
                timestamp: now,
            },
        };
        let (encrypted_data, iv) = encrypt_json(&key, &ids::iv(), &payload);
        let signature = raw_data_signature(&raw_data, &key);
        Ok(UserInfoData {
            raw_data,
            signature,
            encrypted_data,
            iv,
        })
    }
}

fn registered(
    apps: &std::collections::HashMap<String, SimApp>,
    appid: &str,
    user: &str,
) -> Result<SimApp, DeviceError> {
    if user.is_empty() {
        return Err(DeviceError::EmptyUser);
    }
    apps.get(appid)
        .cloned()
        .ok_or_else(|| DeviceError::UnknownApp(appid.to_owned()))
}

fn current_key(
    users: &crate::users::UserBook,
    app: &SimApp,
    user: &str,
) -> Result<SessionKey, DeviceError> {
    users
        .get(&app.appid, user)
        .and_then(|record| record.session_key.clone())
        .ok_or_else(|| DeviceError::NoSessionKey {
            appid: app.appid.clone(),
            user: user.to_owned(),
        })
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, DeviceError> {
    serde_json::from_slice(body).map_err(|error| DeviceError::BadRequest(error.to_string()))
}

pub(crate) async fn login(
    State(sim): State<Simulator>,
    body: Bytes,
) -> Result<Json<LoginCode>, DeviceError> {
    let request: UserRequest = parse(&body)?;
    sim.login_code(&request.appid, &request.user).map(Json)
}

pub(crate) async fn phone(
    State(sim): State<Simulator>,
    body: Bytes,
) -> Result<Json<PhoneGrantData>, DeviceError> {
    let request: PhoneRequest = parse(&body)?;
    sim.phone_grant(&request.appid, &request.user, request.phone.as_deref())
        .map(Json)
}

pub(crate) async fn user_info(
    State(sim): State<Simulator>,
    body: Bytes,
) -> Result<Json<UserInfoData>, DeviceError> {
    let request: UserRequest = parse(&body)?;
    sim.user_info(&request.appid, &request.user).map(Json)
}
