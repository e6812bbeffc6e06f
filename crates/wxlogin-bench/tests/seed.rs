//! Seeded rows are what the server itself would have written: its own session service
//! accepts the seeded access tokens and rotates the seeded refresh tokens, and the counts
//! are exact.
use std::time::Duration;

use wxlogin_bench::seed::{seed, SeedPlan};
use wxlogin_server::at_rest::MasterKey;
use wxlogin_server::sessions::{SessionPolicy, Sessions};
use wxlogin_server::storage::{unix_now, Store, StoreOptions};
use wxlogin_server::tokens::{KeyPolicy, SigningKeys};

const APPID: &str = "wxbench0000000001";

#[tokio::test]
async fn the_server_accepts_what_was_seeded() {
    let file = std::env::temp_dir().join(format!("wxlogin-seed-{}.db", uuid::Uuid::new_v4()));
    let database_url = format!("sqlite://{}", file.display());
    let master_key = MasterKey::generate().expose_base64().to_string();
    let plan = SeedPlan {
        database_url: database_url.clone(),
        master_key: master_key.clone(),
        appid: APPID.into(),
        issuer: "wxlogin".into(),
        users: 120,
        sampled: 10,
        access_token_ttl: Duration::from_secs(1800),
        refresh_token_ttl: Duration::from_secs(3600),
    };
    let tokens = seed(&plan).await.unwrap();
    assert_eq!(tokens.access_tokens.len(), 10);
    assert_eq!(tokens.refresh_tokens.len(), 10);

    let store = Store::connect(
        &database_url,
        &StoreOptions::default(),
        MasterKey::from_base64(&master_key).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(store.count_users().await.unwrap(), 120);
    let keys = SigningKeys::load(store.clone(), KeyPolicy::default())
        .await
        .unwrap();
    let sessions = Sessions::new(store, keys, SessionPolicy::new([APPID.to_string()]));
    let now = unix_now();
    assert_eq!(sessions.count_active_sessions(now).await.unwrap(), 120);

    let mut users = std::collections::BTreeSet::new();
    for access_token in &tokens.access_tokens {
        let caller = sessions.authenticate(access_token, now).await.unwrap();
        assert_eq!(caller.appid, APPID);
        users.insert(caller.user_id);
    }
    assert_eq!(
        users.len(),
        10,
        "each sampled token belongs to its own user"
    );
    for refresh_token in &tokens.refresh_tokens {
        let (pair, user) = sessions.refresh(refresh_token, now).await.unwrap();
        assert_ne!(pair.refresh_token, *refresh_token);
        assert!(users.contains(&user.id));
    }
    let _ = std::fs::remove_file(&file);
}
