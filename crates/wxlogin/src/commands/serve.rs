//! `wxlogin serve`: the login server. Flags fall back to `WXLOGIN_*` variables, then to
//! the TOML file of `--config`, then to the defaults of the contract.
//!
//! Prints, on stdout, lines that scripts parse: `listening on http://ADDR`, and with
//! `--sim` also `simulator on http://ADDR`, `demo appid APPID`, a curl line to try, and
//! `console on http://ADDR/admin/` with `console key KEY` (a development console key).
use std::path::PathBuf;

use anyhow::{bail, Context};
use wxlogin_server::configuration::{AppEntry, MasterKeyText};
use wxlogin_server::{Application, LogFormat, Settings, SettingsLayer};
use wxlogin_sim::{SimApp, SimConfig, SimHandle, Simulator};

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (the bound address is printed)
    /// [default: 127.0.0.1:8080]
    #[arg(long, env = "WXLOGIN_LISTEN")]
    pub listen: Option<String>,
    /// sqlite://FILE or postgres://… [default: sqlite://wxlogin.db]
    #[arg(long, env = "WXLOGIN_DATABASE_URL")]
    pub database_url: Option<String>,
    /// AppID of the (single) mini program; use --config for several.
    #[arg(long, env = "WXLOGIN_APPID")]
    pub appid: Option<String>,
    /// AppSecret of --appid.
    #[arg(long, env = "WXLOGIN_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// TOML file: `[[apps]] appid, secret`, and any other setting by its flag name
    /// with underscores (e.g. `code_retry_window = 30`).
    #[arg(long, env = "WXLOGIN_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where WeChat's API is [default: https://api.weixin.qq.com]
    #[arg(long, env = "WXLOGIN_WECHAT_BASE_URL")]
    pub wechat_base_url: Option<String>,
    /// Standard base64 of 32 random bytes (`head -c32 /dev/urandom | base64`). Without it,
    /// SQLite only: a generated key kept in a 0600 file beside the database (development).
    #[arg(long, env = "WXLOGIN_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,
    /// During a master-key roll only: the key being replaced, still accepted for opening
    /// what it sealed (everything new is sealed with --master-key). See docs/production.md
    /// [default: none]
    #[arg(long, env = "WXLOGIN_PREVIOUS_MASTER_KEY", hide_env_values = true)]
    pub previous_master_key: Option<String>,
    /// Start the WeChat simulator in this process and point the server at it; without
    /// configured apps, its demo app is used.
    #[arg(long)]
    pub sim: bool,
    /// Access-token lifetime in seconds [default: 1800]
    #[arg(long, env = "WXLOGIN_ACCESS_TOKEN_TTL", value_name = "SECS")]
    pub access_token_ttl: Option<u64>,
    /// Refresh-token lifetime in seconds, renewed on each use [default: 2592000]
    #[arg(long, env = "WXLOGIN_REFRESH_TOKEN_TTL", value_name = "SECS")]
    pub refresh_token_ttl: Option<u64>,
    /// How long a retried login code still gets a token pair (for the same user) instead of
    /// code_used, in seconds [default: 60]
    #[arg(long, env = "WXLOGIN_CODE_RETRY_WINDOW", value_name = "SECS")]
    pub code_retry_window: Option<u64>,
    /// Maximum age of the watermark of legacy encrypted data, in seconds [default: 300]
    #[arg(long, env = "WXLOGIN_WATERMARK_MAX_AGE", value_name = "SECS")]
    pub watermark_max_age: Option<u64>,
    /// Deadline of one call to WeChat, in seconds [default: 5]
    #[arg(long, env = "WXLOGIN_WECHAT_TIMEOUT", value_name = "SECS")]
    pub wechat_timeout: Option<u64>,
    /// Log format: text or json [default: text]
    #[arg(long, env = "WXLOGIN_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Largest accepted request body in bytes [default: 65536]
    #[arg(long, env = "WXLOGIN_BODY_LIMIT", value_name = "BYTES")]
    pub body_limit: Option<usize>,
    /// `iss` claim of the access tokens [default: wxlogin]
    #[arg(long, env = "WXLOGIN_ISSUER")]
    pub issuer: Option<String>,
    /// Most database connections of this instance; N instances × this must stay under
    /// PostgreSQL's max_connections. On SQLite: the most reading connections, beside the one
    /// writing connection [default: 10]
    #[arg(long, env = "WXLOGIN_DB_MAX_CONNECTIONS", value_name = "N")]
    pub db_max_connections: Option<u32>,
    /// How long a request waits for a free database connection before answering 503,
    /// in seconds [default: 5]
    #[arg(long, env = "WXLOGIN_DB_ACQUIRE_TIMEOUT", value_name = "SECS")]
    pub db_acquire_timeout: Option<u64>,
    /// PostgreSQL statement_timeout and SQLite busy_timeout, in seconds: a query held up
    /// longer answers 503 database_unavailable [default: 5]
    #[arg(long, env = "WXLOGIN_DB_STATEMENT_TIMEOUT", value_name = "SECS")]
    pub db_statement_timeout: Option<u64>,
    /// A client must send a request's head (on a new connection: within this long of
    /// connecting), and then its whole body, within this many seconds, or it is
    /// disconnected [default: 10]
    #[arg(long, env = "WXLOGIN_REQUEST_READ_TIMEOUT", value_name = "SECS")]
    pub request_read_timeout: Option<u64>,
    /// A keep-alive connection with no request in flight is closed after this many
    /// seconds; HTTP/1 connections also get only --request-read-timeout between requests
    /// [default: 60]
    #[arg(long, env = "WXLOGIN_IDLE_TIMEOUT", value_name = "SECS")]
    pub idle_timeout: Option<u64>,
    /// Most open connections, lowered to what the open-files limit leaves; at the cap the
    /// longest-idle connection is closed to make room, and a new one is refused only while
    /// all are busy [default: 10000]
    #[arg(long, env = "WXLOGIN_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,
    /// Most open connections from one client address, the same way; 0 turns the cap off
    /// (behind a proxy all connections come from the proxy) [default: 0]
    #[arg(long, env = "WXLOGIN_MAX_CONNECTIONS_PER_IP", value_name = "N")]
    pub max_connections_per_ip: Option<usize>,
    /// On SIGTERM or Ctrl-C, how many seconds requests in flight get to finish before
    /// their connections are closed and the process exits [default: 10]
    #[arg(long, env = "WXLOGIN_SHUTDOWN_TIMEOUT", value_name = "SECS")]
    pub shutdown_timeout: Option<u64>,
    /// Logins per rate-limit period from one client address; 0 turns the limit off
    /// [default: 20]
    #[arg(long, env = "WXLOGIN_RATE_LIMIT_LOGIN_PER_IP", value_name = "N")]
    pub rate_limit_login_per_ip: Option<u32>,
    /// Logins one client address may send at once [default: 10]
    #[arg(long, env = "WXLOGIN_RATE_LIMIT_LOGIN_BURST", value_name = "N")]
    pub rate_limit_login_burst: Option<u32>,
    /// Phone-number and user-info requests per rate-limit period for one user (appid,
    /// openid); 0 turns the limit off [default: 10]
    #[arg(long, env = "WXLOGIN_RATE_LIMIT_PHONE_PER_USER", value_name = "N")]
    pub rate_limit_phone_per_user: Option<u32>,
    /// Phone-number and user-info requests one user may send at once [default: 5]
    #[arg(long, env = "WXLOGIN_RATE_LIMIT_PHONE_BURST", value_name = "N")]
    pub rate_limit_phone_burst: Option<u32>,
    /// Phone-number and user-info requests per rate-limit period from one client address,
    /// whichever users send them; 0 turns the limit off [default: 30]
    #[arg(long, env = "WXLOGIN_RATE_LIMIT_PHONE_PER_IP", value_name = "N")]
    pub rate_limit_phone_per_ip: Option<u32>,
    /// Phone-number and user-info requests one client address may send at once
    /// [default: 10]
    #[arg(long, env = "WXLOGIN_RATE_LIMIT_PHONE_IP_BURST", value_name = "N")]
    pub rate_limit_phone_ip_burst: Option<u32>,
    /// The period of the rate limits, in seconds [default: 60]
    #[arg(long, env = "WXLOGIN_RATE_LIMIT_PERIOD", value_name = "SECS")]
    pub rate_limit_period: Option<u64>,
    /// Take the client address for rate limits from the last X-Forwarded-For entry
    /// (only behind a proxy that appends it, e.g. nginx $proxy_add_x_forwarded_for)
    #[arg(long, env = "WXLOGIN_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,
    /// Most access tokens whose signature check is remembered, so a client's repeated
    /// token is verified once (a few hundred bytes each); 0 turns the cache off
    /// [default: 10000]
    #[arg(long, env = "WXLOGIN_ACCESS_TOKEN_CACHE_SIZE", value_name = "N")]
    pub access_token_cache_size: Option<usize>,
    /// Algorithm of the access tokens: ES256 (P-256; every backend stack verifies it) or
    /// EdDSA (Ed25519). A different algorithm than the current key's rotates the key at
    /// start; old tokens verify until they expire [default: ES256]
    #[arg(long, env = "WXLOGIN_ACCESS_TOKEN_ALG", value_name = "ALG")]
    pub access_token_alg: Option<wxlogin_server::tokens::SigningAlgorithm>,
    /// Send the caller's openid with getuserphonenumber so WeChat checks the phone code
    /// is that user's (optional in WeChat's API; one report says WeChat then answers a
    /// format error) [default: false]
    #[arg(long, env = "WXLOGIN_PHONE_SEND_OPENID")]
    pub phone_send_openid: bool,
    /// POST every event here, signed with --webhook-secret (several, or a subset of the
    /// event types: `[[webhooks]] url, secret, events` in --config)
    #[arg(long, env = "WXLOGIN_WEBHOOK_URL", hide_env_values = true)]
    pub webhook_url: Option<String>,
    /// HMAC-SHA256 key of --webhook-url's Wxlogin-Signature header
    #[arg(long, env = "WXLOGIN_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,
    /// Deadline of one webhook attempt (connect, send, answer), in seconds [default: 5]
    #[arg(long, env = "WXLOGIN_WEBHOOK_TIMEOUT", value_name = "SECS")]
    pub webhook_timeout: Option<u64>,
    /// How often an idle webhook worker looks for due deliveries, in milliseconds
    /// [default: 1000]
    #[arg(long, env = "WXLOGIN_WEBHOOK_POLL_INTERVAL_MS", value_name = "MS")]
    pub webhook_poll_interval_ms: Option<u64>,
    /// How long events are kept (and then pruned, unless a webhook delivery for them is
    /// still pending), in seconds [default: 604800]
    #[arg(long, env = "WXLOGIN_EVENT_RETENTION", value_name = "SECS")]
    pub event_retention: Option<u64>,
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let settings_layer = settings_layer(&args)?;
    let format = settings_layer.log_format.unwrap_or_default();
    wxlogin_server::telemetry::init(format);
    warn_about_secrets_on_the_command_line(&args);
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(serve(settings_layer.resolve(), args.sim))
}

/// The secret-bearing flags and the variable that should carry each instead.
const SECRET_FLAGS: [(&str, &str); 4] = [
    ("--secret", "WXLOGIN_SECRET"),
    ("--master-key", "WXLOGIN_MASTER_KEY"),
    ("--previous-master-key", "WXLOGIN_PREVIOUS_MASTER_KEY"),
    ("--webhook-secret", "WXLOGIN_WEBHOOK_SECRET"),
];

/// A secret given as a flag is readable by every local user in `/proc/PID/cmdline` and
/// lands in shell history; say so at start (the value itself is never printed).
fn warn_about_secrets_on_the_command_line(args: &ServeArgs) {
    for (flag, variable) in secrets_from_flags(args) {
        tracing::warn!(
            "{flag} was given on the command line, where other local users can read it \
             (/proc/<pid>/cmdline, shell history); set {variable} in the environment or use \
             a --config file instead"
        );
    }
}

/// Which secrets came from a flag rather than the environment. clap fills a field from
/// the flag first, so a value that differs from (or has no) environment variable is the
/// flag's.
fn secrets_from_flags(args: &ServeArgs) -> Vec<(&'static str, &'static str)> {
    let given = [
        args.secret.as_deref(),
        args.master_key.as_deref(),
        args.previous_master_key.as_deref(),
        args.webhook_secret.as_deref(),
    ];
    SECRET_FLAGS
        .into_iter()
        .zip(given)
        .filter_map(|((flag, variable), value)| {
            let value = value?;
            let from_environment = std::env::var(variable).is_ok_and(|env| env == value);
            (!from_environment).then_some((flag, variable))
        })
        .collect()
}

/// Flags and environment over the config file.
fn settings_layer(args: &ServeArgs) -> anyhow::Result<SettingsLayer> {
    let apps = match (&args.appid, &args.secret) {
        (Some(appid), Some(secret)) => vec![AppEntry {
            appid: appid.clone(),
            secret: secret.clone(),
        }],
        (None, None) => Vec::new(),
        (Some(_), None) => bail!("--appid needs --secret (or WXLOGIN_SECRET)"),
        (None, Some(_)) => bail!("--secret needs --appid (or WXLOGIN_APPID)"),
    };
    let flags = SettingsLayer {
        listen: args.listen.clone(),
        database_url: args.database_url.clone(),
        apps,
        wechat_base_url: args.wechat_base_url.clone(),
        wechat_timeout: args.wechat_timeout,
        master_key: args.master_key.clone().map(MasterKeyText::new),
        previous_master_key: args.previous_master_key.clone().map(MasterKeyText::new),
        access_token_ttl: args.access_token_ttl,
        refresh_token_ttl: args.refresh_token_ttl,
        code_retry_window: args.code_retry_window,
        watermark_max_age: args.watermark_max_age,
        log_format: args.log_format,
        body_limit: args.body_limit,
        issuer: args.issuer.clone(),
        db_max_connections: args.db_max_connections,
        db_acquire_timeout: args.db_acquire_timeout,
        db_statement_timeout: args.db_statement_timeout,
        request_read_timeout: args.request_read_timeout,
        idle_timeout: args.idle_timeout,
        max_connections: args.max_connections,
        max_connections_per_ip: args.max_connections_per_ip,
        shutdown_timeout: args.shutdown_timeout,
        rate_limit_login_per_ip: args.rate_limit_login_per_ip,
        rate_limit_login_burst: args.rate_limit_login_burst,
        rate_limit_phone_per_user: args.rate_limit_phone_per_user,
        rate_limit_phone_burst: args.rate_limit_phone_burst,
        rate_limit_phone_per_ip: args.rate_limit_phone_per_ip,
        rate_limit_phone_ip_burst: args.rate_limit_phone_ip_burst,
        rate_limit_period: args.rate_limit_period,
        // A flag can only switch trust on; leave the file's choice otherwise.
        trust_forwarded_for: args.trust_forwarded_for.then_some(true),
        access_token_cache_size: args.access_token_cache_size,
        access_token_alg: args.access_token_alg,
        // A flag can only switch it on; leave the file's choice otherwise.
        phone_send_openid: args.phone_send_openid.then_some(true),
        webhook_url: args.webhook_url.clone(),
        webhook_secret: args.webhook_secret.clone(),
        webhooks: Vec::new(),
        webhook_timeout: args.webhook_timeout,
        webhook_poll_interval_ms: args.webhook_poll_interval_ms,
        event_retention: args.event_retention,
    };
    let file = match &args.config {
        Some(path) => SettingsLayer::from_toml_file(path)?,
        None => SettingsLayer::default(),
    };
    Ok(flags.or(file))
}

async fn serve(mut settings: Settings, with_sim: bool) -> anyhow::Result<()> {
    // Kept alive for as long as the server runs; dropping it stops the simulator.
    let simulator = if with_sim {
        Some(start_simulator(&mut settings).await?)
    } else {
        None
    };
    let application = Application::build(settings.clone())
        .await
        .context("starting the server")?;
    let address = application.local_addr();
    if let Some(handle) = &simulator {
        println!("simulator on {}", handle.base_url);
        for app in &settings.apps {
            println!("demo appid {}", app.appid);
        }
        println!(
            "try: {}",
            curl_line(
                &format!("http://{address}"),
                &handle.base_url,
                &settings.apps[0].appid
            )
        );
    }
    if simulator.is_some() {
        let key = super::dev_console::dev_console_key(
            application.state().store(),
            &settings.database_url,
        )
        .await
        .context("creating the development console key")?;
        println!("console on http://{address}/admin/");
        println!("console key {key}");
    }
    println!("listening on http://{address}");
    application
        .run_until(shutdown_signal())
        .await
        .context("serving")?;
    tracing::info!("stopped");
    Ok(())
}

/// Start the simulator on 127.0.0.1:0 with the configured apps (or the demo app) and
/// point the server at it.
async fn start_simulator(settings: &mut Settings) -> anyhow::Result<SimHandle> {
    if settings.apps.is_empty() {
        let demo = SimApp::demo();
        settings
            .apps
            .push(wxlogin_client::AppCredentials::new(demo.appid, demo.secret));
    }
    let apps = settings
        .apps
        .iter()
        .map(|app| SimApp::new(app.appid.clone(), app.secret.expose()))
        .collect();
    let handle = Simulator::new(SimConfig {
        apps,
        ..SimConfig::default()
    })
    .spawn_on_loopback()
    .await
    .context("starting the embedded simulator")?;
    if settings.wechat_base_url != wxlogin_server::configuration::DEFAULT_WECHAT_BASE_URL {
        tracing::warn!("--sim replaces the configured WeChat base URL with the embedded simulator");
    }
    settings.wechat_base_url = handle.base_url.clone();
    Ok(handle)
}

/// One shell line: get a code from the simulator's device side, log in with it.
fn curl_line(server: &str, simulator: &str, appid: &str) -> String {
    format!(
        "CODE=$(curl -s -X POST {simulator}/sim/login -H 'Content-Type: application/json' \
         -d '{{\"appid\":\"{appid}\",\"user\":\"alice\"}}' | sed 's/.*\"code\":\"\\([^\"]*\\)\".*/\\1/') && \
         curl -s -X POST {server}/v1/login -H 'Content-Type: application/json' -d \"{{\\\"code\\\":\\\"$CODE\\\"}}\""
    )
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn settings(args: &[&str]) -> wxlogin_server::Settings {
        let mut argv = vec!["serve", "--appid", "wx1111111111111111", "--secret", "s"];
        argv.extend_from_slice(args);
        let command = Command::try_parse_from(argv).expect("flags parse");
        settings_layer(&command.serve).unwrap().resolve()
    }

    #[test]
    fn rate_limit_flags_reach_the_settings() {
        let settings = settings(&[
            "--rate-limit-login-per-ip",
            "0",
            "--rate-limit-login-burst",
            "3",
            "--rate-limit-phone-per-user",
            "7",
            "--rate-limit-phone-burst",
            "2",
            "--rate-limit-phone-per-ip",
            "0",
            "--rate-limit-period",
            "30",
            "--trust-forwarded-for",
        ]);
        assert_eq!(settings.rate_limit_login_per_ip, 0);
        assert_eq!(settings.rate_limit_login_burst, 3);
        assert_eq!(settings.rate_limit_phone_per_user, 7);
        assert_eq!(settings.rate_limit_phone_burst, 2);
        assert_eq!(settings.rate_limit_phone_per_ip, 0);
        assert_eq!(settings.rate_limit_period, Duration::from_secs(30));
        assert!(settings.trust_forwarded_for);
    }

    #[test]
    fn connection_flags_reach_the_settings() {
        let defaults = settings(&[]);
        assert_eq!(defaults.idle_timeout, Duration::from_secs(60));
        assert_eq!(defaults.max_connections, 10_000);
        assert_eq!(defaults.max_connections_per_ip, 0);
        assert_eq!(defaults.shutdown_timeout, Duration::from_secs(10));
        let settings = settings(&[
            "--idle-timeout",
            "5",
            "--max-connections",
            "300",
            "--max-connections-per-ip",
            "20",
            "--shutdown-timeout",
            "3",
        ]);
        assert_eq!(settings.idle_timeout, Duration::from_secs(5));
        assert_eq!(settings.max_connections, 300);
        assert_eq!(settings.max_connections_per_ip, 20);
        assert_eq!(settings.shutdown_timeout, Duration::from_secs(3));
    }

    #[test]
    fn webhook_flags_reach_the_settings() {
        let defaults = settings(&[]);
        assert!(defaults.webhooks.is_empty());
        assert_eq!(defaults.webhook_timeout, Duration::from_secs(5));
        assert_eq!(defaults.event_retention, Duration::from_secs(604_800));
        let settings = settings(&[
            "--webhook-url",
            "https://hooks.example/in",
            "--webhook-secret",
            "whsec",
            "--webhook-timeout",
            "2",
            "--webhook-poll-interval-ms",
            "250",
            "--event-retention",
            "3600",
        ]);
        assert_eq!(settings.webhooks.len(), 1);
        assert_eq!(settings.webhooks[0].url, "https://hooks.example/in");
        assert_eq!(settings.webhooks[0].secret, "whsec");
        assert_eq!(settings.webhook_timeout, Duration::from_secs(2));
        assert_eq!(settings.webhook_poll_interval, Duration::from_millis(250));
        assert_eq!(settings.event_retention, Duration::from_secs(3600));
    }

    #[test]
    fn rate_limits_are_on_by_default() {
        let settings = settings(&[]);
        assert_eq!(settings.rate_limit_login_per_ip, 20);
        assert_eq!(settings.rate_limit_phone_per_user, 10);
        assert!(!settings.trust_forwarded_for);
    }

    #[test]
    fn the_phone_openid_is_sent_only_when_asked_for() {
        assert!(!settings(&[]).phone_send_openid);
        assert!(settings(&["--phone-send-openid"]).phone_send_openid);
    }

    #[test]
    fn access_token_cache_size_comes_from_the_flag_over_the_file() {
        assert_eq!(settings(&[]).access_token_cache_size, 10_000);
        assert_eq!(
            settings(&["--access-token-cache-size", "0"]).access_token_cache_size,
            0
        );
        let dir = std::env::temp_dir().join(format!("wxlogin-serve-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("cache.toml");
        std::fs::write(&file, "access_token_cache_size = 250\n").unwrap();
        let config = file.to_str().unwrap();
        assert_eq!(settings(&["--config", config]).access_token_cache_size, 250);
        assert_eq!(
            settings(&["--config", config, "--access-token-cache-size", "7"])
                .access_token_cache_size,
            7
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
