//! A PostgreSQL cluster owned by one test, which it may stop and start again (the shared
//! cluster of `WXLOGIN_TEST_POSTGRES_URL` must never be stopped). Same approach as
//! scripts/postgres-throwaway.sh: initdb + pg_ctl on a free loopback port, trust auth, run
//! as the `postgres` user when the tests run as root (initdb refuses root).
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub struct PrivateCluster {
    /// `postgres://wxlogin@127.0.0.1:PORT/postgres`
    pub url: String,
    pub port: u16,
    dir: PathBuf,
    bindir: PathBuf,
    as_postgres_user: bool,
}

/// Where initdb and pg_ctl are: /usr/lib/postgresql/*/bin (Debian), else on PATH.
fn postgres_bindir() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    candidates.sort();
    candidates.reverse();
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path));
    }
    candidates
        .into_iter()
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

impl PrivateCluster {
    /// Create and start a cluster; `None` (with a printed reason) when PostgreSQL's server
    /// binaries are not installed.
    pub fn start(test: &str) -> Option<PrivateCluster> {
        let Some(bindir) = postgres_bindir() else {
            eprintln!(
                "SKIPPED {test}: PostgreSQL server binaries (initdb, pg_ctl) not found \
                 (Debian: apt-get install postgresql; CI installs them)"
            );
            return None;
        };
        let as_postgres_user = running_as_root();
        let dir = std::env::temp_dir().join(format!(
            "wxlogin-private-pg-{}",
            super::database::unique_suffix()
        ));
        std::fs::create_dir_all(&dir).expect("cluster directory");
        if as_postgres_user {
            let owned = Command::new("chown")
                .arg("postgres:")
                .arg(&dir)
                .status()
                .expect("chown runs");
            assert!(owned.success(), "chown postgres: {}", dir.display());
        }
        let port = free_port();
        let cluster = PrivateCluster {
            url: format!("postgres://wxlogin@127.0.0.1:{port}/postgres"),
            port,
            dir,
            bindir,
            as_postgres_user,
        };
        let initdb = cluster
            .command("initdb")
            .arg("-D")
            .arg(cluster.data_dir())
            .args(["-U", "wxlogin", "--auth=trust", "--no-sync", "-E", "UTF8"])
            .output()
            .expect("initdb runs");
        assert!(
            initdb.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&initdb.stderr)
        );
        cluster.resume();
        Some(cluster)
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn command(&self, program: &str) -> Command {
        let binary = self.bindir.join(program);
        let mut command = if self.as_postgres_user {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(binary);
            command
        } else {
            Command::new(binary)
        };
        command.stdin(Stdio::null());
        command
    }

    fn pg_ctl(&self, args: &[&str]) -> std::process::Output {
        self.command("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .args(args)
            .output()
            .expect("pg_ctl runs")
    }

    /// Start the server (again), on the same port, and wait until it accepts connections.
    pub fn resume(&self) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("server.log");
        let started = self.pg_ctl(&[
            "-w",
            "-t",
            "60",
            "-l",
            path_str(&log),
            "-o",
            &options,
            "start",
        ]);
        assert!(
            started.status.success(),
            "pg_ctl start failed: {}{}",
            String::from_utf8_lossy(&started.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// Stop the server (fast shutdown: open connections are cut), as an outage would.
    pub fn stop(&self) {
        let stopped = self.pg_ctl(&["-w", "-t", "60", "-m", "fast", "stop"]);
        assert!(
            stopped.status.success(),
            "pg_ctl stop failed: {}",
            String::from_utf8_lossy(&stopped.stderr)
        );
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = self.pg_ctl(&["-m", "immediate", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
