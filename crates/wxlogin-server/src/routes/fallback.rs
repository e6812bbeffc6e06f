//! Answers for requests that match no handler, in the contract's error shape.
use crate::error::{ApiError, ErrorCode};

pub async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such route; see /openapi.json")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "method not allowed on this route; see /openapi.json",
    )
}
