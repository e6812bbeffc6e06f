//! Admin API keys and their scopes. A key is `wxa_` + 43 base64url characters (32 random
//! bytes): the prefix lets secret scanners spot a leaked one, and it can never be mistaken
//! for an access token (a JWT) or a refresh token (no prefix). Only its SHA-256 is stored.
use std::fmt;
use std::str::FromStr;

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use wxlogin_crypto::Redacted;
use zeroize::Zeroizing;

use super::{AdminKeyHash, DomainError};

/// What a key may do; each admin route needs one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AdminScope {
    UsersRead,
    UsersWrite,
    EventsRead,
    TokensIntrospect,
    Console,
}

impl AdminScope {
    pub const ALL: [AdminScope; 5] = [
        AdminScope::UsersRead,
        AdminScope::UsersWrite,
        AdminScope::EventsRead,
        AdminScope::TokensIntrospect,
        AdminScope::Console,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AdminScope::UsersRead => "users:read",
            AdminScope::UsersWrite => "users:write",
            AdminScope::EventsRead => "events:read",
            AdminScope::TokensIntrospect => "tokens:introspect",
            AdminScope::Console => "console",
        }
    }
}

impl fmt::Display for AdminScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AdminScope {
    type Err = DomainError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        AdminScope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == text.trim())
            .ok_or_else(|| {
                let known: Vec<&str> = AdminScope::ALL.iter().map(|s| s.as_str()).collect();
                DomainError(format!(
                    "unknown scope {:?}: one of {}",
                    text.trim(),
                    known.join(", ")
                ))
            })
    }
}

/// A set of scopes, kept sorted and without duplicates; stored comma-separated.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AdminScopes(Vec<AdminScope>);

impl AdminScopes {
    /// `users:read,users:write`; at least one scope.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let mut scopes = text
            .split(',')
            .filter(|part| !part.trim().is_empty())
            .map(AdminScope::from_str)
            .collect::<Result<Vec<_>, _>>()?;
        scopes.sort();
        scopes.dedup();
        if scopes.is_empty() {
            return Err(DomainError(
                "give at least one scope (e.g. users:read)".to_owned(),
            ));
        }
        Ok(AdminScopes(scopes))
    }

    pub fn contains(&self, scope: AdminScope) -> bool {
        self.0.contains(&scope)
    }

    pub fn iter(&self) -> impl Iterator<Item = AdminScope> + '_ {
        self.0.iter().copied()
    }
}

impl fmt::Display for AdminScopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|scope| scope.as_str()).collect();
        f.write_str(&names.join(","))
    }
}

/// An admin key's name: 1 to 64 of `[A-Za-z0-9._-]`, so it is safe in logs and tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminKeyName(String);

impl AdminKeyName {
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let text = text.trim();
        let valid = !text.is_empty()
            && text.len() <= 64
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !valid {
            return Err(DomainError(
                "a key name is 1 to 64 letters, digits, '.', '_' or '-'".to_owned(),
            ));
        }
        Ok(AdminKeyName(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AdminKeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The text of an admin key. `Debug` hides it; it is shown once, when created.
#[derive(Debug)]
pub struct AdminKeySecret(Redacted<Zeroizing<String>>);

impl AdminKeySecret {
    pub const PREFIX: &'static str = "wxa_";

    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(bytes.as_mut());
        let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_ref());
        AdminKeySecret(Redacted::new(Zeroizing::new(format!(
            "{}{body}",
            Self::PREFIX
        ))))
    }

    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    pub fn hash(&self) -> AdminKeyHash {
        hash_admin_key(self.expose())
    }

    /// Whether a presented bearer text has the shape of an admin key (it is then never
    /// tried as an access token, and an access token is never tried as a key).
    pub fn looks_like_one(text: &str) -> bool {
        text.strip_prefix(Self::PREFIX).is_some_and(|body| {
            body.len() == 43
                && body
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
    }
}

/// Hex SHA-256 of a presented admin key: the only form in which it is stored. (The key is
/// 256 random bits, so a fast hash is enough: there is nothing to guess.)
pub fn hash_admin_key(text: &str) -> AdminKeyHash {
    AdminKeyHash::new(hex::encode(Sha256::digest(text.as_bytes())))
}

/// A user's roles: at most [`Roles::MAX`], each 1 to 32 of `[a-z0-9_.:-]`, sorted, unique.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Roles(Vec<String>);

impl Roles {
    pub const MAX: usize = 16;
    pub const MAX_LEN: usize = 32;

    pub fn parse<S: AsRef<str>>(roles: &[S]) -> Result<Self, DomainError> {
        let mut parsed = Vec::with_capacity(roles.len());
        for role in roles {
            let role = role.as_ref().trim();
            let valid = !role.is_empty()
                && role.len() <= Self::MAX_LEN
                && role.chars().all(|c| {
                    c.is_ascii_lowercase()
                        || c.is_ascii_digit()
                        || matches!(c, '_' | '.' | ':' | '-')
                });
            if !valid {
                return Err(DomainError(format!(
                    "a role is 1 to {} of a-z, 0-9, '_', '.', ':' or '-'",
                    Self::MAX_LEN
                )));
            }
            parsed.push(role.to_owned());
        }
        parsed.sort();
        parsed.dedup();
        if parsed.len() > Self::MAX {
            return Err(DomainError(format!(
                "a user has at most {} roles",
                Self::MAX
            )));
        }
        Ok(Roles(parsed))
    }

    /// The stored form (comma-separated), as written by [`Roles::to_stored`].
    pub fn from_stored(text: &str) -> Vec<String> {
        text.split(',')
            .filter(|role| !role.is_empty())
            .map(str::to_owned)
            .collect()
    }

    pub fn to_stored(&self) -> String {
        self.0.join(",")
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_prefixed_random_and_hashed() {
        let first = AdminKeySecret::generate();
        let second = AdminKeySecret::generate();
        assert_ne!(first.expose(), second.expose());
        assert!(first.expose().starts_with("wxa_"));
        assert!(AdminKeySecret::looks_like_one(first.expose()));
        assert!(!AdminKeySecret::looks_like_one("eyJhbGciOi.x.y"));
        assert!(!AdminKeySecret::looks_like_one("wxa_short"));
        assert_eq!(first.hash().as_str().len(), 64);
        assert_eq!(first.hash(), hash_admin_key(first.expose()));
        assert_eq!(format!("{first:?}"), "AdminKeySecret(<redacted>)");
    }

    #[test]
    fn scopes_parse_sorted_and_refuse_unknown_ones() {
        let scopes = AdminScopes::parse("users:write, users:read,users:read").unwrap();
        assert_eq!(scopes.to_string(), "users:read,users:write");
        assert!(scopes.contains(AdminScope::UsersRead));
        assert!(!scopes.contains(AdminScope::Console));
        assert!(AdminScopes::parse("users:admin").is_err());
        assert!(AdminScopes::parse("").is_err());
    }

    #[test]
    fn names_and_roles_are_bounded() {
        assert!(AdminKeyName::parse("support-desk.1").is_ok());
        assert!(AdminKeyName::parse("has space").is_err());
        assert!(AdminKeyName::parse(&"a".repeat(65)).is_err());
        let roles = Roles::parse(&["vip", "admin", "vip"]).unwrap();
        assert_eq!(roles.as_slice(), ["admin", "vip"]);
        assert_eq!(Roles::from_stored(&roles.to_stored()), ["admin", "vip"]);
        assert!(Roles::from_stored("").is_empty());
        assert!(Roles::parse(&["Admin"]).is_err());
        assert!(Roles::parse(&["a,b"]).is_err());
        assert!(Roles::parse(&["x".repeat(33)]).is_err());
        let many: Vec<String> = (0..17).map(|i| format!("r{i}")).collect();
        assert!(Roles::parse(&many).is_err());
    }
}
