//! The flags reach the settings, over the file, with the defaults the help shows.
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
