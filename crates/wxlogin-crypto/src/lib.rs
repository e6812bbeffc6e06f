//! Open-data crypto for WeChat mini programs: pure functions, no I/O.
//!
//! * [`SessionKey`]: the per-user AES key WeChat hands the server; zeroed on drop,
//!   never printed.
//! * [`open_data`]: decrypt `encryptedData` (AES-128-CBC, strict PKCS#7, JSON) into typed
//!   payloads, and the inverse used by the simulator and tests.
//! * [`watermark`]: the `watermark` every payload carries, checked against the app and a
//!   maximum age.
//! * [`signature`]: the `rawData` SHA-1 signature and the checksession HMAC signature.
//!
//! Every base64 input may have had `+` turned into spaces (form or query encoding) or be
//! wrapped over lines: both are repaired. Errors ([`CryptoError`]) say what the caller
//! should do and never contain key material or payload values.
//!
//! ```
//! use wxlogin_crypto::{
//!     decrypt_phone_number, encrypt_json, CryptoError, PhoneNumberPayload, SessionKey,
//!     Watermark, WatermarkPolicy,
//! };
//!
//! // The simulator's side: encrypt a payload with the user's session_key.
//! let key = SessionKey::from_base64("tiihtNczf5v6AKRyjwEUhQ==")?;
//! let payload = PhoneNumberPayload {
//!     phone_number: "13800000000".into(),
//!     pure_phone_number: "13800000000".into(),
//!     country_code: "86".into(),
//!     watermark: Some(Watermark { appid: "wx0123456789abcdef".into(), timestamp: 1_700_000_000 }),
//! };
//! let (encrypted_data, iv) = encrypt_json(&key, b"any 16-byte iv!!", &payload);
//!
//! // The server's side: decrypt with the stored key, then check whose data it is.
//! let phone = decrypt_phone_number(&key, &iv, &encrypted_data)?;
//! let policy = WatermarkPolicy { appid: "wx0123456789abcdef".into(), max_age_secs: Some(300) };
//! policy.check(phone.watermark.as_ref(), 1_700_000_060)?;
//! assert_eq!(phone.pure_phone_number, "13800000000");
//!
//! // A key that rotated in between (the client called wx.login again):
//! let stale = SessionKey::from_bytes([0; 16]);
//! assert!(matches!(
//!     decrypt_phone_number(&stale, &iv, &encrypted_data),
//!     Err(CryptoError::InvalidPadding | CryptoError::NotJson)
//! ));
//! # Ok::<(), CryptoError>(())
//! ```

#![warn(missing_docs)]

mod base64_repair;
mod error;
pub mod open_data;
pub mod payload;
mod phone_mask;
mod redacted;
mod session_key;
pub mod signature;
pub mod watermark;

pub use error::{Base64Field, CryptoError};
pub use open_data::{
    decrypt, decrypt_json, decrypt_phone_number, decrypt_user_info, decrypt_value, encrypt,
    encrypt_json,
};
pub use payload::{PhoneNumberPayload, UserInfoPayload};
pub use phone_mask::mask_phone_number;
pub use redacted::Redacted;
pub use session_key::SessionKey;
pub use signature::{checksession_signature, raw_data_signature, verify_raw_data_signature};
pub use watermark::{Watermark, WatermarkPolicy};
