//! /cgi-bin/token and /cgi-bin/stable_token: lifetimes, rotation, force_refresh, isolation.

use serde_json::{json, Value};
use wxlogin_client::{AccessTokenMode, WeChatErrorKind};
use wxlogin_sim::Endpoint;

use crate::support::*;

fn token_of(body: &Value) -> String {
    body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token in {body}"))
        .to_owned()
}

async fn classic_raw(sim: &Sim) -> Value {
    sim.wechat_get(&format!(
        "/cgi-bin/token?grant_type=client_credential&appid={APPID}&secret={SECRET}"
    ))
    .await
}

#[tokio::test]
async fn one_token_refresh_for_a_thousand_callers() {
    let sim = start().await;
    let client = sim.client();
    let calls = (0..1000).map(|_| {
        let client = client.clone();
        async move {
            client
                .access_token(&creds())
                .await
                .map(|token| token.expose().to_owned())
        }
    });
    let tokens = futures::future::join_all(calls).await;
    let first = tokens[0].as_ref().expect("token").clone();
    assert!(tokens
        .iter()
        .all(|token| token.as_ref().ok() == Some(&first)));
    let stats = sim.get_json("/sim/stats").await;
    assert_eq!(stats["calls"]["stable_token"][APPID], 1, "{stats}");
    assert_eq!(
        sim.simulator.stats().calls_to(Endpoint::StableToken, APPID),
        1
    );
}

#[tokio::test]
async fn classic_mode_uses_cgi_bin_token_once() {
    let sim = start().await;
    let client = sim.client_with(AccessTokenMode::Classic);
    let app = creds();
    let calls = (0..50).map(|_| client.access_token(&app));
    for token in futures::future::join_all(calls).await {
        token.expect("token");
    }
    let stats = sim.simulator.stats();
    assert_eq!(stats.calls_to(Endpoint::Token, APPID), 1);
    assert_eq!(stats.total_calls_to(Endpoint::StableToken), 0);
}

#[tokio::test]
async fn stable_token_is_the_same_until_its_last_five_minutes_then_rotates() {
    let sim = start().await;
    let first = sim.stable_token_raw(false).await;
    assert_eq!(first["expires_in"], 7200);
    let token = token_of(&first);
    sim.advance(1000).await;
    let again = sim.stable_token_raw(false).await;
    assert_eq!(token_of(&again), token);
    let left = again["expires_in"].as_i64().unwrap();
    assert!((6199..=6200).contains(&left), "{again}");

    sim.advance(5950).await; // less than 300 s left
    let rotated = sim.stable_token_raw(false).await;
    assert_ne!(token_of(&rotated), token);
    assert_eq!(rotated["expires_in"], 7200);
    assert_eq!(
        sim.token_verdict(&token).await,
        87008,
        "the old token still works for its last minutes"
    );
    sim.advance(300).await;
    assert_eq!(sim.token_verdict(&token).await, 42001, "then it expires");
    assert_eq!(sim.token_verdict(&token_of(&rotated)).await, 87008);
}

#[tokio::test]
async fn force_refresh_revokes_at_once_is_spaced_30_s_and_capped_at_20_a_day() {
    let sim = start().await;
    sim.align_to_beijing_day().await;
    let first = token_of(&sim.stable_token_raw(false).await);
    let forced = token_of(&sim.stable_token_raw(true).await);
    assert_ne!(forced, first);
    assert_eq!(
        sim.token_verdict(&first).await,
        40001,
        "revoked immediately"
    );

    let too_soon = sim.stable_token_raw(true).await;
    assert_eq!(
        token_of(&too_soon),
        forced,
        "within 30 s no refresh happens"
    );

    for _ in 1..20 {
        sim.advance(30).await;
        let refreshed = token_of(&sim.stable_token_raw(true).await);
        assert_ne!(refreshed, forced);
    }
    sim.advance(30).await;
    let capped = sim.stable_token_raw(true).await;
    assert_eq!(errcode(&capped), 45009, "{capped}");
    assert_errmsg(&capped, "reach max api daily quota limit");
    assert!(
        sim.stable_token_raw(false).await["access_token"].is_string(),
        "normal calls still work"
    );
    sim.advance(86_400).await;
    assert!(
        sim.stable_token_raw(true).await["access_token"].is_string(),
        "a new day"
    );
}

#[tokio::test]
async fn classic_token_is_new_each_call_and_the_previous_lives_five_more_minutes() {
    let sim = start().await;
    let first = classic_raw(&sim).await;
    assert_eq!(first["expires_in"], 7200);
    let first = token_of(&first);
    sim.advance(100).await;
    let second = token_of(&classic_raw(&sim).await);
    assert_ne!(first, second);
    // The simulated clock also follows real time, so keep a margin on the "still valid"
    // side: a second boundary passing during the test must not flip the verdict.
    sim.advance(290).await;
    assert_eq!(sim.token_verdict(&first).await, 87008);
    sim.advance(10).await;
    assert_eq!(
        sim.token_verdict(&first).await,
        40001,
        "superseded: invalid, not latest"
    );
    sim.advance(6900).await;
    assert_eq!(
        sim.token_verdict(&second).await,
        42001,
        "7200 s after issue"
    );
}

#[tokio::test]
async fn classic_and_stable_pools_are_isolated() {
    let sim = start().await;
    let stable = token_of(&sim.stable_token_raw(false).await);
    let classic = token_of(&classic_raw(&sim).await);
    classic_raw(&sim).await;
    assert_ne!(stable, classic);
    assert_eq!(token_of(&sim.stable_token_raw(false).await), stable);
    assert_eq!(sim.token_verdict(&stable).await, 87008);
    sim.stable_token_raw(true).await;
    sim.advance(300).await;
    assert_eq!(
        sim.token_verdict(&classic).await,
        40001,
        "superseded by the second classic call"
    );
    let third = token_of(&classic_raw(&sim).await);
    assert_eq!(
        sim.token_verdict(&third).await,
        87008,
        "force_refresh left the classic pool alone"
    );
}

#[tokio::test]
async fn token_apis_check_credentials_and_grant_type() {
    let sim = start().await;
    let client = sim.client();
    let error = client
        .access_token(&credentials("wxnope", SECRET))
        .await
        .unwrap_err();
    assert_eq!(error.wechat_kind(), Some(WeChatErrorKind::InvalidAppId));
    let error = client
        .access_token(&credentials(APPID, "wrong"))
        .await
        .unwrap_err();
    assert_eq!(error.wechat_kind(), Some(WeChatErrorKind::InvalidSecret));

    let cases = [
        (
            format!("grant_type=client_credential&secret={SECRET}"),
            41002,
        ),
        (format!("grant_type=client_credential&appid={APPID}"), 41004),
        (
            format!("grant_type=authorization_code&appid={APPID}&secret={SECRET}"),
            40002,
        ),
        (format!("appid={APPID}&secret={SECRET}"), 40002),
        (
            format!("grant_type=client_credential&appid=wxnope&secret={SECRET}"),
            40013,
        ),
        (
            format!("grant_type=client_credential&appid={APPID}&secret=bad"),
            40125,
        ),
    ];
    for (query, expected) in &cases {
        let body = sim.wechat_get(&format!("/cgi-bin/token?{query}")).await;
        assert_eq!(errcode(&body), *expected, "token {query}: {body}");
    }
    let stable_cases = [
        (
            json!({"grant_type": "client_credential", "secret": SECRET}),
            41002,
        ),
        (
            json!({"grant_type": "client_credential", "appid": APPID}),
            41004,
        ),
        (
            json!({"grant_type": "authorization_code", "appid": APPID, "secret": SECRET}),
            40002,
        ),
        (
            json!({"appid": "wxnope", "secret": SECRET, "grant_type": "client_credential"}),
            40013,
        ),
        (
            json!({"appid": APPID, "secret": "bad", "grant_type": "client_credential"}),
            40125,
        ),
        (
            json!({"appid": APPID, "secret": SECRET, "grant_type": "client_credential", "force_refresh": "yes"}),
            47001,
        ),
    ];
    for (body, expected) in &stable_cases {
        let answer = sim
            .wechat_post("/cgi-bin/stable_token", &body.to_string())
            .await;
        assert_eq!(errcode(&answer), *expected, "stable_token {body}: {answer}");
    }
}

#[tokio::test]
async fn stable_token_takes_only_a_json_post() {
    let sim = start().await;
    let get = sim
        .wechat_get(&format!(
            "/cgi-bin/stable_token?grant_type=client_credential&appid={APPID}&secret={SECRET}"
        ))
        .await;
    assert_eq!(errcode(&get), 43002, "{get}");
    assert_errmsg(&get, "require POST method");
    let form = sim
        .wechat_post(
            "/cgi-bin/stable_token",
            &format!("grant_type=client_credential&appid={APPID}&secret={SECRET}"),
        )
        .await;
    assert_eq!(errcode(&form), 47001, "{form}");
    assert_eq!(
        errcode(&sim.wechat_post("/cgi-bin/stable_token", "").await),
        44002
    );
}

#[tokio::test]
async fn the_client_recovers_from_a_token_that_expired_under_it() {
    let sim = start().await;
    let client = sim.client();
    client.access_token(&creds()).await.unwrap();
    let code = sim.login_code(APPID, "alice").await;
    client.code2session(&creds(), &code).await.unwrap();
    sim.advance(7200).await;
    // The client still holds the first token (its own clock has not moved); WeChat answers
    // 42001, the client fetches a new token and repeats the call once.
    let phone = sim.phone_code(APPID, "alice").await;
    client
        .get_user_phone_number(&creds(), phone["code"].as_str().unwrap(), None)
        .await
        .expect("refreshed transparently");
    assert_eq!(
        sim.simulator.stats().calls_to(Endpoint::StableToken, APPID),
        2
    );
}

#[tokio::test]
async fn a_refused_stable_token_is_handed_back_until_a_force_refresh_replaces_it() {
    let sim = start().await;
    let (status, body) = sim
        .post("/sim/tokens/refuse", json!({ "appid": APPID }))
        .await;
    assert_eq!(status, 404, "no stable token to refuse yet: {body}");
    let stuck = token_of(&sim.stable_token_raw(false).await);
    let (status, body) = sim
        .post("/sim/tokens/refuse", json!({ "appid": APPID }))
        .await;
    assert_eq!((status, &body), (200, &json!({ "refused": true })));
    assert_eq!(sim.token_verdict(&stuck).await, 40001);
    // Normal mode keeps handing the refused token back, with the life it has left.
    let again = sim.stable_token_raw(false).await;
    assert_eq!(token_of(&again), stuck);
    assert!(again["expires_in"].as_i64().unwrap() <= 7200, "{again}");
    let forced = token_of(&sim.stable_token_raw(true).await);
    assert_ne!(forced, stuck);
    assert_eq!(
        sim.token_verdict(&forced).await,
        87008,
        "the forced token works"
    );
    assert_eq!(token_of(&sim.stable_token_raw(false).await), forced);
}

#[tokio::test]
async fn the_client_forces_a_new_token_when_stable_token_hands_back_a_refused_one() {
    let sim = start().await;
    let client = sim.client();
    let stuck = client.access_token(&creds()).await.unwrap();
    assert!(sim.simulator.refuse_stable_token(APPID));
    let code = sim.login_code(APPID, "alice").await;
    client.code2session(&creds(), &code).await.unwrap();
    let phone = sim.phone_code(APPID, "alice").await;
    client
        .get_user_phone_number(&creds(), phone["code"].as_str().unwrap(), None)
        .await
        .expect("the forced token cures the 40001");
    let fresh = client.access_token(&creds()).await.unwrap();
    assert_ne!(fresh.expose(), stuck.expose());
    // The first fetch, the refetch that handed the refused token back, the forced one.
    assert_eq!(
        sim.simulator.stats().calls_to(Endpoint::StableToken, APPID),
        3
    );
}
