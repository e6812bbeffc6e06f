//! Request bodies: arbitrary bytes through the server's JSON extractor into every request
//! type, and every field value through the domain parsers.
//!
//! Properties: nothing panics; a refused body is `invalid_request` (400) in the
//! contract's shape; the refusal never echoes a credential-like value of the body (a
//! token or code sent in the wrong field must not come back in the answer or the logs);
//! what the domain parsers accept is within their documented bounds.
#![no_main]

use axum::body::Body;
use axum::extract::FromRequest;
use axum::http::Request;
use axum::response::IntoResponse;
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use wxlogin_server::domain::{AppId, AvatarUrl, LoginCode, MaskedPhone, Nickname};
use wxlogin_server::extractors::ApiJson;
use wxlogin_server::routes::login::{LoginRequest, RefreshRequest};
use wxlogin_server::routes::me::{PhoneRequest, ProfileUpdate, UserInfoRequest};
use wxlogin_server::{ApiError, ErrorCode};

/// Content types a client may send; only the JSON ones may be accepted.
const CONTENT_TYPES: [Option<&str>; 6] = [
    Some("application/json"),
    Some("application/json; charset=utf-8"),
    Some("application/vnd.api+json"),
    Some("text/plain"),
    Some("application/x-www-form-urlencoded"),
    None,
];

fuzz_target!(|body: &[u8]| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let content_type = CONTENT_TYPES[body.len() % CONTENT_TYPES.len()];
    runtime.block_on(async {
        for content_type in [Some("application/json"), content_type] {
            if let Some(login) = extract::<LoginRequest>(body, content_type).await {
                check_code(&login.code);
                if let Some(appid) = &login.appid {
                    check_appid(appid);
                }
            }
            if let Some(refresh) = extract::<RefreshRequest>(body, content_type).await {
                let _ = wxlogin_server::tokens::hash_refresh_token(&refresh.refresh_token);
            }
            if let Some(update) = extract::<ProfileUpdate>(body, content_type).await {
                if let Some(nickname) = &update.nickname {
                    check_nickname(nickname);
                }
                if let Some(avatar_url) = &update.avatar_url {
                    check_avatar_url(avatar_url);
                }
            }
            if let Some(phone) = extract::<PhoneRequest>(body, content_type).await {
                if let Some(code) = &phone.code {
                    check_code(code);
                }
            }
            if let Some(info) = extract::<UserInfoRequest>(body, content_type).await {
                check_nickname(&info.raw_data);
                let _ = wxlogin_server::storage::hash_login_code(&info.iv, &info.signature);
            }
        }
    });

    // The same parsers on the raw text, which need not be JSON at all.
    let text = String::from_utf8_lossy(body);
    check_code(&text);
    check_appid(&text);
    check_nickname(&text);
    check_avatar_url(&text);
    let _ = MaskedPhone(&text).to_string();
    let _ = wxlogin_server::storage::mask_phone_number(&text);
    let _ = wxlogin_server::at_rest::MasterKey::from_base64(&text);
});

/// Run the extractor as a handler would; check a refusal, return what was accepted.
async fn extract<T: DeserializeOwned>(body: &[u8], content_type: Option<&str>) -> Option<T> {
    let mut request = Request::post("/v1/anything");
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let request = request
        .body(Body::from(body.to_vec()))
        .expect("valid request");
    match ApiJson::<T>::from_request(request, &()).await {
        Ok(ApiJson(value)) => {
            assert!(
                content_type
                    .is_some_and(|ct| ct.starts_with("application/") && ct.contains("json")),
                "a body with content type {content_type:?} was accepted as JSON"
            );
            Some(value)
        }
        Err(error) => {
            check_refusal(&error, body);
            None
        }
    }
}

fn check_refusal(error: &ApiError, body: &[u8]) {
    assert_eq!(error.code, ErrorCode::InvalidRequest, "{error}");
    for value in wxlogin_fuzz::credential_values(body) {
        assert!(
            !error.message.contains(&value),
            "the refusal echoes a value: {}",
            error.message
        );
    }
    let response = error.clone().into_response();
    assert_eq!(response.status().as_u16(), 400);
}

fn check_code(text: &str) {
    if let Ok(code) = LoginCode::parse(text) {
        let code = code.expose();
        assert!(!code.is_empty() && code.len() <= LoginCode::MAX_LEN);
        assert!(code.bytes().all(|b| b.is_ascii_graphic()));
    }
}

fn check_appid(text: &str) {
    if let Ok(appid) = AppId::parse(text) {
        let appid = appid.as_str();
        assert!(!appid.is_empty() && appid.len() <= AppId::MAX_LEN);
        assert!(appid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
    }
}

fn check_nickname(text: &str) {
    if let Ok(nickname) = Nickname::parse(text) {
        let nickname = nickname.as_str();
        assert!(!nickname.is_empty() && nickname.chars().count() <= Nickname::MAX_CHARS);
        assert!(!nickname.chars().any(char::is_control));
        assert_eq!(nickname, nickname.trim());
    }
}

fn check_avatar_url(text: &str) {
    if let Ok(url) = AvatarUrl::parse(text) {
        let stored = url.as_str();
        assert!(stored.len() <= AvatarUrl::MAX_LEN);
        // What is stored parses again as an http(s) URL with a host and no credentials.
        // (It is the client's text, not the normalized URL: "http:&/x" or a tab inside
        // are kept as sent. FUZZ-FINDINGS F4.)
        let reparsed = url::Url::parse(stored).expect("a stored avatar_url parses");
        assert!(matches!(reparsed.scheme(), "http" | "https"), "{stored}");
        assert!(
            reparsed.host_str().is_some_and(|host| !host.is_empty()),
            "{stored}"
        );
        assert!(
            reparsed.username().is_empty() && reparsed.password().is_none(),
            "{stored}"
        );
    }
}
