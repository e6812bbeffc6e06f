//! `wxlogin webhooks list` and `wxlogin webhooks retry ID`, run as the real binary against
//! a SQLite database the server library populated.
use std::process::Command;

use wxlogin_server::at_rest::MasterKey;
use wxlogin_server::storage::{
    unix_now, AttemptOutcome, DeliveryStatus, Store, StoreOptions, Subscription,
};

fn wxlogin(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_wxlogin"))
        .args(args)
        .env_remove("WXLOGIN_DATABASE_URL")
        .output()
        .expect("wxlogin runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn list_shows_deliveries_without_url_credentials_and_retry_revives_only_a_dead_one() {
    let dir = std::env::temp_dir().join(format!("wxlogin-webhooks-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}", dir.join("w.db").display());
    let webhook = "https://hooks.example/in?token=hunter2".to_owned();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (dead_id, delivered_id, event_id) = runtime.block_on(async {
        let store = Store::connect(&url, &StoreOptions::default(), MasterKey::generate())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let now = unix_now();
        let subscription = Subscription {
            webhook: webhook.clone(),
            event_types: None,
        };
        store
            .sync_webhook_subscriptions(&[subscription], now)
            .await
            .unwrap();
        store
            .find_or_create_user("wxappA", "openid-alice", None, now)
            .await
            .unwrap();
        store
            .find_or_create_user("wxappA", "openid-bob", None, now)
            .await
            .unwrap();
        let leased = store
            .lease_webhook_deliveries("test", std::slice::from_ref(&webhook), 10, now, now + 60)
            .await
            .unwrap();
        assert_eq!(leased.len(), 2);
        let dead = AttemptOutcome::Dead {
            error: "HTTP 503".to_owned(),
        };
        store
            .finish_webhook_attempt(leased[0].id, "test", &dead, now)
            .await
            .unwrap();
        store
            .finish_webhook_attempt(leased[1].id, "test", &AttemptOutcome::Delivered, now)
            .await
            .unwrap();
        (leased[0].id, leased[1].id, leased[0].event.id.clone())
    });

    let (ok, stdout, stderr) = wxlogin(&["webhooks", "list", "--database-url", &url]);
    assert!(ok, "{stderr}");
    for column in [
        "ID",
        "EVENT",
        "TYPE",
        "WEBHOOK",
        "STATUS",
        "ATTEMPTS",
        "NEXT ATTEMPT",
        "LAST ERROR",
    ] {
        assert!(stdout.contains(column), "{column} in {stdout}");
    }
    let dead_line = stdout
        .lines()
        .find(|line| line.contains(&event_id))
        .unwrap_or_else(|| panic!("{event_id} in {stdout}"));
    assert!(dead_line.contains("user.created"), "{dead_line}");
    assert!(dead_line.contains("dead"), "{dead_line}");
    assert!(dead_line.contains("HTTP 503"), "{dead_line}");
    assert!(
        dead_line.contains("https://hooks.example/in?redacted"),
        "{dead_line}"
    );
    assert!(!stdout.contains("hunter2"), "{stdout}");

    let (ok, _, stderr) = wxlogin(&[
        "webhooks",
        "retry",
        &delivered_id.to_string(),
        "--database-url",
        &url,
    ]);
    assert!(!ok);
    assert!(stderr.contains("delivered, not dead"), "{stderr}");
    let (ok, _, stderr) = wxlogin(&["webhooks", "retry", "999999", "--database-url", &url]);
    assert!(!ok);
    assert!(stderr.contains("no webhook delivery 999999"), "{stderr}");
    let (ok, stdout, stderr) = wxlogin(&[
        "webhooks",
        "retry",
        &dead_id.to_string(),
        "--database-url",
        &url,
    ]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("pending again"), "{stdout}");

    runtime.block_on(async {
        let store = Store::connect(&url, &StoreOptions::default(), MasterKey::generate())
            .await
            .unwrap();
        let revived = store.webhook_delivery(dead_id).await.unwrap().unwrap();
        assert_eq!(revived.status, DeliveryStatus::Pending);
        assert!(revived.next_attempt_at <= unix_now());
        assert!(revived.give_up_at > unix_now() + 23 * 3600);
    });
    std::fs::remove_dir_all(&dir).unwrap();
}
