//! One way to run a statement, whichever driver holds the database.
//!
//! The store's SQL is written once (with `$1..` placeholders) and runs either through sqlx's
//! PostgreSQL driver or, on SQLite (a file or `:memory:`), through rusqlite in the calling
//! task. The second exists for speed: sqlx runs every SQLite connection on a worker thread
//! and hands each statement there and back, two thread wake-ups per statement, which on
//! this kind of machine cost more CPU than the statements themselves (see BENCHMARKS.md,
//! "Profile"). A SQLite statement on a primary key takes microseconds, so running it in
//! place is cheaper than any hand-off.

use std::sync::Arc;

use sqlx::postgres::{PgArguments, PgPool, PgRow, PgValueRef};
use sqlx::{Postgres, Row as _, TypeInfo as _, ValueRef as _};

use super::error::SqlError;
use super::sqlite::{SqliteConnections, SqliteTransaction};
use super::sqlite_group_commit::BatchMember;
use super::sqlite_memory::SqliteMemory;
use super::Database;

/// A value bound to a placeholder. Nulls keep their type: PostgreSQL needs it.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Integer(i64),
    Text(String),
    Blob(Vec<u8>),
    Null(Kind),
}

/// The column types the store uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Integer,
    Text,
    Blob,
}

/// What `bind` accepts.
pub(crate) trait IntoValue {
    const KIND: Kind;
    fn into_value(self) -> Value;
}

impl IntoValue for i64 {
    const KIND: Kind = Kind::Integer;
    fn into_value(self) -> Value {
        Value::Integer(self)
    }
}

impl IntoValue for &str {
    const KIND: Kind = Kind::Text;
    fn into_value(self) -> Value {
        Value::Text(self.to_string())
    }
}

impl IntoValue for String {
    const KIND: Kind = Kind::Text;
    fn into_value(self) -> Value {
        Value::Text(self)
    }
}

impl IntoValue for &String {
    const KIND: Kind = Kind::Text;
    fn into_value(self) -> Value {
        Value::Text(self.clone())
    }
}

impl IntoValue for Vec<u8> {
    const KIND: Kind = Kind::Blob;
    fn into_value(self) -> Value {
        Value::Blob(self)
    }
}

impl IntoValue for &[u8] {
    const KIND: Kind = Kind::Blob;
    fn into_value(self) -> Value {
        Value::Blob(self.to_vec())
    }
}

impl IntoValue for &Vec<u8> {
    const KIND: Kind = Kind::Blob;
    fn into_value(self) -> Value {
        Value::Blob(self.clone())
    }
}

impl<T: IntoValue> IntoValue for Option<T> {
    const KIND: Kind = T::KIND;
    fn into_value(self) -> Value {
        match self {
            Some(value) => value.into_value(),
            None => Value::Null(T::KIND),
        }
    }
}

/// Where a statement runs.
pub(crate) enum On<'a> {
    Readers(&'a Database),
    Writer(&'a Database),
    Transaction(&'a mut Transaction),
}

impl<'a> On<'a> {
    /// A statement on the writer outside a transaction is a write of its own: counted when
    /// the returned guard drops, after the statement ends (a transaction's statements are
    /// counted once, at its commit).
    fn counts_as_write(&self) -> Option<CountOnDrop<'a>> {
        match self {
            On::Writer(database) => {
                let database: &'a Database = database;
                Some(CountOnDrop(database.writes()))
            }
            On::Readers(_) | On::Transaction(_) => None,
        }
    }
}

/// Counts one finished write when dropped, however the statement ended.
struct CountOnDrop<'a>(&'a WriteCounter);

impl Drop for CountOnDrop<'_> {
    fn drop(&mut self) {
        self.0.count();
    }
}

impl<'a> From<&'a mut Transaction> for On<'a> {
    fn from(transaction: &'a mut Transaction) -> Self {
        On::Transaction(transaction)
    }
}

/// A statement with its bound values.
pub(crate) struct Query<'q> {
    sql: &'q str,
    values: Vec<Value>,
}

/// Start a statement (`$1..` placeholders, bound in order by [`Query::bind`]).
pub(crate) fn query(sql: &str) -> Query<'_> {
    Query {
        sql,
        values: Vec::new(),
    }
}

/// What a statement that returns no rows did.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Done {
    rows_affected: u64,
}

impl Done {
    pub(crate) fn rows_affected(&self) -> u64 {
        self.rows_affected
    }
}

impl<'q> Query<'q> {
    pub(crate) fn bind(mut self, value: impl IntoValue) -> Self {
        self.values.push(value.into_value());
        self
    }

    pub(crate) async fn execute<'a>(self, on: impl Into<On<'a>>) -> Result<Done, SqlError> {
        let on = on.into();
        let _finished = on.counts_as_write();
        match self.route(on).await? {
            Routed::Postgres(executor) => {
                let result = match executor {
                    PostgresExecutor::Pool(pool) => self.into_sqlx().execute(pool).await?,
                    PostgresExecutor::Transaction(transaction) => {
                        self.into_sqlx().execute(&mut **transaction).await?
                    }
                };
                Ok(Done {
                    rows_affected: result.rows_affected(),
                })
            }
            Routed::Sqlite(connection) => {
                let result = connection.with(|connection| self.execute_sqlite(connection));
                let rows_affected = connection.finish(result).await?;
                Ok(Done { rows_affected })
            }
        }
    }

    pub(crate) async fn fetch_all<'a>(self, on: impl Into<On<'a>>) -> Result<Vec<Row>, SqlError> {
        let on = on.into();
        let _finished = on.counts_as_write();
        match self.route(on).await? {
            Routed::Postgres(executor) => {
                let rows = match executor {
                    PostgresExecutor::Pool(pool) => self.into_sqlx().fetch_all(pool).await?,
                    PostgresExecutor::Transaction(transaction) => {
                        self.into_sqlx().fetch_all(&mut **transaction).await?
                    }
                };
                Ok(rows.into_iter().map(Row::Postgres).collect())
            }
            Routed::Sqlite(connection) => {
                let result = connection.with(|connection| self.fetch_sqlite(connection));
                connection.finish(result).await
            }
        }
    }

    pub(crate) async fn fetch_optional<'a>(
        self,
        on: impl Into<On<'a>>,
    ) -> Result<Option<Row>, SqlError> {
        Ok(self.fetch_all(on).await?.into_iter().next())
    }

    pub(crate) async fn fetch_one<'a>(self, on: impl Into<On<'a>>) -> Result<Row, SqlError> {
        self.fetch_optional(on)
            .await?
            .ok_or(SqlError::Sqlx(sqlx::Error::RowNotFound))
    }

    async fn route<'a>(&self, on: On<'a>) -> Result<Routed<'a>, SqlError> {
        Ok(match on {
            On::Readers(database) => match database.driver() {
                Driver::SqliteFile(connections) => {
                    Routed::Sqlite(SqliteHandle::Reader(connections.reader().await?))
                }
                Driver::SqliteMemory(memory) => {
                    Routed::Sqlite(SqliteHandle::Writer(memory.connection().await?))
                }
                Driver::Postgres(pool) => Routed::Postgres(PostgresExecutor::Pool(pool)),
            },
            On::Writer(database) => match database.driver() {
                Driver::SqliteFile(connections) => {
                    Routed::Sqlite(SqliteHandle::Batch(connections.batch_member().await?))
                }
                Driver::SqliteMemory(memory) => {
                    Routed::Sqlite(SqliteHandle::Writer(memory.connection().await?))
                }
                Driver::Postgres(pool) => Routed::Postgres(PostgresExecutor::Pool(pool)),
            },
            On::Transaction(Transaction {
                open: OpenTransaction::Postgres(transaction),
                ..
            }) => Routed::Postgres(PostgresExecutor::Transaction(transaction)),
            On::Transaction(Transaction {
                open: OpenTransaction::Sqlite(transaction),
                ..
            }) => Routed::Sqlite(SqliteHandle::Transaction(transaction)),
        })
    }

    fn into_sqlx(self) -> sqlx::query::Query<'q, Postgres, PgArguments> {
        let mut statement = sqlx::query(self.sql);
        for value in self.values {
            statement = match value {
                Value::Integer(number) => statement.bind(number),
                Value::Text(text) => statement.bind(text),
                Value::Blob(bytes) => statement.bind(bytes),
                Value::Null(Kind::Integer) => statement.bind(None::<i64>),
                Value::Null(Kind::Text) => statement.bind(None::<String>),
                Value::Null(Kind::Blob) => statement.bind(None::<Vec<u8>>),
            };
        }
        statement
    }

    fn prepare<'c>(
        &self,
        connection: &'c rusqlite::Connection,
    ) -> Result<rusqlite::CachedStatement<'c>, SqlError> {
        let mut statement = connection.prepare_cached(self.sql)?;
        // `$N` is a named parameter to SQLite, indexed by first appearance: bind each by
        // the number in its name.
        for index in 1..=statement.parameter_count() {
            let value = statement
                .parameter_name(index)
                .and_then(|name| name.strip_prefix('$')?.parse::<usize>().ok())
                .and_then(|number| self.values.get(number.checked_sub(1)?))
                .ok_or_else(|| {
                    SqlError::Decode(format!("placeholder {index} of a statement has no value"))
                })?;
            match value {
                Value::Integer(number) => statement.raw_bind_parameter(index, number)?,
                Value::Text(text) => statement.raw_bind_parameter(index, text)?,
                Value::Blob(bytes) => statement.raw_bind_parameter(index, bytes)?,
                Value::Null(_) => statement.raw_bind_parameter(index, rusqlite::types::Null)?,
            }
        }
        Ok(statement)
    }

    fn execute_sqlite(&self, connection: &rusqlite::Connection) -> Result<u64, SqlError> {
        let mut statement = self.prepare(connection)?;
        // `raw_query` also runs statements with RETURNING to the end.
        let mut rows = statement.raw_query();
        while rows.next()?.is_some() {}
        drop(rows);
        Ok(connection.changes())
    }

    fn fetch_sqlite(&self, connection: &rusqlite::Connection) -> Result<Vec<Row>, SqlError> {
        let mut statement = self.prepare(connection)?;
        let columns: Arc<[String]> = statement
            .column_names()
            .into_iter()
            .map(str::to_string)
            .collect();
        let mut rows = statement.raw_query();
        let mut fetched = Vec::new();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(columns.len());
            for index in 0..columns.len() {
                values.push(SqliteValue::from(row.get_ref(index)?));
            }
            fetched.push(Row::Sqlite {
                columns: columns.clone(),
                values,
            });
        }
        Ok(fetched)
    }
}

enum PostgresExecutor<'a> {
    Pool(&'a PgPool),
    Transaction(&'a mut sqlx::Transaction<'static, Postgres>),
}

enum Routed<'a> {
    Postgres(PostgresExecutor<'a>),
    Sqlite(SqliteHandle<'a>),
}

/// A SQLite connection held for one statement.
enum SqliteHandle<'a> {
    Reader(super::sqlite::ReaderGuard),
    /// The in-memory database's one connection.
    Writer(tokio::sync::OwnedMutexGuard<rusqlite::Connection>),
    /// A file's writer, in the batch that commits together (`sqlite_group_commit.rs`).
    Batch(BatchMember),
    Transaction(&'a mut SqliteTransaction),
}

impl SqliteHandle<'_> {
    fn with<T>(
        &self,
        run: impl FnOnce(&rusqlite::Connection) -> Result<T, SqlError>,
    ) -> Result<T, SqlError> {
        match self {
            SqliteHandle::Reader(reader) => run(reader.connection()),
            SqliteHandle::Writer(writer) => run(writer),
            SqliteHandle::Batch(member) => run(member.connection()),
            SqliteHandle::Transaction(transaction) => run(transaction.connection()),
        }
    }

    /// The statement's result once it holds: on a file's writer, once its batch committed.
    /// A failed statement left nothing in the batch but may have met other members' writes
    /// (a unique key): it too returns once they committed.
    async fn finish<T>(self, result: Result<T, SqlError>) -> Result<T, SqlError> {
        match (self, result) {
            (SqliteHandle::Batch(member), Ok(value)) => member.finish().await.map(|()| value),
            (SqliteHandle::Batch(member), Err(error)) => {
                let _ = member.leave().await;
                Err(error)
            }
            (_, result) => result,
        }
    }
}

/// The driver behind a [`Database`]: one per database. Cheap to clone (a pool or an `Arc`).
#[derive(Clone)]
pub(crate) enum Driver {
    /// A SQLite file, queried in place (`sqlite.rs`).
    SqliteFile(Arc<SqliteConnections>),
    /// An in-memory SQLite database: one connection for reads and writes (`sqlite_memory.rs`).
    SqliteMemory(Arc<SqliteMemory>),
    /// PostgreSQL: one sqlx pool for reads and writes.
    Postgres(PgPool),
}

/// A transaction on the writer. Dropped without [`Transaction::commit`], it rolls back.
pub(crate) struct Transaction {
    open: OpenTransaction,
    writes: Arc<WriteCounter>,
}

enum OpenTransaction {
    Postgres(sqlx::Transaction<'static, Postgres>),
    Sqlite(SqliteTransaction),
}

impl Transaction {
    pub(crate) async fn begin(database: &Database) -> Result<Transaction, SqlError> {
        let open = match database.driver() {
            Driver::SqliteFile(connections) => OpenTransaction::Sqlite(
                SqliteTransaction::begin_in_batch(connections.batch_member().await?)?,
            ),
            Driver::SqliteMemory(memory) => {
                OpenTransaction::Sqlite(SqliteTransaction::begin_alone(memory.connection().await?)?)
            }
            Driver::Postgres(pool) => OpenTransaction::Postgres(pool.begin().await?),
        };
        Ok(Transaction {
            open,
            writes: database.writes().clone(),
        })
    }

    pub(crate) async fn commit(self) -> Result<(), SqlError> {
        let committed = match self.open {
            OpenTransaction::Postgres(transaction) => Ok(transaction.commit().await?),
            OpenTransaction::Sqlite(transaction) => transaction.commit().await,
        };
        // Counted even when the commit reported an error: it may have committed anyway.
        self.writes.count();
        committed
    }

    pub(crate) async fn rollback(self) -> Result<(), SqlError> {
        match self.open {
            OpenTransaction::Postgres(transaction) => Ok(transaction.rollback().await?),
            OpenTransaction::Sqlite(transaction) => transaction.rollback().await,
        }
    }
}

/// How many writes this process has finished on a database, so that what remembers the
/// database's contents in memory can tell whether anything was written since it last
/// looked ([`Database::commit_mark`], used by the session cache). A write is counted once
/// it has committed (or failed), never before.
#[derive(Debug, Default)]
pub(crate) struct WriteCounter {
    finished: std::sync::atomic::AtomicU64,
}

impl WriteCounter {
    pub(crate) fn count(&self) {
        self.finished
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// Writes finished so far.
    pub(crate) fn finished(&self) -> u64 {
        self.finished.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// A value read from SQLite, owned.
#[derive(Debug, Clone)]
pub(crate) enum SqliteValue {
    Null,
    Integer(i64),
    /// The store has no floating-point column: never decoded.
    Real,
    Text(String),
    Blob(Vec<u8>),
}

impl From<rusqlite::types::ValueRef<'_>> for SqliteValue {
    fn from(value: rusqlite::types::ValueRef<'_>) -> Self {
        use rusqlite::types::ValueRef;
        match value {
            ValueRef::Null => SqliteValue::Null,
            ValueRef::Integer(number) => SqliteValue::Integer(number),
            ValueRef::Real(_) => SqliteValue::Real,
            ValueRef::Text(text) => SqliteValue::Text(String::from_utf8_lossy(text).into_owned()),
            ValueRef::Blob(bytes) => SqliteValue::Blob(bytes.to_vec()),
        }
    }
}

/// A row of either driver.
pub(crate) enum Row {
    Postgres(PgRow),
    Sqlite {
        columns: Arc<[String]>,
        values: Vec<SqliteValue>,
    },
}

impl Row {
    pub(crate) fn try_get<T: FromColumn>(&self, column: &str) -> Result<T, SqlError> {
        match self {
            Row::Postgres(row) => Ok(T::from_postgres(row, column)?),
            Row::Sqlite { columns, values } => {
                let index = columns
                    .iter()
                    .position(|name| name == column)
                    .ok_or_else(|| SqlError::Decode(format!("no column {column}")))?;
                T::from_sqlite(&values[index])
                    .ok_or_else(|| SqlError::Decode(format!("column {column} has another type")))
            }
        }
    }
}

/// The Rust types the store reads columns as.
pub(crate) trait FromColumn: Sized {
    fn from_sqlite(value: &SqliteValue) -> Option<Self>;
    fn from_postgres(row: &PgRow, column: &str) -> Result<Self, sqlx::Error>;
}

impl FromColumn for i64 {
    fn from_sqlite(value: &SqliteValue) -> Option<Self> {
        match value {
            SqliteValue::Integer(number) => Some(*number),
            _ => None,
        }
    }

    /// Any integer column: a literal or an `INTEGER` column is an `int4` to PostgreSQL.
    fn from_postgres(row: &PgRow, column: &str) -> Result<Self, sqlx::Error> {
        let value: PgValueRef<'_> = row.try_get_raw(column)?;
        match value.type_info().name() {
            "INT4" => row.try_get::<i32, _>(column).map(i64::from),
            "INT2" => row.try_get::<i16, _>(column).map(i64::from),
            _ => row.try_get::<i64, _>(column),
        }
    }
}

impl FromColumn for String {
    fn from_sqlite(value: &SqliteValue) -> Option<Self> {
        match value {
            SqliteValue::Text(text) => Some(text.clone()),
            _ => None,
        }
    }

    fn from_postgres(row: &PgRow, column: &str) -> Result<Self, sqlx::Error> {
        row.try_get(column)
    }
}

impl FromColumn for Vec<u8> {
    fn from_sqlite(value: &SqliteValue) -> Option<Self> {
        match value {
            SqliteValue::Blob(bytes) => Some(bytes.clone()),
            _ => None,
        }
    }

    fn from_postgres(row: &PgRow, column: &str) -> Result<Self, sqlx::Error> {
        row.try_get(column)
    }
}

impl<T: FromColumn> FromColumn for Option<T> {
    fn from_sqlite(value: &SqliteValue) -> Option<Self> {
        match value {
            SqliteValue::Null => Some(None),
            other => T::from_sqlite(other).map(Some),
        }
    }

    fn from_postgres(row: &PgRow, column: &str) -> Result<Self, sqlx::Error> {
        if row.try_get_raw(column)?.is_null() {
            return Ok(None);
        }
        T::from_postgres(row, column).map(Some)
    }
}
