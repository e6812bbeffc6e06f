//! Signing in and out, and the language switch.
//!
//! A refused sign-in is counted per client address in the database (so N instances share
//! the count); after [`MAX_REFUSED_SIGN_INS`] in a minute the address is answered 429
//! without the key being looked at, which caps guessing far below anything useful against
//! a 256-bit key and keeps a flood from turning into database lookups of random keys.
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;

use super::forms::{self, CsrfForm};
use super::i18n::{Lang, LANG_COOKIE};
use super::layout::bare_page;
use super::refusal::Refusal;
use super::session::{
    cookie, hash_token, random_token, set_cookie, tokens_match, Operator, ABSOLUTE_TIMEOUT,
    IDLE_TIMEOUT, SESSION_COOKIE, SIGN_IN_CSRF_COOKIE,
};
use crate::domain::{hash_admin_key, AdminKeySecret, AdminScope};
use crate::extractors::ClientAddress;
use crate::state::AppState;

/// Refused sign-ins one address may make in a minute.
pub const MAX_REFUSED_SIGN_INS: i64 = 5;
const SIGN_IN_WINDOW: i64 = 60;
/// How long the sign-in form's CSRF cookie lives.
const SIGN_IN_FORM_LIFETIME: i64 = 3600;

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    key: String,
    #[serde(default)]
    csrf: String,
}

/// The sign-in page with a fresh form token, and `alert` when the last try was refused.
fn sign_in_page(state: &AppState, lang: Lang, status: StatusCode, alert: Option<&str>) -> Response {
    let texts = lang.texts();
    let csrf = random_token();
    let page = bare_page(
        lang,
        texts.sign_in_title,
        "/admin/sign-in",
        html! {
            h1 { (texts.sign_in_title) }
            @if let Some(alert) = alert {
                p.alert role="alert" { (alert) }
            }
            form.sign-in method="post" action="/admin/sign-in" {
                input type="hidden" name="csrf" value=(csrf);
                label for="admin-key" { (texts.admin_key) }
                input #admin-key type="password" name="key" autocomplete="off" required autofocus;
                button type="submit" { (texts.sign_in) }
            }
            p.hint { (texts.sign_in_hint) }
        },
    );
    let cookie = set_cookie(state, SIGN_IN_CSRF_COOKIE, &csrf, SIGN_IN_FORM_LIFETIME);
    (status, [(header::SET_COOKIE, cookie)], page).into_response()
}

pub async fn show_sign_in(State(state): State<AppState>, lang: Lang) -> Response {
    sign_in_page(&state, lang, StatusCode::OK, None)
}

pub async fn sign_in(
    State(state): State<AppState>,
    lang: Lang,
    ClientAddress(client): ClientAddress,
    headers: axum::http::HeaderMap,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Result<Response, Refusal> {
    let texts = lang.texts();
    let Form(form) = form.map_err(|_| Refusal::FormExpired)?;
    let expected = cookie(&headers, SIGN_IN_CSRF_COOKIE).unwrap_or("");
    if !tokens_match(&form.csrf, expected) {
        return Err(Refusal::FormExpired);
    }
    let store = state.store();
    let now = state.now();
    store
        .prune_console(
            now - IDLE_TIMEOUT,
            now - ABSOLUTE_TIMEOUT,
            now - SIGN_IN_WINDOW,
        )
        .await?;
    let client = client.map_or_else(|| "unknown".to_owned(), |key| key.address().to_string());
    let window = now - now.rem_euclid(SIGN_IN_WINDOW);
    if store.console_sign_in_failures(&client, window).await? >= MAX_REFUSED_SIGN_INS {
        tracing::warn!(%client, "console: sign-in refused, too many refused sign-ins");
        return Ok(sign_in_page(
            &state,
            lang,
            StatusCode::TOO_MANY_REQUESTS,
            Some(texts.too_many_sign_ins),
        ));
    }
    let presented = form.key.trim();
    let key_hash = hash_admin_key(presented);
    let record = if AdminKeySecret::looks_like_one(presented) {
        store.admin_key_by_hash(&key_hash, now).await?
    } else {
        None
    };
    let refusal = match &record {
        None => Some(texts.key_refused),
        Some(key) if !key.scopes.contains(AdminScope::Console) => Some(texts.key_lacks_console),
        Some(_) => None,
    };
    let (Some(key), None) = (record, refusal) else {
        store.add_console_sign_in_failure(&client, window).await?;
        tracing::info!(%client, "console: sign-in refused");
        return Ok(sign_in_page(
            &state,
            lang,
            StatusCode::UNAUTHORIZED,
            refusal,
        ));
    };
    let token = random_token();
    let csrf = random_token();
    store
        .create_console_session(&hash_token(&token), &key_hash, &key.name, &csrf, now)
        .await?;
    tracing::info!(admin_key = %key.name, "console: signed in");
    let mut response = Redirect::to("/admin/").into_response();
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        set_cookie(&state, SESSION_COOKIE, &token, ABSOLUTE_TIMEOUT),
    );
    headers.append(
        header::SET_COOKIE,
        set_cookie(&state, SIGN_IN_CSRF_COOKIE, "", 0),
    );
    Ok(response)
}

pub async fn sign_out(
    State(state): State<AppState>,
    operator: Operator,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, Refusal> {
    forms::checked(&operator, form)?;
    state
        .store()
        .end_console_session(&operator.token_hash, Some(&operator.key_name), state.now())
        .await?;
    tracing::info!(admin_key = %operator.key_name, "console: signed out");
    Ok((
        [(
            header::SET_COOKIE,
            set_cookie(&state, SESSION_COOKIE, "", 0),
        )],
        Redirect::to("/admin/sign-in"),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
pub struct LangSwitch {
    to: String,
    back: Option<String>,
}

/// Only a console path: the switch must not become an open redirect.
fn local_console_path(back: Option<&str>) -> &str {
    match back {
        Some(path)
            if path.starts_with("/admin")
                && !path.contains("//")
                && !path.contains('\\')
                && path.chars().all(|c| c.is_ascii_graphic()) =>
        {
            path
        }
        _ => "/admin/",
    }
}

pub async fn switch_lang(
    State(state): State<AppState>,
    query: Result<Query<LangSwitch>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Refusal> {
    let Query(switch) = query.map_err(|_| Refusal::Invalid("to must be en or zh".to_owned()))?;
    let lang = Lang::parse(&switch.to)
        .ok_or_else(|| Refusal::Invalid("to must be en or zh".to_owned()))?;
    let back = local_console_path(switch.back.as_deref());
    Ok((
        [(
            header::SET_COOKIE,
            set_cookie(&state, LANG_COOKIE, lang.code(), 365 * 24 * 3600),
        )],
        Redirect::to(back),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_language_switch_only_goes_back_to_console_pages() {
        assert_eq!(
            local_console_path(Some("/admin/users?q=x")),
            "/admin/users?q=x"
        );
        assert_eq!(local_console_path(Some("https://evil.example/")), "/admin/");
        assert_eq!(local_console_path(Some("//evil.example/admin")), "/admin/");
        assert_eq!(local_console_path(Some("/admin//evil.example")), "/admin/");
        assert_eq!(local_console_path(Some("/admin/\\evil")), "/admin/");
        assert_eq!(local_console_path(Some("/v1/me")), "/admin/");
        assert_eq!(local_console_path(None), "/admin/");
    }
}
