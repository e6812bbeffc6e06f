//! The soak's smoke mode as part of `cargo test`: `scripts/soak --requests 500 --faults`
//! against this build's `wxlogin serve` and `wxlogin sim`, which must report every check
//! consistent (statuses, database, refresh tokens, memory, shutdown) and exit 0.
use std::path::Path;
use std::process::Command;

#[test]
fn soak_smoke_with_faults_is_consistent() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let output = Command::new("python3")
        .arg(repo.join("scripts/soak"))
        .args(["--requests", "500", "--faults", "--max-seconds", "50"])
        .arg("--bin")
        .arg(env!("CARGO_BIN_EXE_wxlogin"))
        .env_remove("RUST_LOG")
        .output()
        .expect("python3 runs scripts/soak (the soak needs Python 3, standard library only)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "soak exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("OK: statuses, database, refresh tokens, memory and shutdown"),
        "{stdout}"
    );
    // Every fault phase ran, so the 503 path and the recovery were both exercised.
    for phase in ["busy 30%", "drops 20%", "past deadline", "busy+drops"] {
        assert!(stdout.contains(&format!("phase: {phase}")), "{stdout}");
    }
}
