//! N `wxlogin serve` processes on one database, all pointed at one in-process simulator,
//! as a team runs them behind a load balancer.
use std::time::Duration;

use serde_json::{json, Value};
use tokio::task::JoinSet;
use wxlogin_sim::{Endpoint, SimApp, SimConfig, SimHandle, Simulator};

use super::database::{postgres_or_skip, FreshDatabase};
use super::http::{Answer, Http};
use super::process::{LogDir, ServerProcess};

pub const APPID: &str = "wx5ca1ab1e00000001";
pub const SECRET: &str = "multi-instance-test-secret-00001";
/// A fixed master key (bytes 0..32): every instance and the admin commands must share it.
pub const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

pub struct Deployment {
    pub sim: Simulator,
    pub sim_base_url: String,
    pub database_url: String,
    pub servers: Vec<ServerProcess>,
    pub http: Http,
    extra_args: Vec<String>,
    database: Option<FreshDatabase>,
    logs: LogDir,
    _sim_handle: SimHandle,
}

impl Deployment {
    /// `instances` servers on a fresh database of `WXLOGIN_TEST_POSTGRES_URL`, started at
    /// the same time; `None` (with a printed reason) when that variable is unset.
    pub async fn on_test_postgres(test: &str, instances: usize) -> Option<Deployment> {
        Deployment::on_test_postgres_with(test, instances, &[]).await
    }

    /// Like [`Deployment::on_test_postgres`], with `extra_args` on every `serve` line.
    pub async fn on_test_postgres_with(
        test: &str,
        instances: usize,
        extra_args: &[&str],
    ) -> Option<Deployment> {
        let admin_url = postgres_or_skip(test)?;
        let database = FreshDatabase::create(&admin_url).await;
        let extra_args = extra_args.iter().map(|arg| arg.to_string()).collect();
        let mut deployment = Deployment::prepare(test, database.url.clone(), extra_args).await;
        deployment.database = Some(database);
        deployment.start_instances(instances).await;
        Some(deployment)
    }

    /// A simulator and no instance yet, for `database_url` (any backend); `extra_args` are
    /// added to every `serve` command line.
    pub async fn prepare(test: &str, database_url: String, extra_args: Vec<String>) -> Deployment {
        let sim = Simulator::new(SimConfig {
            apps: vec![SimApp::new(APPID, SECRET)],
            ..SimConfig::default()
        });
        let sim_handle = sim
            .clone()
            .spawn_on_loopback()
            .await
            .expect("simulator starts");
        Deployment {
            sim,
            sim_base_url: sim_handle.base_url.clone(),
            database_url,
            servers: Vec::new(),
            http: Http::default(),
            extra_args,
            database: None,
            logs: LogDir::new(test),
            _sim_handle: sim_handle,
        }
    }

    fn serve_args(&self) -> Vec<String> {
        let mut args: Vec<String> = [
            "--database-url",
            &self.database_url,
            "--wechat-base-url",
            &self.sim_base_url,
            "--appid",
            APPID,
            "--secret",
            SECRET,
            "--master-key",
            MASTER_KEY,
            // Every request comes from 127.0.0.1 and a few users: the per-address and
            // per-user abuse limits (tested with the server's own suites) stay out of the way.
            "--rate-limit-login-per-ip",
            "0",
            "--rate-limit-phone-per-user",
            "0",
            "--rate-limit-phone-per-ip",
            "0",
        ]
        .iter()
        .map(|arg| arg.to_string())
        .collect();
        args.extend(self.extra_args.iter().cloned());
        args
    }

    /// Start `count` more instances at once (they migrate and load keys concurrently).
    pub async fn start_instances(&mut self, count: usize) {
        let mut starting = JoinSet::new();
        for index in self.servers.len()..self.servers.len() + count {
            let name = instance_name(index);
            let args = self.serve_args();
            let log_dir = self.logs.path().to_owned();
            starting
                .spawn(async move { (index, ServerProcess::start(&name, &args, &log_dir).await) });
        }
        let mut started: Vec<(usize, ServerProcess)> =
            starting.join_all().await.into_iter().collect();
        started.sort_by_key(|(index, _)| *index);
        self.servers
            .extend(started.into_iter().map(|(_, server)| server));
    }

    /// URL of `path` on instance `index`.
    pub fn url(&self, index: usize, path: &str) -> String {
        self.servers[index].url(path)
    }

    /// A fresh `wx.login` code for the simulated WeChat user `user`.
    pub fn code(&self, user: &str) -> String {
        self.sim
            .login_code(APPID, user)
            .expect("the simulator mints a code")
            .code
    }

    /// A getPhoneNumber button code for `user` (their default number).
    pub fn phone_code(&self, user: &str) -> String {
        self.sim
            .phone_grant(APPID, user, None)
            .expect("the simulator grants the phone number")
            .code
    }

    pub async fn login_with_code(&self, index: usize, code: &str) -> Answer {
        self.http
            .post(&self.url(index, "/v1/login"), None, json!({ "code": code }))
            .await
    }

    /// Log `user` in on instance `index` with a fresh code; the answer must be 200.
    pub async fn login(&self, index: usize, user: &str) -> Answer {
        let answer = self.login_with_code(index, &self.code(user)).await;
        answer.ok();
        answer
    }

    pub async fn me(&self, index: usize, access_token: &str) -> Answer {
        self.http
            .get(&self.url(index, "/v1/me"), Some(access_token))
            .await
    }

    pub async fn refresh(&self, index: usize, refresh_token: &str) -> Answer {
        self.http
            .post(
                &self.url(index, "/v1/token/refresh"),
                None,
                json!({ "refresh_token": refresh_token }),
            )
            .await
    }

    pub async fn logout(&self, index: usize, access_token: &str) -> Answer {
        self.http
            .post(
                &self.url(index, "/v1/logout"),
                Some(access_token),
                Value::Null,
            )
            .await
    }

    pub async fn jwks(&self, index: usize) -> Answer {
        self.http
            .get(&self.url(index, "/.well-known/jwks.json"), None)
            .await
    }

    /// Calls the simulator received on `endpoint` for the test app.
    pub fn upstream_calls(&self, endpoint: Endpoint) -> u64 {
        self.sim.stats().calls_to(endpoint, APPID)
    }

    /// Upstream access-token fetches of either kind (stable_token or the classic token).
    pub fn token_fetches(&self) -> u64 {
        self.upstream_calls(Endpoint::StableToken) + self.upstream_calls(Endpoint::Token)
    }

    /// Every instance's log, for assertion messages.
    pub fn logs(&self) -> String {
        self.servers
            .iter()
            .map(|server| format!("----- {} -----\n{}", server.name, server.log()))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Stop every instance, then drop the database.
    pub async fn shutdown(mut self) {
        for server in self.servers.drain(..) {
            let _ = server.kill().await;
        }
        if let Some(database) = self.database.take() {
            database.drop_database().await;
        }
    }
}

pub fn instance_name(index: usize) -> String {
    format!("instance-{}", (b'a' + index as u8) as char)
}

/// Poll `check` every 100 ms until it returns `Some`, for at most `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
