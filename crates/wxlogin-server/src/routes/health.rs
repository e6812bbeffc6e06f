use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::extractors::ApiJson;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` when the process serves requests and its database answers.
    pub status: &'static str,
}

/// Liveness: the process answers and can reach its database.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses(
        (status = 200, description = "Serving", body = Health),
        (status = 503, description = "Database unreachable", body = crate::error::ErrorBody),
    ))]
pub async fn healthz(State(state): State<AppState>) -> Result<ApiJson<Health>, ApiError> {
    state.check_database().await?;
    Ok(ApiJson(Health { status: "ok" }))
}
