//! Typed plaintexts of the two payloads a login server acts on. Unknown fields are
//! ignored: WeChat adds fields over time and never removes old ones.
use serde::{Deserialize, Deserializer, Serialize};

use crate::watermark::Watermark;

/// Legacy `getPhoneNumber` plaintext; also the `phone_info` of `getuserphonenumber`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhoneNumberPayload {
    /// With the country prefix for non-mainland numbers.
    pub phone_number: String,
    /// Without the prefix.
    pub pure_phone_number: String,
    /// The doc table says string, the doc example prints a number: both are accepted.
    #[serde(deserialize_with = "string_or_number")]
    pub country_code: String,
    pub watermark: Option<Watermark>,
}

/// `getUserInfo` / `getUserProfile` plaintext. Since 2021 most fields may be empty or
/// absent, and `getUserProfile` carries no openId/unionId, so everything is optional.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInfoPayload {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nick_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gender: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub province: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub union_id: Option<String>,
    pub watermark: Option<Watermark>,
}

fn string_or_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum StringOrNumber {
        String(String),
        Number(serde_json::Number),
    }
    Ok(match StringOrNumber::deserialize(deserializer)? {
        StringOrNumber::String(s) => s,
        StringOrNumber::Number(n) => n.to_string(),
    })
}
