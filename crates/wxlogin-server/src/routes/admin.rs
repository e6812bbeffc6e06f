//! The admin API of the team's backend and operators (DESIGN.md "The team's own backend and
//! operators"): user search and detail, roles, revocation, deletion, the event outbox and
//! the audit log. Every route takes an admin key ([`AdminCaller`]) and names its scope.
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::{AdminScope, Roles};
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::extractors::{AdminCaller, ApiJson};
use crate::state::AppState;
use crate::storage::{rfc3339, Actor, SessionRecord, Store, UserCursor, UserRecord};

/// The largest page any admin listing answers.
const MAX_PAGE: u32 = 200;
const DEFAULT_PAGE: u32 = 50;

/// A user with every identity, their roles and their live session count.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUser {
    pub id: String,
    /// The oldest identity's appid and openid (every identity is in `identities`).
    pub appid: Option<String>,
    pub openid: Option<String>,
    pub unionid: Option<String>,
    pub phone_number: Option<String>,
    pub nickname: Option<String>,
    pub avatar_url: Option<String>,
    pub created_at: String,
    pub identities: Vec<AdminIdentity>,
    pub roles: Vec<String>,
    pub active_sessions: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminIdentity {
    pub appid: String,
    pub openid: String,
    pub unionid: Option<String>,
    pub created_at: String,
}

/// [`AdminUser`] with the user's sessions, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserDetail {
    #[serde(flatten)]
    pub user: AdminUser,
    pub sessions: Vec<AdminSession>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminSession {
    pub id: String,
    pub appid: String,
    pub created_at: String,
    pub expires_at: String,
    pub revoked_at: Option<String>,
}

impl From<&SessionRecord> for AdminSession {
    fn from(session: &SessionRecord) -> Self {
        AdminSession {
            id: session.id.clone(),
            appid: session.appid.clone(),
            created_at: rfc3339(session.created_at),
            expires_at: rfc3339(session.expires_at),
            revoked_at: session.revoked_at.map(rfc3339),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub users: Vec<AdminUser>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct UserSearch {
    /// A user id, openid, unionid or full phone number (exact), or a nickname prefix;
    /// empty lists every user.
    #[serde(default)]
    pub q: String,
    /// 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AfterCursor {
    /// `next_cursor` of the previous page (default: from the start).
    pub after: Option<String>,
    /// 1 to 200 (default 50).
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RolesUpdate {
    /// At most 16 roles of 1 to 32 characters of `a-z 0-9 _ . : -`; `[]` removes all.
    pub roles: Vec<String>,
}

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

impl From<crate::storage::EventRecord> for Event {
    /// The shape both `/admin/v1/events` and webhook bodies carry.
    fn from(record: crate::storage::EventRecord) -> Self {
        Event {
            id: record.id,
            event_type: record.event_type,
            occurred_at: rfc3339(record.occurred_at),
            user_id: record.user_id,
            data: record.data,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    pub events: Vec<Event>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditRecord {
    pub id: String,
    pub at: String,
    pub key_name: String,
    pub action: String,
    pub user_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditRecord>,
    pub next_cursor: Option<String>,
}

fn page_size(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit.unwrap_or(DEFAULT_PAGE) {
        limit @ 1..=MAX_PAGE => Ok(limit),
        _ => Err(ApiError::invalid_request(format!(
            "limit must be between 1 and {MAX_PAGE}"
        ))),
    }
}

/// The position a `next_cursor` of the outbox or audit log names.
fn position(after: Option<&str>) -> Result<i64, ApiError> {
    match after.map(str::trim).filter(|after| !after.is_empty()) {
        None => Ok(0),
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|position| *position >= 0)
            .ok_or_else(|| {
                ApiError::invalid_request("after must be a next_cursor of this listing")
            }),
    }
}

/// The `next_cursor` of a full page of an ordered listing (the last row's position); none
/// when the page is short, so the listing is at its end.
fn next_position<T>(records: &[T], limit: u32, position: impl Fn(&T) -> i64) -> Option<String> {
    (records.len() == limit as usize)
        .then(|| records.last().map(|last| position(last).to_string()))
        .flatten()
}

fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no user with this id")
}

/// User ids are UUIDs; anything else cannot name a user (and is not sent to the database).
pub(crate) fn user_id(id: &str) -> Result<&str, ApiError> {
    uuid::Uuid::parse_str(id).map_err(|_| not_found())?;
    Ok(id)
}

async fn admin_user(store: &Store, record: UserRecord, now: i64) -> Result<AdminUser, ApiError> {
    let identities = store.user_identities(&record.id).await?;
    let active_sessions = store.count_active_user_sessions(&record.id, now).await?;
    let first = identities.first();
    Ok(AdminUser {
        appid: first.map(|identity| identity.appid.clone()),
        openid: first.map(|identity| identity.openid.clone()),
        unionid: record
            .unionid
            .clone()
            .or_else(|| first.and_then(|identity| identity.unionid.clone())),
        phone_number: record
            .phone
            .as_ref()
            .map(|phone| phone.phone_number.clone()),
        nickname: record.nickname,
        avatar_url: record.avatar_url,
        created_at: rfc3339(record.created_at),
        identities: identities
            .iter()
            .map(|identity| AdminIdentity {
                appid: identity.appid.clone(),
                openid: identity.openid.clone(),
                unionid: identity.unionid.clone(),
                created_at: rfc3339(identity.created_at),
            })
            .collect(),
        roles: record.roles,
        active_sessions,
        id: record.id,
    })
}

pub(crate) async fn user_detail(state: &AppState, id: &str) -> Result<AdminUserDetail, ApiError> {
    let store = state.store();
    let record = store.user_record(id).await?.ok_or_else(not_found)?;
    let sessions = store.user_sessions(id).await?;
    Ok(AdminUserDetail {
        user: admin_user(store, record, state.now()).await?,
        sessions: sessions.iter().map(AdminSession::from).collect(),
    })
}

/// Find users.
#[utoipa::path(get, path = "/admin/v1/users", tag = "admin", params(UserSearch),
    security(("admin_key" = ["users:read"])),
    responses(
        (status = 200, description = "A page of users, oldest first", body = UserPage),
        (status = 400, description = "invalid_request: bad limit or cursor", body = ErrorBody),
        (status = 401, description = "unauthorized: missing or unknown admin key", body = ErrorBody),
        (status = 403, description = "forbidden: the key lacks users:read", body = ErrorBody),
    ))]
pub async fn search_users(
    State(state): State<AppState>,
    caller: AdminCaller,
    query: Result<Query<UserSearch>, QueryRejection>,
) -> Result<ApiJson<UserPage>, ApiError> {
    caller.require(AdminScope::UsersRead)?;
    let Query(search) = query?;
    let limit = page_size(search.limit)?;
    Ok(ApiJson(
        find_users(&state, &search.q, search.cursor.as_deref(), limit).await?,
    ))
}

/// One page of the user search (the admin API's and the console's).
pub(crate) async fn find_users(
    state: &AppState,
    q: &str,
    cursor: Option<&str>,
    limit: u32,
) -> Result<UserPage, ApiError> {
    let cursor = match cursor.map(str::trim).filter(|c| !c.is_empty()) {
        None => None,
        Some(text) => Some(UserCursor::decode(text).ok_or_else(|| {
            ApiError::invalid_request("cursor must be a next_cursor of this search")
        })?),
    };
    if q.chars().count() > 128 {
        return Err(ApiError::invalid_request(
            "q must be at most 128 characters",
        ));
    }
    let records = state
        .store()
        .search_users(q, cursor.as_ref(), limit + 1)
        .await?;
    let more = records.len() > limit as usize;
    let records: Vec<UserRecord> = records.into_iter().take(limit as usize).collect();
    let next_cursor = more.then(|| records.last()).flatten().map(|last| {
        UserCursor {
            created_at: last.created_at,
            id: last.id.clone(),
        }
        .encode()
    });
    let mut users = Vec::with_capacity(records.len());
    for record in records {
        users.push(admin_user(state.store(), record, state.now()).await?);
    }
    Ok(UserPage { users, next_cursor })
}

/// One user, with identities, roles and sessions.
#[utoipa::path(get, path = "/admin/v1/users/{id}", tag = "admin",
    params(("id" = String, Path, description = "User id")),
    security(("admin_key" = ["users:read"])),
    responses(
        (status = 200, description = "The user", body = AdminUserDetail),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 403, description = "forbidden: the key lacks users:read", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn get_user(
    State(state): State<AppState>,
    caller: AdminCaller,
    Path(id): Path<String>,
) -> Result<ApiJson<AdminUserDetail>, ApiError> {
    caller.require(AdminScope::UsersRead)?;
    Ok(ApiJson(user_detail(&state, user_id(&id)?).await?))
}

/// Replace a user's roles; access tokens issued from now on carry them.
#[utoipa::path(put, path = "/admin/v1/users/{id}/roles", tag = "admin", request_body = RolesUpdate,
    params(("id" = String, Path, description = "User id")),
    security(("admin_key" = ["users:write"])),
    responses(
        (status = 200, description = "The user with the new roles", body = AdminUserDetail),
        (status = 400, description = "invalid_request: a bad role or too many", body = ErrorBody),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 403, description = "forbidden: the key lacks users:write", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn put_roles(
    State(state): State<AppState>,
    caller: AdminCaller,
    Path(id): Path<String>,
    ApiJson(update): ApiJson<RolesUpdate>,
) -> Result<ApiJson<AdminUserDetail>, ApiError> {
    caller.require(AdminScope::UsersWrite)?;
    let id = user_id(&id)?;
    let roles = Roles::parse(&update.roles)?;
    let changed = state
        .store()
        .set_roles(id, &roles, Actor::AdminKey(&caller.name), state.now())
        .await?;
    if !changed {
        return Err(not_found());
    }
    tracing::info!(admin_key = %caller.name, user_id = %id, "roles changed");
    Ok(ApiJson(user_detail(&state, id).await?))
}

/// End every session of a user at once (on every instance).
#[utoipa::path(post, path = "/admin/v1/users/{id}/revoke", tag = "admin",
    params(("id" = String, Path, description = "User id")),
    security(("admin_key" = ["users:write"])),
    responses(
        (status = 204, description = "Every session ended"),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 403, description = "forbidden: the key lacks users:write", body = ErrorBody),
        (status = 404, description = "not_found", body = ErrorBody),
    ))]
pub async fn revoke_user(
    State(state): State<AppState>,
    caller: AdminCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(AdminScope::UsersWrite)?;
    let id = user_id(&id)?;
    let store = state.store();
    if !store.user_exists(id).await? {
        return Err(not_found());
    }
    let ended = store
        .revoke_user(id, Actor::AdminKey(&caller.name), state.now())
        .await?;
    tracing::info!(admin_key = %caller.name, user_id = %id, ended, "sessions revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// Delete a user's account: identities, session keys, sessions and tokens; their next
/// login creates a new user.
#[utoipa::path(delete, path = "/admin/v1/users/{id}", tag = "admin",
    params(("id" = String, Path, description = "User id")),
    security(("admin_key" = ["users:write"])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 403, description = "forbidden: the key lacks users:write", body = ErrorBody),
        (status = 404, description = "not_found (also when deleted before)", body = ErrorBody),
    ))]
pub async fn delete_user(
    State(state): State<AppState>,
    caller: AdminCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(AdminScope::UsersWrite)?;
    let id = user_id(&id)?;
    let deleted = state
        .store()
        .delete_user(id, Actor::AdminKey(&caller.name), state.now())
        .await?;
    if !deleted {
        return Err(not_found());
    }
    tracing::info!(admin_key = %caller.name, user_id = %id, "account deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// The event outbox, oldest first.
#[utoipa::path(get, path = "/admin/v1/events", tag = "admin", params(AfterCursor),
    security(("admin_key" = ["events:read"])),
    responses(
        (status = 200, description = "A page of events", body = EventPage),
        (status = 400, description = "invalid_request: bad limit or after", body = ErrorBody),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 403, description = "forbidden: the key lacks events:read", body = ErrorBody),
    ))]
pub async fn list_events(
    State(state): State<AppState>,
    caller: AdminCaller,
    query: Result<Query<AfterCursor>, QueryRejection>,
) -> Result<ApiJson<EventPage>, ApiError> {
    caller.require(AdminScope::EventsRead)?;
    let Query(params) = query?;
    let limit = page_size(params.limit)?;
    let after = position(params.after.as_deref())?;
    let records = state.store().events_after(after, limit).await?;
    let next_cursor = next_position(&records, limit, |record| record.seq);
    let events = records.into_iter().map(Event::from).collect();
    Ok(ApiJson(EventPage {
        events,
        next_cursor,
    }))
}

/// What admin keys (and operators) changed, oldest first.
#[utoipa::path(get, path = "/admin/v1/audit", tag = "admin", params(AfterCursor),
    security(("admin_key" = ["users:read"])),
    responses(
        (status = 200, description = "A page of audit entries", body = AuditPage),
        (status = 400, description = "invalid_request: bad limit or after", body = ErrorBody),
        (status = 401, description = "unauthorized", body = ErrorBody),
        (status = 403, description = "forbidden: the key lacks users:read", body = ErrorBody),
    ))]
pub async fn list_audit(
    State(state): State<AppState>,
    caller: AdminCaller,
    query: Result<Query<AfterCursor>, QueryRejection>,
) -> Result<ApiJson<AuditPage>, ApiError> {
    caller.require(AdminScope::UsersRead)?;
    let Query(params) = query?;
    let limit = page_size(params.limit)?;
    let after = position(params.after.as_deref())?;
    let records = state.store().audit_after(after, limit).await?;
    let next_cursor = next_position(&records, limit, |entry| entry.seq);
    let entries = records
        .into_iter()
        .map(|entry| AuditRecord {
            id: entry.seq.to_string(),
            at: rfc3339(entry.at),
            key_name: entry.key_name,
            action: entry.action,
            user_id: entry.user_id,
        })
        .collect();
    Ok(ApiJson(AuditPage {
        entries,
        next_cursor,
    }))
}
