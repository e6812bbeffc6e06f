//! The accept loop and the life of each connection. `axum::serve` gives hyper no timer
//! and no limits, and hyper-util's version detection (HTTP/1 or HTTP/2?) reads the first
//! bytes with no deadline at all, so a socket that sends nothing, or an HTTP/2 client that
//! sends only the preface, would be kept forever. Here each connection is supervised:
//! - it must send its first request within the read timeout, whatever its HTTP version;
//! - with no request in flight it is closed after the idle timeout (HTTP/1 heads also have
//!   hyper's header read timeout, which starts once the previous answer is out, so for
//!   HTTP/1 the smaller of the two applies);
//! - the caps of [`capacity`] bound how many are open, so silent sockets cannot use up the
//!   file descriptors;
//! - on shutdown the listener closes, idle connections close, requests in flight finish,
//!   and whatever is still open when the drain period ends is closed.
//!
//! The deadline for a request's body is a layer in the router
//! ([`crate::routes::body_deadline`]).
mod activity;
mod capacity;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::{Bytes, HttpBody};
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::response::Response;
use axum::Router;
use futures::future::BoxFuture;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulConnection;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::ServiceExt;

use activity::{Activity, ActivitySender};
pub use capacity::effective_max_connections;
use capacity::{Capacity, Slot};

/// How connections are limited.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionPolicy {
    /// For the first request's head (and, by hyper's timer, every later head).
    pub read_timeout: Duration,
    /// How long a connection may stay open with no request in flight.
    pub idle_timeout: Duration,
    pub max_connections: usize,
    /// 0: no cap per client address.
    pub max_connections_per_address: usize,
    /// How long shutdown waits for requests in flight before closing their connections.
    pub shutdown_timeout: Duration,
}

/// Serve `router` on `listener` until `shutdown` completes, then drain (see the module
/// doc).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    policy: ConnectionPolicy,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(policy.read_timeout);
    // Pings find HTTP/2 peers that vanished while a request was in flight.
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(policy.read_timeout))
        .keep_alive_timeout(policy.read_timeout);
    let capacity = Capacity::new(policy.max_connections, policy.max_connections_per_address);
    let (stop_sender, stop) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors and the like: pause instead of spinning.
                        tracing::warn!(%error, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (activity, watched) = ActivitySender::new();
                let Some(slot) = capacity.admit(peer.ip(), watched.clone()) else {
                    // Every connection in the way is busy; the capacity logged it.
                    drop(stream);
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let service = TowerToHyperService::new(ConnectionService {
                    router: router.clone(),
                    peer,
                    activity: activity.clone(),
                });
                let connection = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .into_owned();
                connections.spawn(supervise(
                    connection,
                    Supervision {
                        slot,
                        activity,
                        watched,
                        policy,
                        stop: stop.clone(),
                    },
                ));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    let _ = stop_sender.send(true);
    drain(connections, policy.shutdown_timeout).await;
    Ok(())
}

/// Wait for the connections to finish their requests, at most `period`; then close the
/// rest (their requests are abandoned, as a kill would, but the process exits in time).
async fn drain(mut connections: JoinSet<()>, period: Duration) {
    let all_done = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(period, all_done).await.is_err() {
        tracing::warn!(
            connections = connections.len(),
            drain_seconds = period.as_secs_f64(),
            "shutdown: the drain period is over; closing the connections still busy"
        );
        connections.shutdown().await;
    }
}

/// What the supervisor of one connection works with.
struct Supervision {
    slot: Slot,
    /// Kept so that `watched` never reports a closed channel while the connection lives.
    activity: ActivitySender,
    watched: watch::Receiver<Activity>,
    policy: ConnectionPolicy,
    stop: watch::Receiver<bool>,
}

/// Where a connection stands in closing.
#[derive(Clone, Copy, PartialEq)]
enum Closing {
    No,
    /// Graceful shutdown began for this connection alone; dropped at this instant if it
    /// has not finished by then.
    Until(Instant),
    /// Graceful shutdown began for the server's shutdown, whose drain period bounds it.
    ForShutdown,
}

/// Drive `connection` to its end, closing it on the deadlines of the module doc.
async fn supervise<C>(connection: C, mut supervision: Supervision)
where
    C: GracefulConnection,
    C::Error: std::fmt::Display,
{
    let _keep_the_channel_open = &supervision.activity;
    let policy = supervision.policy;
    tokio::pin!(connection);
    let mut closing = Closing::No;
    loop {
        let now = *supervision.watched.borrow();
        // Requests do not wake this task: it looks again when a deadline passes. Busy: one
        // idle timeout from now. Never served yet: the read timeout, but first a look after
        // the (shorter) idle timeout, in case a request came and went meanwhile.
        let idle_deadline = (closing == Closing::No).then(|| {
            let looked_at = Instant::now();
            if !now.is_idle() {
                looked_at + policy.idle_timeout
            } else if now.served {
                now.idle_since + policy.idle_timeout
            } else {
                let first_look = now.idle_since + policy.idle_timeout.min(policy.read_timeout);
                if first_look > looked_at {
                    first_look
                } else {
                    now.idle_since + policy.read_timeout
                }
            }
        });
        let forced_deadline = match closing {
            Closing::Until(deadline) => Some(deadline),
            _ => None,
        };
        tokio::select! {
            ended = connection.as_mut() => {
                if let Err(error) = ended {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            () = sleep_until(idle_deadline) => {
                let activity = *supervision.watched.borrow();
                let allowed = if activity.served {
                    policy.idle_timeout
                } else {
                    policy.read_timeout
                };
                // Busy, or a request ended since the deadline was set: not idle for long enough.
                if !activity.is_idle() || Instant::now() < activity.idle_since + allowed {
                    continue;
                }
                if !activity.served {
                    tracing::debug!("no request within the read timeout: closing the connection");
                    return;
                }
                tracing::debug!("idle for the idle timeout: closing the connection");
                connection.as_mut().graceful_shutdown();
                closing = Closing::Until(Instant::now() + policy.read_timeout);
            }
            () = supervision.slot.evicted(), if closing == Closing::No => {
                if supervision.watched.borrow().is_idle() {
                    return;
                }
                // A request began since it was chosen: let it finish first.
                connection.as_mut().graceful_shutdown();
                closing = Closing::Until(Instant::now() + policy.read_timeout);
            }
            _ = supervision.stop.wait_for(|stopping| *stopping), if closing == Closing::No => {
                connection.as_mut().graceful_shutdown();
                closing = Closing::ForShutdown;
            }
            () = sleep_until(forced_deadline) => return,
        }
    }
}

/// Sleep until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The router as one connection sees it: with the peer address (for the per-client rate
/// limits) and each request counted as in flight until its answer is ready.
#[derive(Clone)]
struct ConnectionService {
    router: Router,
    peer: SocketAddr,
    activity: ActivitySender,
}

impl<B> tower::Service<Request<B>> for ConnectionService
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let in_flight = self.activity.begin();
        let answer = self.router.clone().oneshot(request);
        Box::pin(async move {
            let response = answer.await;
            drop(in_flight);
            response
        })
    }
}
