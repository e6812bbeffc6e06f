//! The forced refresh of a token WeChat refused is logged as a warning, without the token.
//! Alone in its own test binary for the reason given in logs.rs (a thread-local tracing
//! subscriber misses events of tests running on other threads).
mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use serde_json::json;

const STUCK: &str = "STUCK-TOKEN-VERY-SECRET-5d2e";
const FORCED: &str = "FORCED-TOKEN-VERY-SECRET-77a0";

#[derive(Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_forced_refresh_of_a_refused_token_is_a_warning_without_the_token() {
    let logs = CapturedLogs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

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

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("WARN"), "{text}");
    assert!(text.contains("forcing a new one"), "{text}");
    assert!(text.contains(APPID), "{text}");
    for secret in [STUCK, FORCED, SECRET] {
        assert!(!text.contains(secret), "log contains {secret}: {text}");
    }
}
