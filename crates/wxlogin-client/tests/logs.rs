//! Log lines: debug events name the endpoint, errcode, rid and latency, never a secret.
//! Alone in its own test binary because a thread-local tracing subscriber misses events
//! when other tests run in parallel threads of the same process.
mod common;

use common::*;
use serde_json::json;
use wxlogin_client::SessionKey;

const ACCESS_TOKEN: &str = "ACCESS-TOKEN-VERY-SECRET-93f1";
const PHONE_CODE: &str = "phone-code-e31968a7f94c";

#[tokio::test]
async fn debug_logs_name_endpoint_errcode_and_rid_but_no_secret() {
    let (logs, _guard) = CapturedLogs::start(tracing::Level::TRACE);

    let fake = FakeWeChat::start().await;
    fake.script(
        STABLE_TOKEN,
        vec![
            Answer::error(-1, "system error"),
            Answer::token(ACCESS_TOKEN, 7200),
        ],
    );
    fake.always(
        JSCODE2SESSION,
        Answer::json(json!({ "session_key": SESSION_KEY_B64, "openid": "openid-1" })),
    );
    fake.always(
        PHONE,
        Answer::json(json!({
            "errcode": 0, "errmsg": "ok",
            "phone_info": { "phoneNumber": "13800138000", "purePhoneNumber": "13800138000", "countryCode": "86" }
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
    let client = fake.client();
    let key = SessionKey::from_base64(SESSION_KEY_B64).unwrap();
    client.code2session(&app(), "login-code-123").await.unwrap();
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

    let text = logs.text();
    assert!(text.contains("endpoint=\"jscode2session\""), "{text}");
    assert!(text.contains("errcode=87009"), "{text}");
    assert!(text.contains("6129ee10-272863a4-64d75414"), "{text}");
    assert!(text.contains("latency_ms="), "{text}");
    for secret in [
        SECRET,
        "s3cr3t",
        ACCESS_TOKEN,
        SESSION_KEY_B64,
        "13800138000",
        PHONE_CODE,
        "login-code-123",
    ] {
        assert!(!text.contains(secret), "log contains {secret}: {text}");
    }
}
