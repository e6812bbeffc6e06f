//! The access-token cache: endpoint shapes, caching and refresh ahead of expiry,
//! single flight, cancellation, failures, retries, force refresh, shared store lease.
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use wxlogin_client::{
    AccessTokenMode, AccessTokenStore, ClientConfig, ClientError, InMemoryAccessTokenStore,
    StoredAccessToken, WeChatClient, WeChatErrorKind,
};

fn client_with(fake: &FakeWeChat, change: impl FnOnce(&mut ClientConfig)) -> WeChatClient {
    let mut config = fake.config();
    change(&mut config);
    WeChatClient::new(config).unwrap()
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn stable_mode_posts_json_without_force_refresh() {
    let fake = FakeWeChat::start().await;
    fake.always(STABLE_TOKEN, Answer::token("TOKEN-1", 7200));
    let token = fake.client().access_token(&app()).await.unwrap();
    assert_eq!(token.expose(), "TOKEN-1");
    assert!((token.expires_at_unix() - unix_now() - 7200).abs() <= 2);

    let request = &fake.requests_to(STABLE_TOKEN)[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.query, "");
    assert_eq!(
        request.json(),
        json!({ "grant_type": "client_credential", "appid": APPID, "secret": SECRET, "force_refresh": false })
    );
    assert_eq!(fake.count(CLASSIC_TOKEN), 0);
}

#[tokio::test]
async fn the_remaining_life_stable_token_answers_is_the_cached_expiry() {
    let fake = FakeWeChat::start().await;
    // Normal mode answers the current token with the time it has left (the doc's example).
    fake.always(STABLE_TOKEN, Answer::token("LEFT-345", 345));
    let store = Arc::new(InMemoryAccessTokenStore::new());
    let client = fake.client().with_token_store(store.clone());
    let token = client.access_token(&app()).await.unwrap();
    assert!((token.expires_at_unix() - unix_now() - 345).abs() <= 2);
    let stored = store.load(APPID).await.unwrap().unwrap();
    assert_eq!(stored.expires_at_unix, token.expires_at_unix());
    // Inside the default 5-minute margin, yet used for half of what is left, not
    // refetched at every call.
    for _ in 0..3 {
        client.access_token(&app()).await.unwrap();
    }
    assert_eq!(fake.count(STABLE_TOKEN), 1);
}

#[tokio::test]
async fn ip_awaiting_admin_confirmation_is_a_configuration_error_not_retried() {
    let fake = FakeWeChat::start().await;
    fake.always(
        STABLE_TOKEN,
        Answer::error(
            89503,
            "this IP call needs the administrator's confirmation rid: 6543a555-23f9c67a-5e25193c",
        ),
    );
    let error = fake.client().access_token(&app()).await.unwrap_err();
    let wechat = error.wechat().unwrap();
    assert_eq!(wechat.kind, WeChatErrorKind::IpNeedsConfirmation);
    assert!(
        wechat
            .hint()
            .unwrap()
            .contains("administrator's confirmation in the mini program console"),
        "{wechat}"
    );
    assert_eq!(fake.count(STABLE_TOKEN), 1, "not retried");
}

#[tokio::test]
async fn classic_mode_gets_with_encoded_query() {
    let fake = FakeWeChat::start().await;
    fake.always(
        CLASSIC_TOKEN,
        Answer::raw(
            200,
            "text/plain",
            r#"{"access_token":"C1","expires_in":7200}"#,
        ),
    );
    let client = client_with(&fake, |config| config.token_mode = AccessTokenMode::Classic);
    assert_eq!(client.access_token(&app()).await.unwrap().expose(), "C1");

    let request = &fake.requests_to(CLASSIC_TOKEN)[0];
    assert_eq!(request.method, "GET");
    assert_eq!(
        request.param("grant_type").as_deref(),
        Some("client_credential")
    );
    assert_eq!(request.param("appid").as_deref(), Some(APPID));
    assert_eq!(request.param("secret").as_deref(), Some(SECRET));
    assert!(request.query.contains("%26value%3D1"), "{}", request.query);
    assert_eq!(fake.count(STABLE_TOKEN), 0);
}

#[tokio::test]
async fn token_is_cached_until_the_margin_then_refreshed() {
    let fake = FakeWeChat::start().await;
    fake.script(
        STABLE_TOKEN,
        vec![Answer::token("FIRST", 4), Answer::token("SECOND", 7200)],
    );
    // 4 s lifetime, 2 s margin: due for refresh 2 s after the fetch.
    let client = client_with(&fake, |config| {
        config.refresh_margin = Duration::from_secs(2)
    });
    assert_eq!(client.access_token(&app()).await.unwrap().expose(), "FIRST");
    assert_eq!(
        client.clone().access_token(&app()).await.unwrap().expose(),
        "FIRST"
    );
    assert_eq!(fake.count(STABLE_TOKEN), 1);

    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        client.access_token(&app()).await.unwrap().expose(),
        "SECOND"
    );
    assert_eq!(
        client.access_token(&app()).await.unwrap().expose(),
        "SECOND"
    );
    assert_eq!(fake.count(STABLE_TOKEN), 2);
}

#[tokio::test]
async fn failed_refresh_ahead_of_expiry_keeps_using_the_unexpired_token() {
    let fake = FakeWeChat::start().await;
    fake.script(
        STABLE_TOKEN,
        vec![
            Answer::token("FIRST", 4),
            Answer::error(40013, "invalid appid"),
            Answer::token("SECOND", 7200),
        ],
    );
    let client = client_with(&fake, |config| {
        config.refresh_margin = Duration::from_secs(2)
    });
    assert_eq!(client.access_token(&app()).await.unwrap().expose(), "FIRST");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(client.access_token(&app()).await.unwrap().expose(), "FIRST");
    assert_eq!(
        client.access_token(&app()).await.unwrap().expose(),
        "SECOND"
    );
    assert_eq!(fake.count(STABLE_TOKEN), 3);
}

#[tokio::test]
async fn short_lived_token_is_refreshed_at_half_life_not_at_every_call() {
    let fake = FakeWeChat::start().await;
    fake.always(STABLE_TOKEN, Answer::token("SHORT", 60));
    // Default margin (5 min) exceeds the 60 s lifetime.
    let client = fake.client();
    for _ in 0..5 {
        client.access_token(&app()).await.unwrap();
    }
    assert_eq!(fake.count(STABLE_TOKEN), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_callers_cause_one_upstream_call() {
    let fake = FakeWeChat::start().await;
    fake.always(
        STABLE_TOKEN,
        Answer::token("SHARED", 7200).after(Duration::from_millis(300)),
    );
    let client = fake.client();
    let callers: Vec<_> = (0..1000)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.access_token(&app()).await })
        })
        .collect();
    for caller in callers {
        assert_eq!(caller.await.unwrap().unwrap().expose(), "SHARED");
    }
    assert_eq!(fake.count(STABLE_TOKEN), 1);
}

#[tokio::test]
async fn different_apps_have_different_tokens() {
    let fake = FakeWeChat::start().await;
    fake.on(STABLE_TOKEN, |request| {
        let appid = request.json()["appid"].as_str().unwrap().to_string();
        Answer::token(&format!("TOKEN-{appid}"), 7200)
    });
    let client = fake.client();
    let other = wxlogin_client::AppCredentials::new("wxother", "other-secret");
    assert_eq!(
        client.access_token(&app()).await.unwrap().expose(),
        format!("TOKEN-{APPID}")
    );
    assert_eq!(
        client.access_token(&other).await.unwrap().expose(),
        "TOKEN-wxother"
    );
    assert_eq!(fake.count(STABLE_TOKEN), 2);
}

#[tokio::test]
async fn cancelled_caller_does_not_leave_the_refresh_stuck() {
    let fake = FakeWeChat::start().await;
    fake.always(
        STABLE_TOKEN,
        Answer::token("AFTER-CANCEL", 7200).after(Duration::from_millis(300)),
    );
    let client = fake.client();
    let cancelled =
        tokio::time::timeout(Duration::from_millis(50), client.access_token(&app())).await;
    assert!(
        cancelled.is_err(),
        "the first caller should have been cancelled"
    );

    let token = tokio::time::timeout(Duration::from_secs(2), client.access_token(&app()))
        .await
        .expect("second caller must not hang")
        .unwrap();
    assert_eq!(token.expose(), "AFTER-CANCEL");
    // It joined the refresh the cancelled caller started instead of starting another.
    assert_eq!(fake.count(STABLE_TOKEN), 1);
}

#[tokio::test]
async fn failed_refresh_lets_the_next_caller_try_again() {
    let fake = FakeWeChat::start().await;
    fake.script(
        STABLE_TOKEN,
        vec![
            Answer::error(40013, "invalid appid"),
            Answer::token("OK", 7200),
        ],
    );
    let client = fake.client();
    let error = client.access_token(&app()).await.unwrap_err();
    assert_eq!(error.wechat_kind(), Some(WeChatErrorKind::InvalidAppId));
    assert_eq!(client.access_token(&app()).await.unwrap().expose(), "OK");
    assert_eq!(fake.count(STABLE_TOKEN), 2);
}

#[tokio::test]
async fn forty_thousand_one_on_the_token_endpoint_means_wrong_secret_and_is_not_retried() {
    let fake = FakeWeChat::start().await;
    fake.always(
        STABLE_TOKEN,
        Answer::error(
            40001,
            "invalid credential, access_token is invalid or not latest",
        ),
    );
    let error = fake.client().access_token(&app()).await.unwrap_err();
    assert_eq!(error.wechat_kind(), Some(WeChatErrorKind::InvalidSecret));
    assert!(
        error.to_string().contains("wrong secret for this appid"),
        "{error}"
    );
    assert_eq!(fake.count(STABLE_TOKEN), 1);
}

#[tokio::test]
async fn busy_token_fetch_is_retried_with_backoff() {
    let fake = FakeWeChat::start().await;
    fake.script(
        STABLE_TOKEN,
        vec![
            Answer::error(-1, "system error"),
            Answer::error(-1, "system error"),
            Answer::token("T", 7200),
        ],
    );
    let client = client_with(&fake, |config| {
        config.retry_base_delay = Duration::from_millis(100)
    });
    let started = Instant::now();
    assert_eq!(client.access_token(&app()).await.unwrap().expose(), "T");
    assert_eq!(fake.count(STABLE_TOKEN), 3);
    // Two backoffs: at least 50 ms + 100 ms with the jitter's lower bound.
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn token_fetch_retries_are_bounded_by_max_retries() {
    let fake = FakeWeChat::start().await;
    fake.always(STABLE_TOKEN, Answer::error(-1, "system error"));
    let client = client_with(&fake, |config| config.max_retries = 3);
    let error = client.access_token(&app()).await.unwrap_err();
    assert_eq!(error.wechat_kind(), Some(WeChatErrorKind::SystemBusy));
    assert_eq!(fake.count(STABLE_TOKEN), 4);
}

#[tokio::test]
async fn transport_failures_of_the_token_fetch_are_retried() {
    let fake = FakeWeChat::start().await;
    fake.script(
        STABLE_TOKEN,
        vec![
            Answer::raw(503, "text/html", "busy"),
            Answer::token("LATE", 7200).after(Duration::from_secs(3)),
            Answer::token("T", 7200),
        ],
    );
    let client = client_with(&fake, |config| {
        config.request_timeout = Duration::from_millis(200)
    });
    assert_eq!(client.access_token(&app()).await.unwrap().expose(), "T");
    assert_eq!(fake.count(STABLE_TOKEN), 3);
}

#[tokio::test]
async fn malformed_token_answers_are_not_retried() {
    let fake = FakeWeChat::start().await;
    fake.always(
        STABLE_TOKEN,
        Answer::json(json!({ "access_token": "", "expires_in": 7200 })),
    );
    let error = fake.client().access_token(&app()).await.unwrap_err();
    assert!(
        matches!(error, ClientError::InvalidResponse(_)),
        "{error:?}"
    );
    assert_eq!(fake.count(STABLE_TOKEN), 1);
}

#[tokio::test]
async fn force_refresh_sends_force_flag_and_respects_the_thirty_second_spacing() {
    let fake = FakeWeChat::start().await;
    fake.on(STABLE_TOKEN, |request| {
        if request.json()["force_refresh"] == json!(true) {
            Answer::token("FORCED", 7200)
        } else {
            Answer::token("NORMAL", 7200)
        }
    });
    let client = fake.client();
    assert_eq!(
        client.access_token(&app()).await.unwrap().expose(),
        "NORMAL"
    );
    assert_eq!(
        client
            .force_refresh_access_token(&app())
            .await
            .unwrap()
            .expose(),
        "FORCED"
    );
    // The forced token replaced the cached one without another call.
    assert_eq!(
        client.access_token(&app()).await.unwrap().expose(),
        "FORCED"
    );
    assert_eq!(fake.count(STABLE_TOKEN), 2);

    let error = client.force_refresh_access_token(&app()).await.unwrap_err();
    let ClientError::ForceRefreshLimited { retry_after } = error else {
        panic!("{error:?}")
    };
    assert!(retry_after > Duration::from_secs(25) && retry_after <= Duration::from_secs(30));
    assert_eq!(
        fake.count(STABLE_TOKEN),
        2,
        "a refused force refresh must not call WeChat"
    );
}

#[tokio::test]
async fn force_refresh_is_sent_once_even_when_busy() {
    let fake = FakeWeChat::start().await;
    fake.always(STABLE_TOKEN, Answer::error(-1, "system error"));
    let error = fake
        .client()
        .force_refresh_access_token(&app())
        .await
        .unwrap_err();
    assert_eq!(error.wechat_kind(), Some(WeChatErrorKind::SystemBusy));
    assert_eq!(fake.count(STABLE_TOKEN), 1);
}

#[tokio::test]
async fn fetched_token_is_saved_to_the_store_and_a_stored_token_is_used() {
    let fake = FakeWeChat::start().await;
    fake.always(STABLE_TOKEN, Answer::token("FETCHED", 7200));
    let store = Arc::new(InMemoryAccessTokenStore::new());
    let first = fake.client().with_token_store(store.clone());
    first.access_token(&app()).await.unwrap();
    let saved = store.load(APPID).await.unwrap().expect("saved");
    assert_eq!(saved.token, "FETCHED");

    // Another instance sharing the store takes the token from it.
    let second = fake.client().with_token_store(store.clone());
    assert_eq!(
        second.access_token(&app()).await.unwrap().expose(),
        "FETCHED"
    );
    assert_eq!(fake.count(STABLE_TOKEN), 1);
}

#[tokio::test]
async fn stored_token_inside_the_margin_is_refreshed() {
    let fake = FakeWeChat::start().await;
    fake.always(STABLE_TOKEN, Answer::token("NEW", 7200));
    let store = Arc::new(InMemoryAccessTokenStore::new());
    let almost_expired = StoredAccessToken {
        token: "OLD".to_string(),
        expires_at_unix: unix_now() + 60,
    };
    store.save(APPID, &almost_expired).await.unwrap();
    let client = fake.client().with_token_store(store.clone());
    assert_eq!(client.access_token(&app()).await.unwrap().expose(), "NEW");
    assert_eq!(store.load(APPID).await.unwrap().unwrap().token, "NEW");
}

#[tokio::test]
async fn waits_for_the_token_another_instance_saves_while_holding_the_lease() {
    let fake = FakeWeChat::start().await;
    fake.always(STABLE_TOKEN, Answer::token("MINE", 7200));
    let store = Arc::new(InMemoryAccessTokenStore::new());
    assert!(store
        .try_acquire_refresh_lease(APPID, "other-instance", Duration::from_secs(10))
        .await
        .unwrap());
    let client = fake.client().with_token_store(store.clone());
    let waiting = tokio::spawn({
        let client = client.clone();
        async move { client.access_token(&app()).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !waiting.is_finished(),
        "the caller must wait for the lease holder"
    );
    let theirs = StoredAccessToken {
        token: "THEIRS".to_string(),
        expires_at_unix: unix_now() + 7200,
    };
    store.save(APPID, &theirs).await.unwrap();
    let token = tokio::time::timeout(Duration::from_secs(2), waiting)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(token.expose(), "THEIRS");
    assert_eq!(fake.count(STABLE_TOKEN), 0);
}

#[tokio::test]
async fn takes_over_when_the_other_instances_lease_expires_without_a_token() {
    let fake = FakeWeChat::start().await;
    fake.always(STABLE_TOKEN, Answer::token("MINE", 7200));
    let store = Arc::new(InMemoryAccessTokenStore::new());
    assert!(store
        .try_acquire_refresh_lease(APPID, "crashed-instance", Duration::from_millis(300))
        .await
        .unwrap());
    let client = client_with(&fake, |config| {
        config.refresh_lease_ttl = Duration::from_millis(300)
    })
    .with_token_store(store.clone());
    let started = Instant::now();
    assert_eq!(client.access_token(&app()).await.unwrap().expose(), "MINE");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(fake.count(STABLE_TOKEN), 1);
    // The lease was released after the fetch.
    assert!(store
        .try_acquire_refresh_lease(APPID, "someone-else", Duration::from_secs(1))
        .await
        .unwrap());
}

#[tokio::test]
async fn lease_is_released_after_a_failed_fetch() {
    let fake = FakeWeChat::start().await;
    fake.always(STABLE_TOKEN, Answer::error(40125, "invalid appsecret"));
    let store = Arc::new(InMemoryAccessTokenStore::new());
    let client = fake.client().with_token_store(store.clone());
    client.access_token(&app()).await.unwrap_err();
    assert!(store
        .try_acquire_refresh_lease(APPID, "someone-else", Duration::from_secs(1))
        .await
        .unwrap());
}

#[tokio::test]
async fn in_memory_store_invalidates_only_the_current_token() {
    let store = InMemoryAccessTokenStore::new();
    let current = StoredAccessToken {
        token: "CURRENT".to_string(),
        expires_at_unix: unix_now() + 7200,
    };
    store.save(APPID, &current).await.unwrap();
    store.invalidate_if_current(APPID, "OLDER").await.unwrap();
    assert_eq!(store.load(APPID).await.unwrap(), Some(current));
    store.invalidate_if_current(APPID, "CURRENT").await.unwrap();
    assert_eq!(store.load(APPID).await.unwrap(), None);
}

#[tokio::test]
async fn in_memory_lease_is_exclusive_until_released_or_expired() {
    let store = InMemoryAccessTokenStore::new();
    let ttl = Duration::from_millis(100);
    assert!(store
        .try_acquire_refresh_lease(APPID, "a", ttl)
        .await
        .unwrap());
    assert!(!store
        .try_acquire_refresh_lease(APPID, "b", ttl)
        .await
        .unwrap());
    store.release_refresh_lease(APPID, "b").await.unwrap();
    assert!(!store
        .try_acquire_refresh_lease(APPID, "b", ttl)
        .await
        .unwrap());
    store.release_refresh_lease(APPID, "a").await.unwrap();
    assert!(store
        .try_acquire_refresh_lease(APPID, "b", ttl)
        .await
        .unwrap());
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(store
        .try_acquire_refresh_lease(APPID, "a", ttl)
        .await
        .unwrap());
}

#[tokio::test]
async fn waiting_for_another_instance_is_bounded() {
    let fake = FakeWeChat::start().await;
    fake.always(STABLE_TOKEN, Answer::token("MINE", 7200));
    let store = Arc::new(InMemoryAccessTokenStore::new());
    assert!(store
        .try_acquire_refresh_lease(APPID, "stuck-instance", Duration::from_secs(60))
        .await
        .unwrap());
    let client = client_with(&fake, |config| {
        config.refresh_lease_ttl = Duration::from_millis(100)
    })
    .with_token_store(store.clone());
    let started = Instant::now();
    let error = client.access_token(&app()).await.unwrap_err();
    assert!(matches!(error, ClientError::TokenStore(_)), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(fake.count(STABLE_TOKEN), 0);
}

struct BrokenStore;

#[async_trait::async_trait]
impl AccessTokenStore for BrokenStore {
    async fn load(
        &self,
        _appid: &str,
    ) -> Result<Option<StoredAccessToken>, wxlogin_client::StoreError> {
        Err(wxlogin_client::StoreError("database is down".to_string()))
    }
    async fn save(
        &self,
        _appid: &str,
        _token: &StoredAccessToken,
    ) -> Result<(), wxlogin_client::StoreError> {
        Err(wxlogin_client::StoreError("database is down".to_string()))
    }
    async fn invalidate_if_current(
        &self,
        _appid: &str,
        _token: &str,
    ) -> Result<(), wxlogin_client::StoreError> {
        Err(wxlogin_client::StoreError("database is down".to_string()))
    }
    async fn try_acquire_refresh_lease(
        &self,
        _appid: &str,
        _holder: &str,
        _ttl: Duration,
    ) -> Result<bool, wxlogin_client::StoreError> {
        Err(wxlogin_client::StoreError("database is down".to_string()))
    }
    async fn release_refresh_lease(
        &self,
        _appid: &str,
        _holder: &str,
    ) -> Result<(), wxlogin_client::StoreError> {
        Err(wxlogin_client::StoreError("database is down".to_string()))
    }
}

#[tokio::test]
async fn store_failure_is_reported_as_a_token_store_error() {
    let fake = FakeWeChat::start().await;
    fake.always(STABLE_TOKEN, Answer::token("T", 7200));
    let client = fake.client().with_token_store(Arc::new(BrokenStore));
    let error = client.access_token(&app()).await.unwrap_err();
    assert!(
        matches!(error, ClientError::TokenStore(ref store) if store.0.contains("database is down")),
        "{error:?}"
    );
    assert_eq!(fake.count(STABLE_TOKEN), 0);
}
