//! How the server listens, and how long and how many connections it keeps.
use std::time::Duration;

use crate::layered::{settings_group, Seconds};

settings_group! {
    /// The listener and the connections.
    pub struct HttpSettings, layer HttpLayer {
        /// Address to listen on; port 0 picks a free port (the bound address is printed)
        #[arg(long, env = "WXLOGIN_LISTEN")]
        pub listen: String = "127.0.0.1:8080".to_owned(),
        /// Largest accepted request body in bytes
        #[arg(long, env = "WXLOGIN_BODY_LIMIT", value_name = "BYTES")]
        pub body_limit: usize = 64 * 1024,
        // Long enough for a slow mobile network; slower clients are disconnected, so
        // stalled connections cannot pile up.
        /// A client must send a request's head (on a new connection: within this long of
        /// connecting), and then its whole body, within this many seconds, or it is
        /// disconnected
        #[arg(long, env = "WXLOGIN_REQUEST_READ_TIMEOUT", value_name = "SECS")]
        pub request_read_timeout: Duration as Seconds = Duration::from_secs(10),
        // Long enough for a mini program to reuse a connection between taps, short enough
        // that parked ones do not pile up.
        /// A keep-alive connection with no request in flight is closed after this many
        /// seconds; HTTP/1 connections also get only --request-read-timeout between requests
        #[arg(long, env = "WXLOGIN_IDLE_TIMEOUT", value_name = "SECS")]
        pub idle_timeout: Duration as Seconds = Duration::from_secs(60),
        /// Most open connections, lowered to what the open-files limit leaves; at the cap the
        /// longest-idle connection is closed to make room, and a new one is refused only while
        /// all are busy
        #[arg(long, env = "WXLOGIN_MAX_CONNECTIONS", value_name = "N")]
        pub max_connections: usize = 10_000,
        // Off by default: behind a proxy (the documented deployment) every connection
        // comes from the proxy's address.
        /// Most open connections from one client address, the same way; 0 turns the cap off
        /// (behind a proxy all connections come from the proxy)
        #[arg(long, env = "WXLOGIN_MAX_CONNECTIONS_PER_IP", value_name = "N")]
        pub max_connections_per_ip: usize = 0,
        // Under systemd's default stop timeout (90 s) and the usual orchestrator grace
        // periods (30 s).
        /// On SIGTERM or Ctrl-C, how many seconds requests in flight get to finish before
        /// their connections are closed and the process exits
        #[arg(long, env = "WXLOGIN_SHUTDOWN_TIMEOUT", value_name = "SECS")]
        pub shutdown_timeout: Duration as Seconds = Duration::from_secs(10),
    }
}
