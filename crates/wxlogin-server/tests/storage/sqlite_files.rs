//! The SQLite files themselves: created private whatever the umask, a dev key file others
//! can read refused, and a database whose files are deleted or replaced under it refused
//! until they are back, then reopened. (Concurrent migrations of one file:
//! crates/wxlogin/tests/cli/admin_commands.rs, with real processes.)
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use wxlogin_server::domain::{AppId, OpenId};

use wxlogin_server::at_rest::{resolve_master_key, AtRestError, MasterKey};
use wxlogin_server::storage::{Database, DatabaseUrl, StorageError, Store, StoreOptions};

/// Longer than the files' check interval (250 ms), so a verdict is looked up anew.
const AFTER_CHECK: Duration = Duration::from_millis(400);

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!("wxlogin-files-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

#[tokio::test]
async fn a_new_database_and_its_wal_and_shm_are_0600_under_umask_022() {
    // 022 is the usual umask (and this binary's other tests do not create files).
    // SAFETY: umask(2) only swaps the process's file-creation mask.
    unsafe { libc::umask(0o022) };
    let dir = TempDir::new();
    let path = dir.file("private.db");
    let database = Database::connect(&url(&path), &StoreOptions::default())
        .await
        .unwrap();
    database.migrate().await.unwrap();
    for file in [
        path.clone(),
        with_suffix(&path, "-wal"),
        with_suffix(&path, "-shm"),
        with_suffix(&path, ".migrate-lock"),
    ] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    database.close().await;
}

#[test]
fn a_dev_key_file_others_can_read_is_refused() {
    let dir = TempDir::new();
    let database = dir.file("keyed.db");
    let database_url = DatabaseUrl::parse(&url(&database)).unwrap();
    let created = resolve_master_key(None, &database_url).unwrap();
    let key_file = with_suffix(&database, ".master-key");
    assert_eq!(mode(&key_file), 0o600);
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let error = resolve_master_key(None, &database_url).unwrap_err();
    assert!(
        matches!(&error, AtRestError::KeyFile { reason, .. } if reason.contains("0644")),
        "{error}"
    );
    // Tightened again, the same key is loaded.
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let loaded = resolve_master_key(None, &database_url).unwrap();
    assert_eq!(
        loaded.key.expose_base64().as_str(),
        created.key.expose_base64().as_str()
    );
}

async fn store_on(path: &Path, key: &MasterKey) -> Store {
    let store = Store::connect(&url(path), &StoreOptions::default(), key.clone())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store
}

fn assert_unavailable<T: std::fmt::Debug>(result: Result<T, StorageError>, what: &str) {
    match result {
        Err(error) if error.is_unavailable() => {}
        other => panic!("{what}: expected unavailable, got {other:?}"),
    }
}

fn move_files(from: &Path, to: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        std::fs::rename(with_suffix(from, suffix), with_suffix(to, suffix)).unwrap();
    }
}

#[tokio::test]
async fn a_database_whose_files_are_gone_is_unavailable_until_they_are_back() {
    let dir = TempDir::new();
    let path = dir.file("moved.db");
    let key = MasterKey::generate();
    let store = store_on(&path, &key).await;
    store
        .find_or_create_user(
            &AppId::configured("wx-app"),
            &OpenId::new("o-before"),
            None,
            1,
        )
        .await
        .unwrap();
    store.database().ping().await.unwrap();

    // As good as deleted, for the path; kept, so that they can come back.
    let aside = dir.file("aside.db");
    move_files(&path, &aside);
    tokio::time::sleep(AFTER_CHECK).await;
    assert_unavailable(store.database().ping().await, "ping");
    assert_unavailable(
        store
            .find_or_create_user(
                &AppId::configured("wx-app"),
                &OpenId::new("o-lost"),
                None,
                2,
            )
            .await,
        "write",
    );
    assert_unavailable(store.count_users().await, "read");
    assert!(!path.exists(), "nothing was created in the files' place");

    move_files(&aside, &path);
    tokio::time::sleep(AFTER_CHECK).await;
    store.database().ping().await.unwrap();
    store
        .find_or_create_user(
            &AppId::configured("wx-app"),
            &OpenId::new("o-after"),
            None,
            3,
        )
        .await
        .unwrap();
    assert_eq!(store.count_users().await.unwrap(), 2);
    store.database().close().await;
    drop(store);

    // What the server wrote went into the file at the path, not into a lost one.
    let reopened = store_on(&path, &key).await;
    assert_eq!(reopened.count_users().await.unwrap(), 2);
    reopened.database().close().await;
}

#[tokio::test]
async fn a_database_replaced_by_a_copy_is_reopened_on_the_copy() {
    let dir = TempDir::new();
    let path = dir.file("restored.db");
    let key = MasterKey::generate();
    let store = store_on(&path, &key).await;
    store
        .find_or_create_user(
            &AppId::configured("wx-app"),
            &OpenId::new("o-backed-up"),
            None,
            1,
        )
        .await
        .unwrap();
    // A backup: SQLite's own copy, consistent whatever the WAL holds.
    let backup = dir.file("backup.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute("VACUUM INTO ?1", [backup.to_str().unwrap()])
        .unwrap();
    store
        .find_or_create_user(
            &AppId::configured("wx-app"),
            &OpenId::new("o-after-backup"),
            None,
            2,
        )
        .await
        .unwrap();

    // The files are deleted, then the backup is restored in their place (other inodes).
    for suffix in ["", "-wal", "-shm"] {
        std::fs::remove_file(with_suffix(&path, suffix)).unwrap();
    }
    tokio::time::sleep(AFTER_CHECK).await;
    assert_unavailable(
        store
            .find_or_create_user(
                &AppId::configured("wx-app"),
                &OpenId::new("o-into-the-void"),
                None,
                3,
            )
            .await,
        "write to deleted files",
    );
    std::fs::copy(&backup, &path).unwrap();
    tokio::time::sleep(AFTER_CHECK).await;

    // The connections now use the restored file: it has the backed-up user only, and
    // takes new writes.
    assert_eq!(store.count_users().await.unwrap(), 1);
    store
        .find_or_create_user(
            &AppId::configured("wx-app"),
            &OpenId::new("o-restored"),
            None,
            4,
        )
        .await
        .unwrap();
    assert_eq!(store.count_users().await.unwrap(), 2);
    // The checkpointer follows within its interval (500 ms). Closing the stale connections,
    // the last on the old files, neither checkpointed into nor deleted the new ones, which
    // SQLite would otherwise do by name.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    for suffix in ["-wal", "-shm"] {
        assert!(
            with_suffix(&path, suffix).exists(),
            "{suffix} is still there"
        );
    }
    store.database().ping().await.unwrap();
    store
        .find_or_create_user(
            &AppId::configured("wx-app"),
            &OpenId::new("o-later"),
            None,
            5,
        )
        .await
        .unwrap();
    store.database().close().await;
    drop(store);
    assert!(path.exists());
    let reopened = store_on(&path, &key).await;
    assert_eq!(reopened.count_users().await.unwrap(), 3);
    assert!(reopened
        .user_by_identity(&AppId::configured("wx-app"), &OpenId::new("o-restored"))
        .await
        .unwrap()
        .is_some());
    reopened.database().close().await;
}

/// The WAL header's checkpoint sequence number (bytes 12..16, big-endian): SQLite counts
/// up each time it starts the WAL over from its first frame.
fn wal_restarts(path: &Path) -> u32 {
    let header = std::fs::read(with_suffix(path, "-wal")).unwrap();
    u32::from_be_bytes(header[12..16].try_into().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_writes_that_never_pause_the_wal_is_still_started_over() {
    let dir = TempDir::new();
    let path = dir.file("steady.db");
    let key = MasterKey::generate();
    let store = store_on(&path, &key).await;
    let appid = AppId::configured("wxsteady");
    // Two writers back to back, so the writer is never free for long: a passive pass
    // alone never reaches the end of the WAL.
    let deadline = std::time::Instant::now() + Duration::from_millis(3_000);
    store
        .find_or_create_user(&appid, &OpenId::new("first"), None, 1_000)
        .await
        .unwrap();
    let restarts_before = wal_restarts(&path);
    let mut writers = Vec::new();
    for writer in 0..2 {
        let store = store.clone();
        let appid = appid.clone();
        writers.push(tokio::spawn(async move {
            let mut written = 0u32;
            while std::time::Instant::now() < deadline {
                let openid = OpenId::new(format!("steady-{writer}-{written}"));
                store
                    .find_or_create_user(&appid, &openid, None, 1_000)
                    .await
                    .unwrap();
                written += 1;
            }
            written
        }));
    }
    let mut written = 0;
    for writer in writers {
        written += writer.await.unwrap();
    }
    let restarts = wal_restarts(&path) - restarts_before;
    // The checkpointer runs every 500 ms: about six passes in 3 s.
    assert!(
        restarts >= 2,
        "the WAL was started over {restarts} times during {written} writes"
    );
}
