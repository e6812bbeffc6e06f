//! Configured frequency limits on every endpoint: 45011 per minute, 45009 per day.
use serde_json::json;
use wxlogin_crypto::checksession_signature;
use wxlogin_sim::{RateLimits, SimConfig, Simulator};

use crate::support::*;

async fn start_limited(limits: RateLimits) -> Sim {
    let sim = start_simulator(Simulator::with_limits(
        SimConfig {
            apps: vec![app()],
            ..SimConfig::default()
        },
        limits,
    ))
    .await;
    sim.align_to_beijing_day().await;
    sim
}

#[tokio::test]
async fn classic_token_daily_quota_points_at_stable_token() {
    let sim = start_limited(RateLimits {
        token_per_app_per_day: 2,
        ..RateLimits::default()
    })
    .await;
    let query =
        format!("/cgi-bin/token?grant_type=client_credential&appid={APPID}&secret={SECRET}");
    for _ in 0..2 {
        assert!(sim.wechat_get(&query).await["access_token"].is_string());
    }
    let capped = sim.wechat_get(&query).await;
    assert_eq!(errcode(&capped), 45009);
    assert_errmsg(
        &capped,
        "reach max api daily quota limit, could get access_token by getStableAccessToken",
    );
    sim.advance(86_400).await;
    assert!(
        sim.wechat_get(&query).await["access_token"].is_string(),
        "the next day"
    );
}

#[tokio::test]
async fn stable_token_has_minute_and_daily_quotas() {
    let limits = RateLimits {
        stable_token_per_app_per_minute: 2,
        stable_token_per_app_per_day: 3,
        ..RateLimits::default()
    };
    let sim = start_limited(limits).await;
    assert_eq!(errcode(&sim.stable_token_raw(false).await), 0);
    assert_eq!(errcode(&sim.stable_token_raw(false).await), 0);
    let minute = sim.stable_token_raw(false).await;
    assert_eq!(errcode(&minute), 45011);
    assert_errmsg(
        &minute,
        "api minute-quota reach limit mustslower retry next minute",
    );
    sim.advance(60).await;
    assert_eq!(errcode(&sim.stable_token_raw(false).await), 0);
    sim.advance(60).await;
    assert_eq!(errcode(&sim.stable_token_raw(false).await), 45009);
}

#[tokio::test]
async fn phone_checksession_and_reset_have_minute_quotas() {
    let limits = RateLimits {
        getuserphonenumber_per_app_per_minute: 1,
        checksession_per_app_per_minute: 1,
        resetusersessionkey_per_app_per_minute: 1,
        ..RateLimits::default()
    };
    let sim = start_limited(limits).await;
    let client = sim.client();
    let session = client
        .code2session(&creds(), &sim.login_code(APPID, "alice").await)
        .await
        .unwrap();
    let token = sim.stable_token_raw(false).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let phone_path = format!("/wxa/business/getuserphonenumber?access_token={token}");
    let first = sim.phone_code(APPID, "alice").await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = sim.phone_code(APPID, "alice").await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        errcode(
            &sim.wechat_post(&phone_path, &json!({"code": first}).to_string())
                .await
        ),
        0
    );
    assert_eq!(
        errcode(
            &sim.wechat_post(&phone_path, &json!({"code": second}).to_string())
                .await
        ),
        45011
    );

    let signature = checksession_signature(&session.session_key);
    let query = format!(
        "access_token={token}&openid={}&signature={signature}&sig_method=hmac_sha256",
        session.openid
    );
    for path in ["/wxa/checksession", "/wxa/resetusersessionkey"] {
        assert_eq!(
            errcode(&sim.wechat_get(&format!("{path}?{query}")).await),
            0,
            "{path}"
        );
    }
    assert_eq!(
        errcode(&sim.wechat_get(&format!("/wxa/checksession?{query}")).await),
        45011
    );
    assert_eq!(
        errcode(
            &sim.wechat_get(&format!("/wxa/resetusersessionkey?{query}"))
                .await
        ),
        45011
    );
    sim.advance(60).await;
    assert_eq!(
        errcode(&sim.wechat_get(&format!("/wxa/checksession?{query}")).await),
        87009,
        "quota back; the key was reset above"
    );
}
