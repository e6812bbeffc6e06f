//! The schema migrations of each backend, and how they are applied.
//!
//! The migration files are embedded by sqlx's `migrate!` (version, description, SQL and a
//! checksum each), and what was applied is recorded in sqlx's `_sqlx_migrations` table, as
//! it always was. PostgreSQL runs them with sqlx's migrator on one of its pooled connections
//! (under its advisory lock). SQLite has no sqlx driver here (every SQLite database is
//! rusqlite's), so its migrations are applied on the rusqlite connection that writes,
//! keeping sqlx's bookkeeping statement for statement (sqlx 0.8's SQLite `Migrate`): the
//! same table, rows, checksums and refusals (a dirty, missing or modified migration), so a
//! database migrated by either reads the same to the other.

use std::collections::HashSet;

use sqlx::migrate::{MigrateError, Migration, Migrator};

use super::error::SqlError;
use super::migration_lock::MigrationLock;
use super::sql::Driver;
use super::StorageError;

pub(crate) static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// What one run applied.
pub(crate) struct Applied {
    /// (version, description) of each migration this run applied.
    pub(crate) applied: Vec<(i64, String)>,
    /// How many were in place before.
    pub(crate) already_applied: usize,
}

/// Apply every migration not yet applied (see `Database::migrate`).
pub(crate) async fn apply(driver: &Driver) -> Result<Applied, StorageError> {
    let (migrator, before) = match driver {
        Driver::SqliteFile(connections) => {
            // Taken before anything is read, released when this call returns.
            let _file_lock = MigrationLock::acquire(connections.path()).await?;
            let writer = connections
                .exclusive_writer()
                .await
                .map_err(StorageError::from)?;
            (
                &SQLITE_MIGRATIONS,
                apply_sqlite(writer.connection(), &SQLITE_MIGRATIONS)?,
            )
        }
        Driver::SqliteMemory(memory) => {
            let connection = memory.connection().await.map_err(StorageError::from)?;
            (
                &SQLITE_MIGRATIONS,
                apply_sqlite(&connection, &SQLITE_MIGRATIONS)?,
            )
        }
        Driver::Postgres(pool) => (&POSTGRES_MIGRATIONS, apply_postgres(pool).await?),
    };
    let applied = migrator
        .iter()
        .filter(|migration| !before.contains(&migration.version))
        .map(|migration| (migration.version, migration.description.to_string()))
        .collect();
    Ok(Applied {
        applied,
        already_applied: before.len(),
    })
}

/// sqlx's migrator on a pooled connection; returns the versions applied before.
async fn apply_postgres(pool: &sqlx::PgPool) -> Result<HashSet<i64>, StorageError> {
    use sqlx::migrate::Migrate;
    let migration_error = |error: MigrateError| match error {
        MigrateError::Execute(inner) => StorageError::from(inner),
        other => StorageError::Migration(other.to_string()),
    };
    let mut connection = pool.acquire().await?;
    // Hold the migration lock (an advisory lock, re-entrant for this session) while reading
    // what was applied, so instances starting together neither race on creating the
    // bookkeeping table nor misreport each other's work.
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
        POSTGRES_MIGRATIONS
            .run_direct(&mut *connection)
            .await
            .map_err(migration_error)?;
        connection.unlock().await.map_err(migration_error)?;
        Ok::<_, StorageError>(before)
    }
    .await;
    if outcome.is_err() {
        // Closing the connection releases a lock it may still hold.
        connection.close_on_drop();
    }
    outcome
}

/// sqlx's bookkeeping table, as sqlx creates it on SQLite.
const SQLITE_MIGRATIONS_TABLE: &str = r#"
CREATE TABLE IF NOT EXISTS _sqlx_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    success BOOLEAN NOT NULL,
    checksum BLOB NOT NULL,
    execution_time BIGINT NOT NULL
);
"#;

/// What sqlx's `Migrator::run_direct` does on SQLite, on a rusqlite connection that no one
/// else writes through meanwhile (the writer, held; on a file also under the lock file).
/// Returns the versions applied before.
pub(crate) fn apply_sqlite(
    connection: &rusqlite::Connection,
    migrator: &Migrator,
) -> Result<HashSet<i64>, StorageError> {
    let refused = |error: MigrateError| StorageError::Migration(error.to_string());
    connection.execute_batch(SQLITE_MIGRATIONS_TABLE)?;
    let dirty: Option<i64> = connection
        .prepare(
            "SELECT version FROM _sqlx_migrations WHERE success = false ORDER BY version LIMIT 1",
        )?
        .query_map([], |row| row.get(0))?
        .next()
        .transpose()?;
    if let Some(version) = dirty {
        return Err(refused(MigrateError::Dirty(version)));
    }
    let applied: Vec<(i64, Vec<u8>)> = connection
        .prepare("SELECT version, checksum FROM _sqlx_migrations ORDER BY version")?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let known: HashSet<i64> = migrator.iter().map(|migration| migration.version).collect();
    if !migrator.ignore_missing {
        if let Some((version, _)) = applied.iter().find(|(version, _)| !known.contains(version)) {
            return Err(refused(MigrateError::VersionMissing(*version)));
        }
    }
    for migration in migrator.iter() {
        if migration.migration_type.is_down_migration() {
            continue;
        }
        match applied
            .iter()
            .find(|(version, _)| *version == migration.version)
        {
            Some((_, checksum)) if checksum[..] != migration.checksum[..] => {
                return Err(refused(MigrateError::VersionMismatch(migration.version)));
            }
            Some(_) => {}
            None => apply_one_sqlite(connection, migration)?,
        }
    }
    Ok(applied.into_iter().map(|(version, _)| version).collect())
}

/// One migration and its bookkeeping row in one transaction, so it never runs twice; the
/// execution time is filled in after, as sqlx does (it only informs).
fn apply_one_sqlite(
    connection: &rusqlite::Connection,
    migration: &Migration,
) -> Result<(), StorageError> {
    let started = std::time::Instant::now();
    connection.execute_batch("BEGIN IMMEDIATE")?;
    let outcome = (|| {
        connection.execute_batch(&migration.sql).map_err(|error| {
            StorageError::Migration(format!(
                "while executing migration {}: {}",
                migration.version,
                StorageError::from(SqlError::from(error))
            ))
        })?;
        connection.execute(
            "INSERT INTO _sqlx_migrations ( version, description, success, checksum, execution_time ) \
             VALUES ( ?1, ?2, TRUE, ?3, -1 )",
            rusqlite::params![
                migration.version,
                &*migration.description,
                &*migration.checksum
            ],
        )?;
        connection.execute_batch("COMMIT")?;
        Ok::<_, StorageError>(())
    })();
    if let Err(error) = outcome {
        if !connection.is_autocommit() {
            let _ = connection.execute_batch("ROLLBACK");
        }
        return Err(error);
    }
    connection.execute(
        "UPDATE _sqlx_migrations SET execution_time = ?1 WHERE version = ?2",
        rusqlite::params![started.elapsed().as_nanos() as i64, migration.version],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The bookkeeping checked against sqlx's own SQLite migrator (a dev-dependency only),
    //! which created every SQLite database before this file applied them.
    use std::borrow::Cow;
    use std::path::Path;

    use sqlx::{Connection, Row as _};

    use super::*;
    use crate::storage::{Database, StoreOptions};

    use crate::storage::test_dir::TestDir;

    /// The first `count` SQLite migrations, as a migrator of their own.
    fn first_migrations(count: usize) -> Migrator {
        Migrator {
            migrations: Cow::Owned(SQLITE_MIGRATIONS.migrations[..count].to_vec()),
            ..Migrator::DEFAULT
        }
    }

    async fn migrate_with_sqlx(path: &Path, migrator: &Migrator) -> Result<(), MigrateError> {
        let mut connection =
            sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", path.display()))
                .await?;
        let outcome = migrator.run(&mut connection).await;
        connection.close().await?;
        outcome
    }

    async fn migrate_here(path: &Path) -> Result<crate::storage::MigrationReport, StorageError> {
        let database = Database::connect(
            &format!("sqlite://{}", path.display()),
            &StoreOptions::default(),
        )
        .await?;
        let report = database.migrate().await;
        database.close().await;
        report
    }

    /// What sqlx reads back: (version, description, success, checksum) per row.
    async fn bookkeeping(path: &Path) -> Vec<(i64, String, bool, Vec<u8>)> {
        let mut connection =
            sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                .await
                .unwrap();
        let rows = sqlx::query(
            "SELECT version, description, success, checksum FROM _sqlx_migrations ORDER BY version",
        )
        .fetch_all(&mut connection)
        .await
        .unwrap();
        rows.iter()
            .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
            .collect()
    }

    async fn schema(path: &Path) -> Vec<(String, String, Option<String>)> {
        let mut connection =
            sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                .await
                .unwrap();
        sqlx::query_as("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")
            .fetch_all(&mut connection)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn the_bookkeeping_and_schema_are_those_sqlx_makes() {
        let dir = TestDir::new("migrations");
        let by_sqlx = dir.file("sqlx.db");
        let here = dir.file("here.db");
        migrate_with_sqlx(&by_sqlx, &SQLITE_MIGRATIONS)
            .await
            .unwrap();
        let report = migrate_here(&here).await.unwrap();
        assert_eq!(report.applied.len(), SQLITE_MIGRATIONS.iter().count());
        let rows = bookkeeping(&here).await;
        assert_eq!(rows, bookkeeping(&by_sqlx).await);
        assert!(rows.iter().all(|(_, _, success, _)| *success));
        assert_eq!(schema(&here).await, schema(&by_sqlx).await);
    }

    #[tokio::test]
    async fn a_database_sqlx_began_is_finished_here_and_sqlx_accepts_the_result() {
        let dir = TestDir::new("migrations");
        let path = dir.file("half.db");
        migrate_with_sqlx(&path, &first_migrations(5))
            .await
            .unwrap();
        let report = migrate_here(&path).await.unwrap();
        assert_eq!(report.already_applied, 5);
        let versions: Vec<i64> = report.applied.iter().map(|(version, _)| *version).collect();
        let rest: Vec<i64> = SQLITE_MIGRATIONS
            .iter()
            .skip(5)
            .map(|m| m.version)
            .collect();
        assert_eq!(versions, rest);
        // sqlx finds every checksum as it expects and nothing left to apply.
        migrate_with_sqlx(&path, &SQLITE_MIGRATIONS).await.unwrap();
        let again = migrate_here(&path).await.unwrap();
        assert!(again.applied.is_empty());
        assert_eq!(again.already_applied, SQLITE_MIGRATIONS.iter().count());
    }

    #[tokio::test]
    async fn a_database_migrated_here_is_up_to_date_for_sqlx() {
        let dir = TestDir::new("migrations");
        let path = dir.file("here.db");
        migrate_here(&path).await.unwrap();
        migrate_with_sqlx(&path, &SQLITE_MIGRATIONS).await.unwrap();
        assert_eq!(
            bookkeeping(&path).await.len(),
            SQLITE_MIGRATIONS.iter().count()
        );
    }

    /// Tampered bookkeeping is refused here with sqlx's own words.
    #[tokio::test]
    async fn modified_dirty_and_unknown_migrations_are_refused_as_sqlx_refuses_them() {
        for tamper in [
            "UPDATE _sqlx_migrations SET checksum = x'00' WHERE version = 2",
            "UPDATE _sqlx_migrations SET success = false WHERE version = 3",
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (9999, 'from the future', TRUE, x'00', 0)",
        ] {
            let dir = TestDir::new("migrations");
            let path = dir.file("tampered.db");
            migrate_here(&path).await.unwrap();
            let connection = rusqlite::Connection::open(&path).unwrap();
            connection.execute_batch(tamper).unwrap();
            drop(connection);
            let sqlx_says = migrate_with_sqlx(&path, &SQLITE_MIGRATIONS)
                .await
                .unwrap_err()
                .to_string();
            let error = migrate_here(&path).await.unwrap_err();
            assert!(
                matches!(&error, StorageError::Migration(message) if *message == sqlx_says),
                "{tamper}: {error} / {sqlx_says}"
            );
        }
    }

    #[tokio::test]
    async fn an_in_memory_database_migrates_on_its_one_connection() {
        let database = Database::connect("sqlite::memory:", &StoreOptions::default())
            .await
            .unwrap();
        let first = database.migrate().await.unwrap();
        assert_eq!(first.applied.len(), SQLITE_MIGRATIONS.iter().count());
        let second = database.migrate().await.unwrap();
        assert!(second.applied.is_empty());
        assert_eq!(second.already_applied, first.applied.len());
    }
}
