//! The one error type every handler returns. Whatever fails, the client gets the
//! contract's shape: `{"error": {"code", "message", "wechat_errcode"?}}` with a status
//! that matches the code. Internal details are logged, never sent.
//!
//! Every lower layer's error becomes an [`ApiError`] here, through `From`, so handlers use
//! plain `?` and the contract table and its conversions are read in one file. The one
//! mapping that lives elsewhere is `services::upstream_error`: it needs the call's name.
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use wxlogin_crypto::CryptoError;

use crate::domain::DomainError;
use crate::sessions::{AuthError, RefreshError, SessionError};
use crate::single_flight::FlightLost;
use crate::storage::StorageError;
use crate::tokens::TokenError;

/// The machine-readable `error.code` values of the contract (plus the HTTP-level ones
/// for routing and body limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidCode,
    CodeUsed,
    Unauthorized,
    /// An admin key without the route's scope (403).
    Forbidden,
    LoginRefused,
    SignatureMismatch,
    DecryptFailed,
    WatermarkMismatch,
    RateLimited,
    /// WeChat is down or slow: try again later (503).
    UpstreamUnavailable,
    /// WeChat rejected this server's own credentials or network: the operator must act (502).
    UpstreamMisconfigured,
    /// Our own database is down or overloaded: retry later (503).
    DatabaseUnavailable,
    NotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidCode => "invalid_code",
            ErrorCode::CodeUsed => "code_used",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::LoginRefused => "login_refused",
            ErrorCode::SignatureMismatch => "signature_mismatch",
            ErrorCode::DecryptFailed => "decrypt_failed",
            ErrorCode::WatermarkMismatch => "watermark_mismatch",
            ErrorCode::RateLimited => "rate_limited",
            // Both upstream failures share the contract's code; the status tells them apart.
            ErrorCode::UpstreamUnavailable | ErrorCode::UpstreamMisconfigured => {
                "upstream_unavailable"
            }
            ErrorCode::DatabaseUnavailable => "database_unavailable",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::Internal => "internal",
        }
    }

    /// A `Retry-After` hint for failures that pass with time: WeChat's minute quota, and
    /// outages of WeChat or of our database.
    pub fn retry_after_secs(self) -> Option<u64> {
        match self {
            ErrorCode::RateLimited => Some(60),
            ErrorCode::UpstreamUnavailable | ErrorCode::DatabaseUnavailable => Some(5),
            _ => None,
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidRequest
            | ErrorCode::InvalidCode
            | ErrorCode::SignatureMismatch
            | ErrorCode::DecryptFailed
            | ErrorCode::WatermarkMismatch => StatusCode::BAD_REQUEST,
            ErrorCode::CodeUsed => StatusCode::CONFLICT,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::LoginRefused | ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::UpstreamUnavailable | ErrorCode::DatabaseUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ErrorCode::UpstreamMisconfigured => StatusCode::BAD_GATEWAY,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An error answer. `message` is shown to the client, so it must never hold secrets;
/// constructors that wrap internal faults log the cause and send a generic text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub wechat_errcode: Option<i64>,
    /// Overrides the code's usual `Retry-After` (a rate limit knows its exact wait).
    pub retry_after_secs: Option<u64>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)?;
        if let Some(errcode) = self.wechat_errcode {
            write!(f, " (wechat errcode {errcode})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            wechat_errcode: None,
            retry_after_secs: None,
        }
    }

    /// Tell the client to wait `wait` (rounded up to whole seconds, at least 1).
    pub fn with_retry_after(mut self, wait: std::time::Duration) -> Self {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        self.retry_after_secs = Some(seconds.max(1));
        self
    }

    pub fn with_wechat_errcode(mut self, errcode: i64) -> Self {
        self.wechat_errcode = Some(errcode);
        self
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }

    /// An internal fault: the cause goes to the log (it may name tables or paths, never
    /// secrets, since the storage and token errors redact them), the client gets a
    /// generic message.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(ErrorCode::Internal, "internal error")
    }

    /// The caller's session is live but its user (or its identity) is gone: log in again.
    pub fn user_gone() -> Self {
        Self::unauthorized("this user no longer exists; call wx.login again")
    }

    /// No session key stored for the caller's identity.
    pub fn missing_session_key() -> Self {
        Self::new(
            ErrorCode::DecryptFailed,
            "no WeChat session key is known for this login: call wx.login again, then fetch the data anew",
        )
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }
}

/// A storage failure as the client sees it: 503 when the database is unreachable or
/// overloaded (retry later), 500 for anything else. The cause is logged, not sent.
impl From<StorageError> for ApiError {
    fn from(error: StorageError) -> Self {
        if error.is_unavailable() {
            tracing::warn!(%error, "database unavailable");
            ApiError::new(
                ErrorCode::DatabaseUnavailable,
                "the database is temporarily unavailable; retry shortly",
            )
        } else {
            ApiError::internal(&error)
        }
    }
}

/// A value from the client that did not parse; its message is safe to send back.
impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        ApiError::invalid_request(error.0)
    }
}

/// Token failures while issuing or refreshing: the database's (503 or 500), or our own
/// fault. Refusals of a presented access token are [`AuthError`]s.
impl From<TokenError> for ApiError {
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::Storage(error) => error.into(),
            error => ApiError::internal(&error),
        }
    }
}

impl From<SessionError> for ApiError {
    fn from(error: SessionError) -> Self {
        match error {
            SessionError::Storage(error) => error.into(),
            SessionError::Token(error) => error.into(),
        }
    }
}

/// A refused access token is 401 with what to do next; the database failing is not.
impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Storage(error) => error.into(),
            AuthError::InvalidToken(error) => {
                tracing::debug!(reason = %error, "access token refused");
                ApiError::unauthorized(format!("{error}; refresh it or log in again"))
            }
            AuthError::SessionEnded => ApiError::unauthorized(
                "the session has ended (logged out or revoked); log in again",
            ),
        }
    }
}

/// Every refused refresh token means "log in again" (401); the reused one says why its
/// whole session is gone.
impl From<RefreshError> for ApiError {
    fn from(error: RefreshError) -> Self {
        match error {
            RefreshError::Storage(error) => error.into(),
            RefreshError::Token(error) => error.into(),
            RefreshError::Reused => ApiError::unauthorized(
                "this refresh token was already used, so every token of its session has been revoked; log in again",
            ),
            error => ApiError::unauthorized(format!("{error}; log in again")),
        }
    }
}

/// Open-data decryption and checks. Every `decrypt_failed` tells the client the cure.
impl From<CryptoError> for ApiError {
    fn from(error: CryptoError) -> Self {
        let code = match &error {
            CryptoError::InvalidPadding
            | CryptoError::NotJson
            | CryptoError::UnexpectedLayout { .. } => ErrorCode::DecryptFailed,
            CryptoError::MissingWatermark
            | CryptoError::WatermarkAppIdMismatch { .. }
            | CryptoError::WatermarkTooOld { .. } => ErrorCode::WatermarkMismatch,
            CryptoError::SignatureMismatch => ErrorCode::SignatureMismatch,
            CryptoError::InvalidBase64 { .. }
            | CryptoError::InvalidIvLength { .. }
            | CryptoError::InvalidCiphertextLength { .. } => ErrorCode::InvalidRequest,
            // The stored key itself is malformed: our fault, not the client's.
            CryptoError::InvalidKeyLength { .. } => return ApiError::internal(&error),
        };
        let message = match code {
            // CryptoError's own texts already tell the client to call wx.login again where
            // that is the cure; make sure every decrypt_failed says so.
            ErrorCode::DecryptFailed if !error.to_string().contains("wx.login") => {
                format!("{error}; the session key probably rotated: call wx.login again, then fetch the data anew")
            }
            _ => error.to_string(),
        };
        ApiError::new(code, message)
    }
}

/// A shared login run that ended without an answer (its task panicked).
impl From<FlightLost> for ApiError {
    fn from(error: FlightLost) -> Self {
        ApiError::internal(&error)
    }
}

/// A JSON body axum could not read (bad JSON, missing field, wrong content type, too
/// large), in the contract's shape instead of axum's plain text.
impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::new(ErrorCode::PayloadTooLarge, "request body is too large");
        }
        let message = match &rejection {
            JsonRejection::MissingJsonContentType(_) => {
                "expected a JSON body with Content-Type: application/json".to_owned()
            }
            JsonRejection::JsonSyntaxError(_) => "request body is not valid JSON".to_owned(),
            JsonRejection::JsonDataError(error) => {
                format!(
                    "invalid request body: {}",
                    data_error_text(&error.body_text())
                )
            }
            other => format!("cannot read the request body: {}", other.body_text()),
        };
        ApiError::invalid_request(message)
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::invalid_request(format!("bad query: {}", rejection.body_text()))
    }
}

/// serde's text, without the values it may quote: a client that sends a token in the
/// wrong place must not find it echoed in the answer or in our logs. Missing-field
/// messages only name the field and are kept whole.
fn data_error_text(text: &str) -> String {
    let serde_part = text
        .split_once("target type: ")
        .map(|(_, rest)| rest)
        .unwrap_or(text);
    let location = serde_part
        .rfind(" at line ")
        .map(|index| &serde_part[index..])
        .unwrap_or("");
    if let Some(field) = serde_part.strip_prefix("missing field ") {
        return format!("missing field {}", field.trim_end_matches(location));
    }
    if let Some(field_path) = serde_part.split_once(": ").map(|(path, _)| path) {
        if !field_path.contains(' ') {
            return format!("field {field_path} has the wrong type or value{location}");
        }
    }
    format!("a field has the wrong type or value{location}")
}

/// The JSON body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable code, e.g. `invalid_code`, `code_used`, `decrypt_failed`.
    pub code: String,
    /// Human-readable explanation and what to do next.
    pub message: String,
    /// WeChat's own errcode, present whenever WeChat answered with an error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wechat_errcode: Option<i64>,
}

impl From<&ApiError> for ErrorBody {
    fn from(error: &ApiError) -> Self {
        ErrorBody {
            error: ErrorDetail {
                code: error.code.as_str().to_owned(),
                message: error.message.clone(),
                wechat_errcode: error.wechat_errcode,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.code.status().is_server_error() {
            tracing::warn!(code = self.code.as_str(), wechat_errcode = ?self.wechat_errcode, message = %self.message, "request failed");
        } else {
            tracing::debug!(code = self.code.as_str(), wechat_errcode = ?self.wechat_errcode, message = %self.message, "request rejected");
        }
        let mut response = (self.status(), Json(ErrorBody::from(&self))).into_response();
        if let Some(seconds) = self.retry_after_secs.or(self.code.retry_after_secs()) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_codes_have_contract_statuses() {
        let expected = [
            (ErrorCode::InvalidRequest, "invalid_request", 400),
            (ErrorCode::InvalidCode, "invalid_code", 400),
            (ErrorCode::CodeUsed, "code_used", 409),
            (ErrorCode::Unauthorized, "unauthorized", 401),
            (ErrorCode::Forbidden, "forbidden", 403),
            (ErrorCode::SignatureMismatch, "signature_mismatch", 400),
            (ErrorCode::DecryptFailed, "decrypt_failed", 400),
            (ErrorCode::WatermarkMismatch, "watermark_mismatch", 400),
            (ErrorCode::RateLimited, "rate_limited", 429),
            (ErrorCode::UpstreamUnavailable, "upstream_unavailable", 503),
            (
                ErrorCode::UpstreamMisconfigured,
                "upstream_unavailable",
                502,
            ),
            (ErrorCode::Internal, "internal", 500),
        ];
        for (code, name, status) in expected {
            assert_eq!(code.as_str(), name);
            assert_eq!(code.status().as_u16(), status, "{name}");
        }
    }

    #[test]
    fn transient_failures_say_when_to_retry() {
        let limited = ApiError::new(ErrorCode::RateLimited, "slow down").into_response();
        assert_eq!(limited.headers()[header::RETRY_AFTER], "60");
        let busy = ApiError::new(ErrorCode::UpstreamUnavailable, "busy").into_response();
        assert_eq!(busy.headers()[header::RETRY_AFTER], "5");
        let misconfigured =
            ApiError::new(ErrorCode::UpstreamMisconfigured, "fix it").into_response();
        assert!(misconfigured.headers().get(header::RETRY_AFTER).is_none());
        let bad = ApiError::invalid_request("bad").into_response();
        assert!(bad.headers().get(header::RETRY_AFTER).is_none());
        let exact = ApiError::new(ErrorCode::RateLimited, "wait")
            .with_retry_after(std::time::Duration::from_millis(2_100))
            .into_response();
        assert_eq!(exact.headers()[header::RETRY_AFTER], "3");
        let short = ApiError::new(ErrorCode::RateLimited, "wait")
            .with_retry_after(std::time::Duration::from_millis(10))
            .into_response();
        assert_eq!(short.headers()[header::RETRY_AFTER], "1");
    }

    #[test]
    fn body_omits_absent_wechat_errcode() {
        let plain =
            serde_json::to_value(ErrorBody::from(&ApiError::invalid_request("bad"))).unwrap();
        assert_eq!(
            plain,
            serde_json::json!({"error": {"code": "invalid_request", "message": "bad"}})
        );
        let upstream =
            ApiError::new(ErrorCode::InvalidCode, "invalid code").with_wechat_errcode(40029);
        let value = serde_json::to_value(ErrorBody::from(&upstream)).unwrap();
        assert_eq!(value["error"]["wechat_errcode"], 40029);
    }

    #[test]
    fn data_errors_keep_field_names_and_drop_values() {
        assert_eq!(
            data_error_text("Failed to deserialize the JSON body into the target type: missing field `code` at line 1 column 2"),
            "missing field `code`"
        );
        let text = data_error_text(
            "Failed to deserialize the JSON body into the target type: code: invalid type: integer `4242424242`, expected a string at line 1 column 18",
        );
        assert_eq!(
            text,
            "field code has the wrong type or value at line 1 column 18"
        );
        let text = data_error_text("Failed to deserialize the JSON body into the target type: invalid type: string \"SECRET\", expected a map at line 1 column 8");
        assert!(!text.contains("SECRET"), "{text}");
    }

    fn crypto_error(error: CryptoError) -> ApiError {
        error.into()
    }

    #[test]
    fn crypto_failures_map_to_contract_codes() {
        assert_eq!(
            crypto_error(CryptoError::InvalidPadding).code,
            ErrorCode::DecryptFailed
        );
        assert!(crypto_error(CryptoError::NotJson)
            .message
            .contains("wx.login"));
        assert!(
            crypto_error(CryptoError::UnexpectedLayout { reason: "x".into() })
                .message
                .contains("wx.login")
        );
        assert_eq!(
            crypto_error(CryptoError::SignatureMismatch).code,
            ErrorCode::SignatureMismatch
        );
        assert_eq!(
            crypto_error(CryptoError::WatermarkAppIdMismatch {
                expected: "a".into(),
                found: "b".into()
            })
            .code,
            ErrorCode::WatermarkMismatch
        );
        assert_eq!(
            crypto_error(CryptoError::WatermarkTooOld {
                age_secs: 900,
                max_age_secs: 300
            })
            .code,
            ErrorCode::WatermarkMismatch
        );
        assert_eq!(
            crypto_error(CryptoError::InvalidIvLength { len: 3 }).code,
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            crypto_error(CryptoError::InvalidKeyLength { len: 3 }).code,
            ErrorCode::Internal
        );
    }
}
