//! Users and identities on every backend: one user under concurrent first logins,
//! unionid linking across apps, profile and phone updates, admin listing.

use std::collections::HashSet;

use crate::helpers::fresh_stores;
use wxlogin_server::storage::PhoneNumber;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_logins_of_one_identity_create_exactly_one_user() {
    for db in fresh_stores().await {
        let second_instance = db.another_instance().await;
        let mut tasks = Vec::new();
        for task in 0..50 {
            let store = if task % 2 == 0 {
                db.store.clone()
            } else {
                second_instance.clone()
            };
            tasks.push(tokio::spawn(async move {
                store
                    .find_or_create_user("wxapp1", "openid-1", None, 1_700_000_000)
                    .await
                    .map(|user| user.id)
            }));
        }
        let mut ids = HashSet::new();
        for task in tasks {
            ids.insert(
                task.await
                    .unwrap()
                    .unwrap_or_else(|error| panic!("{}: {error}", db.label)),
            );
        }
        assert_eq!(ids.len(), 1, "{}: one user for one identity", db.label);
        assert_eq!(
            db.store.count_users().await.unwrap(),
            1,
            "{}: no orphan users",
            db.label
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_logins_with_one_unionid_on_two_apps_share_one_user() {
    for db in fresh_stores().await {
        let second_instance = db.another_instance().await;
        let mut tasks = Vec::new();
        for task in 0..40 {
            let store = if task % 2 == 0 {
                db.store.clone()
            } else {
                second_instance.clone()
            };
            let (appid, openid) = if task % 4 < 2 {
                ("wxappA", "oA")
            } else {
                ("wxappB", "oB")
            };
            tasks.push(tokio::spawn(async move {
                store
                    .find_or_create_user(appid, openid, Some("union-1"), 1_700_000_000)
                    .await
                    .map(|user| user.id)
            }));
        }
        let mut ids = HashSet::new();
        for task in tasks {
            ids.insert(
                task.await
                    .unwrap()
                    .unwrap_or_else(|error| panic!("{}: {error}", db.label)),
            );
        }
        assert_eq!(ids.len(), 1, "{}", db.label);
        assert_eq!(db.store.count_users().await.unwrap(), 1, "{}", db.label);
    }
}

#[tokio::test]
async fn a_known_unionid_links_a_new_apps_identity_to_the_same_user() {
    for db in fresh_stores().await {
        let store = &db.store;
        let first = store
            .find_or_create_user("wxappA", "openid-A", Some("union-42"), 1_700_000_000)
            .await
            .unwrap();
        let second = store
            .find_or_create_user("wxappB", "openid-B", Some("union-42"), 1_700_000_100)
            .await
            .unwrap();
        assert_eq!(first.id, second.id, "{}", db.label);
        assert_eq!(
            (second.appid.as_str(), second.openid.as_str()),
            ("wxappB", "openid-B")
        );
        assert_eq!(second.unionid.as_deref(), Some("union-42"));
        assert_eq!(
            second.created_at, "2023-11-14T22:13:20Z",
            "user keeps its first creation time"
        );

        let stranger = store
            .find_or_create_user("wxappB", "openid-C", Some("union-other"), 1_700_000_200)
            .await
            .unwrap();
        assert_ne!(stranger.id, first.id);

        let record = store.user_record(&first.id).await.unwrap().unwrap();
        assert_eq!(
            record.identities,
            vec![
                ("wxappA".to_string(), "openid-A".to_string()),
                ("wxappB".to_string(), "openid-B".to_string())
            ]
        );
        // The user as seen from each app carries that app's openid.
        let seen_from_a = store
            .user(&first.id, "wxappA", "openid-A")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(seen_from_a.openid, "openid-A");
        assert!(store
            .user(&first.id, "wxappB", "openid-C")
            .await
            .unwrap()
            .is_none());
    }
}

#[tokio::test]
async fn a_unionid_arriving_later_is_recorded_and_then_links() {
    for db in fresh_stores().await {
        let store = &db.store;
        let without = store
            .find_or_create_user("wxappA", "oA", None, 1_700_000_000)
            .await
            .unwrap();
        assert_eq!(without.unionid, None);
        let with = store
            .find_or_create_user("wxappA", "oA", Some("u-7"), 1_700_000_050)
            .await
            .unwrap();
        assert_eq!(with.id, without.id, "{}", db.label);
        assert_eq!(with.unionid.as_deref(), Some("u-7"));
        let other_app = store
            .find_or_create_user("wxappB", "oB", Some("u-7"), 1_700_000_060)
            .await
            .unwrap();
        assert_eq!(
            other_app.id, without.id,
            "{}: linked through the recorded unionid",
            db.label
        );
        assert_eq!(store.count_users().await.unwrap(), 1);
    }
}

#[tokio::test]
async fn profile_and_phone_number_are_stored_on_the_user() {
    for db in fresh_stores().await {
        let store = &db.store;
        let user = store
            .find_or_create_user("wxappA", "oA", None, 1_700_000_000)
            .await
            .unwrap();
        assert!(store
            .update_profile(
                &user.id,
                Some("Alice"),
                Some("https://example.com/a.png"),
                1_700_000_010
            )
            .await
            .unwrap());
        // None leaves a field unchanged.
        assert!(store
            .update_profile(
                &user.id,
                None,
                Some("https://example.com/b.png"),
                1_700_000_020
            )
            .await
            .unwrap());
        let phone = PhoneNumber {
            phone_number: "13812345678".into(),
            pure_phone_number: "13812345678".into(),
            country_code: "86".into(),
        };
        assert!(store
            .set_phone_number(&user.id, &phone, 1_700_000_030)
            .await
            .unwrap());
        let seen = store.user(&user.id, "wxappA", "oA").await.unwrap().unwrap();
        assert_eq!(seen.nickname.as_deref(), Some("Alice"), "{}", db.label);
        assert_eq!(
            seen.avatar_url.as_deref(),
            Some("https://example.com/b.png")
        );
        assert_eq!(seen.phone_number.as_deref(), Some("13812345678"));
        let record = store.user_record(&user.id).await.unwrap().unwrap();
        assert_eq!(record.phone, Some(phone));
        assert_eq!(record.updated_at, 1_700_000_030);

        assert!(!store
            .update_profile("no-such-user", Some("x"), None, 1)
            .await
            .unwrap());
        assert!(store.user_record("no-such-user").await.unwrap().is_none());
    }
}

#[tokio::test]
async fn users_are_listed_oldest_first_with_paging() {
    for db in fresh_stores().await {
        let store = &db.store;
        let mut ids = Vec::new();
        for n in 0..5 {
            let user = store
                .find_or_create_user("wxappA", &format!("o{n}"), None, 1_700_000_000 + n)
                .await
                .unwrap();
            ids.push(user.id);
        }
        let first_page: Vec<String> = store
            .list_users(3, 0)
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.id)
            .collect();
        let second_page: Vec<String> = store
            .list_users(3, 3)
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.id)
            .collect();
        assert_eq!(first_page, ids[..3], "{}", db.label);
        assert_eq!(second_page, ids[3..]);
    }
}

#[tokio::test]
async fn user_json_is_the_contract_shape() {
    for db in fresh_stores().await {
        let user = db
            .store
            .find_or_create_user("wxappA", "oA", Some("u1"), 1_700_000_000)
            .await
            .unwrap();
        let json = serde_json::to_value(&user).unwrap();
        let mut keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "appid",
                "avatar_url",
                "created_at",
                "id",
                "nickname",
                "openid",
                "phone_number",
                "roles",
                "unionid"
            ]
        );
        assert_eq!(json["created_at"], "2023-11-14T22:13:20Z");
        assert!(json["nickname"].is_null());
        assert_eq!(json["roles"], serde_json::json!([]));
    }
}

#[tokio::test]
async fn a_user_just_created_is_answered_exactly_as_a_read_of_it_gives_it() {
    for db in fresh_stores().await {
        for (openid, unionid) in [("openid-plain", None), ("openid-union", Some("union-9"))] {
            let created = db
                .store
                .find_or_create_user("wxapp1", openid, unionid, 1_700_000_000)
                .await
                .unwrap();
            let read = db
                .store
                .user_by_identity("wxapp1", openid)
                .await
                .unwrap()
                .unwrap();
            assert!(
                created == read,
                "{}: {created:?} against {read:?}",
                db.label
            );
        }
    }
}
