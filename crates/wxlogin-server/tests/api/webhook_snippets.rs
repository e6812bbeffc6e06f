//! The receiver snippets of examples/webhooks/ (Node, Python, Java) accept the signatures
//! this crate produces and refuse tampered, stale, future or mis-keyed ones. Node and
//! Python must be installed; the Java snippet is compiled and run when `javac` is there.
use std::path::{Path, PathBuf};
use std::process::Command;

use wxlogin_server::webhooks::signature_header;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/webhooks")
}

/// A verifier: the command line before `SECRET SIGNATURE BODY_FILE NOW`.
struct Verifier {
    name: &'static str,
    program: String,
    leading: Vec<String>,
}

impl Verifier {
    fn accepts(&self, secret: &str, signature: &str, body: &[u8], now: i64) -> bool {
        let dir = std::env::temp_dir().join(format!("wxlogin-snippet-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let body_file = dir.join("body.json");
        std::fs::write(&body_file, body).unwrap();
        let status = Command::new(&self.program)
            .args(&self.leading)
            .args([
                secret,
                signature,
                body_file.to_str().unwrap(),
                &now.to_string(),
            ])
            .status()
            .unwrap_or_else(|error| panic!("{} cannot run: {error}", self.name));
        std::fs::remove_dir_all(&dir).unwrap();
        match status.code() {
            Some(0) => true,
            Some(1) => false,
            other => panic!("{} ended with {other:?}", self.name),
        }
    }
}

fn check(verifier: &Verifier) {
    let secret = format!("whsec_{}", uuid::Uuid::new_v4().simple());
    // Non-ASCII text: the MAC is over the body's bytes.
    let body = r#"{"id":"e1","type":"user.profile_updated","occurred_at":"2026-12-01T21:00:00Z","user_id":"u1","data":{"fields":["nickname"],"note":"张三"}}"#.as_bytes();
    let t = 1_764_622_800;
    let signature = signature_header(secret.as_bytes(), t, body);
    let name = verifier.name;

    assert!(
        verifier.accepts(&secret, &signature, body, t),
        "{name}: valid"
    );
    assert!(
        verifier.accepts(&secret, &signature, body, t + 300),
        "{name}: 5 min late"
    );
    assert!(
        verifier.accepts(&secret, &signature, body, t - 300),
        "{name}: 5 min early"
    );
    assert!(
        !verifier.accepts(&secret, &signature, body, t + 301),
        "{name}: stale"
    );
    assert!(
        !verifier.accepts(&secret, &signature, body, t - 301),
        "{name}: future"
    );
    assert!(
        !verifier.accepts("another secret", &signature, body, t),
        "{name}: wrong secret"
    );
    let mut tampered = body.to_vec();
    tampered[10] ^= 1;
    assert!(
        !verifier.accepts(&secret, &signature, &tampered, t),
        "{name}: tampered"
    );
    let moved = signature.replace(&format!("t={t}"), &format!("t={}", t + 1));
    assert!(
        !verifier.accepts(&secret, &moved, body, t),
        "{name}: timestamp changed"
    );
    assert!(
        !verifier.accepts(&secret, "v1=00", body, t),
        "{name}: malformed"
    );

    // The published vector (examples/webhooks/vector.json, also checked by a unit test).
    let vector: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(examples().join("vector.json")).unwrap())
            .unwrap();
    assert!(
        verifier.accepts(
            vector["secret"].as_str().unwrap(),
            vector["signature"].as_str().unwrap(),
            vector["body"].as_str().unwrap().as_bytes(),
            vector["timestamp"].as_i64().unwrap(),
        ),
        "{name}: published vector"
    );
}

#[test]
fn the_node_snippet_verifies_our_signatures() {
    check(&Verifier {
        name: "node",
        program: "node".to_owned(),
        leading: vec![examples().join("verify.js").display().to_string()],
    });
}

#[test]
fn the_python_snippet_verifies_our_signatures() {
    check(&Verifier {
        name: "python",
        program: "python3".to_owned(),
        leading: vec![examples().join("verify.py").display().to_string()],
    });
}

#[test]
fn the_java_snippet_verifies_our_signatures() {
    let has_javac = Command::new("javac")
        .arg("-version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !has_javac {
        eprintln!("javac is not installed: the Java snippet is not checked");
        return;
    }
    let classes = std::env::temp_dir().join(format!("wxlogin-java-{}", uuid::Uuid::new_v4()));
    let compiled = Command::new("javac")
        .arg("-d")
        .arg(&classes)
        .arg(examples().join("WebhookVerifier.java"))
        .status()
        .unwrap();
    assert!(compiled.success(), "WebhookVerifier.java compiles");
    check(&Verifier {
        name: "java",
        program: "java".to_owned(),
        leading: vec![
            "-cp".to_owned(),
            classes.display().to_string(),
            "WebhookVerifier".to_owned(),
        ],
    });
    std::fs::remove_dir_all(&classes).unwrap();
}

/// The README shows the Python and Node functions; they must be the tested files' own.
#[test]
fn the_readme_shows_the_tested_functions() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let function = |file: &str, start: &str, end: &str| {
        let text = std::fs::read_to_string(examples().join(file)).unwrap();
        let from = text.find(start).unwrap();
        let to = from + text[from..].find(end).unwrap();
        text[from..to].trim_end().to_owned()
    };
    let python = function("verify.py", "def verify_webhook", "\n\n\n#");
    let node = function("verify.js", "/** True when", "\nmodule.exports");
    assert!(
        readme.contains(&python),
        "README's Python differs from verify.py"
    );
    assert!(
        readme.contains(&node),
        "README's Node differs from verify.js"
    );
}
