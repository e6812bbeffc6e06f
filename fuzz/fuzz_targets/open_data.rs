//! Open-data decryption with hostile inputs: key, iv, encryptedData, signature and rawData
//! as a client (or an attacker) could send them. Nothing may panic; what succeeds must be
//! consistent (signature accepted only if it is the right one, decrypted data
//! re-encrypts to itself), and no error message may carry the key.
//!
//! Input: `session_key \n iv \n encrypted_data \n signature \n raw_data...`. Every field is
//! also tried with the fixed key the seeds were encrypted with, so valid seeds reach the
//! JSON and watermark checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wxlogin_crypto::{
    checksession_signature, decrypt, decrypt_phone_number, decrypt_user_info, decrypt_value,
    encrypt, mask_phone_number, raw_data_signature, verify_raw_data_signature, Base64Field,
    CryptoError, SessionKey, Watermark, WatermarkPolicy,
};

/// The session key of `fuzz/seeds/open_data/*` (wxlogin-crypto's known-answer fixtures).
const SEED_KEY: &str = "xL3QOLP+wpxa2593h9HSwg==";

fuzz_target!(|data: &[u8]| {
    let [key_text, iv, encrypted_data, signature, raw_data] = wxlogin_fuzz::fields::<5>(data);
    let mut keys = vec![SessionKey::from_base64(SEED_KEY).expect("seed key")];
    let parsed_key = SessionKey::from_base64(&key_text);
    // Differential: the crate's decoder agrees with the `base64` crate's strict engine on
    // the repaired text, for every input.
    match reference_decode(&key_text) {
        Some(bytes) if bytes.len() == 16 => {
            assert_eq!(
                parsed_key.as_ref().map(|k| k.expose_bytes().to_vec()).ok(),
                Some(bytes)
            )
        }
        Some(bytes) => assert_eq!(
            parsed_key.as_ref().err(),
            Some(&CryptoError::InvalidKeyLength { len: bytes.len() })
        ),
        None => assert!(matches!(parsed_key, Err(CryptoError::InvalidBase64 { .. }))),
    }
    match parsed_key {
        Ok(key) => {
            // Whatever the text looked like, it decoded to these 16 bytes.
            assert_eq!(
                SessionKey::from_base64(&key.expose_base64()).as_ref(),
                Ok(&key)
            );
            keys.push(key);
        }
        Err(error) => {
            assert!(matches!(
                error,
                CryptoError::InvalidBase64 { .. } | CryptoError::InvalidKeyLength { .. }
            ));
            if wxlogin_fuzz::looks_like_credential(key_text.trim()) {
                assert!(
                    !error.to_string().contains(key_text.trim()),
                    "error shows the key text"
                );
            }
        }
    }
    for key in &keys {
        check_with_key(key, &iv, &encrypted_data, &signature, &raw_data);
    }
});

fn check_with_key(
    key: &SessionKey,
    iv: &str,
    encrypted_data: &str,
    signature: &str,
    raw_data: &str,
) {
    let key_text = key.expose_base64();
    let _ = checksession_signature(key);

    match verify_raw_data_signature(raw_data, signature, key) {
        Ok(()) => assert_eq!(
            signature.trim().to_ascii_lowercase(),
            raw_data_signature(raw_data, key),
            "a signature other than the right one was accepted"
        ),
        Err(error) => assert_eq!(error, CryptoError::SignatureMismatch),
    }

    let decrypted = decrypt(key, iv, encrypted_data);
    match (reference_decode(iv), &decrypted) {
        (None, result) => assert_eq!(
            result.as_ref().err(),
            Some(&CryptoError::InvalidBase64 {
                field: Base64Field::Iv
            })
        ),
        (Some(bytes), result) if bytes.len() != 16 => assert_eq!(
            result.as_ref().err(),
            Some(&CryptoError::InvalidIvLength { len: bytes.len() })
        ),
        (Some(_), result) => match reference_decode(encrypted_data) {
            None => assert_eq!(
                result.as_ref().err(),
                Some(&CryptoError::InvalidBase64 {
                    field: Base64Field::EncryptedData
                })
            ),
            Some(bytes) if bytes.is_empty() || bytes.len() % 16 != 0 => assert_eq!(
                result.as_ref().err(),
                Some(&CryptoError::InvalidCiphertextLength { len: bytes.len() })
            ),
            Some(_) => assert!(matches!(result, Ok(_) | Err(CryptoError::InvalidPadding))),
        },
    }
    match decrypted {
        Ok(plaintext) => {
            // CBC is a permutation: the plaintext re-encrypts (fresh iv) and decrypts to itself.
            let iv = [7u8; 16];
            let again = encrypt(key, &iv, &plaintext);
            let iv_text = base64_standard(&iv);
            assert_eq!(
                decrypt(key, &iv_text, &again)
                    .expect("own ciphertext decrypts")
                    .as_slice(),
                plaintext.as_slice()
            );
        }
        Err(error) => check_error(&error, &key_text),
    }

    match decrypt_value(key, iv, encrypted_data) {
        Ok(value) => {
            if let Ok(watermark) = Watermark::from_payload(&value) {
                check_watermark(watermark.as_ref());
            }
        }
        Err(error) => check_error(&error, &key_text),
    }

    match decrypt_phone_number(key, iv, encrypted_data) {
        Ok(phone) => {
            check_watermark(phone.watermark.as_ref());
            let shown = format!("{phone:?}");
            let elsewhere = phone.country_code.contains(&phone.phone_number)
                || phone
                    .watermark
                    .as_ref()
                    .is_some_and(|w| w.appid.contains(&phone.phone_number));
            if phone.phone_number.chars().count() > 4 && !elsewhere {
                assert!(
                    !shown.contains(&phone.phone_number),
                    "Debug shows the full phone number"
                );
            }
            let _ = mask_phone_number(&phone.pure_phone_number);
        }
        Err(error) => check_error(&error, &key_text),
    }

    match decrypt_user_info(key, iv, encrypted_data) {
        Ok(info) => check_watermark(info.watermark.as_ref()),
        Err(error) => check_error(&error, &key_text),
    }
}

/// Every policy, at every extreme time, decides without panicking.
fn check_watermark(watermark: Option<&Watermark>) {
    for max_age_secs in [
        None,
        Some(0),
        Some(-1),
        Some(300),
        Some(i64::MAX),
        Some(i64::MIN),
    ] {
        let policy = WatermarkPolicy {
            appid: "wx0123456789abcdef".to_owned(),
            max_age_secs,
        };
        for now in [i64::MIN, -1, 0, 1_700_000_000, i64::MAX] {
            let _ = policy.check(watermark, now);
        }
    }
}

/// Error messages never show the key (the watermark mismatch quotes the payload's own appid,
/// which a sender may set to anything).
fn check_error(error: &CryptoError, key_text: &str) {
    if !matches!(error, CryptoError::WatermarkAppIdMismatch { .. }) {
        assert!(
            !error.to_string().contains(key_text),
            "error message shows the session key"
        );
    }
}

/// The documented repair (a space was a `+`, other ASCII whitespace is line wrapping)
/// followed by the `base64` crate's strict standard engine.
fn reference_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let repaired: Vec<u8> = text
        .bytes()
        .filter_map(|b| match b {
            b' ' => Some(b'+'),
            b if b.is_ascii_whitespace() => None,
            other => Some(other),
        })
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(repaired)
        .ok()
}

fn base64_standard(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
