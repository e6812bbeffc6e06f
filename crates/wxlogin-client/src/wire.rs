//! Successful answers as WeChat writes them. Unknown fields are ignored.
use serde::Deserialize;
use wxlogin_crypto::PhoneNumberPayload;

#[derive(Deserialize)]
pub(crate) struct Code2SessionAnswer {
    pub openid: String,
    pub session_key: String,
    #[serde(default)]
    pub unionid: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct AccessTokenAnswer {
    pub access_token: String,
    /// Documented as always present; 7200 (the documented lifetime) if it is not.
    #[serde(default = "default_expires_in")]
    pub expires_in: i64,
}

fn default_expires_in() -> i64 {
    7200
}

#[derive(Deserialize)]
pub(crate) struct PhoneNumberAnswer {
    pub phone_info: PhoneNumberPayload,
}

#[derive(Deserialize)]
pub(crate) struct ResetSessionKeyAnswer {
    #[serde(default)]
    pub openid: Option<String>,
    pub session_key: String,
}
