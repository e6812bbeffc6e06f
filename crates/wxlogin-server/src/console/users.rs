//! Users: search, a user's page (identities, sessions, roles), and the two actions
//! customer service needs, revoking every session and deleting the account, each behind
//! a confirmation page. The search and the changes are the admin API's own functions, so
//! the console and the API cannot disagree on a rule; changes are audited under the
//! operator's admin key.
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;

use super::forms::{self, CsrfForm, DoneQuery, HasCsrf};
use super::i18n::Lang;
use super::layout::{confirmation, csrf_field, page, status_line, Confirmation, Frame, Section};
use super::refusal::Refusal;
use super::session::Operator;
use crate::domain::mask_phone_number;
use crate::domain::Roles;
use crate::routes::admin::{find_users, user_detail, user_id};
use crate::state::AppState;
use crate::storage::Actor;

const PAGE_SIZE: u32 = 25;

#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    cursor: Option<String>,
    done: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RolesForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    roles: String,
}

impl HasCsrf for RolesForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// A search for a phone number is not written back into the page (the search box, the
/// language switch's return path, the next page's link): pages show phones masked only.
fn echoable(q: &str) -> bool {
    let digits = q.chars().filter(char::is_ascii_digit).count();
    let phone_like = digits >= 7
        && q.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')'));
    !phone_like
}

fn masked(phone: Option<&str>) -> String {
    phone.map(mask_phone_number).unwrap_or_default()
}

pub async fn search(
    State(state): State<AppState>,
    lang: Lang,
    operator: Operator,
    query: Result<Query<SearchQuery>, QueryRejection>,
) -> Result<Response, Refusal> {
    let texts = lang.texts();
    let query = forms::query(query)?;
    let q = query.q.trim();
    let found = find_users(&state, q, query.cursor.as_deref(), PAGE_SIZE).await?;
    let shown_q = if echoable(q) { q } else { "" };
    let status = match query.done.as_deref() {
        Some("deleted") => Some(texts.account_deleted),
        _ => None,
    };
    let path = format!(
        "/admin/users?{}",
        serde_urlencoded::to_string([("q", shown_q)]).unwrap_or_default()
    );
    // A phone number matches one account or a few: no next page to link to by its number.
    let next = found
        .next_cursor
        .as_ref()
        .filter(|_| echoable(q))
        .map(|cursor| {
            format!(
                "/admin/users?{}",
                serde_urlencoded::to_string([("q", q), ("cursor", cursor.as_str())])
                    .unwrap_or_default()
            )
        });
    let body = html! {
        h1 { (texts.users) }
        (status_line(status))
        form.search method="get" action="/admin/users" role="search" {
            label for="search-users" { (texts.search_users) }
            input #search-users type="search" name="q" value=(shown_q) maxlength="128" autocomplete="off";
            button type="submit" { (texts.search) }
        }
        p.hint { (texts.search_hint) }
        @if found.users.is_empty() {
            p { (texts.no_user_matches) }
        } @else {
            table.users {
                thead {
                    tr {
                        th scope="col" { (texts.col_user) }
                        th scope="col" { (texts.col_openid) }
                        th scope="col" { (texts.col_phone) }
                        th scope="col" { (texts.col_nickname) }
                        th scope="col" { (texts.col_created) }
                    }
                }
                tbody {
                    @for user in &found.users {
                        tr {
                            td { a href=(format!("/admin/users/{}", user.id)) { code { (user.id) } } }
                            td { code { (user.openid.as_deref().unwrap_or("")) } }
                            td { (masked(user.phone_number.as_deref())) }
                            td { (user.nickname.as_deref().unwrap_or("")) }
                            td { (user.created_at) }
                        }
                    }
                }
            }
            @if let Some(next) = &next {
                p { a href=(next) rel="next" { (texts.next_page) } }
            }
        }
    };
    Ok(page(
        Frame {
            lang,
            operator: &operator,
            section: Section::Users,
            title: texts.users,
            path: &path,
        },
        body,
    ))
}

pub async fn detail(
    State(state): State<AppState>,
    lang: Lang,
    operator: Operator,
    Path(id): Path<String>,
    query: Result<Query<DoneQuery>, QueryRejection>,
) -> Result<Response, Refusal> {
    let texts = lang.texts();
    let query = forms::query(query)?;
    let user = user_detail(&state, &user_id(&id)?).await?;
    let status = match query.done.as_deref() {
        Some("revoked") => Some(texts.sessions_ended),
        Some("roles") => Some(texts.roles_saved),
        _ => None,
    };
    let path = format!("/admin/users/{}", user.user.id);
    let body = html! {
        h1 { (texts.user) " " code { (user.user.id) } }
        (status_line(status))
        dl.inline {
            div { dt { (texts.col_nickname) } dd { (user.user.nickname.as_deref().unwrap_or("–")) } }
            div { dt { (texts.col_phone) } dd { (masked(user.user.phone_number.as_deref())) } }
            div { dt { (texts.col_unionid) } dd { code { (user.user.unionid.as_deref().unwrap_or("–")) } } }
            div { dt { (texts.col_created) } dd { (user.user.created_at) } }
            div { dt { (texts.active_sessions) } dd { (user.user.active_sessions) } }
        }
        section {
            h2 { (texts.identities) }
            table {
                thead { tr {
                    th scope="col" { (texts.col_appid) }
                    th scope="col" { (texts.col_openid) }
                    th scope="col" { (texts.col_unionid) }
                    th scope="col" { (texts.col_created) }
                } }
                tbody {
                    @for identity in &user.user.identities {
                        tr {
                            td { code { (identity.appid) } }
                            td { code { (identity.openid) } }
                            td { code { (identity.unionid.as_deref().unwrap_or("")) } }
                            td { (identity.created_at) }
                        }
                    }
                }
            }
        }
        section {
            h2 { (texts.sessions) }
            @if user.sessions.is_empty() {
                p { (texts.no_sessions) }
            } @else {
                table {
                    thead { tr {
                        th scope="col" { (texts.col_session) }
                        th scope="col" { (texts.col_appid) }
                        th scope="col" { (texts.col_created) }
                        th scope="col" { (texts.col_expires) }
                        th scope="col" { (texts.col_revoked) }
                    } }
                    tbody {
                        @for session in &user.sessions {
                            tr {
                                td { code { (session.id) } }
                                td { code { (session.appid) } }
                                td { (session.created_at) }
                                td { (session.expires_at) }
                                td { (session.revoked_at.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
        }
        section {
            h2 { (texts.roles) }
            form.roles method="post" action=(format!("{path}/roles")) {
                (csrf_field(&operator))
                label for="roles" { (texts.roles) }
                input #roles type="text" name="roles" value=(user.user.roles.join(",")) autocomplete="off";
                button type="submit" { (texts.save_roles) }
            }
            p.hint { (texts.roles_hint) }
        }
        section.actions {
            form method="get" action=(format!("{path}/revoke")) {
                button type="submit" { (texts.revoke_sessions) }
            }
            form method="get" action=(format!("{path}/delete")) {
                button.danger type="submit" { (texts.delete_account) }
            }
        }
    };
    Ok(page(
        Frame {
            lang,
            operator: &operator,
            section: Section::Users,
            title: texts.user,
            path: &path,
        },
        body,
    ))
}

/// The two actions on a user, each behind a confirmation page at `/admin/users/{id}/{verb}`.
#[derive(Debug, Clone, Copy)]
enum UserAction {
    Revoke,
    Delete,
}

async fn confirm_user_action(
    state: &AppState,
    lang: Lang,
    operator: &Operator,
    id: &str,
    action: UserAction,
) -> Result<Response, Refusal> {
    let texts = lang.texts();
    let id = user_id(id)?;
    if !state.store().user_exists(&id).await? {
        return Err(Refusal::UserNotFound);
    }
    let (verb, heading, explanation) = match action {
        UserAction::Revoke => ("revoke", texts.revoke_sessions, texts.confirm_revoke),
        UserAction::Delete => ("delete", texts.delete_account, texts.confirm_delete),
    };
    let cancel = format!("/admin/users/{id}");
    Ok(confirmation(Confirmation {
        lang,
        operator,
        section: Section::Users,
        heading,
        explanation,
        action: &format!("{cancel}/{verb}"),
        cancel: &cancel,
    }))
}

pub async fn confirm_revoke(
    State(state): State<AppState>,
    lang: Lang,
    operator: Operator,
    Path(id): Path<String>,
) -> Result<Response, Refusal> {
    confirm_user_action(&state, lang, &operator, &id, UserAction::Revoke).await
}

pub async fn confirm_delete(
    State(state): State<AppState>,
    lang: Lang,
    operator: Operator,
    Path(id): Path<String>,
) -> Result<Response, Refusal> {
    confirm_user_action(&state, lang, &operator, &id, UserAction::Delete).await
}

pub async fn revoke(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, Refusal> {
    forms::checked(&operator, form)?;
    let id = user_id(&id)?;
    let store = state.store();
    if !store.user_exists(&id).await? {
        return Err(Refusal::UserNotFound);
    }
    let ended = store
        .revoke_user(&id, Actor::AdminKey(&operator.key_name), state.now())
        .await?;
    tracing::info!(admin_key = %operator.key_name, user_id = %id, ended, "console: sessions revoked");
    Ok(Redirect::to(&format!("/admin/users/{id}?done=revoked")).into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, Refusal> {
    forms::checked(&operator, form)?;
    let id = user_id(&id)?;
    let deleted = state
        .store()
        .delete_user(&id, Actor::AdminKey(&operator.key_name), state.now())
        .await?;
    if !deleted {
        return Err(Refusal::UserNotFound);
    }
    tracing::info!(admin_key = %operator.key_name, user_id = %id, "console: account deleted");
    Ok(Redirect::to("/admin/users?done=deleted").into_response())
}

pub async fn save_roles(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
    form: Result<Form<RolesForm>, FormRejection>,
) -> Result<Response, Refusal> {
    let form = forms::checked(&operator, form)?;
    let id = user_id(&id)?;
    let listed: Vec<&str> = form
        .roles
        .split(',')
        .map(str::trim)
        .filter(|role| !role.is_empty())
        .collect();
    let roles = Roles::parse(&listed).map_err(|error| Refusal::Invalid(error.0))?;
    let changed = state
        .store()
        .set_roles(
            &id,
            &roles,
            Actor::AdminKey(&operator.key_name),
            state.now(),
        )
        .await?;
    if !changed {
        return Err(Refusal::UserNotFound);
    }
    tracing::info!(admin_key = %operator.key_name, user_id = %id, "console: roles changed");
    Ok(Redirect::to(&format!("/admin/users/{id}?done=roles")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_not_echoed_but_other_searches_are() {
        for phone in ["13812345678", "+8613812345678", "+86 138-1234-5678"] {
            assert!(!echoable(phone), "{phone}");
        }
        for other in ["alice", "oPEbY47kZXMtQAFQjPCXEEq_y87I", "1234", ""] {
            assert!(echoable(other), "{other}");
        }
    }
}
