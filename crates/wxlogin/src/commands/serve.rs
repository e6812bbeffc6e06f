//! `wxlogin serve`: the login server. Flags fall back to `WXLOGIN_*` variables, then to
//! the TOML file of `--config`, then to the defaults of the contract.
//!
//! Prints, on stdout, lines that scripts parse: `listening on http://ADDR`, and with
//! `--sim` also `simulator on http://ADDR`, `demo appid APPID`, a curl line to try, and
//! `console on http://ADDR/admin/` with `console key KEY` (a development console key).
use std::path::PathBuf;

use anyhow::{bail, Context};
use wxlogin_crypto::Redacted;
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
    pub secret: Option<Redacted<String>>,
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
        args.secret.as_ref().map(|secret| secret.expose().as_str()),
        database.master_key.as_ref().map(MasterKeyText::expose),
        database
            .previous_master_key
            .as_ref()
            .map(MasterKeyText::expose),
        args.settings
            .webhook_secret
            .as_ref()
            .map(|secret| secret.expose().as_str()),
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
mod tests;
