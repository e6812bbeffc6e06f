//! The frame every console page shares: head, navigation, sign-out, language switch, and
//! the small pieces forms repeat (CSRF field, confirmation). maud escapes every value it
//! prints, so a nickname or an event's data cannot inject markup; nothing here writes a
//! `style` or `on…` attribute or an inline script, which the Content-Security-Policy would
//! refuse anyway.
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

use super::i18n::Lang;
use super::session::Operator;

/// Which navigation entry a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Overview,
    Users,
    Events,
    Keys,
}

/// A page of the signed-in console.
pub struct Frame<'a> {
    pub lang: Lang,
    pub operator: &'a Operator,
    pub section: Section,
    pub title: &'a str,
    /// This page's path (and query), where the language switch comes back to.
    pub path: &'a str,
}

fn head(lang: Lang, title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="referrer" content="same-origin";
            title { (title) " · " (lang.texts().product) }
            link rel="stylesheet" href="/admin/assets/console.css";
            // No favicon to fetch (a browser asks for /favicon.ico otherwise, and logs its 404).
            link rel="icon" href="data:,";
        }
    }
}

/// `/admin/lang?to=…&back=…` for the switch.
fn lang_link(to: Lang, back: &str) -> String {
    format!(
        "/admin/lang?{}",
        serde_urlencoded::to_string([("to", to.code()), ("back", back)]).unwrap_or_default()
    )
}

fn lang_switch(lang: Lang, back: &str) -> Markup {
    html! {
        p.lang-switch {
            @if lang == Lang::En { span aria-current="true" { "English" } } @else { a href=(lang_link(Lang::En, back)) lang="en" { "English" } }
            " · "
            @if lang == Lang::Zh { span aria-current="true" { "中文" } } @else { a href=(lang_link(Lang::Zh, back)) lang="zh-CN" { "中文" } }
        }
    }
}

/// The hidden field every POST form carries.
pub fn csrf_field(operator: &Operator) -> Markup {
    html! { input type="hidden" name="csrf" value=(operator.csrf); }
}

/// A signed-in page around `body`.
pub fn page(frame: Frame<'_>, body: Markup) -> Response {
    let texts = frame.lang.texts();
    let nav = [
        (Section::Overview, "/admin/", texts.nav_overview),
        (Section::Users, "/admin/users", texts.nav_users),
        (Section::Events, "/admin/events", texts.nav_events),
        (Section::Keys, "/admin/keys", texts.nav_keys),
    ];
    let markup = html! {
        (DOCTYPE)
        html lang=(frame.lang.html_lang()) {
            (head(frame.lang, frame.title))
            body {
                header.top {
                    span.brand { (texts.product) }
                    nav aria-label=(texts.product) {
                        ul {
                            @for (section, href, label) in nav {
                                li {
                                    @if section == frame.section {
                                        a href=(href) aria-current="page" { (label) }
                                    } @else {
                                        a href=(href) { (label) }
                                    }
                                }
                            }
                        }
                    }
                    div.who {
                        span { (texts.signed_in_as) " " strong { (frame.operator.key_name) } }
                        form method="post" action="/admin/sign-out" {
                            (csrf_field(frame.operator))
                            button type="submit" { (texts.sign_out) }
                        }
                    }
                }
                main {
                    (body)
                }
                footer { (lang_switch(frame.lang, frame.path)) }
            }
        }
    };
    Html(markup.into_string()).into_response()
}

/// A page outside the signed-in frame (sign-in, errors).
pub fn bare_page(lang: Lang, title: &str, back: &str, body: Markup) -> Html<String> {
    let markup = html! {
        (DOCTYPE)
        html lang=(lang.html_lang()) {
            (head(lang, title))
            body.bare {
                main {
                    (body)
                }
                footer { (lang_switch(lang, back)) }
            }
        }
    };
    Html(markup.into_string())
}

/// An error page: the message as an alert and a way back.
pub fn message_page(lang: Lang, message: &str) -> Html<String> {
    let texts = lang.texts();
    bare_page(
        lang,
        texts.product,
        "/admin/",
        html! {
            h1 { (texts.product) }
            p.alert role="alert" { (message) }
            p { a href="/admin/" { (texts.back) } }
        },
    )
}

/// A status line after an action (`role=status`), when there is one.
pub fn status_line(message: Option<&str>) -> Markup {
    html! {
        @if let Some(message) = message {
            p.status role="status" { (message) }
        }
    }
}

/// "Are you sure": what will happen, a Confirm button that posts to this same path, and
/// Cancel back to `cancel`.
pub struct Confirmation<'a> {
    pub lang: Lang,
    pub operator: &'a Operator,
    pub section: Section,
    pub heading: &'a str,
    pub explanation: &'a str,
    /// This page's path, which the Confirm button posts to.
    pub action: &'a str,
    pub cancel: &'a str,
}

pub fn confirmation(confirm: Confirmation<'_>) -> Response {
    let texts = confirm.lang.texts();
    page(
        Frame {
            lang: confirm.lang,
            operator: confirm.operator,
            section: confirm.section,
            title: confirm.heading,
            path: confirm.action,
        },
        html! {
            h1 { (confirm.heading) }
            p.warning { (confirm.explanation) }
            form.confirm method="post" action=(confirm.action) {
                (csrf_field(confirm.operator))
                button.danger type="submit" { (texts.confirm) }
                " "
                a.cancel href=(confirm.cancel) { (texts.cancel) }
            }
        },
    )
}
