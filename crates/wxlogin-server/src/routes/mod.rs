//! The HTTP surface: every route of the contract, the middleware around them, and JSON
//! answers for unknown routes, wrong methods, oversized bodies and panics.
pub mod admin;
pub mod body_deadline;
pub mod discovery;
pub mod event;
mod fallback;
pub mod health;
pub mod introspect;
pub mod jwks;
pub mod login;
pub mod me;
pub mod metrics;
pub mod observe;
pub mod openapi;
pub mod user;

use std::any::Any;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// Every route of the contract, in one place (the OpenAPI test checks this list).
pub const ROUTES: &[(&str, &str)] = &[
    ("post", "/v1/login"),
    ("post", "/v1/token/refresh"),
    ("post", "/v1/logout"),
    ("get", "/v1/me"),
    ("patch", "/v1/me"),
    ("put", "/v1/me"),
    ("delete", "/v1/me"),
    ("post", "/v1/me/phone"),
    ("post", "/v1/me/userinfo"),
    ("get", "/.well-known/jwks.json"),
    ("get", "/healthz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("get", "/admin/v1/users"),
    ("get", "/admin/v1/users/{id}"),
    ("delete", "/admin/v1/users/{id}"),
    ("put", "/admin/v1/users/{id}/roles"),
    ("post", "/admin/v1/users/{id}/revoke"),
    ("get", "/admin/v1/events"),
    ("get", "/admin/v1/audit"),
    ("post", "/v1/introspect"),
    ("get", "/.well-known/openid-configuration"),
    ("get", "/.well-known/oauth-authorization-server"),
];

pub fn router(state: AppState) -> Router {
    let body_limit = state.settings().http.body_limit;
    let read_timeout = state.settings().http.request_read_timeout;
    // Answers that carry tokens or personal data (and their errors) must not be kept by
    // a browser, proxy or WebView cache (RFC 6749 §5.1).
    let personal = Router::new()
        .route("/v1/login", post(login::login))
        .route("/v1/token/refresh", post(login::refresh))
        .route("/v1/logout", post(login::logout))
        // PUT too: the mini program's wx.request has no PATCH.
        .route(
            "/v1/me",
            get(me::get_me)
                .patch(me::patch_me)
                .put(me::patch_me)
                .delete(me::delete_me),
        )
        .route("/v1/me/phone", post(me::post_phone))
        .route("/v1/me/userinfo", post(me::post_userinfo))
        .route("/admin/v1/users", get(admin::search_users))
        .route(
            "/admin/v1/users/{id}",
            get(admin::get_user).delete(admin::delete_user),
        )
        .route("/admin/v1/users/{id}/roles", put(admin::put_roles))
        .route("/admin/v1/users/{id}/revoke", post(admin::revoke_user))
        .route("/admin/v1/events", get(admin::list_events))
        .route("/admin/v1/audit", get(admin::list_audit))
        .route("/v1/introspect", post(introspect::introspect))
        .layer(
            ServiceBuilder::new()
                .layer(SetResponseHeaderLayer::overriding(
                    header::PRAGMA,
                    HeaderValue::from_static("no-cache"),
                ))
                .layer(SetResponseHeaderLayer::overriding(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("no-store"),
                )),
        );
    Router::new()
        .merge(personal)
        .merge(crate::console::router())
        .route("/.well-known/jwks.json", get(jwks::jwks))
        .route(
            "/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(discovery::oauth_authorization_server),
        )
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(metrics::metrics))
        .route("/openapi.json", get(openapi::openapi_json))
        .fallback(fallback::not_found)
        .method_not_allowed_fallback(fallback::method_not_allowed)
        // One stack, outermost first. `Router::layer` boxes each route's service again
        // for every call, and each box is cloned, allocated and freed per request; one
        // call with the whole stack boxes it once (BENCHMARKS.md, "Performance round five").
        .layer(
            ServiceBuilder::new()
                .layer(CatchPanicLayer::custom(panic_response))
                // Outside the observer, so its span and lines can name the request id.
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(PropagateRequestIdLayer::x_request_id())
                .layer(middleware::from_fn(observe::observe))
                // A body not whole by the deadline fails to read, which the JSON
                // extractor answers with 400.
                .layer(middleware::from_fn_with_state(
                    read_timeout,
                    body_deadline::body_deadline,
                ))
                .layer(DefaultBodyLimit::max(body_limit)),
        )
        .with_state(state)
}

/// A handler panicked: answer like any internal fault. The panic text is not logged in
/// full; it could quote a value.
fn panic_response(_panic: Box<dyn Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::new(ErrorCode::Internal, "internal error").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_answers_the_internal_error_shape() {
        let response = panic_response(Box::new("boom"));
        assert_eq!(response.status().as_u16(), 500);
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"error": {"code": "internal", "message": "internal error"}})
        );
    }
}
