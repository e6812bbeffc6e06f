//! Secrets at rest: session keys, upstream access tokens and signing keys are sealed under
//! the master key and bound to their row.

use crate::helpers::fresh_stores;
use sqlx::Row;
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

/// The bytes of a SQLite database's file and its WAL (empty for PostgreSQL).
fn sqlite_files(url: &str) -> Vec<u8> {
    let Some(path) = url.strip_prefix("sqlite://") else {
        return Vec::new();
    };
    let path = path.split('?').next().unwrap();
    let mut bytes = std::fs::read(path).unwrap_or_default();
    bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
    bytes
}

fn phone(number: &str) -> wxlogin_server::storage::PhoneNumber {
    wxlogin_server::storage::PhoneNumber {
        phone_number: number.to_owned(),
        pure_phone_number: number.trim_start_matches("+86").to_owned(),
        country_code: "86".to_owned(),
    }
}

#[tokio::test]
async fn phone_numbers_are_sealed_found_by_blind_index_and_absent_from_the_files() {
    for db in fresh_stores().await {
        let store = &db.store;
        let user = store
            .find_or_create_user("wxapp", "openid-phone", None, 100)
            .await
            .unwrap();
        assert!(store
            .set_phone_number(&user.id, &phone("+8613812340001"), 101)
            .await
            .unwrap());
        let record = store.user_record(&user.id).await.unwrap().unwrap();
        assert_eq!(record.phone, Some(phone("+8613812340001")), "{}", db.label);
        assert_eq!(
            store
                .user_by_identity("wxapp", "openid-phone")
                .await
                .unwrap()
                .unwrap()
                .phone_number
                .as_deref(),
            Some("+8613812340001")
        );
        for q in ["+8613812340001", "13812340001"] {
            let found = store.search_users(q, None, 10).await.unwrap();
            assert_eq!(found.len(), 1, "{}: {q}", db.label);
        }
        assert!(store
            .search_users("1381234000", None, 10)
            .await
            .unwrap()
            .is_empty());

        let raw = db.raw_pool().await;
        let row = sqlx::query(
            "SELECT phone_number, pure_phone_number, country_code, phone_sealed, phone_index FROM users WHERE id = $1",
        )
        .bind(&user.id)
        .fetch_one(&raw)
        .await
        .unwrap();
        assert!(row.get::<Option<String>, _>("phone_number").is_none());
        assert!(row.get::<Option<String>, _>("pure_phone_number").is_none());
        let sealed: Vec<u8> = row.get("phone_sealed");
        assert!(!contains(&sealed, b"13812340001"), "{}", db.label);
        let index: String = row.get("phone_index");
        assert!(!index.contains("13812340001"));

        // A sealed number copied to another user's row does not open there.
        let other = store
            .find_or_create_user("wxapp", "openid-other", None, 100)
            .await
            .unwrap();
        sqlx::query("UPDATE users SET phone_sealed = $1, master_key_id = (SELECT master_key_id FROM users WHERE id = $2) WHERE id = $3")
            .bind(sealed)
            .bind(&user.id)
            .bind(&other.id)
            .execute(&raw)
            .await
            .unwrap();
        assert!(matches!(
            store.user_record(&other.id).await,
            Err(StorageError::Sealed(_))
        ));
        drop(raw);
        assert!(
            !contains(&sqlite_files(&db.url), b"13812340001"),
            "{}: the number is in the database file or its WAL",
            db.label
        );
    }
}

#[tokio::test]
async fn phone_numbers_stored_in_clear_are_sealed_by_the_migration() {
    for db in fresh_stores().await {
        let store = &db.store;
        let user = store
            .find_or_create_user("wxapp", "openid-legacy", None, 100)
            .await
            .unwrap();
        // A row as the schema before sealing left it.
        let raw = db.raw_pool().await;
        sqlx::query(
            "UPDATE users SET phone_number = '13922223333', pure_phone_number = '13922223333', country_code = '86' WHERE id = $1",
        )
        .bind(&user.id)
        .execute(&raw)
        .await
        .unwrap();
        drop(raw);
        store.migrate().await.unwrap();
        let record = store.user_record(&user.id).await.unwrap().unwrap();
        assert_eq!(
            record.phone.unwrap().phone_number,
            "13922223333",
            "{}",
            db.label
        );
        assert_eq!(
            store
                .search_users("13922223333", None, 10)
                .await
                .unwrap()
                .len(),
            1
        );
        let raw = db.raw_pool().await;
        let clear: Option<String> = sqlx::query("SELECT phone_number FROM users WHERE id = $1")
            .bind(&user.id)
            .fetch_one(&raw)
            .await
            .unwrap()
            .get("phone_number");
        assert!(clear.is_none(), "{}", db.label);
        drop(raw);
        assert!(
            !contains(&sqlite_files(&db.url), b"13922223333"),
            "{}: the old clear number survives in the file or its WAL",
            db.label
        );
        // Migrating again seals nothing more.
        assert_eq!(store.seal_clear_phone_numbers().await.unwrap(), 0);
    }
}
