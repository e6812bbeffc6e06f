//! The event outbox and the audit log.
//!
//! An event is inserted in the same transaction as the change it describes (no change
//! without its event, no event without its change), so a webhook worker or the team's
//! backend reading `/admin/v1/events` sees exactly what happened. `data` names what changed
//! and never holds a phone number, token or key: a receiver fetches the user for values.
//! The audit log records what each admin key changed.

use serde_json::Value;

use super::sql::{query, On, Row, Transaction};
use super::{StorageError, Store, UnixSeconds};
use crate::domain::UserId;

/// What an event says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    UserCreated,
    UserPhoneBound,
    UserProfileUpdated,
    UserRolesChanged,
    UserDeleted,
    SessionRevoked,
}

impl EventType {
    pub const ALL: [EventType; 6] = [
        EventType::UserCreated,
        EventType::UserPhoneBound,
        EventType::UserProfileUpdated,
        EventType::UserRolesChanged,
        EventType::UserDeleted,
        EventType::SessionRevoked,
    ];

    /// The type named `name` (`user.created`, …).
    pub fn parse(name: &str) -> Option<EventType> {
        EventType::ALL
            .into_iter()
            .find(|event_type| event_type.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::UserCreated => "user.created",
            EventType::UserPhoneBound => "user.phone_bound",
            EventType::UserProfileUpdated => "user.profile_updated",
            EventType::UserRolesChanged => "user.roles_changed",
            EventType::UserDeleted => "user.deleted",
            EventType::SessionRevoked => "session.revoked",
        }
    }
}

/// Why a session ended (`data.reason` of `session.revoked`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationReason {
    Logout,
    Admin,
    ReuseDetected,
    Deleted,
}

impl RevocationReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationReason::Logout => "logout",
            RevocationReason::Admin => "admin",
            RevocationReason::ReuseDetected => "reuse_detected",
            RevocationReason::Deleted => "deleted",
        }
    }
}

/// Who made a change: the user themself, an admin key (by name), or an operator at the
/// database host (`wxlogin users …`). Admin keys' and operators' changes are audited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor<'a> {
    TheUser,
    AdminKey(&'a str),
    Operator,
}

impl Actor<'_> {
    /// `data.by` of the events it causes.
    pub fn as_str(&self) -> &'static str {
        match self {
            Actor::TheUser => "user",
            Actor::AdminKey(_) => "admin",
            Actor::Operator => "operator",
        }
    }

    /// The audit log's `key_name`, for the actors that are audited.
    fn audit_name(&self) -> Option<&str> {
        match self {
            Actor::TheUser => None,
            Actor::AdminKey(name) => Some(name),
            Actor::Operator => Some("cli"),
        }
    }
}

/// Note `actor`'s change in the audit log, inside the change's transaction.
pub(super) async fn record_audit<'a>(
    on: impl Into<On<'a>>,
    actor: Actor<'_>,
    action: &str,
    user_id: Option<&UserId>,
    now: UnixSeconds,
) -> Result<(), StorageError> {
    let Some(key_name) = actor.audit_name() else {
        return Ok(());
    };
    query("INSERT INTO audit_log (at, key_name, action, user_id) VALUES ($1, $2, $3, $4)")
        .bind(now)
        .bind(key_name)
        .bind(action)
        .bind(user_id)
        .execute(on)
        .await?;
    Ok(())
}

/// A stored event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    /// Position in the outbox: the cursor of `/admin/v1/events`.
    pub seq: i64,
    /// What receivers deduplicate by.
    pub id: String,
    pub event_type: String,
    pub occurred_at: UnixSeconds,
    pub user_id: Option<UserId>,
    pub data: Value,
}

/// One admin change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: UnixSeconds,
    pub key_name: String,
    pub action: String,
    pub user_id: Option<UserId>,
}

/// Insert an event where `on` points: the transaction of the change it describes.
/// Its webhook deliveries are inserted with it, in the same transaction.
pub(super) async fn record_event(
    transaction: &mut Transaction,
    event_type: EventType,
    user_id: Option<&UserId>,
    data: Value,
    now: UnixSeconds,
) -> Result<(), StorageError> {
    let id = crate::domain::new_event_id();
    query("INSERT INTO events (id, type, occurred_at, user_id, data) VALUES ($1, $2, $3, $4, $5)")
        .bind(&id)
        .bind(event_type.as_str())
        .bind(now)
        .bind(user_id)
        .bind(data.to_string())
        .execute(&mut *transaction)
        .await?;
    super::webhooks::record_deliveries(transaction, &id, now).await
}

pub(super) fn event_from_row(row: &Row) -> Result<EventRecord, StorageError> {
    let data: String = row.try_get("data")?;
    Ok(EventRecord {
        seq: row.try_get("seq")?,
        id: row.try_get("id")?,
        event_type: row.try_get("type")?,
        occurred_at: row.try_get("occurred_at")?,
        user_id: row.try_get("user_id")?,
        data: serde_json::from_str(&data)
            .map_err(|error| StorageError::Corrupt(format!("event data: {error}")))?,
    })
}

impl Store {
    /// Events after position `after`, oldest first, at most `limit`.
    pub async fn events_after(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<EventRecord>, StorageError> {
        query(
            "SELECT seq, id, type, occurred_at, user_id, data FROM events WHERE seq > $1 \
             ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(self.readers())
        .await?
        .iter()
        .map(event_from_row)
        .collect()
    }

    /// The newest events first, at most `limit` (the console's list).
    pub async fn recent_events(&self, limit: u32) -> Result<Vec<EventRecord>, StorageError> {
        query(
            "SELECT seq, id, type, occurred_at, user_id, data FROM events ORDER BY seq DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(self.readers())
        .await?
        .iter()
        .map(event_from_row)
        .collect()
    }

    /// Delete events that occurred before `cutoff`, except those a webhook delivery is
    /// still pending for, and the finished deliveries of the deleted ones; returns how
    /// many events.
    pub async fn prune_events(&self, cutoff: UnixSeconds) -> Result<u64, StorageError> {
        let mut transaction = self.begin().await?;
        let pruned = query(
            "DELETE FROM events WHERE occurred_at < $1 AND NOT EXISTS \
             (SELECT 1 FROM webhook_deliveries d WHERE d.event_seq = events.seq AND d.status = 'pending')",
        )
        .bind(cutoff)
        .execute(&mut transaction)
        .await?
        .rows_affected();
        query(
            "DELETE FROM webhook_deliveries WHERE status <> 'pending' AND NOT EXISTS \
             (SELECT 1 FROM events e WHERE e.seq = webhook_deliveries.event_seq)",
        )
        .execute(&mut transaction)
        .await?;
        transaction.commit().await?;
        Ok(pruned)
    }

    /// Audit entries after position `after`, oldest first, at most `limit`.
    pub async fn audit_after(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StorageError> {
        query(
            "SELECT seq, at, key_name, action, user_id FROM audit_log WHERE seq > $1 \
             ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(self.readers())
        .await?
        .iter()
        .map(|row| {
            Ok(AuditEntry {
                seq: row.try_get("seq")?,
                at: row.try_get("at")?,
                key_name: row.try_get("key_name")?,
                action: row.try_get("action")?,
                user_id: row.try_get("user_id")?,
            })
        })
        .collect()
    }
}
