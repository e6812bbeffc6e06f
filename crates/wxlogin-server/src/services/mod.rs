//! The flows behind the handlers: login, phone number, user info. Their failures become
//! the contract's errors through `From` in `crate::error`; only WeChat's need the call's
//! name ([`upstream_error`]).
pub mod login;
pub mod phone;
mod upstream;
pub mod userinfo;

pub use upstream::upstream_error;
