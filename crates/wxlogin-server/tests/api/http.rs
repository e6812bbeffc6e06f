//! The HTTP envelope: JSON errors for bad bodies, sizes, routes and methods; healthz,
//! metrics, JWKS and the OpenAPI document.

use crate::helpers::{answer, spawn_app, spawn_app_with, token, APPID};
use reqwest::Method;
use serde_json::json;
use wxlogin_sim::SimConfig;

#[tokio::test]
async fn bad_bodies_are_invalid_request_in_the_contract_shape() {
    let app = spawn_app().await;
    let cases: Vec<(&str, Option<&str>)> = vec![
        ("{not json", Some("application/json")),
        ("[]", Some("application/json")),
        ("{\"code\": 42}", Some("application/json")),
        ("{}", Some("application/json")),
        ("{\"code\":\"abc\"}", Some("text/plain")),
        ("{\"code\":\"abc\"}", None),
        ("", Some("application/json")),
    ];
    for (body, content_type) in cases {
        let mut request = app.http.post(app.url("/v1/login")).body(body.to_owned());
        if let Some(content_type) = content_type {
            request = request.header("Content-Type", content_type);
        }
        let answer = answer(request.send().await.unwrap()).await;
        answer.assert_error(400, "invalid_request");
        assert_eq!(
            answer.body.as_object().unwrap().len(),
            1,
            "only `error`: {}",
            answer.text
        );
    }
}

#[tokio::test]
async fn data_errors_do_not_echo_values() {
    let app = spawn_app().await;
    let answer = app
        .post(
            "/v1/token/refresh",
            None,
            json!({"refresh_token": 123456789}),
        )
        .await;
    answer.assert_error(400, "invalid_request");
    assert!(!answer.text.contains("123456789"), "{}", answer.text);
}

#[tokio::test]
async fn oversized_bodies_are_413_json() {
    let app = spawn_app_with(SimConfig::default(), |settings| {
        settings.http.body_limit = 1024
    })
    .await;
    let body = json!({"code": "a".repeat(2048)});
    app.post("/v1/login", None, body.clone())
        .await
        .assert_error(413, "payload_too_large");
    let access = token(&app.login("big").await, "access_token");
    app.post(
        "/v1/me/userinfo",
        Some(&access),
        json!({"raw_data": "x".repeat(4096)}),
    )
    .await
    .assert_error(413, "payload_too_large");
    // Without Content-Length (chunked), the limit still holds.
    let raw = chunked_post(&app.address, "/v1/login", &body.to_string()).await;
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
    assert!(raw.contains("\"payload_too_large\""), "{raw}");
}

/// POST `body` with `Transfer-Encoding: chunked` over a raw connection; the whole answer.
async fn chunked_post(address: &str, path: &str, body: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for chunk in body.as_bytes().chunks(512) {
        stream
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .await
            .unwrap();
        stream.write_all(chunk).await.unwrap();
        stream.write_all(b"\r\n").await.unwrap();
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn default_body_limit_is_64_kib() {
    let app = spawn_app().await;
    app.post("/v1/login", None, json!({"code": "a".repeat(70 * 1024)}))
        .await
        .assert_error(413, "payload_too_large");
    app.post(
        "/v1/login",
        None,
        json!({"code": "bogus", "pad": "a".repeat(60 * 1024)}),
    )
    .await
    .assert_error(400, "invalid_code");
}

#[tokio::test]
async fn unknown_routes_and_methods_are_json() {
    let app = spawn_app().await;
    app.get("/v1/nothing-here", None)
        .await
        .assert_error(404, "not_found");
    app.get("/", None).await.assert_error(404, "not_found");
    app.get("/v1/login", None)
        .await
        .assert_error(405, "method_not_allowed");
    app.request(Method::DELETE, "/v1/me/phone", None, None)
        .await
        .assert_error(405, "method_not_allowed");
    app.request(Method::POST, "/healthz", None, None)
        .await
        .assert_error(405, "method_not_allowed");
}

#[tokio::test]
async fn healthz_answers() {
    let app = spawn_app().await;
    assert_eq!(
        app.get("/healthz", None).await.assert_ok(),
        &json!({"status": "ok"})
    );
}

#[tokio::test]
async fn metrics_count_logins_upstream_calls_and_sessions() {
    let app = spawn_app().await;
    app.login("mia").await;
    app.post("/v1/login", None, json!({"code": "bogus-code"}))
        .await
        .assert_error(400, "invalid_code");
    let response = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = response.text().await.unwrap();
    for needle in [
        "wxlogin_logins_total{outcome=\"success\"}",
        "wxlogin_logins_total{outcome=\"invalid_code\"}",
        "wxlogin_upstream_calls_total{endpoint=\"jscode2session\",errcode=\"0\",outcome=\"ok\"}",
        "wxlogin_upstream_calls_total{endpoint=\"jscode2session\",errcode=\"40029\",outcome=\"wechat_error\"}",
        "wxlogin_upstream_latency_seconds_bucket{endpoint=\"jscode2session\"",
        "wxlogin_active_sessions ",
        "wxlogin_http_requests_total{",
        "wxlogin_http_request_duration_seconds_bucket{",
    ] {
        assert!(text.contains(needle), "{needle} missing in:\n{text}");
    }
}

#[tokio::test]
async fn jwks_verifies_access_tokens_offline() {
    use wxlogin_server::tokens::SigningAlgorithm;
    for (configured, expected) in [
        (None, jsonwebtoken::Algorithm::ES256),
        (
            Some(SigningAlgorithm::ES256),
            jsonwebtoken::Algorithm::ES256,
        ),
        (
            Some(SigningAlgorithm::EdDSA),
            jsonwebtoken::Algorithm::EdDSA,
        ),
    ] {
        let app = spawn_app_with(SimConfig::default(), |settings| {
            if let Some(algorithm) = configured {
                settings.tokens.access_token_alg = algorithm;
            }
        })
        .await;
        let login = app.login("nia").await;
        let jwks = app.get("/.well-known/jwks.json", None).await;
        let jwks: jsonwebtoken::jwk::JwkSet =
            serde_json::from_value(jwks.assert_ok().clone()).unwrap();
        let access = token(&login, "access_token");
        let header = jsonwebtoken::decode_header(&access).unwrap();
        assert_eq!(header.alg, expected, "{configured:?}");
        let jwk = jwks
            .find(header.kid.as_deref().unwrap())
            .expect("kid published");
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
        let mut validation = jsonwebtoken::Validation::new(expected);
        validation.set_audience(&[APPID]);
        validation.set_issuer(&["wxlogin"]);
        let claims = jsonwebtoken::decode::<serde_json::Value>(&access, &key, &validation)
            .unwrap()
            .claims;
        assert_eq!(claims["sub"], login["user"]["id"]);
        assert_eq!(claims["aud"], APPID);
        assert!(claims["sid"].is_string());
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            1800
        );
    }
}

#[tokio::test]
async fn issuer_is_configurable() {
    let app = spawn_app_with(SimConfig::default(), |settings| {
        settings.tokens.issuer = "https://login.example.com".to_owned();
    })
    .await;
    let access = token(&app.login("ola").await, "access_token");
    let payload = access.split('.').nth(1).unwrap();
    use base64::Engine;
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["iss"], "https://login.example.com");
}

#[tokio::test]
async fn openapi_document_lists_every_route() {
    // An absolute issuer turns discovery on (its routes answer 404 without one).
    let app = spawn_app_with(SimConfig::default(), |settings| {
        settings.tokens.issuer = "https://login.example.com".to_owned();
    })
    .await;
    let doc = app.get("/openapi.json", None).await;
    let doc = doc.assert_ok();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for (method, path) in wxlogin_server::routes::ROUTES {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing"
        );
        // And the route really exists on the server (no 404 from the fallback).
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let status = app
            .http
            .request(method, app.url(path))
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .status();
        assert_ne!(status.as_u16(), 404, "{path}");
        assert_ne!(status.as_u16(), 405, "{path}");
    }
    let schemas = &doc["components"]["schemas"];
    for schema in [
        "LoginRequest",
        "LoginResponse",
        "User",
        "ErrorBody",
        "PhoneRequest",
        "UserInfoRequest",
    ] {
        assert!(schemas[schema].is_object(), "schema {schema} missing");
    }
}

#[tokio::test]
async fn graceful_shutdown_lets_in_flight_requests_finish() {
    let app = spawn_app().await;
    app.sim
        .set_faults(wxlogin_sim::FaultConfig {
            latency_ms: 500,
            ..Default::default()
        })
        .unwrap();
    let code = app.code(APPID, "pia");
    let request = app
        .http
        .post(app.url("/v1/login"))
        .json(&json!({"code": code}))
        .send();
    let in_flight = tokio::spawn(request);
    // Stop only once the request is inside the server (WeChat has seen the exchange).
    for _ in 0..100 {
        if app.jscode2session_calls(APPID) == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(app.jscode2session_calls(APPID), 1);
    let address = app.address.clone();
    app.stop().await;
    let answer = answer(in_flight.await.unwrap().unwrap()).await;
    answer.assert_ok();
    assert!(
        reqwest::get(format!("{address}/healthz")).await.is_err(),
        "server stopped listening"
    );
}

#[tokio::test]
async fn odd_inputs_never_cause_a_server_error() {
    let app = spawn_app().await;
    let access = token(&app.login("quin").await, "access_token");
    let bodies: Vec<String> = vec![
        "null".into(),
        "1e999999".into(),
        "\"string\"".into(),
        "{\"code\":null}".into(),
        "{\"code\":[1,2,3]}".into(),
        "{\"code\":\"\\u0000\\u0001\"}".into(),
        "{\"code\":\"𝔘𝔫𝔦𝔠𝔬𝔡𝔢\"}".into(),
        format!("{{\"code\":\"{}\"}}", "\\\"".repeat(1000)),
        format!("{}{}", "[".repeat(5000), "]".repeat(5000)),
        "{\"encrypted_data\":\"====\",\"iv\":\"====\"}".into(),
        "{\"encryptedData\":\"AAAAAAAAAAAAAAAAAAAAAA==\",\"iv\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}"
            .into(),
        "{\"raw_data\":\"{}\",\"signature\":\"\",\"encrypted_data\":\"\",\"iv\":\"\"}".into(),
        "{\"nickname\":\"\\ud800\"}".into(),
        "{\"avatar_url\":\"http://[::1\"}".into(),
        "{\"refresh_token\":\"\\n\\t \"}".into(),
    ];
    let routes = [
        (Method::POST, "/v1/login"),
        (Method::POST, "/v1/token/refresh"),
        (Method::PATCH, "/v1/me"),
        (Method::POST, "/v1/me/phone"),
        (Method::POST, "/v1/me/userinfo"),
    ];
    let mut seed: u64 = 0x5eed;
    let mut random_bodies = Vec::new();
    for length in [1usize, 7, 64, 500] {
        let bytes: Vec<u8> = (0..length)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (seed >> 33) as u8
            })
            .collect();
        random_bodies.push(bytes);
    }
    for (method, path) in routes {
        let all = bodies
            .iter()
            .map(|body| body.as_bytes().to_vec())
            .chain(random_bodies.iter().cloned());
        for body in all {
            let response = app
                .http
                .request(method.clone(), app.url(path))
                .bearer_auth(&access)
                .header("Content-Type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let answer = answer(response).await;
            assert!(
                answer.status.is_client_error() || answer.status.is_success(),
                "{method} {path} with {:?} → {} {}",
                String::from_utf8_lossy(&body),
                answer.status,
                answer.text
            );
            if !answer.status.is_success() {
                assert!(answer.body["error"]["code"].is_string(), "{}", answer.text);
            }
        }
    }
}

#[tokio::test]
async fn stalled_clients_are_disconnected_after_the_read_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(SimConfig::default(), |settings| {
        settings.http.request_read_timeout = std::time::Duration::from_secs(1);
    })
    .await;
    let host = app.address.trim_start_matches("http://").to_owned();

    // Half a request head, then silence: the server hangs up.
    let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
    stream
        .write_all(b"POST /v1/login HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut rest),
    )
    .await
    .expect("the server closes a stalled head")
    .ok();
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));

    // A whole head, then a body that stops halfway: an error answer, then the close.
    let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
    stream
        .write_all(
            b"POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"code\":",
        )
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await
    .expect("the server gives up on a stalled body")
    .ok();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("invalid_request"), "{answer}");

    // Other clients were served all along.
    app.get("/healthz", None).await.assert_ok();
}

#[tokio::test]
async fn answers_carry_a_request_id() {
    let app = spawn_app().await;
    let response = app.http.get(app.url("/healthz")).send().await.unwrap();
    let generated = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(generated.len(), 36, "a UUID: {generated}");
    let response = app
        .http
        .post(app.url("/v1/login"))
        .header("x-request-id", "client-chosen-42")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "client-chosen-42");
    assert_eq!(response.status().as_u16(), 400);
}
