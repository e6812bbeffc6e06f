use std::fmt;

/// A phone number as it may appear in a log line: the middle digits hidden
/// (`13812345678` → `138****5678`).
pub struct MaskedPhone<'a>(pub &'a str);

impl fmt::Display for MaskedPhone<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chars: Vec<char> = self.0.chars().collect();
        if chars.len() < 8 {
            return f.write_str("****");
        }
        let head: String = chars[..3].iter().collect();
        let tail: String = chars[chars.len() - 4..].iter().collect();
        write!(f, "{head}****{tail}")
    }
}

impl fmt::Debug for MaskedPhone<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_ends() {
        assert_eq!(MaskedPhone("13812345678").to_string(), "138****5678");
        assert_eq!(MaskedPhone("+8613812345678").to_string(), "+86****5678");
        assert_eq!(MaskedPhone("1234567").to_string(), "****");
    }
}
