//! `Json<T>` whose rejections (bad JSON, missing field, wrong content type, body too
//! large) answer in the contract's error shape instead of axum's plain text.
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{ApiError, ErrorCode};

#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(rejection_to_error(&rejection)),
        }
    }
}

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

fn rejection_to_error(rejection: &JsonRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(ErrorCode::PayloadTooLarge, "request body is too large");
    }
    let message = match rejection {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
