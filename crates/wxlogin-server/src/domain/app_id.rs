use std::fmt;

use serde::{Deserialize, Serialize};

use super::DomainError;

/// A mini program's AppID. WeChat's are `wx` + 16 hex digits; any short ASCII
/// identifier is accepted so that simulators and test apps work too.
///
/// `Deserialize` takes the text as it is: it reads our own tokens' claims, never a client's
/// request (those go through [`AppId::parse`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AppId(String);

impl AppId {
    pub const MAX_LEN: usize = 64;

    pub fn parse(text: &str) -> Result<Self, DomainError> {
        if text.is_empty() || text.len() > Self::MAX_LEN {
            return Err(DomainError(format!(
                "appid must be 1 to {} characters",
                Self::MAX_LEN
            )));
        }
        if !text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(DomainError(
                "appid may only hold ASCII letters, digits, '_' and '-'".to_owned(),
            ));
        }
        Ok(AppId(text.to_owned()))
    }

    /// An appid of the server's own settings (checked at start by `Settings::validate`),
    /// or of one of our rows.
    pub fn configured(text: impl Into<String>) -> Self {
        AppId(text.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// An appid read from one of our own rows.
impl From<String> for AppId {
    fn from(text: String) -> Self {
        AppId(text)
    }
}

impl From<&str> for AppId {
    fn from(text: &str) -> Self {
        AppId(text.to_owned())
    }
}

impl PartialEq<str> for AppId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for AppId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// Read access as text; a `&str` becomes an appid only through [`AppId::parse`] or
/// [`AppId::configured`].
impl std::ops::Deref for AppId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AppId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_wechat_and_test_appids() {
        assert_eq!(
            AppId::parse("wx1234567890abcdef").unwrap().as_str(),
            "wx1234567890abcdef"
        );
        assert!(AppId::parse("wx0000000000demo").is_ok());
    }

    #[test]
    fn refuses_empty_long_and_odd_characters() {
        assert!(AppId::parse("").is_err());
        assert!(AppId::parse(&"a".repeat(65)).is_err());
        assert!(AppId::parse("wx 123").is_err());
        assert!(AppId::parse("wx\n123").is_err());
    }
}
