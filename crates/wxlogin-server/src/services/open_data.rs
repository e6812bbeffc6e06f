//! Failures of open-data decryption and checks, as the contract's errors.
use wxlogin_crypto::CryptoError;

use crate::error::{ApiError, ErrorCode};

pub fn crypto_error(error: CryptoError) -> ApiError {
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

/// No session key stored for the caller's identity.
pub fn missing_session_key() -> ApiError {
    ApiError::new(
        ErrorCode::DecryptFailed,
        "no WeChat session key is known for this login: call wx.login again, then fetch the data anew",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
