//! The Rust side of the crypto peer comparison (`bench/crypto_peer.sh`): the same
//! decryptions of the same payloads that `bench/peer_wechatpy.py` does with wechatpy, with
//! the same fixed iteration count, on one thread.
//!
//! One operation is what a server does per request with a stored base64 session key:
//! parse the key, decrypt, parse the JSON into the typed payload, check the watermark's
//! appid. wechatpy's `WeChatWxaCrypto(key, iv, appid).decrypt_message(data)` does the same.
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

/// CPU time of this process (`CLOCK_PROCESS_CPUTIME_ID`, as Python's `time.process_time`).
/// Ops per CPU-second is what "per core" means, and unlike wall time it does not drop when
/// other work shares the machine.
pub fn process_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; the clock id is a constant the kernel knows.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) };
    if status != 0 {
        return Duration::ZERO;
    }
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

use serde::{Deserialize, Serialize};
use wxlogin_crypto::{
    decrypt_phone_number, decrypt_user_info, CryptoError, SessionKey, WatermarkPolicy,
};

/// One encrypted payload and the plaintext fields it must decrypt to.
#[derive(Debug, Clone, Deserialize)]
pub struct EncryptedPayload {
    pub iv: String,
    pub encrypted_data: String,
    /// The plaintext JSON the generator encrypted, to check the decryption against.
    pub plaintext: String,
}

/// The payload file written by `bench/make_payloads.py` (Python `cryptography`, so the
/// payloads do not come from the code under test).
#[derive(Debug, Clone, Deserialize)]
pub struct PayloadFile {
    pub appid: String,
    pub session_key: String,
    pub phone: EncryptedPayload,
    pub user_info: EncryptedPayload,
}

impl PayloadFile {
    pub fn read(path: &Path) -> anyhow::Result<PayloadFile> {
        let text = std::fs::read_to_string(path)?;
        Ok(serde_json::from_str(&text)?)
    }
}

/// Which decryption is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Phone,
    UserInfo,
}

impl Operation {
    pub const ALL: [Operation; 2] = [Operation::Phone, Operation::UserInfo];

    fn payload(self, file: &PayloadFile) -> &EncryptedPayload {
        match self {
            Operation::Phone => &file.phone,
            Operation::UserInfo => &file.user_info,
        }
    }

    /// One request's worth of work. Returns the decrypted payload as JSON so that the
    /// result can be compared with the generator's plaintext.
    pub fn run_once(self, file: &PayloadFile) -> Result<serde_json::Value, CryptoError> {
        let payload = self.payload(file);
        let key = SessionKey::from_base64(&file.session_key)?;
        let policy = WatermarkPolicy {
            appid: file.appid.clone(),
            max_age_secs: None,
        };
        let decrypted = match self {
            Operation::Phone => {
                let phone = decrypt_phone_number(&key, &payload.iv, &payload.encrypted_data)?;
                policy.check(phone.watermark.as_ref(), 0)?;
                serde_json::to_value(phone)
            }
            Operation::UserInfo => {
                let info = decrypt_user_info(&key, &payload.iv, &payload.encrypted_data)?;
                policy.check(info.watermark.as_ref(), 0)?;
                serde_json::to_value(info)
            }
        };
        Ok(decrypted.expect("typed payloads serialize"))
    }

    /// The timed loop: exactly the work of [`Operation::run_once`] minus the re-serialization
    /// used for checking. Returns (wall time, CPU time of this process).
    fn run_timed(
        self,
        file: &PayloadFile,
        iterations: u64,
    ) -> Result<(Duration, Duration), CryptoError> {
        let payload = self.payload(file);
        let policy = WatermarkPolicy {
            appid: file.appid.clone(),
            max_age_secs: None,
        };
        let cpu_started = process_cpu_time();
        let started = Instant::now();
        for _ in 0..iterations {
            let key = SessionKey::from_base64(black_box(&file.session_key))?;
            let (iv, data) = (black_box(&payload.iv), black_box(&payload.encrypted_data));
            match self {
                Operation::Phone => {
                    let phone = decrypt_phone_number(&key, iv, data)?;
                    policy.check(phone.watermark.as_ref(), 0)?;
                    black_box(phone);
                }
                Operation::UserInfo => {
                    let info = decrypt_user_info(&key, iv, data)?;
                    policy.check(info.watermark.as_ref(), 0)?;
                    black_box(info);
                }
            }
        }
        Ok((
            started.elapsed(),
            process_cpu_time().saturating_sub(cpu_started),
        ))
    }
}

/// Why a measurement could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("{operation:?}: decryption failed: {source}")]
    Decrypt {
        operation: Operation,
        source: CryptoError,
    },
    #[error("{operation:?}: the decrypted payload differs from the generator's plaintext")]
    WrongPlaintext { operation: Operation },
    #[error("{operation:?}: the generator's plaintext is not JSON")]
    BadFixture { operation: Operation },
}

/// One measured operation, printed as a JSON line.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    pub implementation: &'static str,
    pub operation: Operation,
    pub iterations: u64,
    /// Wall-clock seconds of the timed loop.
    pub seconds: f64,
    /// CPU seconds of the timed loop.
    pub cpu_seconds: f64,
    /// Iterations per CPU second: ops/s per core.
    pub ops_per_cpu_sec: f64,
}

/// Check that `operation` decrypts to the generator's plaintext (the fields both sides
/// know), then time `iterations` runs after a warm-up of a tenth of that.
pub fn measure(
    file: &PayloadFile,
    operation: Operation,
    iterations: u64,
) -> Result<Measurement, PeerError> {
    let decrypt_error = |source| PeerError::Decrypt { operation, source };
    let decrypted = operation.run_once(file).map_err(decrypt_error)?;
    let expected: serde_json::Value = serde_json::from_str(&operation.payload(file).plaintext)
        .map_err(|_| PeerError::BadFixture { operation })?;
    if !same_known_fields(&expected, &decrypted) {
        return Err(PeerError::WrongPlaintext { operation });
    }
    operation
        .run_timed(file, (iterations / 10).max(1))
        .map_err(decrypt_error)?;
    let (wall, cpu) = operation
        .run_timed(file, iterations)
        .map_err(decrypt_error)?;
    let cpu_seconds = cpu.as_secs_f64().max(f64::MIN_POSITIVE);
    Ok(Measurement {
        implementation: "wxlogin-crypto",
        operation,
        iterations,
        seconds: wall.as_secs_f64(),
        cpu_seconds,
        ops_per_cpu_sec: iterations as f64 / cpu_seconds,
    })
}

/// Every field of `expected` is in `decrypted` with the same value (numbers compared as
/// text, since the typed payload keeps `countryCode` as a string).
fn same_known_fields(expected: &serde_json::Value, decrypted: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (expected, decrypted) {
        (Value::Object(expected), Value::Object(decrypted)) => {
            expected.iter().all(|(name, value)| {
                decrypted
                    .get(name)
                    .is_some_and(|found| same_known_fields(value, found))
            })
        }
        (Value::Number(number), Value::String(text)) => number.to_string() == *text,
        (expected, decrypted) => expected == decrypted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wxlogin_crypto::{encrypt_json, PhoneNumberPayload, UserInfoPayload, Watermark};

    fn file() -> PayloadFile {
        let key = SessionKey::from_bytes([7; 16]);
        let watermark = Some(Watermark {
            appid: "wxbench0000000001".into(),
            timestamp: 1_700_000_000,
        });
        let phone = PhoneNumberPayload {
            phone_number: "13800000000".into(),
            pure_phone_number: "13800000000".into(),
            country_code: "86".into(),
            watermark: watermark.clone(),
        };
        let info = UserInfoPayload {
            nick_name: Some("bench".into()),
            watermark,
            ..UserInfoPayload::default()
        };
        let encrypted =
            |plaintext: String, (encrypted_data, iv): (String, String)| EncryptedPayload {
                iv,
                encrypted_data,
                plaintext,
            };
        PayloadFile {
            appid: "wxbench0000000001".into(),
            session_key: key.expose_base64().to_string(),
            phone: encrypted(
                serde_json::to_string(&phone).unwrap(),
                encrypt_json(&key, &[1; 16], &phone),
            ),
            user_info: encrypted(
                serde_json::to_string(&info).unwrap(),
                encrypt_json(&key, &[2; 16], &info),
            ),
        }
    }

    #[test]
    fn measures_both_operations_on_matching_payloads() {
        let file = file();
        for operation in Operation::ALL {
            let measurement = measure(&file, operation, 20).unwrap();
            assert_eq!(measurement.iterations, 20);
            assert!(measurement.ops_per_cpu_sec > 0.0);
            assert!(measurement.cpu_seconds > 0.0);
        }
    }

    #[test]
    fn refuses_a_payload_that_decrypts_to_something_else() {
        let mut file = file();
        file.phone.plaintext = file.phone.plaintext.replace("13800000000", "13900000000");
        assert!(matches!(
            measure(&file, Operation::Phone, 5),
            Err(PeerError::WrongPlaintext { .. })
        ));
    }

    #[test]
    fn refuses_a_payload_for_another_app() {
        let mut file = file();
        file.appid = "wxother".into();
        assert!(matches!(
            measure(&file, Operation::UserInfo, 5),
            Err(PeerError::Decrypt {
                source: CryptoError::WatermarkAppIdMismatch { .. },
                ..
            })
        ));
    }

    #[test]
    fn numbers_match_their_text_form() {
        let expected = serde_json::json!({"countryCode": 86, "a": {"b": "c"}});
        let decrypted = serde_json::json!({"countryCode": "86", "a": {"b": "c", "d": 1}});
        assert!(same_known_fields(&expected, &decrypted));
        assert!(!same_known_fields(&decrypted, &expected));
    }
}
