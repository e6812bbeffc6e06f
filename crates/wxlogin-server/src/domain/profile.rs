//! The avatar-and-nickname fill-in values. Both come from the client unchecked by
//! anyone we trust, so they are bounded and cleaned here.
use super::DomainError;

/// A display name: 1 to 64 characters, no control characters, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nickname(String);

impl Nickname {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(DomainError("nickname must not be empty".to_owned()));
        }
        if text.chars().count() > Self::MAX_CHARS {
            return Err(DomainError(format!(
                "nickname must be at most {} characters",
                Self::MAX_CHARS
            )));
        }
        if text.chars().any(char::is_control) {
            return Err(DomainError(
                "nickname must not contain control characters".to_owned(),
            ));
        }
        Ok(Nickname(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// An avatar address: an absolute http(s) URL with a host, at most 1024 bytes, kept in
/// the parser's serialization. The WHATWG parser repairs what it reads (drops tabs and
/// newlines, supplies a missing `//`, turns `\` into `/`), so the text as sent is not
/// the URL that was validated; storing it would hand a differently-parsing consumer
/// something else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvatarUrl(String);

impl AvatarUrl {
    pub const MAX_LEN: usize = 1024;

    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let text = text.trim();
        if text.len() > Self::MAX_LEN {
            return Err(DomainError(format!(
                "avatar_url must be at most {} bytes",
                Self::MAX_LEN
            )));
        }
        let url = url::Url::parse(text)
            .map_err(|_| DomainError("avatar_url must be an absolute http(s) URL".to_owned()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
            return Err(DomainError(
                "avatar_url must be an absolute http(s) URL".to_owned(),
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(DomainError(
                "avatar_url must not carry credentials".to_owned(),
            ));
        }
        let normalized = String::from(url);
        if normalized.len() > Self::MAX_LEN {
            return Err(DomainError(format!(
                "avatar_url must be at most {} bytes",
                Self::MAX_LEN
            )));
        }
        Ok(AvatarUrl(normalized))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nickname_bounds() {
        assert_eq!(Nickname::parse("  微信用户 ").unwrap().as_str(), "微信用户");
        assert!(Nickname::parse(&"字".repeat(64)).is_ok());
        assert!(Nickname::parse(&"字".repeat(65)).is_err());
        assert!(Nickname::parse("").is_err());
        assert!(Nickname::parse("a\u{7}b").is_err());
    }

    #[test]
    fn avatar_url_must_be_web_url() {
        assert!(AvatarUrl::parse("https://thirdwx.qlogo.cn/mmopen/vi_32/abc/132").is_ok());
        assert!(AvatarUrl::parse("http://example.com/a.png").is_ok());
        assert!(AvatarUrl::parse("javascript:alert(1)").is_err());
        assert!(AvatarUrl::parse("wxfile://tmp_abc.jpg").is_err());
        assert!(AvatarUrl::parse("/relative.png").is_err());
        assert!(AvatarUrl::parse("https://user:pw@example.com/a.png").is_err());
        let long = format!("https://example.com/{}", "a".repeat(1010));
        assert!(AvatarUrl::parse(&long).is_err());
        // Within the bound as sent, over it once percent-encoded.
        let grows = format!("https://example.com/{}", "字".repeat(300));
        assert!(grows.len() <= AvatarUrl::MAX_LEN);
        assert!(AvatarUrl::parse(&grows).is_err());
    }

    #[test]
    fn avatar_url_is_kept_as_the_url_that_was_validated() {
        for (sent, stored) in [
            (
                "https://thirdwx.qlogo.cn/mmopen/vi_32/abc/132",
                "https://thirdwx.qlogo.cn/mmopen/vi_32/abc/132",
            ),
            ("https://example.com/a\tb.png", "https://example.com/ab.png"),
            ("https://example.com/a\nb.png", "https://example.com/ab.png"),
            ("http:&/x.png", "http://&/x.png"),
            ("https:\\\\example.com\\a.png", "https://example.com/a.png"),
            (" https://example.com/a.png\r", "https://example.com/a.png"),
            ("HTTPS://Example.COM", "https://example.com/"),
        ] {
            assert_eq!(AvatarUrl::parse(sent).unwrap().as_str(), stored, "{sent:?}");
        }
    }
}
