//! Scale-out: several real `wxlogin serve` processes on one PostgreSQL database and one
//! WeChat simulator, as a team runs them behind a load balancer. Whatever must be shared
//! (sessions, refresh-token families, the upstream access token, login-code claims, users,
//! signing keys) has to live in the database, so each test drives a behaviour through
//! different instances and checks that they agree.
//!
//! The tests needing the shared PostgreSQL server skip (with a printed line) when
//! `WXLOGIN_TEST_POSTGRES_URL` is unset; `./scripts/test` sets it. The database-outage test
//! starts its own private cluster, which it stops and starts again.

use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::{Connection, Executor, PgConnection};
use tokio::task::JoinSet;
use wxlogin_server::at_rest::MasterKey;
use wxlogin_server::storage::{unix_now, Store, StoreOptions};
use wxlogin_server::tokens::{KeyPolicy, SigningKeys};
use wxlogin_sim::Endpoint;

use crate::helpers::database::{postgres_or_skip, FreshDatabase};
use crate::helpers::deployment::{eventually, Deployment, APPID, MASTER_KEY, SECRET};
use crate::helpers::http::{jwks_kids, token_kid, Answer};
use crate::helpers::private_cluster::PrivateCluster;
use crate::helpers::process::run_wxlogin;

/// How many authentications `instance` answered from its session cache so far.
async fn session_cache_hits(deployment: &Deployment, instance: usize) -> u64 {
    let metrics = deployment
        .http
        .get(&deployment.url(instance, "/metrics"), None)
        .await;
    metrics
        .text
        .lines()
        .find(|line| line.starts_with("wxlogin_session_cache_total{result=\"hit\"}"))
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

/// The store the instances share, opened as an admin tool would.
async fn shared_store(deployment: &Deployment) -> Store {
    Store::connect(
        &deployment.database_url,
        &StoreOptions::default(),
        MasterKey::from_base64(MASTER_KEY).expect("valid master key"),
    )
    .await
    .expect("the shared database opens")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn logout_on_one_instance_is_refused_by_the_others_at_once() {
    let Some(deployment) = Deployment::on_test_postgres("logout_across_instances", 2).await else {
        return;
    };
    let (a, b) = (0, 1);

    let login = deployment.login(a, "alice").await;
    let user_id = login.user_id();
    let me_on_b = deployment.me(b, &login.field("access_token")).await;
    assert_eq!(me_on_b.ok()["id"], user_id.as_str(), "{}", me_on_b.text);

    let refreshed = deployment.refresh(b, &login.field("refresh_token")).await;
    assert_eq!(refreshed.user_id(), user_id);
    let access = refreshed.field("access_token");
    let refresh = refreshed.field("refresh_token");
    deployment.me(a, &access).await.ok();

    // B answers the token from its session cache now.
    let hits_before = session_cache_hits(&deployment, b).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while session_cache_hits(&deployment, b).await == hits_before {
        assert!(Instant::now() < deadline, "B never answered from its cache");
        deployment.me(b, &access).await.ok();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let logout = deployment.logout(a, &access).await;
    assert_eq!(logout.status, 204, "{}", logout.text);

    // No wait: B refuses both tokens on the very next request (A's logout waited until
    // B had dropped the session from its cache).
    deployment
        .me(b, &access)
        .await
        .assert_error(401, "unauthorized");
    deployment
        .refresh(b, &refresh)
        .await
        .assert_error(401, "unauthorized");
    deployment
        .me(a, &access)
        .await
        .assert_error(401, "unauthorized");
    deployment.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn users_revoke_ends_the_sessions_on_every_instance() {
    let Some(deployment) = Deployment::on_test_postgres("revoke_across_instances", 2).await else {
        return;
    };
    let on_a = deployment.login(0, "revoked").await;
    let on_b = deployment.login(1, "revoked").await;
    let bystander = deployment.login(1, "bystander").await;
    let user_id = on_a.user_id();
    // Both instances answer both sessions from their caches.
    for instance in 0..2 {
        let hits_before = session_cache_hits(&deployment, instance).await;
        let deadline = Instant::now() + Duration::from_secs(5);
        while session_cache_hits(&deployment, instance).await < hits_before + 2 {
            assert!(
                Instant::now() < deadline,
                "{instance} never answered from its cache"
            );
            for session in [&on_a, &on_b] {
                deployment
                    .me(instance, &session.field("access_token"))
                    .await
                    .ok();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    // Another process, which waits until every instance has dropped the sessions.
    let revoked = run_wxlogin(&[
        "users",
        "revoke",
        &user_id,
        "--database-url",
        &deployment.database_url,
    ])
    .await;
    assert!(revoked.success, "{}", revoked.stderr);

    for session in [&on_a, &on_b] {
        for instance in 0..2 {
            deployment
                .me(instance, &session.field("access_token"))
                .await
                .assert_error(401, "unauthorized");
        }
        deployment
            .refresh(0, &session.field("refresh_token"))
            .await
            .assert_error(401, "unauthorized");
    }
    deployment
        .me(0, &bystander.field("access_token"))
        .await
        .ok();
    deployment.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refresh_token_reuse_is_detected_by_whichever_instance_sees_it() {
    let Some(deployment) = Deployment::on_test_postgres("refresh_reuse_across_instances", 3).await
    else {
        return;
    };
    // Spend on one instance, reuse on another: every ordering of the three instances.
    for (spend_on, reuse_on, check_on) in [(0, 1, 2), (1, 2, 0), (2, 0, 1)] {
        let user = format!("reuse-{spend_on}");
        let login = deployment.login(spend_on, &user).await;
        let spent = login.field("refresh_token");
        let rotated = deployment.refresh(spend_on, &spent).await;
        let family_access = rotated.field("access_token");
        let family_refresh = rotated.field("refresh_token");

        deployment
            .refresh(reuse_on, &spent)
            .await
            .assert_error(401, "unauthorized");

        // The reuse revoked the whole family, everywhere: the newest pair too.
        deployment
            .refresh(check_on, &family_refresh)
            .await
            .assert_error(401, "unauthorized");
        for instance in 0..3 {
            deployment
                .me(instance, &family_access)
                .await
                .assert_error(401, "unauthorized");
        }
        // Another session of the same user is not part of the family.
        let other = deployment.login(check_on, &user).await;
        deployment
            .me(reuse_on, &other.field("access_token"))
            .await
            .ok();
    }
    deployment.shutdown().await;
}

/// An access token for every (instance, user) pair.
async fn access_tokens(deployment: &Deployment, users: &[String]) -> Vec<Vec<String>> {
    let mut tokens = Vec::new();
    for instance in 0..deployment.servers.len() {
        let mut per_user = Vec::new();
        for user in users {
            per_user.push(deployment.login(instance, user).await.field("access_token"));
        }
        tokens.push(per_user);
    }
    tokens
}

/// 60 phone-number requests at once, spread over every instance and user.
async fn phone_requests_on_all_instances(
    deployment: &Deployment,
    users: &[String],
    access: &[Vec<String>],
) -> Vec<Answer> {
    let requests: Vec<(String, String, String)> = (0..60)
        .map(|index| {
            let instance = index % deployment.servers.len();
            let user = index % users.len();
            (
                deployment.url(instance, "/v1/me/phone"),
                access[instance][user].clone(),
                deployment.phone_code(&users[user]),
            )
        })
        .collect();
    let mut running = JoinSet::new();
    for (url, access, code) in requests {
        let http = deployment.http.clone();
        running.spawn(async move {
            http.post(&url, Some(&access), json!({ "code": code }))
                .await
        });
    }
    running.join_all().await
}

fn assert_phone_numbers(answers: &[Answer], deployment: &Deployment) {
    for answer in answers {
        let body = answer.ok();
        let number = body["pure_phone_number"].as_str().unwrap_or_default();
        assert!(
            number.len() == 11 && number.starts_with("138"),
            "{}\n{}",
            answer.text,
            deployment.logs()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expired_upstream_token_is_fetched_once_for_concurrent_phone_requests_on_all_instances() {
    let Some(deployment) =
        Deployment::on_test_postgres("one_token_fetch_across_instances", 3).await
    else {
        return;
    };
    let users: Vec<String> = (0..6).map(|n| format!("phone-{n}")).collect();
    let access = access_tokens(&deployment, &users).await;

    // Every WeChat call takes 200 ms from now on, so that the instances' refreshes overlap
    // in time: only the coordination in the database keeps them to one fetch.
    deployment
        .http
        .post(
            &format!("{}/sim/faults", deployment.sim_base_url),
            None,
            json!({ "latency_ms": 200 }),
        )
        .await
        .ok();

    // No token anywhere yet: the first burst makes one fetch for all three instances.
    assert_eq!(deployment.token_fetches(), 0);
    let answers = phone_requests_on_all_instances(&deployment, &users, &access).await;
    assert_phone_numbers(&answers, &deployment);
    assert_eq!(
        deployment.token_fetches(),
        1,
        "cold start: one upstream token fetch for 60 requests on 3 instances\n{}",
        deployment.logs()
    );

    // WeChat's clock passes the token's 7200 s: every instance still holds it in memory,
    // is told 42001 on its next call, and must not each fetch a new one.
    let advanced = deployment
        .http
        .post(
            &format!("{}/sim/clock/advance", deployment.sim_base_url),
            None,
            json!({ "seconds": 7200 + 60 }),
        )
        .await;
    advanced.ok();
    let fetches_before = deployment.token_fetches();
    let phone_calls_before = deployment.upstream_calls(Endpoint::Getuserphonenumber);
    let answers = phone_requests_on_all_instances(&deployment, &users, &access).await;
    assert_phone_numbers(&answers, &deployment);
    assert!(
        deployment.upstream_calls(Endpoint::Getuserphonenumber) - phone_calls_before > 60,
        "the expired token was never used: the test did not exercise the expiry"
    );
    assert_eq!(
        deployment.token_fetches() - fetches_before,
        1,
        "expired token: one upstream token fetch for 60 requests on 3 instances\n{}",
        deployment.logs()
    );
    deployment.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_logins_of_one_new_user_on_all_instances_create_one_user() {
    let Some(deployment) = Deployment::on_test_postgres("one_user_across_instances", 3).await
    else {
        return;
    };
    // Two different codes of the same new WeChat user per instance, all at once.
    let mut logins = JoinSet::new();
    for index in 0..6 {
        let instance = index % 3;
        let code = deployment.code("newcomer");
        let url = deployment.url(instance, "/v1/login");
        let http = deployment.http.clone();
        logins.spawn(async move { http.post(&url, None, json!({ "code": code })).await });
    }
    let answers = logins.join_all().await;
    let ids: Vec<String> = answers.iter().map(Answer::user_id).collect();
    assert!(ids.iter().all(|id| id == &ids[0]), "{ids:?}");
    assert_eq!(deployment.upstream_calls(Endpoint::Jscode2session), 6);
    let store = shared_store(&deployment).await;
    assert_eq!(store.count_users().await.unwrap(), 1);
    store.database().close().await;
    deployment.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_retries_of_one_code_across_instances_exchange_it_once() {
    let Some(deployment) = Deployment::on_test_postgres("one_exchange_across_instances", 3).await
    else {
        return;
    };
    let code = deployment.code("double-tapper");
    let mut logins = JoinSet::new();
    for index in 0..9 {
        let url = deployment.url(index % 3, "/v1/login");
        let http = deployment.http.clone();
        let code = code.clone();
        logins.spawn(async move { http.post(&url, None, json!({ "code": code })).await });
    }
    let answers = logins.join_all().await;
    let ids: Vec<String> = answers.iter().map(Answer::user_id).collect();
    assert!(ids.iter().all(|id| id == &ids[0]), "{ids:?}");
    let tokens: std::collections::HashSet<String> = answers
        .iter()
        .map(|answer| answer.field("refresh_token"))
        .collect();
    assert_eq!(tokens.len(), 9, "every answer is its own token pair");
    assert_eq!(deployment.upstream_calls(Endpoint::Jscode2session), 1);

    // A later retry, within the window, on any instance: same user, still one exchange.
    let retried = deployment.login_with_code(2, &code).await;
    assert_eq!(retried.user_id(), ids[0]);
    assert_eq!(deployment.upstream_calls(Endpoint::Jscode2session), 1);
    deployment.shutdown().await;
}

/// The key the database says signs new tokens, and how many keys are current.
async fn current_signing_key(deployment: &Deployment) -> (String, usize) {
    let store = shared_store(deployment).await;
    let keys = SigningKeys::load(store.clone(), KeyPolicy::default())
        .await
        .expect("the signing keys load");
    let current = keys.current_kid().expect("a current key");
    let count = keys
        .summaries(unix_now())
        .iter()
        .filter(|key| key.current)
        .count();
    store.database().close().await;
    (current, count)
}

/// Refresh a session on `instance` until its access token is signed with `kid`: the
/// instance re-reads the keys at least every 30 s. Returns the token.
async fn access_token_signed_with(deployment: &Deployment, instance: usize, kid: &str) -> String {
    let mut refresh = deployment
        .login(instance, &format!("signer-{instance}"))
        .await
        .field("refresh_token");
    let started = Instant::now();
    loop {
        let answer = deployment.refresh(instance, &refresh).await;
        refresh = answer.field("refresh_token");
        let access = answer.field("access_token");
        if token_kid(&access) == kid {
            return access;
        }
        assert!(
            started.elapsed() < Duration::from_secs(45),
            "instance {instance} does not sign with {kid} after 45 s"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_started_together_on_a_fresh_database_share_one_signing_key() {
    let Some(deployment) = Deployment::on_test_postgres("one_key_across_instances", 3).await else {
        return;
    };
    // Each instance may have created a first key while starting; exactly one is current.
    let (current, current_count) = current_signing_key(&deployment).await;
    assert_eq!(current_count, 1);

    // Whatever key an instance signed with first, every instance accepts its tokens.
    for instance in 0..3 {
        let access = deployment
            .login(instance, &format!("starter-{instance}"))
            .await
            .field("access_token");
        for other in 0..3 {
            deployment.me(other, &access).await.ok();
        }
    }
    // The JWKS agree, list the current key, and every instance comes to sign with it.
    let published = eventually(Duration::from_secs(5), || async {
        let mut sets = Vec::new();
        for instance in 0..3 {
            let mut kids = jwks_kids(&deployment.jwks(instance).await);
            kids.sort();
            sets.push(kids);
        }
        sets.iter()
            .all(|kids| kids == &sets[0])
            .then(|| sets[0].clone())
    })
    .await
    .expect("the three JWKS agree within 5 s");
    assert!(published.contains(&current), "{published:?}");
    for instance in 0..3 {
        access_token_signed_with(&deployment, instance, &current).await;
    }
    deployment.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn key_rotation_is_served_by_every_instance() {
    let Some(mut deployment) =
        Deployment::on_test_postgres("key_rotation_across_instances", 3).await
    else {
        return;
    };
    let (old_kid, _) = current_signing_key(&deployment).await;
    let before = access_token_signed_with(&deployment, 0, &old_kid).await;

    let rotated = run_wxlogin(&[
        "keys",
        "rotate",
        "--database-url",
        &deployment.database_url,
        "--master-key",
        MASTER_KEY,
    ])
    .await;
    assert!(rotated.success, "{}", rotated.stderr);
    let new_kid = rotated
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("new current key: "))
        .expect("rotate prints the new kid")
        .to_owned();
    assert_eq!(current_signing_key(&deployment).await, (new_kid.clone(), 1));

    // Instance A's JWKS re-reads the keys (at most once a second) and shows the new one.
    let published = eventually(Duration::from_secs(5), || async {
        let kids = jwks_kids(&deployment.jwks(0).await);
        kids.contains(&new_kid).then_some(kids)
    })
    .await
    .expect("instance A publishes the new key within 5 s");
    assert!(published.contains(&old_kid), "the old key stays published");

    // A new instance signs with the new key at once; B and C have never seen it and accept
    // its token by re-reading the keys on the unknown kid.
    deployment.start_instances(1).await;
    let fresh_access = deployment.login(3, "rotator").await.field("access_token");
    assert_eq!(token_kid(&fresh_access), new_kid);
    for instance in [1, 2, 0] {
        deployment.me(instance, &fresh_access).await.ok();
    }
    for instance in 0..4 {
        let kids = jwks_kids(&deployment.jwks(instance).await);
        assert!(
            kids.contains(&new_kid) && kids.contains(&old_kid),
            "instance {instance}: {kids:?}"
        );
        // Tokens signed before the rotation stay valid everywhere until they expire.
        deployment.me(instance, &before).await.ok();
    }

    // The older instances switch their own signing to the new key by their periodic
    // re-read (every 30 s).
    for instance in 0..3 {
        access_token_signed_with(&deployment, instance, &new_kid).await;
    }
    deployment.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_instance_with_another_master_key_refuses_to_start() {
    let Some(deployment) = Deployment::on_test_postgres("another_master_key", 1).await else {
        return;
    };
    // Bytes 31..0: a valid key, but not the one the running instance sealed its keys with.
    let other_key = "Hx4dHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";
    let run = tokio::time::timeout(
        Duration::from_secs(60),
        run_wxlogin(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &deployment.database_url,
            "--wechat-base-url",
            &deployment.sim_base_url,
            "--appid",
            APPID,
            "--secret",
            SECRET,
            "--master-key",
            other_key,
        ]),
    )
    .await
    .expect("serve exits instead of serving with keys it cannot open");
    assert!(!run.success);
    assert!(!run.stdout.contains("listening on"), "{}", run.stdout);
    assert!(run.stderr.contains("master key"), "{}", run.stderr);
    for secret in [other_key, MASTER_KEY, SECRET] {
        assert!(!run.stderr.contains(secret), "{}", run.stderr);
    }
    // The running instance is unaffected.
    deployment.login(0, "still-serving").await;
    deployment.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn migrate_is_idempotent_on_sqlite_and_postgres() {
    let dir = std::env::temp_dir().join(format!(
        "wxlogin-migrate-{}",
        crate::helpers::database::unique_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite_url = format!("sqlite://{}", dir.join("wxlogin.db").display());
    let postgres = match postgres_or_skip("migrate_is_idempotent (PostgreSQL part)") {
        Some(admin_url) => Some(FreshDatabase::create(&admin_url).await),
        None => None,
    };
    let mut urls = vec![("sqlite", sqlite_url)];
    if let Some(database) = &postgres {
        urls.push(("postgres", database.url.clone()));
    }
    for (backend, url) in &urls {
        let first = run_wxlogin(&["migrate", "--database-url", url]).await;
        assert!(first.success, "{backend}: {}", first.stderr);
        assert!(
            first
                .stdout
                .contains(&format!("{backend}: applied migration 0001")),
            "{}",
            first.stdout
        );
        let second = run_wxlogin(&["migrate", "--database-url", url]).await;
        assert!(second.success, "{backend}: {}", second.stderr);
        assert!(
            second
                .stdout
                .contains(&format!("{backend}: schema up to date")),
            "{}",
            second.stdout
        );
    }
    // Deploys run migrations from several places at once: they must not fail.
    if let Some(admin_url) = crate::helpers::database::test_postgres_url() {
        let database = FreshDatabase::create(&admin_url).await;
        let mut runs = JoinSet::new();
        for _ in 0..3 {
            let url = database.url.clone();
            runs.spawn(async move { run_wxlogin(&["migrate", "--database-url", &url]).await });
        }
        for run in runs.join_all().await {
            assert!(run.success, "concurrent migrate: {}", run.stderr);
        }
        let after = run_wxlogin(&["migrate", "--database-url", &database.url]).await;
        assert!(
            after.stdout.contains("schema up to date"),
            "{}",
            after.stdout
        );
        database.drop_database().await;
    }
    if let Some(database) = postgres {
        database.drop_database().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--db-acquire-timeout` of the outage test, and the longest an answer may then take
/// (the timeout plus room for a slow machine; the default timeout alone is 5 s).
const OUTAGE_ACQUIRE_TIMEOUT_SECS: &str = "1";
const OUTAGE_ANSWER_LIMIT: Duration = Duration::from_secs(4);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn database_outage_answers_503_database_unavailable_and_recovers_by_itself() {
    let test = "database_outage";
    let Some(cluster) = PrivateCluster::start(test) else {
        return;
    };
    let mut deployment = Deployment::prepare(
        test,
        cluster.url.clone(),
        vec![
            "--db-acquire-timeout".to_owned(),
            OUTAGE_ACQUIRE_TIMEOUT_SECS.to_owned(),
        ],
    )
    .await;
    deployment.start_instances(2).await;
    let login = deployment.login(0, "outage").await;
    let access = login.field("access_token");
    let refresh = login.field("refresh_token");
    deployment.me(1, &access).await.ok();

    cluster.stop();

    for instance in 0..2 {
        let started = Instant::now();
        let me = deployment.me(instance, &access).await;
        assert!(
            started.elapsed() < OUTAGE_ANSWER_LIMIT,
            "instance {instance} took {:?} to answer",
            started.elapsed()
        );
        me.assert_error(503, "database_unavailable");

        let code = deployment.code("outage-newcomer");
        let started = Instant::now();
        let login = deployment.login_with_code(instance, &code).await;
        assert!(
            started.elapsed() < OUTAGE_ANSWER_LIMIT,
            "login took {:?}",
            started.elapsed()
        );
        login.assert_error(503, "database_unavailable");

        deployment
            .refresh(instance, &refresh)
            .await
            .assert_error(503, "database_unavailable");
        deployment
            .http
            .get(&deployment.url(instance, "/healthz"), None)
            .await
            .assert_error(503, "database_unavailable");
    }
    for server in &deployment.servers {
        let log = server.log();
        assert!(!log.contains("panicked"), "{log}");
    }

    cluster.resume();

    // Nobody restarts the instances: their pools reconnect on the next requests.
    for instance in 0..2 {
        let recovered = eventually(Duration::from_secs(30), || async {
            let me = deployment.me(instance, &access).await;
            (me.status == 200).then_some(me)
        })
        .await;
        assert!(
            recovered.is_some(),
            "instance {instance} did not recover\n{}",
            deployment.logs()
        );
        deployment.login(instance, "after-outage").await;
    }
    deployment.refresh(1, &refresh).await.ok();
    deployment.shutdown().await;
    drop(cluster);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn statement_timeout_turns_a_blocked_query_into_503_database_unavailable() {
    // Without the session cache, which would answer the blocked lookup from memory.
    let Some(deployment) = Deployment::on_test_postgres_with(
        "statement_timeout",
        1,
        &["--db-statement-timeout", "1", "--session-cache-size", "0"],
    )
    .await
    else {
        return;
    };
    let access = deployment.login(0, "blocked").await.field("access_token");
    deployment.me(0, &access).await.ok();

    // Another client holds a lock that every session lookup waits for.
    let mut blocker = PgConnection::connect(&deployment.database_url)
        .await
        .expect("blocker connects");
    blocker.execute("BEGIN").await.unwrap();
    blocker
        .execute("LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();

    let started = Instant::now();
    let blocked = deployment.me(0, &access).await;
    let elapsed = started.elapsed();
    blocked.assert_error(503, "database_unavailable");
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(4),
        "answered after {elapsed:?}; the statement timeout is 1 s"
    );

    blocker.execute("ROLLBACK").await.unwrap();
    deployment.me(0, &access).await.ok();
    blocker.close().await.ok();
    deployment.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_token_signed_with_a_key_rotated_in_right_after_a_reread_is_accepted() {
    let Some(deployment) = Deployment::on_test_postgres("kid_right_after_reread", 2).await else {
        return;
    };
    let (signer, verifier) = (0, 1);
    // Re-reads are at most one a second: let the ones made at start-up age first.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The verifier re-reads its keys (a JWKS request) just before the rotation...
    deployment.jwks(verifier).await.ok();
    let rotated = run_wxlogin(&[
        "keys",
        "rotate",
        "--database-url",
        &deployment.database_url,
        "--master-key",
        MASTER_KEY,
    ])
    .await;
    assert!(rotated.success, "{}", rotated.stderr);
    let (new_kid, _) = current_signing_key(&deployment).await;
    // ...and the signer just after it (its JWKS re-reads too), so it signs with the new key.
    deployment.jwks(signer).await.ok();
    let access = deployment
        .login(signer, "fresh-kid")
        .await
        .field("access_token");
    assert_eq!(token_kid(&access), new_kid);
    // Well within a second of the verifier's last re-read: it must re-read again, not refuse.
    deployment.me(verifier, &access).await.ok();
    deployment.shutdown().await;
}

fn claims_of(access_token: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = access_token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url payload");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// The management plane lives in the database: an admin change made through one instance
/// (roles, a deletion) is what every other instance does at its very next request, and
/// introspection on one instance sees a logout on another at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn admin_changes_through_one_instance_hold_on_every_instance_at_once() {
    use reqwest::Method;
    use wxlogin_server::domain::{AdminKeyName, AdminScopes};
    let Some(deployment) = Deployment::on_test_postgres("admin_across_instances", 2).await else {
        return;
    };
    let (a, b) = (0, 1);
    let store = shared_store(&deployment).await;
    let key = store
        .create_admin_key(
            &AdminKeyName::parse("ops").unwrap(),
            &AdminScopes::parse("users:read,users:write,events:read,tokens:introspect").unwrap(),
            unix_now(),
        )
        .await
        .unwrap();
    let key = key.expose();
    let http = crate::helpers::http::Http::default();

    // Roles given on B are in the next token A issues.
    let login = deployment.login(a, "rosa").await;
    let user_id = login.user_id();
    let roles = http
        .send(
            Method::PUT,
            &deployment.url(b, &format!("/admin/v1/users/{user_id}/roles")),
            Some(key),
            Some(json!({"roles": ["vip"]})),
        )
        .await;
    assert_eq!(roles.ok()["roles"], json!(["vip"]), "{}", roles.text);
    let refreshed = deployment.refresh(a, &login.field("refresh_token")).await;
    let access = refreshed.field("access_token");
    assert_eq!(claims_of(&access)["roles"], json!(["vip"]));

    // Introspection on B sees A's logout at once.
    let active = http
        .post(
            &deployment.url(b, "/v1/introspect"),
            Some(key),
            json!({"token": access}),
        )
        .await;
    assert_eq!(active.ok()["active"], true, "{}", active.text);
    assert_eq!(deployment.logout(a, &access).await.status, 204);
    let inactive = http
        .post(
            &deployment.url(b, "/v1/introspect"),
            Some(key),
            json!({"token": access}),
        )
        .await;
    assert_eq!(inactive.ok(), &json!({"active": false}));

    // A deletion through B ends the session on A on the very next request.
    let doomed = deployment.login(a, "dora").await;
    let doomed_id = doomed.user_id();
    deployment.me(a, &doomed.field("access_token")).await.ok();
    let deleted = http
        .send(
            Method::DELETE,
            &deployment.url(b, &format!("/admin/v1/users/{doomed_id}")),
            Some(key),
            None,
        )
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    deployment
        .me(a, &doomed.field("access_token"))
        .await
        .assert_error(401, "unauthorized");
    deployment
        .refresh(a, &doomed.field("refresh_token"))
        .await
        .assert_error(401, "unauthorized");
    let again = deployment.login(a, "dora").await;
    assert_ne!(again.user_id(), doomed_id, "the next login is a new user");
    let events = http
        .get(&deployment.url(a, "/admin/v1/events?limit=200"), Some(key))
        .await;
    let kinds: Vec<(String, String)> = events.ok()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| {
            (
                event["type"].as_str().unwrap().to_owned(),
                event["user_id"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert!(
        kinds.contains(&("user.deleted".to_owned(), doomed_id.clone())),
        "{kinds:?}"
    );
    assert!(kinds.contains(&("user.roles_changed".to_owned(), user_id.clone())));
    assert!(
        !kinds.contains(&("user.created".to_owned(), doomed_id)),
        "earlier events of a deleted user are gone"
    );
    deployment.shutdown().await;
}
