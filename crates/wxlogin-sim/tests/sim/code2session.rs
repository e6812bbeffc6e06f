//! /sns/jscode2session through the real client.
use wxlogin_client::WeChatErrorKind;
use wxlogin_sim::{RateLimits, SimApp, SimConfig, Simulator};

use crate::support::*;

#[tokio::test]
async fn a_minted_code_exchanges_for_a_stable_openid_and_a_session_key() {
    let sim = start().await;
    let client = sim.client();
    let code = sim.login_code(APPID, "alice").await;
    let session = client
        .code2session(&creds(), &code)
        .await
        .expect("exchange");
    assert_eq!(session.openid, sim.simulator.openid(APPID, "alice"));
    assert_eq!(session.openid.len(), 28);
    assert!(session.openid.starts_with('o'));
    assert_eq!(session.unionid, None, "no open platform, no unionid");

    let again = client
        .code2session(&creds(), &sim.login_code(APPID, "alice").await)
        .await
        .unwrap();
    assert_eq!(
        again.openid, session.openid,
        "openid is stable per (app, user)"
    );
    let bob = client
        .code2session(&creds(), &sim.login_code(APPID, "bob").await)
        .await
        .unwrap();
    assert_ne!(bob.openid, session.openid);
}

#[tokio::test]
async fn a_code_works_once_then_answers_40163_until_it_would_have_expired() {
    let sim = start().await;
    let client = sim.client();
    let code = sim.login_code(APPID, "alice").await;
    client
        .code2session(&creds(), &code)
        .await
        .expect("first use");
    let reuse = client.code2session(&creds(), &code).await.unwrap_err();
    assert_eq!(reuse.wechat_kind(), Some(WeChatErrorKind::CodeUsed));
    assert_eq!(reuse.wechat().unwrap().errcode, 40163);
    sim.advance(300).await;
    let forgotten = client.code2session(&creds(), &code).await.unwrap_err();
    assert_eq!(forgotten.wechat().unwrap().errcode, 40029);
}

#[tokio::test]
async fn unknown_expired_foreign_and_phone_codes_answer_40029() {
    let other = SimApp::new("wxbbbbbbbbbbbbbbbb", "secret-b");
    let sim = start_with(SimConfig {
        apps: vec![app(), other.clone()],
        ..SimConfig::default()
    })
    .await;
    let client = sim.client();

    let unknown = client
        .code2session(&creds(), "083tjT000WK8kM17Dw000FdPPi4tjT0F")
        .await
        .unwrap_err();
    assert_eq!(unknown.wechat_kind(), Some(WeChatErrorKind::InvalidCode));

    let foreign = sim.login_code(&other.appid, "alice").await;
    let error = client.code2session(&creds(), &foreign).await.unwrap_err();
    assert_eq!(
        error.wechat().unwrap().errcode,
        40029,
        "a code of another appid"
    );
    client
        .code2session(&credentials(&other.appid, &other.secret), &foreign)
        .await
        .expect("the other app can still use its code");

    client
        .code2session(&creds(), &sim.login_code(APPID, "alice").await)
        .await
        .unwrap();
    let phone = sim.phone_code(APPID, "alice").await;
    let error = client
        .code2session(&creds(), phone["code"].as_str().unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        error.wechat().unwrap().errcode,
        40029,
        "a phone code is not a login code"
    );

    let stale = sim.login_code(APPID, "alice").await;
    sim.advance(299).await;
    let fresh = sim.login_code(APPID, "alice").await;
    sim.advance(1).await;
    let error = client.code2session(&creds(), &stale).await.unwrap_err();
    assert_eq!(
        error.wechat().unwrap().errcode,
        40029,
        "expired after 5 minutes"
    );
    client
        .code2session(&creds(), &fresh)
        .await
        .expect("a younger code still works");
}

#[tokio::test]
async fn wrong_credentials_answer_40013_and_40125() {
    let sim = start().await;
    let client = sim.client();
    let code = sim.login_code(APPID, "alice").await;
    let error = client
        .code2session(&credentials("wxdoesnotexist0000", SECRET), &code)
        .await
        .unwrap_err();
    assert_eq!(error.wechat_kind(), Some(WeChatErrorKind::InvalidAppId));
    let error = client
        .code2session(&credentials(APPID, "wrong"), &code)
        .await
        .unwrap_err();
    assert_eq!(error.wechat_kind(), Some(WeChatErrorKind::InvalidSecret));
    client
        .code2session(&creds(), &code)
        .await
        .expect("failed calls did not spend the code");
}

#[tokio::test]
async fn missing_parameters_and_grant_type_have_their_codes() {
    let sim = start().await;
    let code = sim.login_code(APPID, "alice").await;
    let cases = [
        (
            format!("secret={SECRET}&js_code={code}&grant_type=authorization_code"),
            41002,
        ),
        (
            format!("appid={APPID}&js_code={code}&grant_type=authorization_code"),
            41004,
        ),
        (
            format!("appid={APPID}&secret={SECRET}&grant_type=authorization_code"),
            41008,
        ),
        (
            format!("appid={APPID}&secret={SECRET}&js_code={code}&grant_type=client_credential"),
            40002,
        ),
        (
            format!("appid={APPID}&secret={SECRET}&js_code={code}"),
            40002,
        ),
    ];
    for (query, expected) in cases {
        let body = sim
            .wechat_get(&format!("/sns/jscode2session?{query}"))
            .await;
        assert_eq!(errcode(&body), expected, "{query}: {body}");
    }
    let body = sim
        .wechat_post(
            "/sns/jscode2session",
            &format!("appid={APPID}&secret={SECRET}&js_code={code}&grant_type=authorization_code"),
        )
        .await;
    assert_eq!(
        errcode(&body),
        41002,
        "parameters in a POST body are not read: {body}"
    );
}

#[tokio::test]
async fn session_key_rotates_on_each_exchange_unless_kept() {
    let sim = start().await;
    let client = sim.client();
    let first = client
        .code2session(&creds(), &sim.login_code(APPID, "alice").await)
        .await
        .unwrap();
    let second = client
        .code2session(&creds(), &sim.login_code(APPID, "alice").await)
        .await
        .unwrap();
    assert_ne!(first.session_key, second.session_key);

    let keeping = start_with(SimConfig {
        apps: vec![app()],
        keep_session_key: true,
        ..SimConfig::default()
    })
    .await;
    let client = keeping.client();
    let first = client
        .code2session(&creds(), &keeping.login_code(APPID, "alice").await)
        .await
        .unwrap();
    let second = client
        .code2session(&creds(), &keeping.login_code(APPID, "alice").await)
        .await
        .unwrap();
    assert_eq!(first.session_key, second.session_key);
}

#[tokio::test]
async fn unionid_is_shared_by_the_apps_of_one_open_platform_and_absent_otherwise() {
    let a = SimApp::new("wxaaaaaaaaaaaaaaaa", "sa").with_open_platform("acme");
    let b = SimApp::new("wxbbbbbbbbbbbbbbbb", "sb").with_open_platform("acme");
    let c = SimApp::new("wxcccccccccccccccc", "sc").with_open_platform("other");
    let lone = SimApp::new("wxdddddddddddddddd", "sd");
    let sim = start_with(SimConfig {
        apps: vec![a.clone(), b.clone(), c.clone(), lone.clone()],
        ..SimConfig::default()
    })
    .await;
    let client = sim.client();
    let mut sessions = Vec::new();
    for app in [&a, &b, &c, &lone] {
        let code = sim.login_code(&app.appid, "alice").await;
        sessions.push(
            client
                .code2session(&credentials(&app.appid, &app.secret), &code)
                .await
                .unwrap(),
        );
    }
    let union_a = sessions[0].unionid.clone().expect("a has an open platform");
    assert_eq!(sessions[1].unionid.as_deref(), Some(union_a.as_str()));
    assert_ne!(
        sessions[0].openid, sessions[1].openid,
        "openids differ per app"
    );
    assert_ne!(
        sessions[2].unionid.as_deref(),
        Some(union_a.as_str()),
        "another platform"
    );
    assert!(sessions[2].unionid.is_some());
    assert_eq!(sessions[3].unionid, None);

    let bob = client
        .code2session(
            &credentials(&a.appid, &a.secret),
            &sim.login_code(&a.appid, "bob").await,
        )
        .await
        .unwrap();
    assert_ne!(bob.unionid.as_deref(), Some(union_a.as_str()));
}

#[tokio::test]
async fn more_than_100_exchanges_per_user_per_minute_answer_45011() {
    let sim = start().await;
    let client = sim.client();
    sim.align_to_minute().await;
    for _ in 0..100 {
        client
            .code2session(&creds(), &sim.login_code(APPID, "alice").await)
            .await
            .expect("within the limit");
    }
    let limited_code = sim.login_code(APPID, "alice").await;
    let error = client
        .code2session(&creds(), &limited_code)
        .await
        .unwrap_err();
    assert_eq!(error.wechat_kind(), Some(WeChatErrorKind::RateLimited));
    assert_eq!(error.wechat().unwrap().errcode, 45011);
    client
        .code2session(&creds(), &sim.login_code(APPID, "bob").await)
        .await
        .expect("the limit is per user");
    sim.advance(60).await;
    client
        .code2session(&creds(), &limited_code)
        .await
        .expect("next minute; a limited call does not spend the code");
}

#[tokio::test]
async fn the_per_user_limit_is_configurable() {
    let limits = RateLimits {
        jscode2session_per_user_per_minute: 2,
        ..RateLimits::default()
    };
    let simulator = Simulator::with_limits(
        SimConfig {
            apps: vec![app()],
            ..SimConfig::default()
        },
        limits,
    );
    let sim = start_simulator(simulator).await;
    sim.align_to_minute().await;
    for expected in [0, 0, 45011] {
        let code = sim.login_code(APPID, "alice").await;
        assert_eq!(
            errcode(&sim.exchange_raw(APPID, SECRET, &code).await),
            expected
        );
    }
}
