//! The client address a request counts against (rate limits, sign-in throttling): the
//! socket peer, or behind a trusted proxy its `X-Forwarded-For` entry, as the rate limits
//! decide ([`crate::rate_limit::RateLimits::client_of`]).
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::rate_limit::ClientKey;
use crate::state::AppState;

/// The client address of the request; `None` without a socket (a router driven directly).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub Option<ClientKey>);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(state.rate_limits().client_of(parts)))
    }
}
