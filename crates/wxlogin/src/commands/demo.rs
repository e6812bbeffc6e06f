//! `wxlogin demo`: the whole mini program flow, played over real HTTP against a server
//! and a WeChat simulator started in this process (port 0, throw-away SQLite database).
//! Each step prints what the phone sends and what the server answers; the command exits
//! non-zero at the first answer that is not the expected one.
use std::path::PathBuf;

use anyhow::{bail, Context};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use wxlogin_client::AppCredentials;
use wxlogin_server::at_rest::MasterKey;
use wxlogin_server::configuration::MasterKeyText;
use wxlogin_server::{Application, LogFormat, Settings};
use wxlogin_sim::{SimApp, SimConfig, Simulator};

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Name of the simulated WeChat user.
    #[arg(long, default_value = "demo-user")]
    pub user: String,
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    // Quiet unless asked: the demo's own output is the story.
    let _ = tracing::subscriber::set_global_default(wxlogin_server::telemetry::subscriber(
        LogFormat::Text,
        "warn",
        std::io::stderr,
    ));
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let workspace = TempDir::new()?;
    let outcome = runtime.block_on(demo(&args.user, &workspace.path));
    // The server's background tasks (the session cache's follower, the webhook worker)
    // outlive `run_until` by a moment; stop them before the database under them is
    // deleted, or one of them reports the file gone on a screen the demo keeps clean.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    match &outcome {
        Ok(()) => println!("\ndemo passed: every step gave the expected answer"),
        Err(error) => println!("\ndemo FAILED: {error:#}"),
    }
    outcome
}

async fn demo(user: &str, workspace: &std::path::Path) -> anyhow::Result<()> {
    let demo_app = SimApp::demo();
    let appid = demo_app.appid.clone();
    let simulator = Simulator::new(SimConfig::default())
        .spawn_on_loopback()
        .await
        .context("starting the simulator")?;

    let database = workspace.join("demo.db");
    let mut settings = Settings::new(
        vec![AppCredentials::new(
            demo_app.appid.clone(),
            demo_app.secret.clone(),
        )],
        format!("sqlite://{}", database.display()),
    );
    settings.http.listen = "127.0.0.1:0".to_owned();
    settings.wechat.wechat_base_url = simulator.base_url.clone();
    // An absolute issuer, as production has, so the demo runs with discovery on (and the
    // server has nothing to warn about on a screen the demo keeps clean).
    settings.tokens.issuer = "https://wxlogin.demo.invalid".to_owned();
    settings.database.master_key = Some(MasterKeyText::new(
        MasterKey::generate().expose_base64().as_str(),
    ));
    let application = Application::build(settings)
        .await
        .context("starting the server")?;
    let server = format!("http://{}", application.local_addr());
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = tokio::spawn(application.run_until(async {
        let _ = stopped.await;
    }));
    println!("wxlogin demo");
    println!(
        "  simulator (plays WeChat and the phone) on {}",
        simulator.base_url
    );
    println!("  server on {server}, database {}", database.display());
    println!("  mini program appid {appid}, WeChat user {user:?}");

    let phone = Phone {
        http: reqwest::Client::new(),
        server,
        simulator: simulator.base_url.clone(),
        appid,
        user: user.to_owned(),
    };
    let result = phone.play().await;
    let _ = stop.send(());
    let _ = serving.await;
    result
}

/// The mini program on the phone: talks to WeChat (the simulator's device side) and to
/// our server, as a real one would.
struct Phone {
    http: reqwest::Client,
    server: String,
    simulator: String,
    appid: String,
    user: String,
}

impl Phone {
    async fn play(&self) -> anyhow::Result<()> {
        step(1, "wx.login() on the phone, then POST /v1/login {code}");
        let code = self.device("/sim/login", json!({})).await?["code"]
            .as_str()
            .context("the simulator gave no code")?
            .to_owned();
        println!("  wx.login() → code {}", abbreviate(&code));
        let login = self
            .call(
                Method::POST,
                "/v1/login",
                None,
                Some(json!({"code": code})),
                StatusCode::OK,
            )
            .await?;
        let user = &login["user"];
        println!(
            "  ← 200 user id {} openid {} (access token {}, refresh token {}, expires_in {} s)",
            text(user, "id"),
            text(user, "openid"),
            abbreviate(&text(&login, "access_token")),
            abbreviate(&text(&login, "refresh_token")),
            login["expires_in"]
        );
        let access = text(&login, "access_token");

        step(2, "the same code again (a double tap or a network retry)");
        let retry = self
            .call(
                Method::POST,
                "/v1/login",
                None,
                Some(json!({"code": code})),
                StatusCode::OK,
            )
            .await?;
        expect_same(
            &retry["user"]["id"],
            &user["id"],
            "retried code answers for the same user",
        )?;
        let stats = self.simulator_stats().await?;
        let exchanges = &stats["calls"]["jscode2session"][&self.appid];
        expect_same(exchanges, &json!(1), "jscode2session calls seen by WeChat")?;
        println!("  ← 200 same user, fresh token pair; WeChat saw the code once (/sim/stats)");

        step(3, "GET /v1/me");
        let me = self
            .call(Method::GET, "/v1/me", Some(&access), None, StatusCode::OK)
            .await?;
        expect_same(
            &me["id"],
            &user["id"],
            "GET /v1/me shows the logged-in user",
        )?;
        println!("  ← 200 user {}", text(&me, "id"));

        step(
            4,
            "phone number by code: <button open-type=\"getPhoneNumber\">, POST /v1/me/phone {code}",
        );
        let grant = self
            .device("/sim/phone", json!({"phone": "13812345678"}))
            .await?;
        let phone = self
            .call(
                Method::POST,
                "/v1/me/phone",
                Some(&access),
                Some(json!({"code": grant["code"]})),
                StatusCode::OK,
            )
            .await?;
        expect_phone(&phone, "13812345678", "phone number by code")?;
        println!(
            "  ← 200 phone {} (country code {})",
            mask(&text(&phone, "phone_number")),
            phone["country_code"]
        );

        step(
            5,
            "phone number, legacy: POST /v1/me/phone {encryptedData, iv}",
        );
        let grant = self
            .device("/sim/phone", json!({"phone": "13987654321"}))
            .await?;
        let phone = self
            .call(
                Method::POST,
                "/v1/me/phone",
                Some(&access),
                Some(json!({"encryptedData": grant["encrypted_data"], "iv": grant["iv"]})),
                StatusCode::OK,
            )
            .await?;
        expect_phone(&phone, "13987654321", "legacy phone number")?;
        println!(
            "  ← 200 decrypted with the stored session key: phone {}",
            mask(&text(&phone, "phone_number"))
        );

        step(
            6,
            "user info, legacy: POST /v1/me/userinfo {rawData, signature, encryptedData, iv}",
        );
        let info = self.device("/sim/userinfo", json!({})).await?;
        let updated = self
            .call(
                Method::POST,
                "/v1/me/userinfo",
                Some(&access),
                Some(json!({
                    "rawData": info["raw_data"],
                    "signature": info["signature"],
                    "encryptedData": info["encrypted_data"],
                    "iv": info["iv"],
                })),
                StatusCode::OK,
            )
            .await?;
        if updated["nickname"].is_null() {
            bail!("user info did not set a nickname");
        }
        println!(
            "  ← 200 signature and watermark checked; nickname {}",
            updated["nickname"]
        );

        step(
            7,
            "avatar-and-nickname fill-in: PATCH /v1/me {nickname, avatar_url}",
        );
        let patched = self
            .call(
                Method::PATCH,
                "/v1/me",
                Some(&access),
                Some(json!({"nickname": "小程序用户", "avatar_url": "https://example.com/avatar.png"})),
                StatusCode::OK,
            )
            .await?;
        expect_same(
            &patched["nickname"],
            &json!("小程序用户"),
            "PATCH /v1/me nickname",
        )?;
        println!(
            "  ← 200 nickname {} avatar {}",
            patched["nickname"], patched["avatar_url"]
        );

        step(8, "POST /v1/token/refresh {refresh_token}");
        let refreshed = self
            .call(
                Method::POST,
                "/v1/token/refresh",
                None,
                Some(json!({"refresh_token": login["refresh_token"]})),
                StatusCode::OK,
            )
            .await?;
        let new_access = text(&refreshed, "access_token");
        println!(
            "  ← 200 new pair (access token {}, refresh token {}); the old refresh token is spent",
            abbreviate(&new_access),
            abbreviate(&text(&refreshed, "refresh_token"))
        );

        step(9, "POST /v1/logout");
        self.call(
            Method::POST,
            "/v1/logout",
            Some(&new_access),
            None,
            StatusCode::NO_CONTENT,
        )
        .await?;
        println!("  ← 204 session revoked");

        step(10, "GET /v1/me after logout");
        let refused = self
            .call(
                Method::GET,
                "/v1/me",
                Some(&new_access),
                None,
                StatusCode::UNAUTHORIZED,
            )
            .await?;
        expect_same(
            &refused["error"]["code"],
            &json!("unauthorized"),
            "GET /v1/me after logout",
        )?;
        println!(
            "  ← 401 {}: {}",
            refused["error"]["code"], refused["error"]["message"]
        );
        Ok(())
    }

    /// The phone asks WeChat (the simulator's device side) for something.
    async fn device(&self, path: &str, extra: Value) -> anyhow::Result<Value> {
        let mut body = json!({"appid": self.appid, "user": self.user});
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        let response = self
            .http
            .post(format!("{}{path}", self.simulator))
            .json(&body)
            .send()
            .await
            .with_context(|| format!("simulator {path}"))?;
        let status = response.status();
        let answer: Value = response
            .json()
            .await
            .with_context(|| format!("simulator {path} answer"))?;
        if !status.is_success() {
            bail!("simulator {path} answered {status}: {answer}");
        }
        Ok(answer)
    }

    /// What the simulated WeChat counted (`GET /sim/stats`).
    async fn simulator_stats(&self) -> anyhow::Result<Value> {
        let response = self
            .http
            .get(format!("{}/sim/stats", self.simulator))
            .send()
            .await
            .context("simulator /sim/stats")?;
        response.json().await.context("simulator /sim/stats answer")
    }

    /// Call our server and check the status.
    async fn call(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
        expected: StatusCode,
    ) -> anyhow::Result<Value> {
        println!("  → {method} {path}");
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.server));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .with_context(|| format!("{method} {path} answer"))?;
        if status != expected {
            // Error answers say what went wrong and hold no secret; a success answer can
            // (a user with a phone number, tokens), so only its status is shown.
            if status.is_success() {
                bail!("{method} {path}: expected {expected}, got {status}");
            }
            bail!("{method} {path}: expected {expected}, got {status}: {text}");
        }
        if text.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).with_context(|| format!("{method} {path} answered non-JSON"))
    }
}

fn step(number: u32, title: &str) {
    println!("\n[{number}] {title}");
}

fn text(value: &Value, field: &str) -> String {
    value[field].as_str().unwrap_or_default().to_owned()
}

fn expect_same(got: &Value, expected: &Value, what: &str) -> anyhow::Result<()> {
    if got != expected {
        bail!("{what}: expected {expected}, got {got}");
    }
    Ok(())
}

/// The phone answer holds `expected` as its pure number; a mismatch shows both masked.
fn expect_phone(answer: &Value, expected: &str, what: &str) -> anyhow::Result<()> {
    let got = text(answer, "pure_phone_number");
    if got != expected {
        bail!("{what}: expected {}, got {}", mask(expected), mask(&got));
    }
    Ok(())
}

/// Enough of a token or code to tell them apart, not enough to use.
fn abbreviate(secret: &str) -> String {
    let head: String = secret.chars().take(8).collect();
    format!("{head}…")
}

/// `13812345678` → `138****5678`.
fn mask(phone: &str) -> String {
    wxlogin_server::domain::mask_phone_number(phone)
}

/// A directory removed when dropped.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new() -> anyhow::Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or(0);
        let path =
            std::env::temp_dir().join(format!("wxlogin-demo-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(TempDir { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
