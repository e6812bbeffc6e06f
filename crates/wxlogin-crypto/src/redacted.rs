//! The one wrapper for a secret that must never be printed (app secret, master key, tokens,
//! login codes, session keys): `Debug` writes `<redacted>`, there is no `Display` or
//! `Serialize`, and the value is read only through [`Redacted::expose`], so every place a
//! secret is used says so. The types that hold one derive their `Debug`.
use std::fmt;

use serde::{Deserialize, Deserializer};

/// A secret of type `T` that `Debug` shows as `<redacted>`.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Redacted<T>(T);

impl<T> Redacted<T> {
    /// Wrap `secret`.
    pub const fn new(secret: T) -> Self {
        Redacted(secret)
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwrap the secret, for the one place that takes it over.
    pub fn into_exposed(self) -> T {
        self.0
    }
}

impl<T> From<T> for Redacted<T> {
    fn from(secret: T) -> Self {
        Redacted(secret)
    }
}

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Parsed as the value itself (a secret given as a flag or an environment variable).
impl<T: std::str::FromStr> std::str::FromStr for Redacted<T> {
    type Err = T::Err;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.parse().map(Redacted)
    }
}

/// Read as the value itself (a secret in a settings file); reading cannot leak it.
impl<'de, T: Deserialize<'de>> Deserialize<'de> for Redacted<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Redacted)
    }
}

#[cfg(test)]
mod tests {
    use super::Redacted;

    #[derive(Debug)]
    #[allow(dead_code)] // read by Debug only
    struct Holder {
        name: &'static str,
        secret: Redacted<String>,
    }

    #[test]
    fn debug_never_shows_the_secret_and_expose_does() {
        let holder = Holder {
            name: "app",
            secret: Redacted::new("s3cr3t".to_owned()),
        };
        let shown = format!("{holder:?} {holder:#?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("secret: <redacted>"), "{shown}");
        assert_eq!(holder.secret.expose(), "s3cr3t");
    }

    #[test]
    fn reads_from_a_settings_file_as_the_bare_value() {
        let secret: Redacted<String> = serde_json::from_str("\"from-file\"").unwrap();
        assert_eq!(secret.expose(), "from-file");
    }
}
