//! POST /v1/me/phone (code and legacy) and POST /v1/me/userinfo: decryption, signature,
//! watermark, stale session keys.

use crate::helpers::{spawn_app, spawn_app_with, token, TestApp, APPID};
use serde_json::{json, Value};
use wxlogin_crypto::{encrypt_json, SessionKey};
use wxlogin_sim::{Endpoint, SimApp, SimConfig};

async fn logged_in(app: &TestApp, user: &str) -> (Value, String) {
    let login = app.login(user).await;
    let access = token(&login, "access_token");
    (login, access)
}

async fn stored_session_key(app: &TestApp, user: &str) -> SessionKey {
    app.store()
        .session_key(APPID, &app.sim.openid(APPID, user))
        .await
        .unwrap()
        .expect("the server keeps the session key")
}

#[tokio::test]
async fn phone_by_code_is_exchanged_and_stored() {
    let app = spawn_app().await;
    let (_, access) = logged_in(&app, "alice").await;
    let grant = app
        .sim
        .phone_grant(APPID, "alice", Some("13812345678"))
        .unwrap();
    let answer = app
        .post("/v1/me/phone", Some(&access), json!({"code": grant.code}))
        .await;
    assert_eq!(
        answer.assert_ok(),
        &json!({"phone_number": "13812345678", "pure_phone_number": "13812345678", "country_code": "86"})
    );
    assert_eq!(
        app.get("/v1/me", Some(&access)).await.assert_ok()["phone_number"],
        "13812345678"
    );
    // The access token for getuserphonenumber lives in the database, shared by instances.
    assert!(app
        .store()
        .load_access_token(APPID)
        .await
        .unwrap()
        .is_some());
    // Phone codes are single use: WeChat answers 40029.
    let again = app
        .post("/v1/me/phone", Some(&access), json!({"code": grant.code}))
        .await;
    again.assert_error(400, "invalid_code");
    assert_eq!(again.body["error"]["wechat_errcode"], 40029);
}

#[tokio::test]
async fn a_refused_phone_code_is_explained_as_a_phone_code_not_a_login_code() {
    let app = spawn_app().await;
    let (_, access) = logged_in(&app, "paula").await;
    let spent = app.sim.phone_grant(APPID, "paula", None).unwrap().code;
    app.post("/v1/me/phone", Some(&access), json!({"code": spent}))
        .await
        .assert_ok();
    let expired = app.sim.phone_grant(APPID, "paula", None).unwrap().code;
    app.sim.advance_clock(301);
    let login_code = app.code(APPID, "paula");
    for code in [spent, expired, login_code] {
        let answer = app
            .post("/v1/me/phone", Some(&access), json!({"code": code}))
            .await;
        answer.assert_error(400, "invalid_code");
        assert_eq!(answer.body["error"]["wechat_errcode"], 40029);
        let message = answer.body["error"]["message"].as_str().unwrap();
        assert!(message.contains("phone-number code"), "{message}");
        assert!(message.contains("5 minutes"), "{message}");
        assert!(!message.contains("not a valid login code"), "{message}");
    }
}

/// Alice's session presents a phone code Bob's button produced: only the openid, when
/// sent, lets WeChat tell.
async fn phone_code_of_another_user(send_openid: bool) -> (TestApp, String, String) {
    let app = spawn_app_with(SimConfig::default(), |settings| {
        settings.phone_send_openid = send_openid
    })
    .await;
    let (_, alice) = logged_in(&app, "alice").await;
    logged_in(&app, "bob").await;
    let bobs_code = app.sim.phone_grant(APPID, "bob", None).unwrap().code;
    (app, alice, bobs_code)
}

#[tokio::test]
async fn the_openid_is_not_sent_with_the_phone_code_by_default() {
    let (app, alice, bobs_code) = phone_code_of_another_user(false).await;
    assert!(!app.settings.phone_send_openid, "off by default");
    // The simulator checks an openid whenever one is sent; none was, so it cannot refuse.
    app.post("/v1/me/phone", Some(&alice), json!({"code": bobs_code}))
        .await
        .assert_ok();
}

#[tokio::test]
async fn the_openid_is_sent_with_the_phone_code_when_configured() {
    let (app, alice, bobs_code) = phone_code_of_another_user(true).await;
    let answer = app
        .post("/v1/me/phone", Some(&alice), json!({"code": bobs_code}))
        .await;
    answer.assert_error(400, "invalid_code");
    assert_eq!(answer.body["error"]["wechat_errcode"], 40029);
    // Alice's own code, with her openid, is accepted.
    let own = app.sim.phone_grant(APPID, "alice", None).unwrap().code;
    app.post("/v1/me/phone", Some(&alice), json!({"code": own}))
        .await
        .assert_ok();
}

#[tokio::test]
async fn the_shared_token_expires_when_stable_token_says_it_does() {
    let app = spawn_app().await;
    let (_, access) = logged_in(&app, "tina").await;
    // Someone fetched the app's stable token 6800 s ago: WeChat now hands it out with the
    // 400 s it has left, not with a fresh 7200.
    let first = app
        .http
        .post(format!("{}/cgi-bin/stable_token", app.sim_handle.base_url))
        .json(&json!({"grant_type": "client_credential", "appid": APPID, "secret": SimApp::DEMO_SECRET}))
        .send()
        .await
        .unwrap();
    assert!(first.status().is_success());
    app.sim.advance_clock(6800);
    let grant = app.sim.phone_grant(APPID, "tina", None).unwrap();
    app.post("/v1/me/phone", Some(&access), json!({"code": grant.code}))
        .await
        .assert_ok();
    let stored = app.store().load_access_token(APPID).await.unwrap().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let left = stored.expires_at_unix - now;
    assert!((395..=400).contains(&left), "stored with {left} s left");
}

#[tokio::test]
async fn phone_by_code_maps_wechat_errors() {
    let app = spawn_app().await;
    let (_, access) = logged_in(&app, "amy").await;
    for (errcode, status, code) in [
        (45011, 429, "rate_limited"),
        (-1, 503, "upstream_unavailable"),
    ] {
        app.force_errcode(Endpoint::Getuserphonenumber, errcode);
        let grant = app.sim.phone_grant(APPID, "amy", None).unwrap();
        let answer = app
            .post("/v1/me/phone", Some(&access), json!({"code": grant.code}))
            .await;
        answer.assert_error(status, code);
        assert_eq!(answer.body["error"]["wechat_errcode"], errcode);
    }
}

#[tokio::test]
async fn phone_by_legacy_encrypted_data_with_camel_case_names() {
    let app = spawn_app().await;
    let (_, access) = logged_in(&app, "bob").await;
    let grant = app
        .sim
        .phone_grant(APPID, "bob", Some("13900001111"))
        .unwrap();
    let answer = app
        .post(
            "/v1/me/phone",
            Some(&access),
            json!({"encryptedData": grant.encrypted_data, "iv": grant.iv}),
        )
        .await;
    assert_eq!(answer.assert_ok()["phone_number"], "13900001111");
    assert_eq!(
        app.get("/v1/me", Some(&access)).await.assert_ok()["phone_number"],
        "13900001111"
    );
    let grant = app
        .sim
        .phone_grant(APPID, "bob", Some("13900002222"))
        .unwrap();
    let answer = app
        .post(
            "/v1/me/phone",
            Some(&access),
            json!({"encrypted_data": grant.encrypted_data, "iv": grant.iv}),
        )
        .await;
    assert_eq!(answer.assert_ok()["pure_phone_number"], "13900002222");
}

#[tokio::test]
async fn legacy_data_under_a_stale_key_is_decrypt_failed() {
    let app = spawn_app().await;
    let (_, access) = logged_in(&app, "carl").await;
    let grant = app.sim.phone_grant(APPID, "carl", None).unwrap();
    // The classic bug: wx.login inside the button callback rotates the key.
    app.login("carl").await;
    let answer = app
        .post(
            "/v1/me/phone",
            Some(&access),
            json!({"encrypted_data": grant.encrypted_data, "iv": grant.iv}),
        )
        .await;
    answer.assert_error(400, "decrypt_failed");
    assert!(answer.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("wx.login"));
}

#[tokio::test]
async fn legacy_phone_watermark_must_be_this_app_and_fresh() {
    let app = spawn_app().await;
    let (_, access) = logged_in(&app, "dora").await;
    let key = stored_session_key(&app, "dora").await;
    let now = app.sim.now_unix();
    let payload = |appid: &str, timestamp: i64| {
        json!({"phoneNumber": "13700000000", "purePhoneNumber": "13700000000", "countryCode": "86",
               "watermark": {"appid": appid, "timestamp": timestamp}})
    };
    let (data, iv) = encrypt_json(&key, &[7u8; 16], &payload("wx9999999999999999", now));
    app.post(
        "/v1/me/phone",
        Some(&access),
        json!({"encrypted_data": data, "iv": iv}),
    )
    .await
    .assert_error(400, "watermark_mismatch");
    let (data, iv) = encrypt_json(&key, &[7u8; 16], &payload(APPID, now - 3600));
    app.post(
        "/v1/me/phone",
        Some(&access),
        json!({"encrypted_data": data, "iv": iv}),
    )
    .await
    .assert_error(400, "watermark_mismatch");
    let (data, iv) = encrypt_json(&key, &[7u8; 16], &payload(APPID, now));
    app.post(
        "/v1/me/phone",
        Some(&access),
        json!({"encrypted_data": data, "iv": iv}),
    )
    .await
    .assert_ok();

    // Fresh data gets stale as the server's clock moves past the configured age.
    let grant = app.sim.phone_grant(APPID, "dora", None).unwrap();
    app.clock.advance(301);
    app.post(
        "/v1/me/phone",
        Some(&access),
        json!({"encrypted_data": grant.encrypted_data, "iv": grant.iv}),
    )
    .await
    .assert_error(400, "watermark_mismatch");
}

#[tokio::test]
async fn watermark_max_age_is_configurable() {
    let app = spawn_app_with(SimConfig::default(), |settings| {
        settings.watermark_max_age = std::time::Duration::from_secs(3600);
    })
    .await;
    let (_, access) = logged_in(&app, "dave").await;
    let grant = app.sim.phone_grant(APPID, "dave", None).unwrap();
    app.clock.advance(600);
    app.post(
        "/v1/me/phone",
        Some(&access),
        json!({"encrypted_data": grant.encrypted_data, "iv": grant.iv}),
    )
    .await
    .assert_ok();
}

#[tokio::test]
async fn phone_request_must_name_a_method() {
    let app = spawn_app().await;
    let (_, access) = logged_in(&app, "eve").await;
    for body in [
        json!({}),
        json!({"encrypted_data": "AAAA"}),
        json!({"iv": "AAAA"}),
        json!({"code": ""}),
    ] {
        app.post("/v1/me/phone", Some(&access), body)
            .await
            .assert_error(400, "invalid_request");
    }
    app.post(
        "/v1/me/phone",
        Some(&access),
        json!({"encrypted_data": "%%%", "iv": "AAAA"}),
    )
    .await
    .assert_error(400, "invalid_request");
}

#[tokio::test]
async fn userinfo_updates_the_profile() {
    let app = spawn_app().await;
    let (login, access) = logged_in(&app, "fay").await;
    let info = app.sim.user_info(APPID, "fay").unwrap();
    let answer = app
        .post(
            "/v1/me/userinfo",
            Some(&access),
            json!({"rawData": info.raw_data, "signature": info.signature, "encryptedData": info.encrypted_data, "iv": info.iv}),
        )
        .await;
    let user = answer.assert_ok();
    assert_eq!(user["id"], login["user"]["id"]);
    assert_eq!(user["nickname"], "fay");
    assert!(user["avatar_url"].as_str().unwrap().starts_with("http"));
    assert_eq!(
        app.get("/v1/me", Some(&access)).await.assert_ok()["nickname"],
        "fay"
    );
}

#[tokio::test]
async fn userinfo_signature_mismatch_and_stale_key() {
    let app = spawn_app().await;
    let (_, access) = logged_in(&app, "gus").await;
    let info = app.sim.user_info(APPID, "gus").unwrap();
    let tampered_raw = info.raw_data.replace("gus", "admin");
    app.post(
        "/v1/me/userinfo",
        Some(&access),
        json!({"raw_data": tampered_raw, "signature": info.signature, "encrypted_data": info.encrypted_data, "iv": info.iv}),
    )
    .await
    .assert_error(400, "signature_mismatch");
    app.post(
        "/v1/me/userinfo",
        Some(&access),
        json!({"raw_data": info.raw_data, "signature": "0".repeat(40), "encrypted_data": info.encrypted_data, "iv": info.iv}),
    )
    .await
    .assert_error(400, "signature_mismatch");
    app.post(
        "/v1/me/userinfo",
        Some(&access),
        json!({"raw_data": info.raw_data}),
    )
    .await
    .assert_error(400, "invalid_request");

    // After another login the key rotated: the old bundle's signature no longer matches.
    app.login("gus").await;
    app.post(
        "/v1/me/userinfo",
        Some(&access),
        json!({"raw_data": info.raw_data, "signature": info.signature, "encrypted_data": info.encrypted_data, "iv": info.iv}),
    )
    .await
    .assert_error(400, "signature_mismatch");
}

#[tokio::test]
async fn userinfo_watermark_of_another_app_is_refused() {
    let app = spawn_app().await;
    let (_, access) = logged_in(&app, "hal").await;
    let key = stored_session_key(&app, "hal").await;
    let raw_data = r#"{"nickName":"hal","avatarUrl":"https://example.com/h/132"}"#;
    let signature = wxlogin_crypto::raw_data_signature(raw_data, &key);
    let (data, iv) = encrypt_json(
        &key,
        &[9u8; 16],
        &json!({"nickName": "hal", "avatarUrl": "https://example.com/h/132",
                "watermark": {"appid": "wx9999999999999999", "timestamp": app.sim.now_unix()}}),
    );
    app.post(
        "/v1/me/userinfo",
        Some(&access),
        json!({"raw_data": raw_data, "signature": signature, "encrypted_data": data, "iv": iv}),
    )
    .await
    .assert_error(400, "watermark_mismatch");
    // Garbage under a valid signature: decrypt_failed, with the re-login advice.
    let answer = app
        .post(
            "/v1/me/userinfo",
            Some(&access),
            json!({"raw_data": raw_data, "signature": signature, "encrypted_data": "AAAAAAAAAAAAAAAAAAAAAA==", "iv": iv}),
        )
        .await;
    answer.assert_error(400, "decrypt_failed");
    assert!(answer.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("wx.login"));
}

#[tokio::test]
async fn phone_answers_never_contain_the_app_secret() {
    let app = spawn_app().await;
    let (_, access) = logged_in(&app, "ian").await;
    app.force_errcode(Endpoint::StableToken, 40125);
    let grant = app.sim.phone_grant(APPID, "ian", None).unwrap();
    let answer = app
        .post("/v1/me/phone", Some(&access), json!({"code": grant.code}))
        .await;
    answer.assert_error(502, "upstream_unavailable");
    assert_eq!(answer.body["error"]["wechat_errcode"], 40125);
    assert!(!answer.text.contains(SimApp::DEMO_SECRET));
}
