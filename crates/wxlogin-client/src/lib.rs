//! Async client of the WeChat mini program server APIs a login server needs:
//! code2Session, access token (stable or classic, cached single-flight and shareable
//! across instances), getuserphonenumber, checksession and resetusersessionkey.
//!
//! Secrets (AppSecret, access tokens, session keys, phone numbers) never appear in
//! Debug output, error messages or logs.

mod answers;
mod backoff;
mod client;
mod config;
mod error;
mod force_refresh;
mod observer;
mod rid;
mod store;
mod token_cache;
mod token_refresh;
mod transport;
mod wire;

pub use answers::{AccessToken, Code2Session, PhoneInfo, ResetSessionKey};
pub use client::WeChatClient;
pub use config::{AccessTokenMode, AppCredentials, AppSecret, ClientConfig};
pub use error::{ClientError, StoreError, WeChatError, WeChatErrorKind};
pub use observer::CallObserver;
pub use store::{
    AccessTokenProvider, AccessTokenStore, InMemoryAccessTokenStore, StoredAccessToken,
};
pub use wxlogin_crypto::SessionKey;
