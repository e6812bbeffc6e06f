//! Storage failures, split so the HTTP layer can tell "the database is down or
//! overloaded" (503 `database_unavailable`, retry later) from everything else.

use crate::at_rest::AtRestError;
use crate::domain::InvalidDatabaseUrl;

/// Why a statement failed, as the driver said it: sqlx (PostgreSQL) or rusqlite (SQLite).
/// Converted into [`StorageError`] (transient or not) below.
#[derive(Debug)]
pub(crate) enum SqlError {
    Sqlx(sqlx::Error),
    Sqlite(rusqlite::Error),
    /// No SQLite connection became free within the acquire timeout.
    TimedOut,
    /// A column is missing or holds another type than the store expects.
    Decode(String),
    /// The SQLite checkpointer thread could not be started.
    Thread(std::io::Error),
    /// The SQLite files are gone, replaced or not writable (the reason names the file).
    Unavailable(String),
}

impl From<sqlx::Error> for SqlError {
    fn from(error: sqlx::Error) -> Self {
        SqlError::Sqlx(error)
    }
}

impl From<rusqlite::Error> for SqlError {
    fn from(error: rusqlite::Error) -> Self {
        SqlError::Sqlite(error)
    }
}

/// A storage failure. Messages name the operation and the database's reason, never
/// secrets, connection strings or row contents.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// Pool timed out, connection refused or reset, database locked past the busy
    /// timeout, statement timeout: transient, answer 503 and let the client retry.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database URL is not `sqlite:` or `postgres:`/`postgresql:`, or is malformed.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    /// Applying the schema migrations failed.
    #[error("database migration failed: {0}")]
    Migration(String),
    /// A sealed value did not open: wrong master key, or a row was tampered with.
    #[error(
        "a sealed value in the database could not be opened (wrong master key or tampered row)"
    )]
    Sealed(#[from] AtRestError),
    /// A stored value is not what the schema promises (e.g. a key of the wrong length).
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// Any other database error (constraint violation, SQL error): a real internal fault.
    #[error("database error: {0}")]
    Database(String),
}

impl StorageError {
    /// True for [`StorageError::Unavailable`].
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StorageError::Unavailable(_))
    }
}

/// SQLite result codes (primary code = extended code & 0xff) that mean "try again later".
const SQLITE_BUSY: i64 = 5;
const SQLITE_LOCKED: i64 = 6;
const SQLITE_IOERR: i64 = 10;
const SQLITE_CANTOPEN: i64 = 14;

/// PostgreSQL SQLSTATEs that mean "try again later": connection exceptions (class 08),
/// operator intervention (57P01..57P05: shutdown, cannot connect now), query canceled
/// (57014: statement_timeout), too many connections (53300), insufficient resources
/// (class 53), serialization failure and deadlock (40001, 40P01).
fn is_transient_sqlstate(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || code.starts_with("57P")
        || code == "57014"
        || code == "40001"
        || code == "40P01"
}

/// Whether a SQLite (extended) result code means "try again later".
fn is_transient_sqlite_code(extended_code: i64) -> bool {
    matches!(
        extended_code & 0xff,
        SQLITE_BUSY | SQLITE_LOCKED | SQLITE_IOERR | SQLITE_CANTOPEN
    )
}

/// True when a database error is a unique-constraint violation (SQLite 2067/1555, PostgreSQL 23505).
pub(crate) fn is_unique_violation(error: &SqlError) -> bool {
    match error {
        SqlError::Sqlx(sqlx::Error::Database(database_error)) => {
            database_error.code().as_deref() == Some("23505")
        }
        SqlError::Sqlite(rusqlite::Error::SqliteFailure(failure, _)) => matches!(
            failure.extended_code,
            rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        ),
        _ => false,
    }
}

impl From<SqlError> for StorageError {
    fn from(error: SqlError) -> Self {
        match error {
            SqlError::Sqlx(error) => StorageError::from(error),
            SqlError::Sqlite(error) => StorageError::from(error),
            SqlError::TimedOut => {
                StorageError::Unavailable("timed out waiting for a database connection".into())
            }
            SqlError::Decode(message) => StorageError::Corrupt(message),
            SqlError::Thread(error) => {
                StorageError::Unavailable(format!("cannot start a database thread: {error}"))
            }
            SqlError::Unavailable(reason) => StorageError::Unavailable(reason),
        }
    }
}

impl From<InvalidDatabaseUrl> for StorageError {
    fn from(error: InvalidDatabaseUrl) -> Self {
        StorageError::InvalidUrl(error.to_string())
    }
}

impl From<rusqlite::Error> for StorageError {
    fn from(error: rusqlite::Error) -> Self {
        match &error {
            rusqlite::Error::SqliteFailure(failure, message) => {
                let message = message.clone().unwrap_or_else(|| failure.to_string());
                if is_transient_sqlite_code(i64::from(failure.extended_code)) {
                    StorageError::Unavailable(message)
                } else {
                    StorageError::Database(message)
                }
            }
            other => StorageError::Database(other.to_string()),
        }
    }
}

impl From<sqlx::Error> for StorageError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::PoolTimedOut => {
                StorageError::Unavailable("timed out waiting for a database connection".into())
            }
            sqlx::Error::PoolClosed => StorageError::Unavailable("connection pool closed".into()),
            sqlx::Error::Io(io) => StorageError::Unavailable(format!("I/O: {}", io.kind())),
            sqlx::Error::Tls(_) => {
                StorageError::Unavailable("TLS failure talking to the database".into())
            }
            sqlx::Error::WorkerCrashed => {
                StorageError::Unavailable("database worker crashed".into())
            }
            sqlx::Error::Protocol(message) => {
                StorageError::Unavailable(format!("protocol: {message}"))
            }
            sqlx::Error::Database(database_error) => {
                let message = database_error.message().to_string();
                // sqlx runs PostgreSQL only: the code is a SQLSTATE.
                let transient = database_error
                    .code()
                    .is_some_and(|code| is_transient_sqlstate(&code));
                if transient {
                    StorageError::Unavailable(message)
                } else {
                    StorageError::Database(message)
                }
            }
            sqlx::Error::Configuration(_) => {
                StorageError::InvalidUrl("unusable connection options".into())
            }
            sqlx::Error::Migrate(migrate_error) => {
                StorageError::Migration(migrate_error.to_string())
            }
            other => StorageError::Database(other.to_string()),
        }
    }
}
