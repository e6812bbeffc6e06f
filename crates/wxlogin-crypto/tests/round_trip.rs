//! Round trips over arbitrary payloads, keys and ivs, including ciphertext mangled the
//! way forms, query strings and line-wrapping tools mangle it.
use proptest::prelude::*;
use serde_json::{json, Map, Value};
use wxlogin_crypto::{
    decrypt, decrypt_phone_number, decrypt_value, encrypt, encrypt_json, PhoneNumberPayload,
    SessionKey, Watermark, WatermarkPolicy,
};

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        ".{0,24}".prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z_]{1,10}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn watermark() -> impl Strategy<Value = Watermark> {
    ("wx[0-9a-f]{16}", 0i64..4_000_000_000)
        .prop_map(|(appid, timestamp)| Watermark { appid, timestamp })
}

/// `+` → space (form/query decoding) and a line break every `width` characters.
fn mangle(base64: &str, width: usize) -> String {
    let spaced = base64.replace('+', " ");
    let mut wrapped = String::new();
    for (i, c) in spaced.chars().enumerate() {
        if i > 0 && i % width == 0 {
            wrapped.push_str(if i % 2 == 0 { "\n" } else { "\r\n" });
        }
        wrapped.push(c);
    }
    wrapped.push('\n');
    wrapped
}

proptest! {
    #[test]
    fn arbitrary_bytes_round_trip(
        key in any::<[u8; 16]>(),
        iv in any::<[u8; 16]>(),
        plaintext in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let key = SessionKey::from_bytes(key);
        let encrypted = encrypt(&key, &iv, &plaintext);
        let iv_text = base64_of(&iv);
        let decrypted = decrypt(&key, &iv_text, &encrypted).unwrap();
        prop_assert_eq!(decrypted.as_slice(), plaintext.as_slice());
        // PKCS#7 always adds 1..=16 bytes.
        let ciphertext_len = base64_len(&encrypted);
        prop_assert_eq!(ciphertext_len, (plaintext.len() / 16 + 1) * 16);
    }

    #[test]
    fn json_payload_with_watermark_round_trips(
        key in any::<[u8; 16]>(),
        iv in any::<[u8; 16]>(),
        fields in prop::collection::btree_map("[a-zA-Z_]{1,12}", json_value(), 0..6),
        watermark in watermark(),
    ) {
        let key = SessionKey::from_bytes(key);
        let mut payload: Map<String, Value> = fields.into_iter().collect();
        payload.insert("watermark".into(), serde_json::to_value(&watermark).unwrap());
        let payload = Value::Object(payload);

        let (encrypted, iv_text) = encrypt_json(&key, &iv, &payload);
        let decrypted = decrypt_value(&key, &iv_text, &encrypted).unwrap();
        prop_assert_eq!(&decrypted, &payload);

        let found = Watermark::from_payload(&decrypted).unwrap();
        prop_assert_eq!(found.as_ref(), Some(&watermark));
        let policy = WatermarkPolicy { appid: watermark.appid.clone(), max_age_secs: Some(60) };
        prop_assert!(policy.check(found.as_ref(), watermark.timestamp + 60).is_ok());
    }

    #[test]
    fn phone_payload_round_trips(
        key in any::<[u8; 16]>(),
        iv in any::<[u8; 16]>(),
        pure in "[0-9]{5,15}",
        country in "[1-9][0-9]{0,2}",
        watermark in prop::option::of(watermark()),
    ) {
        let key = SessionKey::from_bytes(key);
        let payload = PhoneNumberPayload {
            phone_number: format!("+{country}{pure}"),
            pure_phone_number: pure,
            country_code: country,
            watermark,
        };
        let (encrypted, iv_text) = encrypt_json(&key, &iv, &payload);
        prop_assert_eq!(decrypt_phone_number(&key, &iv_text, &encrypted).unwrap(), payload);
    }

    #[test]
    fn mangled_base64_still_decrypts(
        key in any::<[u8; 16]>(),
        iv in any::<[u8; 16]>(),
        plaintext in prop::collection::vec(any::<u8>(), 0..200),
        width in 1usize..80,
    ) {
        let key = SessionKey::from_bytes(key);
        let encrypted = encrypt(&key, &iv, &plaintext);
        let mangled_key = SessionKey::from_base64(&mangle(&key.expose_base64(), width)).unwrap();
        prop_assert!(mangled_key == key);
        let decrypted = decrypt(
            &mangled_key,
            &mangle(&base64_of(&iv), width),
            &mangle(&encrypted, width),
        )
        .unwrap();
        prop_assert_eq!(decrypted.as_slice(), plaintext.as_slice());
    }

    #[test]
    fn session_key_base64_round_trips(bytes in any::<[u8; 16]>()) {
        let key = SessionKey::from_bytes(bytes);
        let text = key.expose_base64();
        prop_assert_eq!(text.len(), 24);
        let parsed = SessionKey::from_base64(&text).unwrap();
        prop_assert_eq!(parsed.expose_bytes(), &bytes);
    }
}

/// A '+' is guaranteed to appear in this ciphertext, so the mangling tests the repair
/// at least once even if proptest's random ciphertexts were unlucky.
#[test]
fn a_ciphertext_with_plus_signs_survives_form_decoding() {
    let key = SessionKey::from_bytes([7; 16]);
    let iv = [9; 16];
    let payload = json!({"openGId": "tGHtD8hN7ChYDsTZbFGyxcmJf7Jq"});
    let (encrypted, iv_text) = (0..)
        .map(|n| {
            let mut payload = payload.clone();
            payload["n"] = json!(n);
            encrypt_json(&key, &iv, &payload)
        })
        .find(|(encrypted, _)| encrypted.contains('+'))
        .unwrap();
    let form_decoded = encrypted.replace('+', " ");
    let value = decrypt_value(&key, &iv_text, &form_decoded).unwrap();
    assert_eq!(value["openGId"], "tGHtD8hN7ChYDsTZbFGyxcmJf7Jq");
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn base64_len(text: &str) -> usize {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
        .len()
}
