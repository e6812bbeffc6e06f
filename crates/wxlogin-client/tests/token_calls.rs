//! Calls that carry an access token: request shapes, typed answers, compare-and-invalidate
//! with exactly one retry on 40001/40014/42001, and which failures are repeated.
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use serde_json::json;
use wxlogin_client::{
    AccessTokenProvider, AccessTokenStore, ClientError, InMemoryAccessTokenStore, SessionKey,
    StoreError, StoredAccessToken, WeChatClient, WeChatErrorKind,
};
use wxlogin_crypto::checksession_signature;

fn session_key() -> SessionKey {
    SessionKey::from_base64(SESSION_KEY_B64).unwrap()
}

fn phone_answer(country_code: serde_json::Value) -> Answer {
    Answer::json(json!({
        "errcode": 0, "errmsg": "ok",
        "phone_info": {
            "phoneNumber": "+8613800138000", "purePhoneNumber": "13800138000", "countryCode": country_code,
            "watermark": { "timestamp": 1637744274, "appid": APPID }
        }
    }))
}

fn token_of(request: &Recorded) -> String {
    request.param("access_token").unwrap_or_default()
}

#[tokio::test]
async fn phone_number_posts_json_with_token_in_query() {
    let fake = FakeWeChat::start().await;
    fake.always(STABLE_TOKEN, Answer::token("TOKEN+/=", 7200));
    fake.always(PHONE, phone_answer(json!(86)));
    let client = fake.client();
    let phone = client
        .get_user_phone_number(&app(), "phone-code", Some("openid-1"))
        .await
        .unwrap();
    assert_eq!(phone.phone_number, "+8613800138000");
    assert_eq!(phone.pure_phone_number, "13800138000");
    assert_eq!(phone.country_code, "86");
    let watermark = phone.watermark.unwrap();
    assert_eq!(
        (watermark.appid.as_str(), watermark.timestamp),
        (APPID, 1637744274)
    );

    let request = &fake.requests_to(PHONE)[0];
    assert_eq!(request.method, "POST");
    assert_eq!(token_of(request), "TOKEN+/=");
    assert_eq!(
        request.json(),
        json!({ "code": "phone-code", "openid": "openid-1" })
    );

    fake.always(PHONE, phone_answer(json!("86")));
    let phone = client
        .get_user_phone_number(&app(), "code-2", None)
        .await
        .unwrap();
    assert_eq!(phone.country_code, "86");
    assert_eq!(
        fake.requests_to(PHONE)[1].json(),
        json!({ "code": "code-2" })
    );
    assert_eq!(fake.count(STABLE_TOKEN), 1);
}

#[tokio::test]
async fn phone_number_is_not_repeated_on_system_busy_or_timeout() {
    let fake = FakeWeChat::start().await;
    fake.always(STABLE_TOKEN, Answer::token("T", 7200));
    fake.always(PHONE, Answer::error(-1, "system error"));
    let client = fake.client();
    let error = client
        .get_user_phone_number(&app(), "code", None)
        .await
        .unwrap_err();
    assert_eq!(error.wechat_kind(), Some(WeChatErrorKind::SystemBusy));
    assert_eq!(fake.count(PHONE), 1);

    fake.always(PHONE, phone_answer(json!(86)).after(Duration::from_secs(3)));
    let client = WeChatClient::new(wxlogin_client::ClientConfig {
        request_timeout: Duration::from_millis(200),
        ..fake.config()
    })
    .unwrap();
    let error = client
        .get_user_phone_number(&app(), "code", None)
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Timeout), "{error:?}");
    assert_eq!(fake.count(PHONE), 2);
}

#[tokio::test]
async fn phone_number_errors_keep_their_meaning() {
    let fake = FakeWeChat::start().await;
    fake.always(STABLE_TOKEN, Answer::token("T", 7200));
    fake.always(
        PHONE,
        Answer::error(40029, "invalid code, rid: 6129ee10-272863a4-64d75414"),
    );
    let error = fake
        .client()
        .get_user_phone_number(&app(), "code", None)
        .await
        .unwrap_err();
    let wechat = error.wechat().unwrap();
    assert_eq!(wechat.kind, WeChatErrorKind::InvalidCode);
    assert_eq!(wechat.rid.as_deref(), Some("6129ee10-272863a4-64d75414"));
    assert_eq!(fake.count(PHONE), 1);
    // The hint is about the phone-number code, not about wx.login codes.
    assert_eq!(wechat.api, Some("getuserphonenumber"));
    let hint = wechat.hint().unwrap();
    assert!(hint.contains("phone-number code"), "{hint}");
    assert!(hint.contains("sheet opened"), "{hint}");
    assert!(!hint.contains("not a valid login code"), "{hint}");
}

#[tokio::test]
async fn invalid_token_is_replaced_and_the_call_retried_once() {
    for errcode in [40001, 40014, 42001] {
        let fake = FakeWeChat::start().await;
        fake.script(
            STABLE_TOKEN,
            vec![Answer::token("STALE", 7200), Answer::token("FRESH", 7200)],
        );
        fake.on(PHONE, move |request| {
            if token_of(request) == "STALE" {
                Answer::error(errcode, "invalid credential")
            } else {
                phone_answer(json!(86))
            }
        });
        let client = fake.client();
        let phone = client
            .get_user_phone_number(&app(), "code", None)
            .await
            .unwrap();
        assert_eq!(phone.pure_phone_number, "13800138000");
        let tokens: Vec<String> = fake.requests_to(PHONE).iter().map(token_of).collect();
        assert_eq!(tokens, ["STALE", "FRESH"], "{errcode}");
        assert_eq!(fake.count(STABLE_TOKEN), 2);
        assert_eq!(client.access_token(&app()).await.unwrap().expose(), "FRESH");
    }
}

#[tokio::test]
async fn a_second_invalid_token_answer_is_returned_not_retried() {
    let fake = FakeWeChat::start().await;
    fake.script(
        STABLE_TOKEN,
        vec![
            Answer::token("ONE", 7200),
            Answer::token("TWO", 7200),
            Answer::token("THREE", 7200),
        ],
    );
    fake.always(
        CHECK_SESSION,
        Answer::error(
            40001,
            "invalid credential, access_token is invalid or not latest",
        ),
    );
    let error = fake
        .client()
        .check_session_key(&app(), "openid", &session_key())
        .await
        .unwrap_err();
    assert_eq!(
        error.wechat_kind(),
        Some(WeChatErrorKind::InvalidCredential)
    );
    assert_eq!(fake.count(CHECK_SESSION), 2);
    assert_eq!(fake.count(STABLE_TOKEN), 2);
}

/// A store that keeps nothing, so only the in-process cache can remember tokens.
struct ForgetfulStore;

#[async_trait::async_trait]
impl AccessTokenStore for ForgetfulStore {
    async fn load(&self, _appid: &str) -> Result<Option<StoredAccessToken>, StoreError> {
        Ok(None)
    }
    async fn save(&self, _appid: &str, _token: &StoredAccessToken) -> Result<(), StoreError> {
        Ok(())
    }
    async fn invalidate_if_current(
        &self,
        _appid: &str,
        _failed_token: &str,
    ) -> Result<(), StoreError> {
        Ok(())
    }
    async fn try_acquire_refresh_lease(
        &self,
        _appid: &str,
        _holder: &str,
        _ttl: Duration,
    ) -> Result<bool, StoreError> {
        Ok(true)
    }
    async fn release_refresh_lease(&self, _appid: &str, _holder: &str) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Two callers fail with T1; the first replaces it with T2; the second, failing later,
/// must leave T2 alone: one refresh, not two. Run against the shared in-memory store and
/// against a store that remembers nothing (so the in-process cache's own compare counts).
async fn late_failure_leaves_replacement(store: Option<Arc<dyn AccessTokenStore>>) {
    let fake = FakeWeChat::start().await;
    fake.script(
        STABLE_TOKEN,
        vec![
            Answer::token("T1", 7200),
            Answer::token("T2", 7200),
            Answer::token("T3", 7200),
        ],
    );
    let stale_answers = Arc::new(AtomicUsize::new(0));
    fake.on(CHECK_SESSION, move |request| {
        if token_of(request) == "T1" {
            let delay = if stale_answers.fetch_add(1, Ordering::SeqCst) == 0 {
                50
            } else {
                400
            };
            Answer::error(40001, "invalid credential").after(Duration::from_millis(delay))
        } else {
            Answer::error(0, "ok")
        }
    });
    let mut client = fake.client();
    if let Some(store) = store {
        client = client.with_token_store(store);
    }
    assert_eq!(client.access_token(&app()).await.unwrap().expose(), "T1");
    let first = tokio::spawn({
        let client = client.clone();
        async move { client.check_session_key(&app(), "u1", &session_key()).await }
    });
    let second = tokio::spawn({
        let client = client.clone();
        async move { client.check_session_key(&app(), "u2", &session_key()).await }
    });
    first.await.unwrap().unwrap();
    second.await.unwrap().unwrap();
    assert_eq!(fake.count(STABLE_TOKEN), 2);
    assert_eq!(client.access_token(&app()).await.unwrap().expose(), "T2");
    let retried: Vec<String> = fake
        .requests_to(CHECK_SESSION)
        .iter()
        .map(token_of)
        .filter(|t| t != "T1")
        .collect();
    assert_eq!(retried, ["T2", "T2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_failure_does_not_invalidate_the_replacement_token() {
    late_failure_leaves_replacement(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_failure_does_not_invalidate_the_replacement_token_in_process() {
    late_failure_leaves_replacement(Some(Arc::new(ForgetfulStore))).await;
}

/// The default store, recording what the client asks it to invalidate.
#[derive(Default)]
struct SpyStore {
    inner: InMemoryAccessTokenStore,
    invalidations: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl AccessTokenStore for SpyStore {
    async fn load(&self, appid: &str) -> Result<Option<StoredAccessToken>, StoreError> {
        self.inner.load(appid).await
    }
    async fn save(&self, appid: &str, token: &StoredAccessToken) -> Result<(), StoreError> {
        self.inner.save(appid, token).await
    }
    async fn invalidate_if_current(
        &self,
        appid: &str,
        failed_token: &str,
    ) -> Result<(), StoreError> {
        self.invalidations
            .lock()
            .unwrap()
            .push(failed_token.to_string());
        self.inner.invalidate_if_current(appid, failed_token).await
    }
    async fn try_acquire_refresh_lease(
        &self,
        appid: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.inner
            .try_acquire_refresh_lease(appid, holder, ttl)
            .await
    }
    async fn release_refresh_lease(&self, appid: &str, holder: &str) -> Result<(), StoreError> {
        self.inner.release_refresh_lease(appid, holder).await
    }
}

#[tokio::test]
async fn the_shared_store_is_asked_to_invalidate_only_the_failed_token() {
    let fake = FakeWeChat::start().await;
    fake.script(
        STABLE_TOKEN,
        vec![Answer::token("STALE", 7200), Answer::token("FRESH", 7200)],
    );
    fake.on(CHECK_SESSION, |request| {
        if token_of(request) == "STALE" {
            Answer::error(42001, "access_token expired")
        } else {
            Answer::error(0, "ok")
        }
    });
    let store = Arc::new(SpyStore::default());
    let client = fake.client().with_token_store(store.clone());
    client
        .check_session_key(&app(), "openid", &session_key())
        .await
        .unwrap();
    assert_eq!(*store.invalidations.lock().unwrap(), ["STALE"]);
    assert_eq!(store.load(APPID).await.unwrap().unwrap().token, "FRESH");
}

#[tokio::test]
async fn a_token_another_instance_stored_is_used_for_the_retry() {
    let fake = FakeWeChat::start().await;
    fake.always(STABLE_TOKEN, Answer::token("STALE", 7200));
    fake.on(CHECK_SESSION, |request| {
        if token_of(request) == "STALE" {
            Answer::error(40001, "invalid credential")
        } else {
            Answer::error(0, "ok")
        }
    });
    let store = Arc::new(SpyStore::default());
    let client = fake.client().with_token_store(store.clone());
    client.access_token(&app()).await.unwrap();
    // Another instance already replaced the token in the shared store.
    let replacement = StoredAccessToken {
        token: "FROM-OTHER-INSTANCE".to_string(),
        expires_at_unix: i64::MAX / 2,
    };
    store.save(APPID, &replacement).await.unwrap();
    client
        .check_session_key(&app(), "openid", &session_key())
        .await
        .unwrap();
    assert_eq!(
        store.load(APPID).await.unwrap().unwrap().token,
        "FROM-OTHER-INSTANCE"
    );
    let tokens: Vec<String> = fake
        .requests_to(CHECK_SESSION)
        .iter()
        .map(token_of)
        .collect();
    assert_eq!(tokens, ["STALE", "FROM-OTHER-INSTANCE"]);
    assert_eq!(fake.count(STABLE_TOKEN), 1);
}

#[tokio::test]
async fn check_session_sends_the_signature_and_maps_87009() {
    let fake = FakeWeChat::start().await;
    fake.always(STABLE_TOKEN, Answer::token("T", 7200));
    fake.always(CHECK_SESSION, Answer::error(0, "ok"));
    let client = fake.client();
    client
        .check_session_key(&app(), "openid-1", &session_key())
        .await
        .unwrap();

    let request = &fake.requests_to(CHECK_SESSION)[0];
    assert_eq!(request.method, "GET");
    assert_eq!(token_of(request), "T");
    assert_eq!(request.param("openid").as_deref(), Some("openid-1"));
    assert_eq!(request.param("sig_method").as_deref(), Some("hmac_sha256"));
    assert_eq!(
        request.param("signature"),
        Some(checksession_signature(&session_key()))
    );

    fake.always(
        CHECK_SESSION,
        Answer::error(87009, "invalid signature rid: 6129ee10-272863a4-64d75414"),
    );
    let error = client
        .check_session_key(&app(), "openid-1", &session_key())
        .await
        .unwrap_err();
    assert_eq!(error.wechat_kind(), Some(WeChatErrorKind::InvalidSignature));
    assert!(error.to_string().contains("log in again"), "{error}");
    assert_eq!(
        fake.count(CHECK_SESSION),
        2,
        "87009 is an answer, not repeated"
    );
}

#[tokio::test]
async fn check_session_is_repeated_with_backoff_when_busy() {
    let fake = FakeWeChat::start().await;
    fake.always(STABLE_TOKEN, Answer::token("T", 7200));
    fake.script(
        CHECK_SESSION,
        vec![
            Answer::error(-1, "system error"),
            Answer::raw(500, "text/plain", "oops"),
            Answer::error(0, "ok"),
        ],
    );
    let client = fake.client();
    client
        .check_session_key(&app(), "openid", &session_key())
        .await
        .unwrap();
    assert_eq!(fake.count(CHECK_SESSION), 3);

    fake.always(CHECK_SESSION, Answer::error(-1, "system error"));
    let error = client
        .check_session_key(&app(), "openid", &session_key())
        .await
        .unwrap_err();
    assert_eq!(error.wechat_kind(), Some(WeChatErrorKind::SystemBusy));
    assert_eq!(
        fake.count(CHECK_SESSION),
        3 + 3,
        "one call plus max_retries (2)"
    );
}

#[tokio::test]
async fn reset_session_key_returns_the_new_key_and_is_not_repeated_when_busy() {
    let fake = FakeWeChat::start().await;
    fake.always(STABLE_TOKEN, Answer::token("T", 7200));
    let new_key = "o0q0otL8aEzpcZL/FT9WsQ==";
    fake.always(
        RESET_SESSION_KEY,
        Answer::json(
            json!({ "errcode": 0, "errmsg": "ok", "openid": "openid-1", "session_key": new_key }),
        ),
    );
    let client = fake.client();
    let reset = client
        .reset_user_session_key(&app(), "openid-1", &session_key())
        .await
        .unwrap();
    assert_eq!(reset.openid, "openid-1");
    assert_eq!(reset.session_key.expose_base64().as_str(), new_key);
    let request = &fake.requests_to(RESET_SESSION_KEY)[0];
    assert_eq!(request.method, "GET");
    assert_eq!(token_of(request), "T");
    assert_eq!(request.param("openid").as_deref(), Some("openid-1"));
    assert_eq!(request.param("sig_method").as_deref(), Some("hmac_sha256"));
    assert_eq!(
        request.param("signature"),
        Some(checksession_signature(&session_key()))
    );

    fake.always(RESET_SESSION_KEY, Answer::error(-1, "system error"));
    let error = client
        .reset_user_session_key(&app(), "openid-1", &session_key())
        .await
        .unwrap_err();
    assert_eq!(error.wechat_kind(), Some(WeChatErrorKind::SystemBusy));
    assert_eq!(fake.count(RESET_SESSION_KEY), 2);
}

#[tokio::test]
async fn token_calls_fail_without_calling_when_no_token_can_be_had() {
    let fake = FakeWeChat::start().await;
    fake.always(
        STABLE_TOKEN,
        Answer::error(
            40164,
            "invalid ip 1.2.3.4 ipv6 ::ffff:1.2.3.4, not in whitelist",
        ),
    );
    let error = fake
        .client()
        .get_user_phone_number(&app(), "code", None)
        .await
        .unwrap_err();
    assert_eq!(error.wechat_kind(), Some(WeChatErrorKind::IpNotWhitelisted));
    assert!(error.to_string().contains("whitelist"));
    assert_eq!(fake.count(PHONE), 0);
}

/// A central service's token: first "P1", then "P2" once told P1 failed.
#[derive(Default)]
struct CentralTokens {
    invalidated: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl AccessTokenProvider for CentralTokens {
    async fn access_token(&self, appid: &str) -> Result<StoredAccessToken, StoreError> {
        assert_eq!(appid, APPID);
        let token = if self.invalidated.lock().unwrap().is_empty() {
            "P1"
        } else {
            "P2"
        };
        Ok(StoredAccessToken {
            token: token.to_string(),
            expires_at_unix: i64::MAX,
        })
    }

    async fn invalidate(&self, _appid: &str, failed_token: &str) -> Result<(), StoreError> {
        self.invalidated
            .lock()
            .unwrap()
            .push(failed_token.to_string());
        Ok(())
    }
}

#[tokio::test]
async fn provider_tokens_are_used_and_never_fetched() {
    let fake = FakeWeChat::start().await;
    fake.on(CHECK_SESSION, |request| {
        if token_of(request) == "P1" {
            Answer::error(40001, "invalid credential")
        } else {
            Answer::error(0, "ok")
        }
    });
    let provider = Arc::new(CentralTokens::default());
    let client = fake.client().with_token_provider(provider.clone());
    assert_eq!(client.access_token(&app()).await.unwrap().expose(), "P1");
    client
        .check_session_key(&app(), "openid", &session_key())
        .await
        .unwrap();
    assert_eq!(*provider.invalidated.lock().unwrap(), ["P1"]);
    assert_eq!(fake.count(STABLE_TOKEN) + fake.count(CLASSIC_TOKEN), 0);

    let error = client.force_refresh_access_token(&app()).await.unwrap_err();
    assert!(matches!(error, ClientError::InvalidConfig(_)), "{error:?}");
    assert_eq!(fake.count(STABLE_TOKEN), 0);
}

struct FailingProvider;

#[async_trait::async_trait]
impl AccessTokenProvider for FailingProvider {
    async fn access_token(&self, _appid: &str) -> Result<StoredAccessToken, StoreError> {
        Err(StoreError("central token service unreachable".to_string()))
    }
}

#[tokio::test]
async fn provider_failure_is_a_token_store_error() {
    let fake = FakeWeChat::start().await;
    let client = fake.client().with_token_provider(Arc::new(FailingProvider));
    let error = client
        .get_user_phone_number(&app(), "code", None)
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::TokenStore(_)), "{error:?}");
    assert!(fake.requests().is_empty());
}
