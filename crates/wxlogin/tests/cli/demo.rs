//! `wxlogin demo` runs the whole flow against its in-process server and simulator and
//! exits 0 only when every step gave the expected answer.
use std::process::Command;

#[test]
fn demo_runs_every_step_and_exits_zero() {
    let output = Command::new(env!("CARGO_BIN_EXE_wxlogin"))
        .arg("demo")
        .env_remove("RUST_LOG")
        .output()
        .expect("wxlogin runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    for expected in [
        "[1] wx.login()",
        "POST /v1/login",
        "same user, fresh token pair; WeChat saw the code once",
        "POST /v1/me/phone",
        "phone 138****5678",
        "decrypted with the stored session key: phone 139****4321",
        "POST /v1/me/userinfo",
        "PATCH /v1/me",
        "POST /v1/token/refresh",
        "← 204 session revoked",
        "← 401 \"unauthorized\"",
        "demo passed",
    ] {
        assert!(
            stdout.contains(expected),
            "{expected:?} missing in:\n{stdout}"
        );
    }
    // Nothing secret on the screen: numbers masked, tokens abbreviated.
    assert!(!stdout.contains("13812345678"), "{stdout}");
    assert!(!stdout.contains("13987654321"), "{stdout}");
    assert!(
        !stdout.contains("0000000000000000000000000000demo"),
        "app secret printed"
    );
    assert!(
        stderr.trim().is_empty(),
        "the demo logs nothing by default:\n{stderr}"
    );
}
