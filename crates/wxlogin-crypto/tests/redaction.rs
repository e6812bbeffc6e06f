//! Key material and full phone numbers never reach Debug/Display output or error text.
use wxlogin_crypto::{
    decrypt, decrypt_phone_number, encrypt, encrypt_json, mask_phone_number, CryptoError,
    PhoneNumberPayload, SessionKey,
};

const KEY_BYTES: [u8; 16] = [
    0xde, 0xad, 0xbe, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98,
];

fn forbidden_renderings(key: &SessionKey) -> Vec<String> {
    let bytes = key.expose_bytes();
    vec![
        key.expose_base64().to_string(),
        key.expose_base64().trim_end_matches('=').to_string(),
        hex::encode(bytes),
        hex::encode_upper(bytes),
        format!("{bytes:?}"),
        format!("{:?}", &bytes[..4]),
    ]
}

fn assert_shows_no_key(shown: &str, key: &SessionKey) {
    for forbidden in forbidden_renderings(key) {
        assert!(
            !shown.contains(&forbidden),
            "{shown:?} contains {forbidden:?}"
        );
    }
}

#[test]
fn session_key_debug_and_display_are_redacted() {
    let key = SessionKey::from_bytes(KEY_BYTES);
    for shown in [
        format!("{key:?}"),
        format!("{key:#?}"),
        format!("{key}"),
        format!("{:?}", Some(key.clone())),
    ] {
        assert!(shown.contains("redacted"), "{shown}");
        assert_shows_no_key(&shown, &key);
    }
}

#[test]
fn parsed_session_key_is_redacted_too() {
    let key = SessionKey::from_base64("tiihtNczf5v6AKRyjwEUhQ==").unwrap();
    let shown = format!("{key:?} {key}");
    assert!(!shown.contains("tiihtNczf5v6AKRyjwEUhQ"), "{shown}");
    assert_shows_no_key(&shown, &key);
}

#[test]
fn errors_never_contain_the_key() {
    let key = SessionKey::from_bytes(KEY_BYTES);
    let other = SessionKey::from_bytes([0x42; 16]);
    let encrypted = encrypt(&key, &[0; 16], b"{\"a\":1}");
    let iv = "AAAAAAAAAAAAAAAAAAAAAA==";
    let mut errors: Vec<CryptoError> = vec![
        decrypt(&other, iv, &encrypted).unwrap_err(),
        decrypt(&key, "bad", &encrypted).unwrap_err(),
        decrypt(&key, iv, "AAAA").unwrap_err(),
    ];
    let key_text = key.expose_base64();
    errors.push(SessionKey::from_base64(&format!("{}!", &key_text[..22])).unwrap_err());
    errors.push(SessionKey::from_base64(&key_text[..20]).unwrap_err());
    for error in errors {
        assert_shows_no_key(&format!("{error} {error:?}"), &key);
    }
}

#[test]
fn session_keys_compare_by_value() {
    let key = SessionKey::from_bytes(KEY_BYTES);
    assert_eq!(key, SessionKey::from_base64(&key.expose_base64()).unwrap());
    let mut different = KEY_BYTES;
    different[15] ^= 1;
    assert_ne!(key, SessionKey::from_bytes(different));
}

#[test]
fn phone_payload_debug_masks_the_numbers() {
    let key = SessionKey::from_bytes(KEY_BYTES);
    let payload = PhoneNumberPayload {
        phone_number: "+8613912345678".into(),
        pure_phone_number: "13912345678".into(),
        country_code: "86".into(),
        watermark: None,
    };
    let (encrypted, iv) = encrypt_json(&key, &[5; 16], &payload);
    let decrypted = decrypt_phone_number(&key, &iv, &encrypted).unwrap();
    let shown = format!("{decrypted:?} {decrypted:#?}");
    assert!(!shown.contains("13912345678"), "{shown}");
    assert!(!shown.contains("139123"), "{shown}");
    assert!(shown.contains("5678"), "{shown}");
    assert_eq!(mask_phone_number("13912345678"), "139****5678");
}
