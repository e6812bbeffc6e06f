//! The forced refresh of a token WeChat refused is logged as a warning, without the token.
//! Alone in its own test binary for the reason given in logs.rs (a thread-local tracing
//! subscriber misses events of tests running on other threads).
mod common;

use common::*;
use serde_json::json;

const STUCK: &str = "STUCK-TOKEN-VERY-SECRET-5d2e";
const FORCED: &str = "FORCED-TOKEN-VERY-SECRET-77a0";

#[tokio::test]
async fn the_forced_refresh_of_a_refused_token_is_a_warning_without_the_token() {
    let (logs, _guard) = CapturedLogs::start(tracing::Level::WARN);

    let fake = FakeWeChat::start().await;
    fake.on(STABLE_TOKEN, |request| {
        if request.json()["force_refresh"] == json!(true) {
            Answer::token(FORCED, 7200)
        } else {
            Answer::token(STUCK, 6000)
        }
    });
    fake.on(PHONE, |request| {
        if request.param("access_token").as_deref() == Some(FORCED) {
            Answer::json(json!({
                "errcode": 0, "errmsg": "ok",
                "phone_info": { "phoneNumber": "13800138000", "purePhoneNumber": "13800138000", "countryCode": "86" }
            }))
        } else {
            Answer::error(40001, "invalid credential")
        }
    });
    fake.client()
        .get_user_phone_number(&app(), "phone-code", None)
        .await
        .unwrap();

    let text = logs.text();
    assert!(text.contains("WARN"), "{text}");
    assert!(text.contains("forcing a new one"), "{text}");
    assert!(text.contains(APPID), "{text}");
    for secret in [STUCK, FORCED, SECRET] {
        assert!(!text.contains(secret), "log contains {secret}: {text}");
    }
}
