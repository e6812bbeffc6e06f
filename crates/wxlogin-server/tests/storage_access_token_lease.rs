//! The shared upstream access-token cache as the WeChat client's store: one refresh lease
//! across instances.
mod storage_support;

use std::sync::Arc;
use std::time::Duration;

use storage_support::fresh_stores;
use wxlogin_client::{AccessTokenStore, StoredAccessToken};
use wxlogin_server::storage::DatabaseAccessTokenStore;

#[tokio::test]
async fn only_one_instance_holds_the_lease_until_released_or_expired() {
    for db in fresh_stores().await {
        let first = db.store.clone();
        let second = db.another_instance().await;
        let ttl = Duration::from_secs(10);
        assert!(first
            .try_acquire_refresh_lease("wxapp", "instance-1", ttl, 1_000_000)
            .await
            .unwrap());
        assert!(
            !second
                .try_acquire_refresh_lease("wxapp", "instance-2", ttl, 1_000_500)
                .await
                .unwrap(),
            "{}",
            db.label
        );
        // Re-entrant for the holder; other apps are independent.
        assert!(first
            .try_acquire_refresh_lease("wxapp", "instance-1", ttl, 1_001_000)
            .await
            .unwrap());
        assert!(second
            .try_acquire_refresh_lease("wxother", "instance-2", ttl, 1_001_000)
            .await
            .unwrap());
        // Release by a non-holder does nothing.
        second
            .release_refresh_lease("wxapp", "instance-2")
            .await
            .unwrap();
        assert!(!second
            .try_acquire_refresh_lease("wxapp", "instance-2", ttl, 1_002_000)
            .await
            .unwrap());
        // Expired (holder crashed): the next taker gets it.
        assert!(
            second
                .try_acquire_refresh_lease("wxapp", "instance-2", ttl, 1_011_000)
                .await
                .unwrap(),
            "{}",
            db.label
        );
        assert!(!first
            .try_acquire_refresh_lease("wxapp", "instance-1", ttl, 1_012_000)
            .await
            .unwrap());
        second
            .release_refresh_lease("wxapp", "instance-2")
            .await
            .unwrap();
        assert!(first
            .try_acquire_refresh_lease("wxapp", "instance-1", ttl, 1_012_000)
            .await
            .unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_lease_attempts_through_the_client_trait_have_one_winner() {
    for db in fresh_stores().await {
        let first: Arc<dyn AccessTokenStore> =
            Arc::new(DatabaseAccessTokenStore::new(db.store.clone()));
        let second: Arc<dyn AccessTokenStore> =
            Arc::new(DatabaseAccessTokenStore::new(db.another_instance().await));
        let mut tasks = Vec::new();
        for task in 0..20 {
            let store = if task % 2 == 0 {
                first.clone()
            } else {
                second.clone()
            };
            tasks.push(tokio::spawn(async move {
                store
                    .try_acquire_refresh_lease(
                        "wxapp",
                        &format!("holder-{task}"),
                        Duration::from_secs(30),
                    )
                    .await
            }));
        }
        let mut winners = 0;
        for task in tasks {
            if task.await.unwrap().unwrap() {
                winners += 1;
            }
        }
        assert_eq!(winners, 1, "{}", db.label);

        let token = StoredAccessToken {
            token: "TOKEN-FROM-WECHAT".into(),
            expires_at_unix: 4_000_000_000,
        };
        first.save("wxapp", &token).await.unwrap();
        assert_eq!(
            second.load("wxapp").await.unwrap(),
            Some(token),
            "{}: shared by instances",
            db.label
        );
        second
            .invalidate_if_current("wxapp", "TOKEN-FROM-WECHAT")
            .await
            .unwrap();
        assert_eq!(first.load("wxapp").await.unwrap(), None);
    }
}
