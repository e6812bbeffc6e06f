//! Master-key rotation at the storage level: during the roll the old key still opens what
//! it sealed, re-sealing puts every value under the new key (which then opens everything
//! alone), a run stopped early resumes, values from before key ids are handled, and values
//! no given key opens are reported and left as they are.

use crate::helpers::{fresh_stores, TestStore};
use sqlx::Row;
use wxlogin_crypto::SessionKey;
use wxlogin_server::at_rest::{AtRestError, MasterKey};
use wxlogin_server::master_keys::MasterKeys;
use wxlogin_server::storage::{
    CachedAccessToken, NewSigningKey, ResealOptions, ResealReport, SealedTable, StorageError,
    Store, StoreOptions,
};
use zeroize::Zeroizing;

const APPID: &str = "wxrotate";

fn session_key(index: usize) -> SessionKey {
    let mut bytes = [b'k'; 16];
    bytes[..4].copy_from_slice(&(index as u32).to_be_bytes());
    SessionKey::from_bytes(bytes)
}

fn access_token() -> CachedAccessToken {
    CachedAccessToken {
        token: Zeroizing::new("UPSTREAM_ACCESS_TOKEN".to_string()),
        expires_at_unix: 1_700_007_200,
    }
}

/// `users` session keys, one upstream access token and one signing key, through `store`.
async fn seed(store: &Store, users: usize) {
    for index in 0..users {
        store
            .save_session_key(APPID, &format!("openid-{index}"), &session_key(index), 100)
            .await
            .unwrap();
    }
    store
        .save_access_token(APPID, &access_token())
        .await
        .unwrap();
    store
        .insert_signing_key(&NewSigningKey {
            kid: "kid-1".into(),
            secret_key: Zeroizing::new([7u8; 32]),
            algorithm: "EdDSA",
            public_key: [8u8; 32].to_vec(),
            created_at: 100,
        })
        .await
        .unwrap();
}

/// Every seeded value reads back as it was written.
async fn assert_all_readable(store: &Store, users: usize, label: &str) {
    for index in 0..users {
        assert_eq!(
            store
                .session_key(APPID, &format!("openid-{index}"))
                .await
                .unwrap(),
            Some(session_key(index)),
            "{label}: session key {index}"
        );
    }
    assert_eq!(
        store.load_access_token(APPID).await.unwrap(),
        Some(access_token()),
        "{label}"
    );
    let signing = store.signing_keys().await.unwrap();
    assert_eq!(signing.len(), 1, "{label}");
    assert_eq!(*signing[0].secret_key, [7u8; 32], "{label}");
}

async fn open_with(db: &TestStore, keys: MasterKeys) -> Store {
    Store::connect(&db.url, &StoreOptions::default(), keys)
        .await
        .unwrap()
}

/// The instances during the roll: the new key current, the old one previous.
async fn rolling(db: &TestStore, new: &MasterKey) -> Store {
    open_with(
        db,
        MasterKeys::new(new.clone()).with_previous(db.master_key.clone()),
    )
    .await
}

/// (table, stored key id) → values, as `wxlogin master-key status` shows them.
async fn counts(store: &Store) -> Vec<(SealedTable, Option<String>, u64)> {
    store
        .sealed_value_counts()
        .await
        .unwrap()
        .into_iter()
        .map(|count| (count.table, count.key_id, count.count))
        .collect()
}

#[tokio::test]
async fn values_sealed_under_the_old_key_open_while_it_is_the_previous_key() {
    for db in fresh_stores().await {
        seed(&db.store, 3).await;
        let new = MasterKey::generate();
        let store = rolling(&db, &new).await;
        assert_all_readable(&store, 3, db.label).await;

        // The new key alone does not open them yet, and says which key it lacks.
        let new_only = open_with(&db, MasterKeys::new(new.clone())).await;
        let error = new_only.session_key(APPID, "openid-0").await.unwrap_err();
        let old_id = db.master_key.id();
        assert!(
            matches!(&error, StorageError::Sealed(AtRestError::UnknownMasterKey { key_id }) if *key_id == old_id),
            "{}: {error:?}",
            db.label
        );

        // What the rolling instance writes is sealed with the new key, and says so.
        store
            .save_session_key(APPID, "openid-new", &session_key(99), 200)
            .await
            .unwrap();
        let raw = db.raw_pool().await;
        let stored_id: String =
            sqlx::query("SELECT master_key_id FROM session_keys WHERE openid = 'openid-new'")
                .fetch_one(&raw)
                .await
                .unwrap()
                .get("master_key_id");
        assert_eq!(stored_id, new.id(), "{}", db.label);
        raw.close().await;
        assert_eq!(
            new_only.session_key(APPID, "openid-new").await.unwrap(),
            Some(session_key(99))
        );
    }
}

#[tokio::test]
async fn after_rotation_every_value_is_under_the_new_key_which_alone_opens_them() {
    for db in fresh_stores().await {
        seed(&db.store, 7).await;
        // A lease-only access-token row holds no sealed value: nothing to re-seal there.
        assert!(db
            .store
            .try_acquire_refresh_lease("wxother", "holder", std::time::Duration::from_secs(5), 1)
            .await
            .unwrap());
        let new = MasterKey::generate();
        let store = rolling(&db, &new).await;
        let mut batches = 0;
        let report = store
            .reseal_under_current_key(
                &ResealOptions {
                    batch_size: 2,
                    limit: None,
                },
                |_| batches += 1,
            )
            .await
            .unwrap();
        assert_eq!(report.total_resealed(), 9, "{}: {report:?}", db.label);
        assert_eq!(report.total_unopened(), 0);
        assert!(!report.stopped_at_limit);
        assert_eq!(
            batches,
            4 + 1 + 1,
            "7 session keys in batches of 2, then 1 + 1"
        );
        assert_eq!(
            counts(&store).await,
            vec![
                (SealedTable::SessionKeys, Some(new.id()), 7),
                (SealedTable::AccessTokens, Some(new.id()), 1),
                (SealedTable::SigningKeys, Some(new.id()), 1),
            ],
            "{}",
            db.label
        );
        assert_eq!(store.values_not_under_current_key().await.unwrap(), 0);

        let new_only = open_with(&db, MasterKeys::new(new.clone())).await;
        assert_all_readable(&new_only, 7, db.label).await;
        // And the old key no longer opens anything.
        assert!(db.store.session_key(APPID, "openid-0").await.is_err());

        // Running it again finds nothing to do.
        let again = store
            .reseal_under_current_key(&ResealOptions::default(), |_| {})
            .await
            .unwrap();
        assert_eq!(again.total_resealed(), 0, "{}", db.label);
    }
}

#[tokio::test]
async fn a_rotation_stopped_early_resumes_where_it_stopped() {
    for db in fresh_stores().await {
        seed(&db.store, 10).await;
        let new = MasterKey::generate();
        let store = rolling(&db, &new).await;
        let options = ResealOptions {
            batch_size: 3,
            limit: Some(4),
        };
        let first = store
            .reseal_under_current_key(&options, |_| {})
            .await
            .unwrap();
        assert_eq!(first.total_resealed(), 4, "{}: {first:?}", db.label);
        assert!(first.stopped_at_limit);
        assert_eq!(store.values_not_under_current_key().await.unwrap(), 12 - 4);
        // Mid-roll, every value still opens.
        assert_all_readable(&store, 10, db.label).await;

        // A second process (another handle) takes over where the first stopped.
        let resumed = rolling(&db, &new).await;
        let second = resumed
            .reseal_under_current_key(&options, |_| {})
            .await
            .unwrap();
        assert_eq!(second.total_resealed(), 4, "{}", db.label);
        let last = resumed
            .reseal_under_current_key(&ResealOptions::default(), |_| {})
            .await
            .unwrap();
        assert_eq!(last.total_resealed(), 4, "{}: {last:?}", db.label);
        assert!(!last.stopped_at_limit);
        assert_eq!(resumed.values_not_under_current_key().await.unwrap(), 0);
        assert_all_readable(&open_with(&db, MasterKeys::new(new)).await, 10, db.label).await;
    }
}

#[tokio::test]
async fn values_from_before_key_ids_still_open_and_are_rotated() {
    for db in fresh_stores().await {
        seed(&db.store, 2).await;
        // As a database written before migration 0002: no key ids.
        let raw = db.raw_pool().await;
        for table in ["session_keys", "access_tokens", "signing_keys"] {
            sqlx::query(&format!("UPDATE {table} SET master_key_id = NULL"))
                .execute(&raw)
                .await
                .unwrap();
        }
        raw.close().await;
        assert_all_readable(&db.store, 2, db.label).await;
        let new = MasterKey::generate();
        let store = rolling(&db, &new).await;
        assert_all_readable(&store, 2, db.label).await;
        assert_eq!(store.values_not_under_current_key().await.unwrap(), 4);

        let report = store
            .reseal_under_current_key(&ResealOptions::default(), |_| {})
            .await
            .unwrap();
        assert_eq!(report.total_resealed(), 4, "{}: {report:?}", db.label);
        assert_all_readable(&open_with(&db, MasterKeys::new(new)).await, 2, db.label).await;
    }
}

#[tokio::test]
async fn values_no_given_key_opens_are_reported_and_left_as_they_are() {
    for db in fresh_stores().await {
        seed(&db.store, 3).await;
        let stranger = MasterKey::generate();
        open_with(&db, MasterKeys::new(stranger.clone()))
            .await
            .save_session_key(APPID, "openid-stranger", &session_key(50), 100)
            .await
            .unwrap();
        let new = MasterKey::generate();
        let store = rolling(&db, &new).await;
        let report = store
            .reseal_under_current_key(
                &ResealOptions {
                    batch_size: 1,
                    limit: None,
                },
                |_| {},
            )
            .await
            .unwrap();
        assert_eq!(report.total_resealed(), 5, "{}: {report:?}", db.label);
        assert_eq!(
            report.unopened.into_iter().collect::<Vec<_>>(),
            vec![((SealedTable::SessionKeys, Some(stranger.id())), 1)],
            "{}",
            db.label
        );
        // Still under the key that sealed it, still readable with that key.
        let with_stranger = open_with(
            &db,
            MasterKeys::new(new.clone()).with_previous(stranger.clone()),
        )
        .await;
        assert_eq!(
            with_stranger
                .session_key(APPID, "openid-stranger")
                .await
                .unwrap(),
            Some(session_key(50))
        );
        assert_eq!(store.values_not_under_current_key().await.unwrap(), 1);
    }
}

#[tokio::test]
async fn a_value_a_server_rewrites_between_read_and_write_is_kept() {
    for db in fresh_stores().await {
        seed(&db.store, 5).await;
        let new = MasterKey::generate();
        let rotator = rolling(&db, &new).await;
        let server = rolling(&db, &new).await;
        let batch = rotator
            .pending_batch(SealedTable::SessionKeys, 10)
            .await
            .unwrap();
        assert_eq!(batch.len(), 5, "{}", db.label);
        // The user logs in again on a server after the rotation read the old value.
        server
            .save_session_key(APPID, "openid-3", &session_key(33), 200)
            .await
            .unwrap();
        let mut report = ResealReport::default();
        let resealed = rotator.reseal_batch(batch, &mut report).await.unwrap();
        assert_eq!(resealed, 4, "{}", db.label);
        assert_eq!(
            report.changed_meanwhile.get(&SealedTable::SessionKeys),
            Some(&1)
        );
        assert_eq!(
            rotator.session_key(APPID, "openid-3").await.unwrap(),
            Some(session_key(33)),
            "{}: the newer login was overwritten by the rotation",
            db.label
        );
        assert_eq!(
            rotator.session_key(APPID, "openid-2").await.unwrap(),
            Some(session_key(2))
        );
    }
}

#[tokio::test]
async fn instances_in_either_pass_of_the_restart_open_what_the_other_writes() {
    for db in fresh_stores().await {
        let (old, new) = (db.master_key.clone(), MasterKey::generate());
        // First pass: the old key still seals, the new one already opens.
        let first_pass =
            open_with(&db, MasterKeys::new(old.clone()).with_previous(new.clone())).await;
        // Second pass: the new key seals, the old one still opens.
        let second_pass = rolling(&db, &new).await;
        second_pass
            .save_session_key(APPID, "by-second", &session_key(2), 100)
            .await
            .unwrap();
        first_pass
            .save_session_key(APPID, "by-first", &session_key(1), 100)
            .await
            .unwrap();
        for store in [&first_pass, &second_pass] {
            assert_eq!(
                store.session_key(APPID, "by-second").await.unwrap(),
                Some(session_key(2)),
                "{}",
                db.label
            );
            assert_eq!(
                store.session_key(APPID, "by-first").await.unwrap(),
                Some(session_key(1)),
                "{}",
                db.label
            );
        }
        // An instance left on the old key alone is what the first pass avoids.
        assert!(db.store.session_key(APPID, "by-second").await.is_err());
    }
}
