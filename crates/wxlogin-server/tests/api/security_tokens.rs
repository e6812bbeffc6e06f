//! Token attacks over HTTP against the real server: every forged, stale, foreign or
//! mangled access token is refused with 401 in the contract's shape; two concurrent
//! refreshes of one token leave exactly one winner and revoke the family; logout takes
//! effect at once, on this instance and on another one sharing the database.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{json, Value};
use wxlogin_server::clock::{Clock, OffsetClock};
use wxlogin_server::Application;
use wxlogin_sim::{SimApp, SimConfig};

use crate::helpers::{spawn_app, spawn_app_with, token, Answer, ServerKey, TestApp, APPID};

/// A second app the server is configured for.
const OTHER_APPID: &str = "wx00000000other1";

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn decode_part(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// The header and claims of a token the server issued.
fn parts_of(jwt: &str) -> (Value, Value) {
    let mut parts = jwt.split('.');
    let header = decode_part(parts.next().unwrap());
    let claims = decode_part(parts.next().unwrap());
    (header, claims)
}

fn stranger_key() -> EncodingKey {
    let stranger = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    EncodingKey::from_ed_der(stranger.to_pkcs8_der().unwrap().as_bytes())
}

/// GET /v1/me with `token` is 401 in the contract's shape, without echoing the token.
async fn assert_refused(app: &TestApp, token: &str, what: &str) -> Answer {
    let answer = app.get("/v1/me", Some(token)).await;
    assert_eq!(answer.status.as_u16(), 401, "{what}: {}", answer.text);
    answer.assert_error(401, "unauthorized");
    assert_eq!(
        answer.body.as_object().unwrap().len(),
        1,
        "{what}: {}",
        answer.text
    );
    if token.len() > 8 {
        assert!(!answer.text.contains(token), "{what}: the token is echoed");
    }
    answer
}

fn now(app: &TestApp) -> i64 {
    app.clock.now()
}

#[tokio::test]
async fn expired_tokens_are_refused_to_the_second() {
    let app = spawn_app().await;
    let login = app.login("exp").await;
    let access = token(&login, "access_token");
    let (_, claims) = parts_of(&access);
    let key = ServerKey::of(app.store()).await;
    let now = now(&app);

    let mut expired = claims.clone();
    expired["exp"] = json!(now - 1);
    assert_refused(&app, &key.sign(&expired), "expired a second ago").await;
    let mut at_expiry = claims.clone();
    at_expiry["exp"] = json!(now);
    assert_refused(&app, &key.sign(&at_expiry), "expiring this second").await;
    let mut no_expiry = claims.clone();
    no_expiry.as_object_mut().unwrap().remove("exp");
    assert_refused(&app, &key.sign(&no_expiry), "without exp").await;
    let mut text_expiry = claims.clone();
    text_expiry["exp"] = json!("99999999999");
    assert_refused(&app, &key.sign(&text_expiry), "exp as text").await;

    // The genuine token, before and after its own expiry.
    app.get("/v1/me", Some(&access)).await.assert_ok();
    let ttl = claims["exp"].as_i64().unwrap() - now;
    app.clock.advance(ttl);
    assert_refused(&app, &access, "the genuine token at its exp").await;
}

#[tokio::test]
async fn not_yet_valid_tokens_are_refused() {
    let app = spawn_app().await;
    let login = app.login("nbf").await;
    let (_, claims) = parts_of(&token(&login, "access_token"));
    let key = ServerKey::of(app.store()).await;
    let hour_ahead = now(&app) + 3600;

    let mut future_nbf = claims.clone();
    future_nbf["nbf"] = json!(hour_ahead);
    assert_refused(&app, &key.sign(&future_nbf), "nbf an hour ahead").await;
    let mut future_iat = claims.clone();
    future_iat["iat"] = json!(hour_ahead);
    future_iat["exp"] = json!(hour_ahead + 1800);
    assert_refused(&app, &key.sign(&future_iat), "issued an hour from now").await;

    // Valid from this very second: accepted.
    let mut current_nbf = claims.clone();
    current_nbf["nbf"] = json!(now(&app));
    app.get("/v1/me", Some(&key.sign(&current_nbf)))
        .await
        .assert_ok();
}

/// Fuzz regression (access_tokens, FUZZ-FINDINGS F6): a payload that is not valid UTF-8
/// (so not JSON by RFC 8259) is refused even when the bad bytes sit in a claim we do not
/// read (serde would skip such a member without decoding it), as every strict JWT
/// library verifying our tokens from the JWKS would refuse it.
#[tokio::test]
async fn a_payload_with_invalid_utf8_is_refused_even_in_an_unknown_claim() {
    let app = spawn_app().await;
    let login = app.login("utf8").await;
    let (header, claims) = parts_of(&token(&login, "access_token"));
    let key = ServerKey::of(app.store()).await;
    let mut payload = claims.to_string().into_bytes();
    payload.pop();
    payload.extend_from_slice(b",\"extra\":\"\xb7\xff\"}");
    assert!(std::str::from_utf8(&payload).is_err());
    let message = format!("{}.{}", b64(header.to_string()), b64(&payload));
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), &key.encoding, key.algorithm).unwrap();
    assert_refused(
        &app,
        &format!("{message}.{signature}"),
        "invalid UTF-8 in an unknown claim",
    )
    .await;

    // The same byte in a claim we read is refused.
    let mut bytes = claims.to_string().into_bytes();
    let sub_value = bytes
        .windows(7)
        .position(|window| window == b"\"sub\":\"")
        .expect("sub claim")
        + 7;
    bytes.insert(sub_value, 0xb7);
    let message = format!("{}.{}", b64(header.to_string()), b64(&bytes));
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), &key.encoding, key.algorithm).unwrap();
    assert_refused(
        &app,
        &format!("{message}.{signature}"),
        "invalid UTF-8 in sub",
    )
    .await;
}

#[tokio::test]
async fn foreign_audiences_issuers_and_sessions_are_refused() {
    let mut sim = SimConfig::default();
    sim.apps
        .push(SimApp::new(OTHER_APPID, "0000000000000000000000000other1"));
    let app = spawn_app_with(sim, |_| {}).await;
    let login = app.login_to(APPID, "aud").await;
    let other = app.login_to(OTHER_APPID, "aud").await;
    let (_, claims) = parts_of(&token(&login, "access_token"));
    let (_, other_claims) = parts_of(&token(&other, "access_token"));
    let key = ServerKey::of(app.store()).await;

    let mut cases: Vec<(&str, Value)> = Vec::new();
    let mut unconfigured = claims.clone();
    unconfigured["aud"] = json!("wx99999999999999");
    cases.push(("aud of an app not configured", unconfigured));
    let mut aud_list = claims.clone();
    aud_list["aud"] = json!([APPID, "wx99999999999999"]);
    cases.push(("aud as a list", aud_list));
    let mut no_aud = claims.clone();
    no_aud.as_object_mut().unwrap().remove("aud");
    cases.push(("without aud", no_aud));
    // A configured app, but not the one the session belongs to.
    let mut other_app = claims.clone();
    other_app["aud"] = json!(OTHER_APPID);
    cases.push(("session of app A presented as app B", other_app));
    let mut crossed = other_claims.clone();
    crossed["aud"] = json!(APPID);
    cases.push(("session of app B presented as app A", crossed));
    let mut issuer = claims.clone();
    issuer["iss"] = json!("someone-else");
    cases.push(("another issuer", issuer));
    let mut other_user = claims.clone();
    other_user["sub"] = other_claims["sub"].clone();
    assert_ne!(
        other_user["sub"], claims["sub"],
        "two simulated users share an id"
    );
    cases.push(("another user's id on this session", other_user));
    let mut other_session = claims.clone();
    other_session["sid"] = json!(uuid::Uuid::new_v4().to_string());
    cases.push(("a session that does not exist", other_session));
    let mut sql_session = claims.clone();
    sql_session["sid"] = json!("' OR 1=1 --");
    cases.push(("SQL in sid", sql_session));
    for (what, claims) in &cases {
        assert_refused(&app, &key.sign(claims), what).await;
    }

    // A token of another deployment (its own database and key) for the same appid.
    let elsewhere = spawn_app().await;
    let foreign = token(&elsewhere.login("aud").await, "access_token");
    assert_refused(&app, &foreign, "another deployment's token").await;

    // The genuine ones still pass, each in its own app.
    assert_eq!(
        app.get("/v1/me", Some(&token(&login, "access_token")))
            .await
            .assert_ok()["appid"],
        APPID
    );
    assert_eq!(
        app.get("/v1/me", Some(&token(&other, "access_token")))
            .await
            .assert_ok()["appid"],
        OTHER_APPID
    );
}

#[tokio::test]
async fn forged_signatures_and_algorithms_are_refused() {
    let app = spawn_app().await;
    let login = app.login("forger").await;
    let access = token(&login, "access_token");
    let (header, claims) = parts_of(&access);
    let kid = header["kid"].as_str().unwrap().to_owned();
    let key = ServerKey::of(app.store()).await;
    let jwks = app.get("/.well-known/jwks.json", None).await;
    let x = jwks.assert_ok()["keys"][0]["x"]
        .as_str()
        .unwrap()
        .to_owned();
    // The JWK's x is the public key's (P-256: after the SEC1 0x04 tag; Ed25519: all of it).
    let x_bytes = URL_SAFE_NO_PAD.decode(&x).unwrap();
    let stored_x = match key.algorithm {
        Algorithm::ES256 => &key.public_key[1..33],
        _ => &key.public_key[..],
    };
    assert_eq!(x_bytes, stored_x);
    let payload = b64(claims.to_string());

    let mut forgeries: Vec<(String, String)> = Vec::new();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = b64(json!({"alg": alg, "typ": "JWT", "kid": kid}).to_string());
        forgeries.push((
            format!("alg {alg}, empty signature"),
            format!("{header}.{payload}."),
        ));
        forgeries.push((
            format!("alg {alg}, no signature part"),
            format!("{header}.{payload}"),
        ));
    }
    // HS256/384/512 keyed with the public key: its raw bytes, its JWKS text, the PEM-ish
    // forms a confused verifier might use.
    for (name, secret) in [
        ("raw public key", key.public_key.to_vec()),
        ("JWKS x text", x.as_bytes().to_vec()),
        ("JWKS document", jwks.text.as_bytes().to_vec()),
    ] {
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let mut header = Header::new(alg);
            header.kid = Some(kid.clone());
            let forged =
                jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&secret)).unwrap();
            forgeries.push((format!("{alg:?} keyed with the {name}"), forged));
        }
    }
    // Another P-256 key under the real kid.
    {
        use p256::pkcs8::EncodePrivateKey;
        let stranger = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid.clone());
        let encoding = EncodingKey::from_ec_der(stranger.to_pkcs8_der().unwrap().as_bytes());
        forgeries.push((
            "re-signed with another P-256 key, same kid".into(),
            jsonwebtoken::encode(&header, &claims, &encoding).unwrap(),
        ));
    }
    // Another Ed25519 key under the real kid, with and without its own key in the header.
    let stranger = stranger_key();
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.clone());
    forgeries.push((
        "re-signed with another Ed25519 key, same kid".into(),
        jsonwebtoken::encode(&header, &claims, &stranger).unwrap(),
    ));
    let stranger_signing = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let stranger_x = b64(stranger_signing.verifying_key().to_bytes());
    let jwk_header = b64(
        json!({"alg": "EdDSA", "kid": kid, "jwk": {"kty": "OKP", "crv": "Ed25519", "x": stranger_x}})
            .to_string(),
    );
    let message = format!("{jwk_header}.{payload}");
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &EncodingKey::from_ed_der(stranger_signing.to_pkcs8_der().unwrap().as_bytes()),
        Algorithm::EdDSA,
    )
    .unwrap();
    forgeries.push((
        "own key embedded as jwk header".into(),
        format!("{message}.{signature}"),
    ));
    for bad_kid in ["", "../../../../etc/passwd", "' OR 1=1 --", "\u{0}"] {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(bad_kid.to_owned());
        forgeries.push((
            format!("kid {bad_kid:?}"),
            jsonwebtoken::encode(&header, &claims, &stranger).unwrap(),
        ));
    }
    // The genuine signature over a changed payload.
    let genuine: Vec<&str> = access.split('.').collect();
    for (field, value) in [
        ("sub", json!("another-user")),
        ("sid", json!(uuid::Uuid::new_v4().to_string())),
        ("exp", json!(claims["exp"].as_i64().unwrap() + 86_400)),
        ("aud", json!("wx99999999999999")),
    ] {
        let mut changed = claims.clone();
        changed[field] = value;
        forgeries.push((
            format!("{field} changed under the genuine signature"),
            format!("{}.{}.{}", genuine[0], b64(changed.to_string()), genuine[2]),
        ));
    }
    // The genuine header swapped for an HS256 one, signature kept.
    let hs_header = b64(json!({"alg": "HS256", "typ": "JWT", "kid": kid}).to_string());
    forgeries.push((
        "alg changed under the genuine signature".into(),
        format!("{hs_header}.{}.{}", genuine[1], genuine[2]),
    ));
    // The server's own key, correctly used, over claims of another shape.
    let mut extra = claims.clone();
    extra["sub"] = json!(["a", "b"]);
    forgeries.push(("sub as a list".into(), key.sign(&extra)));

    for (what, forged) in &forgeries {
        assert_refused(&app, forged, what).await;
    }
    app.get("/v1/me", Some(&access)).await.assert_ok();
}

#[tokio::test]
async fn truncated_mangled_and_garbage_tokens_are_refused() {
    let app = spawn_app().await;
    let login = app.login("mangled").await;
    let access = token(&login, "access_token");
    let refresh = token(&login, "refresh_token");
    let parts: Vec<&str> = access.split('.').collect();

    let mut mangled: Vec<(String, String)> = vec![
        ("no signature".into(), format!("{}.{}", parts[0], parts[1])),
        (
            "empty signature".into(),
            format!("{}.{}.", parts[0], parts[1]),
        ),
        ("header only".into(), parts[0].to_owned()),
        ("signature only".into(), parts[2].to_owned()),
        (
            "parts reordered".into(),
            format!("{}.{}.{}", parts[1], parts[0], parts[2]),
        ),
        ("a fourth part".into(), format!("{access}.{}", parts[2])),
        (
            "padded base64".into(),
            format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
        ),
        (
            "whitespace inside".into(),
            format!("{}. {}.{}", parts[0], parts[1], parts[2]),
        ),
        ("the refresh token".into(), refresh.clone()),
        ("a doubled token".into(), format!("{access}{access}")),
        ("lower-cased".into(), access.to_lowercase()),
    ];
    let standard_alphabet = access.replace('-', "+").replace('_', "/");
    if standard_alphabet != access {
        mangled.push(("standard base64 alphabet".into(), standard_alphabet));
    }
    for cut in [1, 2, 5, 20, 43] {
        mangled.push((
            format!("{cut} characters cut"),
            access[..access.len() - cut].to_owned(),
        ));
    }
    // Every single character of the signature changed.
    let signature_start = parts[0].len() + parts[1].len() + 2;
    for index in (signature_start..access.len()).step_by(7) {
        let mut bytes = access.clone().into_bytes();
        bytes[index] = if bytes[index] == b'A' { b'B' } else { b'A' };
        mangled.push((
            format!("signature character {index} changed"),
            String::from_utf8(bytes).unwrap(),
        ));
    }
    for garbage in [
        "x",
        "...",
        "a.b.c",
        "null",
        "{}",
        "eyJ.eyJ.eyJ",
        "Bearer",
        "😀.😀.😀",
        "eyJhbGciOiJFZERTQSJ9",
        "%00",
        "' OR 1=1 --",
    ] {
        mangled.push((format!("garbage {garbage:?}"), garbage.to_owned()));
    }
    for (what, token) in &mangled {
        assert_refused(&app, token, what).await;
    }

    // The scheme and header forms around the token.
    for header in [
        format!("Bearer  {access}x"),
        format!("Token {access}"),
        format!("Basic {access}"),
        access.clone(),
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
    ] {
        let answer = app
            .http
            .get(app.url("/v1/me"))
            .header("Authorization", header.clone())
            .send()
            .await
            .unwrap();
        crate::helpers::answer(answer)
            .await
            .assert_error(401, "unauthorized");
    }
    app.get("/v1/me", Some(&access)).await.assert_ok();
}

/// Another server instance on the same database and master key as `app`.
async fn second_instance(app: &TestApp) -> (String, tokio::sync::oneshot::Sender<()>) {
    let clock = Arc::new(OffsetClock::new());
    let instance = Application::build_with_clock(app.settings.clone(), clock)
        .await
        .expect("second instance builds");
    let address = format!("http://{}", instance.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(instance.run_until(async {
        let _ = stopped.await;
    }));
    (address, stop)
}

async fn refresh_at(http: &reqwest::Client, address: &str, refresh_token: &str) -> Answer {
    let response = http
        .post(format!("{address}/v1/token/refresh"))
        .json(&json!({"refresh_token": refresh_token}))
        .send()
        .await
        .unwrap();
    crate::helpers::answer(response).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_two_concurrent_refreshes_one_wins_and_the_family_is_revoked() {
    let app = spawn_app().await;
    let (other_address, _stop) = second_instance(&app).await;
    for round in 0..6 {
        let login = app.login(&format!("racer-{round}")).await;
        let refresh = token(&login, "refresh_token");
        // Even rounds race on one instance, odd rounds across two.
        let second_address = if round % 2 == 0 {
            app.address.clone()
        } else {
            other_address.clone()
        };
        let (first, second) = tokio::join!(
            refresh_at(&app.http, &app.address, &refresh),
            refresh_at(&app.http, &second_address, &refresh),
        );
        let answers = [first, second];
        let winners: Vec<&Answer> = answers
            .iter()
            .filter(|a| a.status.as_u16() == 200)
            .collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: exactly one refresh wins: {:?}",
            answers.iter().map(|a| &a.text).collect::<Vec<_>>()
        );
        let loser = answers.iter().find(|a| a.status.as_u16() != 200).unwrap();
        loser.assert_error(401, "unauthorized");
        assert_eq!(loser.body.as_object().unwrap().len(), 1);

        // The reuse revoked the whole family: the winner's new pair is dead too.
        let winner = &winners[0].body;
        let new_refresh = token(winner, "refresh_token");
        let new_access = token(winner, "access_token");
        assert_ne!(new_refresh, refresh);
        refresh_at(&app.http, &app.address, &new_refresh)
            .await
            .assert_error(401, "unauthorized");
        assert_refused(
            &app,
            &new_access,
            "the winner's access token after the reuse",
        )
        .await;
        assert_refused(
            &app,
            &token(&login, "access_token"),
            "the first access token",
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn logout_takes_effect_at_once_everywhere() {
    let app = spawn_app().await;
    let (other_address, _stop) = second_instance(&app).await;
    let login = app.login("leaver").await;
    let keeper = app.login("leaver").await;
    let access = token(&login, "access_token");
    let me_elsewhere = |token: String| {
        let http = app.http.clone();
        let url = format!("{other_address}/v1/me");
        async move {
            crate::helpers::answer(http.get(url).bearer_auth(token).send().await.unwrap()).await
        }
    };
    me_elsewhere(access.clone()).await.assert_ok();

    let answer = app
        .request(Method::POST, "/v1/logout", Some(&access), None)
        .await;
    assert_eq!(answer.status.as_u16(), 204, "{}", answer.text);
    // The very next request, on this instance and on the other, is refused.
    let (here, there) = tokio::join!(
        app.get("/v1/me", Some(&access)),
        me_elsewhere(access.clone())
    );
    here.assert_error(401, "unauthorized");
    there.assert_error(401, "unauthorized");
    for path in ["/v1/me/phone", "/v1/me/userinfo"] {
        app.post(path, Some(&access), json!({"code": "x"}))
            .await
            .assert_error(401, "unauthorized");
    }
    app.request(
        Method::PATCH,
        "/v1/me",
        Some(&access),
        Some(json!({"nickname": "ghost"})),
    )
    .await
    .assert_error(401, "unauthorized");
    refresh_at(&app.http, &other_address, &token(&login, "refresh_token"))
        .await
        .assert_error(401, "unauthorized");

    // The user's other session is untouched, and a second logout of the first is refused.
    me_elsewhere(token(&keeper, "access_token"))
        .await
        .assert_ok();
    app.request(Method::POST, "/v1/logout", Some(&access), None)
        .await
        .assert_error(401, "unauthorized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refresh_racing_a_logout_never_outlives_it() {
    let app = spawn_app().await;
    for round in 0..6 {
        let login = app.login(&format!("racing-logout-{round}")).await;
        let access = token(&login, "access_token");
        let refresh = token(&login, "refresh_token");
        let (logout, refreshed) = tokio::join!(
            app.request(Method::POST, "/v1/logout", Some(&access), None),
            refresh_at(&app.http, &app.address, &refresh),
        );
        assert_eq!(logout.status.as_u16(), 204, "{}", logout.text);
        // Whichever came first, nothing of the session works afterwards.
        if refreshed.status.as_u16() == 200 {
            let new_access = token(&refreshed.body, "access_token");
            assert_refused(&app, &new_access, "a pair refreshed during logout").await;
            refresh_at(
                &app.http,
                &app.address,
                &token(&refreshed.body, "refresh_token"),
            )
            .await
            .assert_error(401, "unauthorized");
        } else {
            refreshed.assert_error(401, "unauthorized");
        }
        assert_refused(&app, &access, "the logged-out token").await;
    }
}

/// An instance that no longer serves app A (its app list changed) refuses A's sessions on
/// refresh with the documented 401, without spending the token: the same token still
/// refreshes on an instance that serves A.
#[tokio::test]
async fn refresh_refuses_a_session_of_an_app_this_instance_does_not_serve() {
    let mut sim = SimConfig::default();
    sim.apps
        .push(SimApp::new(OTHER_APPID, "0000000000000000000000000other1"));
    let app = spawn_app_with(sim, |_| {}).await;
    let login = app.login_to(APPID, "removed-app").await;
    let refresh_token = token(&login, "refresh_token");

    let mut other_only = app.settings.clone();
    other_only.listen = "127.0.0.1:0".to_owned();
    other_only
        .apps
        .retain(|configured| configured.appid == OTHER_APPID);
    let other_instance = wxlogin_server::Application::build(other_only)
        .await
        .unwrap();
    let other_address = format!("http://{}", other_instance.local_addr());
    tokio::spawn(other_instance.run());
    let http = reqwest::Client::new();
    let refused = crate::helpers::answer(
        http.post(format!("{other_address}/v1/token/refresh"))
            .json(&json!({"refresh_token": refresh_token}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    refused.assert_error(401, "unauthorized");
    let me = crate::helpers::answer(
        http.get(format!("{other_address}/v1/me"))
            .bearer_auth(token(&login, "access_token"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    me.assert_error(401, "unauthorized");

    let rotated = app
        .post(
            "/v1/token/refresh",
            None,
            json!({"refresh_token": refresh_token}),
        )
        .await;
    assert_eq!(rotated.assert_ok()["user"]["appid"], APPID);
}
