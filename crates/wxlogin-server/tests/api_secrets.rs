//! Runs a full flow with every log line captured (trace level, JSON and the server's own
//! subscriber) and fails if any log line holds a secret (app secret, master key, session
//! keys, access and refresh tokens, WeChat access token, login codes, full phone numbers)
//! or any response body holds a session key or a server-side secret.
// The api suite's helpers, of which this binary uses a few.
#[allow(dead_code, unused_imports)]
#[path = "api/helpers.rs"]
mod helpers;

use std::io::Write;
use std::sync::{Arc, Mutex};

use helpers::{spawn_app, token, Answer, TestApp, APPID};
use reqwest::Method;
use serde_json::json;
use wxlogin_server::configuration::LogFormat;
use wxlogin_sim::{Endpoint, SimApp};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything a test must not find, and where it was seen.
#[derive(Default)]
struct Secrets {
    /// Never in logs nor in any answer.
    server_side: Vec<(String, String)>,
    /// Never in logs (answers carry them on purpose).
    client_side: Vec<(String, String)>,
}

impl Secrets {
    fn server(&mut self, what: &str, value: impl Into<String>) {
        self.server_side.push((what.to_owned(), value.into()));
    }

    fn client(&mut self, what: &str, value: impl Into<String>) {
        self.client_side.push((what.to_owned(), value.into()));
    }
}

struct Recorder<'a> {
    app: &'a TestApp,
    bodies: Vec<String>,
}

impl Recorder<'_> {
    async fn call(
        &mut self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> Answer {
        let answer = self.app.request(method, path, token, body).await;
        self.bodies.push(answer.text.clone());
        answer
    }

    async fn post(&mut self, path: &str, token: Option<&str>, body: serde_json::Value) -> Answer {
        self.call(Method::POST, path, token, Some(body)).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_a_log_line_or_an_answer() {
    let logs = Buffer::default();
    // Every crate at trace level, through the server's own subscriber (JSON), so the
    // scan sees what production would write with RUST_LOG=trace.
    let writer = logs.clone();
    let subscriber =
        wxlogin_server::telemetry::subscriber(LogFormat::Json, "trace", move || writer.clone());
    tracing::subscriber::set_global_default(subscriber)
        .expect("first subscriber of this test binary");

    let app = spawn_app().await;
    let mut secrets = Secrets::default();
    secrets.server("app secret", SimApp::DEMO_SECRET);
    secrets.server(
        "master key",
        app.database.master_key.expose_base64().as_str(),
    );
    let mut recorder = Recorder {
        app: &app,
        bodies: Vec::new(),
    };

    // Login, a retried code, a second user.
    let code = app.code(APPID, "alice");
    secrets.client("login code", code.clone());
    let login = recorder
        .post("/v1/login", None, json!({"code": code}))
        .await
        .assert_ok()
        .clone();
    let retried = recorder
        .post("/v1/login", None, json!({"code": code}))
        .await
        .assert_ok()
        .clone();
    // Fields swapped by a client: the code sent as the appid is neither answered back
    // nor logged (FUZZ-FINDINGS F5).
    let swapped = app.code(APPID, "swapped");
    secrets.server("login code sent as the appid", swapped.clone());
    let refused = recorder
        .post("/v1/login", None, json!({"code": APPID, "appid": swapped}))
        .await;
    refused.assert_error(400, "invalid_request");
    assert_eq!(
        refused.body["error"]["message"],
        "the appid is not configured on this server"
    );
    let bob = app.login("bob").await;
    let bob_access = token(&bob, "access_token");
    for body in [&login, &retried, &bob] {
        secrets.client("access token", token(body, "access_token"));
        secrets.client("refresh token", token(body, "refresh_token"));
    }
    let access = token(&login, "access_token");
    let openid = app.sim.openid(APPID, "alice");
    let key = app
        .store()
        .session_key(APPID, &openid)
        .await
        .unwrap()
        .unwrap();
    secrets.server("session key (alice)", key.expose_base64().as_str());
    let bob_key = app
        .store()
        .session_key(APPID, &app.sim.openid(APPID, "bob"))
        .await
        .unwrap()
        .unwrap();
    secrets.server("session key (bob)", bob_key.expose_base64().as_str());

    // Phone by code (fetches and caches a WeChat access token), legacy phone, user info.
    let grant = app
        .sim
        .phone_grant(APPID, "alice", Some("13812345678"))
        .unwrap();
    secrets.client("phone number", "13812345678");
    secrets.client("phone code", grant.code.clone());
    recorder
        .post("/v1/me/phone", Some(&access), json!({"code": grant.code}))
        .await
        .assert_ok();
    let wechat_token = app
        .store()
        .load_access_token(APPID)
        .await
        .unwrap()
        .expect("cached");
    secrets.server("WeChat access token", wechat_token.token.as_str());
    let grant = app
        .sim
        .phone_grant(APPID, "alice", Some("13987654321"))
        .unwrap();
    secrets.client("phone number", "13987654321");
    recorder
        .post(
            "/v1/me/phone",
            Some(&access),
            json!({"encryptedData": grant.encrypted_data, "iv": grant.iv}),
        )
        .await
        .assert_ok();
    let info = app.sim.user_info(APPID, "alice").unwrap();
    recorder
        .post(
            "/v1/me/userinfo",
            Some(&access),
            json!({"rawData": info.raw_data, "signature": info.signature, "encryptedData": info.encrypted_data, "iv": info.iv}),
        )
        .await
        .assert_ok();
    recorder
        .call(
            Method::PATCH,
            "/v1/me",
            Some(&access),
            Some(json!({"nickname": "A"})),
        )
        .await
        .assert_ok();
    recorder
        .call(Method::GET, "/v1/me", Some(&access), None)
        .await
        .assert_ok();

    // Failures: signature mismatch, stale key, a tampered token, forced WeChat errors.
    recorder
        .post(
            "/v1/me/userinfo",
            Some(&access),
            json!({"rawData": "{}", "signature": info.signature, "encryptedData": info.encrypted_data, "iv": info.iv}),
        )
        .await
        .assert_error(400, "signature_mismatch");
    let stale = app.sim.phone_grant(APPID, "bob", None).unwrap();
    let bob_again = app.login("bob").await;
    secrets.client("access token", token(&bob_again, "access_token"));
    secrets.client("refresh token", token(&bob_again, "refresh_token"));
    let bob_new_key = app
        .store()
        .session_key(APPID, &app.sim.openid(APPID, "bob"))
        .await
        .unwrap()
        .unwrap();
    secrets.server(
        "session key (bob, rotated)",
        bob_new_key.expose_base64().as_str(),
    );
    recorder
        .post(
            "/v1/me/phone",
            Some(&bob_access),
            json!({"encrypted_data": stale.encrypted_data, "iv": stale.iv}),
        )
        .await
        .assert_error(400, "decrypt_failed");
    let mut tampered = access.clone();
    tampered.push('x');
    recorder
        .call(Method::GET, "/v1/me", Some(&tampered), None)
        .await
        .assert_error(401, "unauthorized");
    for (endpoint, errcode) in [
        (Endpoint::Jscode2session, 40125),
        (Endpoint::Jscode2session, 40029),
    ] {
        app.force_errcode(endpoint, errcode);
        let code = app.code(APPID, "carol");
        secrets.client("login code", code.clone());
        recorder
            .post("/v1/login", None, json!({"code": code}))
            .await;
    }
    app.clear_faults();

    // Refresh, reuse of a spent token (family revoked), logout, me refused.
    let refresh = token(&login, "refresh_token");
    let rotated = recorder
        .post("/v1/token/refresh", None, json!({"refresh_token": refresh}))
        .await
        .assert_ok()
        .clone();
    secrets.client("access token", token(&rotated, "access_token"));
    secrets.client("refresh token", token(&rotated, "refresh_token"));
    recorder
        .post("/v1/token/refresh", None, json!({"refresh_token": refresh}))
        .await
        .assert_error(401, "unauthorized");
    let retried_access = token(&retried, "access_token");
    let logout = recorder
        .call(Method::POST, "/v1/logout", Some(&retried_access), None)
        .await;
    assert_eq!(logout.status.as_u16(), 204);
    recorder
        .call(Method::GET, "/v1/me", Some(&retried_access), None)
        .await
        .assert_error(401, "unauthorized");
    recorder.call(Method::GET, "/metrics", None, None).await;

    let bodies = recorder.bodies;
    app.stop().await;
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let line_count = logs.lines().count();
    assert!(line_count > 50, "the flow was logged ({line_count} lines)");
    assert!(
        logs.contains("login code exchanged"),
        "server events are captured"
    );
    assert!(
        logs.contains("138****5678"),
        "phone numbers are logged masked"
    );

    let mut leaks = Vec::new();
    for (what, value) in secrets.server_side.iter().chain(secrets.client_side.iter()) {
        if let Some(line) = logs.lines().find(|line| line.contains(value.as_str())) {
            leaks.push(format!("{what} in log line: {line}"));
        }
    }
    for (what, value) in &secrets.server_side {
        if let Some(body) = bodies.iter().find(|body| body.contains(value.as_str())) {
            leaks.push(format!("{what} in answer: {body}"));
        }
    }
    for body in &bodies {
        assert!(
            !body.contains("\"session_key\":"),
            "answer has a session_key field: {body}"
        );
    }
    assert!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n"));
}
