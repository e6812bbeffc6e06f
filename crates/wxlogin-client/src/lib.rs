//! Async client of the WeChat mini program server APIs a login server needs:
//! code2Session, access token (stable or classic, cached single-flight and shareable
//! across instances), getuserphonenumber, checksession and resetusersessionkey.
//!
//! ```no_run
//! use wxlogin_client::{AppCredentials, ClientConfig, WeChatClient, WeChatErrorKind};
//!
//! # async fn login(js_code: &str) -> Result<(), wxlogin_client::ClientError> {
//! let client = WeChatClient::new(ClientConfig::default())?;
//! let app = AppCredentials::new("wx1234567890abcdef", "the app secret");
//! match client.code2session(&app, js_code).await {
//!     Ok(session) => println!("openid {}", session.openid),
//!     Err(error) if error.wechat_kind() == Some(WeChatErrorKind::CodeUsed) => {
//!         // The client retried a code: answer with the first exchange's result.
//!     }
//!     Err(error) => return Err(error),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! What is repeated and what is not: a login code and a phone code are sent exactly
//! once (WeChat may have consumed them); token fetches and checksession are repeated
//! with jittered backoff on -1 and transport failures; any call rejected for its access
//! token (40001/40014/42001) is sent once more with a fresh token. When stable_token hands
//! back the very token WeChat refused, that token is force-refreshed once, under the
//! cross-instance lease and within WeChat's limits (30 s apart, 20 a day).
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
