//! The simulator over HTTP: its routes (WeChat's paths, the device side and the control
//! side) and the ways to serve them. Apart from `simulator.rs` so that the handlers, which
//! need the simulator's state, never import the file that routes to them.
use std::io;
use std::net::SocketAddr;

use axum::routing::{any, get, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::connection::{HangupListener, HangupSwitch};
use crate::simulator::Simulator;
use crate::{control, device, wechat};

impl Simulator {
    /// WeChat's paths, the device side (`/sim/login`, `/sim/phone`, `/sim/userinfo`) and the
    /// control side (`/sim/faults`, `/sim/tokens/refuse`, `/sim/clock/advance`, `/sim/stats`,
    /// `/sim/reset-stats`).
    /// Any other path answers 40066 `invalid url`, as WeChat does.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/sns/jscode2session", any(wechat::code2session::handle))
            .route("/cgi-bin/token", any(wechat::access_token::classic))
            .route("/cgi-bin/stable_token", any(wechat::access_token::stable))
            .route(
                "/wxa/business/getuserphonenumber",
                any(wechat::phone_number::handle),
            )
            .route("/wxa/checksession", any(wechat::session_key::check))
            .route("/wxa/resetusersessionkey", any(wechat::session_key::reset))
            .route("/sim/login", post(device::login))
            .route("/sim/phone", post(device::phone))
            .route("/sim/userinfo", post(device::user_info))
            .route(
                "/sim/faults",
                get(control::get_faults).post(control::set_faults),
            )
            .route("/sim/tokens/refuse", post(control::refuse_stable_token))
            .route("/sim/clock", get(control::clock))
            .route("/sim/clock/advance", post(control::advance_clock))
            .route("/sim/stats", get(control::stats))
            .route("/sim/reset-stats", post(control::reset_stats))
            .fallback(wechat::invalid_url)
            .with_state(self.clone())
    }

    /// Serve on `listener` until the future is dropped. Dropped-connection faults need this
    /// (or [`Simulator::spawn_on_loopback`]) to cut connections cleanly.
    pub async fn serve(self, listener: TcpListener) -> io::Result<()> {
        let app = self
            .router()
            .into_make_service_with_connect_info::<HangupSwitch>();
        axum::serve(HangupListener(listener), app).await
    }

    /// Bind 127.0.0.1 on a free port and serve there in the background.
    pub async fn spawn_on_loopback(self) -> io::Result<SimHandle> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            if let Err(error) = self.serve(listener).await {
                tracing::error!(%error, "simulator stopped");
            }
        });
        Ok(SimHandle {
            base_url: format!("http://{addr}"),
            addr,
            task,
        })
    }
}

/// A simulator serving in the background; dropping the handle stops it.
#[derive(Debug)]
pub struct SimHandle {
    /// `http://127.0.0.1:PORT`, to use as the WeChat base URL.
    pub base_url: String,
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}
