//! The OpenAPI description, generated from the handlers' annotations and types.
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{admin, discovery, health, introspect, jwks, login, me, metrics};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "wxlogin",
        description = "Login backend for WeChat Mini Programs. Errors are `{\"error\": {\"code\", \"message\", \"wechat_errcode\"?}}`."
    ),
    paths(
        login::login,
        login::refresh,
        login::logout,
        me::get_me,
        me::delete_me,
        me::patch_me,
        me::post_phone,
        me::post_userinfo,
        jwks::jwks,
        health::healthz,
        metrics::metrics,
        openapi_path,
        admin::search_users,
        admin::get_user,
        admin::put_roles,
        admin::revoke_user,
        admin::delete_user,
        admin::list_events,
        admin::list_audit,
        introspect::introspect,
        discovery::openid_configuration,
        discovery::oauth_authorization_server,
    ),
    components(schemas(crate::error::ErrorBody, crate::error::ErrorDetail)),
    modifiers(&BearerAuth),
    tags(
        (name = "login", description = "Code exchange and our own tokens"),
        (name = "user", description = "The logged-in user"),
        (name = "operations", description = "Health, metrics, keys, this description"),
        (name = "admin", description = "The team's backend and operators (admin API keys; each route names its scope)"),
    )
)]
struct ApiDoc;

/// This description (documented here because the handler itself lives in `routes`).
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1 document", body = Object)))]
#[allow(dead_code)]
fn openapi_path() {}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT (EdDSA)")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "admin_key",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("wxa_… admin key (wxlogin admin-keys create)")
                    .description(Some(
                        "An admin API key; each route lists the scope it needs",
                    ))
                    .build(),
            ),
        );
    }
}

pub fn api_doc() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::ROUTES;

    #[test]
    fn every_route_is_described() {
        let doc = serde_json::to_value(api_doc()).unwrap();
        for (method, path) in ROUTES {
            assert!(
                doc["paths"][path][method].is_object(),
                "{method} {path} missing from the OpenAPI document"
            );
        }
        let described: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|item| item.as_object().unwrap().len())
            .sum();
        assert_eq!(
            described,
            ROUTES.len(),
            "the document describes routes the router lacks"
        );
    }
}
