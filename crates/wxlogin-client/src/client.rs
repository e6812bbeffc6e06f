//! The WeChat client: one method per WeChat call.
use std::sync::Arc;

use serde_json::json;
use wxlogin_crypto::{checksession_signature, SessionKey};

use crate::backoff::retry_delay;
use crate::force_refresh::ForceRefreshLimiter;
use crate::token_cache::TokenCache;
use crate::transport::{
    typed_answer, Request, Transport, CHECK_SESSION, GET_USER_PHONE_NUMBER, JSCODE2SESSION,
    RESET_USER_SESSION_KEY,
};
use crate::wire::{Code2SessionAnswer, PhoneNumberAnswer, ResetSessionKeyAnswer};
use crate::{
    AccessToken, AccessTokenProvider, AccessTokenStore, AppCredentials, CallObserver, ClientConfig,
    ClientError, Code2Session, InMemoryAccessTokenStore, PhoneInfo, ResetSessionKey,
    WeChatErrorKind,
};

/// Async client of the WeChat mini program server APIs. Cheap to clone; clones share the
/// access-token cache.
#[derive(Clone)]
pub struct WeChatClient {
    pub(crate) core: Arc<Core>,
}

/// Everything a call needs; shared by clones and by background token refreshes.
#[derive(Clone)]
pub(crate) struct Core {
    pub config: Arc<ClientConfig>,
    pub transport: Transport,
    pub store: Arc<dyn AccessTokenStore>,
    pub provider: Option<Arc<dyn AccessTokenProvider>>,
    pub tokens: Arc<TokenCache>,
    pub force_refresh_limiter: Arc<ForceRefreshLimiter>,
    /// Names this client when it holds the cross-instance refresh lease.
    pub lease_holder: Arc<str>,
}

/// Which failures of a call may be answered by sending it again.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RepeatPolicy {
    /// The call changes or consumes something: never repeat after WeChat may have acted.
    Never,
    /// A read: repeat on -1 and on transport failures, with backoff.
    WhenBusy,
}

impl WeChatClient {
    /// A client keeping tokens in memory.
    pub fn new(config: ClientConfig) -> Result<Self, ClientError> {
        let transport = Transport::new(&config.base_url, config.request_timeout)?;
        Ok(WeChatClient {
            core: Arc::new(Core {
                config: Arc::new(config),
                transport,
                store: Arc::new(InMemoryAccessTokenStore::new()),
                provider: None,
                tokens: Arc::default(),
                force_refresh_limiter: Arc::default(),
                lease_holder: format!("wxlogin-client-{:016x}", rand::random::<u64>()).into(),
            }),
        })
    }

    /// Keep tokens in a shared (database) store, so instances share one token.
    pub fn with_token_store(self, store: Arc<dyn AccessTokenStore>) -> Self {
        self.rebuilt(|core| {
            core.store = store;
            core.tokens = Arc::default();
        })
    }

    /// Take tokens from a central service instead of fetching them.
    pub fn with_token_provider(self, provider: Arc<dyn AccessTokenProvider>) -> Self {
        self.rebuilt(|core| {
            core.provider = Some(provider);
            core.tokens = Arc::default();
        })
    }

    /// Be told about every HTTP call (for metrics).
    pub fn with_observer(self, observer: Arc<dyn CallObserver>) -> Self {
        self.rebuilt(|core| core.transport.set_observer(observer))
    }

    fn rebuilt(self, change: impl FnOnce(&mut Core)) -> Self {
        let mut core = Arc::unwrap_or_clone(self.core);
        change(&mut core);
        WeChatClient {
            core: Arc::new(core),
        }
    }

    pub fn config(&self) -> &ClientConfig {
        &self.core.config
    }

    /// Exchange a `wx.login` code. Sent exactly once whatever the outcome (a code is
    /// single use), and needs no access token.
    pub async fn code2session(
        &self,
        app: &AppCredentials,
        js_code: &str,
    ) -> Result<Code2Session, ClientError> {
        let request = self.core.transport.request(
            JSCODE2SESSION,
            &[
                ("appid", app.appid.as_str()),
                ("secret", app.secret.expose()),
                ("js_code", js_code),
                ("grant_type", "authorization_code"),
            ],
            None,
        );
        let answer = self.core.transport.send(request).await?;
        let answer: Code2SessionAnswer = typed_answer(JSCODE2SESSION, answer)?;
        let session_key = SessionKey::from_base64(&answer.session_key).map_err(|_| {
            ClientError::InvalidResponse(
                "jscode2session: session_key is not 16 bytes of base64".to_string(),
            )
        })?;
        Ok(Code2Session {
            openid: answer.openid,
            unionid: answer.unionid.filter(|unionid| !unionid.is_empty()),
            session_key,
        })
    }

    /// The cached token for `app`, refreshed single-flight when due.
    pub async fn access_token(&self, app: &AppCredentials) -> Result<AccessToken, ClientError> {
        self.core.access_token(app).await
    }

    /// `stable_token` with `force_refresh: true` (for a leaked token). Refused client-side
    /// with [`ClientError::ForceRefreshLimited`] when WeChat's limits (≥ 30 s apart,
    /// ≤ 20 a day) would be broken. Sent once, never retried.
    pub async fn force_refresh_access_token(
        &self,
        app: &AppCredentials,
    ) -> Result<AccessToken, ClientError> {
        self.core.force_refresh_access_token(app).await
    }

    /// The phone number behind a `getPhoneNumber` button code. Not repeated on -1 or a
    /// transport failure: the code is single use and WeChat may have consumed it.
    pub async fn get_user_phone_number(
        &self,
        app: &AppCredentials,
        code: &str,
        openid: Option<&str>,
    ) -> Result<PhoneInfo, ClientError> {
        let body = match openid {
            Some(openid) => json!({ "code": code, "openid": openid }),
            None => json!({ "code": code }),
        };
        let answer = self
            .call_with_token(app, RepeatPolicy::Never, |transport, token| {
                transport.request(
                    GET_USER_PHONE_NUMBER,
                    &[("access_token", token.expose())],
                    Some(body.clone()),
                )
            })
            .await?;
        let answer: PhoneNumberAnswer = typed_answer(GET_USER_PHONE_NUMBER, answer)?;
        let phone = answer.phone_info;
        Ok(PhoneInfo {
            phone_number: phone.phone_number,
            pure_phone_number: phone.pure_phone_number,
            country_code: phone.country_code,
            watermark: phone.watermark,
        })
    }

    /// Whether WeChat still considers `key` the user's session key. An invalid key is
    /// `ClientError::WeChat` with kind `InvalidSignature` (87009). A read, so repeated
    /// with backoff when WeChat is busy.
    pub async fn check_session_key(
        &self,
        app: &AppCredentials,
        openid: &str,
        key: &SessionKey,
    ) -> Result<(), ClientError> {
        let signature = checksession_signature(key);
        self.call_with_token(app, RepeatPolicy::WhenBusy, |transport, token| {
            transport.request(
                CHECK_SESSION,
                &[
                    ("access_token", token.expose()),
                    ("signature", signature.as_str()),
                    ("openid", openid),
                    ("sig_method", "hmac_sha256"),
                ],
                None,
            )
        })
        .await?;
        Ok(())
    }

    /// Make WeChat issue a new session key for the user (the old one dies at once). Not
    /// repeated on -1: WeChat may have reset the key already.
    pub async fn reset_user_session_key(
        &self,
        app: &AppCredentials,
        openid: &str,
        key: &SessionKey,
    ) -> Result<ResetSessionKey, ClientError> {
        let signature = checksession_signature(key);
        let answer = self
            .call_with_token(app, RepeatPolicy::Never, |transport, token| {
                transport.request(
                    RESET_USER_SESSION_KEY,
                    &[
                        ("access_token", token.expose()),
                        ("openid", openid),
                        ("signature", signature.as_str()),
                        ("sig_method", "hmac_sha256"),
                    ],
                    None,
                )
            })
            .await?;
        let answer: ResetSessionKeyAnswer = typed_answer(RESET_USER_SESSION_KEY, answer)?;
        let session_key = SessionKey::from_base64(&answer.session_key).map_err(|_| {
            ClientError::InvalidResponse(
                "resetusersessionkey: session_key is not 16 bytes of base64".to_string(),
            )
        })?;
        Ok(ResetSessionKey {
            openid: answer.openid.unwrap_or_else(|| openid.to_string()),
            session_key,
        })
    }

    /// Send a call that carries an access token. When WeChat rejects the token
    /// (40001/40014/42001) it is invalidated if still current and the call is sent once
    /// more with a fresh token, never more: WeChat refused the token before acting, so
    /// even a single-use code is still unused.
    async fn call_with_token(
        &self,
        app: &AppCredentials,
        repeat: RepeatPolicy,
        build: impl Fn(&Transport, &AccessToken) -> Request,
    ) -> Result<serde_json::Map<String, serde_json::Value>, ClientError> {
        let core = &self.core;
        let mut token = core.access_token(app).await?;
        let mut token_replaced = false;
        let mut busy_repeats = 0;
        loop {
            let result = core.transport.send(build(&core.transport, &token)).await;
            let error = match result {
                Ok(answer) => return Ok(answer),
                Err(error) => error,
            };
            if error
                .wechat_kind()
                .is_some_and(WeChatErrorKind::is_invalid_token)
                && !token_replaced
            {
                token_replaced = true;
                tracing::debug!(appid = %app.appid, "access token rejected by WeChat; refreshing and retrying once");
                core.invalidate_token(app, token.expose()).await?;
                token = core.access_token(app).await?;
                continue;
            }
            let busy = matches!(&error, ClientError::Timeout | ClientError::Transport(_))
                || error.wechat_kind() == Some(WeChatErrorKind::SystemBusy);
            if repeat == RepeatPolicy::WhenBusy && busy && busy_repeats < core.config.max_retries {
                tokio::time::sleep(retry_delay(core.config.retry_base_delay, busy_repeats)).await;
                busy_repeats += 1;
                continue;
            }
            return Err(error);
        }
    }
}

impl std::fmt::Debug for WeChatClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeChatClient")
            .field("config", &self.core.config)
            .field("token_provider", &self.core.provider.is_some())
            .finish_non_exhaustive()
    }
}
