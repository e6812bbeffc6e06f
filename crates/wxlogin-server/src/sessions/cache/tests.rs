use super::*;
use crate::storage::StoreOptions;

const NOW: UnixSeconds = 1_700_000_000;

async fn database() -> Database {
    Database::connect("sqlite::memory:", &StoreOptions::default())
        .await
        .unwrap()
}

fn session(user: &str, id: &str) -> SessionRecord {
    SessionRecord {
        id: SessionId::from(id.to_owned()),
        user_id: UserId::from(user.to_owned()),
        appid: "wxapp1".into(),
        openid: format!("openid-{user}").into(),
        created_at: NOW - 10,
        expires_at: NOW + 3_600,
        revoked_at: None,
    }
}

fn user(id: &str) -> User {
    User {
        id: UserId::from(id.to_owned()),
        appid: "wxapp1".into(),
        openid: format!("openid-{id}").into(),
        unionid: None,
        phone_number: None,
        nickname: Some(format!("nick-{id}")),
        avatar_url: None,
        created_at: NOW - 100,
        roles: Vec::new(),
    }
}

fn later() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

/// A cache whose follower has caught up with everything so far.
async fn caught_up_cache(capacity: usize) -> (SessionCache, Database) {
    let database = database().await;
    let cache = SessionCache::new(capacity, database.clone());
    cache.caught_up(database.commit_mark().unwrap(), later());
    (cache, database)
}

fn fill(cache: &SessionCache, user_id: &str, session_id: &str) {
    let ticket = cache.ticket().expect("a ticket while following");
    cache.fill(ticket, session(user_id, session_id), user(user_id));
}

fn served(cache: &SessionCache, user_id: &str, session_id: &str) -> bool {
    cache
        .get(
            &UserId::from(user_id.to_owned()),
            &SessionId::from(session_id.to_owned()),
            NOW,
        )
        .is_some()
}

#[tokio::test]
async fn nothing_is_filled_or_served_before_the_follower_has_caught_up() {
    let database = database().await;
    let cache = SessionCache::new(100, database.clone());
    assert!(cache.ticket().is_none(), "no ticket before following");
    cache.caught_up(database.commit_mark().unwrap(), later());
    fill(&cache, "u1", "s1");
    assert!(served(&cache, "u1", "s1"));
    let cached = cache
        .get(
            &UserId::from("u1".to_owned()),
            &SessionId::from("s1".to_owned()),
            NOW,
        )
        .unwrap();
    assert_eq!(cached.user.nickname.as_deref(), Some("nick-u1"));
    assert!(!served(&cache, "u1", "s2"), "another session of the user");
    assert!(
        !served(&cache, "u2", "s1"),
        "the session under another user"
    );
}

#[tokio::test]
async fn a_write_finished_after_the_catch_up_stops_serving_until_the_next() {
    let (cache, database) = caught_up_cache(100).await;
    fill(&cache, "u1", "s1");
    assert!(served(&cache, "u1", "s1"));

    database.writes().count();
    assert!(!served(&cache, "u1", "s1"), "a write since the catch-up");
    // The request that found it behind woke the follower.
    tokio::time::timeout(Duration::from_secs(1), cache.wanted())
        .await
        .expect("the follower is wanted");

    cache.caught_up(database.commit_mark().unwrap(), later());
    assert!(served(&cache, "u1", "s1"), "caught up again");
}

#[tokio::test]
async fn a_fill_that_read_before_a_change_never_stores_after_it() {
    let (cache, _database) = caught_up_cache(100).await;
    let ticket = cache.ticket().unwrap();
    // The change is applied while the fill is reading the database.
    cache.forget(&[UserId::from("u1".to_owned())]);
    cache.fill(ticket, session("u1", "s1"), user("u1"));
    assert!(!served(&cache, "u1", "s1"));
    assert!(cache.is_empty());
    // A fill that reads after it stores.
    fill(&cache, "u1", "s1");
    assert!(served(&cache, "u1", "s1"));
}

#[tokio::test]
async fn forgetting_a_user_drops_all_its_sessions_and_no_one_elses() {
    let (cache, _database) = caught_up_cache(100).await;
    fill(&cache, "u1", "s1");
    fill(&cache, "u1", "s2");
    fill(&cache, "u2", "s3");
    assert!(served(&cache, "u1", "s1") && served(&cache, "u1", "s2"));
    cache.forget(&[UserId::from("u1".to_owned())]);
    assert!(!served(&cache, "u1", "s1"));
    assert!(!served(&cache, "u1", "s2"));
    assert!(served(&cache, "u2", "s3"));
}

#[tokio::test]
async fn once_it_stops_following_nothing_is_served_and_earlier_tickets_stay_void() {
    let (cache, database) = caught_up_cache(100).await;
    fill(&cache, "u1", "s1");
    let early = cache.ticket().unwrap();
    cache.stop_following();
    assert!(!served(&cache, "u1", "s1"));
    assert!(cache.is_empty());
    assert!(cache.ticket().is_none());

    cache.caught_up(database.commit_mark().unwrap(), later());
    cache.fill(early, session("u2", "s2"), user("u2"));
    assert!(
        !served(&cache, "u2", "s2"),
        "a fill that read while not following"
    );
    fill(&cache, "u2", "s2");
    assert!(served(&cache, "u2", "s2"));
}

#[tokio::test]
async fn past_the_last_catch_ups_allowance_nothing_is_served() {
    let (cache, database) = caught_up_cache(100).await;
    fill(&cache, "u1", "s1");
    cache.caught_up(database.commit_mark().unwrap(), Instant::now());
    assert!(!served(&cache, "u1", "s1"));
}

#[tokio::test]
async fn a_session_past_its_stored_expiry_is_left_to_the_database() {
    let (cache, _database) = caught_up_cache(100).await;
    fill(&cache, "u1", "s1");
    let id = (
        UserId::from("u1".to_owned()),
        SessionId::from("s1".to_owned()),
    );
    assert!(cache.get(&id.0, &id.1, NOW + 3_599).is_some());
    assert!(cache.get(&id.0, &id.1, NOW + 3_600).is_none());
}

#[tokio::test]
async fn a_user_keeps_only_its_latest_sessions() {
    let (cache, _database) = caught_up_cache(100).await;
    for index in 0..SESSIONS_PER_USER + 2 {
        fill(&cache, "u1", &format!("s{index}"));
    }
    let kept = (0..SESSIONS_PER_USER + 2)
        .filter(|index| served(&cache, "u1", &format!("s{index}")))
        .count();
    assert_eq!(kept, SESSIONS_PER_USER);
    assert!(served(&cache, "u1", &format!("s{}", SESSIONS_PER_USER + 1)));
}

#[tokio::test]
async fn capacity_zero_remembers_nothing() {
    let (cache, _database) = caught_up_cache(0).await;
    assert!(!cache.is_on());
    assert!(cache.ticket().is_none());
    cache.fill(
        FillTicket { generation: 0 },
        session("u1", "s1"),
        user("u1"),
    );
    assert!(!served(&cache, "u1", "s1"));
}
