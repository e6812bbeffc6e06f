//! The `wxlogin` binary as a process: one-shot commands, and `wxlogin serve` instances
//! whose address is read from the `listening on http://ADDR` line.
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The binary with no `WXLOGIN_*` or `RUST_LOG` inherited from the test's environment.
pub fn wxlogin_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wxlogin"));
    for (name, _) in std::env::vars() {
        if name.starts_with("WXLOGIN_") || name == "RUST_LOG" {
            command.env_remove(name);
        }
    }
    command
}

/// What a one-shot command printed.
#[derive(Debug)]
pub struct CommandOutput {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Run `wxlogin ARGS…` to completion.
pub async fn run_wxlogin(args: &[&str]) -> CommandOutput {
    let output = wxlogin_command()
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("wxlogin runs");
    CommandOutput {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A directory for one test's server logs: removed when the test passes, kept (and its
/// path printed) when it fails, so the instances' logs can be read.
pub struct LogDir(PathBuf);

impl LogDir {
    pub fn new(test: &str) -> LogDir {
        let path = std::env::temp_dir().join(format!(
            "wxlogin-{test}-{}",
            super::database::unique_suffix()
        ));
        std::fs::create_dir_all(&path).expect("log directory");
        LogDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for LogDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("server logs kept in {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A running `wxlogin serve`; killed when dropped.
pub struct ServerProcess {
    /// `http://127.0.0.1:PORT`
    pub base_url: String,
    pub name: String,
    pub log_path: PathBuf,
    child: Child,
}

impl ServerProcess {
    /// Start `wxlogin serve --listen 127.0.0.1:0 ARGS…`, logging to `LOGDIR/NAME.log`, and
    /// wait for its address.
    pub async fn start(name: &str, args: &[String], log_dir: &Path) -> ServerProcess {
        let log_path = log_dir.join(format!("{name}.log"));
        let log = std::fs::File::create(&log_path).expect("log file");
        let mut child = wxlogin_command()
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "info,wxlogin_client=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .expect("wxlogin serve starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let address = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.expect("stdout is readable") {
                if let Some(address) = line.strip_prefix("listening on ") {
                    return Some(address.trim().to_owned());
                }
            }
            None
        })
        .await
        .unwrap_or(None);
        let Some(base_url) = address else {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            panic!("{name} did not print `listening on`; its log:\n{log}");
        };
        // Keep reading stdout so that a late line never meets a closed pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        ServerProcess {
            base_url,
            name: name.to_owned(),
            log_path,
            child,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The log lines written so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Stop now (SIGKILL) and wait for the process to end; how it ended.
    pub async fn kill(mut self) -> std::io::Result<std::process::ExitStatus> {
        self.child.start_kill()?;
        self.child.wait().await
    }
}
