//! Migrations kept in step on both backends, and "database unavailable" told apart from
//! other failures.

use std::time::Duration;

use crate::helpers::{fresh_sqlite, fresh_stores};
use sqlx::Executor;
use wxlogin_crypto::SessionKey;
use wxlogin_server::at_rest::MasterKey;
use wxlogin_server::storage::{Database, StorageError, Store, StoreOptions};

fn migration_names(dir: &str) -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(dir);
    let mut names: Vec<String> = std::fs::read_dir(path)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn both_backends_have_the_same_numbered_migrations() {
    let sqlite = migration_names("sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, migration_names("postgres"));
}

#[tokio::test]
async fn migrating_again_applies_nothing() {
    for db in fresh_stores().await {
        let report = db.store.migrate().await.unwrap();
        assert!(report.applied.is_empty(), "{}: {report:?}", db.label);
        assert_eq!(report.already_applied, migration_names("sqlite").len());
        assert_eq!(report.backend, db.store.backend());
    }
}

#[tokio::test]
async fn a_new_sqlite_file_is_created_and_migrated() {
    let dir = std::env::temp_dir().join(format!("wxlogin-new-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("fresh.db");
    let database = Database::connect(
        &format!("sqlite://{}", file.display()),
        &StoreOptions::default(),
    )
    .await
    .unwrap();
    assert!(file.exists());
    let report = database.migrate().await.unwrap();
    assert_eq!(report.applied.first(), Some(&(1, "initial".to_string())));
    assert_eq!(report.already_applied, 0);
    // WAL mode: readers do not block the writer; SQLite keeps the log beside the file.
    assert!(dir.join("fresh.db-wal").exists(), "journal_mode=WAL is set");
    database.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn an_in_memory_sqlite_database_works_as_one_connection() {
    let store = Store::connect(
        "sqlite::memory:",
        &StoreOptions::default(),
        MasterKey::generate(),
    )
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let user = store
        .find_or_create_user("wxapp", "o", None, 1)
        .await
        .unwrap();
    assert_eq!(
        store.user_record(&user.id).await.unwrap().unwrap().id,
        user.id
    );
}

#[tokio::test]
async fn an_unreachable_postgres_is_unavailable() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let options = StoreOptions {
        acquire_timeout: Duration::from_millis(500),
        ..StoreOptions::default()
    };
    let error = Database::connect(
        &format!("postgres://nobody@127.0.0.1:{port}/none"),
        &options,
    )
    .await
    .unwrap_err();
    assert!(error.is_unavailable(), "{error}");
}

#[tokio::test]
async fn an_unknown_scheme_is_an_invalid_url() {
    let error = Database::connect("mysql://root@127.0.0.1/db", &StoreOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(error, StorageError::InvalidUrl(_)), "{error}");
}

#[tokio::test]
async fn a_sqlite_database_locked_past_the_busy_timeout_is_unavailable() {
    let db = fresh_sqlite().await;
    let options = StoreOptions {
        sqlite_busy_timeout: Duration::from_millis(200),
        ..StoreOptions::default()
    };
    let store = Store::connect(&db.url, &options, db.master_key.clone())
        .await
        .unwrap();
    let raw = db.raw_pool().await;
    let mut locker = raw.acquire().await.unwrap();
    locker.execute("BEGIN EXCLUSIVE").await.unwrap();
    let key = SessionKey::from_bytes([7; 16]);
    let error = store
        .save_session_key("wxapp", "o", &key, 1)
        .await
        .unwrap_err();
    assert!(error.is_unavailable(), "{error}");
    locker.execute("ROLLBACK").await.unwrap();
    // And it recovers by itself once the lock is gone.
    store.save_session_key("wxapp", "o", &key, 1).await.unwrap();
}

#[tokio::test]
async fn concurrent_writes_on_sqlite_queue_for_one_writer_instead_of_the_busy_handler() {
    // With the busy handler off, a write that meets another connection's write lock fails
    // at once ("database is locked"). All writes of one store go through its one writer
    // connection, so none of them can meet another of its own.
    let db = fresh_sqlite().await;
    let options = StoreOptions {
        sqlite_busy_timeout: Duration::ZERO,
        ..StoreOptions::default()
    };
    let store = Store::connect(&db.url, &options, db.master_key.clone())
        .await
        .unwrap();
    let writes = (0..200).map(|n| {
        let store = store.clone();
        tokio::spawn(async move {
            let key = SessionKey::from_bytes([n as u8; 16]);
            store
                .save_session_key("wxapp", &format!("openid-{n}"), &key, 1)
                .await?;
            store
                .find_or_create_user("wxapp", &format!("openid-{n}"), None, 1)
                .await
                .map(|_| ())
        })
    });
    for write in futures::future::join_all(writes).await {
        write.unwrap().unwrap();
    }
    assert_eq!(store.count_users().await.unwrap(), 200);
}

#[tokio::test]
async fn a_postgres_statement_past_its_timeout_is_unavailable() {
    let Some(db) = crate::helpers::fresh_postgres().await else {
        return;
    };
    let options = StoreOptions {
        statement_timeout: Duration::from_millis(300),
        ..StoreOptions::default()
    };
    let store = Store::connect(&db.url, &options, db.master_key.clone())
        .await
        .unwrap();
    let raw = db.raw_pool().await;
    let mut locker = raw.acquire().await.unwrap();
    locker.execute("BEGIN").await.unwrap();
    locker
        .execute("LOCK TABLE session_keys IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let key = SessionKey::from_bytes([7; 16]);
    let error = store
        .save_session_key("wxapp", "o", &key, 1)
        .await
        .unwrap_err();
    assert!(error.is_unavailable(), "{error}");
    locker.execute("ROLLBACK").await.unwrap();
    store.save_session_key("wxapp", "o", &key, 1).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_starting_together_on_postgres_migrate_once() {
    let Some(url) = crate::helpers::empty_postgres_schema_url().await else {
        return;
    };
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let database = Database::connect(&url, &StoreOptions::default()).await?;
            let report = database.migrate().await;
            database.close().await;
            report
        }));
    }
    let mut applied_by = 0;
    for task in tasks {
        let report = task
            .await
            .unwrap()
            .expect("every instance migrates cleanly");
        if !report.applied.is_empty() {
            applied_by += 1;
        }
    }
    assert_eq!(applied_by, 1, "exactly one instance applies the migrations");
}
