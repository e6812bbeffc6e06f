//! The storage layer: one API over SQLite and PostgreSQL.
//!
//! [`Database`] holds the connections and the schema ([`Database::migrate`]); [`Store`] adds
//! the master key and offers the domain operations the server needs: users and their
//! per-app identities, sealed session keys, login-code claims, sessions and refresh
//! tokens, signing keys and the shared upstream access-token cache. Every operation that
//! must hold across several server instances is a single conditional statement or a
//! short transaction in the database, never a process-local lock.
//!
//! SQL is written once with `$1..` placeholders (both SQLite and PostgreSQL accept them),
//! timestamps are unix seconds, ids are UUID text. `sql.rs` runs it with one driver per
//! database: sqlx's on PostgreSQL, rusqlite's in the calling task on SQLite (a file,
//! `sqlite.rs`: one writer, `query_only` readers, a background checkpointer; or
//! `:memory:`, `sqlite_memory.rs`: one connection). The URL says which ([`DatabaseUrl`]).

mod access_tokens;
mod admin_keys;
mod console;
mod database;
mod error;
mod events;
mod id_values;
mod login_codes;
mod master_key_rotation;
mod migration_lock;
mod migrations;
mod phone_numbers;
mod session_keys;
mod sessions;
mod signing_keys;
mod sql;
mod sqlite;
mod sqlite_files;
mod sqlite_group_commit;
mod sqlite_memory;
mod sqlite_wal_index;
#[cfg(test)]
mod test_dir;
mod user_admin;
mod user_changes;
mod users;
mod webhooks;

use std::sync::Arc;

use crate::master_keys::MasterKeys;

pub use access_tokens::{CachedAccessToken, DatabaseAccessTokenStore};
pub use admin_keys::{AdminKeyRecord, CreateAdminKeyError};
pub use console::{ConsoleSessionRecord, MinuteCount};
pub use database::{CommitMark, Database, MigrationReport, StoreOptions};
// Parsed with the other values from outside (`domain`), and named here too, where they
// are used.
pub use crate::domain::{Backend, DatabaseUrl, InvalidDatabaseUrl, PostgresUrl};
pub use error::StorageError;
pub use events::{Actor, AuditEntry, EventRecord, EventType, RevocationReason};
pub use login_codes::{hash_login_code, CodeClaim, CodeExchange, FinishedExchange, LoginKind};
pub use master_key_rotation::{
    PendingBatch, ResealOptions, ResealProgress, ResealReport, SealedCount, SealedTable,
};
pub use session_keys::session_key_binding;
pub use sessions::{ExchangeSession, NewSession, PurgeReport, RefreshRotation, SessionRecord};
pub use signing_keys::{NewSigningKey, StoredSigningKey};
pub use user_admin::{IdentityRecord, UserCursor};
pub use user_changes::{Announced, CaughtUp, UserChangeFeed, UserChanges};
pub use users::{rfc3339, User, UserRecord};
pub use webhooks::{
    AttemptOutcome, DeliveryCounts, DeliveryRecord, DeliveryStatus, LeasedDelivery, Subscription,
    DELIVERY_RETRY_PERIOD_SECS,
};

/// Unix time in whole seconds.
pub type UnixSeconds = i64;

/// The current unix time in seconds.
pub fn unix_now() -> UnixSeconds {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0)
}

/// The domain store: a [`Database`] plus the master keys that seal secrets at rest.
/// Cheap to clone (shares one pool).
#[derive(Clone)]
pub struct Store {
    database: Database,
    master_keys: Arc<MasterKeys>,
    /// The phone numbers' blind-index key, read once (`phone_numbers.rs`).
    phone_index_key: Arc<tokio::sync::OnceCell<zeroize::Zeroizing<[u8; 32]>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.database.backend())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// `master_keys`: one [`crate::at_rest::MasterKey`], or [`MasterKeys`] with previous
    /// keys still accepted for opening (during a master-key roll).
    pub fn new(database: Database, master_keys: impl Into<MasterKeys>) -> Self {
        Store {
            database,
            master_keys: Arc::new(master_keys.into()),
            phone_index_key: Arc::default(),
        }
    }

    /// Connect to the database a URL names: [`Store::open`] after [`DatabaseUrl::parse`].
    pub async fn connect(
        database_url: &str,
        options: &StoreOptions,
        master_keys: impl Into<MasterKeys>,
    ) -> Result<Self, StorageError> {
        Self::open(&DatabaseUrl::parse(database_url)?, options, master_keys).await
    }

    /// Open the database (creating a SQLite file if missing); does not migrate: call
    /// [`Store::migrate`].
    pub async fn open(
        database_url: &DatabaseUrl,
        options: &StoreOptions,
        master_keys: impl Into<MasterKeys>,
    ) -> Result<Self, StorageError> {
        Ok(Store::new(
            Database::open(database_url, options).await?,
            master_keys,
        ))
    }

    /// Apply pending migrations (see [`Database::migrate`]), then seal the phone numbers
    /// still stored in clear (the data half of migration 0006, which needs the master key).
    pub async fn migrate(&self) -> Result<MigrationReport, StorageError> {
        let report = self.database.migrate().await?;
        let sealed = self.seal_clear_phone_numbers().await?;
        if sealed > 0 {
            tracing::info!(sealed, "sealed phone numbers stored in clear");
            // Old WAL frames still hold the pages as they were: empty the WAL.
            self.database.empty_sqlite_wal().await?;
        }
        Ok(report)
    }

    pub fn database(&self) -> &Database {
        &self.database
    }

    pub fn backend(&self) -> Backend {
        self.database.backend()
    }

    /// Where statements that only read go.
    pub(crate) fn readers(&self) -> sql::On<'_> {
        self.database.readers()
    }

    /// Where every write goes (on a SQLite file: the one writer connection).
    pub(crate) fn writer(&self) -> sql::On<'_> {
        self.database.writer()
    }

    /// A transaction on the writer.
    pub(crate) async fn begin(&self) -> Result<sql::Transaction, StorageError> {
        self.database.begin().await
    }

    /// The key that seals, and those that still open.
    pub fn master_keys(&self) -> &MasterKeys {
        &self.master_keys
    }
}
