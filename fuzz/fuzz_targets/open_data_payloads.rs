//! The decrypted side of open data: arbitrary bytes as the plaintext, encrypted under a
//! known key, so every input reaches the JSON parsing and the typed payloads (random
//! ciphertexts almost never get past the padding check).
//!
//! Properties: decryption returns exactly the plaintext; the typed parsers never panic;
//! a layout error never quotes a value from the payload (no phone number in messages or
//! logs), and a parsed phone payload never shows its number in `Debug`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wxlogin_crypto::{
    decrypt, decrypt_json, decrypt_phone_number, decrypt_user_info, decrypt_value, encrypt,
    CryptoError, SessionKey, Watermark, WatermarkPolicy,
};

const KEY: [u8; 16] = *b"fuzz-session-key";
const IV: [u8; 16] = *b"fuzz-initial-vec";

fuzz_target!(|plaintext: &[u8]| {
    let key = SessionKey::from_bytes(KEY);
    let encrypted_data = encrypt(&key, &IV, plaintext);
    let iv = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(IV)
    };

    let decrypted = decrypt(&key, &iv, &encrypted_data).expect("own ciphertext decrypts");
    assert_eq!(decrypted.as_slice(), plaintext);

    let as_value = decrypt_value(&key, &iv, &encrypted_data);
    assert_eq!(
        as_value.is_ok(),
        serde_json::from_slice::<serde_json::Value>(plaintext).is_ok()
    );
    if let Ok(value) = &as_value {
        let _ = Watermark::from_payload(value);
    }

    match decrypt_phone_number(&key, &iv, &encrypted_data) {
        Ok(phone) => {
            let policy = WatermarkPolicy {
                appid: "wx0123456789abcdef".to_owned(),
                max_age_secs: Some(300),
            };
            for now in [i64::MIN, 0, i64::MAX] {
                let _ = policy.check(phone.watermark.as_ref(), now);
            }
            let shown = format!("{phone:?}");
            let number = &phone.phone_number;
            let elsewhere = phone.country_code.contains(number.as_str())
                || phone.watermark.as_ref().is_some_and(|w| w.appid.contains(number.as_str()))
                || wxlogin_crypto::mask_phone_number(number).contains(number.as_str())
                || wxlogin_crypto::mask_phone_number(&phone.pure_phone_number).contains(number.as_str())
                || "PhoneNumberPayload phone_number pure_phone_number country_code watermark Watermark appid timestamp Some None".contains(number.as_str());
            if number.chars().count() > 4
                && !elsewhere
                && !phone.pure_phone_number.contains(number.as_str())
            {
                assert!(
                    !shown.contains(number.as_str()),
                    "Debug shows the phone number: {shown}"
                );
            }
        }
        Err(error) => check_layout_error(&error, plaintext),
    }
    if let Err(error) = decrypt_user_info(&key, &iv, &encrypted_data) {
        check_layout_error(&error, plaintext);
    }
    if let Err(error) = decrypt_json::<Watermark>(&key, &iv, &encrypted_data) {
        check_layout_error(&error, plaintext);
    }
});

/// Only parse failures are possible here, and their text quotes no payload value: any
/// run of six or more digits (a phone number, an id) or any credential-like word of the
/// plaintext would be a leak.
fn check_layout_error(error: &CryptoError, plaintext: &[u8]) {
    let reason = match error {
        CryptoError::NotJson => return,
        CryptoError::UnexpectedLayout { reason } => reason,
        other => panic!("unexpected error for a well-formed ciphertext: {other:?}"),
    };
    let mut digits = 0;
    for c in reason.chars() {
        digits = if c.is_ascii_digit() { digits + 1 } else { 0 };
        assert!(digits < 6, "layout error quotes a number: {reason}");
    }
    for value in wxlogin_fuzz::credential_values(plaintext) {
        assert!(
            !reason.contains(&value),
            "layout error quotes a value: {reason}"
        );
    }
}
