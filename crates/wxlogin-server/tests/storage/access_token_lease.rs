//! The shared upstream access-token cache as the WeChat client's store: one refresh lease
//! across instances.

use std::sync::Arc;
use std::time::Duration;

use crate::helpers::fresh_stores;
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

/// WeChat's force-refresh limits are per AppID: every instance counts in one row, so N
/// instances together stay within 30 s spacing and 20 a day.
#[tokio::test]
async fn force_refreshes_are_counted_once_for_every_instance() {
    for db in crate::helpers::fresh_stores().await {
        let first = db.store.clone();
        let second = db.another_instance().await;
        let day = 20_000;
        let t = 1_700_000_000;
        let reserve = |store: &wxlogin_server::storage::Store, day: i64, at: i64| {
            let store = store.clone();
            async move {
                store
                    .reserve_force_refresh("wxapp", day, at, 30, 20)
                    .await
                    .unwrap()
            }
        };
        assert!(reserve(&first, day, t).await, "{}", db.label);
        assert!(
            !reserve(&second, day, t + 10).await,
            "{}: 30 s apart",
            db.label
        );
        assert!(!reserve(&first, day, t + 29).await);
        assert!(reserve(&second, day, t + 30).await);
        // Another app counts apart.
        assert!(db
            .store
            .reserve_force_refresh("wxother", day, t + 31, 30, 20)
            .await
            .unwrap());
        // 18 more today, alternating instances: the 21st is refused, tomorrow is a new day.
        for n in 2..20 {
            let store = if n % 2 == 0 { &first } else { &second };
            assert!(
                reserve(store, day, t + 30 * n).await,
                "{}: attempt {n}",
                db.label
            );
        }
        assert!(
            !reserve(&first, day, t + 30 * 20).await,
            "{}: the 21st",
            db.label
        );
        assert!(reserve(&second, day + 1, t + 30 * 21).await, "{}", db.label);
    }
}
