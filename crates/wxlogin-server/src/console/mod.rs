//! The admin console at `/admin/` (DESIGN.md "Admin console"): server-rendered HTML from
//! the binary itself, so a team deploys nothing else and no page loads anything from a CDN
//! (networks in China often cannot reach foreign ones).
//!
//! No JavaScript at all: every action is a form, every "are you sure" is a page, and the
//! charts are SVG drawn here. That lets the Content-Security-Policy forbid every script,
//! and leaves an injected value nothing to run. Operators sign in with an admin key that
//! holds the `console` scope (`session.rs`); every change is audited under that key's name.
mod charts;
mod events;
mod forms;
mod i18n;
mod keys;
mod layout;
mod overview;
mod refusal;
mod session;
mod sign_in;
mod users;

use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use tower_http::set_header::SetResponseHeaderLayer;

pub use i18n::Lang;
pub use sign_in::MAX_REFUSED_SIGN_INS;

use crate::state::AppState;

/// Scripts of any origin, frames, plugins and foreign requests are all refused; styles and
/// images come from the console itself (SVG is inline markup, not an image request).
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'self'; img-src 'self' data:; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const STYLESHEET: &str = include_str!("assets/console.css");

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            // The stylesheet changes only with the binary.
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

fn header_layer(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
}

/// The console's routes, with its security headers on every answer.
pub fn router() -> Router<AppState> {
    let pages = Router::new()
        .route("/admin", get(|| async { Redirect::permanent("/admin/") }))
        .route("/admin/", get(overview::overview))
        .route(
            "/admin/sign-in",
            get(sign_in::show_sign_in).post(sign_in::sign_in),
        )
        .route("/admin/sign-out", post(sign_in::sign_out))
        .route("/admin/lang", get(sign_in::switch_lang))
        .route("/admin/users", get(users::search))
        .route("/admin/users/{id}", get(users::detail))
        .route("/admin/users/{id}/roles", post(users::save_roles))
        .route(
            "/admin/users/{id}/revoke",
            get(users::confirm_revoke).post(users::revoke),
        )
        .route(
            "/admin/users/{id}/delete",
            get(users::confirm_delete).post(users::delete),
        )
        .route("/admin/events", get(events::list))
        .route("/admin/events/deliveries/{id}/retry", post(events::retry))
        .route("/admin/keys", get(keys::list))
        .route(
            "/admin/keys/signing/rotate",
            get(keys::confirm_rotate).post(keys::rotate),
        )
        .route("/admin/keys/admin", post(keys::create))
        .route(
            "/admin/keys/admin/{name}/revoke",
            get(keys::confirm_revoke).post(keys::revoke),
        )
        .layer(middleware::from_fn(refusal::render_refusals))
        // Pages show personal data and a session's CSRF token: never cached.
        .layer(header_layer(header::CACHE_CONTROL, "no-store"));
    Router::new()
        .merge(pages)
        .route("/admin/assets/console.css", get(stylesheet))
        .layer(header_layer(
            header::CONTENT_SECURITY_POLICY,
            CONTENT_SECURITY_POLICY,
        ))
        .layer(header_layer(header::X_FRAME_OPTIONS, "DENY"))
        .layer(header_layer(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header_layer(header::REFERRER_POLICY, "same-origin"))
}
