//! The device side over plain HTTP: codes, legacy phone data, user info.
use serde_json::{json, Value};
use wxlogin_client::Code2Session;
use wxlogin_crypto::{
    decrypt_json, decrypt_phone_number, decrypt_user_info, verify_raw_data_signature, CryptoError,
};
use wxlogin_sim::{SimApp, SimConfig};

use crate::support::*;

async fn login(sim: &Sim, appid: &str, secret: &str, user: &str) -> Code2Session {
    let code = sim.login_code(appid, user).await;
    sim.client()
        .code2session(&credentials(appid, secret), &code)
        .await
        .expect("login")
}

#[tokio::test]
async fn login_codes_look_like_wechats_and_need_a_known_app_and_a_user() {
    let sim = start().await;
    let code = sim.login_code(APPID, "alice").await;
    assert_eq!(code.len(), 32);
    assert!(code.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_ne!(code, sim.login_code(APPID, "alice").await);

    let (status, body) = sim
        .post("/sim/login", json!({ "appid": "wxnope", "user": "alice" }))
        .await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("wxnope"), "{body}");
    let (status, _) = sim
        .post("/sim/login", json!({ "appid": APPID, "user": "" }))
        .await;
    assert_eq!(status, 400);
    let (status, body) = sim.post("/sim/login", json!({ "appid": APPID })).await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn phone_and_userinfo_need_a_session_key_first() {
    let sim = start().await;
    sim.login_code(APPID, "alice").await;
    for path in ["/sim/phone", "/sim/userinfo"] {
        let (status, body) = sim
            .post(path, json!({ "appid": APPID, "user": "alice" }))
            .await;
        assert_eq!(status, 400, "{path}");
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("/sns/jscode2session"),
            "{body}"
        );
    }
    let (status, _) = sim
        .post(
            "/sim/phone",
            json!({ "appid": APPID, "user": "alice", "phone": "12ab" }),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn legacy_phone_data_decrypts_under_the_current_key_with_a_watermark() {
    let sim = start().await;
    let session = login(&sim, APPID, SECRET, "alice").await;
    let grant = sim.phone_code(APPID, "alice").await;
    assert_eq!(grant["code"].as_str().unwrap().len(), 64);
    let iv = grant["iv"].as_str().unwrap();
    let data = grant["encrypted_data"].as_str().unwrap();
    let phone = decrypt_phone_number(&session.session_key, iv, data).expect("decrypts");
    assert!(phone.pure_phone_number.starts_with("138"));
    assert_eq!(phone.country_code, "86");
    let watermark = phone.watermark.expect("watermark");
    assert_eq!(watermark.appid, APPID);
    let now = sim.now().await;
    assert!(
        (now - 2..=now).contains(&watermark.timestamp),
        "{watermark:?}"
    );

    let plain: Value = decrypt_json(&session.session_key, iv, data).unwrap();
    assert!(
        plain["countryCode"].is_string(),
        "legacy countryCode is a string: {plain}"
    );
    let keys: Vec<&str> = plain
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 4, "{plain}");
}

#[tokio::test]
async fn data_encrypted_under_an_older_key_fails_after_re_login() {
    let sim = start().await;
    let first = login(&sim, APPID, SECRET, "alice").await;
    let old_info = sim
        .post("/sim/userinfo", json!({ "appid": APPID, "user": "alice" }))
        .await
        .1;
    let old_phone = sim.phone_code(APPID, "alice").await;
    let second = login(&sim, APPID, SECRET, "alice").await;

    let stale = decrypt_user_info(
        &second.session_key,
        old_info["iv"].as_str().unwrap(),
        old_info["encrypted_data"].as_str().unwrap(),
    );
    assert!(
        matches!(
            stale,
            Err(CryptoError::InvalidPadding
                | CryptoError::NotJson
                | CryptoError::UnexpectedLayout { .. })
        ),
        "{stale:?}"
    );
    let stale = decrypt_phone_number(
        &second.session_key,
        old_phone["iv"].as_str().unwrap(),
        old_phone["encrypted_data"].as_str().unwrap(),
    );
    assert!(stale.is_err());
    assert!(verify_raw_data_signature(
        old_info["raw_data"].as_str().unwrap(),
        old_info["signature"].as_str().unwrap(),
        &second.session_key
    )
    .is_err());
    decrypt_user_info(
        &first.session_key,
        old_info["iv"].as_str().unwrap(),
        old_info["encrypted_data"].as_str().unwrap(),
    )
    .expect("the old key still opens the old data");

    let new_info = sim
        .post("/sim/userinfo", json!({ "appid": APPID, "user": "alice" }))
        .await
        .1;
    decrypt_user_info(
        &second.session_key,
        new_info["iv"].as_str().unwrap(),
        new_info["encrypted_data"].as_str().unwrap(),
    )
    .expect("fresh data uses the new key");
}

#[tokio::test]
async fn user_info_is_signed_and_carries_openid_and_unionid_when_there_is_one() {
    let a = SimApp::new("wxaaaaaaaaaaaaaaaa", "sa").with_open_platform("acme");
    let b = SimApp::new("wxbbbbbbbbbbbbbbbb", "sb").with_open_platform("acme");
    let lone = SimApp::new("wxdddddddddddddddd", "sd");
    let sim = start_with(SimConfig {
        apps: vec![a.clone(), b.clone(), lone.clone()],
        ..SimConfig::default()
    })
    .await;

    let mut union_ids = Vec::new();
    for app in [&a, &b, &lone] {
        let session = login(&sim, &app.appid, &app.secret, "alice").await;
        let (status, info) = sim
            .post(
                "/sim/userinfo",
                json!({ "appid": app.appid, "user": "alice" }),
            )
            .await;
        assert_eq!(status, 200, "{info}");
        let raw_data = info["raw_data"].as_str().unwrap();
        verify_raw_data_signature(
            raw_data,
            info["signature"].as_str().unwrap(),
            &session.session_key,
        )
        .expect("signature over rawData and the session key");
        let raw: Value = serde_json::from_str(raw_data).unwrap();
        let keys: Vec<&str> = raw
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys.len(), 7, "{raw_data}");
        assert!(
            raw_data.starts_with(r#"{"nickName":"alice","gender":"#),
            "compact, in order: {raw_data}"
        );
        assert!(!raw_data.contains(' '), "compact JSON: {raw_data}");

        let payload = decrypt_user_info(
            &session.session_key,
            info["iv"].as_str().unwrap(),
            info["encrypted_data"].as_str().unwrap(),
        )
        .expect("decrypts");
        assert_eq!(payload.open_id.as_deref(), Some(session.openid.as_str()));
        assert_eq!(payload.union_id, session.unionid);
        assert_eq!(payload.nick_name.as_deref(), raw["nickName"].as_str());
        assert_eq!(payload.watermark.expect("watermark").appid, app.appid);
        union_ids.push(payload.union_id);
    }
    assert!(union_ids[0].is_some());
    assert_eq!(
        union_ids[0], union_ids[1],
        "shared across the open platform"
    );
    assert_eq!(
        union_ids[2], None,
        "no open platform: no unionId key at all"
    );
}
