//! The flows behind the handlers: login, phone number, user info, and the mapping of
//! lower-layer failures to the contract's errors.
pub mod login;
mod open_data;
pub mod phone;
pub(crate) mod single_flight;
mod upstream;
pub mod userinfo;

pub use upstream::upstream_error;

use crate::error::{ApiError, ErrorCode};
use crate::storage::StorageError;

/// The caller's session is live but its user (or its identity) is gone: log in again.
pub fn user_gone() -> ApiError {
    ApiError::unauthorized("this user no longer exists; call wx.login again")
}

/// A storage failure as the client sees it: 503 when the database is unreachable or
/// overloaded (retry later), 500 for anything else. The cause is logged, not sent.
pub fn storage_error(error: StorageError) -> ApiError {
    if error.is_unavailable() {
        tracing::warn!(%error, "database unavailable");
        ApiError::new(
            ErrorCode::DatabaseUnavailable,
            "the database is temporarily unavailable; retry shortly",
        )
    } else {
        ApiError::internal(&error)
    }
}
