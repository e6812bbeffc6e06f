//! What the client lets out: observer notifications, log lines and Debug/Display output,
//! none of which may contain a secret.
mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use serde_json::json;
use wxlogin_client::{
    AccessToken, CallObserver, ClientConfig, ClientError, PhoneInfo, SessionKey, StoredAccessToken,
    WeChatClient,
};

const ACCESS_TOKEN: &str = "ACCESS-TOKEN-VERY-SECRET-93f1";
const PHONE_CODE: &str = "phone-code-e31968a7f94c";

#[derive(Default)]
struct RecordingObserver {
    calls: Mutex<Vec<(String, Option<i64>, String)>>,
}

impl CallObserver for RecordingObserver {
    fn on_call(
        &self,
        endpoint: &'static str,
        errcode: Option<i64>,
        outcome: &str,
        latency: Duration,
    ) {
        assert!(latency < Duration::from_secs(5));
        self.calls
            .lock()
            .unwrap()
            .push((endpoint.to_string(), errcode, outcome.to_string()));
    }
}

fn wechat_with_everything(fake: &FakeWeChat) {
    fake.always(STABLE_TOKEN, Answer::token(ACCESS_TOKEN, 7200));
    fake.always(
        JSCODE2SESSION,
        Answer::json(json!({ "session_key": SESSION_KEY_B64, "openid": "openid-1" })),
    );
    fake.always(
        PHONE,
        Answer::json(json!({
            "errcode": 0, "errmsg": "ok",
            "phone_info": { "phoneNumber": "13800138000", "purePhoneNumber": "13800138000", "countryCode": "86",
                            "watermark": { "timestamp": 1, "appid": APPID } }
        })),
    );
    fake.always(
        CHECK_SESSION,
        Answer::error(87009, "invalid signature, rid: 6129ee10-272863a4-64d75414"),
    );
    fake.always(
        RESET_SESSION_KEY,
        Answer::json(json!({ "errcode": 0, "errmsg": "ok", "openid": "openid-1", "session_key": SESSION_KEY_B64 })),
    );
}

#[tokio::test]
async fn observer_hears_every_http_call_with_its_outcome() {
    let fake = FakeWeChat::start().await;
    wechat_with_everything(&fake);
    let observer = Arc::new(RecordingObserver::default());
    let client = fake.client().with_observer(observer.clone());
    let key = SessionKey::from_base64(SESSION_KEY_B64).unwrap();
    client.code2session(&app(), "code").await.unwrap();
    client
        .get_user_phone_number(&app(), PHONE_CODE, None)
        .await
        .unwrap();
    client
        .check_session_key(&app(), "openid-1", &key)
        .await
        .unwrap_err();
    client
        .reset_user_session_key(&app(), "openid-1", &key)
        .await
        .unwrap();

    let calls = observer.calls.lock().unwrap().clone();
    let expected = [
        ("jscode2session", Some(0), "ok"),
        ("stable_token", Some(0), "ok"),
        ("getuserphonenumber", Some(0), "ok"),
        ("checksession", Some(87009), "wechat_error"),
        ("resetusersessionkey", Some(0), "ok"),
    ];
    let calls: Vec<(&str, Option<i64>, &str)> = calls
        .iter()
        .map(|(e, c, o)| (e.as_str(), *c, o.as_str()))
        .collect();
    assert_eq!(calls, expected);
}

#[tokio::test]
async fn observer_distinguishes_timeouts_transport_and_bad_bodies() {
    let fake = FakeWeChat::start().await;
    let observer = Arc::new(RecordingObserver::default());
    let client = WeChatClient::new(ClientConfig {
        request_timeout: Duration::from_millis(200),
        token_mode: wxlogin_client::AccessTokenMode::Classic,
        max_retries: 0,
        ..fake.config()
    })
    .unwrap()
    .with_observer(observer.clone());
    fake.always(
        JSCODE2SESSION,
        Answer::error(0, "ok").after(Duration::from_secs(2)),
    );
    client.code2session(&app(), "code").await.unwrap_err();
    fake.always(JSCODE2SESSION, Answer::raw(500, "text/plain", "x"));
    client.code2session(&app(), "code").await.unwrap_err();
    fake.always(CLASSIC_TOKEN, Answer::raw(200, "text/plain", "not json"));
    client.access_token(&app()).await.unwrap_err();

    let calls = observer.calls.lock().unwrap().clone();
    let calls: Vec<(&str, Option<i64>, &str)> = calls
        .iter()
        .map(|(e, c, o)| (e.as_str(), *c, o.as_str()))
        .collect();
    assert_eq!(
        calls,
        [
            ("jscode2session", None, "timeout"),
            ("jscode2session", None, "transport"),
            ("token", None, "invalid_response"),
        ]
    );
}

#[test]
fn debug_and_display_of_secret_holders_are_redacted() {
    let app = app();
    let token = AccessToken::new(ACCESS_TOKEN.to_string(), 1_700_000_000);
    let stored = StoredAccessToken {
        token: ACCESS_TOKEN.to_string(),
        expires_at_unix: 1_700_000_000,
    };
    let phone = PhoneInfo {
        phone_number: "+8613800138000".to_string(),
        pure_phone_number: "13800138000".to_string(),
        country_code: "86".to_string(),
        watermark: None,
    };
    let outputs = [
        format!("{app:?}"),
        format!("{:?} {}", app.secret, app.secret),
        format!("{token:?}"),
        format!("{stored:?}"),
        format!("{phone:?}"),
    ];
    for output in &outputs {
        assert!(!output.contains("s3cr3t"), "{output}");
        assert!(!output.contains(ACCESS_TOKEN), "{output}");
        assert!(!output.contains("13800138000"), "{output}");
    }
    assert!(outputs[0].contains(APPID));
    assert!(outputs[2].contains("1700000000"));
    assert!(
        outputs[4].contains("8000"),
        "the last digits tell numbers apart: {}",
        outputs[4]
    );
}

#[tokio::test]
async fn debug_of_answers_and_client_hides_keys() {
    let fake = FakeWeChat::start().await;
    wechat_with_everything(&fake);
    let client = fake.client();
    let session = client.code2session(&app(), "code").await.unwrap();
    let reset = client
        .reset_user_session_key(&app(), "openid-1", &session.session_key)
        .await
        .unwrap();
    for output in [
        format!("{session:?}"),
        format!("{reset:?}"),
        format!("{client:?}"),
    ] {
        assert!(!output.contains(SESSION_KEY_B64), "{output}");
        assert!(!output.contains(ACCESS_TOKEN), "{output}");
        assert!(!output.contains("s3cr3t"), "{output}");
    }
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let fake = FakeWeChat::start().await;
    let elsewhere = FakeWeChat::start().await;
    elsewhere.always(
        JSCODE2SESSION,
        Answer::json(json!({ "session_key": SESSION_KEY_B64, "openid": "o" })),
    );
    fake.always(
        JSCODE2SESSION,
        Answer::redirect_to(format!("{}{}", elsewhere.base_url, JSCODE2SESSION)),
    );
    let error = fake
        .client()
        .code2session(&app(), "code")
        .await
        .unwrap_err();
    assert!(
        matches!(error, ClientError::Transport(ref message) if message.contains("302")),
        "{error:?}"
    );
    assert!(
        elsewhere.requests().is_empty(),
        "the secret must not follow a redirect"
    );
}
