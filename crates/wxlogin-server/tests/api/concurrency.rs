//! Many clients at once against the real server (port 0, in-process simulator): a burst of
//! logins creates each user exactly once, and mixes of refresh, logout and `me` on shared
//! sessions never answer a 5xx and keep the refresh-token rules (one winner per token,
//! a reused token ends its session).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use crate::helpers::{answer, spawn_app_without_limits, token, Answer, TestApp, APPID};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::sync::Barrier;

const USERS: usize = 100;
const LOGINS_PER_USER: usize = 10;

/// Every status seen, by code, for the failure message.
fn status_counts(answers: &[Answer]) -> BTreeMap<u16, usize> {
    let mut counts = BTreeMap::new();
    for answer in answers {
        *counts.entry(answer.status.as_u16()).or_default() += 1;
    }
    counts
}

fn assert_no_server_error(answers: &[Answer], what: &str) {
    let counts = status_counts(answers);
    let failures: Vec<&Answer> = answers
        .iter()
        .filter(|answer| answer.status.is_server_error())
        .collect();
    assert!(
        failures.is_empty(),
        "{what}: statuses {counts:?}; first 5xx: {}",
        failures[0].text
    );
}

/// POST `body` to `path` with every request released at the same moment.
async fn post_all_at_once(
    app: &Arc<TestApp>,
    requests: Vec<(&'static str, Option<String>, Value)>,
) -> Vec<Answer> {
    let barrier = Arc::new(Barrier::new(requests.len()));
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|(path, bearer, body)| {
            let app = app.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                let mut request = app.http.post(app.url(path));
                if let Some(bearer) = bearer {
                    request = request.bearer_auth(bearer);
                }
                let request = request.json(&body);
                barrier.wait().await;
                answer(request.send().await.expect("request is answered")).await
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(tasks.len());
    for task in tasks {
        answers.push(task.await.expect("request task"));
    }
    answers
}

fn user_name(index: usize) -> String {
    format!("burst-user-{index:03}")
}

/// Both ends of every connection live in this process: 1,000 at once need some 2,000
/// descriptors, more than the common soft limit of 1,024. Raise the soft limit towards the
/// hard one (allowed without privileges).
fn make_room_for_connections(needed: libc::rlim_t) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed by pointer.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        if limit.rlim_cur < needed {
            limit.rlim_cur = limit.rlim_max.min(needed);
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
        }
    }
    assert!(
        limit.rlim_cur >= needed,
        "the open-files limit ({}) is too low for this test; raise it (ulimit -n {needed})",
        limit.rlim_cur
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_logins_of_a_hundred_users_create_exactly_a_hundred_users() {
    make_room_for_connections(4 * (USERS * LOGINS_PER_USER) as libc::rlim_t);
    let app = Arc::new(spawn_app_without_limits().await);
    // Ten fresh codes per user, interleaved so each user's logins are spread over the burst.
    let mut names = Vec::new();
    let mut requests = Vec::new();
    for _round in 0..LOGINS_PER_USER {
        for user in 0..USERS {
            let name = user_name(user);
            let code = app.code(APPID, &name);
            requests.push(("/v1/login", None, json!({"code": code, "appid": APPID})));
            names.push(name);
        }
    }

    let answers = post_all_at_once(&app, requests).await;

    assert_no_server_error(&answers, "logins");
    assert_eq!(
        status_counts(&answers),
        BTreeMap::from([(200, USERS * LOGINS_PER_USER)]),
        "every login succeeds"
    );
    let mut user_ids: HashMap<&str, HashSet<String>> = HashMap::new();
    let mut session_refresh_tokens = HashSet::new();
    for (name, answer) in names.iter().zip(&answers) {
        let id = answer.body["user"]["id"]
            .as_str()
            .expect("user id")
            .to_owned();
        user_ids.entry(name).or_default().insert(id);
        session_refresh_tokens.insert(token(&answer.body, "refresh_token"));
    }
    for (name, ids) in &user_ids {
        assert_eq!(ids.len(), 1, "{name} became several users: {ids:?}");
    }
    let distinct: HashSet<&String> = user_ids.values().flatten().collect();
    assert_eq!(distinct.len(), USERS);
    assert_eq!(app.store().count_users().await.unwrap(), USERS as i64);
    assert_eq!(
        session_refresh_tokens.len(),
        USERS * LOGINS_PER_USER,
        "every login opened its own session"
    );
    assert_eq!(
        app.store()
            .count_active_sessions(wxlogin_server::storage::unix_now())
            .await
            .unwrap(),
        (USERS * LOGINS_PER_USER) as i64
    );
    assert_eq!(
        app.jscode2session_calls(APPID),
        (USERS * LOGINS_PER_USER) as u64,
        "each code exchanged once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_of_one_token_have_one_winner_and_revoke_the_session() {
    const SESSIONS: usize = 40;
    const RACERS: usize = 4;
    let app = Arc::new(spawn_app_without_limits().await);
    let mut logins = Vec::new();
    for index in 0..SESSIONS {
        logins.push(app.login(&format!("racer-{}", index % 8)).await);
    }

    let mut requests = Vec::new();
    for login in &logins {
        for _ in 0..RACERS {
            requests.push((
                "/v1/token/refresh",
                None,
                json!({"refresh_token": token(login, "refresh_token")}),
            ));
        }
    }
    let answers = post_all_at_once(&app, requests).await;
    assert_no_server_error(&answers, "racing refreshes");

    for (session, racers) in answers.chunks(RACERS).enumerate() {
        let winners: Vec<&Answer> = racers
            .iter()
            .filter(|answer| answer.status == StatusCode::OK)
            .collect();
        assert_eq!(
            winners.len(),
            1,
            "session {session}: statuses {:?}",
            status_counts(racers)
        );
        for loser in racers
            .iter()
            .filter(|answer| answer.status != StatusCode::OK)
        {
            loser.assert_error(401, "unauthorized");
        }
        // The losers presented a spent token: the family rule ends the session, so the
        // winner's new tokens are dead too.
        let winner = &winners[0].body;
        app.post(
            "/v1/token/refresh",
            None,
            json!({"refresh_token": token(winner, "refresh_token")}),
        )
        .await
        .assert_error(401, "unauthorized");
        app.get("/v1/me", Some(&token(winner, "access_token")))
            .await
            .assert_error(401, "unauthorized");
    }
    assert_eq!(
        app.store()
            .count_active_sessions(wxlogin_server::storage::unix_now())
            .await
            .unwrap(),
        0
    );
}

/// What one session does in the mixed burst.
#[derive(Clone, Copy)]
enum Mix {
    /// Refresh its token once while reading `me`: stays live.
    RefreshAndRead,
    /// Log out while refreshing and reading: ends revoked whatever the order.
    LogoutWhileRefreshing,
    /// Log out twice at once: both 204 or one 401, never a 5xx.
    DoubleLogout,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refresh_logout_and_me_mixes_never_answer_5xx() {
    const SESSIONS: usize = 60;
    let app = Arc::new(spawn_app_without_limits().await);
    let mixes = [
        Mix::RefreshAndRead,
        Mix::LogoutWhileRefreshing,
        Mix::DoubleLogout,
    ];
    let mut sessions = Vec::new();
    for index in 0..SESSIONS {
        let login = app.login(&format!("mixer-{}", index % 10)).await;
        sessions.push((mixes[index % mixes.len()], login));
    }

    let barrier = Arc::new(Barrier::new(SESSIONS));
    let tasks: Vec<_> = sessions
        .into_iter()
        .map(|(mix, login)| {
            let app = app.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                let access = token(&login, "access_token");
                let refresh = token(&login, "refresh_token");
                barrier.wait().await;
                let refresh_body = json!({"refresh_token": refresh});
                match mix {
                    Mix::RefreshAndRead => {
                        let (refreshed, me) = tokio::join!(
                            app.post("/v1/token/refresh", None, refresh_body),
                            app.get("/v1/me", Some(&access)),
                        );
                        let fresh = refreshed.assert_ok().clone();
                        me.assert_ok();
                        let again = app
                            .post(
                                "/v1/token/refresh",
                                None,
                                json!({"refresh_token": token(&fresh, "refresh_token")}),
                            )
                            .await;
                        again.assert_ok();
                        vec![refreshed, me, again]
                    }
                    Mix::LogoutWhileRefreshing => {
                        let (logout, refreshed, me) = tokio::join!(
                            app.post("/v1/logout", Some(&access), json!({})),
                            app.post("/v1/token/refresh", None, refresh_body),
                            app.get("/v1/me", Some(&access)),
                        );
                        assert!(
                            logout.status == StatusCode::NO_CONTENT
                                || logout.status == StatusCode::UNAUTHORIZED,
                            "logout: {}",
                            logout.text
                        );
                        // Whatever the order, afterwards nothing of the session works.
                        let mut after = Vec::new();
                        if refreshed.status == StatusCode::OK {
                            let fresh = &refreshed.body;
                            after.push(
                                app.post(
                                    "/v1/token/refresh",
                                    None,
                                    json!({"refresh_token": token(fresh, "refresh_token")}),
                                )
                                .await,
                            );
                            after
                                .push(app.get("/v1/me", Some(&token(fresh, "access_token"))).await);
                        }
                        after.push(app.get("/v1/me", Some(&access)).await);
                        for answer in &after {
                            answer.assert_error(401, "unauthorized");
                        }
                        let mut all = vec![logout, refreshed, me];
                        all.extend(after);
                        all
                    }
                    Mix::DoubleLogout => {
                        let (first, second) = tokio::join!(
                            app.post("/v1/logout", Some(&access), json!({})),
                            app.post("/v1/logout", Some(&access), json!({})),
                        );
                        assert!(
                            [first.status, second.status].contains(&StatusCode::NO_CONTENT),
                            "one logout succeeds: {} / {}",
                            first.text,
                            second.text
                        );
                        let me = app.get("/v1/me", Some(&access)).await;
                        me.assert_error(401, "unauthorized");
                        vec![first, second, me]
                    }
                }
            })
        })
        .collect();

    let mut answers = Vec::new();
    for task in tasks {
        answers.extend(task.await.expect("session task"));
    }
    assert_no_server_error(&answers, "refresh/logout/me mix");
    let allowed = [200, 204, 401];
    let counts = status_counts(&answers);
    assert!(
        counts.keys().all(|status| allowed.contains(status)),
        "unexpected statuses {counts:?}"
    );
    // Only the RefreshAndRead sessions remain live.
    assert_eq!(
        app.store()
            .count_active_sessions(wxlogin_server::storage::unix_now())
            .await
            .unwrap(),
        (SESSIONS / mixes.len()) as i64
    );
}
