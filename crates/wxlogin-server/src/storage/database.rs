//! The connection pool over SQLite or PostgreSQL, chosen by URL, and the schema migrations.

use std::collections::HashSet;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::migrate::{Migrate, Migrator};
use sqlx::{Connection, Executor};

use super::migration_lock::MigrationLock;
use super::sql::{query, Driver, On, Transaction};
use super::sqlite::SqliteConnections;
use super::StorageError;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Which database a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// `sqlite:` → SQLite, `postgres:`/`postgresql:` → PostgreSQL.
    pub fn from_url(database_url: &str) -> Result<Backend, StorageError> {
        let scheme = database_url
            .split_once(':')
            .map(|(scheme, _)| scheme)
            .unwrap_or("");
        match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            _ => Err(StorageError::InvalidUrl(
                "expected sqlite://PATH or postgres://USER@HOST/DB".into(),
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Pool settings. The defaults suit one server instance.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Most connections the pool opens. On a SQLite file these are the readers, and every
    /// write goes through one more, dedicated connection (an in-memory database always uses
    /// exactly one connection for both).
    pub max_connections: u32,
    /// How long a query waits for a free connection before failing with
    /// [`StorageError::Unavailable`].
    pub acquire_timeout: Duration,
    /// PostgreSQL `statement_timeout` per connection; a statement running longer is
    /// cancelled and reported as [`StorageError::Unavailable`].
    pub statement_timeout: Duration,
    /// SQLite `busy_timeout`: how long a write waits for the database lock.
    pub sqlite_busy_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(5),
            sqlite_busy_timeout: Duration::from_secs(5),
        }
    }
}

/// What [`Database::migrate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    pub backend: Backend,
    /// Migrations applied by this call: (version, description).
    pub applied: Vec<(i64, String)>,
    /// How many migrations were already in place.
    pub already_applied: usize,
}

/// The server's database: connections for reading and for writing. Cheap to clone. `Debug`
/// names only the backend (never the connection string, which may hold a password).
///
/// A SQLite file is queried in place through rusqlite, with one writer connection and
/// `query_only` readers (`sqlite.rs` says why); PostgreSQL, and an in-memory SQLite
/// database, go through one sqlx pool for both.
#[derive(Clone)]
pub struct Database {
    driver: Driver,
    backend: Backend,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Database {
    /// Open the database. A SQLite file is created if missing; each SQLite connection runs
    /// in WAL mode with foreign keys on, `synchronous=NORMAL` and the configured busy
    /// timeout; each PostgreSQL connection gets the configured `statement_timeout`.
    pub async fn connect(
        database_url: &str,
        options: &StoreOptions,
    ) -> Result<Database, StorageError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(database_url)?;
        match backend {
            Backend::Sqlite => Self::connect_sqlite(database_url, options).await,
            Backend::Postgres => {
                let timeout_ms = options.statement_timeout.as_millis();
                let pool = AnyPoolOptions::new()
                    .max_connections(options.max_connections.max(1))
                    .acquire_timeout(options.acquire_timeout)
                    .after_connect(move |connection, _| {
                        Box::pin(async move {
                            connection
                                .execute(format!("SET statement_timeout = {timeout_ms}").as_str())
                                .await?;
                            Ok(())
                        })
                    })
                    .connect(database_url)
                    .await?;
                Ok(Database {
                    driver: Driver::Any {
                        readers: pool.clone(),
                        writer: pool,
                    },
                    backend,
                })
            }
        }
    }

    async fn connect_sqlite(
        database_url: &str,
        options: &StoreOptions,
    ) -> Result<Database, StorageError> {
        let path = match crate::at_rest::sqlite_database_file(database_url) {
            Some(crate::at_rest::SqliteLocation::File(path)) => path,
            _ => {
                // Every connection to `:memory:` is its own empty database: keep exactly one
                // (sqlx), for reading and writing alike.
                let busy_ms = options.sqlite_busy_timeout.as_millis();
                let pool = AnyPoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .acquire_timeout(options.acquire_timeout)
                    .test_before_acquire(false)
                    .after_connect(move |connection, _| {
                        Box::pin(async move {
                            connection
                                .execute(
                                    format!(
                                        "PRAGMA busy_timeout = {busy_ms}; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;"
                                    )
                                    .as_str(),
                                )
                                .await?;
                            Ok(())
                        })
                    })
                    .connect(database_url)
                    .await?;
                return Ok(Database {
                    driver: Driver::Any {
                        readers: pool.clone(),
                        writer: pool,
                    },
                    backend: Backend::Sqlite,
                });
            }
        };
        let connections =
            SqliteConnections::open(&path, sqlite_url_creating_file(database_url), options)
                .map_err(StorageError::from)?;
        Ok(Database {
            driver: Driver::Sqlite(connections),
            backend: Backend::Sqlite,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn driver(&self) -> &Driver {
        &self.driver
    }

    /// Where statements that only read go.
    pub(crate) fn readers(&self) -> On<'_> {
        On::Readers(self)
    }

    /// Where statements that write go (on a SQLite file: the one writer connection).
    pub(crate) fn writer(&self) -> On<'_> {
        On::Writer(self)
    }

    /// A transaction on the writer.
    pub(crate) async fn begin(&self) -> Result<Transaction, StorageError> {
        Ok(Transaction::begin(self).await?)
    }

    /// A cheap round trip proving the database answers, reading no table (on a SQLite
    /// file the readers also refuse while its files are gone or unwritable).
    pub async fn ping(&self) -> Result<(), StorageError> {
        query("SELECT 1 AS one").fetch_one(self.readers()).await?;
        Ok(())
    }

    /// Apply every migration of this backend not yet applied (idempotent; concurrent
    /// callers serialize: on PostgreSQL on an advisory lock, on a SQLite file on a lock
    /// file beside it, `migration_lock.rs`).
    pub async fn migrate(&self) -> Result<MigrationReport, StorageError> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        let migration_error = |error: sqlx::migrate::MigrateError| match error {
            sqlx::migrate::MigrateError::Execute(inner) => StorageError::from(inner),
            other => StorageError::Migration(other.to_string()),
        };
        // Taken before anything is read, released when this call returns.
        let _file_lock = match &self.driver {
            Driver::Sqlite(connections) => Some(MigrationLock::acquire(connections.path()).await?),
            Driver::Any { .. } => None,
        };
        let mut held = match &self.driver {
            Driver::Any { writer, .. } => MigrationConnection::Pooled(writer.acquire().await?),
            Driver::Sqlite(connections) => MigrationConnection::Own(
                sqlx::AnyConnection::connect(connections.migration_url()).await?,
            ),
        };
        let connection: &mut sqlx::AnyConnection = match &mut held {
            MigrationConnection::Pooled(pooled) => pooled,
            MigrationConnection::Own(own) => own,
        };
        // Hold the migration lock (a PostgreSQL advisory lock, re-entrant for this session)
        // while reading what was applied, so instances starting together neither race on
        // creating the bookkeeping table nor misreport each other's work.
        let outcome = async {
            connection.lock().await.map_err(migration_error)?;
            connection
                .ensure_migrations_table()
                .await
                .map_err(migration_error)?;
            let before: HashSet<i64> = connection
                .list_applied_migrations()
                .await
                .map_err(migration_error)?
                .into_iter()
                .map(|migration| migration.version)
                .collect();
            migrator
                .run_direct(&mut *connection)
                .await
                .map_err(migration_error)?;
            connection.unlock().await.map_err(migration_error)?;
            Ok::<_, StorageError>(before)
        }
        .await;
        let before = match outcome {
            Ok(before) => before,
            Err(error) => {
                // Closing the connection releases a lock it may still hold.
                if let MigrationConnection::Pooled(mut pooled) = held {
                    pooled.close_on_drop();
                }
                return Err(error);
            }
        };
        let applied = migrator
            .iter()
            .filter(|migration| !before.contains(&migration.version))
            .map(|migration| (migration.version, migration.description.to_string()))
            .collect();
        Ok(MigrationReport {
            backend: self.backend,
            applied,
            already_applied: before.len(),
        })
    }

    /// Close every connection (waits for checked-out connections to come back).
    pub async fn close(&self) {
        match &self.driver {
            Driver::Any { readers, writer } => {
                readers.close().await;
                writer.close().await;
            }
            Driver::Sqlite(connections) => connections.close(),
        }
    }
}

/// The connection migrations run on: the pool's, or one of their own next to rusqlite's.
enum MigrationConnection {
    Pooled(sqlx::pool::PoolConnection<sqlx::Any>),
    Own(sqlx::AnyConnection),
}

/// sqlx opens SQLite files read-write without creating them; `mode=rwc` creates a missing file.
fn sqlite_url_creating_file(database_url: &str) -> String {
    let has_mode = database_url
        .split_once('?')
        .is_some_and(|(_, query)| query.split('&').any(|pair| pair.starts_with("mode=")));
    if has_mode || database_url.contains(":memory:") {
        database_url.to_string()
    } else if database_url.contains('?') {
        format!("{database_url}&mode=rwc")
    } else {
        format!("{database_url}?mode=rwc")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_follows_the_url_scheme() {
        assert_eq!(Backend::from_url("sqlite://x.db").unwrap(), Backend::Sqlite);
        assert_eq!(
            Backend::from_url("postgres://u@h/db").unwrap(),
            Backend::Postgres
        );
        assert_eq!(
            Backend::from_url("postgresql://u@h/db").unwrap(),
            Backend::Postgres
        );
        assert!(Backend::from_url("mysql://u@h/db").is_err());
        assert!(Backend::from_url("wxlogin.db").is_err());
    }

    #[tokio::test]
    async fn on_a_sqlite_file_only_the_writer_writes() {
        use crate::storage::sql::query;
        let dir = std::env::temp_dir().join(format!("wxlogin-db-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("split.db").display());
        let database = Database::connect(&url, &StoreOptions::default())
            .await
            .unwrap();
        query("CREATE TABLE t (n INTEGER)")
            .execute(database.writer())
            .await
            .unwrap();
        // A write sent to the readers would compete with the writer for SQLite's lock.
        let error = query("INSERT INTO t VALUES ($1)")
            .bind(1_i64)
            .execute(database.readers())
            .await
            .unwrap_err();
        let error = StorageError::from(error);
        assert!(error.to_string().contains("readonly"), "{error}");
        query("INSERT INTO t VALUES ($1)")
            .bind(2_i64)
            .execute(database.writer())
            .await
            .unwrap();
        let row = query("SELECT COUNT(*) AS n FROM t")
            .fetch_one(database.readers())
            .await
            .unwrap();
        assert_eq!(row.try_get::<i64>("n").unwrap(), 1);
        database.close().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn committed_rows_reach_the_sqlite_file_without_another_write() {
        use crate::storage::sql::query;
        let dir = std::env::temp_dir().join(format!("wxlogin-db-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("checkpoint.db");
        let database = Database::connect(
            &format!("sqlite://{}", path.display()),
            &StoreOptions::default(),
        )
        .await
        .unwrap();
        query("CREATE TABLE t (n INTEGER)")
            .execute(database.writer())
            .await
            .unwrap();
        for n in 0..50_i64 {
            query("INSERT INTO t VALUES ($1)")
                .bind(n)
                .execute(database.writer())
                .await
                .unwrap();
        }
        // The database file alone, without its WAL, has the rows once the background
        // checkpointer has copied them (nothing else checkpoints: autocheckpoint is off).
        let copy = dir.join("copy.db");
        let mut rows_in_file = 0;
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            std::fs::copy(&path, &copy).unwrap();
            let file_only = rusqlite::Connection::open(&copy).unwrap();
            rows_in_file = file_only
                .query_row("SELECT COUNT(*) FROM t", [], |row| row.get::<_, i64>(0))
                .unwrap_or(0);
            if rows_in_file == 50 {
                break;
            }
        }
        assert_eq!(rows_in_file, 50);
        database.close().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sqlite_urls_get_create_mode_unless_they_choose() {
        assert_eq!(
            sqlite_url_creating_file("sqlite://a.db"),
            "sqlite://a.db?mode=rwc"
        );
        assert_eq!(
            sqlite_url_creating_file("sqlite://a.db?cache=shared"),
            "sqlite://a.db?cache=shared&mode=rwc"
        );
        assert_eq!(
            sqlite_url_creating_file("sqlite://a.db?mode=ro"),
            "sqlite://a.db?mode=ro"
        );
        assert_eq!(
            sqlite_url_creating_file("sqlite::memory:"),
            "sqlite::memory:"
        );
    }
}
