use std::fmt;

use super::DomainError;

/// A mini program's AppID. WeChat's are `wx` + 16 hex digits; any short ASCII
/// identifier is accepted so that simulators and test apps work too.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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

    pub fn as_str(&self) -> &str {
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
