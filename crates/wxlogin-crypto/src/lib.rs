//! Open-data crypto for WeChat mini programs: pure functions, no I/O.
//!
//! * [`SessionKey`]: the per-user AES key WeChat hands the server; zeroed on drop,
//!   never printed.
//! * [`open_data`]: decrypt `encryptedData` (AES-128-CBC, strict PKCS#7, JSON) into typed
//!   payloads, and the inverse used by the simulator and tests.
//! * [`watermark`]: the `watermark` every payload carries, checked against the app and a
//!   maximum age.
//! * [`signature`]: the `rawData` SHA-1 signature and the checksession HMAC signature.

mod base64_repair;
mod error;
pub mod open_data;
pub mod payload;
mod session_key;
pub mod signature;
pub mod watermark;

pub use error::{Base64Field, CryptoError};
pub use open_data::{
    decrypt, decrypt_json, decrypt_phone_number, decrypt_user_info, decrypt_value, encrypt,
    encrypt_json,
};
pub use payload::{mask_phone_number, PhoneNumberPayload, UserInfoPayload};
pub use session_key::SessionKey;
pub use signature::{checksession_signature, raw_data_signature, verify_raw_data_signature};
pub use watermark::{Watermark, WatermarkPolicy};
