//! Values that arrive from outside, parsed once into types that can only hold valid data.
mod admin_key;
mod app_id;
mod database_url;
mod ids;
mod login_code;
mod phone;
mod profile;

pub use admin_key::{hash_admin_key, AdminKeyName, AdminKeySecret, AdminScope, AdminScopes, Roles};
pub use app_id::AppId;
pub(crate) use database_url::path_beside;
pub use database_url::{Backend, DatabaseUrl, InvalidDatabaseUrl, PostgresUrl};
pub use ids::{
    new_event_id, AdminKeyHash, ConsoleTokenHash, LoginCodeHash, OpenId, RefreshTokenHash,
    SessionId, UnionId, UserId,
};
pub use login_code::LoginCode;
pub use phone::{mask_phone_number, PhoneNumber, PhoneText};
pub use profile::{AvatarUrl, Nickname};

/// Why a value from the client was refused; the message is safe to send back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DomainError(pub String);
