//! What the admin console keeps: operators' sessions, refused sign-ins per address, and the
//! per-minute figures of its overview. In the database rather than one instance's memory,
//! so that a session, a sign-in limit and a chart are the same behind any instance.

use super::events::record_audit;
use super::sql::{query, Row};
use super::{Actor, StorageError, Store, UnixSeconds};
use crate::domain::{AdminKeyHash, AdminScopes, ConsoleTokenHash};

/// A console session as the store holds it (the cookie's token is never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSessionRecord {
    pub key_name: String,
    pub scopes: AdminScopes,
    pub csrf: String,
    pub created_at: UnixSeconds,
    pub last_seen_at: UnixSeconds,
}

/// One row of the overview's figures: what all instances counted in one minute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinuteCount {
    /// Unix seconds / 60.
    pub minute: i64,
    pub series: String,
    pub label: String,
    pub count: i64,
    pub total_ms: i64,
}

fn session_from_row(row: &Row) -> Result<ConsoleSessionRecord, StorageError> {
    let scopes: String = row.try_get("scopes")?;
    Ok(ConsoleSessionRecord {
        key_name: row.try_get("name")?,
        scopes: AdminScopes::parse(&scopes)
            .map_err(|error| StorageError::Corrupt(format!("admin key scopes: {error}")))?,
        csrf: row.try_get("csrf")?,
        created_at: row.try_get("created_at")?,
        last_seen_at: row.try_get("last_seen_at")?,
    })
}

impl Store {
    /// Open a console session for the admin key with this hash, and audit the sign-in.
    pub async fn create_console_session(
        &self,
        token_hash: &ConsoleTokenHash,
        admin_key_hash: &AdminKeyHash,
        key_name: &str,
        csrf: &str,
        now: UnixSeconds,
    ) -> Result<(), StorageError> {
        let mut transaction = self.begin().await?;
        query(
            "INSERT INTO console_sessions (token_hash, admin_key_hash, csrf, created_at, last_seen_at) \
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(token_hash)
        .bind(admin_key_hash)
        .bind(csrf)
        .bind(now)
        .execute(&mut transaction)
        .await?;
        record_audit(
            &mut transaction,
            Actor::AdminKey(key_name),
            "console.sign_in",
            None,
            now,
        )
        .await?;
        transaction.commit().await?;
        Ok(())
    }

    /// The session with this token hash, if its admin key still exists (a revoked key's
    /// sessions end with it).
    pub async fn console_session(
        &self,
        token_hash: &ConsoleTokenHash,
    ) -> Result<Option<ConsoleSessionRecord>, StorageError> {
        query(
            "SELECT k.name, k.scopes, s.csrf, s.created_at, s.last_seen_at FROM console_sessions s \
             JOIN admin_keys k ON k.key_hash = s.admin_key_hash WHERE s.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(self.readers())
        .await?
        .as_ref()
        .map(session_from_row)
        .transpose()
    }

    /// Note that the session was used now (the idle timeout counts from here).
    pub async fn touch_console_session(
        &self,
        token_hash: &ConsoleTokenHash,
        now: UnixSeconds,
    ) -> Result<(), StorageError> {
        query("UPDATE console_sessions SET last_seen_at = $2 WHERE token_hash = $1")
            .bind(token_hash)
            .bind(now)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// End a session; `signed_out_by` audits it as the operator's sign-out (an expired
    /// session is ended without an audit entry).
    pub async fn end_console_session(
        &self,
        token_hash: &ConsoleTokenHash,
        signed_out_by: Option<&str>,
        now: UnixSeconds,
    ) -> Result<(), StorageError> {
        let mut transaction = self.begin().await?;
        let ended = query("DELETE FROM console_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&mut transaction)
            .await?
            .rows_affected();
        if let (1, Some(key_name)) = (ended, signed_out_by) {
            record_audit(
                &mut transaction,
                Actor::AdminKey(key_name),
                "console.sign_out",
                None,
                now,
            )
            .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// Forget sessions idle since `idle_cutoff` or opened before `absolute_cutoff`, and
    /// refused sign-ins counted before `failures_cutoff`.
    pub async fn prune_console(
        &self,
        idle_cutoff: UnixSeconds,
        absolute_cutoff: UnixSeconds,
        failures_cutoff: UnixSeconds,
    ) -> Result<(), StorageError> {
        query("DELETE FROM console_sessions WHERE last_seen_at < $1 OR created_at < $2")
            .bind(idle_cutoff)
            .bind(absolute_cutoff)
            .execute(self.writer())
            .await?;
        query("DELETE FROM console_sign_in_failures WHERE window_start < $1")
            .bind(failures_cutoff)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Refused sign-ins from `client` in the window starting at `window_start`.
    pub async fn console_sign_in_failures(
        &self,
        client: &str,
        window_start: UnixSeconds,
    ) -> Result<i64, StorageError> {
        let row = query(
            "SELECT failures FROM console_sign_in_failures WHERE client = $1 AND window_start = $2",
        )
        .bind(client)
        .bind(window_start)
        .fetch_optional(self.readers())
        .await?;
        Ok(match row {
            Some(row) => row.try_get("failures")?,
            None => 0,
        })
    }

    /// Count one more refused sign-in from `client` in this window.
    pub async fn add_console_sign_in_failure(
        &self,
        client: &str,
        window_start: UnixSeconds,
    ) -> Result<(), StorageError> {
        query(
            "INSERT INTO console_sign_in_failures (client, window_start, failures) VALUES ($1, $2, 1) \
             ON CONFLICT (client, window_start) DO UPDATE SET failures = console_sign_in_failures.failures + 1",
        )
        .bind(client)
        .bind(window_start)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Add one instance's counts to the shared per-minute figures, in one transaction.
    pub async fn add_minute_counts(&self, counts: &[MinuteCount]) -> Result<(), StorageError> {
        if counts.is_empty() {
            return Ok(());
        }
        let mut transaction = self.begin().await?;
        for count in counts {
            query(
                "INSERT INTO console_minutes (minute, series, label, count, total_ms) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (minute, series, label) DO UPDATE SET \
                 count = console_minutes.count + excluded.count, \
                 total_ms = console_minutes.total_ms + excluded.total_ms",
            )
            .bind(count.minute)
            .bind(count.series.as_str())
            .bind(count.label.as_str())
            .bind(count.count)
            .bind(count.total_ms)
            .execute(&mut transaction)
            .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// Every per-minute figure from minute `since` on, oldest first.
    pub async fn minute_counts_since(&self, since: i64) -> Result<Vec<MinuteCount>, StorageError> {
        query(
            "SELECT minute, series, label, count, total_ms FROM console_minutes \
             WHERE minute >= $1 ORDER BY minute, series, label",
        )
        .bind(since)
        .fetch_all(self.readers())
        .await?
        .iter()
        .map(|row| {
            Ok(MinuteCount {
                minute: row.try_get("minute")?,
                series: row.try_get("series")?,
                label: row.try_get("label")?,
                count: row.try_get("count")?,
                total_ms: row.try_get("total_ms")?,
            })
        })
        .collect()
    }

    /// Forget per-minute figures older than minute `before`.
    pub async fn prune_minute_counts(&self, before: i64) -> Result<u64, StorageError> {
        Ok(query("DELETE FROM console_minutes WHERE minute < $1")
            .bind(before)
            .execute(self.writer())
            .await?
            .rows_affected())
    }

    /// Audit a console action that is not a user change (those are audited by the change
    /// itself): signing-key rotation, admin keys, webhook retries.
    pub async fn audit_console_action(
        &self,
        key_name: &str,
        action: &str,
        now: UnixSeconds,
    ) -> Result<(), StorageError> {
        record_audit(self.writer(), Actor::AdminKey(key_name), action, None, now).await
    }
}
