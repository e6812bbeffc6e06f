//! An event as the contract shows it: the items of `GET /admin/v1/events` and the body of
//! every webhook delivery (one shape, so a receiver can replay either).
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::UserId;
use crate::storage::{rfc3339, EventRecord};

#[derive(Debug, Serialize, ToSchema)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub occurred_at: String,
    pub user_id: Option<String>,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

impl From<EventRecord> for Event {
    /// The shape both `/admin/v1/events` and webhook bodies carry.
    fn from(record: EventRecord) -> Self {
        Event {
            id: record.id,
            event_type: record.event_type,
            occurred_at: rfc3339(record.occurred_at),
            user_id: record.user_id.map(UserId::into_string),
            data: record.data,
        }
    }
}
