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
        if has_invisible_formatting(text) {
            return Err(DomainError(
                "nickname must not contain direction overrides, zero-width characters or line separators"
                    .to_owned(),
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

/// Characters that change how the text around them is shown without showing themselves:
/// bidirectional embeddings, overrides and isolates (a name that reads backwards in an
/// admin list or a chat), zero-width spaces and joiners (two names that look identical),
/// and line and paragraph separators (a name that breaks a log line or a table row).
/// A zero-width joiner between two emoji is how emoji sequences (families, flags with
/// a profession) are written, so that one use of it stays allowed.
fn has_invisible_formatting(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    chars.iter().enumerate().any(|(index, &c)| match c {
        '\u{200D}' => {
            let before = index.checked_sub(1).map(|i| chars[i]);
            let after = chars.get(index + 1).copied();
            !(before.is_some_and(is_emoji_like) && after.is_some_and(is_emoji_like))
        }
        '\u{061C}'
        | '\u{180E}'
        | '\u{200B}'
        | '\u{200C}'
        | '\u{200E}'
        | '\u{200F}'
        | '\u{2028}'
        | '\u{2029}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}' => true,
        _ => false,
    })
}

/// Pictographs and the variation selector that ends an emoji presentation.
fn is_emoji_like(c: char) -> bool {
    matches!(c, '\u{2600}'..='\u{27BF}' | '\u{FE0F}' | '\u{1F000}'..='\u{1FAFF}')
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
    fn nickname_refuses_invisible_formatting_but_keeps_emoji_sequences() {
        for sneaky in [
            "admin\u{202E}nimda",
            "\u{2066}abc\u{2069}",
            "al\u{200B}ice",
            "al\u{200D}ice",
            "bob\u{2028}injected",
            "bob\u{2029}injected",
            "\u{FEFF}carol",
            "dave\u{200F}",
            "\u{200D}\u{1F469}",
        ] {
            let error = Nickname::parse(sneaky).unwrap_err();
            assert!(error.0.contains("zero-width"), "{sneaky:?}: {error:?}");
        }
        for fine in [
            "👨\u{200D}👩\u{200D}👧",
            "❤\u{FE0F}\u{200D}🔥 小明",
            "Zoë 李",
        ] {
            assert_eq!(Nickname::parse(fine).unwrap().as_str(), fine);
        }
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
