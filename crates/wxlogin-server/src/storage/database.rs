//! The connection pool over SQLite or PostgreSQL, chosen by URL, and the schema migrations.

use std::collections::HashSet;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::migrate::{Migrate, Migrator};
use sqlx::{AnyPool, Executor};

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

/// A connection pool to the server's database. Cheap to clone. `Debug` names only the
/// backend (never the connection string, which may hold a password).
///
/// On a SQLite file, statements that write go through a pool of exactly one connection:
/// SQLite admits one writer at a time anyway, and with several writing connections the
/// losers of each race sleep in SQLite's busy handler (1, 2, 5 … 100 ms between tries),
/// which was most of the latency of a login or a refresh under load (BENCHMARKS.md).
/// Waiting for the one writer is a fair, wake-on-release queue in the pool instead. Readers
/// keep their own connections (WAL mode: they never wait for the writer). On PostgreSQL
/// and in-memory SQLite both are the same pool.
#[derive(Clone)]
pub struct Database {
    readers: AnyPool,
    writer: AnyPool,
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
    /// Open the pools. A SQLite file is created if missing; each SQLite connection runs in
    /// WAL mode with foreign keys on, `synchronous=NORMAL` and the configured busy timeout,
    /// and the reading ones are `query_only`; each PostgreSQL connection gets the configured
    /// `statement_timeout`.
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
                    readers: pool.clone(),
                    writer: pool,
                    backend,
                })
            }
        }
    }

    async fn connect_sqlite(
        database_url: &str,
        options: &StoreOptions,
    ) -> Result<Database, StorageError> {
        let url = sqlite_url_creating_file(database_url);
        let in_memory = matches!(
            crate::at_rest::sqlite_database_file(database_url),
            Some(crate::at_rest::SqliteLocation::Memory)
        );
        if in_memory {
            // Every connection to `:memory:` is its own empty database: keep exactly one,
            // for reading and writing alike.
            let pool = sqlite_pool_options(options, 1, false)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect(&url)
                .await?;
            return Ok(Database {
                readers: pool.clone(),
                writer: pool,
                backend: Backend::Sqlite,
            });
        }
        // The writer first: it creates the file and switches it to WAL mode.
        let writer = sqlite_pool_options(options, 1, false).connect(&url).await?;
        let readers = sqlite_pool_options(options, options.max_connections.max(1), true)
            .connect(&url)
            .await?;
        Ok(Database {
            readers,
            writer,
            backend: Backend::Sqlite,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Connections for statements that only read.
    pub(crate) fn readers(&self) -> &AnyPool {
        &self.readers
    }

    /// The connection(s) for statements that write, and every transaction.
    pub(crate) fn writer(&self) -> &AnyPool {
        &self.writer
    }

    /// Apply every migration of this backend not yet applied (idempotent; on PostgreSQL
    /// concurrent callers serialize on an advisory lock).
    pub async fn migrate(&self) -> Result<MigrationReport, StorageError> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        let migration_error = |error: sqlx::migrate::MigrateError| match error {
            sqlx::migrate::MigrateError::Execute(inner) => StorageError::from(inner),
            other => StorageError::Migration(other.to_string()),
        };
        let mut connection = self.writer.acquire().await?;
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
                connection.close_on_drop();
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
        self.readers.close().await;
        self.writer.close().await;
    }
}

/// Options of a SQLite pool of at most `max_connections`; `read_only` connections refuse
/// to write (`PRAGMA query_only`), so a write sent to the readers fails loudly in tests
/// instead of quietly competing with the writer.
fn sqlite_pool_options(
    options: &StoreOptions,
    max_connections: u32,
    read_only: bool,
) -> AnyPoolOptions {
    let busy_ms = options.sqlite_busy_timeout.as_millis();
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(options.acquire_timeout)
        // A SQLite connection is a file handle in this process, not a socket that can go
        // stale: pinging it before every query only adds a round trip to its worker thread
        // (two context switches per query; see BENCHMARKS.md).
        .test_before_acquire(false)
        .after_connect(move |connection, _| {
            Box::pin(async move {
                connection
                    .execute(
                        format!(
                            "PRAGMA busy_timeout = {busy_ms}; PRAGMA journal_mode = WAL; \
                             PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                             PRAGMA query_only = {read_only};"
                        )
                        .as_str(),
                    )
                    .await?;
                Ok(())
            })
        })
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
        let dir = std::env::temp_dir().join(format!("wxlogin-db-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("split.db").display());
        let database = Database::connect(&url, &StoreOptions::default())
            .await
            .unwrap();
        database
            .writer()
            .execute("CREATE TABLE t (n INTEGER)")
            .await
            .unwrap();
        // A write sent to the readers would compete with the writer for SQLite's lock.
        let error = database
            .readers()
            .execute("INSERT INTO t VALUES (1)")
            .await
            .unwrap_err();
        assert!(error.to_string().contains("readonly"), "{error}");
        database
            .writer()
            .execute("INSERT INTO t VALUES (2)")
            .await
            .unwrap();
        let row = sqlx::query("SELECT COUNT(*) AS n FROM t")
            .fetch_one(database.readers())
            .await
            .unwrap();
        assert_eq!(sqlx::Row::try_get::<i64, _>(&row, "n").unwrap(), 1);
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
