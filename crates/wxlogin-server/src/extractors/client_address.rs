//! The client address a request counts against in the abuse limits: the peer, or behind
//! a trusted proxy the address it forwarded (the rule is [`RateLimits::client_of`]).
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::rate_limit::ClientKey;
#[cfg(doc)]
use crate::rate_limit::RateLimits;
use crate::state::AppState;

/// The client address of the request (see [`RateLimits::client_of`]).
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
