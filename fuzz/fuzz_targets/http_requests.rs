//! Whole requests through the real router (every middleware and handler, in-memory SQLite,
//! the simulator on loopback), as a hostile client would send them.
//!
//! Input: first line `METHOD PATH AUTH CONTENT-TYPE FORWARDED-FOR`, the rest is the body.
//! AUTH is `token` (the logged-in user's access token), `-` (none) or a raw Authorization
//! value; CONTENT-TYPE is `json`, `-` or a raw value; FORWARDED-FOR, if present, is sent
//! as `X-Forwarded-For` (trusted by the fixture, so the abuse limits parse it).
//!
//! Properties: never a 500 (nor a panic caught as one); every error is the contract's
//! JSON shape; a 429 says when to retry; no answer carries the app secret, and no error
//! answer echoes the access token or a credential-like value of the body.
#![no_main]

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, StatusCode};
use libfuzzer_sys::fuzz_target;
use wxlogin_fuzz::{assert_contract_error, credential_values, Server, SECRET};

fuzz_target!(|data: &[u8]| {
    let (head, body) = match data.iter().position(|&b| b == b'\n') {
        Some(end) => (&data[..end], &data[end + 1..]),
        None => (data, &[][..]),
    };
    let head = String::from_utf8_lossy(head);
    let mut words = head.split(' ');
    let (Some(method), Some(path)) = (words.next(), words.next()) else {
        return;
    };
    let auth = words.next().unwrap_or("-");
    let content_type = words.next().unwrap_or("json");
    let forwarded_for = words.next();
    let Ok(method) = Method::from_bytes(method.as_bytes()) else {
        return;
    };

    let server = Server::get();
    let access_token = server.login().access_token;
    let mut request = Request::builder().method(method).uri(path);
    match auth {
        "-" => {}
        "token" => request = request.header("authorization", format!("Bearer {access_token}")),
        raw => match HeaderValue::from_str(raw) {
            Ok(value) => request = request.header("authorization", value),
            Err(_) => return,
        },
    }
    match content_type {
        "-" => {}
        "json" => request = request.header("content-type", "application/json"),
        raw => match HeaderValue::from_str(raw) {
            Ok(value) => request = request.header("content-type", value),
            Err(_) => return,
        },
    }
    if let Some(forwarded_for) = forwarded_for {
        match HeaderValue::from_str(forwarded_for) {
            Ok(value) => request = request.header("x-forwarded-for", value),
            Err(_) => return,
        }
    }
    // An invalid URI is refused by the HTTP parser before any of our code runs.
    let Ok(request) = request.body(Body::from(body.to_vec())) else {
        return;
    };

    let (status, headers, answer) = server.send_full(request);
    let text = String::from_utf8_lossy(&answer);
    assert_ne!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "500 for this input: {text}"
    );
    assert!(!text.contains(SECRET), "the answer shows the app secret");
    if status == StatusCode::TOO_MANY_REQUESTS {
        let wait = headers.get("retry-after").expect("429 carries Retry-After");
        assert!(wait
            .to_str()
            .ok()
            .and_then(|w| w.parse::<u64>().ok())
            .is_some_and(|w| w >= 1));
    }
    if status.is_client_error() || status.is_server_error() {
        assert_contract_error(status, &answer);
        assert!(
            !text.contains(&access_token),
            "an error answer echoes the access token"
        );
        // The login's `appid` is named back when it is not configured (FUZZ-FINDINGS F5).
        let appid = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|value| {
                value
                    .get("appid")
                    .and_then(|a| a.as_str())
                    .map(str::to_owned)
            });
        for value in credential_values(body) {
            if appid.as_deref() == Some(value.as_str()) {
                continue;
            }
            assert!(
                !text.contains(&value),
                "an error answer echoes a body value: {text}"
            );
        }
    }
    // A logout (or any input that ends the session) must not stop the next inputs from
    // having a working token.
    if status == StatusCode::NO_CONTENT || status == StatusCode::UNAUTHORIZED && auth == "token" {
        server.relogin();
    }
});
