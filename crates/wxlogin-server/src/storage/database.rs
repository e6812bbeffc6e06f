//! The database's connections, one driver per database (chosen by its [`DatabaseUrl`]),
//! and the schema migrations (`migrations.rs`).

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::Executor;

use super::migration_lock::MigrationLock;
use super::migrations;
use super::sql::{query, Driver, On, Transaction, WriteCounter};
use super::sqlite::SqliteConnections;
use super::sqlite_memory::SqliteMemory;
use super::StorageError;
use crate::domain::{Backend, DatabaseUrl};

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

/// What [`Database::commit_mark`] returns: equal marks mean nothing committed between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitMark {
    /// This process's finished writes.
    pub writes: u64,
    /// The SQLite wal-index header's change counter and last frame (0 elsewhere).
    pub published: u64,
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
/// `query_only` readers (`sqlite.rs` says why); an in-memory SQLite database is one
/// rusqlite connection for both (`sqlite_memory.rs`); PostgreSQL is one sqlx pool for both.
#[derive(Clone)]
pub struct Database {
    driver: Driver,
    backend: Backend,
    writes: std::sync::Arc<WriteCounter>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Database {
    /// [`Database::open`] the database a URL names ([`StorageError::InvalidUrl`] for a
    /// scheme other than `sqlite:` or `postgres:`/`postgresql:`).
    pub async fn connect(
        database_url: &str,
        options: &StoreOptions,
    ) -> Result<Database, StorageError> {
        Self::open(&DatabaseUrl::parse(database_url)?, options).await
    }

    /// Open the database. A SQLite file is created if missing; each SQLite connection runs
    /// with foreign keys on and the configured busy timeout (on a file also in WAL mode with
    /// `synchronous=NORMAL`); each PostgreSQL connection gets the configured
    /// `statement_timeout`.
    pub async fn open(
        database_url: &DatabaseUrl,
        options: &StoreOptions,
    ) -> Result<Database, StorageError> {
        let driver = match database_url {
            DatabaseUrl::SqliteFile(path) => {
                // Opening sets WAL mode, which a new file switches to under an exclusive
                // lock that SQLite does not wait for: processes opening one new file at once
                // (several `wxlogin migrate` runs, instances starting together) take turns.
                let _opening = MigrationLock::acquire(path).await?;
                Driver::SqliteFile(
                    SqliteConnections::open(path, options).map_err(StorageError::from)?,
                )
            }
            DatabaseUrl::SqliteMemory => Driver::SqliteMemory(std::sync::Arc::new(
                SqliteMemory::open(options).map_err(StorageError::from)?,
            )),
            DatabaseUrl::Postgres(url) => {
                let timeout_ms = options.statement_timeout.as_millis();
                let pool = PgPoolOptions::new()
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
                    .connect(url.expose())
                    .await?;
                Driver::Postgres(pool)
            }
        };
        Ok(Database {
            driver,
            backend: database_url.backend(),
            writes: Default::default(),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn driver(&self) -> &Driver {
        &self.driver
    }

    /// The writes this process has finished on this database.
    pub(crate) fn writes(&self) -> &std::sync::Arc<WriteCounter> {
        &self.writes
    }

    /// A mark that changes whenever a transaction commits: on a SQLite file, by any
    /// connection of any process (its wal-index header); otherwise by this process. `None`
    /// when it cannot be told now (a commit is being published). Cheap: memory reads.
    pub fn commit_mark(&self) -> Option<CommitMark> {
        let writes = self.writes.finished();
        let published = match &self.driver {
            Driver::SqliteFile(connections) => connections.wal_commit_mark()?,
            Driver::SqliteMemory(_) | Driver::Postgres(_) => 0,
        };
        Some(CommitMark { writes, published })
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
        let applied = migrations::apply(&self.driver).await?;
        Ok(MigrationReport {
            backend: self.backend,
            applied: applied.applied,
            already_applied: applied.already_applied,
        })
    }

    /// Copy a SQLite WAL into the database file and empty it, so that no old frame keeps a
    /// page as it was before an overwrite. Outside any batch: a checkpoint cannot run in a
    /// transaction. Nothing to do elsewhere.
    pub(crate) async fn empty_sqlite_wal(&self) -> Result<(), StorageError> {
        if let Driver::SqliteFile(connections) = &self.driver {
            let writer = connections.exclusive_writer().await?;
            writer
                .connection()
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(StorageError::from)?;
        }
        Ok(())
    }

    /// Close every connection (waits for checked-out connections to come back).
    pub async fn close(&self) {
        match &self.driver {
            Driver::SqliteFile(connections) => connections.close(),
            Driver::SqliteMemory(memory) => memory.close().await,
            Driver::Postgres(pool) => pool.close().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    async fn an_in_memory_database_reads_what_it_wrote_until_closed() {
        use crate::storage::sql::query;
        let database = Database::connect("sqlite::memory:", &StoreOptions::default())
            .await
            .unwrap();
        query("CREATE TABLE t (n INTEGER)")
            .execute(database.writer())
            .await
            .unwrap();
        // Another connection to `:memory:` would be another, empty database.
        query("INSERT INTO t VALUES ($1)")
            .bind(7_i64)
            .execute(database.readers())
            .await
            .unwrap();
        let mut transaction = database.begin().await.unwrap();
        query("INSERT INTO t VALUES ($1)")
            .bind(8_i64)
            .execute(&mut transaction)
            .await
            .unwrap();
        transaction.commit().await.unwrap();
        let row = query("SELECT SUM(n) AS n FROM t")
            .fetch_one(database.readers())
            .await
            .unwrap();
        assert_eq!(row.try_get::<i64>("n").unwrap(), 15);
        database.close().await;
        let error = StorageError::from(
            query("SELECT 1 AS one")
                .execute(database.readers())
                .await
                .unwrap_err(),
        );
        assert!(error.is_unavailable(), "{error}");
    }

    /// sqlx's `Any` driver, which ran PostgreSQL before, read every integer width as an
    /// `i64`; PostgreSQL types `1` and an `integer` column `int4`.
    #[tokio::test]
    async fn postgres_integers_of_every_width_read_as_i64() {
        use crate::storage::sql::query;
        let Some(url) = std::env::var("WXLOGIN_TEST_POSTGRES_URL")
            .ok()
            .filter(|url| !url.is_empty())
        else {
            return;
        };
        let database = Database::connect(&url, &StoreOptions::default())
            .await
            .unwrap();
        let row = query("SELECT 1::int2 AS a, 2 AS b, 3::int8 AS c, NULL::int4 AS d, 'x' AS e")
            .fetch_one(database.readers())
            .await
            .unwrap();
        assert_eq!(row.try_get::<i64>("a").unwrap(), 1);
        assert_eq!(row.try_get::<i64>("b").unwrap(), 2);
        assert_eq!(row.try_get::<Option<i64>>("c").unwrap(), Some(3));
        assert_eq!(row.try_get::<Option<i64>>("d").unwrap(), None);
        assert!(row.try_get::<i64>("e").is_err());
        assert!(row.try_get::<i64>("missing").is_err());
        database.close().await;
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
}
