//! The identifiers the store is keyed by, one type each, so that a user id cannot be passed
//! where an openid belongs. They hold text as the database does; the ones a client may send
//! ([`UserId`] in an admin path) are parsed, the others come from WeChat or from our own
//! rows (or the claims of a token we signed) and are taken as they are ([`UserId::new`]
//! and friends).
use std::fmt;

use serde::{Deserialize, Serialize};

use super::DomainError;

macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A value from WeChat or from our own database, taken as it is.
            pub fn new(text: impl Into<String>) -> Self {
                $name(text.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        /// Read access as text (printing, comparing, matching); never the other way:
        /// a `&str` does not become an id without [`Self::new`].
        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(text: String) -> Self {
                $name(text)
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                $name(text.to_owned())
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

text_id!(
    /// A user of this server (a UUID), the `sub` of its access tokens.
    UserId
);
text_id!(
    /// A user's id within one mini program, as WeChat gives it.
    OpenId
);
text_id!(
    /// A user's id across the mini programs of one WeChat Open Platform account.
    UnionId
);
text_id!(
    /// A login session (a UUID), the `sid` of its access tokens.
    SessionId
);
text_id!(
    /// The SHA-256 of a refresh token: the store never sees the token itself.
    RefreshTokenHash
);
text_id!(
    /// The SHA-256 of (appid, login code): the store never sees the code itself.
    LoginCodeHash
);
text_id!(
    /// The SHA-256 of an admin key: the store never sees the key itself.
    AdminKeyHash
);
text_id!(
    /// The SHA-256 of a console session's cookie token: the store never sees the token.
    ConsoleTokenHash
);

/// A new id for a row made now: a UUIDv7, random in its last 74 bits and ordered by its
/// first 48 (milliseconds since 1970). With random (v4) ids every new user or session wrote
/// a page at a random place in each index keyed by it (users, identities, sessions,
/// refresh tokens, events: six indexes on a first login); ordered ones land on the last
/// page of each, which many logins in a row share (BENCHMARKS.md, "Time-ordered ids").
/// Nothing is keyed on these ids being secret: tokens are signed, and admin routes check
/// a key.
fn time_ordered_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

impl UserId {
    /// A new user id (time-ordered, [`time_ordered_id`]).
    pub fn random() -> Self {
        UserId(time_ordered_id())
    }

    /// A user id a client sent: anything but a UUID cannot name a user.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        uuid::Uuid::parse_str(text).map_err(|_| DomainError("a user id is a UUID".to_owned()))?;
        Ok(UserId(text.to_owned()))
    }
}

impl SessionId {
    /// A new session id (time-ordered, [`time_ordered_id`]).
    pub fn random() -> Self {
        SessionId(time_ordered_id())
    }
}

/// A new event id (time-ordered, [`time_ordered_id`]): the outbox's unique index on it
/// grows at its end.
pub fn new_event_id() -> String {
    time_ordered_id()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_from_clients_must_be_uuids() {
        let id = UserId::random();
        assert_eq!(UserId::parse(id.as_str()).unwrap(), id);
        assert!(UserId::parse("1; DROP TABLE users").is_err());
        assert!(UserId::parse("").is_err());
    }

    #[test]
    fn new_ids_are_ordered_by_creation() {
        let ids: Vec<String> = (0..1_000)
            .map(|_| SessionId::random().to_string())
            .collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted, "later ids sort after earlier ones");
        let distinct: std::collections::BTreeSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        let users = [UserId::random(), UserId::random()];
        assert!(users[0].as_str() < users[1].as_str());
        assert!(new_event_id() < new_event_id());
    }

    #[test]
    fn ids_serialize_as_their_text() {
        let value = serde_json::to_value(OpenId::new("o-1")).unwrap();
        assert_eq!(value, serde_json::json!("o-1"));
    }
}
