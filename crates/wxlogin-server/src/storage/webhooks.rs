//! Webhook deliveries: one row per (event, webhook), created with the event in its own
//! transaction ([`record_deliveries`]), so the outbox never holds an event its webhooks
//! miss, whichever order concurrent transactions commit in (a cursor over `events.seq`
//! would skip a PostgreSQL transaction that took a lower seq but committed later).
//!
//! Instances share the work through the database: a delivery is sent by the instance that
//! holds its lease ([`Store::lease_webhook_deliveries`], one conditional UPDATE per row),
//! and a lease that lapses (its instance crashed) lets another instance take it. A
//! delivery of a user's event is not leased while an earlier one of the same user for the
//! same webhook is still pending: receivers see each user's events in order.

use super::sql::{query, Row, Transaction};
use super::{StorageError, Store, UnixSeconds};
use crate::domain::UserId;

/// How long a delivery is retried before it is marked dead (the contract's 24 h).
pub const DELIVERY_RETRY_PERIOD_SECS: i64 = 24 * 3600;

/// `webhook_subscriptions.event_type` of a webhook that wants every event.
const EVERY_EVENT: &str = "*";

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Dead,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Dead => "dead",
        }
    }

    fn parse(text: &str) -> Result<Self, StorageError> {
        match text {
            "pending" => Ok(DeliveryStatus::Pending),
            "delivered" => Ok(DeliveryStatus::Delivered),
            "dead" => Ok(DeliveryStatus::Dead),
            other => Err(StorageError::Corrupt(format!(
                "webhook delivery status {other:?}"
            ))),
        }
    }
}

/// A delivery as `wxlogin webhooks list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub id: i64,
    pub webhook: String,
    pub event_seq: i64,
    pub event_id: String,
    pub event_type: String,
    pub user_id: Option<UserId>,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: UnixSeconds,
    pub give_up_at: UnixSeconds,
    pub last_error: Option<String>,
    pub delivered_at: Option<UnixSeconds>,
}

/// Deliveries by state, for the overview.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryCounts {
    pub pending: i64,
    pub dead: i64,
}

/// A leased delivery with what its request is made of.
#[derive(Debug, Clone, PartialEq)]
pub struct LeasedDelivery {
    pub id: i64,
    pub webhook: String,
    pub attempts: i64,
    pub give_up_at: UnixSeconds,
    pub event: super::EventRecord,
}

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered,
    /// Failed; tried again at `next_attempt_at`.
    Retry {
        error: String,
        next_attempt_at: UnixSeconds,
    },
    /// Failed for the last time.
    Dead {
        error: String,
    },
}

/// What one webhook subscribes to: `None` is every event type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub webhook: String,
    pub event_types: Option<Vec<String>>,
}

/// A delivery `d` may be leased at `$1`: pending, due, not under a live lease, and with no
/// earlier pending delivery of the same user to the same webhook.
const LEASABLE: &str = "d.status = 'pending' AND d.next_attempt_at <= $1 \
     AND (d.lease_expires_at IS NULL OR d.lease_expires_at <= $1) \
     AND NOT EXISTS (SELECT 1 FROM webhook_deliveries earlier \
         WHERE earlier.webhook = d.webhook AND earlier.user_id = d.user_id \
         AND earlier.event_seq < d.event_seq AND earlier.status = 'pending')";

const DELIVERY_COLUMNS: &str = "id, webhook, event_seq, event_id, event_type, user_id, status, \
     attempts, next_attempt_at, give_up_at, last_error, delivered_at";

fn delivery_from_row(row: &Row) -> Result<DeliveryRecord, StorageError> {
    let status: String = row.try_get("status")?;
    Ok(DeliveryRecord {
        id: row.try_get("id")?,
        webhook: row.try_get("webhook")?,
        event_seq: row.try_get("event_seq")?,
        event_id: row.try_get("event_id")?,
        event_type: row.try_get("event_type")?,
        user_id: row.try_get("user_id")?,
        status: DeliveryStatus::parse(&status)?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        give_up_at: row.try_get("give_up_at")?,
        last_error: row.try_get("last_error")?,
        delivered_at: row.try_get("delivered_at")?,
    })
}

/// One pending delivery per subscribed webhook for the event `event_id`, in the event's
/// transaction. Without webhooks it is a lookup in an empty table.
pub(super) async fn record_deliveries(
    transaction: &mut Transaction,
    event_id: &str,
    now: UnixSeconds,
) -> Result<(), StorageError> {
    query(
        "INSERT INTO webhook_deliveries \
         (webhook, event_seq, event_id, event_type, user_id, status, attempts, next_attempt_at, give_up_at) \
         SELECT DISTINCT s.webhook, e.seq, e.id, e.type, e.user_id, 'pending', 0, $2, $3 \
         FROM webhook_subscriptions s JOIN events e ON e.id = $1 \
         WHERE s.event_type = '*' OR s.event_type = e.type",
    )
    .bind(event_id)
    .bind(now)
    .bind(now + DELIVERY_RETRY_PERIOD_SECS)
    .execute(&mut *transaction)
    .await?;
    Ok(())
}

/// `($first, $first+1, ...)` for `count` values.
fn placeholders(first: usize, count: usize) -> String {
    let list: Vec<String> = (first..first + count).map(|n| format!("${n}")).collect();
    format!("({})", list.join(", "))
}

impl Store {
    /// Make the subscriptions exactly `subscriptions` (this instance's settings), and
    /// mark dead the pending deliveries of webhooks no longer configured: nobody would
    /// send them (no secret), and they would keep their events from being pruned. Returns
    /// how many were marked dead.
    pub async fn sync_webhook_subscriptions(
        &self,
        subscriptions: &[Subscription],
        now: UnixSeconds,
    ) -> Result<u64, StorageError> {
        let mut transaction = self.begin().await?;
        query("DELETE FROM webhook_subscriptions")
            .execute(&mut transaction)
            .await?;
        for subscription in subscriptions {
            let types = match &subscription.event_types {
                None => vec![EVERY_EVENT.to_owned()],
                Some(types) => types.clone(),
            };
            for event_type in types {
                query(
                    "INSERT INTO webhook_subscriptions (webhook, event_type) VALUES ($1, $2) \
                     ON CONFLICT (webhook, event_type) DO NOTHING",
                )
                .bind(&subscription.webhook)
                .bind(event_type)
                .execute(&mut transaction)
                .await?;
            }
        }
        let orphaned = query(
            "UPDATE webhook_deliveries SET status = 'dead', \
             last_error = 'the webhook is no longer configured', lease_owner = NULL, lease_expires_at = NULL, \
             next_attempt_at = $1 \
             WHERE status = 'pending' AND webhook NOT IN (SELECT webhook FROM webhook_subscriptions)",
        )
        .bind(now)
        .execute(&mut transaction)
        .await?
        .rows_affected();
        transaction.commit().await?;
        Ok(orphaned)
    }

    /// Lease up to `limit` due deliveries of `webhooks` for `owner` until `lease_until`:
    /// pending, due, not leased by a live lease, and with no earlier pending delivery of
    /// the same user to the same webhook. Each row is taken by a conditional UPDATE, so two
    /// instances never hold the same delivery.
    pub async fn lease_webhook_deliveries(
        &self,
        owner: &str,
        webhooks: &[String],
        limit: u32,
        now: UnixSeconds,
        lease_until: UnixSeconds,
    ) -> Result<Vec<LeasedDelivery>, StorageError> {
        if webhooks.is_empty() {
            return Ok(Vec::new());
        }
        let select = format!(
            "SELECT d.id FROM webhook_deliveries d WHERE {LEASABLE} AND d.webhook IN {} \
             ORDER BY d.event_seq LIMIT $2",
            placeholders(3, webhooks.len())
        );
        let mut candidates = query(&select).bind(now).bind(i64::from(limit));
        for webhook in webhooks {
            candidates = candidates.bind(webhook);
        }
        // Read where reads go (on a SQLite file, not the one writer logins queue on): a
        // stale candidate costs nothing, as taking it is conditional.
        let ids: Vec<i64> = candidates
            .fetch_all(self.readers())
            .await?
            .iter()
            .map(|row| row.try_get("id"))
            .collect::<Result<_, _>>()?;
        let mut leased = Vec::with_capacity(ids.len());
        for id in ids {
            let taken = self.take_webhook_lease(id, owner, now, lease_until).await?;
            if !taken {
                continue;
            }
            let rows = query(
                "SELECT d.id AS delivery_id, d.webhook, d.attempts, d.give_up_at, \
                 e.seq, e.id, e.type, e.occurred_at, e.user_id, e.data \
                 FROM webhook_deliveries d JOIN events e ON e.seq = d.event_seq WHERE d.id = $1",
            )
            .bind(id)
            .fetch_all(self.readers())
            .await?;
            if let Some(row) = rows.first() {
                leased.push(LeasedDelivery {
                    id: row.try_get("delivery_id")?,
                    webhook: row.try_get("webhook")?,
                    attempts: row.try_get("attempts")?,
                    give_up_at: row.try_get("give_up_at")?,
                    event: super::events::event_from_row(row)?,
                });
            }
        }
        Ok(leased)
    }

    /// Lease delivery `id` for `owner` until `lease_until` if it is leasable now; false if
    /// it is not (another instance holds it, it is done, or it waits behind an earlier
    /// delivery of its user).
    pub async fn take_webhook_lease(
        &self,
        id: i64,
        owner: &str,
        now: UnixSeconds,
        lease_until: UnixSeconds,
    ) -> Result<bool, StorageError> {
        // The conditions sit on the updated row itself (not in a subquery over it): a
        // PostgreSQL UPDATE that waited for another one's row lock re-checks them on the
        // row as that one left it, so the second instance takes nothing.
        let take = format!(
            "UPDATE webhook_deliveries AS d SET lease_owner = $2, lease_expires_at = $3 \
             WHERE d.id = $4 AND {LEASABLE}"
        );
        let taken = query(&take)
            .bind(now)
            .bind(owner)
            .bind(lease_until)
            .bind(id)
            .execute(self.writer())
            .await?
            .rows_affected();
        Ok(taken == 1)
    }

    /// Record an attempt of a delivery `owner` leased. False when the lease was lost
    /// meanwhile (it lapsed and another instance took the delivery over): the outcome is
    /// then that instance's to record.
    pub async fn finish_webhook_attempt(
        &self,
        id: i64,
        owner: &str,
        outcome: &AttemptOutcome,
        now: UnixSeconds,
    ) -> Result<bool, StorageError> {
        let (status, error, next_attempt_at, delivered_at) = match outcome {
            AttemptOutcome::Delivered => (DeliveryStatus::Delivered, None, now, Some(now)),
            AttemptOutcome::Retry {
                error,
                next_attempt_at,
            } => (
                DeliveryStatus::Pending,
                Some(error.as_str()),
                *next_attempt_at,
                None,
            ),
            AttemptOutcome::Dead { error } => {
                (DeliveryStatus::Dead, Some(error.as_str()), now, None)
            }
        };
        let updated = query(
            "UPDATE webhook_deliveries SET status = $3, attempts = attempts + 1, last_error = $4, \
             next_attempt_at = $5, delivered_at = $6, lease_owner = NULL, lease_expires_at = NULL \
             WHERE id = $1 AND lease_owner = $2 AND status = 'pending'",
        )
        .bind(id)
        .bind(owner)
        .bind(status.as_str())
        .bind(error)
        .bind(next_attempt_at)
        .bind(delivered_at)
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(updated == 1)
    }

    /// The most recent deliveries first, at most `limit`.
    pub async fn recent_webhook_deliveries(
        &self,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, StorageError> {
        query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries ORDER BY id DESC LIMIT $1"
        ))
        .bind(i64::from(limit))
        .fetch_all(self.readers())
        .await?
        .iter()
        .map(delivery_from_row)
        .collect()
    }

    /// One delivery by id.
    pub async fn webhook_delivery(&self, id: i64) -> Result<Option<DeliveryRecord>, StorageError> {
        query(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1"
        ))
        .bind(id)
        .fetch_all(self.readers())
        .await?
        .first()
        .map(delivery_from_row)
        .transpose()
    }

    /// Put a dead delivery back to pending, due now, with another full retry period.
    /// False if there is no dead delivery with this id whose webhook is still configured
    /// (nobody could send it: no instance has its secret).
    pub async fn retry_webhook_delivery(
        &self,
        id: i64,
        now: UnixSeconds,
    ) -> Result<bool, StorageError> {
        let updated = query(
            "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $2, give_up_at = $3, \
             lease_owner = NULL, lease_expires_at = NULL WHERE id = $1 AND status = 'dead' \
             AND webhook IN (SELECT webhook FROM webhook_subscriptions)",
        )
        .bind(id)
        .bind(now)
        .bind(now + DELIVERY_RETRY_PERIOD_SECS)
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(updated == 1)
    }

    /// Pending and dead webhook deliveries.
    pub async fn webhook_delivery_counts(&self) -> Result<DeliveryCounts, StorageError> {
        let rows = query(
            "SELECT status, COUNT(*) AS n FROM webhook_deliveries \
             WHERE status IN ('pending', 'dead') GROUP BY status",
        )
        .fetch_all(self.readers())
        .await?;
        let mut counts = DeliveryCounts::default();
        for row in &rows {
            let status: String = row.try_get("status")?;
            let n: i64 = row.try_get("n")?;
            match status.as_str() {
                "pending" => counts.pending = n,
                _ => counts.dead = n,
            }
        }
        Ok(counts)
    }

    /// When the oldest event with a pending delivery occurred, if any: the lag gauge.
    pub async fn oldest_undelivered_event(&self) -> Result<Option<UnixSeconds>, StorageError> {
        let rows = query(
            "SELECT MIN(e.occurred_at) AS oldest FROM webhook_deliveries d \
             JOIN events e ON e.seq = d.event_seq WHERE d.status = 'pending'",
        )
        .fetch_all(self.readers())
        .await?;
        match rows.first() {
            Some(row) => Ok(row.try_get("oldest")?),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_from_the_first() {
        assert_eq!(placeholders(3, 2), "($3, $4)");
        assert_eq!(placeholders(1, 1), "($1)");
    }
}
