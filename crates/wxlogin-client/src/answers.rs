//! Typed successful answers.
use std::fmt;

use wxlogin_crypto::{mask_phone_number, Redacted, SessionKey, Watermark};

/// Result of `jscode2session`.
#[derive(Debug, Clone)]
pub struct Code2Session {
    pub openid: String,
    /// Only when the mini program is bound to an Open Platform account.
    pub unionid: Option<String>,
    pub session_key: SessionKey,
}

/// Result of `resetusersessionkey`: the user's new key (the old one is dead).
#[derive(Debug, Clone)]
pub struct ResetSessionKey {
    pub openid: String,
    pub session_key: SessionKey,
}

/// `phone_info` of `getuserphonenumber`.
#[derive(Clone, PartialEq, Eq)]
pub struct PhoneInfo {
    /// With the country prefix for non-mainland numbers.
    pub phone_number: String,
    /// Without the prefix.
    pub pure_phone_number: String,
    /// WeChat sends a number or a string; always text here.
    pub country_code: String,
    pub watermark: Option<Watermark>,
}

impl fmt::Debug for PhoneInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhoneInfo")
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

/// An access token and when it expires. Never printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    token: Redacted<String>,
    expires_at_unix: i64,
}

impl AccessToken {
    pub fn new(token: String, expires_at_unix: i64) -> Self {
        AccessToken {
            token: Redacted::new(token),
            expires_at_unix,
        }
    }

    pub fn expose(&self) -> &str {
        self.token.expose()
    }

    /// Unix seconds.
    pub fn expires_at_unix(&self) -> i64 {
        self.expires_at_unix
    }
}

#[cfg(test)]
mod tests {
    use super::PhoneInfo;

    #[test]
    fn phone_info_debug_shows_numbers_masked_by_the_one_rule() {
        let info = PhoneInfo {
            phone_number: "13800138000".into(),
            pure_phone_number: "13800138000".into(),
            country_code: "86".into(),
            watermark: None,
        };
        let shown = format!("{info:?}");
        assert!(!shown.contains("13800138000"), "{shown}");
        assert!(shown.contains("138****8000"), "{shown}");
    }
}
