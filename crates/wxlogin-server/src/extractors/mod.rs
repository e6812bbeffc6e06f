//! Request extractors whose rejections are the contract's JSON errors.
mod admin;
mod auth;
mod json;

pub use crate::sessions::AuthContext as Caller;
pub use admin::AdminCaller;
pub use auth::{Authenticated, AuthenticatedUser};
pub use json::ApiJson;
