//! Why a console request failed, as one type handlers return with `?`, and the one place
//! that turns it into a page. A handler does not know the reader's language when a lower
//! layer fails, so the refusal travels in the answer's extensions and
//! [`render_refusals`] writes the page in the request's language.
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::i18n::{Lang, Texts};
use super::layout;
use crate::error::{ApiError, ErrorCode};
use crate::storage::StorageError;
use crate::tokens::TokenError;

#[derive(Debug, Clone)]
pub enum Refusal {
    /// A form's CSRF token is missing or not this session's.
    FormExpired,
    NotFound,
    UserNotFound,
    /// Bad input; the message says which rule (safe to show: it names no value).
    Invalid(String),
    /// A fault of the server or database (logged where it happened).
    Internal,
}

impl Refusal {
    fn status(&self) -> StatusCode {
        match self {
            Refusal::FormExpired => StatusCode::FORBIDDEN,
            Refusal::NotFound | Refusal::UserNotFound => StatusCode::NOT_FOUND,
            Refusal::Invalid(_) => StatusCode::BAD_REQUEST,
            Refusal::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn message(&self, texts: &Texts) -> String {
        match self {
            Refusal::FormExpired => texts.form_expired.to_owned(),
            Refusal::NotFound => texts.page_not_found.to_owned(),
            Refusal::UserNotFound => texts.user_not_found.to_owned(),
            Refusal::Invalid(rule) => format!("{}: {rule}", texts.bad_request),
            Refusal::Internal => texts.internal_error.to_owned(),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = self.status().into_response();
        response.extensions_mut().insert(self);
        response
    }
}

impl From<StorageError> for Refusal {
    fn from(error: StorageError) -> Self {
        tracing::error!(%error, "console: storage failed");
        Refusal::Internal
    }
}

impl From<TokenError> for Refusal {
    fn from(error: TokenError) -> Self {
        tracing::error!(%error, "console: signing keys failed");
        Refusal::Internal
    }
}

/// The admin API's checks answer the console too (one rule each); its refusals become pages.
impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        match error.code {
            ErrorCode::NotFound => Refusal::UserNotFound,
            ErrorCode::InvalidRequest => Refusal::Invalid(error.message.to_string()),
            _ => {
                tracing::error!(code = error.code.as_str(), "console: request failed");
                Refusal::Internal
            }
        }
    }
}

/// Write the page of a [`Refusal`] a handler answered with, in the request's language.
pub async fn render_refusals(request: Request, next: Next) -> Response {
    let lang = Lang::of(request.headers());
    let mut response = next.run(request).await;
    match response.extensions_mut().remove::<Refusal>() {
        Some(refusal) => {
            let texts = lang.texts();
            let page = layout::message_page(lang, &refusal.message(texts));
            (refusal.status(), page).into_response()
        }
        None => response,
    }
}
