//! Criterion micro-benchmarks of the per-request crypto: decrypt + parse a phone payload
//! and a user-info payload, and verify a rawData signature. `bench/run-crypto.sh` runs
//! them; BENCHMARKS.md holds the results.
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use wxlogin_crypto::{
    decrypt_phone_number, decrypt_user_info, encrypt_json, raw_data_signature,
    verify_raw_data_signature, PhoneNumberPayload, SessionKey, UserInfoPayload, Watermark,
    WatermarkPolicy,
};

const APPID: &str = "wxbench0000000001";

fn watermark() -> Option<Watermark> {
    Some(Watermark {
        appid: APPID.into(),
        timestamp: 1_700_000_000,
    })
}

fn phone_payload() -> PhoneNumberPayload {
    PhoneNumberPayload {
        phone_number: "13800000000".into(),
        pure_phone_number: "13800000000".into(),
        country_code: "86".into(),
        watermark: watermark(),
    }
}

fn user_info_payload() -> UserInfoPayload {
    UserInfoPayload {
        open_id: Some("oGZUI0egBJY1zhBYw2KhdUfwVJJE".into()),
        nick_name: Some("微信用户".into()),
        gender: Some(0),
        language: Some("zh_CN".into()),
        city: Some(String::new()),
        province: Some(String::new()),
        country: Some(String::new()),
        avatar_url: Some("https://thirdwx.qlogo.cn/mmopen/vi_32/POgEwh4mIHO4nibH0KlMECNjjGxQUq24ZEaGT4poC6icRiccVGKSyXwibcPq4BWmiaIGuG1icwxaQX6grC9VemZoJ8rg/132".into()),
        union_id: Some("ocMvos6NjeKLIBqg5Mr9QjxrP1FA".into()),
        watermark: watermark(),
    }
}

fn open_data(c: &mut Criterion) {
    let key = SessionKey::from_bytes(*b"bench-session-k!");
    let key_text = key.expose_base64().to_string();
    let policy = WatermarkPolicy {
        appid: APPID.into(),
        max_age_secs: None,
    };
    let mut group = c.benchmark_group("open_data");
    group.throughput(Throughput::Elements(1));

    let (phone_data, phone_iv) = encrypt_json(&key, b"phone-iv-0123456", &phone_payload());
    // What the server does per request: parse the stored key, decrypt, parse, check.
    group.bench_function("phone_decrypt_parse_check", |b| {
        b.iter(|| {
            let key = SessionKey::from_base64(black_box(&key_text)).unwrap();
            let phone =
                decrypt_phone_number(&key, black_box(&phone_iv), black_box(&phone_data)).unwrap();
            policy.check(phone.watermark.as_ref(), 0).unwrap();
            phone
        })
    });

    let (info_data, info_iv) = encrypt_json(&key, b"userinfo-iv-0123", &user_info_payload());
    group.bench_function("user_info_decrypt_parse_check", |b| {
        b.iter(|| {
            let key = SessionKey::from_base64(black_box(&key_text)).unwrap();
            let info = decrypt_user_info(&key, black_box(&info_iv), black_box(&info_data)).unwrap();
            policy.check(info.watermark.as_ref(), 0).unwrap();
            info
        })
    });

    let raw_data = serde_json::to_string(&user_info_payload()).unwrap();
    let signature = raw_data_signature(&raw_data, &key);
    group.bench_function("raw_data_signature_verify", |b| {
        b.iter(|| {
            verify_raw_data_signature(black_box(&raw_data), black_box(&signature), &key).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, open_data);
criterion_main!(benches);
