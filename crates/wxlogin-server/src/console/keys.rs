//! Keys: the token signing keys (list, rotate) and the admin keys (list, revoke, create;
//! a new key is shown once, on the page that answers its creation, and only its hash is
//! kept). Each change is audited under the operator's admin key.
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;

use super::forms::{self, CsrfForm, DoneQuery};
use super::i18n::Lang;
use super::layout::{confirmation, csrf_field, page, status_line, Confirmation, Frame, Section};
use super::refusal::Refusal;
use super::session::Operator;
use crate::domain::{AdminKeyName, AdminScope, AdminScopes};
use crate::state::AppState;
use crate::storage::{rfc3339, CreateAdminKeyError};

fn key_name(name: &str) -> Result<AdminKeyName, Refusal> {
    AdminKeyName::parse(name).map_err(|_| Refusal::NotFound)
}

pub async fn list(
    State(state): State<AppState>,
    lang: Lang,
    operator: Operator,
    query: Result<Query<DoneQuery>, QueryRejection>,
) -> Result<Response, Refusal> {
    let texts = lang.texts();
    let query = forms::query(query)?;
    let now = state.now();
    let signing_keys = state.sessions().keys();
    signing_keys.reload().await?;
    let summaries = signing_keys.summaries(now);
    let admin_keys = state.store().admin_keys().await?;
    let status = match query.done.as_deref() {
        Some("rotated") => Some(texts.signing_key_rotated),
        Some("revoked") => Some(texts.admin_key_revoked),
        _ => None,
    };
    let body = html! {
        h1 { (texts.keys) }
        (status_line(status))
        section {
            h2 { (texts.signing_keys) }
            table.signing-keys {
                thead { tr {
                    th scope="col" { (texts.col_kid) }
                    th scope="col" { (texts.col_alg) }
                    th scope="col" { (texts.col_created) }
                    th scope="col" { (texts.col_state) }
                } }
                tbody {
                    @for key in summaries.iter().rev() {
                        tr {
                            td { code { (key.kid) } }
                            td { (key.algorithm.as_str()) }
                            td { (rfc3339(key.created_at)) }
                            td {
                                @if key.current { (texts.key_current) }
                                @else if key.published { (texts.key_published) }
                                @else { (texts.key_retired) }
                            }
                        }
                    }
                }
            }
            form method="get" action="/admin/keys/signing/rotate" {
                button type="submit" { (texts.rotate_signing_key) }
            }
        }
        section {
            h2 { (texts.admin_keys) }
            table.admin-keys {
                thead { tr {
                    th scope="col" { (texts.col_name) }
                    th scope="col" { (texts.col_scopes) }
                    th scope="col" { (texts.col_created) }
                    th scope="col" { (texts.col_last_used) }
                    th scope="col" {}
                } }
                tbody {
                    @for key in &admin_keys {
                        tr {
                            td { code { (key.name) } }
                            td { (key.scopes.to_string()) }
                            td { (rfc3339(key.created_at)) }
                            td { (key.last_used_at.map_or_else(|| texts.never.to_owned(), rfc3339)) }
                            td {
                                form method="get" action=(format!("/admin/keys/admin/{}/revoke", key.name)) {
                                    button type="submit" aria-label=(format!("{} {}", texts.revoke, key.name)) { (texts.revoke) }
                                }
                            }
                        }
                    }
                }
            }
        }
        section {
            h2 { (texts.create_admin_key) }
            form.create-key method="post" action="/admin/keys/admin" {
                (csrf_field(&operator))
                label for="key-name" { (texts.name) }
                input #key-name type="text" name="name" required maxlength="64" autocomplete="off";
                fieldset {
                    legend { (texts.scopes) }
                    @for scope in AdminScope::ALL {
                        label.check {
                            input type="checkbox" name="scope" value=(scope.as_str());
                            " " (scope.as_str())
                        }
                    }
                }
                button type="submit" { (texts.create_key) }
            }
        }
    };
    Ok(page(
        Frame {
            lang,
            operator: &operator,
            section: Section::Keys,
            title: texts.keys,
            path: "/admin/keys",
        },
        body,
    ))
}

pub async fn confirm_rotate(lang: Lang, operator: Operator) -> Response {
    let texts = lang.texts();
    confirmation(Confirmation {
        lang,
        operator: &operator,
        section: Section::Keys,
        heading: texts.rotate_signing_key,
        explanation: texts.confirm_rotate,
        action: "/admin/keys/signing/rotate",
        cancel: "/admin/keys",
    })
}

pub async fn rotate(
    State(state): State<AppState>,
    operator: Operator,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, Refusal> {
    forms::checked(&operator, form)?;
    let now = state.now();
    let kid = state.sessions().keys().rotate(now).await?;
    state
        .store()
        .audit_console_action(&operator.key_name, "signing_key.rotated", now)
        .await?;
    tracing::info!(admin_key = %operator.key_name, %kid, "console: signing key rotated");
    Ok(Redirect::to("/admin/keys?done=rotated").into_response())
}

pub async fn confirm_revoke(
    lang: Lang,
    operator: Operator,
    Path(name): Path<String>,
) -> Result<Response, Refusal> {
    let texts = lang.texts();
    let name = key_name(&name)?;
    let action = format!("/admin/keys/admin/{name}/revoke");
    Ok(confirmation(Confirmation {
        lang,
        operator: &operator,
        section: Section::Keys,
        heading: &format!("{} {name}", texts.revoke),
        explanation: texts.confirm_revoke_key,
        action: &action,
        cancel: "/admin/keys",
    }))
}

pub async fn revoke(
    State(state): State<AppState>,
    operator: Operator,
    Path(name): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, Refusal> {
    forms::checked(&operator, form)?;
    let name = key_name(&name)?;
    let store = state.store();
    if !store.revoke_admin_key(&name).await? {
        return Err(Refusal::NotFound);
    }
    store
        .audit_console_action(&operator.key_name, "admin_key.revoked", state.now())
        .await?;
    tracing::info!(admin_key = %operator.key_name, revoked = %name, "console: admin key revoked");
    Ok(Redirect::to("/admin/keys?done=revoked").into_response())
}

/// The create form: `csrf`, `name` and one `scope` per ticked box.
pub async fn create(
    State(state): State<AppState>,
    lang: Lang,
    operator: Operator,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, Refusal> {
    let texts = lang.texts();
    let Form(fields) = form.map_err(|_| Refusal::FormExpired)?;
    let field = |name: &str| {
        fields
            .iter()
            .find(|(key, _)| key == name)
            .map_or("", |(_, value)| value.as_str())
    };
    operator.check_csrf(field("csrf"))?;
    let name = AdminKeyName::parse(field("name").trim()).map_err(|e| Refusal::Invalid(e.0))?;
    let ticked: Vec<&str> = fields
        .iter()
        .filter(|(key, _)| key == "scope")
        .map(|(_, value)| value.as_str())
        .collect();
    let scopes = AdminScopes::parse(&ticked.join(",")).map_err(|e| Refusal::Invalid(e.0))?;
    let now = state.now();
    let store = state.store();
    let secret = match store.create_admin_key(&name, &scopes, now).await {
        Ok(secret) => secret,
        Err(CreateAdminKeyError::NameTaken(_)) => {
            return Err(Refusal::Invalid(texts.name_taken.to_owned()))
        }
        Err(CreateAdminKeyError::Storage(error)) => return Err(error.into()),
    };
    store
        .audit_console_action(&operator.key_name, "admin_key.created", now)
        .await?;
    tracing::info!(admin_key = %operator.key_name, created = %name, %scopes, "console: admin key created");
    let body = html! {
        h1 { (texts.new_admin_key) }
        (status_line(Some(texts.shown_only_now)))
        dl.inline {
            div { dt { (texts.col_name) } dd { code { (name) } } }
            div { dt { (texts.col_scopes) } dd { (scopes.to_string()) } }
        }
        p { code.secret data-testid="new-admin-key" aria-label=(texts.new_admin_key) { (secret.expose()) } }
        p { a href="/admin/keys" { (texts.back) } }
    };
    Ok(page(
        Frame {
            lang,
            operator: &operator,
            section: Section::Keys,
            title: texts.new_admin_key,
            path: "/admin/keys",
        },
        body,
    ))
}
