//! A user's phone number, one type wherever the server holds one, and its one masking rule
//! (`wxlogin_crypto::mask_phone_number`, shared with the crypto and client crates) for logs,
//! `Debug`, the console and the CLI.
use std::fmt;

use wxlogin_client::PhoneInfo;
pub use wxlogin_crypto::mask_phone_number;
use wxlogin_crypto::PhoneNumberPayload;

/// A phone number's text where it travels alone (a user's `phone_number`): serialised as
/// it is, read as `&str`, masked by `Debug`, so the structs that carry it derive `Debug`.
#[derive(Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct PhoneText(String);

impl PhoneText {
    pub fn new(text: impl Into<String>) -> Self {
        PhoneText(text.into())
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl From<&str> for PhoneText {
    fn from(text: &str) -> Self {
        PhoneText(text.to_owned())
    }
}

impl std::ops::Deref for PhoneText {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PhoneText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mask_phone_number(&self.0))
    }
}

/// A phone number as WeChat reports it. `Debug` masks it.
#[derive(Clone, PartialEq, Eq)]
pub struct PhoneNumber {
    /// With country code for foreign numbers, e.g. `+1 2025550123` or `13800138000`.
    pub phone_number: String,
    /// Without country code.
    pub pure_phone_number: String,
    pub country_code: String,
}

impl PhoneNumber {
    /// The number as it may appear in a log line or on a console page.
    pub fn masked(&self) -> String {
        mask_phone_number(&self.phone_number)
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhoneNumber")
            .field("phone_number", &self.masked())
            .field("country_code", &self.country_code)
            .finish_non_exhaustive()
    }
}

/// Decrypted legacy `getPhoneNumber` data (its watermark checked apart).
impl From<PhoneNumberPayload> for PhoneNumber {
    fn from(payload: PhoneNumberPayload) -> Self {
        PhoneNumber {
            phone_number: payload.phone_number,
            pure_phone_number: payload.pure_phone_number,
            country_code: payload.country_code,
        }
    }
}

/// `getuserphonenumber`'s answer (its watermark checked apart).
impl From<PhoneInfo> for PhoneNumber {
    fn from(info: PhoneInfo) -> Self {
        PhoneNumber {
            phone_number: info.phone_number,
            pure_phone_number: info.pure_phone_number,
            country_code: info.country_code,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_full_number() {
        let phone = PhoneNumber {
            phone_number: "13812345678".into(),
            pure_phone_number: "13812345678".into(),
            country_code: "86".into(),
        };
        let rendered = format!("{phone:?}");
        assert!(!rendered.contains("13812345678"), "{rendered}");
        assert!(rendered.contains("138****5678"), "{rendered}");
        assert_eq!(phone.masked(), "138****5678");
    }
}
