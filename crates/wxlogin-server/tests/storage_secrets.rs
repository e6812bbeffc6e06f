//! Secrets at rest: session keys, upstream access tokens and signing keys are sealed under
//! the master key and bound to their row.
mod storage_support;

use sqlx::Row;
use storage_support::fresh_stores;
use wxlogin_crypto::SessionKey;
use wxlogin_server::at_rest::MasterKey;
use wxlogin_server::storage::{CachedAccessToken, StorageError, Store, StoreOptions};
use zeroize::Zeroizing;

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[tokio::test]
async fn session_keys_are_sealed_bound_to_their_row_and_newest_wins() {
    for db in fresh_stores().await {
        let store = &db.store;
        let key_a = SessionKey::from_bytes(*b"0123456789abcdef");
        let key_b = SessionKey::from_bytes(*b"fedcba9876543210");
        store
            .save_session_key("wxapp", "openid-a", &key_a, 100)
            .await
            .unwrap();
        store
            .save_session_key("wxapp", "openid-b", &key_b, 100)
            .await
            .unwrap();
        assert_eq!(
            store.session_key("wxapp", "openid-a").await.unwrap(),
            Some(key_a.clone()),
            "{}",
            db.label
        );
        assert_eq!(
            store.session_key("wxapp", "openid-none").await.unwrap(),
            None
        );

        let raw = db.raw_pool().await;
        let sealed_a: Vec<u8> =
            sqlx::query("SELECT sealed FROM session_keys WHERE openid = 'openid-a'")
                .fetch_one(&raw)
                .await
                .unwrap()
                .get("sealed");
        assert!(
            !contains(&sealed_a, key_a.expose_bytes()),
            "{}: raw column holds the key",
            db.label
        );
        assert!(!contains(&sealed_a, key_a.expose_base64().as_bytes()));

        // Copy a's blob into b's row: it must not open as b's key.
        sqlx::query("UPDATE session_keys SET sealed = $1 WHERE openid = 'openid-b'")
            .bind(sealed_a)
            .execute(&raw)
            .await
            .unwrap();
        assert!(
            matches!(
                store.session_key("wxapp", "openid-b").await,
                Err(StorageError::Sealed(_))
            ),
            "{}: swapped blob opened",
            db.label
        );

        // A newer login replaces the key; an older write arriving late does not.
        let key_c = SessionKey::from_bytes(*b"cccccccccccccccc");
        store
            .save_session_key("wxapp", "openid-a", &key_c, 200)
            .await
            .unwrap();
        store
            .save_session_key("wxapp", "openid-a", &key_b, 150)
            .await
            .unwrap();
        assert_eq!(
            store.session_key("wxapp", "openid-a").await.unwrap(),
            Some(key_c)
        );
        raw.close().await;
    }
}

#[tokio::test]
async fn another_master_key_cannot_open_the_secrets() {
    for db in fresh_stores().await {
        let key = SessionKey::from_bytes(*b"0123456789abcdef");
        db.store
            .save_session_key("wxapp", "o", &key, 1)
            .await
            .unwrap();
        let wrong = Store::connect(&db.url, &StoreOptions::default(), MasterKey::generate())
            .await
            .unwrap();
        let error = wrong.session_key("wxapp", "o").await.unwrap_err();
        assert!(
            matches!(error, StorageError::Sealed(_)),
            "{}: {error}",
            db.label
        );
        assert!(!error.is_unavailable());
    }
}

#[tokio::test]
async fn upstream_access_tokens_are_sealed_and_compare_and_invalidate() {
    for db in fresh_stores().await {
        let store = &db.store;
        let token = CachedAccessToken {
            token: Zeroizing::new("ACCESS_TOKEN_SECRET_VALUE_1".to_string()),
            expires_at_unix: 1_700_007_200,
        };
        assert_eq!(store.load_access_token("wxapp").await.unwrap(), None);
        store.save_access_token("wxapp", &token).await.unwrap();
        assert_eq!(
            store.load_access_token("wxapp").await.unwrap(),
            Some(token.clone()),
            "{}",
            db.label
        );

        let raw = db.raw_pool().await;
        let sealed: Vec<u8> =
            sqlx::query("SELECT sealed_token FROM access_tokens WHERE appid = 'wxapp'")
                .fetch_one(&raw)
                .await
                .unwrap()
                .get("sealed_token");
        assert!(!contains(&sealed, b"ACCESS_TOKEN_SECRET_VALUE_1"));
        raw.close().await;

        // A stale failure report does not throw away a token another instance saved since.
        store
            .invalidate_access_token_if_current("wxapp", "SOME_OLDER_TOKEN")
            .await
            .unwrap();
        assert!(
            store.load_access_token("wxapp").await.unwrap().is_some(),
            "{}",
            db.label
        );
        store
            .invalidate_access_token_if_current("wxapp", "ACCESS_TOKEN_SECRET_VALUE_1")
            .await
            .unwrap();
        assert_eq!(
            store.load_access_token("wxapp").await.unwrap(),
            None,
            "{}",
            db.label
        );
        // Invalidating nothing is fine.
        store
            .invalidate_access_token_if_current("wxother", "x")
            .await
            .unwrap();
        assert!(!format!("{token:?}").contains("SECRET"));
    }
}

#[tokio::test]
async fn signing_key_secrets_are_sealed() {
    for db in fresh_stores().await {
        let keys = wxlogin_server::tokens::SigningKeys::load_or_create(
            db.store.clone(),
            wxlogin_server::tokens::KeyPolicy::default(),
            1_700_000_000,
        )
        .await
        .unwrap();
        let stored = db.store.signing_keys().await.unwrap();
        assert_eq!(stored.len(), 1, "{}", db.label);
        assert_eq!(Some(stored[0].kid.clone()), keys.current_kid());
        let raw = db.raw_pool().await;
        let sealed: Vec<u8> = sqlx::query("SELECT sealed_private FROM signing_keys")
            .fetch_one(&raw)
            .await
            .unwrap()
            .get("sealed_private");
        assert!(
            !contains(&sealed, stored[0].secret_key.as_slice()),
            "{}",
            db.label
        );
        raw.close().await;
        assert!(!format!("{:?}", stored[0]).contains("secret_key"));
    }
}
