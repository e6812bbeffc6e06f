//! `wxlogin decrypt` run as a developer would run it: the built binary, its stdout,
//! stderr and exit code.
use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};
use wxlogin_crypto::{encrypt, encrypt_json, SessionKey};

const APPID: &str = "wx0123456789abcdef";
const IV: [u8; 16] = *b"cli-test-iv-0001";

struct Sample {
    key: SessionKey,
    iv: String,
    data: String,
    payload: Value,
}

fn sample(timestamp: i64) -> Sample {
    let key = SessionKey::from_bytes(*b"cli-test-key-001");
    let payload = json!({
        "phoneNumber": "13800000000",
        "purePhoneNumber": "13800000000",
        "countryCode": "86",
        "watermark": {"appid": APPID, "timestamp": timestamp},
    });
    let (data, iv) = encrypt_json(&key, &IV, &payload);
    Sample {
        key,
        iv,
        data,
        payload,
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn wxlogin_decrypt(args: &[&str]) -> Output {
    wxlogin_decrypt_with_stdin(args, "")
}

fn wxlogin_decrypt_with_stdin(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wxlogin"))
        .arg("decrypt")
        .args(args)
        .env_remove("WXLOGIN_SESSION_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wxlogin binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stderr_line(output: &Output) -> String {
    let stderr = String::from_utf8(output.stderr.clone()).unwrap();
    assert_eq!(stderr.lines().count(), 1, "exactly one line: {stderr:?}");
    stderr
}

fn assert_failed_with(output: &Output, expected: &[&str]) -> String {
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(output.stdout.is_empty(), "{output:?}");
    let line = stderr_line(output);
    for part in expected {
        assert!(line.contains(part), "{line:?} lacks {part:?}");
    }
    line
}

#[test]
fn prints_the_decrypted_json() {
    let sample = sample(now());
    let key = sample.key.expose_base64();
    let output = wxlogin_decrypt(&[
        "--session-key",
        &key,
        "--iv",
        &sample.iv,
        "--data",
        &sample.data,
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(output.stderr.is_empty(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.lines().count() > 1, "pretty printed: {stdout}");
    let printed: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(printed, sample.payload);
}

#[test]
fn checks_the_appid_and_age_when_asked() {
    let sample = sample(now() - 10);
    let key = sample.key.expose_base64();
    let output = wxlogin_decrypt(&[
        "--session-key",
        &key,
        "--iv",
        &sample.iv,
        "--data",
        &sample.data,
        "--appid",
        APPID,
        "--max-age",
        "3600",
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed, sample.payload);
}

#[test]
fn wrong_appid_fails() {
    let sample = sample(now());
    let key = sample.key.expose_base64();
    let output = wxlogin_decrypt(&[
        "--session-key",
        &key,
        "--iv",
        &sample.iv,
        "--data",
        &sample.data,
        "--appid",
        "wxSOMEONEELSE",
    ]);
    assert_failed_with(&output, &["wxSOMEONEELSE", APPID, "another mini program"]);
}

#[test]
fn old_data_fails_with_max_age() {
    let sample = sample(now() - 7200);
    let key = sample.key.expose_base64();
    let output = wxlogin_decrypt(&[
        "--session-key",
        &key,
        "--iv",
        &sample.iv,
        "--data",
        &sample.data,
        "--appid",
        APPID,
        "--max-age",
        "60",
    ]);
    assert_failed_with(&output, &["older than the allowed 60 s"]);
}

#[test]
fn payload_without_watermark_fails_only_when_appid_is_checked() {
    let key = SessionKey::from_bytes([1; 16]);
    let (data, iv) = encrypt_json(&key, &IV, &json!({"openGId": "tG1"}));
    let key_text = key.expose_base64();
    let plain = wxlogin_decrypt(&["--session-key", &key_text, "--iv", &iv, "--data", &data]);
    assert_eq!(plain.status.code(), Some(0), "{plain:?}");
    let checked = wxlogin_decrypt(&[
        "--session-key",
        &key_text,
        "--iv",
        &iv,
        "--data",
        &data,
        "--appid",
        APPID,
    ]);
    assert_failed_with(&checked, &["no watermark"]);
}

/// Encrypted with the key the client had, decrypted with the key the server got after the
/// client called wx.login again. Tries several key pairs: a random wrong key unpads by
/// chance about 1 time in 256, and then the message says the plaintext is not JSON, which
/// also points at a stale key.
#[test]
fn stale_key_says_call_wx_login_again() {
    let sample = sample(now());
    for stale_byte in 0u8..4 {
        let stale = SessionKey::from_bytes([stale_byte; 16]).expose_base64();
        let output = wxlogin_decrypt(&[
            "--session-key",
            &stale,
            "--iv",
            &sample.iv,
            "--data",
            &sample.data,
        ]);
        let line = assert_failed_with(&output, &["stale", "wx.login again"]);
        assert!(!line.contains(stale.as_str()), "key leaked: {line}");
        assert!(!line.contains("13800000000"), "plaintext leaked: {line}");
    }
}

#[test]
fn bad_base64_names_the_field() {
    let sample = sample(now());
    let key = sample.key.expose_base64();
    let bad_data = wxlogin_decrypt(&["--session-key", &key, "--iv", &sample.iv, "--data", "@@@"]);
    assert_failed_with(&bad_data, &["encrypted_data is not valid standard base64"]);

    let bad_iv = wxlogin_decrypt(&["--session-key", &key, "--iv", "!!", "--data", &sample.data]);
    assert_failed_with(&bad_iv, &["iv is not valid standard base64"]);

    let bad_key = wxlogin_decrypt(&[
        "--session-key",
        "not*a*key",
        "--iv",
        &sample.iv,
        "--data",
        &sample.data,
    ]);
    assert_failed_with(&bad_key, &["session_key is not valid standard base64"]);
}

#[test]
fn wrong_lengths_are_reported_not_panicked() {
    let sample = sample(now());
    let key = sample.key.expose_base64();
    let short_key = wxlogin_decrypt(&[
        "--session-key",
        "AAAAAAAAAAA=",
        "--iv",
        &sample.iv,
        "--data",
        &sample.data,
    ]);
    assert_failed_with(
        &short_key,
        &["session_key must decode to 16 bytes", "got 8"],
    );

    let short_iv = wxlogin_decrypt(&[
        "--session-key",
        &key,
        "--iv",
        "AAAAAAAAAAA=",
        "--data",
        &sample.data,
    ]);
    assert_failed_with(&short_iv, &["iv must decode to 16 bytes", "got 8"]);

    let truncated = wxlogin_decrypt(&["--session-key", &key, "--iv", &sample.iv, "--data", "AAAA"]);
    assert_failed_with(&truncated, &["multiple of 16 bytes", "got 3"]);
}

#[test]
fn non_json_plaintext_with_the_right_key() {
    let key = SessionKey::from_bytes([2; 16]);
    let data = encrypt(&key, &IV, b"hello, not json");
    let key_text = key.expose_base64();
    let iv = "Y2xpLXRlc3QtaXYtMDAwMQ==";
    let output = wxlogin_decrypt(&["--session-key", &key_text, "--iv", iv, "--data", &data]);
    assert_failed_with(&output, &["not JSON"]);
}

#[test]
fn repairs_form_mangled_data_and_reads_stdin() {
    let sample = sample(now());
    let key = sample.key.expose_base64();
    let mangled = sample.data.replace('+', " ");
    let wrapped: String = mangled
        .as_bytes()
        .chunks(20)
        .map(|chunk| std::str::from_utf8(chunk).unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    let output = wxlogin_decrypt_with_stdin(
        &["--session-key", &key, "--iv", &sample.iv, "--data", "-"],
        &format!("{wrapped}\n"),
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed, sample.payload);
}

#[test]
fn session_key_may_come_from_the_environment() {
    let sample = sample(now());
    let output = Command::new(env!("CARGO_BIN_EXE_wxlogin"))
        .args(["decrypt", "--iv", &sample.iv, "--data", &sample.data])
        .env("WXLOGIN_SESSION_KEY", sample.key.expose_base64().as_str())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed, sample.payload);
}
