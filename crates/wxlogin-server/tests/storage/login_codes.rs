//! Login-code claims: one exchange per code across instances, a retry window after
//! success, an honest error path after failure.

use std::time::Duration;
use wxlogin_crypto::SessionKey;
use wxlogin_server::domain::{AppId, LoginCodeHash, OpenId, UnionId, UserId};

use crate::helpers::fresh_stores;
use wxlogin_server::domain::{RefreshTokenHash, SessionId};
use wxlogin_server::storage::{
    hash_login_code, CodeClaim, CodeExchange, ExchangeSession, FinishedExchange, Store, UnixSeconds,
};

const TTL: Duration = Duration::from_secs(30);
const WINDOW: Duration = Duration::from_secs(60);

/// Claim `code_hash` of the app `wxapp` at `now`, with the usual in-flight TTL.
async fn claim(store: &Store, code_hash: &LoginCodeHash, now: UnixSeconds) -> CodeClaim {
    store
        .claim_login_code(code_hash, &AppId::configured("wxapp"), now, TTL)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_one_of_many_concurrent_claims_wins_across_instances() {
    for db in fresh_stores().await {
        let second_instance = db.another_instance().await;
        let code_hash = hash_login_code(&AppId::configured("wxapp"), "code-1");
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
                    .claim_login_code(&code_hash, &AppId::configured("wxapp"), 1_000, TTL)
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
        let code_hash = hash_login_code(&AppId::configured("wxapp"), "code-2");
        assert_eq!(claim(store, &code_hash, 1_000).await, CodeClaim::Claimed);
        store
            .complete_login_code(
                &code_hash,
                &UserId::new("user-1"),
                &OpenId::new("openid-1"),
                1_002,
                WINDOW,
            )
            .await
            .unwrap();
        let expected = CodeClaim::Succeeded {
            user_id: "user-1".into(),
            openid: "openid-1".into(),
            completed_at: 1_002,
        };
        assert_eq!(
            claim(store, &code_hash, 1_010).await,
            expected,
            "{}",
            db.label
        );
        // Release after success changes nothing.
        store.release_login_code(&code_hash).await.unwrap();
        assert_eq!(claim(store, &code_hash, 1_061).await, expected);
        // After the window the row counts as absent: the code goes to WeChat again (which says 40163).
        assert_eq!(
            claim(store, &code_hash, 1_062).await,
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
        let code_hash = hash_login_code(&AppId::configured("wxapp"), "code-3");
        assert_eq!(claim(store, &code_hash, 1_000).await, CodeClaim::Claimed);
        assert_eq!(claim(store, &code_hash, 1_001).await, CodeClaim::InFlight);
        store.release_login_code(&code_hash).await.unwrap();
        assert_eq!(
            claim(store, &code_hash, 1_002).await,
            CodeClaim::Claimed,
            "{}",
            db.label
        );
        // The claimant crashed: after the in-flight TTL the claim lapses.
        assert_eq!(claim(store, &code_hash, 1_031).await, CodeClaim::InFlight);
        assert_eq!(
            claim(store, &code_hash, 1_032).await,
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
        let old = hash_login_code(&AppId::configured("wxapp"), "old");
        let fresh = hash_login_code(&AppId::configured("wxapp"), "fresh");
        claim(store, &old, 1_000).await;
        claim(store, &fresh, 1_020).await;
        let report = store.purge_expired(1_040).await.unwrap();
        assert_eq!(report.login_codes, 1, "{}", db.label);
        assert_eq!(claim(store, &fresh, 1_041).await, CodeClaim::InFlight);
    }
}

#[test]
fn code_hashes_depend_on_app_and_code_and_hide_the_code() {
    let hash = hash_login_code(&AppId::configured("wxapp"), "the-code");
    assert_eq!(hash.len(), 64);
    assert!(!hash.contains("the-code"));
    assert_ne!(
        hash,
        hash_login_code(&AppId::configured("wxother"), "the-code")
    );
    assert_ne!(
        hash,
        hash_login_code(&AppId::configured("wxapp"), "other-code")
    );
    assert_eq!(
        hash,
        hash_login_code(&AppId::configured("wxapp"), "the-code")
    );
}

#[tokio::test]
async fn finishing_an_exchange_saves_the_session_key_and_completes_the_code_together() {
    for db in fresh_stores().await {
        let store = &db.store;
        let code_hash = hash_login_code(&AppId::configured("wxapp"), "code-finish");
        claim(store, &code_hash, 1_000).await;
        let session_key = wxlogin_crypto::SessionKey::from_bytes([7u8; 16]);
        store
            .finish_code_exchange(&FinishedExchange {
                code_hash: &code_hash,
                user_id: &UserId::new("user-9"),
                appid: &AppId::configured("wxapp"),
                openid: &OpenId::new("openid-9"),
                session_key: &session_key,
                now: 1_002,
                keep_for: WINDOW,
                session: None,
            })
            .await
            .unwrap();
        assert_eq!(
            claim(store, &code_hash, 1_010).await,
            CodeClaim::Succeeded {
                user_id: "user-9".into(),
                openid: "openid-9".into(),
                completed_at: 1_002,
            },
            "{}",
            db.label
        );
        let stored = store
            .session_key(&AppId::configured("wxapp"), &OpenId::new("openid-9"))
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

fn exchange<'a>(
    code_hash: &'a LoginCodeHash,
    openid: &'a OpenId,
    unionid: Option<&'a UnionId>,
    session_key: &'a SessionKey,
    appid: &'a AppId,
    now: UnixSeconds,
) -> CodeExchange<'a> {
    CodeExchange {
        code_hash,
        appid,
        openid,
        unionid,
        session_key,
        now,
        keep_for: WINDOW,
        session: None,
    }
}

#[tokio::test]
async fn a_first_login_creates_the_user_keeps_its_key_and_completes_the_code_at_once() {
    for db in fresh_stores().await {
        let store = &db.store;
        let appid = AppId::configured("wxapp");
        let openid = OpenId::new("openid-first");
        let key = SessionKey::from_bytes([3u8; 16]);
        let code_hash = hash_login_code(&appid, "code-first");
        claim(store, &code_hash, 1_000).await;
        let user = store
            .record_code_exchange(&exchange(&code_hash, &openid, None, &key, &appid, 1_001))
            .await
            .unwrap();
        // Answered as a read of it gives it, with the code, the key and the event stored.
        let read = store.user_by_identity(&appid, &openid).await.unwrap();
        assert_eq!(read.as_ref(), Some(&user), "{}", db.label);
        assert_eq!(
            claim(store, &code_hash, 1_010).await,
            CodeClaim::Succeeded {
                user_id: user.id.clone(),
                openid: openid.clone(),
                completed_at: 1_001,
            },
            "{}",
            db.label
        );
        let stored = store.session_key(&appid, &openid).await.unwrap().unwrap();
        assert_eq!(stored.expose_bytes(), key.expose_bytes(), "{}", db.label);
        let created: Vec<_> = store
            .events_after(0, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|event| event.event_type == "user.created")
            .collect();
        assert_eq!(created.len(), 1, "{}", db.label);
        assert_eq!(created[0].user_id.as_ref(), Some(&user.id), "{}", db.label);

        // The next login of the identity finds the same user and replaces the key.
        let newer_key = SessionKey::from_bytes([4u8; 16]);
        let next_hash = hash_login_code(&appid, "code-next");
        claim(store, &next_hash, 1_100).await;
        let again = store
            .record_code_exchange(&exchange(
                &next_hash, &openid, None, &newer_key, &appid, 1_101,
            ))
            .await
            .unwrap();
        assert_eq!(again.id, user.id, "{}", db.label);
        let stored = store.session_key(&appid, &openid).await.unwrap().unwrap();
        assert_eq!(
            stored.expose_bytes(),
            newer_key.expose_bytes(),
            "{}",
            db.label
        );
        assert!(
            matches!(
                claim(store, &next_hash, 1_110).await,
                CodeClaim::Succeeded { .. }
            ),
            "{}",
            db.label
        );
    }
}

#[tokio::test]
async fn a_first_login_on_a_second_app_with_a_known_unionid_joins_its_user() {
    for db in fresh_stores().await {
        let store = &db.store;
        let union = UnionId::new("union-exchange");
        let key = SessionKey::from_bytes([5u8; 16]);
        let (app_a, app_b) = (AppId::configured("wxappA"), AppId::configured("wxappB"));
        let (openid_a, openid_b) = (OpenId::new("openid-a"), OpenId::new("openid-b"));
        let hash_a = hash_login_code(&app_a, "code-a");
        let hash_b = hash_login_code(&app_b, "code-b");
        let first = store
            .record_code_exchange(&exchange(
                &hash_a,
                &openid_a,
                Some(&union),
                &key,
                &app_a,
                1_000,
            ))
            .await
            .unwrap();
        let second = store
            .record_code_exchange(&exchange(
                &hash_b,
                &openid_b,
                Some(&union),
                &key,
                &app_b,
                1_001,
            ))
            .await
            .unwrap();
        assert_eq!(second.id, first.id, "{}", db.label);
        assert_eq!(second.openid, openid_b, "{}", db.label);
        assert!(
            store
                .session_key(&app_b, &openid_b)
                .await
                .unwrap()
                .is_some(),
            "{}",
            db.label
        );
        let created = store
            .events_after(0, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|event| event.event_type == "user.created")
            .count();
        assert_eq!(created, 1, "one person, one user.created: {}", db.label);
    }
}

#[tokio::test]
async fn every_kind_of_exchange_stores_the_logins_session_with_it() {
    for db in fresh_stores().await {
        let store = &db.store;
        let union = UnionId::new("union-session");
        let key = SessionKey::from_bytes([6u8; 16]);
        let (app_a, app_b) = (AppId::configured("wxappA"), AppId::configured("wxappB"));
        let (openid_a, openid_b) = (OpenId::new("openid-sa"), OpenId::new("openid-sb"));
        // A first login, the same identity again, and a second app's first login joining
        // the user through the unionid: three paths through `record_code_exchange`.
        let logins = [
            (&app_a, &openid_a, "code-new", 1_000),
            (&app_a, &openid_a, "code-again", 1_100),
            (&app_b, &openid_b, "code-joined", 1_200),
        ];
        let mut users = Vec::new();
        for (number, (appid, openid, code, now)) in logins.into_iter().enumerate() {
            let code_hash = hash_login_code(appid, code);
            store
                .claim_login_code(&code_hash, appid, now, TTL)
                .await
                .unwrap();
            let session = ExchangeSession {
                id: SessionId::new(format!("session-{number}")),
                refresh_token_hash: RefreshTokenHash::new(format!("refresh-{number}")),
                expires_at: now + 3_600,
            };
            let mut exchange = exchange(&code_hash, openid, Some(&union), &key, appid, now);
            exchange.session = Some(&session);
            let user = store.record_code_exchange(&exchange).await.unwrap();
            let stored = store
                .session(&session.id)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("no session after login {number}: {}", db.label));
            assert_eq!(stored.user_id, user.id, "{}", db.label);
            assert_eq!(&stored.appid, appid, "{}", db.label);
            assert_eq!(&stored.openid, openid, "{}", db.label);
            assert_eq!(stored.created_at, now, "{}", db.label);
            assert_eq!(stored.expires_at, now + 3_600, "{}", db.label);
            assert_eq!(stored.revoked_at, None, "{}", db.label);
            users.push(user.id);
        }
        assert!(users.iter().all(|id| *id == users[0]), "{}", db.label);
        assert_eq!(
            store
                .count_active_user_sessions(&users[0], 1_300)
                .await
                .unwrap(),
            3,
            "{}",
            db.label
        );
    }
}
