//! Fault injection through /sim/faults and in-process, each kind seen by the real client.
use std::time::{Duration, Instant};

use serde_json::json;
use wxlogin_client::{ClientConfig, ClientError, WeChatClient, WeChatErrorKind};
use wxlogin_sim::{Endpoint, FaultConfig, SimConfig};

use crate::support::*;

#[tokio::test]
async fn faults_are_read_back_replaced_and_validated() {
    let sim = start().await;
    let empty = sim.get_json("/sim/faults").await;
    assert_eq!(
        empty,
        json!({"latency_ms": 0, "busy_ratio": 0.0, "drop_ratio": 0.0, "forced_errcodes": {}})
    );
    let wanted = json!({"latency_ms": 5, "busy_ratio": 0.25, "drop_ratio": 0.5, "forced_errcodes": {"jscode2session": 45011}});
    sim.set_faults(wanted.clone()).await;
    assert_eq!(sim.get_json("/sim/faults").await, wanted);
    assert_eq!(
        sim.simulator
            .faults()
            .forced_errcodes
            .get(&Endpoint::Jscode2session),
        Some(&45011)
    );

    for invalid in [
        json!({"busy_ratio": 2.0}),
        json!({"forced_errcodes": {"nowhere": 1}}),
        json!({"forced_errcodes": {"token": 0}}),
        json!({"latency": 5}),
    ] {
        let (status, body) = sim.post("/sim/faults", invalid.clone()).await;
        assert_eq!(status, 400, "{invalid}: {body}");
    }
    assert_eq!(
        sim.get_json("/sim/faults").await,
        wanted,
        "rejected updates change nothing"
    );
    sim.set_faults(json!({})).await;
    assert_eq!(sim.simulator.faults(), FaultConfig::default());
}

#[tokio::test]
async fn added_latency_delays_answers_and_trips_client_timeouts() {
    let sim = start().await;
    sim.set_faults(json!({"latency_ms": 300})).await;
    let started = Instant::now();
    let error = sim
        .client()
        .code2session(&creds(), "unknown-code")
        .await
        .unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(error.wechat().unwrap().errcode, 40029);

    let impatient = WeChatClient::new(ClientConfig {
        base_url: sim.handle.base_url.clone(),
        request_timeout: Duration::from_millis(100),
        max_retries: 0,
        ..ClientConfig::default()
    })
    .unwrap();
    let error = impatient
        .code2session(&creds(), "unknown-code")
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Timeout), "{error:?}");
}

#[tokio::test]
async fn busy_ratio_one_answers_system_error_everywhere_and_zero_nowhere() {
    let sim = start().await;
    let client = sim.client();
    sim.set_faults(json!({"busy_ratio": 1.0})).await;
    let code = sim.login_code(APPID, "alice").await;
    let error = client.code2session(&creds(), &code).await.unwrap_err();
    assert_eq!(error.wechat_kind(), Some(WeChatErrorKind::SystemBusy));
    assert_eq!(error.wechat().unwrap().errcode, -1);
    assert_errmsg(&sim.stable_token_raw(false).await, "system error");
    sim.set_faults(json!({"busy_ratio": 0.0})).await;
    client
        .code2session(&creds(), &code)
        .await
        .expect("a busy answer did not spend the code");
}

#[tokio::test]
async fn busy_ratio_is_a_share_of_calls() {
    let sim = start().await;
    sim.set_faults(json!({"busy_ratio": 0.5})).await;
    let mut busy = 0;
    for _ in 0..200 {
        if errcode(&sim.stable_token_raw(false).await) == -1 {
            busy += 1;
        }
    }
    assert!(
        (50..=150).contains(&busy),
        "about half of 200 calls, got {busy}"
    );
}

#[tokio::test]
async fn forced_errcodes_apply_to_their_endpoint_only() {
    let sim = start().await;
    let client = sim.client();
    sim.set_faults(
        json!({"forced_errcodes": {"jscode2session": 45011, "getuserphonenumber": 40029}}),
    )
    .await;
    let code = sim.login_code(APPID, "alice").await;
    let error = client.code2session(&creds(), &code).await.unwrap_err();
    assert_eq!(error.wechat_kind(), Some(WeChatErrorKind::RateLimited));
    assert!(error
        .wechat()
        .unwrap()
        .errmsg
        .starts_with("api minute-quota reach limit"));
    client
        .access_token(&creds())
        .await
        .expect("stable_token unaffected");
    sim.set_faults(json!({})).await;
    client.code2session(&creds(), &code).await.expect("cleared");
}

#[tokio::test]
async fn dropped_connections_are_transport_errors() {
    let sim = start().await;
    sim.set_faults(json!({"drop_ratio": 1.0})).await;
    let error = sim
        .client()
        .code2session(&creds(), "any")
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Transport(_)), "{error:?}");
    let error = sim.client().access_token(&creds()).await.unwrap_err();
    assert!(matches!(error, ClientError::Transport(_)), "{error:?}");
    let raw = sim.http.get(sim.url("/cgi-bin/token")).send().await;
    assert!(raw.is_err(), "no HTTP answer at all");
    let (status, _) = sim
        .post("/sim/login", json!({"appid": APPID, "user": "alice"}))
        .await;
    assert_eq!(status, 200, "the device side is never faulted");
    sim.set_faults(json!({})).await;
    sim.client()
        .access_token(&creds())
        .await
        .expect("healthy again");
}

#[tokio::test]
async fn dropped_connections_also_work_when_the_router_is_served_elsewhere() {
    let simulator = wxlogin_sim::Simulator::new(SimConfig {
        apps: vec![app()],
        ..SimConfig::default()
    });
    simulator
        .set_faults(FaultConfig {
            drop_ratio: 1.0,
            ..FaultConfig::default()
        })
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = simulator.router();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let answer = reqwest::get(format!("{base}/cgi-bin/token")).await;
    let failed = match answer {
        Err(_) => true,
        Ok(response) => response.text().await.is_err(),
    };
    assert!(failed, "the answer must not arrive whole");
    server.abort();
}

#[tokio::test]
async fn faults_from_the_config_apply_from_the_start() {
    let mut faults = FaultConfig::default();
    faults.forced_errcodes.insert(Endpoint::StableToken, 40164);
    let sim = start_with(SimConfig {
        apps: vec![app()],
        faults,
        ..SimConfig::default()
    })
    .await;
    let error = sim.client().access_token(&creds()).await.unwrap_err();
    assert_eq!(error.wechat_kind(), Some(WeChatErrorKind::IpNotWhitelisted));
}

#[tokio::test]
async fn stats_count_calls_per_endpoint_and_app_and_can_be_reset() {
    let sim = start().await;
    let client = sim.client();
    client
        .code2session(&creds(), &sim.login_code(APPID, "alice").await)
        .await
        .unwrap();
    client
        .code2session(&credentials("wxnope", "x"), "c")
        .await
        .unwrap_err();
    client.access_token(&creds()).await.unwrap();
    let stats = sim.get_json("/sim/stats").await;
    assert_eq!(
        stats,
        json!({"calls": {"jscode2session": {APPID: 1, "wxnope": 1}, "stable_token": {APPID: 1}}})
    );
    let (status, after) = sim.post("/sim/reset-stats", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(after, json!({"calls": {}}));
}
