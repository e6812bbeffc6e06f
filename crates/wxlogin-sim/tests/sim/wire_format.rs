//! Byte-level compatibility: paths, status, Content-Type, field order, errmsg with rid.
use serde_json::Value;

use crate::support::*;
use wxlogin_sim::{SimApp, SimConfig};

#[tokio::test]
async fn unknown_and_wrong_case_paths_answer_40066_with_http_200() {
    let sim = start().await;
    for path in [
        "/sns/jsCode2Session",
        "/cgi-bin/Token",
        "/nothing/here",
        "/",
    ] {
        let response = sim.http.get(sim.url(path)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        assert_eq!(errcode(&body), 40066, "{path}");
        assert_errmsg(&body, "invalid url rid: ");
    }
}

#[tokio::test]
async fn sns_answers_are_text_plain_and_the_rest_json() {
    let sim = start().await;
    let sns = sim
        .http
        .get(sim.url("/sns/jscode2session"))
        .send()
        .await
        .unwrap();
    assert_eq!(sns.headers()["content-type"], "text/plain");
    let cgi = sim
        .http
        .get(sim.url("/cgi-bin/token"))
        .send()
        .await
        .unwrap();
    assert!(cgi.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
}

#[tokio::test]
async fn jscode2session_success_has_no_errcode_and_unionid_only_with_an_open_platform() {
    let platform = SimApp::new("wxbbbbbbbbbbbbbbbb", "sb").with_open_platform("acme");
    let sim = start_with(SimConfig {
        apps: vec![app(), platform.clone()],
        ..SimConfig::default()
    })
    .await;

    let code = sim.login_code(APPID, "alice").await;
    let response = sim
        .http
        .get(sim.url(&format!(
            "/sns/jscode2session?appid={APPID}&secret={SECRET}&js_code={code}&grant_type=authorization_code"
        )))
        .send()
        .await
        .unwrap();
    let text = response.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    let key = body["session_key"].as_str().unwrap();
    assert_eq!(key.len(), 24);
    let openid = sim.simulator.openid(APPID, "alice");
    assert_eq!(
        text,
        format!(r#"{{"session_key":"{key}","openid":"{openid}"}}"#)
    );

    let code = sim.login_code(&platform.appid, "alice").await;
    let text = sim
        .http
        .get(sim.url(&format!(
            "/sns/jscode2session?appid={}&secret={}&js_code={code}&grant_type=authorization_code",
            platform.appid, platform.secret
        )))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    let (key, unionid) = (
        body["session_key"].as_str().unwrap(),
        body["unionid"].as_str().unwrap(),
    );
    assert_eq!(unionid.len(), 28);
    let openid = sim.simulator.openid(&platform.appid, "alice");
    assert_eq!(
        text,
        format!(r#"{{"session_key":"{key}","openid":"{openid}","unionid":"{unionid}"}}"#)
    );
}

#[tokio::test]
async fn token_answers_have_exactly_two_fields() {
    let sim = start().await;
    let text = sim
        .http
        .get(sim.url(&format!(
            "/cgi-bin/token?grant_type=client_credential&appid={APPID}&secret={SECRET}"
        )))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = serde_json::from_str::<Value>(&text).unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        text,
        format!(r#"{{"access_token":"{token}","expires_in":7200}}"#)
    );
    assert!(token.len() > 100);
}

#[tokio::test]
async fn reset_answers_errcode_errmsg_openid_session_key_in_that_order() {
    let sim = start().await;
    let session = sim
        .client()
        .code2session(&creds(), &sim.login_code(APPID, "alice").await)
        .await
        .unwrap();
    let token = sim.stable_token_raw(false).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let signature = wxlogin_crypto::checksession_signature(&session.session_key);
    let text = sim
        .http
        .get(sim.url(&format!(
            "/wxa/resetusersessionkey?access_token={token}&openid={}&signature={signature}&sig_method=hmac_sha256",
            session.openid
        )))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let key = serde_json::from_str::<Value>(&text).unwrap()["session_key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        text,
        format!(
            r#"{{"errcode":0,"errmsg":"ok","openid":"{}","session_key":"{key}"}}"#,
            session.openid
        )
    );
}

#[tokio::test]
async fn errors_carry_the_code_text_and_a_rid() {
    let sim = start().await;
    let body = sim.exchange_raw(APPID, SECRET, "nope").await;
    assert_eq!(errcode(&body), 40029);
    assert_errmsg(&body, "invalid code, rid: ");
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["errcode", "errmsg"]);
}
