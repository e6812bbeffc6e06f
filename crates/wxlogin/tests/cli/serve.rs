//! `wxlogin serve`: the lines scripts parse, `--sim`, configuration errors, SIGTERM.
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path = std::env::temp_dir().join(format!(
            "wxlogin-serve-{name}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn wxlogin() -> Command {
    without_our_environment(Command::new(env!("CARGO_BIN_EXE_wxlogin")))
}

/// `command` without the caller's WXLOGIN_* settings and log filter.
fn without_our_environment(mut command: Command) -> Command {
    for (name, _) in std::env::vars() {
        if name.starts_with("WXLOGIN_") || name == "RUST_LOG" {
            command.env_remove(name);
        }
    }
    command
}

/// The server's stdout lines, read until `listening on` appears.
struct Server {
    child: Child,
    lines: Vec<String>,
}

impl Server {
    fn start(args: &[&str], dir: &TempDir) -> Server {
        Self::start_with_env(args, &[], dir)
    }

    fn start_with_env(args: &[&str], env: &[(&str, &str)], dir: &TempDir) -> Server {
        let mut command = wxlogin();
        command
            .envs(env.iter().copied())
            .arg("serve")
            .args(args)
            .current_dir(&dir.0)
            .stderr(Stdio::null());
        Self::spawn(command)
    }

    /// Run `command` (a `wxlogin serve`, perhaps under a wrapper that execs it) until it
    /// prints its address.
    fn spawn(mut command: Command) -> Server {
        let mut child = command
            .stdout(Stdio::piped())
            .spawn()
            .expect("wxlogin serve starts");
        let stdout = child.stdout.take().unwrap();
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut lines = Vec::new();
        loop {
            let line = receiver
                .recv_timeout(Duration::from_secs(30))
                .expect("serve prints its address");
            let done = line.starts_with("listening on ");
            lines.push(line);
            if done {
                break;
            }
        }
        Server { child, lines }
    }

    fn value_after(&self, prefix: &str) -> Option<String> {
        self.lines
            .iter()
            .find_map(|line| line.strip_prefix(prefix).map(str::to_owned))
    }

    fn terminate(self) -> std::process::ExitStatus {
        self.terminate_within(Duration::from_secs(10))
    }

    fn terminate_within(mut self, limit: Duration) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!("serve did not stop within {limit:?} of SIGTERM");
    }
}

/// A one-shot HTTP/1.1 request; returns (status, body).
fn http(method: &str, url: &str, body: Option<&str>) -> (u16, String) {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let mut stream = TcpStream::connect(host).unwrap();
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer[9..12].parse().unwrap();
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn json_field(body: &str, field: &str) -> String {
    let marker = format!("\"{field}\":\"");
    let start = body
        .find(&marker)
        .unwrap_or_else(|| panic!("{field} in {body}"))
        + marker.len();
    body[start..].split('"').next().unwrap().to_owned()
}

#[test]
fn serve_with_sim_prints_addresses_and_logs_in() {
    let dir = TempDir::new("sim");
    let server = Server::start(&["--sim", "--listen", "127.0.0.1:0"], &dir);
    let base = server.value_after("listening on ").unwrap();
    let simulator = server.value_after("simulator on ").unwrap();
    let appid = server.value_after("demo appid ").unwrap();
    assert_eq!(appid, "wx0000000000demo");
    assert!(
        !base.ends_with(":0"),
        "the real bound port is printed: {base}"
    );
    let curl = server.value_after("try: ").unwrap();
    assert!(
        curl.contains(&format!("{simulator}/sim/login"))
            && curl.contains(&format!("{base}/v1/login")),
        "{curl}"
    );

    let (status, body) = http(
        "POST",
        &format!("{simulator}/sim/login"),
        Some(&format!(r#"{{"appid":"{appid}","user":"alice"}}"#)),
    );
    assert_eq!(status, 200, "{body}");
    let code = json_field(&body, "code");
    let (status, body) = http(
        "POST",
        &format!("{base}/v1/login"),
        Some(&format!(r#"{{"code":"{code}"}}"#)),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"token_type\":\"Bearer\""));
    assert_eq!(http("GET", &format!("{base}/healthz"), None).0, 200);

    // Data lives in ./wxlogin.db by default, with the dev master key beside it (0600).
    assert!(dir.0.join("wxlogin.db").exists());
    let key_file = dir.0.join("wxlogin.db.master-key");
    assert!(key_file.exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert!(server.terminate().success(), "SIGTERM ends serve cleanly");
}

/// Secrets given as flags are readable in /proc/PID/cmdline: serve warns (naming the
/// variable to use instead, never the value); the same secret from the environment is
/// not warned about.
#[test]
fn a_secret_given_as_a_flag_is_warned_about_without_its_value() {
    let dir = TempDir::new("secret-flag");
    let stderr_path = dir.0.join("stderr.log");
    let master_key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    let previous_key = "Hx4dHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";
    let mut child = wxlogin()
        .env("WXLOGIN_MASTER_KEY", master_key)
        .args([
            "serve",
            "--appid",
            "wx1111111111111111",
            "--secret",
            "FLAG-SECRET-VALUE-1234",
            "--previous-master-key",
            previous_key,
            "--listen",
            "127.0.0.1:0",
            "--wechat-base-url",
            "http://127.0.0.1:9",
        ])
        .current_dir(&dir.0)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let listening = stdout
        .lines()
        .map_while(Result::ok)
        .any(|line| line.starts_with("listening on "));
    let _ = child.kill();
    let _ = child.wait();
    assert!(listening, "serve started");
    let log = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(
        log.contains("--secret was given on the command line") && log.contains("WXLOGIN_SECRET"),
        "{log}"
    );
    assert!(!log.contains("--master-key was given"), "{log}");
    assert!(!log.contains("FLAG-SECRET-VALUE-1234"), "{log}");
    assert!(!log.contains(master_key), "{log}");
    assert!(
        log.contains("--previous-master-key was given on the command line")
            && log.contains("WXLOGIN_PREVIOUS_MASTER_KEY"),
        "{log}"
    );
    assert!(!log.contains(previous_key), "{log}");
}

#[test]
fn serve_reads_apps_from_the_config_file_by_flag_or_env() {
    let dir = TempDir::new("config");
    std::fs::write(
        dir.0.join("wxlogin.toml"),
        "code_retry_window = 30\n[[apps]]\nappid = \"wx1111111111111111\"\nsecret = \"s1\"\n[[apps]]\nappid = \"wx2222222222222222\"\nsecret = \"s2\"\n",
    )
    .unwrap();
    let by_flag = [
        "--sim",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        "sqlite://apps.db",
        "--config",
        "wxlogin.toml",
    ];
    let by_env = [
        "--sim",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        "sqlite://apps.db",
    ];
    for server in [
        Server::start(&by_flag, &dir),
        Server::start_with_env(&by_env, &[("WXLOGIN_CONFIG", "wxlogin.toml")], &dir),
    ] {
        let apps: Vec<_> = server
            .lines
            .iter()
            .filter(|line| line.starts_with("demo appid "))
            .cloned()
            .collect();
        assert_eq!(
            apps,
            [
                "demo appid wx1111111111111111",
                "demo appid wx2222222222222222"
            ]
        );
        let base = server.value_after("listening on ").unwrap();
        let (status, body) = http("POST", &format!("{base}/v1/login"), Some(r#"{"code":"x"}"#));
        assert_eq!(status, 400);
        assert!(body.contains("appid is required"), "{body}");
        assert!(server.terminate().success());
    }
}

#[test]
fn serve_refuses_incomplete_configuration() {
    let dir = TempDir::new("bad");
    let output = wxlogin()
        .args(["serve", "--appid", "wx1111111111111111"])
        .current_dir(&dir.0)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--secret"));

    let output = wxlogin()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(&dir.0)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no app configured"));

    let output = wxlogin()
        .args([
            "serve",
            "--appid",
            "wx1111111111111111",
            "--secret",
            "s",
            "--database-url",
            "postgres://127.0.0.1:1/x",
        ])
        .current_dir(&dir.0)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("master key"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let output = wxlogin()
        .args([
            "serve",
            "--sim",
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "yaml",
        ])
        .current_dir(&dir.0)
        .output()
        .unwrap();
    assert!(!output.status.success());
}

/// The status of `GET url`, or `None` without an answer within `limit`.
fn status_within(url: &str, limit: Duration) -> Option<u16> {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut stream = TcpStream::connect(host).ok()?;
    stream.set_read_timeout(Some(limit)).unwrap();
    stream.set_write_timeout(Some(limit)).unwrap();
    write!(
        stream,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    answer.get(9..12)?.parse().ok()
}

#[test]
fn sigterm_with_a_trickling_body_in_flight_exits_within_the_shutdown_timeout() {
    let dir = TempDir::new("drain");
    let server = Server::start(
        &[
            "--sim",
            "--listen",
            "127.0.0.1:0",
            "--request-read-timeout",
            "60",
            "--shutdown-timeout",
            "2",
        ],
        &dir,
    );
    let base = server.value_after("listening on ").unwrap();
    let mut stream = TcpStream::connect(base.strip_prefix("http://").unwrap()).unwrap();
    stream
        .write_all(b"POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        .unwrap();
    // A byte every half second: the body would take almost a minute, well inside the
    // read timeout's gaps.
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_millis(500));
        if stream.write_all(b" ").is_err() {
            return;
        }
    });
    std::thread::sleep(Duration::from_millis(700));

    let started = Instant::now();
    let status = server.terminate_within(Duration::from_secs(8));
    let elapsed = started.elapsed();
    assert!(
        status.success(),
        "a drained shutdown is a clean exit: {status}"
    );
    assert!(
        elapsed >= Duration::from_millis(1500) && elapsed < Duration::from_millis(4500),
        "the request in flight got the 2 s drain period, no more: exited after {elapsed:?}"
    );
}

#[test]
fn under_a_low_open_files_limit_silent_sockets_do_not_stop_healthz() {
    let dir = TempDir::new("fds");
    let log = dir.0.join("stderr.log");
    let mut command = without_our_environment(Command::new("prlimit"));
    command
        .arg("--nofile=128:128")
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_wxlogin"))
        .args([
            "serve",
            "--sim",
            "--listen",
            "127.0.0.1:0",
            "--request-read-timeout",
            "30",
        ])
        .current_dir(&dir.0)
        .stderr(std::fs::File::create(&log).unwrap());
    let server = Server::spawn(command);
    let base = server.value_after("listening on ").unwrap();
    let host = base.strip_prefix("http://").unwrap();
    // More silent sockets than the process has file descriptors.
    let silent: Vec<TcpStream> = (0..150)
        .map(|_| TcpStream::connect(host).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    assert_eq!(
        status_within(&format!("{base}/healthz"), Duration::from_secs(5)),
        Some(200),
        "healthz answers while {} silent sockets are open",
        silent.len()
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(server.terminate().success());
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("open-files limit leaves room"), "{log}");
    assert!(log.contains("connection limit reached"), "{log}");
}
