//! `wxlogin serve`: the login server. Flags fall back to `WXLOGIN_*` variables, then to
//! the TOML file of `--config`, then to the defaults of the contract.
//!
//! Prints, on stdout, lines that scripts parse: `listening on http://ADDR`, and with
//! `--sim` also `simulator on http://ADDR`, `demo appid APPID`, a curl line to try, and
//! `console on http://ADDR/admin/` with `console key KEY` (a development console key).
use std::path::PathBuf;

use anyhow::{bail, Context};
use wxlogin_server::configuration::{AppEntry, MasterKeyText, WechatSettings};
use wxlogin_server::{Application, Settings, SettingsLayer};
use wxlogin_sim::{SimApp, SimConfig, SimHandle, Simulator};

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
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
    /// Start the WeChat simulator in this process and point the server at it; without
    /// configured apps, its demo app is used.
    #[arg(long)]
    pub sim: bool,
    // Every other setting: declared once, with its default, beside the code it configures.
    #[command(flatten)]
    pub settings: SettingsLayer,
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let settings = settings_layer(&args)?.resolve();
    wxlogin_server::telemetry::init(settings.log.log_format);
    warn_about_secrets_on_the_command_line(&args);
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(serve(settings, args.sim))
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
    let database = &args.settings.database;
    let given = [
        args.secret.as_deref(),
        database.master_key.as_ref().map(MasterKeyText::expose),
        database
            .previous_master_key
            .as_ref()
            .map(MasterKeyText::expose),
        args.settings.webhook_secret.as_deref(),
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
        apps,
        ..args.settings.clone()
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
            &settings.database.database_url,
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
    if settings.wechat.wechat_base_url != WechatSettings::default().wechat_base_url {
        tracing::warn!("--sim replaces the configured WeChat base URL with the embedded simulator");
    }
    settings.wechat.wechat_base_url = handle.base_url.clone();
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
        assert_eq!(settings.rate_limits.rate_limit_login_per_ip, 0);
        assert_eq!(settings.rate_limits.rate_limit_login_burst, 3);
        assert_eq!(settings.rate_limits.rate_limit_phone_per_user, 7);
        assert_eq!(settings.rate_limits.rate_limit_phone_burst, 2);
        assert_eq!(settings.rate_limits.rate_limit_phone_per_ip, 0);
        assert_eq!(
            settings.rate_limits.rate_limit_period,
            Duration::from_secs(30)
        );
        assert!(settings.rate_limits.trust_forwarded_for);
    }

    #[test]
    fn connection_flags_reach_the_settings() {
        let defaults = settings(&[]);
        assert_eq!(defaults.http.idle_timeout, Duration::from_secs(60));
        assert_eq!(defaults.http.max_connections, 10_000);
        assert_eq!(defaults.http.max_connections_per_ip, 0);
        assert_eq!(defaults.http.shutdown_timeout, Duration::from_secs(10));
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
        assert_eq!(settings.http.idle_timeout, Duration::from_secs(5));
        assert_eq!(settings.http.max_connections, 300);
        assert_eq!(settings.http.max_connections_per_ip, 20);
        assert_eq!(settings.http.shutdown_timeout, Duration::from_secs(3));
    }

    #[test]
    fn webhook_flags_reach_the_settings() {
        let defaults = settings(&[]);
        assert!(defaults.webhooks.is_empty());
        assert_eq!(
            defaults.webhook_delivery.webhook_timeout,
            Duration::from_secs(5)
        );
        assert_eq!(
            defaults.webhook_delivery.event_retention,
            Duration::from_secs(604_800)
        );
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
        assert_eq!(
            settings.webhook_delivery.webhook_timeout,
            Duration::from_secs(2)
        );
        assert_eq!(
            settings.webhook_delivery.webhook_poll_interval_ms,
            Duration::from_millis(250)
        );
        assert_eq!(
            settings.webhook_delivery.event_retention,
            Duration::from_secs(3600)
        );
    }

    #[test]
    fn rate_limits_are_on_by_default() {
        let settings = settings(&[]);
        assert_eq!(settings.rate_limits.rate_limit_login_per_ip, 20);
        assert_eq!(settings.rate_limits.rate_limit_phone_per_user, 10);
        assert!(!settings.rate_limits.trust_forwarded_for);
    }

    #[test]
    fn the_phone_openid_is_sent_only_when_asked_for() {
        assert!(!settings(&[]).wechat.phone_send_openid);
        assert!(settings(&["--phone-send-openid"]).wechat.phone_send_openid);
    }

    #[test]
    fn access_token_cache_size_comes_from_the_flag_over_the_file() {
        assert_eq!(settings(&[]).tokens.access_token_cache_size, 10_000);
        assert_eq!(
            settings(&["--access-token-cache-size", "0"])
                .tokens
                .access_token_cache_size,
            0
        );
        let dir = std::env::temp_dir().join(format!("wxlogin-serve-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("cache.toml");
        std::fs::write(&file, "access_token_cache_size = 250\n").unwrap();
        let config = file.to_str().unwrap();
        assert_eq!(
            settings(&["--config", config])
                .tokens
                .access_token_cache_size,
            250
        );
        assert_eq!(
            settings(&["--config", config, "--access-token-cache-size", "7"])
                .tokens
                .access_token_cache_size,
            7
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The help shows each default as the settings' `Default` has it, in the flag's unit,
    /// and no default for the master key or the proxy switch.
    #[test]
    fn the_help_shows_the_defaults_in_the_flags_units() {
        use clap::CommandFactory;
        let command = Command::command();
        let help_of = |flag: &str| {
            let arg = command
                .get_arguments()
                .find(|arg| arg.get_long() == Some(flag));
            arg.and_then(|arg| arg.get_help()).unwrap().to_string()
        };
        assert_eq!(
            help_of("access-token-ttl"),
            "Access-token lifetime in seconds [default: 1800]"
        );
        assert_eq!(
            help_of("webhook-poll-interval-ms"),
            "How often an idle webhook worker looks for due deliveries, in milliseconds \
             [default: 1000]"
        );
        assert!(help_of("previous-master-key").contains("[default: none]"));
        assert!(help_of("access-token-alg").contains("[default: ES256]"));
        assert!(help_of("phone-send-openid").contains("[default: false]"));
        assert!(!help_of("master-key").contains("[default"));
        assert!(!help_of("trust-forwarded-for").contains("[default"));
    }
}
