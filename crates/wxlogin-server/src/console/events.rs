//! Events and webhook deliveries: the newest of each, and "Retry" on a dead delivery
//! (another full retry period, as `wxlogin webhooks retry` gives).
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;

use super::forms::{self, CsrfForm, DoneQuery};
use super::i18n::Lang;
use super::layout::{csrf_field, page, status_line, Frame, Section};
use super::refusal::Refusal;
use super::session::Operator;
use crate::state::AppState;
use crate::storage::{rfc3339, DeliveryStatus};

const SHOWN: u32 = 50;

pub async fn list(
    State(state): State<AppState>,
    lang: Lang,
    operator: Operator,
    query: Result<Query<DoneQuery>, QueryRejection>,
) -> Result<Response, Refusal> {
    let texts = lang.texts();
    let query = forms::query(query)?;
    let store = state.store();
    let events = store.recent_events(SHOWN).await?;
    let deliveries = store.recent_webhook_deliveries(SHOWN).await?;
    let status = match query.done.as_deref() {
        Some("retried") => Some(texts.delivery_retried),
        Some("not_retried") => Some(texts.delivery_not_retried),
        _ => None,
    };
    let body = html! {
        h1 { (texts.events_title) }
        (status_line(status))
        section {
            h2 { (texts.recent_events) }
            @if events.is_empty() {
                p { (texts.no_events) }
            } @else {
                table {
                    thead { tr {
                        th scope="col" { (texts.col_type) }
                        th scope="col" { (texts.col_user) }
                        th scope="col" { (texts.col_occurred) }
                    } }
                    tbody {
                        @for event in &events {
                            tr {
                                td { code { (event.event_type) } }
                                td {
                                    @if let Some(user_id) = &event.user_id {
                                        a href=(format!("/admin/users/{user_id}")) { code { (user_id) } }
                                    }
                                }
                                td { (rfc3339(event.occurred_at)) }
                            }
                        }
                    }
                }
            }
        }
        section {
            h2 { (texts.webhook_deliveries) }
            @if deliveries.is_empty() {
                p { (texts.no_deliveries) }
            } @else {
                table {
                    thead { tr {
                        th scope="col" { (texts.col_event) }
                        th scope="col" { (texts.col_webhook) }
                        th scope="col" { (texts.col_state) }
                        th scope="col" { (texts.col_attempts) }
                        th scope="col" { (texts.col_last_error) }
                        th scope="col" {}
                    } }
                    tbody {
                        @for delivery in &deliveries {
                            tr {
                                td { code { (delivery.event_type) } }
                                td { code { (delivery.webhook) } }
                                td.(delivery.status.as_str()) { (delivery.status.as_str()) }
                                td.num { (delivery.attempts) }
                                td { (delivery.last_error.as_deref().unwrap_or("")) }
                                td {
                                    @if delivery.status == DeliveryStatus::Dead {
                                        form method="post" action=(format!("/admin/events/deliveries/{}/retry", delivery.id)) {
                                            (csrf_field(&operator))
                                            button type="submit" { (texts.retry) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page(
        Frame {
            lang,
            operator: &operator,
            section: Section::Events,
            title: texts.events_title,
            path: "/admin/events",
        },
        body,
    ))
}

pub async fn retry(
    State(state): State<AppState>,
    operator: Operator,
    Path(id): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, Refusal> {
    forms::checked(&operator, form)?;
    let id: i64 = id.parse().map_err(|_| Refusal::NotFound)?;
    let store = state.store();
    let now = state.now();
    let retried = store.retry_webhook_delivery(id, now).await?;
    if retried {
        store
            .audit_console_action(&operator.key_name, "webhook.retried", now)
            .await?;
        tracing::info!(admin_key = %operator.key_name, delivery = id, "console: webhook delivery retried");
    }
    let done = if retried { "retried" } else { "not_retried" };
    Ok(Redirect::to(&format!("/admin/events?done={done}")).into_response())
}
