//! Refresh rotation and family revocation, logout, GET/PATCH /v1/me, key rotation.

use crate::helpers::{spawn_app, token};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let app = spawn_app().await;
    let login = app.login("alice").await;
    let first_refresh = token(&login, "refresh_token");

    let rotated = app
        .post(
            "/v1/token/refresh",
            None,
            json!({"refresh_token": first_refresh}),
        )
        .await;
    let rotated = rotated.assert_ok().clone();
    assert_eq!(rotated["token_type"], "Bearer");
    assert_eq!(rotated["user"]["id"], login["user"]["id"]);
    let second_refresh = token(&rotated, "refresh_token");
    let second_access = token(&rotated, "access_token");
    assert_ne!(second_refresh, first_refresh);
    app.get("/v1/me", Some(&second_access)).await.assert_ok();

    // The spent token again: refused, and the whole session with it.
    app.post(
        "/v1/token/refresh",
        None,
        json!({"refresh_token": first_refresh}),
    )
    .await
    .assert_error(401, "unauthorized");
    app.post(
        "/v1/token/refresh",
        None,
        json!({"refresh_token": second_refresh}),
    )
    .await
    .assert_error(401, "unauthorized");
    app.get("/v1/me", Some(&second_access))
        .await
        .assert_error(401, "unauthorized");

    // Other sessions of the same user are untouched.
    let other = app.login("alice").await;
    app.get("/v1/me", Some(&token(&other, "access_token")))
        .await
        .assert_ok();
}

#[tokio::test]
async fn refresh_refuses_unknown_and_malformed_tokens() {
    let app = spawn_app().await;
    app.post(
        "/v1/token/refresh",
        None,
        json!({"refresh_token": "unknown-token-value-000000000000"}),
    )
    .await
    .assert_error(401, "unauthorized");
    app.post("/v1/token/refresh", None, json!({"refresh_token": ""}))
        .await
        .assert_error(400, "invalid_request");
    app.post("/v1/token/refresh", None, json!({}))
        .await
        .assert_error(400, "invalid_request");
}

#[tokio::test]
async fn refresh_token_expires() {
    let app = spawn_app_with_short_refresh().await;
    let login = app.login("bea").await;
    app.clock.advance(120);
    app.post(
        "/v1/token/refresh",
        None,
        json!({"refresh_token": token(&login, "refresh_token")}),
    )
    .await
    .assert_error(401, "unauthorized");
}

async fn spawn_app_with_short_refresh() -> crate::helpers::TestApp {
    crate::helpers::spawn_app_with(wxlogin_sim::SimConfig::default(), |settings| {
        settings.refresh_token_ttl = std::time::Duration::from_secs(60);
        settings.access_token_ttl = std::time::Duration::from_secs(30);
    })
    .await
}

#[tokio::test]
async fn access_token_expires_with_its_ttl() {
    let app = spawn_app_with_short_refresh().await;
    let login = app.login("cid").await;
    assert_eq!(login["expires_in"], 30);
    let access = token(&login, "access_token");
    app.get("/v1/me", Some(&access)).await.assert_ok();
    app.clock.advance(31);
    app.get("/v1/me", Some(&access))
        .await
        .assert_error(401, "unauthorized");
}

#[tokio::test]
async fn logout_revokes_the_session_at_once() {
    let app = spawn_app().await;
    let login = app.login("bob").await;
    let access = token(&login, "access_token");
    let answer = app
        .request(Method::POST, "/v1/logout", Some(&access), None)
        .await;
    assert_eq!(answer.status.as_u16(), 204, "{}", answer.text);
    assert!(answer.text.is_empty());
    app.get("/v1/me", Some(&access))
        .await
        .assert_error(401, "unauthorized");
    app.post(
        "/v1/token/refresh",
        None,
        json!({"refresh_token": token(&login, "refresh_token")}),
    )
    .await
    .assert_error(401, "unauthorized");
    app.request(Method::POST, "/v1/logout", Some(&access), None)
        .await
        .assert_error(401, "unauthorized");
}

#[tokio::test]
async fn authenticated_routes_refuse_missing_and_bad_tokens() {
    let app = spawn_app().await;
    let routes = [
        (Method::GET, "/v1/me"),
        (Method::PATCH, "/v1/me"),
        (Method::POST, "/v1/logout"),
        (Method::POST, "/v1/me/phone"),
        (Method::POST, "/v1/me/userinfo"),
    ];
    for (method, path) in routes {
        app.request(method.clone(), path, None, Some(json!({})))
            .await
            .assert_error(401, "unauthorized");
        app.request(method.clone(), path, Some("not.a.jwt"), Some(json!({})))
            .await
            .assert_error(401, "unauthorized");
        let answer = app
            .http
            .request(method.clone(), app.url(path))
            .header("Authorization", "Basic dXNlcjpwYXNz")
            .send()
            .await
            .unwrap();
        crate::helpers::answer(answer)
            .await
            .assert_error(401, "unauthorized");
    }
}

#[tokio::test]
async fn me_shows_and_updates_the_profile() {
    let app = spawn_app().await;
    let login = app.login("carol").await;
    let access = token(&login, "access_token");
    let me = app.get("/v1/me", Some(&access)).await;
    assert_eq!(me.assert_ok(), &login["user"]);

    let updated = app
        .request(
            Method::PATCH,
            "/v1/me",
            Some(&access),
            Some(json!({"nickname": "  卡罗尔 ", "avatar_url": "https://example.com/a/132"})),
        )
        .await;
    let updated = updated.assert_ok();
    assert_eq!(updated["nickname"], "卡罗尔");
    assert_eq!(updated["avatar_url"], "https://example.com/a/132");

    // camelCase aliases, one field at a time; the other stays.
    let updated = app
        .request(
            Method::PATCH,
            "/v1/me",
            Some(&access),
            Some(json!({"nickName": "Carol"})),
        )
        .await;
    assert_eq!(updated.assert_ok()["nickname"], "Carol");
    assert_eq!(updated.body["avatar_url"], "https://example.com/a/132");
    assert_eq!(
        app.get("/v1/me", Some(&access)).await.assert_ok()["nickname"],
        "Carol"
    );

    // PUT is the same operation (wx.request cannot send PATCH).
    let updated = app
        .request(
            Method::PUT,
            "/v1/me",
            Some(&access),
            Some(json!({"avatarUrl": "https://example.com/b/0"})),
        )
        .await;
    assert_eq!(updated.assert_ok()["avatar_url"], "https://example.com/b/0");
    assert_eq!(updated.body["nickname"], "Carol");
}

#[tokio::test]
async fn me_refuses_bad_profile_values() {
    let app = spawn_app().await;
    let access = token(&app.login("dan").await, "access_token");
    let bad = [
        json!({}),
        json!({"nickname": ""}),
        json!({"nickname": "x".repeat(65)}),
        json!({"nickname": "a\u{0007}b"}),
        json!({"nickname": "admin\u{202E}nimda"}),
        json!({"nickname": "al\u{200B}ice"}),
        json!({"nickname": "bob\u{2028}eve"}),
        json!({"avatar_url": "javascript:alert(1)"}),
        json!({"avatar_url": "wxfile://tmp/a.png"}),
        json!({"avatar_url": format!("https://example.com/{}", "a".repeat(1020))}),
        json!({"nickname": 5}),
    ];
    for body in bad {
        app.request(Method::PATCH, "/v1/me", Some(&access), Some(body.clone()))
            .await
            .assert_error(400, "invalid_request");
    }
    assert!(app.get("/v1/me", Some(&access)).await.assert_ok()["nickname"].is_null());
}

#[tokio::test]
async fn key_rotation_keeps_old_tokens_valid_and_publishes_both_keys() {
    let app = spawn_app().await;
    let before = app.login("erin").await;
    let jwks = app.get("/.well-known/jwks.json", None).await;
    let keys = jwks.assert_ok()["keys"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 1);
    // ES256 by default.
    assert_eq!(keys[0]["kty"], "EC");
    assert_eq!(keys[0]["crv"], "P-256");

    // Rotate as `wxlogin keys rotate` would, on its own handle to the database.
    let keys_admin = wxlogin_server::tokens::SigningKeys::load(
        app.store().clone(),
        wxlogin_server::tokens::KeyPolicy::new(app.settings.access_token_ttl),
    )
    .await
    .unwrap();
    let new_kid = keys_admin.rotate(app.clock_now()).await.unwrap();

    // The server picks the new key up (reload on unknown kid / JWKS request, or periodically).
    let mut published = Vec::new();
    for _ in 0..40 {
        let jwks = app.get("/.well-known/jwks.json", None).await;
        published = jwks.body["keys"].as_array().unwrap().clone();
        if published.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        published.len(),
        2,
        "JWKS serves the old and the new key: {published:?}"
    );
    assert!(published.iter().any(|key| key["kid"] == new_kid));
    app.get("/v1/me", Some(&token(&before, "access_token")))
        .await
        .assert_ok();

    // New tokens are signed with the new key (once the server has reloaded).
    let mut signed_with_new = false;
    for _ in 0..40 {
        let after = app.login("erin").await;
        if jwt_kid(&token(&after, "access_token")) == new_kid {
            signed_with_new = true;
            app.get("/v1/me", Some(&token(&after, "access_token")))
                .await
                .assert_ok();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(signed_with_new, "the server signs with the rotated key");
}

fn jwt_kid(jwt: &str) -> String {
    use base64::Engine;
    let header = jwt.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let header: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(header["alg"], "ES256", "ES256 by default");
    header["kid"].as_str().unwrap().to_owned()
}

trait ClockNow {
    fn clock_now(&self) -> i64;
}

impl ClockNow for crate::helpers::TestApp {
    fn clock_now(&self) -> i64 {
        use wxlogin_server::clock::Clock;
        self.clock.now()
    }
}

/// RFC 6749 §5.1: answers carrying tokens or personal data say no-store, errors too.
#[tokio::test]
async fn token_and_personal_answers_are_not_cacheable() {
    let app = spawn_app().await;
    let code = app.code(crate::helpers::APPID, "nocache");
    let login = app
        .http
        .post(app.url("/v1/login"))
        .json(&json!({"code": code}));
    let login = login.send().await.unwrap();
    assert_not_cacheable(&login);
    let login = crate::helpers::answer(login).await.assert_ok().clone();
    let refresh = app
        .http
        .post(app.url("/v1/token/refresh"))
        .json(&json!({"refresh_token": token(&login, "refresh_token")}))
        .send()
        .await
        .unwrap();
    assert_not_cacheable(&refresh);
    let access_after = token(
        crate::helpers::answer(refresh).await.assert_ok(),
        "access_token",
    );
    for (method, path, body) in [
        (Method::GET, "/v1/me", None),
        (Method::PATCH, "/v1/me", Some(json!({"nickname": "N"}))),
        (Method::POST, "/v1/me/phone", Some(json!({"code": "bogus"}))),
        (Method::POST, "/v1/me/userinfo", Some(json!({}))),
    ] {
        let mut request = app
            .http
            .request(method.clone(), app.url(path))
            .bearer_auth(&access_after);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        assert_not_cacheable(&response);
    }
    // A refused login (an error answer) is not cached either.
    let refused = app
        .http
        .post(app.url("/v1/login"))
        .json(&json!({"code": "bogus"}))
        .send()
        .await
        .unwrap();
    assert_not_cacheable(&refused);
    // Public material may be cached.
    let jwks = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert!(jwks
        .headers()
        .get("cache-control")
        .is_none_or(|v| v != "no-store"));
}

fn assert_not_cacheable(response: &reqwest::Response) {
    assert_eq!(
        response
            .headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap()),
        Some("no-store"),
        "{}",
        response.url()
    );
    assert_eq!(
        response
            .headers()
            .get("pragma")
            .map(|v| v.to_str().unwrap()),
        Some("no-cache"),
        "{}",
        response.url()
    );
}
