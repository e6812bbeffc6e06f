//! Answers computed by an independent implementation (scripts/crypto_fixtures.py, Python
//! `cryptography`), plus WeChat's own demo vector. A bug shared by our encrypt and decrypt
//! would survive every round trip; it cannot survive these.
use serde::Deserialize;
use serde_json::Value;
use wxlogin_crypto::{
    checksession_signature, decrypt, decrypt_phone_number, decrypt_user_info, decrypt_value,
    encrypt, raw_data_signature, verify_raw_data_signature, SessionKey, Watermark, WatermarkPolicy,
};

const FIXTURES: &str = include_str!("fixtures/known_answers.json");

#[derive(Deserialize)]
struct Fixtures {
    open_data: Vec<OpenDataCase>,
    raw_data_signatures: Vec<RawDataCase>,
    checksession_signatures: Vec<ChecksessionCase>,
}

#[derive(Deserialize)]
struct OpenDataCase {
    name: String,
    kind: String,
    appid: Option<String>,
    session_key: String,
    iv: String,
    plaintext: String,
    encrypted_data: String,
}

#[derive(Deserialize)]
struct RawDataCase {
    name: String,
    session_key: String,
    raw_data: String,
    signature: String,
}

#[derive(Deserialize)]
struct ChecksessionCase {
    session_key: String,
    signature: String,
}

fn fixtures() -> Fixtures {
    serde_json::from_str(FIXTURES).expect("fixture file is valid JSON")
}

fn iv_bytes(iv: &str) -> [u8; 16] {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(iv)
        .unwrap()
        .try_into()
        .unwrap()
}

#[test]
fn fixture_file_covers_every_payload_kind() {
    let fixtures = fixtures();
    let names: Vec<&str> = fixtures.open_data.iter().map(|c| c.name.as_str()).collect();
    for expected in [
        "phone_country_code_string",
        "phone_country_code_number",
        "user_info_full",
        "werun",
        "share_info",
        "wechat_official_demo",
    ] {
        assert!(names.contains(&expected), "missing fixture {expected}");
    }
    assert!(fixtures.raw_data_signatures.len() >= 3);
    assert!(fixtures.checksession_signatures.len() >= 3);
}

#[test]
fn decrypts_to_the_independent_plaintext() {
    for case in fixtures().open_data {
        let key = SessionKey::from_base64(&case.session_key).unwrap();
        let plaintext = decrypt(&key, &case.iv, &case.encrypted_data)
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(
            plaintext.as_slice(),
            case.plaintext.as_bytes(),
            "{}",
            case.name
        );

        let value = decrypt_value(&key, &case.iv, &case.encrypted_data).unwrap();
        let expected: Value = serde_json::from_str(&case.plaintext).unwrap();
        assert_eq!(value, expected, "{}", case.name);
    }
}

#[test]
fn encrypts_to_the_independent_ciphertext() {
    for case in fixtures().open_data {
        let key = SessionKey::from_base64(&case.session_key).unwrap();
        let encrypted = encrypt(&key, &iv_bytes(&case.iv), case.plaintext.as_bytes());
        assert_eq!(encrypted, case.encrypted_data, "{}", case.name);
    }
}

#[test]
fn typed_payloads_match_the_plaintext_fields() {
    for case in fixtures().open_data {
        let key = SessionKey::from_base64(&case.session_key).unwrap();
        let expected: Value = serde_json::from_str(&case.plaintext).unwrap();
        let watermark = match case.kind.as_str() {
            "phone" => {
                let phone = decrypt_phone_number(&key, &case.iv, &case.encrypted_data).unwrap();
                assert_eq!(
                    phone.phone_number,
                    expected["phoneNumber"].as_str().unwrap()
                );
                assert_eq!(
                    phone.pure_phone_number,
                    expected["purePhoneNumber"].as_str().unwrap()
                );
                let country_code = match &expected["countryCode"] {
                    Value::String(text) => text.clone(),
                    Value::Number(number) => number.to_string(),
                    other => panic!("{}: countryCode {other}", case.name),
                };
                assert_eq!(phone.country_code, country_code, "{}", case.name);
                phone.watermark
            }
            "user_info" => {
                let info = decrypt_user_info(&key, &case.iv, &case.encrypted_data).unwrap();
                let text = |field: &str| {
                    expected
                        .get(field)
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                };
                assert_eq!(info.open_id, text("openId"), "{}", case.name);
                assert_eq!(info.union_id, text("unionId"), "{}", case.name);
                assert_eq!(info.nick_name, text("nickName"), "{}", case.name);
                assert_eq!(info.avatar_url, text("avatarUrl"), "{}", case.name);
                assert_eq!(info.city, text("city"), "{}", case.name);
                assert_eq!(info.gender, expected["gender"].as_i64(), "{}", case.name);
                info.watermark
            }
            "raw" => {
                let value = decrypt_value(&key, &case.iv, &case.encrypted_data).unwrap();
                Watermark::from_payload(&value).unwrap()
            }
            other => panic!("unknown fixture kind {other}"),
        };
        match &case.appid {
            Some(appid) => {
                let watermark = watermark.unwrap_or_else(|| panic!("{}: no watermark", case.name));
                assert_eq!(&watermark.appid, appid);
                assert_eq!(
                    watermark.timestamp,
                    expected["watermark"]["timestamp"].as_i64().unwrap()
                );
                let policy = WatermarkPolicy {
                    appid: appid.clone(),
                    max_age_secs: None,
                };
                policy.check(Some(&watermark), watermark.timestamp).unwrap();
            }
            None => assert_eq!(watermark, None, "{}", case.name),
        }
    }
}

#[test]
fn official_demo_decrypts_to_its_published_user() {
    let case = fixtures()
        .open_data
        .into_iter()
        .find(|c| c.name == "wechat_official_demo")
        .unwrap();
    let key = SessionKey::from_base64(&case.session_key).unwrap();
    let info = decrypt_user_info(&key, &case.iv, &case.encrypted_data).unwrap();
    assert_eq!(
        info.open_id.as_deref(),
        Some("oGZUI0egBJY1zhBYw2KhdUfwVJJE")
    );
    assert_eq!(
        info.union_id.as_deref(),
        Some("ocMvos6NjeKLIBqg5Mr9QjxrP1FA")
    );
    assert_eq!(info.nick_name.as_deref(), Some("Band"));
    let policy = WatermarkPolicy {
        appid: "wx4f4bc4dec97d474b".into(),
        max_age_secs: None,
    };
    policy
        .check(info.watermark.as_ref(), 1_477_314_187)
        .unwrap();
}

#[test]
fn raw_data_signatures_match() {
    for case in fixtures().raw_data_signatures {
        let key = SessionKey::from_base64(&case.session_key).unwrap();
        assert_eq!(
            raw_data_signature(&case.raw_data, &key),
            case.signature,
            "{}",
            case.name
        );
        verify_raw_data_signature(&case.raw_data, &case.signature, &key).unwrap();
        verify_raw_data_signature(&case.raw_data, &case.signature.to_uppercase(), &key).unwrap();
    }
}

#[test]
fn checksession_signatures_match() {
    for case in fixtures().checksession_signatures {
        let key = SessionKey::from_base64(&case.session_key).unwrap();
        assert_eq!(
            checksession_signature(&key),
            case.signature,
            "{}",
            case.session_key
        );
    }
}
