//! /wxa/checksession and /wxa/resetusersessionkey.
use wxlogin_client::{Code2Session, WeChatErrorKind};
use wxlogin_crypto::checksession_signature;

use crate::support::*;

async fn login(sim: &Sim, user: &str) -> Code2Session {
    let code = sim.login_code(APPID, user).await;
    sim.client()
        .code2session(&creds(), &code)
        .await
        .expect("login")
}

#[tokio::test]
async fn the_current_key_checks_and_a_stale_one_answers_87009() {
    let sim = start().await;
    let client = sim.client();
    let first = login(&sim, "alice").await;
    client
        .check_session_key(&creds(), &first.openid, &first.session_key)
        .await
        .expect("current key");
    let second = login(&sim, "alice").await;
    let stale = client
        .check_session_key(&creds(), &first.openid, &first.session_key)
        .await
        .unwrap_err();
    assert_eq!(stale.wechat_kind(), Some(WeChatErrorKind::InvalidSignature));
    assert_eq!(stale.wechat().unwrap().errcode, 87009);
    client
        .check_session_key(&creds(), &second.openid, &second.session_key)
        .await
        .expect("the new key");
}

#[tokio::test]
async fn reset_issues_a_new_key_and_the_old_one_dies_at_once() {
    let sim = start().await;
    let client = sim.client();
    let session = login(&sim, "alice").await;
    let reset = client
        .reset_user_session_key(&creds(), &session.openid, &session.session_key)
        .await
        .expect("reset");
    assert_eq!(reset.openid, session.openid);
    assert_ne!(reset.session_key, session.session_key);
    let old = client
        .check_session_key(&creds(), &session.openid, &session.session_key)
        .await
        .unwrap_err();
    assert_eq!(old.wechat().unwrap().errcode, 87009);
    client
        .check_session_key(&creds(), &reset.openid, &reset.session_key)
        .await
        .expect("new key");
    let again = client
        .reset_user_session_key(&creds(), &session.openid, &session.session_key)
        .await
        .unwrap_err();
    assert_eq!(
        again.wechat().unwrap().errcode,
        87009,
        "a reset needs the current key's signature"
    );
}

#[tokio::test]
async fn sig_method_openid_and_signature_are_checked() {
    let sim = start().await;
    let session = login(&sim, "alice").await;
    let token = sim.stable_token_raw(false).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let signature = checksession_signature(&session.session_key);
    let openid = &session.openid;
    for path in ["/wxa/checksession", "/wxa/resetusersessionkey"] {
        let cases = [
            (format!("access_token={token}&openid={openid}&signature={signature}&sig_method=md5"), 87008),
            (format!("access_token={token}&openid={openid}&signature={signature}"), 87008),
            (format!("access_token={token}&openid=oUnknownUnknownUnknownUnknown&signature={signature}&sig_method=hmac_sha256"), 40003),
            (format!("access_token={token}&openid={openid}&signature=00&sig_method=hmac_sha256"), 87009),
            (format!("access_token={token}&openid={openid}&sig_method=hmac_sha256"), 87009),
            (format!("openid={openid}&signature={signature}&sig_method=hmac_sha256"), 41001),
            (format!("access_token=86_nope&openid={openid}&signature={signature}&sig_method=hmac_sha256"), 40001),
        ];
        for (query, expected) in cases {
            let body = sim.wechat_get(&format!("{path}?{query}")).await;
            assert_eq!(errcode(&body), expected, "{path}?{query}: {body}");
        }
    }
    let ok = sim
        .wechat_get(&format!(
            "/wxa/checksession?access_token={token}&openid={openid}&signature={signature}&sig_method=hmac_sha256"
        ))
        .await;
    assert_eq!(ok, serde_json::json!({"errcode": 0, "errmsg": "ok"}));
}

#[tokio::test]
async fn a_user_who_never_exchanged_a_code_fails_the_check() {
    let sim = start().await;
    let alice = login(&sim, "alice").await;
    sim.login_code(APPID, "bob").await; // bob exists but holds no session key yet
    let bob = sim.simulator.openid(APPID, "bob");
    let error = sim
        .client()
        .check_session_key(&creds(), &bob, &alice.session_key)
        .await
        .unwrap_err();
    assert_eq!(error.wechat().unwrap().errcode, 87009);
}
