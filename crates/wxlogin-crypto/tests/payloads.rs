//! The typed payloads accept what WeChat really sends: countryCode as text or number, and
//! user info with any field missing, empty or null.
use serde_json::json;
use wxlogin_crypto::{
    decrypt_phone_number, decrypt_user_info, encrypt_json, PhoneNumberPayload, SessionKey,
    UserInfoPayload, Watermark,
};

const IV: [u8; 16] = [3; 16];

fn key() -> SessionKey {
    SessionKey::from_bytes(*b"payload-test-key")
}

#[test]
fn country_code_as_string_or_number() {
    for (country_code, expected) in [
        (json!("86"), "86"),
        (json!(86), "86"),
        (json!(852), "852"),
        (json!("+1"), "+1"),
    ] {
        let (encrypted, iv) = encrypt_json(
            &key(),
            &IV,
            &json!({
                "phoneNumber": "13800000000",
                "purePhoneNumber": "13800000000",
                "countryCode": country_code,
                "watermark": {"timestamp": 1637744274, "appid": "wxA"},
            }),
        );
        let phone = decrypt_phone_number(&key(), &iv, &encrypted).unwrap();
        assert_eq!(phone.country_code, expected);
        assert_eq!(
            phone.watermark,
            Some(Watermark {
                appid: "wxA".into(),
                timestamp: 1637744274
            })
        );
    }
}

#[test]
fn phone_payload_serializes_country_code_as_text() {
    let payload = PhoneNumberPayload {
        phone_number: "13800000000".into(),
        pure_phone_number: "13800000000".into(),
        country_code: "86".into(),
        watermark: None,
    };
    let value = serde_json::to_value(&payload).unwrap();
    assert_eq!(value["countryCode"], "86");
    assert_eq!(value["purePhoneNumber"], "13800000000");
}

#[test]
fn phone_payload_ignores_unknown_fields() {
    let (encrypted, iv) = encrypt_json(
        &key(),
        &IV,
        &json!({"phoneNumber": "1", "purePhoneNumber": "1", "countryCode": "86", "newField": [1]}),
    );
    assert_eq!(
        decrypt_phone_number(&key(), &iv, &encrypted)
            .unwrap()
            .phone_number,
        "1"
    );
}

#[test]
fn user_info_with_every_field_missing() {
    let (encrypted, iv) = encrypt_json(&key(), &IV, &json!({}));
    assert_eq!(
        decrypt_user_info(&key(), &iv, &encrypted).unwrap(),
        UserInfoPayload::default()
    );
}

#[test]
fn user_info_from_get_user_profile_has_no_ids_and_null_fields() {
    let (encrypted, iv) = encrypt_json(
        &key(),
        &IV,
        &json!({
            "nickName": "微信用户",
            "gender": 0,
            "language": "zh_CN",
            "city": "",
            "province": null,
            "avatarUrl": "https://thirdwx.qlogo.cn/x/132",
            "watermark": {"timestamp": 1, "appid": "wxA"},
            "is_demote": true,
        }),
    );
    let info = decrypt_user_info(&key(), &iv, &encrypted).unwrap();
    assert_eq!(info.open_id, None);
    assert_eq!(info.union_id, None);
    assert_eq!(info.nick_name.as_deref(), Some("微信用户"));
    assert_eq!(info.gender, Some(0));
    assert_eq!(info.city.as_deref(), Some(""));
    assert_eq!(info.province, None);
    assert_eq!(info.country, None);
    assert_eq!(info.watermark.unwrap().appid, "wxA");
}

#[test]
fn user_info_serializes_back_without_absent_fields() {
    let info = UserInfoPayload {
        nick_name: Some("Band".into()),
        ..UserInfoPayload::default()
    };
    assert_eq!(
        serde_json::to_value(&info).unwrap(),
        json!({"nickName": "Band", "watermark": null})
    );
}
