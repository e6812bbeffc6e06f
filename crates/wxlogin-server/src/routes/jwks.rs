use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::state::AppState;

/// The public keys (JWK Set) that verify access tokens: the current key and every older
/// key whose tokens may still be alive.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "operations",
    responses((status = 200, description = "JWK Set: EC / P-256 (ES256) and OKP / Ed25519 (EdDSA) keys with kid, alg and use", body = Object)))]
pub async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    let keys = state.sessions().keys().jwks(state.now()).await;
    (
        [(header::CACHE_CONTROL, "public, max-age=60")],
        axum::Json(keys),
    )
}
