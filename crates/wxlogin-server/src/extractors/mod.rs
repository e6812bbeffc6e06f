//! Request extractors whose rejections are the contract's JSON errors.
mod admin;
mod auth;
mod client_address;
mod json;

pub use crate::sessions::AuthContext as Caller;
pub use admin::AdminCaller;
pub use auth::{Authenticated, AuthenticatedUser};
pub use client_address::ClientAddress;
pub use json::{ApiJson, ApiQuery};
