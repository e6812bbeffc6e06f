//! File and flag precedence, the defaults of the contract, validation, and no secret in
//! a message or a `Debug`.
use std::time::Duration;

use super::*;

#[test]
fn toml_file_gives_apps_and_other_settings() {
    let layer = SettingsLayer::from_toml_str(
        r#"
        listen = "0.0.0.0:9000"
        code_retry_window = 5
        log_format = "json"
        db_max_connections = 3
        db_acquire_timeout = 1
        access_token_cache_size = 0

        [[apps]]
        appid = "wx1111111111111111"
        secret = "s1"

        [[apps]]
        appid = "wx2222222222222222"
        secret = "s2"
        "#,
    )
    .unwrap();
    let settings = layer.resolve();
    assert_eq!(settings.http.listen, "0.0.0.0:9000");
    assert_eq!(settings.wechat.code_retry_window, Duration::from_secs(5));
    assert_eq!(settings.log.log_format, LogFormat::Json);
    assert_eq!(settings.database.db_max_connections, 3);
    assert_eq!(settings.database.db_acquire_timeout, Duration::from_secs(1));
    assert_eq!(
        settings.database.db_statement_timeout,
        DatabaseSettings::default().db_statement_timeout
    );
    assert_eq!(settings.tokens.access_token_cache_size, 0);
    assert_eq!(settings.apps.len(), 2);
    assert_eq!(settings.apps[1].secret.expose(), "s2");
    assert_eq!(
        settings.tokens.access_token_ttl,
        TokenSettings::default().access_token_ttl
    );
    settings.validate().unwrap();
}

#[test]
fn flags_win_over_file_and_apps_are_merged() {
    let flags = SettingsLayer {
        http: HttpLayer {
            listen: Some("127.0.0.1:0".to_owned()),
            ..Default::default()
        },
        apps: vec![AppEntry {
            appid: "wxaaaaaaaaaaaaaaaa".to_owned(),
            secret: "a".to_owned().into(),
        }],
        ..Default::default()
    };
    let file = SettingsLayer {
        http: HttpLayer {
            listen: Some("0.0.0.0:1".to_owned()),
            ..Default::default()
        },
        tokens: TokenLayer {
            issuer: Some("https://login.example".to_owned()),
            ..Default::default()
        },
        apps: vec![AppEntry {
            appid: "wxbbbbbbbbbbbbbbbb".to_owned(),
            secret: "b".to_owned().into(),
        }],
        ..Default::default()
    };
    let settings = flags.or(file).resolve();
    assert_eq!(settings.http.listen, "127.0.0.1:0");
    assert_eq!(settings.tokens.issuer, "https://login.example");
    let appids: Vec<_> = settings.apps.iter().map(|a| a.appid.as_str()).collect();
    assert_eq!(appids, ["wxaaaaaaaaaaaaaaaa", "wxbbbbbbbbbbbbbbbb"]);
}

#[test]
fn defaults_match_the_contract() {
    let settings = SettingsLayer::default().resolve();
    assert_eq!(settings.http.listen, "127.0.0.1:8080");
    assert_eq!(settings.database.database_url, "sqlite://wxlogin.db");
    assert_eq!(settings.wechat.wechat_base_url, "https://api.weixin.qq.com");
    assert_eq!(settings.tokens.access_token_ttl, Duration::from_secs(1800));
    assert_eq!(
        settings.tokens.refresh_token_ttl,
        Duration::from_secs(2_592_000)
    );
    assert_eq!(settings.wechat.code_retry_window, Duration::from_secs(60));
    assert_eq!(settings.http.body_limit, 65_536);
    assert_eq!(settings.rate_limits.rate_limit_login_per_ip, 20);
    assert_eq!(settings.rate_limits.rate_limit_login_burst, 10);
    assert_eq!(settings.rate_limits.rate_limit_phone_per_user, 10);
    assert_eq!(settings.rate_limits.rate_limit_phone_per_ip, 30);
    assert_eq!(
        settings.rate_limits.rate_limit_period,
        Duration::from_secs(60)
    );
    assert!(!settings.rate_limits.trust_forwarded_for);
    assert_eq!(settings.tokens.access_token_cache_size, 10_000);
    assert!(settings.webhooks.is_empty());
    assert_eq!(
        settings.webhook_delivery.webhook_timeout,
        Duration::from_secs(5)
    );
    assert_eq!(
        settings.webhook_delivery.event_retention,
        Duration::from_secs(604_800)
    );
}

#[test]
fn rate_limits_come_from_the_file_and_zero_period_is_refused() {
    let layer = SettingsLayer::from_toml_str(
        "rate_limit_login_per_ip = 0\nrate_limit_phone_burst = 2\ntrust_forwarded_for = true\nrate_limit_period = 0\n[[apps]]\nappid = \"wxaaaaaaaaaaaaaaaa\"\nsecret = \"a\"\n",
    )
    .unwrap();
    let mut settings = layer.resolve();
    assert_eq!(settings.rate_limits.rate_limit_login_per_ip, 0);
    assert_eq!(settings.rate_limits.rate_limit_phone_burst, 2);
    assert!(settings.rate_limits.trust_forwarded_for);
    assert!(settings.validate().is_err());
    settings.rate_limits.rate_limit_period = Duration::from_secs(1);
    settings.validate().unwrap();
}

#[test]
fn connection_limits_come_from_the_file_and_zero_idle_or_cap_is_refused() {
    let layer = SettingsLayer::from_toml_str(
        "idle_timeout = 0\nmax_connections = 500\nmax_connections_per_ip = 8\nshutdown_timeout = 0\n[[apps]]\nappid = \"wxaaaaaaaaaaaaaaaa\"\nsecret = \"a\"\n",
    )
    .unwrap();
    let mut settings = layer.resolve();
    assert_eq!(settings.http.max_connections, 500);
    assert_eq!(settings.http.max_connections_per_ip, 8);
    // No drain at all is a valid choice; no idle time is not.
    assert_eq!(settings.http.shutdown_timeout, Duration::ZERO);
    assert!(settings.validate().is_err());
    settings.http.idle_timeout = Duration::from_secs(1);
    settings.validate().unwrap();
    settings.http.max_connections = 0;
    assert!(settings.validate().is_err());
}

#[test]
fn a_limit_with_more_requests_than_its_period_has_nanoseconds_is_refused_unless_off() {
    let mut settings = SettingsLayer::default().resolve();
    settings.apps = vec![AppCredentials::new("wxaaaaaaaaaaaaaaaa", "a")];
    settings.rate_limits.rate_limit_period = Duration::from_nanos(5);
    settings.rate_limits.rate_limit_login_per_ip = 10;
    settings.rate_limits.rate_limit_phone_per_user = 0;
    settings.rate_limits.rate_limit_phone_per_ip = 0;
    let error = settings.validate().unwrap_err().to_string();
    assert!(error.contains("nanoseconds"), "{error}");
    settings.rate_limits.rate_limit_login_per_ip = 5;
    settings.validate().unwrap();
    settings.rate_limits.rate_limit_login_per_ip = 0;
    settings.validate().unwrap();
}

#[test]
fn validation_refuses_missing_duplicate_and_empty_secret_apps() {
    let mut settings = SettingsLayer::default().resolve();
    assert!(settings.validate().is_err());
    settings.apps = vec![
        AppCredentials::new("wxaaaaaaaaaaaaaaaa", "a"),
        AppCredentials::new("wxaaaaaaaaaaaaaaaa", "b"),
    ];
    assert!(settings
        .validate()
        .unwrap_err()
        .to_string()
        .contains("twice"));
    settings.apps = vec![AppCredentials::new("wxaaaaaaaaaaaaaaaa", " ")];
    assert!(settings
        .validate()
        .unwrap_err()
        .to_string()
        .contains("empty"));
}

#[test]
fn toml_errors_do_not_quote_values() {
    let error = SettingsLayer::from_toml_str("master_key = 12345678\n").unwrap_err();
    assert!(!error.contains("12345678"), "{error}");
    assert!(error.contains("line 1"), "{error}");
}

#[test]
fn webhooks_come_from_the_flag_and_the_file_and_are_checked() {
    let flags = SettingsLayer {
        webhook_url: Some("https://hooks.example/a".to_owned()),
        webhook_secret: Some("flag-secret".to_owned().into()),
        ..Default::default()
    };
    let file = SettingsLayer::from_toml_str(
        "webhook_timeout = 2\nevent_retention = 60\n[[apps]]\nappid = \"wxaaaaaaaaaaaaaaaa\"\nsecret = \"a\"\n\
         [[webhooks]]\nurl = \"http://127.0.0.1:9/b\"\nsecret = \"file-secret\"\nevents = [\"user.created\"]\n",
    )
    .unwrap();
    let mut settings = flags.or(file).resolve();
    assert_eq!(settings.webhooks.len(), 2);
    assert_eq!(settings.webhooks[0].url, "https://hooks.example/a");
    assert_eq!(settings.webhooks[0].secret, "flag-secret");
    assert_eq!(settings.webhooks[0].events, None);
    assert_eq!(
        settings.webhooks[1].events,
        Some(vec!["user.created".to_owned()])
    );
    assert_eq!(
        settings.webhook_delivery.webhook_timeout,
        Duration::from_secs(2)
    );
    assert_eq!(
        settings.webhook_delivery.event_retention,
        Duration::from_secs(60)
    );
    settings.validate().unwrap();
    assert!(!format!("{settings:?}").contains("flag-secret"));
    assert!(!format!("{settings:?}").contains("file-secret"));

    settings.webhooks[1].events = Some(vec!["user.nope".to_owned()]);
    let error = settings.validate().unwrap_err().to_string();
    assert!(error.contains("unknown event type"), "{error}");
    settings.webhooks[1].events = None;
    settings.webhooks[1].secret = " ".to_owned();
    assert!(settings
        .validate()
        .unwrap_err()
        .to_string()
        .contains("secret"));
    settings.webhooks[1].secret = "s".to_owned();
    settings.webhooks[1].url = "ftp://x".to_owned();
    assert!(settings.validate().is_err());
    settings.webhooks[1].url = settings.webhooks[0].url.clone();
    assert!(settings
        .validate()
        .unwrap_err()
        .to_string()
        .contains("twice"));
}

#[test]
fn a_webhook_url_without_its_secret_is_refused() {
    let mut settings = SettingsLayer {
        webhook_url: Some("https://hooks.example/a".to_owned()),
        ..Default::default()
    }
    .resolve();
    settings.apps = vec![AppCredentials::new("wxaaaaaaaaaaaaaaaa", "a")];
    assert!(settings
        .validate()
        .unwrap_err()
        .to_string()
        .contains("secret"));
}

#[test]
fn secrets_are_not_in_debug_output() {
    let layer = SettingsLayer::from_toml_str(
        "master_key = \"TOPSECRETKEY\"\nprevious_master_key = \"OLDSECRETKEY\"\nwebhook_url = \"https://hooks.example/in\"\nwebhook_secret = \"HOOKSECRET99\"\n[[apps]]\nappid = \"wxaaaaaaaaaaaaaaaa\"\nsecret = \"APPSECRET123\"\n",
    )
    .unwrap();
    let resolved = layer.clone().resolve();
    assert_eq!(
        resolved
            .database
            .previous_master_key
            .as_ref()
            .map(|key| key.expose()),
        Some("OLDSECRETKEY")
    );
    let debug = format!("{layer:?} {resolved:?}");
    assert!(!debug.contains("TOPSECRETKEY"), "{debug}");
    assert!(!debug.contains("OLDSECRETKEY"), "{debug}");
    assert!(!debug.contains("APPSECRET123"), "{debug}");
    assert!(!debug.contains("HOOKSECRET99"), "{debug}");
}

#[test]
fn toml_errors_point_at_the_line_of_the_key() {
    let unknown = SettingsLayer::from_toml_str("listen = \"a\"\n\nbogus = 1\n").unwrap_err();
    assert!(
        unknown.starts_with("unknown field …, expected one of …, …"),
        "{unknown}"
    );
    assert!(unknown.ends_with(" at line 3"), "{unknown}");
    let known = unknown.matches('…').count() - 1;
    assert_eq!(known, file::FILE_KEYS.len());
    let wrong_type = SettingsLayer::from_toml_str("\n\nidle_timeout = \"x\"\n").unwrap_err();
    assert_eq!(
        wrong_type,
        "invalid type: string \"x\", expected u64 at line 3"
    );
}
