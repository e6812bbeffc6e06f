use axum::Json;

use crate::openapi::api_doc;

/// This API's OpenAPI 3.1 description, generated from the handlers.
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(api_doc())
}
