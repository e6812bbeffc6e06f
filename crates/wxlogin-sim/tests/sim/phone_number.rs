//! /wxa/business/getuserphonenumber: phone codes, access-token checks, answer shape.
use serde_json::{json, Value};
use wxlogin_client::WeChatErrorKind;
use wxlogin_sim::SimApp;
use wxlogin_sim::SimConfig;

use crate::support::*;

/// A simulator where alice has logged in (so the device side can produce phone data).
async fn logged_in() -> Sim {
    let sim = start().await;
    let code = sim.login_code(APPID, "alice").await;
    sim.client()
        .code2session(&creds(), &code)
        .await
        .expect("login");
    sim
}

async fn phone_code(sim: &Sim, phone: Option<&str>) -> String {
    let mut request = json!({ "appid": APPID, "user": "alice" });
    if let Some(phone) = phone {
        request["phone"] = json!(phone);
    }
    let (status, body) = sim.post("/sim/phone", request).await;
    assert_eq!(status, 200, "{body}");
    body["code"].as_str().unwrap().to_owned()
}

async fn raw_phone(sim: &Sim, token: &str, body: &str) -> Value {
    sim.wechat_post(
        &format!("/wxa/business/getuserphonenumber?access_token={token}"),
        body,
    )
    .await
}

async fn stable_token(sim: &Sim) -> String {
    sim.stable_token_raw(false).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_phone_code_gives_the_users_number_with_a_watermark() {
    let sim = logged_in().await;
    let client = sim.client();
    let before = sim.now().await;
    let info = client
        .get_user_phone_number(&creds(), &phone_code(&sim, None).await, None)
        .await
        .expect("phone");
    assert_eq!(info.pure_phone_number.len(), 11);
    assert!(info.pure_phone_number.starts_with("138"));
    assert_eq!(info.phone_number, info.pure_phone_number);
    assert_eq!(info.country_code, "86");
    let watermark = info.watermark.expect("watermark");
    assert_eq!(watermark.appid, APPID);
    assert!((before..=before + 2).contains(&watermark.timestamp));

    let again = client
        .get_user_phone_number(&creds(), &phone_code(&sim, None).await, None)
        .await
        .unwrap();
    assert_eq!(
        again.pure_phone_number, info.pure_phone_number,
        "the default number is stable per user"
    );
    let chosen = client
        .get_user_phone_number(&creds(), &phone_code(&sim, Some("13912345678")).await, None)
        .await
        .unwrap();
    assert_eq!(chosen.pure_phone_number, "13912345678");
}

#[tokio::test]
async fn phone_codes_are_single_use_expire_and_are_not_login_codes() {
    let sim = logged_in().await;
    let client = sim.client();
    let code = phone_code(&sim, None).await;
    client
        .get_user_phone_number(&creds(), &code, None)
        .await
        .unwrap();
    let reuse = client
        .get_user_phone_number(&creds(), &code, None)
        .await
        .unwrap_err();
    assert_eq!(
        reuse.wechat().unwrap().errcode,
        40029,
        "reuse of a phone code is 40029"
    );

    let late = phone_code(&sim, None).await;
    sim.advance(300).await;
    let expired = client
        .get_user_phone_number(&creds(), &late, None)
        .await
        .unwrap_err();
    assert_eq!(expired.wechat_kind(), Some(WeChatErrorKind::InvalidCode));

    let login = sim.login_code(APPID, "alice").await;
    let wrong_kind = client
        .get_user_phone_number(&creds(), &login, None)
        .await
        .unwrap_err();
    assert_eq!(wrong_kind.wechat().unwrap().errcode, 40029);
    client
        .code2session(&creds(), &login)
        .await
        .expect("and the login code is still unspent");
}

#[tokio::test]
async fn openid_must_match_the_codes_user() {
    let sim = logged_in().await;
    let client = sim.client();
    let alice = sim.simulator.openid(APPID, "alice");
    let bob = sim.simulator.openid(APPID, "bob");
    let code = phone_code(&sim, None).await;
    let error = client
        .get_user_phone_number(&creds(), &code, Some(&bob))
        .await
        .unwrap_err();
    assert_eq!(error.wechat().unwrap().errcode, 40029);
    client
        .get_user_phone_number(&creds(), &code, Some(&alice))
        .await
        .expect("right user, code still unspent");
}

#[tokio::test]
async fn a_token_of_another_app_answers_40013() {
    let other = SimApp::new("wxbbbbbbbbbbbbbbbb", "secret-b");
    let sim = start_with(SimConfig {
        apps: vec![app(), other.clone()],
        ..SimConfig::default()
    })
    .await;
    let client = sim.client();
    client
        .code2session(&creds(), &sim.login_code(APPID, "alice").await)
        .await
        .unwrap();
    let code = phone_code(&sim, None).await;
    let error = client
        .get_user_phone_number(&credentials(&other.appid, &other.secret), &code, None)
        .await
        .unwrap_err();
    assert_eq!(error.wechat_kind(), Some(WeChatErrorKind::InvalidAppId));
    client
        .get_user_phone_number(&creds(), &code, None)
        .await
        .expect("the right app still can");
}

#[tokio::test]
async fn access_token_missing_unknown_expired_and_bad_bodies() {
    let sim = logged_in().await;
    let code = phone_code(&sim, None).await;
    let body = json!({ "code": code }).to_string();
    let missing = sim
        .wechat_post("/wxa/business/getuserphonenumber", &body)
        .await;
    assert_eq!(errcode(&missing), 41001, "{missing}");
    assert_eq!(errcode(&raw_phone(&sim, "86_unknown", &body).await), 40001);

    let token = stable_token(&sim).await;
    assert_eq!(
        errcode(&raw_phone(&sim, &token, "code=abc").await),
        47001,
        "form body"
    );
    assert_eq!(
        errcode(&raw_phone(&sim, &token, "{}").await),
        41008,
        "no code"
    );
    let get = sim
        .wechat_get(&format!(
            "/wxa/business/getuserphonenumber?access_token={token}"
        ))
        .await;
    assert_eq!(errcode(&get), 43002);

    sim.advance(7200).await;
    let expired = raw_phone(&sim, &token, &body).await;
    assert_eq!(errcode(&expired), 42001, "{expired}");
    assert_errmsg(&expired, "access_token expired");
}

#[tokio::test]
async fn the_answer_has_exactly_the_documented_shape() {
    let sim = logged_in().await;
    let token = stable_token(&sim).await;
    let code = phone_code(&sim, Some("13580006666")).await;
    let response = sim
        .http
        .post(sim.url(&format!(
            "/wxa/business/getuserphonenumber?access_token={token}"
        )))
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap();
    let text = response.text().await.unwrap();
    let timestamp = serde_json::from_str::<Value>(&text).unwrap()["phone_info"]["watermark"]
        ["timestamp"]
        .clone();
    assert_eq!(
        text,
        format!(
            r#"{{"errcode":0,"errmsg":"ok","phone_info":{{"phoneNumber":"13580006666","purePhoneNumber":"13580006666","countryCode":86,"watermark":{{"timestamp":{timestamp},"appid":"{APPID}"}}}}}}"#
        )
    );
}
