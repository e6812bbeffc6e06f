//! code2Session against a local fake: encoding, answer shapes, error mapping, transport
//! failures, and that the code is sent exactly once and needs no access token.
mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use wxlogin_client::{ClientError, WeChatClient, WeChatErrorKind};

const OPENID: &str = "o--sB5rdWBfwTidbZzzn4FXfWpEg";

fn success() -> Answer {
    Answer::json(json!({ "session_key": SESSION_KEY_B64, "openid": OPENID }))
}

#[tokio::test]
async fn every_query_parameter_is_url_encoded() {
    let fake = FakeWeChat::start().await;
    fake.always(JSCODE2SESSION, success());
    let js_code = "a+b/c=d&e f";
    fake.client().code2session(&app(), js_code).await.unwrap();

    let request = &fake.requests_to(JSCODE2SESSION)[0];
    assert_eq!(request.method, "GET");
    assert_eq!(request.param("js_code").as_deref(), Some(js_code));
    assert_eq!(request.param("secret").as_deref(), Some(SECRET));
    assert_eq!(request.param("appid").as_deref(), Some(APPID));
    assert_eq!(
        request.param("grant_type").as_deref(),
        Some("authorization_code")
    );
    assert!(
        request.query.contains("js_code=a%2Bb%2Fc%3Dd%26e"),
        "{}",
        request.query
    );
    assert!(request.body.is_empty());
}

#[tokio::test]
async fn success_without_errcode_is_typed_and_fetches_no_token() {
    let fake = FakeWeChat::start().await;
    fake.always(
        JSCODE2SESSION,
        Answer::json(json!({
            "session_key": SESSION_KEY_B64, "openid": OPENID, "unionid": "ocMvos6NjeKLIBqg5Mr9QjxrP1FA",
            "some_new_field": {"nested": true}
        })),
    );
    let session = fake.client().code2session(&app(), "code").await.unwrap();
    assert_eq!(session.openid, OPENID);
    assert_eq!(
        session.unionid.as_deref(),
        Some("ocMvos6NjeKLIBqg5Mr9QjxrP1FA")
    );
    assert_eq!(
        session.session_key.expose_base64().as_str(),
        SESSION_KEY_B64
    );
    assert_eq!(fake.count(STABLE_TOKEN) + fake.count(CLASSIC_TOKEN), 0);
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn errcode_zero_is_success_and_missing_unionid_is_none() {
    let fake = FakeWeChat::start().await;
    fake.always(
        JSCODE2SESSION,
        Answer::json(json!({ "errcode": 0, "errmsg": "ok", "session_key": SESSION_KEY_B64, "openid": OPENID })),
    );
    let session = fake.client().code2session(&app(), "code").await.unwrap();
    assert_eq!(session.unionid, None);
}

#[tokio::test]
async fn non_zero_errcode_is_an_error_even_with_a_payload() {
    let fake = FakeWeChat::start().await;
    fake.always(
        JSCODE2SESSION,
        Answer::json(json!({
            "errcode": 40163, "errmsg": "code been used, rid: 6129ee10-272863a4-64d75414",
            "session_key": SESSION_KEY_B64, "openid": OPENID
        })),
    );
    let error = fake
        .client()
        .code2session(&app(), "code")
        .await
        .unwrap_err();
    let wechat = error.wechat().expect("a WeChat error");
    assert_eq!(wechat.kind, WeChatErrorKind::CodeUsed);
    assert_eq!(wechat.errcode, 40163);
    assert_eq!(
        wechat.errmsg,
        "code been used, rid: 6129ee10-272863a4-64d75414"
    );
    assert_eq!(wechat.rid.as_deref(), Some("6129ee10-272863a4-64d75414"));
    assert!(wechat.hint().unwrap().contains("reuse the first result"));
}

#[tokio::test]
async fn text_plain_content_type_is_parsed_as_json() {
    let fake = FakeWeChat::start().await;
    fake.always(
        JSCODE2SESSION,
        Answer::raw(
            200,
            "text/plain",
            &format!(r#"{{"session_key":"{SESSION_KEY_B64}","openid":"{OPENID}"}}"#),
        ),
    );
    let session = fake.client().code2session(&app(), "code").await.unwrap();
    assert_eq!(session.openid, OPENID);
}

#[tokio::test]
async fn every_documented_errcode_maps_to_its_kind_and_keeps_the_raw_answer() {
    let cases = [
        (-1, WeChatErrorKind::SystemBusy, true),
        (40029, WeChatErrorKind::InvalidCode, true),
        (40163, WeChatErrorKind::CodeUsed, true),
        (45011, WeChatErrorKind::RateLimited, true),
        (45009, WeChatErrorKind::RateLimited, true),
        (40226, WeChatErrorKind::HighRiskUser, true),
        (40013, WeChatErrorKind::InvalidAppId, true),
        (40125, WeChatErrorKind::InvalidSecret, true),
        (40164, WeChatErrorKind::IpNotWhitelisted, true),
        (40001, WeChatErrorKind::InvalidCredential, true),
        (40014, WeChatErrorKind::InvalidCredential, true),
        (42001, WeChatErrorKind::InvalidCredential, true),
        (87009, WeChatErrorKind::InvalidSignature, true),
        (41008, WeChatErrorKind::Other, false),
        (47001, WeChatErrorKind::Other, false),
    ];
    let fake = FakeWeChat::start().await;
    let client = fake.client();
    for (errcode, kind, has_hint) in cases {
        let errmsg = format!("message for {errcode} rid: 65434555-23f9c67a-5e25193c");
        fake.always(JSCODE2SESSION, Answer::error(errcode, &errmsg));
        let error = client.code2session(&app(), "code").await.unwrap_err();
        let wechat = error
            .wechat()
            .unwrap_or_else(|| panic!("{errcode}: {error:?}"));
        assert_eq!(wechat.kind, kind, "{errcode}");
        assert_eq!(wechat.errcode, errcode);
        assert_eq!(wechat.errmsg, errmsg);
        assert_eq!(wechat.rid.as_deref(), Some("65434555-23f9c67a-5e25193c"));
        assert_eq!(wechat.hint().is_some(), has_hint, "{errcode}");
        assert!(error.to_string().contains(&errcode.to_string()));
    }
}

#[tokio::test]
async fn hints_name_the_usual_caller_mistakes() {
    let fake = FakeWeChat::start().await;
    let client = fake.client();
    let expectations = [
        (40029, "phone-number code sent as a login code"),
        (40029, "another appid"),
        (40125, "wrong secret for this appid"),
        (40164, "whitelist"),
        (40226, "high risk"),
        (45011, "next minute"),
        (40013, "appid"),
    ];
    for (errcode, needle) in expectations {
        fake.always(JSCODE2SESSION, Answer::error(errcode, "x"));
        let error = client.code2session(&app(), "code").await.unwrap_err();
        assert!(error.to_string().contains(needle), "{errcode}: {error}");
    }
}

#[tokio::test]
async fn is_sent_exactly_once_whatever_the_answer() {
    let fake = FakeWeChat::start().await;
    let client = fake.client();
    for answer in [
        Answer::error(-1, "system error"),
        Answer::raw(502, "text/html", "<html>bad gateway</html>"),
        Answer::raw(200, "text/plain", "not json"),
    ] {
        let before = fake.count(JSCODE2SESSION);
        fake.always(JSCODE2SESSION, answer);
        client.code2session(&app(), "code").await.unwrap_err();
        assert_eq!(fake.count(JSCODE2SESSION), before + 1);
    }
}

#[tokio::test]
async fn timeout_is_reported_within_the_deadline() {
    let fake = FakeWeChat::start().await;
    fake.always(JSCODE2SESSION, success().after(Duration::from_secs(5)));
    let client = WeChatClient::new(wxlogin_client::ClientConfig {
        request_timeout: Duration::from_millis(200),
        ..fake.config()
    })
    .unwrap();
    let started = Instant::now();
    let error = client.code2session(&app(), "code").await.unwrap_err();
    assert!(matches!(error, ClientError::Timeout), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(fake.count(JSCODE2SESSION), 1);
}

#[tokio::test]
async fn non_200_status_is_a_transport_error_without_secrets() {
    let fake = FakeWeChat::start().await;
    fake.always(
        JSCODE2SESSION,
        Answer::raw(502, "application/json", r#"{"errcode":0}"#),
    );
    let error = fake
        .client()
        .code2session(&app(), "the-code")
        .await
        .unwrap_err();
    let ClientError::Transport(message) = &error else {
        panic!("{error:?}")
    };
    assert!(message.contains("502"), "{message}");
    for text in [error.to_string(), format!("{error:?}")] {
        assert!(!text.contains(SECRET) && !text.contains("s3cr3t"), "{text}");
        assert!(!text.contains("the-code"), "{text}");
    }
}

#[tokio::test]
async fn connection_failure_is_a_transport_error_without_the_url() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let client = WeChatClient::new(wxlogin_client::ClientConfig {
        base_url: format!("http://{address}"),
        max_retries: 0,
        ..Default::default()
    })
    .unwrap();
    let error = client.code2session(&app(), "the-code").await.unwrap_err();
    assert!(matches!(error, ClientError::Transport(_)), "{error:?}");
    for text in [error.to_string(), format!("{error:?}")] {
        assert!(
            !text.contains("s3cr3t") && !text.contains("secret="),
            "{text}"
        );
        assert!(!text.contains("the-code") && !text.contains('?'), "{text}");
    }
}

#[tokio::test]
async fn malformed_answers_are_invalid_responses_that_quote_no_values() {
    let fake = FakeWeChat::start().await;
    let client = fake.client();
    let cases = [
        Answer::raw(200, "application/json", "<html>"),
        Answer::json(json!(["array"])),
        Answer::json(json!({ "openid": OPENID })),
        Answer::json(json!({ "openid": OPENID, "session_key": "not-a-key" })),
        Answer::json(json!({ "openid": OPENID, "session_key": 987654321 })),
        Answer::json(json!({ "errcode": "40029", "errmsg": "x" })),
    ];
    for answer in cases {
        fake.always(JSCODE2SESSION, answer.clone());
        let error = client.code2session(&app(), "code").await.unwrap_err();
        assert!(
            matches!(error, ClientError::InvalidResponse(_)),
            "{answer:?}: {error:?}"
        );
        assert!(
            !error.to_string().contains("not-a-key") && !error.to_string().contains("987654321")
        );
    }
}

#[tokio::test]
async fn oversized_answer_is_refused() {
    let fake = FakeWeChat::start().await;
    let padding = "x".repeat(100 * 1024);
    fake.always(
        JSCODE2SESSION,
        Answer::json(
            json!({ "session_key": SESSION_KEY_B64, "openid": OPENID, "padding": padding }),
        ),
    );
    let error = fake
        .client()
        .code2session(&app(), "code")
        .await
        .unwrap_err();
    assert!(
        matches!(error, ClientError::InvalidResponse(ref message) if message.contains("larger")),
        "{error:?}"
    );
}

#[tokio::test]
async fn bad_base_url_is_a_config_error() {
    for base_url in ["not a url", "ftp://127.0.0.1", "http://127.0.0.1/?q=1"] {
        let result = WeChatClient::new(wxlogin_client::ClientConfig {
            base_url: base_url.to_string(),
            ..Default::default()
        });
        assert!(
            matches!(result, Err(ClientError::InvalidConfig(_))),
            "{base_url}"
        );
    }
}

#[tokio::test]
async fn base_url_may_carry_a_path_prefix() {
    let fake = FakeWeChat::start().await;
    fake.always(&format!("/prefix{JSCODE2SESSION}"), success());
    let client = WeChatClient::new(wxlogin_client::ClientConfig {
        base_url: format!("{}/prefix/", fake.base_url),
        ..fake.config()
    })
    .unwrap();
    client.code2session(&app(), "code").await.unwrap();
}
