//! Sessions: issuing, authenticating against the database, refresh rotation, reuse
//! detection, concurrent refreshes, logout and revocation across instances.

use std::time::Duration;
use wxlogin_server::domain::{AppId, OpenId, RefreshTokenHash};

use crate::helpers::fresh_stores;
use wxlogin_server::sessions::{AuthError, RefreshError, SessionPolicy, Sessions};
use wxlogin_server::storage::{Store, User};
use wxlogin_server::tokens::{KeyPolicy, SigningKeys, TokenError};

const NOW: i64 = 1_700_000_000;
const ACCESS_TTL: i64 = 1_800;
const REFRESH_TTL: i64 = 30 * 24 * 3600;

async fn sessions_for(store: &Store) -> Sessions {
    let mut key_policy = KeyPolicy::new(Duration::from_secs(ACCESS_TTL as u64));
    key_policy.min_reload_gap = Duration::ZERO;
    let keys = SigningKeys::load_or_create(store.clone(), key_policy, NOW)
        .await
        .unwrap();
    Sessions::new(
        store.clone(),
        keys,
        SessionPolicy::new(["wxapp1".to_string(), "wxapp2".to_string()]),
    )
}

async fn user(store: &Store) -> User {
    store
        .find_or_create_user(
            &AppId::configured("wxapp1"),
            &OpenId::new("openid-1"),
            None,
            NOW,
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn an_issued_pair_authenticates_as_the_user_in_the_app() {
    for db in fresh_stores().await {
        let sessions = sessions_for(&db.store).await;
        let user = user(&db.store).await;
        let pair = sessions.issue(&user, NOW).await.unwrap();
        assert_eq!(pair.token_type, "Bearer");
        assert_eq!(pair.expires_in, ACCESS_TTL as u64);
        assert_eq!(pair.refresh_token.len(), 43);
        let context = sessions
            .authenticate(&pair.access_token, NOW + 1)
            .await
            .unwrap();
        assert_eq!(context.user_id, user.id, "{}", db.label);
        assert_eq!(
            (context.appid.as_str(), context.openid.as_str()),
            ("wxapp1", "openid-1")
        );
        let claims = sessions
            .keys()
            .verify(&pair.access_token, &policy_rules(&sessions), NOW)
            .await
            .unwrap();
        assert_eq!(claims.sid, context.session_id);
        assert_eq!(claims.exp, NOW + ACCESS_TTL);
        assert_eq!(claims.iss, "wxlogin");

        let rendered = format!("{pair:?}");
        assert!(!rendered.contains(&pair.access_token) && !rendered.contains(&pair.refresh_token));
        assert_eq!(sessions.count_active_sessions(NOW).await.unwrap(), 1);

        // The refresh token is stored only as its hash.
        let raw = db.raw_pool().await;
        let stored: Vec<String> = sqlx::query_scalar("SELECT hash FROM refresh_tokens")
            .fetch_all(&raw)
            .await
            .unwrap();
        assert_eq!(stored.len(), 1);
        assert_ne!(stored[0], pair.refresh_token);
        raw.close().await;

        assert!(matches!(
            sessions
                .authenticate(&pair.access_token, NOW + ACCESS_TTL)
                .await,
            Err(AuthError::InvalidToken(TokenError::Expired))
        ));
    }
}

fn policy_rules(sessions: &Sessions) -> wxlogin_server::tokens::AccessTokenRules {
    wxlogin_server::tokens::AccessTokenRules {
        issuer: sessions.policy().issuer.clone(),
        audiences: sessions.policy().audiences.clone(),
        leeway_seconds: 0,
    }
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_whole_family() {
    for db in fresh_stores().await {
        let sessions = sessions_for(&db.store).await;
        let user = user(&db.store).await;
        let first = sessions.issue(&user, NOW).await.unwrap();
        let (second, refreshed_user) = sessions
            .refresh(&first.refresh_token, NOW + 60)
            .await
            .unwrap();
        assert_eq!(refreshed_user, user, "{}", db.label);
        assert_ne!(second.refresh_token, first.refresh_token);
        let first_context = sessions
            .authenticate(&first.access_token, NOW + 61)
            .await
            .unwrap();
        let second_context = sessions
            .authenticate(&second.access_token, NOW + 61)
            .await
            .unwrap();
        assert_eq!(
            first_context.session_id, second_context.session_id,
            "one family"
        );

        let (third, _) = sessions
            .refresh(&second.refresh_token, NOW + 120)
            .await
            .unwrap();

        // The first token again: someone holds a copy. Fail and end the family.
        assert!(
            matches!(
                sessions.refresh(&first.refresh_token, NOW + 180).await,
                Err(RefreshError::Reused)
            ),
            "{}",
            db.label
        );
        assert!(matches!(
            sessions.refresh(&third.refresh_token, NOW + 181).await,
            Err(RefreshError::SessionEnded)
        ));
        assert!(matches!(
            sessions.authenticate(&third.access_token, NOW + 181).await,
            Err(AuthError::SessionEnded)
        ));
        assert_eq!(sessions.count_active_sessions(NOW + 181).await.unwrap(), 0);
    }
}

#[tokio::test]
async fn unknown_and_expired_refresh_tokens_fail() {
    for db in fresh_stores().await {
        let sessions = sessions_for(&db.store).await;
        let user = user(&db.store).await;
        assert!(matches!(
            sessions.refresh("not-a-token", NOW).await,
            Err(RefreshError::Unknown)
        ));
        let pair = sessions.issue(&user, NOW).await.unwrap();
        assert!(
            matches!(
                sessions
                    .refresh(&pair.refresh_token, NOW + REFRESH_TTL)
                    .await,
                Err(RefreshError::Expired)
            ),
            "{}",
            db.label
        );
        // Expiry is not reuse: the refresh just before expiry still works.
        let (next, _) = sessions
            .refresh(&pair.refresh_token, NOW + REFRESH_TTL - 1)
            .await
            .unwrap();
        // ...and rotation renews the lifetime.
        assert!(
            sessions
                .refresh(&next.refresh_token, NOW + REFRESH_TTL + 100)
                .await
                .is_ok(),
            "{}",
            db.label
        );
        let report = db.store.purge_expired(NOW + 3 * REFRESH_TTL).await.unwrap();
        assert!(
            report.refresh_tokens >= 1 && report.sessions == 1,
            "{report:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_two_concurrent_refreshes_on_two_instances_exactly_one_wins() {
    for db in fresh_stores().await {
        let instance_a = sessions_for(&db.store).await;
        let instance_b = sessions_for(&db.another_instance().await).await;
        let user = user(&db.store).await;
        for round in 0..5 {
            let pair = instance_a.issue(&user, NOW + round).await.unwrap();
            let token_a = pair.refresh_token.clone();
            let token_b = pair.refresh_token.clone();
            let (a, b) = (instance_a.clone(), instance_b.clone());
            let first = tokio::spawn(async move { a.refresh(&token_a, NOW + round + 1).await });
            let second = tokio::spawn(async move { b.refresh(&token_b, NOW + round + 1).await });
            let outcomes = [first.await.unwrap(), second.await.unwrap()];
            let wins = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
            assert_eq!(wins, 1, "{}: round {round}: {outcomes:?}", db.label);
            assert!(outcomes
                .iter()
                .any(|outcome| matches!(outcome, Err(RefreshError::Reused))));
        }
    }
}

#[tokio::test]
async fn logout_on_one_instance_ends_the_session_on_another_at_once() {
    for db in fresh_stores().await {
        let instance_a = sessions_for(&db.store).await;
        let instance_b = sessions_for(&db.another_instance().await).await;
        let user = user(&db.store).await;
        let pair = instance_a.issue(&user, NOW).await.unwrap();
        let context = instance_b
            .authenticate(&pair.access_token, NOW + 1)
            .await
            .unwrap();
        assert!(instance_a
            .logout(&context.session_id, NOW + 2)
            .await
            .unwrap());
        assert!(
            !instance_a
                .logout(&context.session_id, NOW + 3)
                .await
                .unwrap(),
            "second logout is a no-op"
        );
        assert!(
            matches!(
                instance_b.authenticate(&pair.access_token, NOW + 3).await,
                Err(AuthError::SessionEnded)
            ),
            "{}",
            db.label
        );
        assert!(matches!(
            instance_b.refresh(&pair.refresh_token, NOW + 3).await,
            Err(RefreshError::SessionEnded)
        ));
    }
}

#[tokio::test]
async fn revoking_a_user_ends_all_their_sessions_only() {
    for db in fresh_stores().await {
        let sessions = sessions_for(&db.store).await;
        let alice = user(&db.store).await;
        let bob = db
            .store
            .find_or_create_user(
                &AppId::configured("wxapp2"),
                &OpenId::new("openid-bob"),
                None,
                NOW,
            )
            .await
            .unwrap();
        let alice_pairs = [
            sessions.issue(&alice, NOW).await.unwrap(),
            sessions.issue(&alice, NOW).await.unwrap(),
        ];
        let bob_pair = sessions.issue(&bob, NOW).await.unwrap();
        assert_eq!(
            db.store
                .count_active_user_sessions(&alice.id, NOW)
                .await
                .unwrap(),
            2
        );
        assert_eq!(
            db.store
                .revoke_user(&alice.id, wxlogin_server::storage::Actor::Operator, NOW + 1)
                .await
                .unwrap(),
            2,
            "{}",
            db.label
        );
        assert_eq!(
            db.store
                .count_active_user_sessions(&alice.id, NOW + 1)
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            db.store
                .count_active_user_sessions(&bob.id, NOW + 1)
                .await
                .unwrap(),
            1
        );
        for pair in &alice_pairs {
            assert!(sessions
                .authenticate(&pair.access_token, NOW + 2)
                .await
                .is_err());
        }
        assert!(sessions
            .authenticate(&bob_pair.access_token, NOW + 2)
            .await
            .is_ok());
        assert_eq!(sessions.count_active_sessions(NOW + 2).await.unwrap(), 1);
        assert_eq!(
            db.store
                .revoke_user(&alice.id, wxlogin_server::storage::Actor::Operator, NOW + 3)
                .await
                .unwrap(),
            0
        );
    }
}

#[tokio::test]
async fn a_token_for_an_unconfigured_app_is_refused() {
    for db in fresh_stores().await {
        let sessions = sessions_for(&db.store).await;
        let stranger = db
            .store
            .find_or_create_user(
                &AppId::configured("wxremoved"),
                &OpenId::new("openid-x"),
                None,
                NOW,
            )
            .await
            .unwrap();
        let pair = sessions.issue(&stranger, NOW).await.unwrap();
        assert!(matches!(
            sessions.authenticate(&pair.access_token, NOW + 1).await,
            Err(AuthError::InvalidToken(TokenError::WrongAudience))
        ));
    }
}

#[tokio::test]
async fn issuing_a_session_purges_expired_rows_in_the_background() {
    for db in fresh_stores().await {
        let sessions = sessions_for(&db.store).await;
        let user = user(&db.store).await;
        let old_code =
            wxlogin_server::storage::hash_login_code(&AppId::configured("wxapp1"), "old-code");
        db.store
            .claim_login_code(
                &old_code,
                &AppId::configured("wxapp1"),
                NOW - 100,
                Duration::from_secs(10),
            )
            .await
            .unwrap();
        let raw = db.raw_pool().await;
        sessions.issue(&user, NOW).await.unwrap();
        let mut remaining = 1;
        for _ in 0..50 {
            remaining = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM login_codes")
                .fetch_one(&raw)
                .await
                .unwrap();
            if remaining == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(remaining, 0, "{}: expired login code left behind", db.label);
        raw.close().await;
    }
}

#[tokio::test]
async fn authenticating_with_the_user_reads_the_same_caller_and_its_user() {
    for db in fresh_stores().await {
        let sessions = sessions_for(&db.store).await;
        let user = user(&db.store).await;
        let pair = sessions.issue(&user, NOW).await.unwrap();
        let context = sessions
            .authenticate(&pair.access_token, NOW + 1)
            .await
            .unwrap();
        let (joined_context, joined_user) = sessions
            .authenticate_with_user(&pair.access_token, NOW + 1)
            .await
            .unwrap();
        assert_eq!(joined_context, context, "{}", db.label);
        assert_eq!(joined_user.as_ref(), Some(&user), "{}", db.label);

        // An identity that no longer leads to the session's user: the session is live, the
        // user is gone.
        let raw = db.raw_pool().await;
        sqlx::query("DELETE FROM identities WHERE appid = 'wxapp1' AND openid = 'openid-1'")
            .execute(&raw)
            .await
            .unwrap();
        raw.close().await;
        let (_, orphaned) = sessions
            .authenticate_with_user(&pair.access_token, NOW + 2)
            .await
            .unwrap();
        assert_eq!(orphaned, None, "{}", db.label);

        assert!(sessions.logout(&context.session_id, NOW + 3).await.unwrap());
        assert!(
            matches!(
                sessions
                    .authenticate_with_user(&pair.access_token, NOW + 4)
                    .await,
                Err(AuthError::SessionEnded)
            ),
            "{}",
            db.label
        );
        assert!(matches!(
            sessions
                .authenticate_with_user(&pair.access_token, NOW + ACCESS_TTL)
                .await,
            Err(AuthError::InvalidToken(TokenError::Expired))
        ));
    }
}

#[tokio::test]
async fn a_rotation_answers_the_session_as_extended_and_refuses_an_ended_one() {
    use wxlogin_server::storage::RefreshRotation;
    use wxlogin_server::tokens::hash_refresh_token;
    for db in fresh_stores().await {
        let sessions = sessions_for(&db.store).await;
        let user = user(&db.store).await;
        let pair = sessions.issue(&user, NOW).await.unwrap();
        let rotated = db
            .store
            .rotate_refresh_token(
                &hash_refresh_token(&pair.refresh_token),
                &RefreshTokenHash::new("successor-hash"),
                NOW + 10,
                NOW + 10 + REFRESH_TTL,
                &|_| true,
            )
            .await
            .unwrap();
        let RefreshRotation::Rotated(session, rotated_user) = rotated else {
            panic!("{}: expected a rotation, got {rotated:?}", db.label);
        };
        assert_eq!(rotated_user.as_ref(), Some(&user), "{}", db.label);
        assert_eq!(
            (
                session.user_id.as_str(),
                session.appid.as_str(),
                session.openid.as_str()
            ),
            (user.id.as_str(), "wxapp1", "openid-1"),
            "{}",
            db.label
        );
        assert_eq!(session.expires_at, NOW + 10 + REFRESH_TTL, "{}", db.label);
        assert_eq!(session.revoked_at, None);

        assert!(sessions.logout(&session.id, NOW + 20).await.unwrap());
        let after_logout = db
            .store
            .rotate_refresh_token(
                &RefreshTokenHash::new("successor-hash"),
                &RefreshTokenHash::new("third-hash"),
                NOW + 30,
                NOW + 30 + REFRESH_TTL,
                &|_| true,
            )
            .await
            .unwrap();
        assert_eq!(
            after_logout,
            RefreshRotation::SessionEnded {
                session_id: session.id.clone()
            },
            "{}",
            db.label
        );
    }
}
