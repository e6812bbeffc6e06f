//! `wxlogin migrate`, `wxlogin users …` and `wxlogin keys …` against a SQLite database the
//! server library populated, run as the real binary.

use std::path::{Path, PathBuf};
use std::process::Command;
use wxlogin_server::domain::{AppId, OpenId, UnionId};

use wxlogin_server::at_rest::{resolve_master_key, MasterKey};
use wxlogin_server::domain::PhoneNumber;
use wxlogin_server::sessions::{SessionPolicy, Sessions};
use wxlogin_server::storage::{unix_now, DatabaseUrl, Store, StoreOptions};
use wxlogin_server::tokens::{KeyPolicy, SigningKeys};

struct Output {
    success: bool,
    stdout: String,
    stderr: String,
}

fn wxlogin(args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_wxlogin"))
        .args(args)
        .env_remove("WXLOGIN_DATABASE_URL")
        .env_remove("WXLOGIN_MASTER_KEY")
        .output()
        .expect("wxlogin runs");
    Output {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!("wxlogin-cli-{}", uuid_like()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}-{nanos}", std::process::id())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn migrate_reports_what_it_applied_then_that_nothing_was_left() {
    let dir = TempDir::new();
    let url = format!("sqlite://{}", dir.path().join("w.db").display());
    let first = wxlogin(&["migrate", "--database-url", &url]);
    assert!(first.success, "{}", first.stderr);
    assert!(
        first
            .stdout
            .contains("sqlite: applied migration 0001 initial"),
        "{}",
        first.stdout
    );
    let second = wxlogin(&["migrate", "--database-url", &url]);
    assert!(second.success, "{}", second.stderr);
    assert!(
        second.stdout.contains("schema up to date"),
        "{}",
        second.stdout
    );
}

#[test]
fn concurrent_migrate_runs_on_one_sqlite_file_apply_it_once_and_say_so() {
    let dir = TempDir::new();
    let url = format!("sqlite://{}", dir.path().join("raced.db").display());
    let runs: Vec<_> = (0..6)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_wxlogin"))
                .args(["migrate", "--database-url", &url])
                .env_remove("WXLOGIN_DATABASE_URL")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("wxlogin starts")
        })
        .collect();
    let outputs: Vec<_> = runs
        .into_iter()
        .map(|run| run.wait_with_output().expect("wxlogin ends"))
        .collect();
    let mut applying = 0;
    for output in &outputs {
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stdout}{stderr}");
        if stdout.contains("sqlite: applied migration 0001 initial") {
            assert!(
                stdout.contains("migration(s) applied by this run, 0 were already in place"),
                "{stdout}"
            );
            applying += 1;
        } else {
            assert!(
                stdout.contains("schema up to date (nothing applied by this run; ")
                    && !stdout.contains("; 0 migration(s) already applied"),
                "{stdout}"
            );
        }
    }
    assert_eq!(applying, 1, "exactly one run applies the migration");
}

#[test]
fn users_are_listed_shown_masked_and_revoked() {
    let dir = TempDir::new();
    let url = format!("sqlite://{}", dir.path().join("w.db").display());
    let now = unix_now();
    let (alice, bob, sessions, pairs) = runtime().block_on(async {
        // As `wxlogin serve` would: dev key file, migrated store, users with sessions.
        let key = resolve_master_key(None, &DatabaseUrl::parse(&url).unwrap())
            .unwrap()
            .key;
        let store = Store::connect(&url, &StoreOptions::default(), key)
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let alice = store
            .find_or_create_user(
                &AppId::configured("wxappA"),
                &OpenId::new("openid-alice"),
                Some(&UnionId::new("union-a")),
                now,
            )
            .await
            .unwrap();
        store
            .find_or_create_user(
                &AppId::configured("wxappB"),
                &OpenId::new("openid-alice-b"),
                Some(&UnionId::new("union-a")),
                now,
            )
            .await
            .unwrap();
        let bob = store
            .find_or_create_user(
                &AppId::configured("wxappA"),
                &OpenId::new("openid-bob"),
                None,
                now + 1,
            )
            .await
            .unwrap();
        let phone = PhoneNumber {
            phone_number: "13812345678".into(),
            pure_phone_number: "13812345678".into(),
            country_code: "86".into(),
        };
        store
            .set_phone_number(&alice.id, &phone, now)
            .await
            .unwrap();
        store
            .update_profile(&alice.id, Some("Alice"), None, now)
            .await
            .unwrap();
        let keys = SigningKeys::load_or_create(store.clone(), KeyPolicy::default(), now)
            .await
            .unwrap();
        let sessions = Sessions::new(store, keys, SessionPolicy::new(["wxappA".to_string()]));
        let pairs = vec![
            sessions.issue(&alice, now).await.unwrap(),
            sessions.issue(&alice, now).await.unwrap(),
        ];
        (alice, bob, sessions, pairs)
    });

    let listed = wxlogin(&["users", "list", "--database-url", &url]);
    assert!(listed.success, "{}", listed.stderr);
    assert!(
        listed.stdout.contains(alice.id.as_str()) && listed.stdout.contains(bob.id.as_str()),
        "{}",
        listed.stdout
    );
    assert!(listed.stdout.contains("138****5678") && !listed.stdout.contains("13812345678"));
    assert!(
        listed
            .stdout
            .contains("wxappA/openid-alice, wxappB/openid-alice-b"),
        "{}",
        listed.stdout
    );
    let limited = wxlogin(&["users", "list", "--limit", "1", "--database-url", &url]);
    assert!(
        limited.stdout.contains(alice.id.as_str()) && !limited.stdout.contains(bob.id.as_str()),
        "{}",
        limited.stdout
    );

    let shown = wxlogin(&["users", "show", &alice.id, "--database-url", &url]);
    assert!(shown.success, "{}", shown.stderr);
    assert!(
        shown.stdout.contains("nickname:        Alice"),
        "{}",
        shown.stdout
    );
    assert!(shown.stdout.contains("appid wxappB, openid openid-alice-b"));
    assert!(
        shown.stdout.contains("active sessions: 2"),
        "{}",
        shown.stdout
    );
    assert!(!shown.stdout.contains("13812345678"));

    let revoked = wxlogin(&["users", "revoke", &alice.id, "--database-url", &url]);
    assert!(revoked.success, "{}", revoked.stderr);
    assert!(
        revoked
            .stdout
            .contains(&format!("ended 2 session(s) of user {}", alice.id)),
        "{}",
        revoked.stdout
    );
    runtime().block_on(async {
        for pair in &pairs {
            assert!(sessions
                .authenticate(&pair.access_token, now + 1)
                .await
                .is_err());
        }
    });
    let shown = wxlogin(&["users", "show", &alice.id, "--database-url", &url]);
    assert!(
        shown.stdout.contains("active sessions: 0"),
        "{}",
        shown.stdout
    );

    let unknown = wxlogin(&["users", "show", "no-such-id", "--database-url", &url]);
    assert!(!unknown.success);
    assert!(
        unknown.stderr.contains("no user with id no-such-id"),
        "{}",
        unknown.stderr
    );
    let unknown = wxlogin(&["users", "revoke", "no-such-id", "--database-url", &url]);
    assert!(!unknown.success);
}

#[test]
fn admin_commands_do_not_create_a_missing_database() {
    let dir = TempDir::new();
    let file = dir.path().join("missing.db");
    let url = format!("sqlite://{}", file.display());
    let listed = wxlogin(&["users", "list", "--database-url", &url]);
    assert!(!listed.success);
    assert!(
        listed.stderr.contains("does not exist"),
        "{}",
        listed.stderr
    );
    let keys = wxlogin(&["keys", "list", "--database-url", &url]);
    assert!(!keys.success);
    assert!(!file.exists());
}

#[test]
fn keys_rotate_adds_a_current_key_and_list_shows_the_previous_one_published() {
    let dir = TempDir::new();
    let url = format!("sqlite://{}", dir.path().join("w.db").display());
    let first_kid = runtime().block_on(async {
        let key = resolve_master_key(None, &DatabaseUrl::parse(&url).unwrap())
            .unwrap()
            .key;
        let store = Store::connect(&url, &StoreOptions::default(), key)
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let keys = SigningKeys::load_or_create(store, KeyPolicy::default(), unix_now())
            .await
            .unwrap();
        keys.current_kid().unwrap()
    });

    let listed = wxlogin(&["keys", "list", "--database-url", &url]);
    assert!(listed.success, "{}", listed.stderr);
    assert!(
        listed.stdout.contains(&first_kid) && listed.stdout.contains("current"),
        "{}",
        listed.stdout
    );

    let rotated = wxlogin(&["keys", "rotate", "--database-url", &url]);
    assert!(rotated.success, "{}", rotated.stderr);
    let new_kid = rotated
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("new current key: "))
        .expect("rotate prints the new kid")
        .to_string();
    assert_ne!(new_kid, first_kid);
    assert!(
        rotated.stdout.contains(&format!(
            "previous key {first_kid} stays in the JWKS for 2100 s"
        )),
        "{}",
        rotated.stdout
    );

    // The server (library) sees the new key as current.
    let current = runtime().block_on(async {
        let key = resolve_master_key(None, &DatabaseUrl::parse(&url).unwrap())
            .unwrap()
            .key;
        let store = Store::connect(&url, &StoreOptions::default(), key)
            .await
            .unwrap();
        SigningKeys::load(store, KeyPolicy::default())
            .await
            .unwrap()
            .current_kid()
    });
    assert_eq!(current, Some(new_kid.clone()));

    let listed = wxlogin(&["keys", "list", "--database-url", &url]);
    let old_line = listed
        .stdout
        .lines()
        .find(|line| line.starts_with(&first_kid))
        .unwrap();
    assert!(old_line.ends_with("retired, still in JWKS"), "{old_line}");
    let new_line = listed
        .stdout
        .lines()
        .find(|line| line.starts_with(&new_kid))
        .unwrap();
    assert!(new_line.ends_with("current"), "{new_line}");

    // A master key other than the server's cannot open the keys, and nothing is added.
    let wrong = MasterKey::generate();
    let refused = wxlogin(&[
        "keys",
        "rotate",
        "--database-url",
        &url,
        "--master-key",
        &wrong.expose_base64(),
    ]);
    assert!(!refused.success);
    assert!(refused.stderr.contains("master key"), "{}", refused.stderr);
    assert!(!refused.stderr.contains(wrong.expose_base64().as_str()));
}

#[test]
fn keys_without_any_master_key_explain_what_is_missing() {
    let dir = TempDir::new();
    let url = format!("sqlite://{}", dir.path().join("w.db").display());
    assert!(wxlogin(&["migrate", "--database-url", &url]).success);
    let refused = wxlogin(&["keys", "rotate", "--database-url", &url]);
    assert!(!refused.success);
    assert!(
        refused.stderr.contains("WXLOGIN_MASTER_KEY"),
        "{}",
        refused.stderr
    );
    assert!(
        !dir.path().join("w.db.master-key").exists(),
        "no key file is made up"
    );
}

#[test]
fn admin_keys_are_shown_once_listed_without_themselves_and_revoked() {
    let dir = TempDir::new();
    let url = format!("sqlite://{}", dir.path().join("w.db").display());
    assert!(wxlogin(&["migrate", "--database-url", &url]).success);
    let created = wxlogin(&[
        "admin-keys",
        "create",
        "--name",
        "order-service",
        "--scopes",
        "users:read,tokens:introspect",
        "--database-url",
        &url,
    ]);
    assert!(created.success, "{}", created.stderr);
    let key = created.stdout.trim().to_owned();
    assert!(key.starts_with("wxa_") && key.len() == 47, "{key}");
    assert!(
        created.stderr.contains("shown only now"),
        "{}",
        created.stderr
    );

    let listed = wxlogin(&["admin-keys", "list", "--database-url", &url]);
    assert!(listed.success, "{}", listed.stderr);
    assert!(listed.stdout.contains("order-service"), "{}", listed.stdout);
    assert!(
        listed.stdout.contains("users:read,tokens:introspect"),
        "{}",
        listed.stdout
    );
    assert!(listed.stdout.contains("never"), "{}", listed.stdout);
    assert!(!listed.stdout.contains(&key[4..]), "the key is listed");

    let twice = wxlogin(&[
        "admin-keys",
        "create",
        "--name",
        "order-service",
        "--scopes",
        "users:read",
        "--database-url",
        &url,
    ]);
    assert!(
        !twice.success && twice.stderr.contains("exists already"),
        "{}",
        twice.stderr
    );
    for (name, scopes) in [
        ("bad name", "users:read"),
        ("ok", "users:admin"),
        ("ok", ""),
    ] {
        let refused = wxlogin(&[
            "admin-keys",
            "create",
            "--name",
            name,
            "--scopes",
            scopes,
            "--database-url",
            &url,
        ]);
        assert!(!refused.success, "{name} {scopes}");
    }
    let revoked = wxlogin(&[
        "admin-keys",
        "revoke",
        "order-service",
        "--database-url",
        &url,
    ]);
    assert!(revoked.success, "{}", revoked.stderr);
    let again = wxlogin(&[
        "admin-keys",
        "revoke",
        "order-service",
        "--database-url",
        &url,
    ]);
    assert!(
        !again.success && again.stderr.contains("no admin key named"),
        "{}",
        again.stderr
    );
    let empty = wxlogin(&["admin-keys", "list", "--database-url", &url]);
    assert!(!empty.stdout.contains("order-service"), "{}", empty.stdout);
}

#[test]
fn users_delete_removes_the_account_and_is_audited() {
    let dir = TempDir::new();
    let url = format!("sqlite://{}", dir.path().join("w.db").display());
    let now = unix_now();
    let (user, pair, sessions) = runtime().block_on(async {
        let key = resolve_master_key(None, &DatabaseUrl::parse(&url).unwrap())
            .unwrap()
            .key;
        let store = Store::connect(&url, &StoreOptions::default(), key)
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let user = store
            .find_or_create_user(
                &AppId::configured("wxappA"),
                &OpenId::new("openid-gone"),
                None,
                now,
            )
            .await
            .unwrap();
        let keys = SigningKeys::load_or_create(store.clone(), KeyPolicy::default(), now)
            .await
            .unwrap();
        let sessions = Sessions::new(store, keys, SessionPolicy::new(["wxappA".to_string()]));
        let pair = sessions.issue(&user, now).await.unwrap();
        (user, pair, sessions)
    });
    let deleted = wxlogin(&["users", "delete", &user.id, "--database-url", &url]);
    assert!(deleted.success, "{}", deleted.stderr);
    assert!(
        deleted.stdout.contains("deleted user"),
        "{}",
        deleted.stdout
    );
    runtime().block_on(async {
        assert!(sessions
            .authenticate(&pair.access_token, now)
            .await
            .is_err());
        assert!(sessions
            .store()
            .user_record(&user.id)
            .await
            .unwrap()
            .is_none());
    });
    let twice = wxlogin(&["users", "delete", &user.id, "--database-url", &url]);
    assert!(
        !twice.success && twice.stderr.contains("no user with id"),
        "{}",
        twice.stderr
    );
    let audit = wxlogin(&["audit", "--database-url", &url]);
    assert!(audit.success, "{}", audit.stderr);
    assert!(
        audit.stdout.contains("cli")
            && audit.stdout.contains("user.deleted")
            && audit.stdout.contains(user.id.as_str()),
        "{}",
        audit.stdout
    );
}
