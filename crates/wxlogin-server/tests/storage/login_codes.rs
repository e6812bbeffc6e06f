//! Login-code claims: one exchange per code across instances, a retry window after
//! success, an honest error path after failure.

use std::time::Duration;

use crate::helpers::fresh_stores;
use wxlogin_server::storage::{hash_login_code, CodeClaim, FinishedExchange};

const TTL: Duration = Duration::from_secs(30);
const WINDOW: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_one_of_many_concurrent_claims_wins_across_instances() {
    for db in fresh_stores().await {
        let second_instance = db.another_instance().await;
        let code_hash = hash_login_code("wxapp", "code-1");
        let mut tasks = Vec::new();
        for task in 0..30 {
            let store = if task % 2 == 0 {
                db.store.clone()
            } else {
                second_instance.clone()
            };
            let code_hash = code_hash.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .claim_login_code(&code_hash, "wxapp", 1_000, TTL)
                    .await
            }));
        }
        let mut claimed = 0;
        for task in tasks {
            match task.await.unwrap().unwrap() {
                CodeClaim::Claimed => claimed += 1,
                CodeClaim::InFlight => {}
                other => panic!("{}: unexpected {other:?}", db.label),
            }
        }
        assert_eq!(claimed, 1, "{}", db.label);
    }
}

#[tokio::test]
async fn a_succeeded_code_answers_retries_until_its_window_closes() {
    for db in fresh_stores().await {
        let store = &db.store;
        let code_hash = hash_login_code("wxapp", "code-2");
        assert_eq!(
            store
                .claim_login_code(&code_hash, "wxapp", 1_000, TTL)
                .await
                .unwrap(),
            CodeClaim::Claimed
        );
        store
            .complete_login_code(&code_hash, "user-1", "openid-1", 1_002, WINDOW)
            .await
            .unwrap();
        let expected = CodeClaim::Succeeded {
            user_id: "user-1".into(),
            openid: "openid-1".into(),
            completed_at: 1_002,
        };
        assert_eq!(
            store
                .claim_login_code(&code_hash, "wxapp", 1_010, TTL)
                .await
                .unwrap(),
            expected,
            "{}",
            db.label
        );
        // Release after success changes nothing.
        store.release_login_code(&code_hash).await.unwrap();
        assert_eq!(
            store
                .claim_login_code(&code_hash, "wxapp", 1_061, TTL)
                .await
                .unwrap(),
            expected
        );
        // After the window the row counts as absent: the code goes to WeChat again (which says 40163).
        assert_eq!(
            store
                .claim_login_code(&code_hash, "wxapp", 1_062, TTL)
                .await
                .unwrap(),
            CodeClaim::Claimed,
            "{}",
            db.label
        );
    }
}

#[tokio::test]
async fn a_released_or_abandoned_claim_can_be_claimed_again() {
    for db in fresh_stores().await {
        let store = &db.store;
        let code_hash = hash_login_code("wxapp", "code-3");
        assert_eq!(
            store
                .claim_login_code(&code_hash, "wxapp", 1_000, TTL)
                .await
                .unwrap(),
            CodeClaim::Claimed
        );
        assert_eq!(
            store
                .claim_login_code(&code_hash, "wxapp", 1_001, TTL)
                .await
                .unwrap(),
            CodeClaim::InFlight
        );
        store.release_login_code(&code_hash).await.unwrap();
        assert_eq!(
            store
                .claim_login_code(&code_hash, "wxapp", 1_002, TTL)
                .await
                .unwrap(),
            CodeClaim::Claimed,
            "{}",
            db.label
        );
        // The claimant crashed: after the in-flight TTL the claim lapses.
        assert_eq!(
            store
                .claim_login_code(&code_hash, "wxapp", 1_031, TTL)
                .await
                .unwrap(),
            CodeClaim::InFlight
        );
        assert_eq!(
            store
                .claim_login_code(&code_hash, "wxapp", 1_032, TTL)
                .await
                .unwrap(),
            CodeClaim::Claimed,
            "{}",
            db.label
        );
    }
}

#[tokio::test]
async fn purge_removes_expired_codes_only() {
    for db in fresh_stores().await {
        let store = &db.store;
        let old = hash_login_code("wxapp", "old");
        let fresh = hash_login_code("wxapp", "fresh");
        store
            .claim_login_code(&old, "wxapp", 1_000, TTL)
            .await
            .unwrap();
        store
            .claim_login_code(&fresh, "wxapp", 1_020, TTL)
            .await
            .unwrap();
        let report = store.purge_expired(1_040).await.unwrap();
        assert_eq!(report.login_codes, 1, "{}", db.label);
        assert_eq!(
            store
                .claim_login_code(&fresh, "wxapp", 1_041, TTL)
                .await
                .unwrap(),
            CodeClaim::InFlight
        );
    }
}

#[test]
fn code_hashes_depend_on_app_and_code_and_hide_the_code() {
    let hash = hash_login_code("wxapp", "the-code");
    assert_eq!(hash.len(), 64);
    assert!(!hash.contains("the-code"));
    assert_ne!(hash, hash_login_code("wxother", "the-code"));
    assert_ne!(hash, hash_login_code("wxapp", "other-code"));
    assert_eq!(hash, hash_login_code("wxapp", "the-code"));
}

#[tokio::test]
async fn finishing_an_exchange_saves_the_session_key_and_completes_the_code_together() {
    for db in fresh_stores().await {
        let store = &db.store;
        let code_hash = hash_login_code("wxapp", "code-finish");
        store
            .claim_login_code(&code_hash, "wxapp", 1_000, TTL)
            .await
            .unwrap();
        let session_key = wxlogin_crypto::SessionKey::from_bytes([7u8; 16]);
        store
            .finish_code_exchange(&FinishedExchange {
                code_hash: &code_hash,
                user_id: "user-9",
                appid: "wxapp",
                openid: "openid-9",
                session_key: &session_key,
                now: 1_002,
                keep_for: WINDOW,
            })
            .await
            .unwrap();
        assert_eq!(
            store
                .claim_login_code(&code_hash, "wxapp", 1_010, TTL)
                .await
                .unwrap(),
            CodeClaim::Succeeded {
                user_id: "user-9".into(),
                openid: "openid-9".into(),
                completed_at: 1_002,
            },
            "{}",
            db.label
        );
        let stored = store
            .session_key("wxapp", "openid-9")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            stored.expose_bytes(),
            session_key.expose_bytes(),
            "{}",
            db.label
        );
    }
}
