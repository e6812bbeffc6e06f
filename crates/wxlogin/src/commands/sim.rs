//! `wxlogin sim`: the WeChat API simulator as a standalone server.
use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Context};
use tokio::net::TcpListener;
use wxlogin_sim::{Endpoint, FaultConfig, RateLimits, SimApp, SimConfig, Simulator};

#[derive(clap::Args, Debug)]
pub struct SimArgs {
    /// Address to listen on (port 0 picks a free one; the bound address is printed).
    #[arg(long, env = "WXLOGIN_SIM_LISTEN", default_value = "127.0.0.1:8090")]
    pub listen: String,
    /// A mini program the simulator accepts, as APPID:SECRET (repeatable). Without any,
    /// the demo app is registered and its appid and secret are printed.
    #[arg(long = "app", value_name = "APPID:SECRET")]
    pub apps: Vec<String>,
    /// Put an app into an open-platform account, as APPID=ACCOUNT (repeatable). Apps of one
    /// account share each user's unionid; apps of none get no unionid.
    #[arg(long = "open-platform", value_name = "APPID=ACCOUNT")]
    pub open_platforms: Vec<String>,
    /// Keep a user's session_key across logins instead of rotating it on each code exchange.
    #[arg(long)]
    pub keep_session_key: bool,
    /// Milliseconds added to every WeChat-side answer.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Share (0..=1) of WeChat-side calls answered `-1 system error`.
    #[arg(long, default_value_t = 0.0)]
    pub busy_ratio: f64,
    /// Share (0..=1) of WeChat-side calls whose connection is closed without an answer.
    #[arg(long, default_value_t = 0.0)]
    pub drop_ratio: f64,
    /// Make an endpoint always answer an errcode, as ENDPOINT=ERRCODE (repeatable), e.g.
    /// jscode2session=45011. Endpoints: jscode2session, token, stable_token,
    /// getuserphonenumber, checksession, resetusersessionkey.
    #[arg(long = "force-errcode", value_name = "ENDPOINT=ERRCODE")]
    pub force_errcodes: Vec<String>,
    /// Change a frequency limit, as NAME=VALUE (repeatable), e.g.
    /// jscode2session_per_user_per_minute=5. Names are the fields of wxlogin_sim::RateLimits.
    #[arg(long = "limit", value_name = "NAME=VALUE")]
    pub limits: Vec<String>,
}

pub fn run(args: SimArgs) -> anyhow::Result<()> {
    let (config, limits) = simulator_config(&args)?;
    // Every answer is logged at debug level: RUST_LOG=wxlogin_sim=debug shows each call.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(serve(args.listen, config, limits))
}

async fn serve(listen: String, config: SimConfig, limits: RateLimits) -> anyhow::Result<()> {
    let listener = TcpListener::bind(&listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let apps: Vec<SimApp> = config.apps.clone();
    let simulator = Simulator::with_limits(config, limits);
    println!("simulator on http://{addr}");
    for app in &apps {
        if app == &SimApp::demo() {
            println!("demo app: appid {} secret {}", app.appid, app.secret);
        } else {
            println!("app: appid {}", app.appid);
        }
    }
    tokio::select! {
        served = simulator.serve(listener) => served.context("simulator stopped")?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}

fn simulator_config(args: &SimArgs) -> anyhow::Result<(SimConfig, RateLimits)> {
    let mut apps = Vec::new();
    for spec in &args.apps {
        let (appid, secret) = spec
            .split_once(':')
            .filter(|(appid, secret)| !appid.is_empty() && !secret.is_empty())
            .ok_or_else(|| anyhow!("--app expects APPID:SECRET, got {:?}", redact_secret(spec)))?;
        if apps.iter().any(|app: &SimApp| app.appid == appid) {
            bail!("--app {appid} given twice");
        }
        apps.push(SimApp::new(appid, secret));
    }
    if apps.is_empty() {
        apps.push(SimApp::demo());
    }
    for spec in &args.open_platforms {
        let (appid, account) = spec
            .split_once('=')
            .filter(|(appid, account)| !appid.is_empty() && !account.is_empty())
            .ok_or_else(|| anyhow!("--open-platform expects APPID=ACCOUNT, got {spec:?}"))?;
        let app = apps
            .iter_mut()
            .find(|app| app.appid == appid)
            .ok_or_else(|| anyhow!("--open-platform names {appid}, which no --app registers"))?;
        app.open_platform = Some(account.to_owned());
    }

    let mut forced_errcodes = BTreeMap::new();
    for spec in &args.force_errcodes {
        let (name, errcode) = spec
            .split_once('=')
            .ok_or_else(|| anyhow!("--force-errcode expects ENDPOINT=ERRCODE, got {spec:?}"))?;
        let endpoint = Endpoint::from_name(name).ok_or_else(|| {
            let known: Vec<&str> = Endpoint::ALL
                .iter()
                .map(|endpoint| endpoint.name())
                .collect();
            anyhow!(
                "--force-errcode: unknown endpoint {name:?}; known: {}",
                known.join(", ")
            )
        })?;
        let errcode: i64 = errcode
            .parse()
            .with_context(|| format!("--force-errcode {name}: {errcode:?} is not an integer"))?;
        forced_errcodes.insert(endpoint, errcode);
    }
    let faults = FaultConfig {
        latency_ms: args.latency_ms,
        busy_ratio: args.busy_ratio,
        drop_ratio: args.drop_ratio,
        forced_errcodes,
    };
    faults.validate()?;

    let config = SimConfig {
        apps,
        keep_session_key: args.keep_session_key,
        faults,
    };
    Ok((config, rate_limits(&args.limits)?))
}

/// Apply NAME=VALUE overrides to the documented defaults, by field name.
fn rate_limits(overrides: &[String]) -> anyhow::Result<RateLimits> {
    let mut limits = serde_json::to_value(RateLimits::default())?;
    for spec in overrides {
        let (name, value) = spec
            .split_once('=')
            .ok_or_else(|| anyhow!("--limit expects NAME=VALUE, got {spec:?}"))?;
        let slot = limits
            .get_mut(name)
            .ok_or_else(|| anyhow!("--limit: unknown limit {name:?}"))?;
        let value: u64 = value
            .parse()
            .with_context(|| format!("--limit {name}: {value:?} is not a non-negative integer"))?;
        *slot = value.into();
    }
    serde_json::from_value(limits).context("--limit: value out of range")
}

/// Error messages show the appid part only.
fn redact_secret(spec: &str) -> String {
    match spec.split_once(':') {
        Some((appid, _)) => format!("{appid}:<redacted>"),
        None => "<not APPID:SECRET>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        sim: SimArgs,
    }

    fn parse(args: &[&str]) -> anyhow::Result<(SimConfig, RateLimits)> {
        let cli = Cli::try_parse_from(std::iter::once("sim").chain(args.iter().copied()))?;
        simulator_config(&cli.sim)
    }

    #[test]
    fn without_apps_the_demo_app_is_registered() {
        let (config, limits) = parse(&[]).unwrap();
        assert_eq!(config.apps, vec![SimApp::demo()]);
        assert_eq!(limits, RateLimits::default());
        assert!(!config.keep_session_key);
    }

    #[test]
    fn apps_open_platforms_faults_and_limits_come_from_flags() {
        let (config, limits) = parse(&[
            "--app",
            "wxA:secretA",
            "--app",
            "wxB:secretB",
            "--app",
            "wxC:secretC",
            "--open-platform",
            "wxA=acme",
            "--open-platform",
            "wxB=acme",
            "--keep-session-key",
            "--latency-ms",
            "20",
            "--busy-ratio",
            "0.1",
            "--drop-ratio",
            "0.2",
            "--force-errcode",
            "jscode2session=45011",
            "--limit",
            "jscode2session_per_user_per_minute=5",
        ])
        .unwrap();
        let platforms: Vec<Option<&str>> = config
            .apps
            .iter()
            .map(|app| app.open_platform.as_deref())
            .collect();
        assert_eq!(platforms, [Some("acme"), Some("acme"), None]);
        assert_eq!(config.apps[1].secret, "secretB");
        assert!(config.keep_session_key);
        assert_eq!(config.faults.latency_ms, 20);
        assert_eq!(config.faults.busy_ratio, 0.1);
        assert_eq!(config.faults.drop_ratio, 0.2);
        assert_eq!(
            config.faults.forced_errcodes.get(&Endpoint::Jscode2session),
            Some(&45011)
        );
        assert_eq!(limits.jscode2session_per_user_per_minute, 5);
        assert_eq!(
            limits.stable_token_per_app_per_day,
            RateLimits::default().stable_token_per_app_per_day
        );
    }

    #[test]
    fn bad_flags_are_explained_without_leaking_secrets() {
        let error = parse(&["--app", "wxA"]).unwrap_err().to_string();
        assert!(error.contains("APPID:SECRET"), "{error}");
        let error = parse(&["--app", "wxA:"]).unwrap_err().to_string();
        assert!(error.contains("wxA:<redacted>"), "{error}");
        assert!(parse(&["--app", "wxA:s", "--open-platform", "wxB=acme"]).is_err());
        assert!(parse(&["--force-errcode", "nowhere=1"]).is_err());
        assert!(parse(&["--busy-ratio", "1.5"]).is_err());
        assert!(parse(&["--limit", "no_such_limit=1"]).is_err());
        assert!(parse(&["--limit", "force_refresh_per_app_per_day=-1"]).is_err());
        assert!(parse(&["--app", "wxA:s", "--app", "wxA:t"]).is_err());
    }
}
