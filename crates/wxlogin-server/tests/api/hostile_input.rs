//! Hostile input on the wire: oversized, mistyped, deeply nested, huge and invalid-UTF-8
//! bodies, SQL metacharacters in every string field of every route, header floods and
//! slow clients. Each is answered with the contract's JSON error (or accepted harmlessly,
//! or the connection is closed), never a 5xx, and the server keeps serving afterwards.

use std::time::{Duration, Instant};

use crate::helpers::{answer, spawn_app, spawn_app_with, token, Answer, TestApp, APPID};
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wxlogin_crypto::{encrypt_json, raw_data_signature, SessionKey, UserInfoPayload, Watermark};
use wxlogin_sim::SimConfig;

/// The routes that read a JSON body, and whether they need a logged-in caller.
const BODY_ROUTES: [(&str, &str, bool); 6] = [
    ("POST", "/v1/login", false),
    ("POST", "/v1/token/refresh", false),
    ("PATCH", "/v1/me", true),
    ("PUT", "/v1/me", true),
    ("POST", "/v1/me/phone", true),
    ("POST", "/v1/me/userinfo", true),
];

const SQL_METACHARACTERS: [&str; 7] = [
    "';DROP/**/TABLE/**/users;--",
    "'; DROP TABLE users; --",
    "\" OR 1=1 --",
    "' OR '1'='1",
    "Robert'); DELETE FROM sessions; --",
    "%' AND 1=0 UNION SELECT secret_key FROM signing_keys --",
    "\\'; SELECT pg_sleep(10); --",
];

/// Send `body` with `content_type` (none when `None`) to `method path`.
async fn send_raw_body(
    app: &TestApp,
    method: &str,
    path: &str,
    access: Option<&str>,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Answer {
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = app.http.request(method, app.url(path)).body(body);
    if let Some(access) = access {
        request = request.bearer_auth(access);
    }
    if let Some(content_type) = content_type {
        request = request.header("Content-Type", content_type);
    }
    answer(request.send().await.expect("answered")).await
}

/// The answer is the contract's error: the status, `error.code`, a message, nothing else.
fn assert_contract_error(answer: &Answer, status: u16, code: &str) {
    answer.assert_error(status, code);
    let object = answer.body.as_object().expect("error body is an object");
    assert_eq!(object.len(), 1, "only `error`: {}", answer.text);
}

/// The server still logs users in and answers for them.
async fn assert_still_serving(app: &TestApp) {
    let login = app.login("still-serving").await;
    app.get("/v1/me", Some(&token(&login, "access_token")))
        .await
        .assert_ok();
    app.get("/healthz", None).await.assert_ok();
}

#[tokio::test]
async fn oversized_bodies_are_413_json_on_every_body_route() {
    let app = spawn_app().await;
    let access = token(&app.login("big").await, "access_token");
    // Just over the default 64 KiB: valid JSON that would otherwise be accepted.
    let padding = "a".repeat(64 * 1024);
    for (method, path, authenticated) in BODY_ROUTES {
        let body = json!({"code": "x", "refresh_token": "x", "nickname": "x", "pad": padding});
        let access = authenticated.then_some(access.as_str());
        let answer = send_raw_body(
            &app,
            method,
            path,
            access,
            Some("application/json"),
            body.to_string().into_bytes(),
        )
        .await;
        assert_contract_error(&answer, 413, "payload_too_large");
    }
    // Sixteen megabytes are refused from the Content-Length, before they are read: the
    // server answers 413 and closes while the client is still writing, so the client may
    // see the answer or only the closed connection.
    let mut request = format!(
        "POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        16 * 1024 * 1024
    )
    .into_bytes();
    request.extend(std::iter::repeat_n(b'[', 16 * 1024 * 1024));
    let raw = raw_exchange(&app, &request).await;
    if !raw.is_empty() {
        assert_raw_json_error(&raw, 413, "payload_too_large");
    }
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn wrong_content_types_are_400_json_on_every_body_route() {
    let app = spawn_app().await;
    let access = token(&app.login("types").await, "access_token");
    let body = json!({"code": "abc", "refresh_token": "abc", "nickname": "abc"}).to_string();
    let content_types = [
        None,
        Some("text/plain"),
        Some("text/json"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/xml"),
        Some("application/jsonx"),
        Some(""),
        Some("json"),
    ];
    for (method, path, authenticated) in BODY_ROUTES {
        for content_type in content_types {
            let access = authenticated.then_some(access.as_str());
            let answer = send_raw_body(
                &app,
                method,
                path,
                access,
                content_type,
                body.clone().into_bytes(),
            )
            .await;
            assert_contract_error(&answer, 400, "invalid_request");
            assert!(
                answer.body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("application/json"),
                "{method} {path} {content_type:?}: the message names the expected type: {}",
                answer.text
            );
        }
    }
    // A form-encoded login is refused, not half-parsed.
    let form = send_raw_body(
        &app,
        "POST",
        "/v1/login",
        None,
        Some("application/x-www-form-urlencoded"),
        b"code=abc&appid=wx0000000000demo".to_vec(),
    )
    .await;
    assert_contract_error(&form, 400, "invalid_request");
}

#[tokio::test]
async fn deeply_nested_json_is_refused_without_exhausting_the_stack() {
    // The limit raised to 4 MiB so that the nesting, not the size, is what is refused.
    let app = spawn_app_with(SimConfig::default(), |settings| {
        settings.body_limit = 4 * 1024 * 1024
    })
    .await;
    let access = token(&app.login("deep").await, "access_token");
    let depth = 100_000;
    let shapes = [
        "[".repeat(depth),
        format!("{}{}", "[".repeat(depth), "]".repeat(depth)),
        format!("{{\"code\":{}}}", "{\"a\":".repeat(depth)),
        format!(
            "{{\"nickname\":{}1{}}}",
            "[".repeat(depth),
            "]".repeat(depth)
        ),
    ];
    for (method, path, authenticated) in BODY_ROUTES {
        for body in &shapes {
            let access = authenticated.then_some(access.as_str());
            let answer = send_raw_body(
                &app,
                method,
                path,
                access,
                Some("application/json"),
                body.clone().into_bytes(),
            )
            .await;
            assert_contract_error(&answer, 400, "invalid_request");
        }
    }
    // At the default limit the same bodies are simply too large.
    let default_app = spawn_app().await;
    let answer = send_raw_body(
        &default_app,
        "POST",
        "/v1/login",
        None,
        Some("application/json"),
        "[".repeat(depth).into_bytes(),
    )
    .await;
    assert_contract_error(&answer, 413, "payload_too_large");
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn huge_json_arrays_and_objects_are_handled_within_the_limit() {
    let app = spawn_app_with(SimConfig::default(), |settings| {
        settings.body_limit = 8 * 1024 * 1024
    })
    .await;
    let access = token(&app.login("wide").await, "access_token");
    let ones = vec!["1"; 2_000_000].join(",");
    let keys: String = (0..200_000)
        .map(|i| format!("\"k{i}\":{i}"))
        .collect::<Vec<_>>()
        .join(",");

    // A huge array where a string belongs: the field is named, the values are not echoed.
    let started = Instant::now();
    let answer = send_raw_body(
        &app,
        "POST",
        "/v1/login",
        None,
        Some("application/json"),
        format!("{{\"code\":[{ones}]}}").into_bytes(),
    )
    .await;
    assert_contract_error(&answer, 400, "invalid_request");
    assert!(answer.text.len() < 1024, "short answer: {}", answer.text);

    // Huge unknown members next to valid fields are skipped; the request is then judged
    // on its real fields.
    let answer = send_raw_body(
        &app,
        "POST",
        "/v1/token/refresh",
        None,
        Some("application/json"),
        format!("{{\"refresh_token\":\"unknown\",\"pad\":[{ones}],{keys}}}").into_bytes(),
    )
    .await;
    assert_contract_error(&answer, 401, "unauthorized");
    let answer = send_raw_body(
        &app,
        "PATCH",
        "/v1/me",
        Some(&access),
        Some("application/json"),
        format!("{{\"nickname\":\"Wide\",\"pad\":[{ones}]}}").into_bytes(),
    )
    .await;
    assert_eq!(answer.assert_ok()["nickname"], "Wide");
    // A top-level array of a million objects.
    let objects = vec!["{}"; 1_000_000].join(",");
    let answer = send_raw_body(
        &app,
        "POST",
        "/v1/me/phone",
        Some(&access),
        Some("application/json"),
        format!("[{objects}]").into_bytes(),
    )
    .await;
    assert_contract_error(&answer, 400, "invalid_request");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "megabyte bodies are parsed in bounded time"
    );
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn invalid_utf8_in_bodies_headers_and_paths_is_refused() {
    let app = spawn_app().await;
    let access = token(&app.login("bytes").await, "access_token");
    let bodies: [&[u8]; 5] = [
        b"{\"code\":\"\xff\xfe\xfd\"}",
        b"{\"code\":\"ok\",\"appid\":\"wx\xc3\x28\"}",
        b"\xef\xbb\xbf{\"code\":\"bom\"}",
        b"{\"nickname\":\"\xed\xa0\x80\"}",
        b"\x80\x81\x82\x83",
    ];
    for (method, path, authenticated) in BODY_ROUTES {
        for (index, body) in bodies.iter().enumerate() {
            let access = authenticated.then_some(access.as_str());
            let answer = send_raw_body(
                &app,
                method,
                path,
                access,
                Some("application/json"),
                body.to_vec(),
            )
            .await;
            let what = format!("{method} {path} {:?}", String::from_utf8_lossy(body));
            assert!(answer.status.is_client_error(), "{what}: {}", answer.text);
            assert_eq!(
                answer.body.as_object().map(|o| o.len()),
                Some(1),
                "{what}: {}",
                answer.text
            );
            assert!(
                answer.body["error"]["message"].is_string(),
                "{what}: {}",
                answer.text
            );
            // Invalid bytes in a field the route reads, or outside any string, make the
            // body invalid. (In a member the route ignores, serde skips the string without
            // decoding it, and the request is judged on its other fields.)
            let read_by_route = match index {
                0 => matches!(path, "/v1/login" | "/v1/me/phone"),
                1 => path == "/v1/login",
                3 => path == "/v1/me",
                _ => true,
            };
            if read_by_route {
                assert_contract_error(&answer, 400, "invalid_request");
            }
        }
    }

    // A bearer token with bytes that are not text.
    let raw = raw_exchange(
        &app,
        b"GET /v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe.\xfd\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_raw_json_error(&raw, 401, "unauthorized");

    // Percent-encoded invalid UTF-8 and raw high bytes in the path.
    let raw = raw_exchange(
        &app,
        b"GET /v1/me%ff%fe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_raw_json_error(&raw, 404, "not_found");
    let raw = raw_exchange(
        &app,
        b"GET /v1/\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        raw.is_empty() || raw.starts_with("HTTP/1.1 400") || raw.starts_with("HTTP/1.1 404"),
        "{raw}"
    );
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn sql_metacharacters_in_every_field_are_inert() {
    let app = spawn_app().await;
    let login = app.login("sql").await;
    let access = token(&login, "access_token");
    let openid = login["user"]["openid"].as_str().unwrap().to_owned();
    let key: SessionKey = app
        .store()
        .session_key(APPID, &openid)
        .await
        .unwrap()
        .expect("session key stored");

    for text in SQL_METACHARACTERS {
        // POST /v1/login: a code WeChat does not know, or (with spaces) not a code at all;
        // the appid is validated.
        let answer = app.post("/v1/login", None, json!({"code": text})).await;
        let expected = if text.contains(' ') {
            "invalid_request"
        } else {
            "invalid_code"
        };
        assert_contract_error(&answer, 400, expected);
        assert_contract_error(
            &app.post("/v1/login", None, json!({"code": "abc", "appid": text}))
                .await,
            400,
            "invalid_request",
        );
        // POST /v1/token/refresh: an unknown token.
        assert_contract_error(
            &app.post("/v1/token/refresh", None, json!({"refresh_token": text}))
                .await,
            401,
            "unauthorized",
        );
        // POST /v1/me/phone: code to WeChat, legacy fields are not base64.
        app.post("/v1/me/phone", Some(&access), json!({"code": text}))
            .await
            .assert_error(400, "invalid_code");
        assert_contract_error(
            &app.post(
                "/v1/me/phone",
                Some(&access),
                json!({"encrypted_data": text, "iv": text}),
            )
            .await,
            400,
            "invalid_request",
        );
        // POST /v1/me/userinfo: a signature that does not match...
        assert_contract_error(
            &app.post(
                "/v1/me/userinfo",
                Some(&access),
                json!({"raw_data": text, "signature": text, "encrypted_data": text, "iv": text}),
            )
            .await,
            400,
            "signature_mismatch",
        );
        // ...and, correctly signed, encrypted fields that are not base64.
        let signature = raw_data_signature(text, &key);
        assert_contract_error(
            &app.post(
                "/v1/me/userinfo",
                Some(&access),
                json!({"raw_data": text, "signature": signature, "encrypted_data": text, "iv": text}),
            )
            .await,
            400,
            "invalid_request",
        );
        // The Authorization header itself.
        assert_contract_error(&app.get("/v1/me", Some(text)).await, 401, "unauthorized");
    }

    // Where the text is legitimate data it is stored and read back verbatim (the avatar as
    // the URL parser serializes it: a quote in a path is percent-encoded, F4).
    for text in SQL_METACHARACTERS {
        let avatar = format!("https://example.com/{}", text.replace(' ', "%20"));
        let answer = app
            .request(
                Method::PATCH,
                "/v1/me",
                Some(&access),
                Some(json!({"nickname": text, "avatar_url": avatar})),
            )
            .await;
        assert_eq!(answer.assert_ok()["nickname"], text);
        let me = app.get("/v1/me", Some(&access)).await;
        assert_eq!(me.assert_ok()["nickname"], text);
        let validated = url::Url::parse(&avatar).unwrap();
        assert_eq!(me.body["avatar_url"], validated.as_str());
    }

    // The same through legacy user info: a genuine, correctly signed payload whose
    // nickname is SQL.
    let nickname = "x'); DROP TABLE identities; --";
    let raw_data = json!({"nickName": nickname}).to_string();
    let payload = UserInfoPayload {
        open_id: Some(openid.clone()),
        nick_name: Some(nickname.to_owned()),
        watermark: Some(Watermark {
            appid: APPID.to_owned(),
            timestamp: wxlogin_server::clock::Clock::now(app.clock.as_ref()),
        }),
        ..UserInfoPayload::default()
    };
    let (encrypted_data, iv) = encrypt_json(&key, b"0123456789abcdef", &payload);
    let answer = app
        .post(
            "/v1/me/userinfo",
            Some(&access),
            json!({
                "raw_data": raw_data,
                "signature": raw_data_signature(&raw_data, &key),
                "encrypted_data": encrypted_data,
                "iv": iv,
            }),
        )
        .await;
    assert_eq!(answer.assert_ok()["nickname"], nickname);

    // Nothing was dropped or deleted: the session and every table still work.
    assert_eq!(
        app.get("/v1/me", Some(&access)).await.assert_ok()["nickname"],
        nickname
    );
    let refreshed = app
        .post(
            "/v1/token/refresh",
            None,
            json!({"refresh_token": token(&login, "refresh_token")}),
        )
        .await;
    refreshed.assert_ok();
    assert_still_serving(&app).await;
}

/// Write `request` on a fresh connection and read until the server closes it or 10 s pass.
async fn raw_exchange(app: &TestApp, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(host_port(app)).await.unwrap();
    // The server may answer and close before it has read everything: ignore write errors
    // (and never wait on a peer that stopped reading for longer than the read below).
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.write_all(request)).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

fn host_port(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_owned()
}

/// A raw HTTP answer with `status` and the contract's JSON error `code` as its body.
fn assert_raw_json_error(raw: &str, status: u16, code: &str) {
    assert!(
        raw.starts_with(&format!("HTTP/1.1 {status} ")),
        "expected {status}: {raw}"
    );
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, body)| body)
        .unwrap_or("");
    let value: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("JSON body: {raw}"));
    assert_eq!(value["error"]["code"], code, "{raw}");
}

/// What the server did with a hostile request head: answered with a 4xx status line (its
/// HTTP layer's own refusal) or closed the connection. Never a 5xx.
fn assert_refused_or_closed(raw: &str) {
    if raw.is_empty() {
        return;
    }
    let status: u16 = raw
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("an HTTP status line: {raw:.200}"));
    assert!((400..500).contains(&status), "{raw:.300}");
}

#[tokio::test]
async fn header_floods_are_refused_and_the_server_keeps_serving() {
    let app = spawn_app().await;

    // Ten thousand headers.
    let mut request = b"GET /v1/me HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..10_000 {
        request.extend_from_slice(format!("X-Flood-{i}: {i}\r\n").as_bytes());
    }
    request.extend_from_slice(b"Connection: close\r\n\r\n");
    let raw = raw_exchange(&app, &request).await;
    assert_refused_or_closed(&raw);

    // One header of 1 MiB.
    let mut request = b"GET /v1/me HTTP/1.1\r\nHost: x\r\nX-Huge: ".to_vec();
    request.extend(std::iter::repeat_n(b'a', 1024 * 1024));
    request.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
    let raw = raw_exchange(&app, &request).await;
    assert_refused_or_closed(&raw);

    // A 1 MiB bearer token.
    let mut request = b"GET /v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ".to_vec();
    request.extend(std::iter::repeat_n(b'e', 1024 * 1024));
    request.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
    let raw = raw_exchange(&app, &request).await;
    assert_refused_or_closed(&raw);

    // A bearer token just under the head limit reaches the verifier and is refused as such.
    let big_token = format!(
        "{}.{}.{}",
        "e".repeat(100_000),
        "e".repeat(100_000),
        "e".repeat(1000)
    );
    let answer = app.get("/v1/me", Some(&big_token)).await;
    assert_contract_error(&answer, 401, "unauthorized");
    assert!(
        answer.text.len() < 1024,
        "the token is not echoed: {:.200}",
        answer.text
    );

    // Fifty connections flooding at once do not take the server down.
    let mut floods = Vec::new();
    for _ in 0..50 {
        let address = host_port(&app);
        floods.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(address).await.unwrap();
            let mut request = b"POST /v1/login HTTP/1.1\r\nHost: x\r\n".to_vec();
            for i in 0..2_000 {
                request.extend_from_slice(format!("X-{i}: {}\r\n", "v".repeat(100)).as_bytes());
            }
            request.extend_from_slice(b"\r\n");
            let _ = stream.write_all(&request).await;
            let mut sink = Vec::new();
            let _ =
                tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut sink)).await;
        }));
    }
    for flood in floods {
        flood.await.unwrap();
    }
    assert_still_serving(&app).await;
}

#[tokio::test]
async fn a_stalled_client_does_not_block_others() {
    let app = spawn_app().await;
    let mut stalled = Vec::new();
    for _ in 0..100 {
        let mut stream = TcpStream::connect(host_port(&app)).await.unwrap();
        stream
            .write_all(b"POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
            .await
            .unwrap();
        stalled.push(stream);
    }
    // The others are served promptly while a hundred connections hang.
    let started = Instant::now();
    assert_still_serving(&app).await;
    assert!(started.elapsed() < Duration::from_secs(10));
    drop(stalled);
}

/// Fuzz regression (request_bodies, FUZZ-FINDINGS F4): what is stored and answered is the
/// parser's serialization, never the repaired text as sent.
#[tokio::test]
async fn avatar_urls_are_stored_as_the_url_that_was_validated() {
    let app = spawn_app().await;
    let access = token(&app.login("avatar").await, "access_token");
    // Each is accepted by the WHATWG parser only after it repairs the text (tabs and
    // newlines dropped, a missing `//` supplied, backslashes turned into slashes).
    for sent in [
        "https://example.com/a\tb.png",
        "https://example.com/a\nb.png",
        "http:&/x.png",
        "https:\\\\example.com\\a.png",
        " https://example.com/a.png\r",
    ] {
        let answer = app
            .request(
                Method::PATCH,
                "/v1/me",
                Some(&access),
                Some(json!({"avatar_url": sent})),
            )
            .await;
        let stored = answer.assert_ok()["avatar_url"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            !stored.contains(|c: char| c.is_ascii_control() || c == '\\'),
            "{sent:?} stored as {stored:?}"
        );
        assert!(
            stored.starts_with("http://") || stored.starts_with("https://"),
            "{sent:?} stored as {stored:?}"
        );
    }
}

/// Fuzz regression (http_requests, FUZZ-FINDINGS F5): a login whose `appid` is not
/// configured, here a credential-looking text, is refused as `invalid_request` and the
/// code is never exchanged, and the answer does not name the appid back.
#[tokio::test]
async fn a_login_with_an_unconfigured_appid_is_refused_before_wechat() {
    let app = spawn_app().await;
    let code = app.code(APPID, "swapped");
    for appid in [
        "wx3751615WK8k",
        code.as_str(),
        "wx0000000000demo0",
        "WX0000000000DEMO",
    ] {
        let answer = app
            .post("/v1/login", None, json!({"code": code, "appid": appid}))
            .await;
        assert_contract_error(&answer, 400, "invalid_request");
        assert!(
            !answer.text.contains(appid) && !answer.text.contains(&code),
            "the appid and the code are not echoed: {}",
            answer.text
        );
        assert_eq!(
            answer.body["error"]["message"],
            "the appid is not configured on this server"
        );
    }
    assert_eq!(app.jscode2session_calls(APPID), 0, "the code was not sent");
    // The code is still good for the right app.
    app.post("/v1/login", None, json!({"code": code, "appid": APPID}))
        .await
        .assert_ok();
}

/// Client-chosen methods and paths must not create metrics series: each series stays in
/// memory and in every scrape for good.
#[tokio::test]
async fn invented_methods_and_paths_do_not_grow_the_metrics() {
    let app = spawn_app().await;
    for index in 0..40 {
        let method = Method::from_bytes(format!("INVENTED{index}X").as_bytes()).unwrap();
        let status = app
            .http
            .request(method, app.url("/v1/login"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 405);
        app.get(&format!("/no/such/path/{index}"), None)
            .await
            .assert_error(404, "not_found");
    }
    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !text.contains("INVENTED"),
        "a client's method became a label"
    );
    assert!(
        !text.contains("/no/such/path"),
        "a client's path became a label"
    );
    assert!(
        text.contains(r#"method="other",route="/v1/login",status="405""#)
            || text.contains(r#"route="/v1/login",method="other",status="405""#),
        "unknown methods are counted as other:\n{text}"
    );
    // At most one series per standard method (other tests of this binary share the
    // process-wide recorder), where 40 invented methods would make 40.
    let series = text
        .lines()
        .filter(|line| {
            line.starts_with("wxlogin_http_requests_total{")
                && line.contains(r#"route="/v1/login""#)
                && line.contains(r#"status="405""#)
        })
        .count();
    assert!(series <= 10, "{series} series of 405s on /v1/login");
}
