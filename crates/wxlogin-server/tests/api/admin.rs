//! The management plane over real HTTP: admin keys and scopes, user search and detail,
//! roles in tokens, revocation, account deletion (admin and self-service), events and the
//! audit log.

use crate::helpers::{spawn_app, spawn_app_with, token, Answer, TestApp, APPID};
use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};
use wxlogin_server::domain::AdminKeyName;
use wxlogin_sim::{SimApp, SimConfig};

async fn full_key(app: &TestApp) -> String {
    app.admin_key("ops", "users:read,users:write,events:read")
        .await
}

async fn admin(
    app: &TestApp,
    method: Method,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> Answer {
    app.request(method, path, Some(key), body).await
}

fn claims_of(access_token: &str) -> Value {
    let payload = access_token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// Bind `number` to `user`'s account as the phone-number button would.
async fn bind_phone(app: &TestApp, user: &str, access: &str, number: &str) {
    let grant = app.sim.phone_grant(APPID, user, Some(number)).unwrap();
    app.post("/v1/me/phone", Some(access), json!({"code": grant.code}))
        .await
        .assert_ok();
}

fn user_id(login: &Value) -> String {
    login["user"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn keys_are_checked_and_each_route_needs_its_scope() {
    let app = spawn_app().await;
    let login = app.login("kim").await;
    let id = user_id(&login);
    let access = token(&login, "access_token");
    let reader = app.admin_key("reader", "users:read").await;
    let introspector = app.admin_key("introspector", "tokens:introspect").await;

    let routes: Vec<(Method, String, Option<Value>, &str)> = vec![
        (Method::GET, "/admin/v1/users".into(), None, "users:read"),
        (
            Method::GET,
            format!("/admin/v1/users/{id}"),
            None,
            "users:read",
        ),
        (
            Method::PUT,
            format!("/admin/v1/users/{id}/roles"),
            Some(json!({"roles": []})),
            "users:write",
        ),
        (
            Method::POST,
            format!("/admin/v1/users/{id}/revoke"),
            None,
            "users:write",
        ),
        (
            Method::DELETE,
            format!("/admin/v1/users/{id}"),
            None,
            "users:write",
        ),
        (Method::GET, "/admin/v1/events".into(), None, "events:read"),
        (Method::GET, "/admin/v1/audit".into(), None, "users:read"),
    ];
    for (method, path, body, scope) in &routes {
        app.request(method.clone(), path, None, body.clone())
            .await
            .assert_error(401, "unauthorized");
        admin(&app, method.clone(), path, &access, body.clone())
            .await
            .assert_error(401, "unauthorized");
        let unknown = format!("wxa_{}", "A".repeat(43));
        admin(&app, method.clone(), path, &unknown, body.clone())
            .await
            .assert_error(401, "unauthorized");
        let answer = admin(&app, method.clone(), path, &introspector, body.clone()).await;
        answer.assert_error(403, "forbidden");
        assert!(
            answer.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(scope),
            "{path}: {}",
            answer.text
        );
        if *scope != "users:read" {
            admin(&app, method.clone(), path, &reader, body.clone())
                .await
                .assert_error(403, "forbidden");
        }
    }
    // An admin key is never an access token.
    app.get("/v1/me", Some(&reader))
        .await
        .assert_error(401, "unauthorized");
    // A revoked key stops working at once.
    assert!(app
        .store()
        .revoke_admin_key(&AdminKeyName::parse("reader").unwrap())
        .await
        .unwrap());
    admin(&app, Method::GET, "/admin/v1/users", &reader, None)
        .await
        .assert_error(401, "unauthorized");
    // Nothing above touched the user.
    app.get("/v1/me", Some(&access)).await.assert_ok();
}

#[tokio::test]
async fn users_are_found_by_id_openid_unionid_phone_and_nickname_prefix() {
    let sim = SimConfig {
        apps: vec![SimApp::demo().with_open_platform("acme")],
        ..SimConfig::default()
    };
    let app = spawn_app_with(sim, |_| {}).await;
    let key = full_key(&app).await;
    let login = app.login("lena").await;
    app.login("lars").await;
    let id = user_id(&login);
    let access = token(&login, "access_token");
    bind_phone(&app, "lena", &access, "13800001111").await;
    app.request(
        Method::PATCH,
        "/v1/me",
        Some(&access),
        Some(json!({"nickname": "Lena Zhang"})),
    )
    .await
    .assert_ok();
    let openid = login["user"]["openid"].as_str().unwrap().to_owned();
    let unionid = login["user"]["unionid"]
        .as_str()
        .expect("unionid")
        .to_owned();

    for q in [
        id.as_str(),
        &openid,
        &unionid,
        "13800001111",
        "Lena",
        "Lena Z",
    ] {
        let found = admin(
            &app,
            Method::GET,
            &format!("/admin/v1/users?q={}", urlencode(q)),
            &key,
            None,
        )
        .await;
        let users = found.assert_ok()["users"].as_array().unwrap().clone();
        assert_eq!(users.len(), 1, "q={q}: {}", found.text);
        assert_eq!(users[0]["id"], id.as_str());
        assert_eq!(users[0]["phone_number"], "13800001111");
        assert_eq!(users[0]["identities"][0]["openid"], openid.as_str());
        assert_eq!(users[0]["active_sessions"], 1);
    }
    for q in ["1380000111", "ena", "nobody", "lena zhang"] {
        let found = admin(
            &app,
            Method::GET,
            &format!("/admin/v1/users?q={}", urlencode(q)),
            &key,
            None,
        )
        .await;
        assert_eq!(found.assert_ok()["users"], json!([]), "q={q}");
    }
    let detail = admin(
        &app,
        Method::GET,
        &format!("/admin/v1/users/{id}"),
        &key,
        None,
    )
    .await;
    let detail = detail.assert_ok();
    assert_eq!(detail["sessions"].as_array().unwrap().len(), 1);
    assert!(detail["sessions"][0]["revoked_at"].is_null());
    assert_eq!(detail["roles"], json!([]));
    admin(
        &app,
        Method::GET,
        "/admin/v1/users/00000000-0000-4000-8000-000000000000",
        &key,
        None,
    )
    .await
    .assert_error(404, "not_found");
    admin(&app, Method::GET, "/admin/v1/users/not-a-uuid", &key, None)
        .await
        .assert_error(404, "not_found");
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn the_user_list_pages_in_a_stable_order_and_refuses_bad_paging() {
    let app = spawn_app().await;
    let key = full_key(&app).await;
    let mut created = Vec::new();
    for name in ["p1", "p2", "p3", "p4", "p5"] {
        created.push(user_id(&app.login(name).await));
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/admin/v1/users?limit=2&cursor={}", urlencode(cursor)),
            None => "/admin/v1/users?limit=2".to_owned(),
        };
        let page = admin(&app, Method::GET, &path, &key, None).await;
        let page = page.assert_ok().clone();
        let users = page["users"].as_array().unwrap();
        assert!(users.len() <= 2);
        seen.extend(
            users
                .iter()
                .map(|user| user["id"].as_str().unwrap().to_owned()),
        );
        // A user created while paging does not disturb the pages already handed out.
        if seen.len() == 2 {
            app.login("p6").await;
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    // Each user once, in the order of one unpaged listing (created_at, then id), and no page
    // disturbed by a user created while paging.
    let all = admin(&app, Method::GET, "/admin/v1/users?limit=200", &key, None).await;
    let all: Vec<String> = all.assert_ok()["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["id"].as_str().unwrap().to_owned())
        .collect();
    // (A user created while paging shows up only if it sorts after the cursor.)
    let in_order: Vec<String> = all.iter().filter(|id| seen.contains(id)).cloned().collect();
    assert_eq!(seen, in_order);
    assert_eq!(all.len(), 6);
    assert!(created
        .iter()
        .all(|id| seen.iter().filter(|s| *s == id).count() == 1));
    for bad in [
        "limit=0",
        "limit=201",
        "limit=x",
        "cursor=garbage",
        "cursor=1.%27%3B--",
    ] {
        admin(
            &app,
            Method::GET,
            &format!("/admin/v1/users?{bad}"),
            &key,
            None,
        )
        .await
        .assert_error(400, "invalid_request");
    }
    for bad in ["after=-1", "after=x", "limit=0"] {
        admin(
            &app,
            Method::GET,
            &format!("/admin/v1/events?{bad}"),
            &key,
            None,
        )
        .await
        .assert_error(400, "invalid_request");
        admin(
            &app,
            Method::GET,
            &format!("/admin/v1/audit?{bad}"),
            &key,
            None,
        )
        .await
        .assert_error(400, "invalid_request");
    }
}

#[tokio::test]
async fn roles_are_validated_stored_and_carried_by_tokens_issued_afterwards() {
    let app = spawn_app().await;
    let key = full_key(&app).await;
    let login = app.login("rita").await;
    let id = user_id(&login);
    assert!(claims_of(&token(&login, "access_token"))
        .get("roles")
        .is_none());
    for bad in [
        json!({"roles": ["Admin"]}),
        json!({"roles": ["a,b"]}),
        json!({"roles": ["x".repeat(33)]}),
        json!({"roles": (0..17).map(|i| format!("r{i}")).collect::<Vec<_>>()}),
        json!({"roles": "admin"}),
        json!({}),
    ] {
        admin(
            &app,
            Method::PUT,
            &format!("/admin/v1/users/{id}/roles"),
            &key,
            Some(bad),
        )
        .await
        .assert_error(400, "invalid_request");
    }
    admin(
        &app,
        Method::PUT,
        "/admin/v1/users/00000000-0000-4000-8000-000000000000/roles",
        &key,
        Some(json!({"roles": ["vip"]})),
    )
    .await
    .assert_error(404, "not_found");
    let changed = admin(
        &app,
        Method::PUT,
        &format!("/admin/v1/users/{id}/roles"),
        &key,
        Some(json!({"roles": ["vip", "staff", "vip"]})),
    )
    .await;
    assert_eq!(changed.assert_ok()["roles"], json!(["staff", "vip"]));

    let refreshed = app
        .post(
            "/v1/token/refresh",
            None,
            json!({"refresh_token": token(&login, "refresh_token")}),
        )
        .await;
    let refreshed = refreshed.assert_ok().clone();
    assert_eq!(
        claims_of(&token(&refreshed, "access_token"))["roles"],
        json!(["staff", "vip"])
    );
    assert_eq!(refreshed["user"]["roles"], json!(["staff", "vip"]));
    let me = app
        .get("/v1/me", Some(&token(&refreshed, "access_token")))
        .await;
    assert_eq!(me.assert_ok()["roles"], json!(["staff", "vip"]));
    let again = app.login("rita").await;
    assert_eq!(
        claims_of(&token(&again, "access_token"))["roles"],
        json!(["staff", "vip"])
    );

    admin(
        &app,
        Method::PUT,
        &format!("/admin/v1/users/{id}/roles"),
        &key,
        Some(json!({"roles": []})),
    )
    .await
    .assert_ok();
    let cleared = app.login("rita").await;
    assert!(claims_of(&token(&cleared, "access_token"))
        .get("roles")
        .is_none());
}

#[tokio::test]
async fn an_admin_revoke_ends_every_session_at_once() {
    let app = spawn_app().await;
    let key = full_key(&app).await;
    let first = app.login("vic").await;
    let second = app.login("vic").await;
    let other = app.login("wen").await;
    let id = user_id(&first);
    let answer = admin(
        &app,
        Method::POST,
        &format!("/admin/v1/users/{id}/revoke"),
        &key,
        None,
    )
    .await;
    assert_eq!(answer.status, 204, "{}", answer.text);
    for login in [&first, &second] {
        app.get("/v1/me", Some(&token(login, "access_token")))
            .await
            .assert_error(401, "unauthorized");
        app.post(
            "/v1/token/refresh",
            None,
            json!({"refresh_token": token(login, "refresh_token")}),
        )
        .await
        .assert_error(401, "unauthorized");
    }
    app.get("/v1/me", Some(&token(&other, "access_token")))
        .await
        .assert_ok();
    admin(
        &app,
        Method::POST,
        "/admin/v1/users/00000000-0000-4000-8000-000000000000/revoke",
        &key,
        None,
    )
    .await
    .assert_error(404, "not_found");
    let detail = admin(
        &app,
        Method::GET,
        &format!("/admin/v1/users/{id}"),
        &key,
        None,
    )
    .await;
    assert_eq!(detail.assert_ok()["active_sessions"], 0);
}

async fn deletion_removes_everything(
    app: &TestApp,
    login: &Value,
    delete: impl std::future::Future<Output = Answer>,
) {
    let id = user_id(login);
    let answer = delete.await;
    assert_eq!(answer.status, 204, "{}", answer.text);
    app.get("/v1/me", Some(&token(login, "access_token")))
        .await
        .assert_error(401, "unauthorized");
    app.post(
        "/v1/token/refresh",
        None,
        json!({"refresh_token": token(login, "refresh_token")}),
    )
    .await
    .assert_error(401, "unauthorized");
    let store = app.store();
    assert!(store.user_record(&id).await.unwrap().is_none());
    assert!(store.user_sessions(&id).await.unwrap().is_empty());
    let openid = login["user"]["openid"].as_str().unwrap();
    assert!(store.session_key(APPID, openid).await.unwrap().is_none());
    // Only the deletion's own events stay.
    let events = store.events_after(0, 1000).await.unwrap();
    let kinds: Vec<&str> = events
        .iter()
        .filter(|event| event.user_id.as_deref() == Some(id.as_str()))
        .map(|event| event.event_type.as_str())
        .collect();
    assert_eq!(kinds.last(), Some(&"user.deleted"), "{kinds:?}");
    assert!(
        kinds
            .iter()
            .all(|kind| *kind == "user.deleted" || *kind == "session.revoked"),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn an_admin_deletes_an_account_and_the_next_login_is_a_new_user() {
    let app = spawn_app().await;
    let key = full_key(&app).await;
    let login = app.login("xena").await;
    let access = token(&login, "access_token");
    bind_phone(&app, "xena", &access, "13900002222").await;
    let id = user_id(&login);
    deletion_removes_everything(
        &app,
        &login,
        admin(
            &app,
            Method::DELETE,
            &format!("/admin/v1/users/{id}"),
            &key,
            None,
        ),
    )
    .await;
    admin(
        &app,
        Method::DELETE,
        &format!("/admin/v1/users/{id}"),
        &key,
        None,
    )
    .await
    .assert_error(404, "not_found");
    let again = app.login("xena").await;
    assert_ne!(user_id(&again), id);
    assert!(again["user"]["phone_number"].is_null());
    let audit = admin(&app, Method::GET, "/admin/v1/audit", &key, None).await;
    let entries = audit.assert_ok()["entries"].as_array().unwrap().clone();
    assert!(entries.iter().any(|entry| entry["action"] == "user.deleted"
        && entry["key_name"] == "ops"
        && entry["user_id"] == id.as_str()));
}

#[tokio::test]
async fn a_user_closes_their_own_account() {
    let app = spawn_app().await;
    let login = app.login("yara").await;
    let other = app.login("zoe").await;
    let access = token(&login, "access_token");
    deletion_removes_everything(
        &app,
        &login,
        app.request(Method::DELETE, "/v1/me", Some(&access), None),
    )
    .await;
    app.request(Method::DELETE, "/v1/me", Some(&access), None)
        .await
        .assert_error(401, "unauthorized");
    app.get("/v1/me", Some(&token(&other, "access_token")))
        .await
        .assert_ok();
    assert_ne!(user_id(&app.login("yara").await), user_id(&login));
}

#[tokio::test]
async fn events_describe_each_change_without_personal_values() {
    let app = spawn_app().await;
    let key = full_key(&app).await;
    let start = app
        .store()
        .events_after(0, 10_000)
        .await
        .unwrap()
        .last()
        .map_or(0, |e| e.seq);
    let login = app.login("ella").await;
    let id = user_id(&login);
    let access = token(&login, "access_token");
    bind_phone(&app, "ella", &access, "13700003333").await;
    app.request(
        Method::PATCH,
        "/v1/me",
        Some(&access),
        Some(json!({"nickname": "Ella"})),
    )
    .await
    .assert_ok();
    admin(
        &app,
        Method::PUT,
        &format!("/admin/v1/users/{id}/roles"),
        &key,
        Some(json!({"roles": ["vip"]})),
    )
    .await
    .assert_ok();
    app.post("/v1/logout", Some(&access), json!({})).await;
    let mut events = Vec::new();
    let mut after = start.to_string();
    loop {
        let page = admin(
            &app,
            Method::GET,
            &format!("/admin/v1/events?after={after}&limit=2"),
            &key,
            None,
        )
        .await;
        let page = page.assert_ok().clone();
        events.extend(page["events"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => after = next.to_owned(),
            None => break,
        }
    }
    let mine: Vec<&Value> = events
        .iter()
        .filter(|e| e["user_id"] == id.as_str())
        .collect();
    let kinds: Vec<&str> = mine.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "user.created",
            "user.phone_bound",
            "user.profile_updated",
            "user.roles_changed",
            "session.revoked"
        ]
    );
    assert_eq!(mine[4]["data"]["reason"], "logout");
    assert_eq!(mine[2]["data"]["fields"], json!(["nickname"]));
    let ids: std::collections::BTreeSet<&str> =
        mine.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 5, "event ids are unique");
    let text = serde_json::to_string(&events).unwrap();
    assert!(
        !text.contains("13700003333") && !text.contains("Ella"),
        "{text}"
    );
    assert!(!text.contains(&access));
}

#[tokio::test]
async fn a_reused_refresh_token_says_so_in_its_event() {
    let app = spawn_app().await;
    let login = app.login("rudy").await;
    let first = token(&login, "refresh_token");
    app.post("/v1/token/refresh", None, json!({"refresh_token": first}))
        .await
        .assert_ok();
    app.post("/v1/token/refresh", None, json!({"refresh_token": first}))
        .await
        .assert_error(401, "unauthorized");
    let events = app.store().events_after(0, 10_000).await.unwrap();
    let revoked = events
        .iter()
        .rfind(|event| event.user_id.as_deref() == Some(user_id(&login).as_str()))
        .unwrap();
    assert_eq!(revoked.event_type, "session.revoked");
    assert_eq!(revoked.data["reason"], "reuse_detected");
}

async fn introspect_form(app: &TestApp, key: &str, form: &str) -> Answer {
    crate::helpers::answer(
        app.http
            .post(app.url("/v1/introspect"))
            .bearer_auth(key)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form.to_owned())
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn introspection_follows_rfc_7662_and_sees_a_logout_at_once() {
    let app = spawn_app().await;
    let key = app.admin_key("resource-server", "tokens:introspect").await;
    let login = app.login("ivan").await;
    let access = token(&login, "access_token");

    let active = introspect_form(
        &app,
        &key,
        &format!("token={access}&token_type_hint=access_token"),
    )
    .await;
    let active = active.assert_ok().clone();
    let claims = claims_of(&access);
    assert_eq!(active["active"], true);
    for claim in ["sub", "aud", "sid", "iss", "iat", "exp"] {
        assert_eq!(active[claim], claims[claim], "{claim}");
    }
    assert_eq!(active["token_type"], "access_token");
    let json_body = app
        .request(
            Method::POST,
            "/v1/introspect",
            Some(&key),
            Some(json!({"token": access})),
        )
        .await;
    assert_eq!(json_body.assert_ok()["active"], true);

    // Forged, foreign and garbage tokens are inactive, not errors.
    let mut forged = access.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    for token_text in [forged.as_str(), "garbage", "a.b.c"] {
        let answer = introspect_form(&app, &key, &format!("token={token_text}")).await;
        assert_eq!(
            answer.assert_ok(),
            &json!({"active": false}),
            "{token_text}"
        );
    }
    app.post("/v1/logout", Some(&access), json!({})).await;
    let after_logout = introspect_form(&app, &key, &format!("token={access}")).await;
    assert_eq!(after_logout.assert_ok(), &json!({"active": false}));

    // The request itself must be well formed and authorised.
    introspect_form(&app, &key, "")
        .await
        .assert_error(400, "invalid_request");
    introspect_form(&app, &key, "tok=x")
        .await
        .assert_error(400, "invalid_request");
    let plain = crate::helpers::answer(
        app.http
            .post(app.url("/v1/introspect"))
            .bearer_auth(&key)
            .header("Content-Type", "text/plain")
            .body(format!("token={access}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    plain.assert_error(400, "invalid_request");
    introspect_form(&app, &access, &format!("token={access}"))
        .await
        .assert_error(401, "unauthorized");
    let reader = app.admin_key("reader", "users:read").await;
    introspect_form(&app, &reader, &format!("token={access}"))
        .await
        .assert_error(403, "forbidden");
}

#[tokio::test]
async fn an_expired_token_is_inactive() {
    let app = spawn_app().await;
    let key = app.admin_key("rs", "tokens:introspect").await;
    let login = app.login("edda").await;
    app.clock.advance(3600);
    let answer = introspect_form(
        &app,
        &key,
        &format!("token={}", token(&login, "access_token")),
    )
    .await;
    assert_eq!(answer.assert_ok(), &json!({"active": false}));
}

#[tokio::test]
async fn discovery_serves_metadata_under_an_absolute_issuer_only() {
    let app = spawn_app_with(SimConfig::default(), |settings| {
        settings.issuer = "https://login.example.com".to_owned();
    })
    .await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let document = app.get(path, None).await;
        let document = document.assert_ok();
        assert_eq!(document["issuer"], "https://login.example.com");
        assert_eq!(
            document["jwks_uri"],
            "https://login.example.com/.well-known/jwks.json"
        );
        assert_eq!(
            document["introspection_endpoint"],
            "https://login.example.com/v1/introspect"
        );
        assert!(document["id_token_signing_alg_values_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|alg| alg == "EdDSA" || alg == "ES256"));
    }
    let login = app.login("dora").await;
    assert_eq!(
        claims_of(&token(&login, "access_token"))["iss"],
        "https://login.example.com"
    );

    let plain = spawn_app().await;
    plain
        .get("/.well-known/openid-configuration", None)
        .await
        .assert_error(404, "not_found");
}
