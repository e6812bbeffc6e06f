//! Request extractors whose rejections are the contract's JSON errors.
mod auth;
mod json;

pub use crate::sessions::AuthContext as Caller;
pub use auth::{Authenticated, AuthenticatedUser};
pub use json::ApiJson;
