//! Every `CryptoError` path, reached through the public API, never by a panic.
use serde_json::json;
use sha2::{Digest, Sha256};
use wxlogin_crypto::{
    decrypt, decrypt_json, decrypt_phone_number, decrypt_user_info, decrypt_value, encrypt,
    encrypt_json, verify_raw_data_signature, Base64Field, CryptoError, SessionKey, Watermark,
    WatermarkPolicy,
};

const IV: [u8; 16] = *b"0123456789abcdef";
const IV_TEXT: &str = "MDEyMzQ1Njc4OWFiY2RlZg==";

fn key(seed: u64) -> SessionKey {
    let digest = Sha256::digest(seed.to_le_bytes());
    SessionKey::from_bytes(digest[..16].try_into().unwrap())
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Ciphertext whose single block decrypts to `block`: encrypt it with padding, keep only
/// the first block (CBC decrypts each block from the previous ciphertext block alone).
fn one_block_decrypting_to(key: &SessionKey, block: [u8; 16]) -> String {
    use base64::Engine;
    let full = encrypt(key, &IV, &block);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(full)
        .unwrap();
    base64_of(&bytes[..16])
}

fn phone_payload(appid: &str, timestamp: i64) -> serde_json::Value {
    json!({
        "phoneNumber": "13800000000",
        "purePhoneNumber": "13800000000",
        "countryCode": "86",
        "watermark": {"appid": appid, "timestamp": timestamp},
    })
}

#[test]
fn bad_base64_names_the_field() {
    assert_eq!(
        SessionKey::from_base64("not base64!").unwrap_err(),
        CryptoError::InvalidBase64 {
            field: Base64Field::SessionKey
        }
    );
    let key = key(1);
    let (encrypted, iv) = encrypt_json(&key, &IV, &json!({"a": 1}));
    assert_eq!(
        decrypt(&key, "%%%", &encrypted).unwrap_err(),
        CryptoError::InvalidBase64 {
            field: Base64Field::Iv
        }
    );
    assert_eq!(
        decrypt(&key, &iv, &format!("{encrypted}*")).unwrap_err(),
        CryptoError::InvalidBase64 {
            field: Base64Field::EncryptedData
        }
    );
    // URL-safe alphabet is not what WeChat sends.
    assert_eq!(
        decrypt(&key, &iv, "ab-_ab-_ab-_ab-_ab-_ab==").unwrap_err(),
        CryptoError::InvalidBase64 {
            field: Base64Field::EncryptedData
        }
    );
    let message = CryptoError::InvalidBase64 {
        field: Base64Field::Iv,
    }
    .to_string();
    assert!(message.starts_with("iv is not valid"), "{message}");
    let message = CryptoError::InvalidBase64 {
        field: Base64Field::EncryptedData,
    }
    .to_string();
    assert!(message.starts_with("encrypted_data"), "{message}");
}

#[test]
fn wrong_key_length_is_an_error_not_a_panic() {
    for len in [0usize, 8, 15, 17, 24, 32] {
        let text = base64_of(&vec![0xab; len]);
        assert_eq!(
            SessionKey::from_base64(&text).unwrap_err(),
            CryptoError::InvalidKeyLength { len },
            "{len}"
        );
    }
}

#[test]
fn wrong_iv_length_is_an_error_not_a_panic() {
    let key = key(2);
    let (encrypted, _) = encrypt_json(&key, &IV, &json!({"a": 1}));
    for len in [0usize, 8, 15, 17, 32] {
        assert_eq!(
            decrypt(&key, &base64_of(&vec![1; len]), &encrypted).unwrap_err(),
            CryptoError::InvalidIvLength { len },
            "{len}"
        );
    }
}

#[test]
fn ciphertext_must_be_whole_blocks() {
    let key = key(3);
    for len in [0usize, 1, 15, 17, 31, 33] {
        assert_eq!(
            decrypt(&key, IV_TEXT, &base64_of(&vec![5; len])).unwrap_err(),
            CryptoError::InvalidCiphertextLength { len },
            "{len}"
        );
    }
}

#[test]
fn padding_is_checked_byte_by_byte() {
    let key = key(4);
    let mut last_byte_zero = [b'x'; 16];
    last_byte_zero[15] = 0;
    let mut pad_above_block = [b'x'; 16];
    pad_above_block[15] = 17;
    // The last byte says 4, but one of the other three pad bytes differs: a lenient unpad
    // that looks only at the last byte would accept this.
    let mut inconsistent = [b'x'; 16];
    inconsistent[12..].copy_from_slice(&[3, 4, 4, 4]);
    let mut inconsistent_full_block = [16u8; 16];
    inconsistent_full_block[0] = 15;
    for block in [
        last_byte_zero,
        pad_above_block,
        inconsistent,
        inconsistent_full_block,
    ] {
        let ciphertext = one_block_decrypting_to(&key, block);
        assert_eq!(
            decrypt(&key, IV_TEXT, &ciphertext).unwrap_err(),
            CryptoError::InvalidPadding,
            "{block:?}"
        );
    }
    let mut valid = [b'x'; 16];
    valid[12..].copy_from_slice(&[4, 4, 4, 4]);
    let ciphertext = one_block_decrypting_to(&key, valid);
    assert_eq!(
        decrypt(&key, IV_TEXT, &ciphertext).unwrap().as_slice(),
        &[b'x'; 12]
    );
}

#[test]
fn padding_error_tells_the_client_to_log_in_again() {
    let message = CryptoError::InvalidPadding.to_string();
    assert!(message.contains("stale"), "{message}");
    assert!(message.contains("wx.login"), "{message}");
}

/// The classic failure: the client called wx.login between getting the data and sending
/// it, so the server decrypts with a newer key. Must be reported, never panic, and be
/// reported as a padding failure almost every time.
#[test]
fn stale_key_is_reported_as_padding_failure() {
    const TRIES: u64 = 2000;
    let mut invalid_padding = 0;
    for seed in 0..TRIES {
        let encrypting_key = key(seed * 2);
        let stale_key = key(seed * 2 + 1);
        let (encrypted, iv) = encrypt_json(
            &encrypting_key,
            &IV,
            &phone_payload("wx0123456789abcdef", 1_700_000_000),
        );
        match decrypt_phone_number(&stale_key, &iv, &encrypted) {
            Err(CryptoError::InvalidPadding) => invalid_padding += 1,
            Err(CryptoError::NotJson) => {}
            other => panic!("seed {seed}: {other:?}"),
        }
    }
    // A random last block unpads by chance about 1 time in 256.
    assert!(
        invalid_padding >= TRIES * 97 / 100,
        "{invalid_padding}/{TRIES}"
    );
    assert!(
        invalid_padding < TRIES,
        "a few random blocks should unpad by chance"
    );
}

#[test]
fn correct_key_over_non_json_is_not_json() {
    let key = key(5);
    for plaintext in [&b"not json at all"[..], b"{\"a\":", b"\xff\xfe\xfd", b""] {
        let encrypted = encrypt(&key, &IV, plaintext);
        assert_eq!(
            decrypt_value(&key, IV_TEXT, &encrypted).unwrap_err(),
            CryptoError::NotJson
        );
        assert_eq!(
            decrypt_user_info(&key, IV_TEXT, &encrypted).unwrap_err(),
            CryptoError::NotJson
        );
    }
}

#[test]
fn json_of_the_wrong_shape_is_unexpected_layout() {
    let key = key(6);
    let (encrypted, iv) = encrypt_json(
        &key,
        &IV,
        &json!({"purePhoneNumber": "1", "countryCode": "86"}),
    );
    match decrypt_phone_number(&key, &iv, &encrypted).unwrap_err() {
        CryptoError::UnexpectedLayout { reason } => {
            assert!(reason.contains("phoneNumber"), "{reason}")
        }
        other => panic!("{other:?}"),
    }

    let (encrypted, iv) = encrypt_json(&key, &IV, &json!([1, 2, 3]));
    assert!(matches!(
        decrypt_user_info(&key, &iv, &encrypted).unwrap_err(),
        CryptoError::UnexpectedLayout { .. }
    ));

    let (encrypted, iv) = encrypt_json(
        &key,
        &IV,
        &json!({"phoneNumber": "1", "purePhoneNumber": "1", "countryCode": true}),
    );
    assert!(matches!(
        decrypt_phone_number(&key, &iv, &encrypted).unwrap_err(),
        CryptoError::UnexpectedLayout { .. }
    ));
}

#[test]
fn unexpected_layout_never_quotes_the_phone_number() {
    let key = key(7);
    let (encrypted, iv) = encrypt_json(
        &key,
        &IV,
        &json!({"phoneNumber": 13912345678u64, "purePhoneNumber": "13912345678", "countryCode": "86"}),
    );
    let error = decrypt_phone_number(&key, &iv, &encrypted).unwrap_err();
    assert!(
        matches!(error, CryptoError::UnexpectedLayout { .. }),
        "{error:?}"
    );
    for shown in [error.to_string(), format!("{error:?}")] {
        assert!(!shown.contains("13912345678"), "{shown}");
        assert!(shown.contains("expected a string"), "{shown}");
    }

    let (encrypted, iv) = encrypt_json(
        &key,
        &IV,
        &json!({"phoneNumber": "13912345678", "purePhoneNumber": "13912345678", "countryCode": "86",
                "watermark": {"appid": "wx1", "timestamp": "13912345678"}}),
    );
    let error = decrypt_phone_number(&key, &iv, &encrypted).unwrap_err();
    assert!(
        !format!("{error} {error:?}").contains("13912345678"),
        "{error:?}"
    );
}

#[test]
fn typed_decrypt_json_works_for_caller_types() {
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Share {
        #[serde(rename = "openGId")]
        open_gid: String,
    }
    let key = key(8);
    let (encrypted, iv) = encrypt_json(&key, &IV, &json!({"openGId": "tG123"}));
    assert_eq!(
        decrypt_json::<Share>(&key, &iv, &encrypted).unwrap(),
        Share {
            open_gid: "tG123".into()
        }
    );
}

#[test]
fn missing_watermark() {
    let policy = WatermarkPolicy {
        appid: "wx0123456789abcdef".into(),
        max_age_secs: None,
    };
    assert_eq!(policy.check(None, 0), Err(CryptoError::MissingWatermark));

    let key = key(9);
    let mut payload = phone_payload("wx0123456789abcdef", 0);
    payload.as_object_mut().unwrap().remove("watermark");
    let (encrypted, iv) = encrypt_json(&key, &IV, &payload);
    let phone = decrypt_phone_number(&key, &iv, &encrypted).unwrap();
    assert_eq!(
        policy.check(phone.watermark.as_ref(), 0),
        Err(CryptoError::MissingWatermark)
    );
    assert_eq!(Watermark::from_payload(&payload), Ok(None));
}

#[test]
fn malformed_watermark_in_a_raw_payload() {
    let payload = json!({"stepInfoList": [], "watermark": {"appid": 5}});
    assert!(matches!(
        Watermark::from_payload(&payload),
        Err(CryptoError::UnexpectedLayout { reason }) if reason.starts_with("watermark")
    ));
}

#[test]
fn watermark_of_another_app() {
    let key = key(10);
    let (encrypted, iv) = encrypt_json(&key, &IV, &phone_payload("wxOTHER", 100));
    let phone = decrypt_phone_number(&key, &iv, &encrypted).unwrap();
    let policy = WatermarkPolicy {
        appid: "wxMINE".into(),
        max_age_secs: None,
    };
    let error = policy.check(phone.watermark.as_ref(), 100).unwrap_err();
    assert_eq!(
        error,
        CryptoError::WatermarkAppIdMismatch {
            expected: "wxMINE".into(),
            found: "wxOTHER".into()
        }
    );
    assert!(error.to_string().contains("another mini program"));
}

#[test]
fn watermark_age() {
    let watermark = Watermark {
        appid: "wxA".into(),
        timestamp: 1_000,
    };
    let policy = WatermarkPolicy {
        appid: "wxA".into(),
        max_age_secs: Some(300),
    };
    assert_eq!(policy.check(Some(&watermark), 1_300), Ok(()));
    assert_eq!(
        policy.check(Some(&watermark), 1_301),
        Err(CryptoError::WatermarkTooOld {
            age_secs: 301,
            max_age_secs: 300
        })
    );
    // Clock skew: data stamped slightly in the future is fine.
    assert_eq!(policy.check(Some(&watermark), 900), Ok(()));
    let no_limit = WatermarkPolicy {
        max_age_secs: None,
        ..policy
    };
    assert_eq!(no_limit.check(Some(&watermark), i64::MAX), Ok(()));
    // Extreme clocks saturate instead of overflowing.
    let far_past = Watermark {
        appid: "wxA".into(),
        timestamp: i64::MIN,
    };
    let strict = WatermarkPolicy {
        appid: "wxA".into(),
        max_age_secs: Some(0),
    };
    assert!(matches!(
        strict.check(Some(&far_past), i64::MAX),
        Err(CryptoError::WatermarkTooOld { .. })
    ));
}

#[test]
fn raw_data_signature_mismatch() {
    let key = key(11);
    let raw_data = r#"{"nickName":"Band","gender":1}"#;
    let signature = wxlogin_crypto::raw_data_signature(raw_data, &key);
    assert_eq!(
        verify_raw_data_signature(raw_data, &signature, &key),
        Ok(())
    );
    assert_eq!(
        verify_raw_data_signature(raw_data, &signature.to_uppercase(), &key),
        Ok(())
    );
    // Re-serialized rawData (a space added) no longer matches: the text must be used as sent.
    assert_eq!(
        verify_raw_data_signature(r#"{"nickName":"Band", "gender":1}"#, &signature, &key),
        Err(CryptoError::SignatureMismatch)
    );
    assert_eq!(
        verify_raw_data_signature(raw_data, &signature, &key_of_other_user()),
        Err(CryptoError::SignatureMismatch)
    );
    assert_eq!(
        verify_raw_data_signature(raw_data, &signature[..39], &key),
        Err(CryptoError::SignatureMismatch)
    );
    assert_eq!(
        verify_raw_data_signature(raw_data, "", &key),
        Err(CryptoError::SignatureMismatch)
    );
}

fn key_of_other_user() -> SessionKey {
    key(12)
}
