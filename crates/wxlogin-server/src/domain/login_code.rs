use wxlogin_crypto::Redacted;

use super::DomainError;

/// The one-time code of `wx.login`. It is a credential for five minutes, so it is
/// never printed; the store keeps only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginCode(Redacted<String>);

impl LoginCode {
    /// Real codes are about 32 characters; anything beyond this is not a code.
    pub const MAX_LEN: usize = 256;

    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(DomainError("code must not be empty".to_owned()));
        }
        if text.len() > Self::MAX_LEN {
            return Err(DomainError(format!(
                "code is longer than {} characters; send the code of wx.login",
                Self::MAX_LEN
            )));
        }
        if !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(DomainError(
                "code may only hold printable ASCII characters".to_owned(),
            ));
        }
        Ok(LoginCode(Redacted::new(text.to_owned())))
    }

    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_debug_hides_the_code() {
        let code = LoginCode::parse(" 083tjT000WK8kM17Dw000FdPPi4tjT0F ").unwrap();
        assert_eq!(code.expose(), "083tjT000WK8kM17Dw000FdPPi4tjT0F");
        assert!(!format!("{code:?}").contains("083tjT"));
    }

    #[test]
    fn refuses_empty_long_and_unprintable() {
        assert!(LoginCode::parse("  ").is_err());
        assert!(LoginCode::parse(&"a".repeat(257)).is_err());
        assert!(LoginCode::parse("ab\u{0}c").is_err());
        assert!(LoginCode::parse("ab cd").is_err());
    }
}
