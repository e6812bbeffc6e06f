//! The database's own record of which users' authentication changed (migration 0010's
//! triggers) as a follower reads it, on both databases; and, on PostgreSQL, a revoker
//! waiting for every follower that holds a lease.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use wxlogin_server::domain::{AppId, OpenId, UserId};
use wxlogin_server::sessions::{SessionPolicy, Sessions};
use wxlogin_server::storage::{RevocationReason, Store, User, UserChangeFeed, UserChanges};
use wxlogin_server::tokens::{KeyPolicy, SigningKeys};

use crate::helpers::{fresh_postgres, fresh_sqlite, fresh_stores};

const NOW: i64 = 1_700_000_000;

async fn sessions_for(store: &Store) -> Sessions {
    let keys = SigningKeys::load_or_create(
        store.clone(),
        KeyPolicy::new(Duration::from_secs(1_800)),
        NOW,
    )
    .await
    .unwrap();
    Sessions::new(
        store.clone(),
        keys,
        SessionPolicy::new(["wxapp1".to_string()]),
    )
}

async fn user(store: &Store, openid: &str) -> User {
    store
        .find_or_create_user(
            &AppId::configured("wxapp1"),
            &OpenId::new(openid),
            None,
            NOW,
        )
        .await
        .unwrap()
}

/// The users reported since the last call, each once.
async fn changed(feed: &mut UserChangeFeed, store: &Store) -> BTreeSet<UserId> {
    let mark = store.database().commit_mark().expect("a commit mark");
    match feed.catch_up(mark).await.unwrap().changes {
        UserChanges::Users(users) => users.into_iter().collect(),
        UserChanges::Unknown => panic!("changes were missed"),
    }
}

fn only(user: &User) -> BTreeSet<UserId> {
    BTreeSet::from([user.id.clone()])
}

#[tokio::test]
async fn changes_that_decide_an_authentication_are_reported_and_logins_and_refreshes_are_not() {
    for db in fresh_stores().await {
        let sessions = sessions_for(&db.store).await;
        let alice = user(&db.store, "openid-alice").await;
        let bob = user(&db.store, "openid-bob").await;
        let pair = sessions.issue(&alice, NOW).await.unwrap();
        let mut feed = db.store.follow_user_changes("test-follower").await.unwrap();
        assert!(
            changed(&mut feed, &db.store).await.is_empty(),
            "{}",
            db.label
        );

        // The hot paths write nothing to follow: a login's new session, a refresh.
        sessions.issue(&alice, NOW + 1).await.unwrap();
        sessions
            .refresh(&pair.refresh_token, NOW + 2)
            .await
            .unwrap();
        user(&db.store, "openid-carol").await;
        assert!(
            changed(&mut feed, &db.store).await.is_empty(),
            "{}",
            db.label
        );

        // An operator's SQL, through no code of ours (which would also wait for followers).
        let raw = db.raw_pool().await;
        let sql = |statement: &'static str, id: &UserId| {
            let raw = raw.clone();
            let id = id.as_str().to_owned();
            async move {
                sqlx::query(statement).bind(id).execute(&raw).await.unwrap();
            }
        };
        sql("UPDATE users SET nickname = 'n' WHERE id = $1", &alice.id).await;
        assert_eq!(
            changed(&mut feed, &db.store).await,
            only(&alice),
            "{}",
            db.label
        );
        sql("UPDATE users SET roles = 'vip' WHERE id = $1", &bob.id).await;
        assert_eq!(
            changed(&mut feed, &db.store).await,
            only(&bob),
            "{}",
            db.label
        );
        // Columns nobody authenticates with, and a value set to itself: nothing.
        sql("UPDATE users SET updated_at = 7 WHERE id = $1", &bob.id).await;
        sql("UPDATE users SET roles = roles WHERE id = $1", &bob.id).await;
        assert!(
            changed(&mut feed, &db.store).await.is_empty(),
            "{}",
            db.label
        );
        sql(
            "UPDATE identities SET unionid = 'u' WHERE user_id = $1",
            &bob.id,
        )
        .await;
        assert_eq!(
            changed(&mut feed, &db.store).await,
            only(&bob),
            "{}",
            db.label
        );
        sql(
            "UPDATE sessions SET revoked_at = 1 WHERE user_id = $1",
            &alice.id,
        )
        .await;
        assert_eq!(
            changed(&mut feed, &db.store).await,
            only(&alice),
            "{}",
            db.label
        );
        sql("DELETE FROM sessions WHERE user_id = $1", &alice.id).await;
        assert_eq!(
            changed(&mut feed, &db.store).await,
            only(&alice),
            "{}",
            db.label
        );
        sql("DELETE FROM users WHERE id = $1", &bob.id).await;
        assert_eq!(
            changed(&mut feed, &db.store).await,
            only(&bob),
            "{}",
            db.label
        );
        assert!(
            changed(&mut feed, &db.store).await.is_empty(),
            "{}",
            db.label
        );
    }
}

#[tokio::test]
async fn a_log_pruned_past_what_a_follower_read_says_changes_were_missed() {
    let db = fresh_sqlite().await;
    let alice = user(&db.store, "openid-alice").await;
    let mut feed = db.store.follow_user_changes("test-follower").await.unwrap();
    let raw = db.raw_pool().await;
    for nickname in ["a", "b"] {
        sqlx::query("UPDATE users SET nickname = $1 WHERE id = $2")
            .bind(nickname)
            .bind(alice.id.as_str())
            .execute(&raw)
            .await
            .unwrap();
    }
    sqlx::query("DELETE FROM user_changes WHERE seq = (SELECT MIN(seq) FROM user_changes)")
        .execute(&raw)
        .await
        .unwrap();
    let mark = db.store.database().commit_mark().unwrap();
    assert_eq!(
        feed.catch_up(mark).await.unwrap().changes,
        UserChanges::Unknown
    );
    // And it goes on from there.
    assert!(changed(&mut feed, &db.store).await.is_empty());
}

#[tokio::test]
async fn a_revocation_waits_out_a_silent_followers_lease_and_not_an_answering_one() {
    let Some(db) = fresh_postgres().await else {
        eprintln!("skipped: WXLOGIN_TEST_POSTGRES_URL is not set");
        return;
    };
    let sessions = sessions_for(&db.store).await;
    let alice = user(&db.store, "openid-alice").await;
    let first = sessions.issue(&alice, NOW).await.unwrap();
    let second = sessions.issue(&alice, NOW).await.unwrap();
    let first_session = sessions
        .authenticate(&first.access_token, NOW)
        .await
        .unwrap()
        .session_id;
    let second_session = sessions
        .authenticate(&second.access_token, NOW)
        .await
        .unwrap()
        .session_id;

    // A follower that holds a lease and never answers (stuck, or its connection dead).
    let silent = db.store.follow_user_changes("silent").await.unwrap();
    let started = Instant::now();
    assert!(db
        .store
        .revoke_session(&first_session, RevocationReason::Logout, NOW)
        .await
        .unwrap());
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1_500) && waited < Duration::from_secs(5),
        "waited {waited:?} for a lease of 3 s"
    );
    drop(silent);
    sqlx::query("DELETE FROM session_cache_followers")
        .execute(&db.raw_pool().await)
        .await
        .unwrap();

    // A follower that answers: the revocation is done as soon as it has applied it.
    let following = sessions.clone().with_session_cache(100);
    let task = following.follow_database().expect("the cache is on");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let leases: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM session_cache_followers")
            .fetch_one(&db.raw_pool().await)
            .await
            .unwrap();
        if leases == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the follower never took its lease"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = Instant::now();
    assert!(db
        .store
        .revoke_session(&second_session, RevocationReason::Logout, NOW)
        .await
        .unwrap());
    assert!(
        started.elapsed() < Duration::from_millis(1_500),
        "waited {:?} for a follower that answers",
        started.elapsed()
    );
    task.abort();
}
