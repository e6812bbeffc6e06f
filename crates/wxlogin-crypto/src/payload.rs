//! Typed plaintexts of the two payloads a login server acts on. Unknown fields are
//! ignored: WeChat adds fields over time and never removes old ones.
use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::phone_mask::mask_phone_number;
use crate::watermark::Watermark;

/// Legacy `getPhoneNumber` plaintext; also the `phone_info` of `getuserphonenumber`.
///
/// `Debug` masks the numbers (all but the last four characters): full phone numbers never
/// reach logs.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhoneNumberPayload {
    /// With the country prefix for non-mainland numbers.
    pub phone_number: String,
    /// Without the prefix.
    pub pure_phone_number: String,
    /// The doc table says string, the doc example prints a number: both are accepted and
    /// kept as text (`"86"`).
    #[serde(deserialize_with = "string_or_number")]
    pub country_code: String,
    /// Present in real data; check it with [`crate::WatermarkPolicy::check`].
    pub watermark: Option<Watermark>,
}

impl fmt::Debug for PhoneNumberPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhoneNumberPayload")
            .field("phone_number", &mask_phone_number(&self.phone_number))
            .field(
                "pure_phone_number",
                &mask_phone_number(&self.pure_phone_number),
            )
            .field("country_code", &self.country_code)
            .field("watermark", &self.watermark)
            .finish()
    }
}

/// `getUserInfo` / `getUserProfile` plaintext. Since 2021 most fields may be empty or
/// absent, and `getUserProfile` carries no openId/unionId, so everything is optional.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserInfoPayload {
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Absent from `getUserProfile` data.
    pub open_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// `微信用户` for apps released after 2022-11-08 (anonymous).
    pub nick_name: Option<String>,
    /// 0 unknown, 1 male, 2 female.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gender: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Forced to `zh_CN` since 2021.
    pub language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Empty or absent since 2021.
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Empty or absent since 2021.
    pub province: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Empty or absent since 2021.
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The last path segment is a size (0 = 640 px, 46, 64, 96, 132); dies when the user
    /// changes avatar.
    pub avatar_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Only when the app is bound to an open platform account; absent from
    /// `getUserProfile` data.
    pub union_id: Option<String>,
    /// Check it with [`crate::WatermarkPolicy::check`].
    pub watermark: Option<Watermark>,
}

fn string_or_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    struct StringOrNumber;

    impl Visitor<'_> for StringOrNumber {
        type Value = String;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or a number")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<String, E> {
            Ok(text.to_owned())
        }

        fn visit_u64<E: de::Error>(self, number: u64) -> Result<String, E> {
            Ok(number.to_string())
        }

        fn visit_i64<E: de::Error>(self, number: i64) -> Result<String, E> {
            Ok(number.to_string())
        }
    }

    deserializer.deserialize_any(StringOrNumber)
}
