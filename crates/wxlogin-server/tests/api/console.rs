//! The admin console over real HTTP, on either database: sign-in with an admin key, the
//! session cookie and its timeouts, CSRF, the refused-sign-in limit, the security headers,
//! the actions (revoke, delete, roles, keys) and their audit entries, the languages, and
//! two instances sharing sessions and figures. The browser suite
//! (clients/console-e2e) drives the same pages in Chromium.

use std::sync::Arc;

use crate::helpers::{spawn_app, token, TestApp, APPID};
use reqwest::header::{self, HeaderMap};
use reqwest::{redirect, StatusCode};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use wxlogin_server::clock::OffsetClock;
use wxlogin_server::domain::{AdminKeyName, UserId};
use wxlogin_server::{Application, Settings};

/// A browser of one operator: keeps the console's cookies, never follows redirects (the
/// tests look at them).
struct Browser {
    base: String,
    http: reqwest::Client,
    cookies: Vec<(String, String)>,
    accept_language: &'static str,
}

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    html: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
    }

    /// The value of the first `<input name="csrf" value="…">`.
    fn csrf(&self) -> String {
        let start = self
            .html
            .find("name=\"csrf\" value=\"")
            .expect("a csrf field")
            + 19;
        let end = self.html[start..].find('"').unwrap() + start;
        self.html[start..end].to_owned()
    }
}

impl Browser {
    fn new(base: &str) -> Browser {
        Browser {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .redirect(redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: Vec::new(),
            accept_language: "en-US,en;q=0.9",
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let response = request
            .header(header::COOKIE, self.cookie_header())
            .header(header::ACCEPT_LANGUAGE, self.accept_language)
            .send()
            .await
            .unwrap();
        for set in response.headers().get_all(header::SET_COOKIE) {
            let set = set.to_str().unwrap();
            let (pair, attributes) = set.split_once(';').unwrap_or((set, ""));
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != name);
            if !attributes.contains("Max-Age=0") {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
        Page {
            status: response.status(),
            headers: response.headers().clone(),
            html: response.text().await.unwrap(),
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let request = self.http.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let request = self.http.post(format!("{}{path}", self.base)).form(form);
        self.send(request).await
    }

    async fn try_sign_in(&mut self, key: &str) -> Page {
        let form = self.get("/admin/sign-in").await;
        let csrf = form.csrf();
        self.post("/admin/sign-in", &[("key", key), ("csrf", &csrf)])
            .await
    }

    async fn sign_in(&mut self, key: &str) {
        let answer = self.try_sign_in(key).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.html);
        assert_eq!(answer.location(), "/admin/");
    }

    /// POST a form of the page at `page_path` (with that page's CSRF token).
    async fn submit(&mut self, page_path: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let page = self.get(page_path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.html);
        let csrf = page.csrf();
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        self.post(action, &form).await
    }
}

async fn audit_actions(app: &TestApp) -> Vec<(String, String)> {
    app.store()
        .audit_after(0, 200)
        .await
        .unwrap()
        .into_iter()
        .map(|entry| (entry.key_name, entry.action))
        .collect()
}

#[tokio::test]
async fn a_console_key_signs_in_to_the_overview_and_signing_out_ends_the_session() {
    let app = spawn_app().await;
    let key = app.admin_key("ops", "console").await;
    let mut browser = Browser::new(&app.address);

    let before = browser.get("/admin/").await;
    assert_eq!(before.status, StatusCode::SEE_OTHER);
    assert_eq!(before.location(), "/admin/sign-in");

    browser.sign_in(&key).await;
    let overview = browser.get("/admin/").await;
    assert_eq!(overview.status, StatusCode::OK);
    assert!(overview.html.contains("<h1>Overview</h1>"));
    assert!(overview.html.contains("<strong>ops</strong>"));
    let session = browser.cookie("wxlogin_console").unwrap().to_owned();

    let out = browser.submit("/admin/", "/admin/sign-out", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.location(), "/admin/sign-in");
    assert_eq!(browser.cookie("wxlogin_console"), None);
    // The old cookie, replayed, no longer opens anything.
    browser
        .cookies
        .push(("wxlogin_console".to_owned(), session));
    assert_eq!(browser.get("/admin/").await.location(), "/admin/sign-in");

    assert_eq!(
        audit_actions(&app).await,
        vec![
            ("ops".to_owned(), "console.sign_in".to_owned()),
            ("ops".to_owned(), "console.sign_out".to_owned())
        ]
    );
}

#[tokio::test]
async fn the_session_cookie_is_http_only_same_site_strict_and_scoped_to_the_console() {
    let app = spawn_app().await;
    let key = app.admin_key("ops", "console").await;
    let mut browser = Browser::new(&app.address);
    let form = browser.get("/admin/sign-in").await;
    let csrf = form.csrf();
    let answer = browser
        .post("/admin/sign-in", &[("key", &key), ("csrf", &csrf)])
        .await;
    let set_cookie: Vec<&str> = answer
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|value| value.to_str().unwrap())
        .collect();
    let session = set_cookie
        .iter()
        .find(|cookie| cookie.starts_with("wxlogin_console="))
        .unwrap();
    for attribute in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/admin",
        "Max-Age=43200",
    ] {
        assert!(session.contains(attribute), "{session}");
    }
    // The issuer is not https here: a Secure cookie would never come back over http.
    assert!(!session.contains("Secure"), "{session}");
}

#[tokio::test]
async fn an_https_issuer_makes_the_console_cookies_secure() {
    let app = crate::helpers::spawn_app_with(wxlogin_sim::SimConfig::default(), |settings| {
        settings.tokens.issuer = "https://login.example.com".to_owned();
    })
    .await;
    let mut browser = Browser::new(&app.address);
    let form = browser.get("/admin/sign-in").await;
    let cookie = form
        .headers
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
}

#[tokio::test]
async fn refused_keys_get_the_form_again_with_why_and_the_sixth_refusal_a_minute_is_429() {
    let app = spawn_app().await;
    let reader = app.admin_key("reader", "users:read").await;
    let console = app.admin_key("ops", "console").await;
    let mut browser = Browser::new(&app.address);

    let unknown = browser.try_sign_in("wxa_not-a-key-of-this-server").await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert!(unknown
        .html
        .contains("role=\"alert\">This admin key was refused."));
    let access = token(&app.login("alice").await, "access_token");
    let token_as_key = browser.try_sign_in(&access).await;
    assert_eq!(token_as_key.status, StatusCode::UNAUTHORIZED);
    let lacks = browser.try_sign_in(&reader).await;
    assert_eq!(lacks.status, StatusCode::UNAUTHORIZED);
    assert!(lacks
        .html
        .contains("This admin key lacks the console scope."));
    for _ in 0..2 {
        assert_eq!(
            browser.try_sign_in("wxa_wrong").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    // Five refused: from now on this minute, even the right key is not looked at.
    let limited = browser.try_sign_in(&console).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.html.contains("Too many refused sign-ins"));
    assert!(browser.cookie("wxlogin_console").is_none());

    app.clock.advance(61);
    browser.sign_in(&console).await;
    assert!(audit_actions(&app)
        .await
        .iter()
        .all(|(name, _)| name == "ops"));
}

#[tokio::test]
async fn a_form_without_its_csrf_token_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let key = app.admin_key("ops", "console").await;
    let login = app.login("alice").await;
    let user_id = login["user"]["id"].as_str().unwrap().to_owned();
    let access = token(&login, "access_token");

    // Sign-in without the form's cookie (a cross-site form cannot send it).
    let mut stranger = Browser::new(&app.address);
    let refused = stranger
        .post("/admin/sign-in", &[("key", &key), ("csrf", "guess")])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused
        .html
        .contains("role=\"alert\">This form has expired"));

    let mut browser = Browser::new(&app.address);
    browser.sign_in(&key).await;
    let revoke = format!("/admin/users/{user_id}/revoke");
    for csrf in ["", "not-the-token"] {
        let answer = browser.post(&revoke, &[("csrf", csrf)]).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.html);
    }
    let delete = format!("/admin/users/{user_id}/delete");
    assert_eq!(
        browser.post(&delete, &[]).await.status,
        StatusCode::FORBIDDEN
    );
    app.get("/v1/me", Some(&access)).await.assert_ok();

    let done = browser.submit(&revoke, &revoke, &[]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(
        done.location(),
        format!("/admin/users/{user_id}?done=revoked")
    );
    app.get("/v1/me", Some(&access))
        .await
        .assert_error(401, "unauthorized");
    let page = browser.get(done.location()).await;
    assert!(page
        .html
        .contains("role=\"status\">Every session of this user has ended."));
    assert!(audit_actions(&app)
        .await
        .contains(&("ops".to_owned(), "user.sessions_revoked".to_owned())));
}

#[tokio::test]
async fn search_finds_users_by_openid_and_full_phone_and_shows_the_phone_masked() {
    let app = spawn_app().await;
    let key = app.admin_key("ops", "console").await;
    let login = app.login("alice").await;
    let access = token(&login, "access_token");
    let grant = app
        .sim
        .phone_grant(APPID, "alice", Some("13812345678"))
        .unwrap();
    app.post("/v1/me/phone", Some(&access), json!({"code": grant.code}))
        .await
        .assert_ok();
    let openid = app.sim.openid(APPID, "alice");
    let user_id = login["user"]["id"].as_str().unwrap().to_owned();
    let mut browser = Browser::new(&app.address);
    browser.sign_in(&key).await;

    for q in [openid.as_str(), "13812345678", user_id.as_str()] {
        let page = browser.get(&format!("/admin/users?q={q}")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.html
                .contains(&format!("href=\"/admin/users/{user_id}\"")),
            "{q}"
        );
        assert!(page.html.contains("138****5678"));
        assert!(
            !page.html.contains("13812345678"),
            "the full number is nowhere in the page"
        );
    }
    let none = browser.get("/admin/users?q=19900000000").await;
    assert!(none.html.contains("No user matches."));
    let detail = browser.get(&format!("/admin/users/{user_id}")).await;
    assert!(detail.html.contains(&openid));
    assert!(detail.html.contains("138****5678"));
    assert!(!detail.html.contains("13812345678"));
    let unknown = browser
        .get("/admin/users/00000000-0000-4000-8000-000000000000")
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(
        browser.get("/admin/users/not-an-id").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn roles_saved_in_the_console_reach_the_next_token_and_bad_roles_are_refused() {
    let app = spawn_app().await;
    let key = app.admin_key("ops", "console").await;
    let login = app.login("alice").await;
    let user_id = login["user"]["id"].as_str().unwrap().to_owned();
    let mut browser = Browser::new(&app.address);
    browser.sign_in(&key).await;
    let user_page = format!("/admin/users/{user_id}");
    let roles = format!("{user_page}/roles");

    let saved = browser
        .submit(&user_page, &roles, &[("roles", "support, vip")])
        .await;
    assert_eq!(saved.location(), format!("{user_page}?done=roles"));
    let page = browser.get(saved.location()).await;
    assert!(page.html.contains("value=\"support,vip\""));
    assert!(page.html.contains("Roles saved."));
    let record = app
        .store()
        .user_record(&UserId::new(&user_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.roles, vec!["support", "vip"]);

    let bad = browser
        .submit(&user_page, &roles, &[("roles", "Bad Role!")])
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.html.contains("role=\"alert\""));
    let record = app
        .store()
        .user_record(&UserId::new(&user_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.roles, vec!["support", "vip"]);
    assert!(audit_actions(&app)
        .await
        .contains(&("ops".to_owned(), "user.roles_changed".to_owned())));
}

#[tokio::test]
async fn deleting_an_account_in_the_console_ends_its_tokens_and_the_user() {
    let app = spawn_app().await;
    let key = app.admin_key("ops", "console").await;
    let login = app.login("alice").await;
    let user_id = login["user"]["id"].as_str().unwrap().to_owned();
    let access = token(&login, "access_token");
    let mut browser = Browser::new(&app.address);
    browser.sign_in(&key).await;
    let delete = format!("/admin/users/{user_id}/delete");
    let confirm = browser.get(&delete).await;
    assert!(confirm.html.contains(">Confirm</button>"));

    let done = browser.submit(&delete, &delete, &[]).await;
    assert_eq!(done.location(), "/admin/users?done=deleted");
    assert!(browser
        .get(done.location())
        .await
        .html
        .contains("role=\"status\">The account was deleted."));
    app.get("/v1/me", Some(&access))
        .await
        .assert_error(401, "unauthorized");
    assert!(app
        .store()
        .user_record(&UserId::new(&user_id))
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        browser.get(&format!("/admin/users/{user_id}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert!(audit_actions(&app)
        .await
        .contains(&("ops".to_owned(), "user.deleted".to_owned())));
}

#[tokio::test]
async fn sessions_end_after_thirty_idle_minutes_after_twelve_hours_and_with_their_key() {
    let app = spawn_app().await;
    let key = app.admin_key("ops", "console").await;
    let mut browser = Browser::new(&app.address);
    browser.sign_in(&key).await;

    app.clock.advance(29 * 60);
    assert_eq!(browser.get("/admin/").await.status, StatusCode::OK);
    app.clock.advance(29 * 60);
    assert_eq!(
        browser.get("/admin/").await.status,
        StatusCode::OK,
        "used: not idle"
    );
    app.clock.advance(31 * 60);
    assert_eq!(browser.get("/admin/").await.location(), "/admin/sign-in");

    // Used every 20 minutes, it still ends 12 hours after sign-in.
    browser.sign_in(&key).await;
    for _ in 0..35 {
        app.clock.advance(20 * 60);
        assert_eq!(browser.get("/admin/users").await.status, StatusCode::OK);
    }
    app.clock.advance(20 * 60);
    assert_eq!(
        browser.get("/admin/users").await.location(),
        "/admin/sign-in"
    );

    browser.sign_in(&key).await;
    assert!(app
        .store()
        .revoke_admin_key(&AdminKeyName::parse("ops").unwrap())
        .await
        .unwrap());
    assert_eq!(browser.get("/admin/").await.location(), "/admin/sign-in");
}

#[tokio::test]
async fn every_console_answer_carries_the_security_headers() {
    let app = spawn_app().await;
    let key = app.admin_key("ops", "console").await;
    let mut browser = Browser::new(&app.address);
    let sign_in = browser.get("/admin/sign-in").await;
    browser.sign_in(&key).await;
    let pages = [
        sign_in,
        browser.get("/admin/").await,
        browser.get("/admin/users").await,
        browser.get("/admin/events").await,
        browser.get("/admin/keys").await,
        browser.get("/admin/users/not-an-id").await,
        browser.get("/admin/assets/console.css").await,
    ];
    for page in &pages {
        let header = |name: &str| {
            page.headers
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let csp = header("content-security-policy").unwrap();
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(header("x-frame-options").as_deref(), Some("DENY"));
        assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));
        assert!(!page.html.contains("<script"), "no script anywhere");
        assert!(!page.html.contains(" style="), "no inline style");
    }
    for page in &pages[..6] {
        assert_eq!(
            page.headers.get("cache-control").unwrap().to_str().unwrap(),
            "no-store"
        );
    }
    assert!(pages[6].html.contains("svg.chart"));
}

#[tokio::test]
async fn chinese_is_chosen_by_accept_language_or_the_switch_and_english_otherwise() {
    let app = spawn_app().await;
    let mut browser = Browser::new(&app.address);
    browser.accept_language = "zh-CN,zh;q=0.9";
    let page = browser.get("/admin/sign-in").await;
    assert!(page.html.contains("<html lang=\"zh-CN\">"));
    assert!(page.html.contains(">管理密钥</label>"));
    assert!(page.html.contains(">登录</button>"));

    let switched = browser.get("/admin/lang?to=en&back=/admin/sign-in").await;
    assert_eq!(switched.location(), "/admin/sign-in");
    let page = browser.get("/admin/sign-in").await;
    assert!(page.html.contains(">Admin key</label>"));

    let mut other = Browser::new(&app.address);
    other.accept_language = "fr-FR,de;q=0.5";
    assert!(other
        .get("/admin/sign-in")
        .await
        .html
        .contains("<html lang=\"en\">"));
    let away = other
        .get("/admin/lang?to=zh&back=https://evil.example/")
        .await;
    assert_eq!(away.location(), "/admin/");
}

#[tokio::test]
async fn keys_page_rotates_the_signing_key_and_creates_an_admin_key_shown_once() {
    let app = spawn_app().await;
    let key = app.admin_key("ops", "console").await;
    let mut browser = Browser::new(&app.address);
    browser.sign_in(&key).await;
    let kids_before = app.store().signing_keys().await.unwrap().len();

    let rotated = browser
        .submit(
            "/admin/keys/signing/rotate",
            "/admin/keys/signing/rotate",
            &[],
        )
        .await;
    assert_eq!(rotated.location(), "/admin/keys?done=rotated");
    assert_eq!(
        app.store().signing_keys().await.unwrap().len(),
        kids_before + 1
    );

    let created = browser
        .submit(
            "/admin/keys",
            "/admin/keys/admin",
            &[
                ("name", "support-desk"),
                ("scope", "users:read"),
                ("scope", "events:read"),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.html);
    let start = created.html.find("data-testid=\"new-admin-key\"").unwrap();
    let text = &created.html[start..];
    let secret_start = text.find("wxa_").unwrap();
    let secret_end = text[secret_start..].find('<').unwrap() + secret_start;
    let secret = &text[secret_start..secret_end];
    app.get("/admin/v1/users", Some(secret)).await.assert_ok();
    app.get("/admin/v1/audit", Some(secret)).await.assert_ok();
    let keys_page = browser.get("/admin/keys").await;
    assert!(keys_page.html.contains("support-desk"));
    assert!(!keys_page.html.contains(secret), "shown only once");

    let taken = browser
        .submit(
            "/admin/keys",
            "/admin/keys/admin",
            &[("name", "support-desk"), ("scope", "console")],
        )
        .await;
    assert_eq!(taken.status, StatusCode::BAD_REQUEST);
    let no_scope = browser
        .submit("/admin/keys", "/admin/keys/admin", &[("name", "nothing")])
        .await;
    assert_eq!(no_scope.status, StatusCode::BAD_REQUEST);

    let revoke = "/admin/keys/admin/support-desk/revoke";
    let revoked = browser.submit(revoke, revoke, &[]).await;
    assert_eq!(revoked.location(), "/admin/keys?done=revoked");
    app.get("/admin/v1/users", Some(secret))
        .await
        .assert_error(401, "unauthorized");

    let actions: Vec<String> = audit_actions(&app)
        .await
        .into_iter()
        .map(|(_, a)| a)
        .collect();
    for action in [
        "signing_key.rotated",
        "admin_key.created",
        "admin_key.revoked",
    ] {
        assert!(
            actions.contains(&action.to_owned()),
            "{action} in {actions:?}"
        );
    }
}

/// Another instance on `app`'s database and simulator, with its own clock.
struct Instance {
    address: String,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Instance {
    async fn start(settings: Settings) -> Instance {
        let application = Application::build_with_clock(settings, Arc::new(OffsetClock::new()))
            .await
            .expect("instance builds");
        let address = format!("http://{}", application.local_addr());
        let (shutdown, stopped) = oneshot::channel();
        tokio::spawn(application.run_until(async {
            let _ = stopped.await;
        }));
        Instance {
            address,
            shutdown: Some(shutdown),
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

fn logins_in_the_last_hour(html: &str) -> (i64, i64) {
    let start = html.find("over the last hour: ").expect("the hour chart") + 20;
    let rest = &html[start..];
    let numbers: Vec<i64> = rest
        .split(|c: char| !c.is_ascii_digit())
        .filter(|part| !part.is_empty())
        .take(2)
        .map(|part| part.parse().unwrap())
        .collect();
    (numbers[0], numbers[1])
}

#[tokio::test]
async fn two_instances_share_console_sessions_and_add_up_their_login_figures() {
    let app = spawn_app().await;
    let other = Instance::start(app.settings.clone()).await;
    let key = app.admin_key("ops", "console").await;

    app.login("alice").await;
    let code = app.code(APPID, "bob");
    let answer = reqwest::Client::new()
        .post(format!("{}/v1/login", other.address))
        .json(&json!({"code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let refused: Value = app
        .post("/v1/login", None, json!({"code": "not-a-code-of-wechat"}))
        .await
        .body;
    assert!(refused["error"]["code"].is_string());

    // Signed in on one instance, the session works on the other.
    let mut browser = Browser::new(&app.address);
    browser.sign_in(&key).await;
    let first = browser.get("/admin/").await;
    browser.base = other.address.clone();
    let second = browser.get("/admin/").await;
    assert_eq!(second.status, StatusCode::OK);
    // Each overview adds its own instance's counts first: the second shows both.
    assert_eq!(logins_in_the_last_hour(&first.html).0, 1);
    assert_eq!(logins_in_the_last_hour(&second.html), (2, 1));
    assert!(second.html.contains("<dt>Active sessions</dt><dd>2</dd>"));
}

#[tokio::test]
async fn a_graceful_stop_stores_what_the_console_counted_since_its_last_flush() {
    let mut app = spawn_app().await;
    app.login("alice").await;
    // Well inside the flush period: only the stop itself can have stored this login.
    app.stop_server().await;
    let counts = app.store().minute_counts_since(0).await.unwrap();
    let logins: i64 = counts
        .iter()
        .filter(|count| count.series == "login")
        .map(|count| count.count)
        .sum();
    assert_eq!(logins, 1, "{counts:?}");
}
