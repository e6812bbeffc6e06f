//! Authorization-server metadata (RFC 8414), served at both
//! `/.well-known/openid-configuration` and `/.well-known/oauth-authorization-server`, so
//! that `spring.security.oauth2.resourceserver.jwt.issuer-uri` and its peers in other
//! stacks find the JWKS from the issuer alone. Only when `--issuer` is an absolute http(s)
//! URL: the metadata's URLs are built under it, and a resource server checks that the
//! document's `issuer` equals the one it was configured with.
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Metadata {
    pub issuer: String,
    pub jwks_uri: String,
    pub introspection_endpoint: String,
    pub token_endpoint: String,
    pub introspection_endpoint_auth_methods_supported: Vec<&'static str>,
    pub id_token_signing_alg_values_supported: Vec<&'static str>,
    pub token_endpoint_auth_signing_alg_values_supported: Vec<&'static str>,
    pub response_types_supported: Vec<&'static str>,
    pub subject_types_supported: Vec<&'static str>,
    pub grant_types_supported: Vec<&'static str>,
}

/// The issuer when it can anchor discovery: an absolute http(s) URL with a host and no
/// query or fragment (RFC 8414 §2).
pub fn discovery_issuer(issuer: &str) -> Option<url::Url> {
    let url = url::Url::parse(issuer).ok()?;
    let usable = matches!(url.scheme(), "https" | "http")
        && url.host_str().is_some_and(|host| !host.is_empty())
        && url.query().is_none()
        && url.fragment().is_none();
    usable.then_some(url)
}

fn metadata(issuer: &str, algorithms: Vec<&'static str>) -> Option<Metadata> {
    discovery_issuer(issuer)?;
    let base = issuer.trim_end_matches('/');
    Some(Metadata {
        issuer: issuer.to_owned(),
        jwks_uri: format!("{base}/.well-known/jwks.json"),
        introspection_endpoint: format!("{base}/v1/introspect"),
        token_endpoint: format!("{base}/v1/token/refresh"),
        introspection_endpoint_auth_methods_supported: vec!["bearer"],
        id_token_signing_alg_values_supported: algorithms.clone(),
        token_endpoint_auth_signing_alg_values_supported: algorithms,
        response_types_supported: vec!["token"],
        subject_types_supported: vec!["public"],
        grant_types_supported: vec!["refresh_token"],
    })
}

async fn answer(state: AppState) -> Result<impl IntoResponse, ApiError> {
    let algorithms = state.sessions().keys().algorithms();
    let document = metadata(&state.settings().tokens.issuer, algorithms).ok_or_else(|| {
        ApiError::new(
            ErrorCode::NotFound,
            "discovery is off: --issuer is not an absolute https URL",
        )
    })?;
    Ok((
        [(header::CACHE_CONTROL, "public, max-age=300")],
        axum::Json(document),
    ))
}

/// OpenID-style discovery (what most resource-server libraries read).
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "operations",
    responses(
        (status = 200, description = "Server metadata (RFC 8414)", body = Metadata),
        (status = 404, description = "not_found: --issuer is not an absolute URL", body = ErrorBody),
    ))]
pub async fn openid_configuration(
    State(state): State<AppState>,
) -> Result<impl IntoResponse, ApiError> {
    answer(state).await
}

/// RFC 8414 authorization-server metadata (the same document).
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "operations",
    responses(
        (status = 200, description = "Server metadata (RFC 8414)", body = Metadata),
        (status = 404, description = "not_found: --issuer is not an absolute URL", body = ErrorBody),
    ))]
pub async fn oauth_authorization_server(
    State(state): State<AppState>,
) -> Result<impl IntoResponse, ApiError> {
    answer(state).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_absolute_url_anchors_discovery() {
        assert!(discovery_issuer("https://login.example.com").is_some());
        assert!(discovery_issuer("https://login.example.com/tenant").is_some());
        assert!(discovery_issuer("wxlogin").is_none());
        assert!(discovery_issuer("https://login.example.com/?q=1").is_none());
        assert!(discovery_issuer("ftp://login.example.com").is_none());
    }

    #[test]
    fn metadata_urls_live_under_the_issuer() {
        let document = metadata("https://login.example.com/", vec!["EdDSA"]).unwrap();
        assert_eq!(document.issuer, "https://login.example.com/");
        assert_eq!(
            document.jwks_uri,
            "https://login.example.com/.well-known/jwks.json"
        );
        assert_eq!(
            document.introspection_endpoint,
            "https://login.example.com/v1/introspect"
        );
        assert!(metadata("wxlogin", vec!["EdDSA"]).is_none());
    }
}
