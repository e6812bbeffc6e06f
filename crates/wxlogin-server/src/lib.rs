//! The wxlogin login server: HTTP API, sessions, tokens and storage.
//!
//! Storage and key material (`storage`, `at_rest`, `tokens`) sit under the HTTP layer
//! (`configuration`, `startup`, `routes`, `services`, ...), which only calls them.

pub mod at_rest;
pub mod storage;
pub mod tokens;
