//! The WeChat client: one method per WeChat call.
use std::sync::Arc;

use wxlogin_crypto::SessionKey;

use crate::{
    AccessToken, AccessTokenProvider, AccessTokenStore, AppCredentials, CallObserver, ClientConfig,
    ClientError, Code2Session, InMemoryAccessTokenStore, PhoneInfo, ResetSessionKey,
};

/// Async client of the WeChat mini program server APIs. Cheap to clone; clones share the
/// access-token cache.
#[derive(Clone)]
pub struct WeChatClient {
    config: Arc<ClientConfig>,
    store: Arc<dyn AccessTokenStore>,
    provider: Option<Arc<dyn AccessTokenProvider>>,
    observer: Option<Arc<dyn CallObserver>>,
}

impl WeChatClient {
    /// A client keeping tokens in memory.
    pub fn new(config: ClientConfig) -> Result<Self, ClientError> {
        Ok(WeChatClient {
            config: Arc::new(config),
            store: Arc::new(InMemoryAccessTokenStore::new()),
            provider: None,
            observer: None,
        })
    }

    /// Keep tokens in a shared (database) store, so instances share one token.
    pub fn with_token_store(mut self, store: Arc<dyn AccessTokenStore>) -> Self {
        self.store = store;
        self
    }

    /// Take tokens from a central service instead of fetching them.
    pub fn with_token_provider(mut self, provider: Arc<dyn AccessTokenProvider>) -> Self {
        self.provider = Some(provider);
        self
    }

    /// Be told about every HTTP call (for metrics).
    pub fn with_observer(mut self, observer: Arc<dyn CallObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Exchange a `wx.login` code. Never retried, never fetches an access token.
    pub async fn code2session(
        &self,
        app: &AppCredentials,
        js_code: &str,
    ) -> Result<Code2Session, ClientError> {
        let _ = (app, js_code);
        todo!("first commit: API only")
    }

    /// The cached token for `app`, refreshed single-flight when due.
    pub async fn access_token(&self, app: &AppCredentials) -> Result<AccessToken, ClientError> {
        let _ = app;
        todo!("first commit: API only")
    }

    /// `stable_token` with `force_refresh: true` (for a leaked token). Refused client-side
    /// with [`ClientError::ForceRefreshLimited`] when WeChat's limits (≥ 30 s apart,
    /// ≤ 20 a day) would be broken.
    pub async fn force_refresh_access_token(
        &self,
        app: &AppCredentials,
    ) -> Result<AccessToken, ClientError> {
        let _ = app;
        todo!("first commit: API only")
    }

    /// The phone number behind a `getPhoneNumber` button code. Not retried on -1: the
    /// code is single use.
    pub async fn get_user_phone_number(
        &self,
        app: &AppCredentials,
        code: &str,
        openid: Option<&str>,
    ) -> Result<PhoneInfo, ClientError> {
        let _ = (app, code, openid);
        todo!("first commit: API only")
    }

    /// Whether WeChat still considers `key` the user's session key. An invalid key is
    /// `ClientError::WeChat` with kind `InvalidSignature` (87009).
    pub async fn check_session_key(
        &self,
        app: &AppCredentials,
        openid: &str,
        key: &SessionKey,
    ) -> Result<(), ClientError> {
        let _ = (app, openid, key);
        todo!("first commit: API only")
    }

    /// Make WeChat issue a new session key for the user (the old one dies at once).
    pub async fn reset_user_session_key(
        &self,
        app: &AppCredentials,
        openid: &str,
        key: &SessionKey,
    ) -> Result<ResetSessionKey, ClientError> {
        let _ = (app, openid, key);
        todo!("first commit: API only")
    }
}
