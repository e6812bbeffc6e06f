//! Re-sealing every sealed value under the current master key, for `wxlogin master-key
//! rotate`, while servers keep running on the same database.
//!
//! Resumable by construction: each batch selects values whose stored key id is not the
//! current key's, so a run stopped anywhere (crash, `--limit`) is continued by running it
//! again. Each value is replaced with a compare-and-swap on the exact ciphertext read, so
//! a server that rewrote the value meanwhile (already under the current key, since the
//! servers run with it by then) wins, and a batch is one short write transaction.

use super::phone_numbers::{phone_binding, server_secret_binding};
use std::collections::BTreeMap;

use super::access_tokens::access_token_binding;
use super::session_keys::session_key_binding;
use super::signing_keys::signing_key_binding;
use super::sql::{query, Row};
use super::{StorageError, Store};
use crate::domain::{AppId, OpenId, UserId};

/// A table that holds values sealed under the master key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SealedTable {
    SessionKeys,
    AccessTokens,
    SigningKeys,
    /// Users' phone numbers.
    Users,
    /// The phone numbers' blind-index key.
    ServerSecrets,
}

impl SealedTable {
    pub const ALL: [SealedTable; 5] = [
        SealedTable::SessionKeys,
        SealedTable::AccessTokens,
        SealedTable::SigningKeys,
        SealedTable::Users,
        SealedTable::ServerSecrets,
    ];

    /// The table's name in the schema.
    pub fn name(self) -> &'static str {
        match self {
            SealedTable::SessionKeys => "session_keys",
            SealedTable::AccessTokens => "access_tokens",
            SealedTable::SigningKeys => "signing_keys",
            SealedTable::Users => "users",
            SealedTable::ServerSecrets => "server_secrets",
        }
    }

    fn sealed_column(self) -> &'static str {
        match self {
            SealedTable::SessionKeys => "sealed",
            SealedTable::AccessTokens => "sealed_token",
            SealedTable::SigningKeys => "sealed_private",
            SealedTable::Users => "phone_sealed",
            SealedTable::ServerSecrets => "sealed_value",
        }
    }

    /// The primary key, in the order rows are walked.
    fn key_columns(self) -> &'static [&'static str] {
        match self {
            SealedTable::SessionKeys => &["appid", "openid"],
            SealedTable::AccessTokens => &["appid"],
            SealedTable::SigningKeys => &["kid"],
            SealedTable::Users => &["id"],
            SealedTable::ServerSecrets => &["name"],
        }
    }

    /// The associated data the row's value was sealed with (see each storage module).
    fn binding(self, key: &[String]) -> Vec<u8> {
        match self {
            SealedTable::SessionKeys => session_key_binding(
                &AppId::configured(key[0].as_str()),
                &OpenId::new(key[1].as_str()),
            ),
            SealedTable::AccessTokens => access_token_binding(&AppId::configured(key[0].as_str())),
            SealedTable::SigningKeys => signing_key_binding(&key[0]),
            SealedTable::Users => phone_binding(&UserId::new(key[0].as_str())),
            SealedTable::ServerSecrets => server_secret_binding(&key[0]),
        }
    }

    /// `(a, b) > ($2, $3)`: rows after the last one of the previous batch.
    fn after_condition(self, first_placeholder: usize) -> String {
        let columns = self.key_columns();
        let placeholders: Vec<String> = (0..columns.len())
            .map(|index| format!("${}", first_placeholder + index))
            .collect();
        format!("({}) > ({})", columns.join(", "), placeholders.join(", "))
    }

    fn key_match(self, first_placeholder: usize) -> String {
        self.key_columns()
            .iter()
            .enumerate()
            .map(|(index, column)| format!("{column} = ${}", first_placeholder + index))
            .collect::<Vec<_>>()
            .join(" AND ")
    }
}

/// How many sealed values of a table are under one master key id (`None`: stored before
/// key ids were).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedCount {
    pub table: SealedTable,
    pub key_id: Option<String>,
    pub count: u64,
}

/// How a re-sealing run goes.
#[derive(Debug, Clone)]
pub struct ResealOptions {
    /// Values per batch (one read, then one write transaction).
    pub batch_size: u32,
    /// Stop after re-sealing this many values (a run in slices); `None`: all.
    pub limit: Option<u64>,
}

impl Default for ResealOptions {
    fn default() -> Self {
        ResealOptions {
            batch_size: 500,
            limit: None,
        }
    }
}

/// Where a run is, after each batch.
#[derive(Debug, Clone)]
pub struct ResealProgress {
    pub table: SealedTable,
    /// Re-sealed in this table so far in this run.
    pub resealed: u64,
    /// Values of this table not under the current key when the run reached it.
    pub pending_at_start: u64,
}

/// What a run did, per table.
#[derive(Debug, Clone, Default)]
pub struct ResealReport {
    pub resealed: BTreeMap<SealedTable, u64>,
    /// Values a server rewrote between our read and our write (theirs kept).
    pub changed_meanwhile: BTreeMap<SealedTable, u64>,
    /// Values no configured key opens, by table and stored key id (left as they are).
    pub unopened: BTreeMap<(SealedTable, Option<String>), u64>,
    /// True when the run stopped at [`ResealOptions::limit`] with work left.
    pub stopped_at_limit: bool,
}

impl ResealReport {
    pub fn total_resealed(&self) -> u64 {
        self.resealed.values().sum()
    }

    pub fn total_unopened(&self) -> u64 {
        self.unopened.values().sum()
    }
}

/// One row read for re-sealing.
struct Candidate {
    key: Vec<String>,
    sealed: Vec<u8>,
    key_id: Option<String>,
}

/// Values read for re-sealing, not yet written back: the two halves of one batch of
/// [`Store::reseal_under_current_key`], apart so that a test can write in between.
pub struct PendingBatch {
    table: SealedTable,
    rows: Vec<Candidate>,
}

impl PendingBatch {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

impl Store {
    /// How many sealed values each table holds under each master key id.
    pub async fn sealed_value_counts(&self) -> Result<Vec<SealedCount>, StorageError> {
        let mut counts = Vec::new();
        for table in SealedTable::ALL {
            let sql = format!(
                "SELECT master_key_id, COUNT(*) AS values_count FROM {table} WHERE {sealed} IS NOT NULL \
                 GROUP BY master_key_id ORDER BY master_key_id",
                table = table.name(),
                sealed = table.sealed_column(),
            );
            for row in query(&sql).fetch_all(self.readers()).await? {
                let count: i64 = row.try_get("values_count")?;
                counts.push(SealedCount {
                    table,
                    key_id: row.try_get("master_key_id")?,
                    count: u64::try_from(count).unwrap_or(0),
                });
            }
        }
        Ok(counts)
    }

    /// How many sealed values are not (known to be) under the current master key.
    pub async fn values_not_under_current_key(&self) -> Result<u64, StorageError> {
        let current = self.master_keys().current_id();
        Ok(self
            .sealed_value_counts()
            .await?
            .iter()
            .filter(|count| count.key_id.as_deref() != Some(current))
            .map(|count| count.count)
            .sum())
    }

    /// Re-seal under the current master key every sealed value stored under another key
    /// id (or none), opening each with whichever configured key sealed it. `progress` is
    /// called after every batch.
    pub async fn reseal_under_current_key(
        &self,
        options: &ResealOptions,
        mut progress: impl FnMut(&ResealProgress),
    ) -> Result<ResealReport, StorageError> {
        let batch_size = options.batch_size.max(1);
        let mut report = ResealReport::default();
        let mut budget = options.limit;
        for table in SealedTable::ALL {
            let pending_at_start = self.pending_in(table).await?;
            let mut state = ResealProgress {
                table,
                resealed: 0,
                pending_at_start,
            };
            // Rows no key opens stay behind the cursor instead of being read again.
            let mut after: Option<Vec<String>> = None;
            loop {
                if budget == Some(0) {
                    report.stopped_at_limit =
                        self.values_not_under_current_key().await? > report.total_unopened();
                    return Ok(report);
                }
                let take = budget.map_or(u64::from(batch_size), |left| {
                    left.min(u64::from(batch_size))
                });
                let batch = self.read_pending(table, after.as_deref(), take).await?;
                let Some(last) = batch.rows.last() else {
                    break;
                };
                after = Some(last.key.clone());
                let resealed = self.reseal_batch(batch, &mut report).await?;
                state.resealed += resealed;
                *report.resealed.entry(table).or_default() += resealed;
                if let Some(left) = budget.as_mut() {
                    *left = left.saturating_sub(resealed);
                }
                progress(&state);
            }
        }
        Ok(report)
    }

    async fn pending_in(&self, table: SealedTable) -> Result<u64, StorageError> {
        let sql = format!(
            "SELECT COUNT(*) AS pending FROM {table} WHERE {sealed} IS NOT NULL \
             AND (master_key_id IS NULL OR master_key_id <> $1)",
            table = table.name(),
            sealed = table.sealed_column(),
        );
        let row = query(&sql)
            .bind(self.master_keys().current_id())
            .fetch_one(self.readers())
            .await?;
        let pending: i64 = row.try_get("pending")?;
        Ok(u64::try_from(pending).unwrap_or(0))
    }

    /// The first `take` values of `table` not under the current key, read for
    /// [`Store::reseal_batch`].
    pub async fn pending_batch(
        &self,
        table: SealedTable,
        take: u64,
    ) -> Result<PendingBatch, StorageError> {
        self.read_pending(table, None, take).await
    }

    /// The next `take` rows after `after` whose value is not under the current key.
    async fn read_pending(
        &self,
        table: SealedTable,
        after: Option<&[String]>,
        take: u64,
    ) -> Result<PendingBatch, StorageError> {
        let columns = table.key_columns();
        let after_condition = match after {
            Some(_) => format!("AND {}", table.after_condition(3)),
            None => String::new(),
        };
        let sql = format!(
            "SELECT {keys}, {sealed} AS sealed_value, master_key_id FROM {table} \
             WHERE {sealed} IS NOT NULL AND (master_key_id IS NULL OR master_key_id <> $1) {after_condition} \
             ORDER BY {keys} LIMIT $2",
            keys = columns.join(", "),
            sealed = table.sealed_column(),
            table = table.name(),
        );
        let mut statement = query(&sql)
            .bind(self.master_keys().current_id())
            .bind(i64::try_from(take).unwrap_or(i64::MAX));
        for value in after.unwrap_or_default() {
            statement = statement.bind(value);
        }
        let rows = statement.fetch_all(self.readers()).await?;
        Ok(PendingBatch {
            table,
            rows: rows
                .iter()
                .map(|row| candidate(table, row))
                .collect::<Result<_, _>>()?,
        })
    }

    /// Open each value, seal it again under the current key and swap it in, in one
    /// transaction, where it is still the value read (a value rewritten meanwhile is kept
    /// and counted in `report.changed_meanwhile`). Returns how many were swapped in.
    pub async fn reseal_batch(
        &self,
        batch: PendingBatch,
        report: &mut ResealReport,
    ) -> Result<u64, StorageError> {
        let table = batch.table;
        let keys = self.master_keys();
        let update = format!(
            "UPDATE {table} SET {sealed} = $1, master_key_id = $2 WHERE {sealed} = $3 AND {key_match}",
            table = table.name(),
            sealed = table.sealed_column(),
            key_match = table.key_match(4),
        );
        let mut transaction = self.begin().await?;
        let mut resealed = 0;
        for row in batch.rows {
            let binding = table.binding(&row.key);
            let Ok(plaintext) = keys.open(&row.sealed, row.key_id.as_deref(), &binding) else {
                *report.unopened.entry((table, row.key_id)).or_default() += 1;
                continue;
            };
            let sealed = keys.seal(&plaintext, &binding);
            let mut statement = query(&update)
                .bind(sealed.blob)
                .bind(sealed.key_id)
                .bind(row.sealed);
            for value in row.key {
                statement = statement.bind(value);
            }
            if statement.execute(&mut transaction).await?.rows_affected() == 1 {
                resealed += 1;
            } else {
                *report.changed_meanwhile.entry(table).or_default() += 1;
            }
        }
        transaction.commit().await?;
        Ok(resealed)
    }
}

fn candidate(table: SealedTable, row: &Row) -> Result<Candidate, StorageError> {
    let key = table
        .key_columns()
        .iter()
        .map(|column| row.try_get::<String>(column))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Candidate {
        key,
        sealed: row.try_get("sealed_value")?,
        key_id: row.try_get("master_key_id")?,
    })
}
