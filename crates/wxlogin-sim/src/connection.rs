//! Dropped connections on demand. Each accepted TCP stream carries a switch; a handler that
//! throws it makes the stream refuse to write, so the server closes the connection without a
//! single byte of answer and the client sees a connection error, as when a network drops.
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Throw it to cut the connection it came with.
#[derive(Debug, Clone, Default)]
pub(crate) struct HangupSwitch(Arc<AtomicBool>);

impl HangupSwitch {
    pub(crate) fn throw(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn thrown(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// A TCP listener whose streams can be cut from inside a handler.
pub(crate) struct HangupListener(pub(crate) TcpListener);

impl Listener for HangupListener {
    type Io = HangupStream;
    type Addr = (SocketAddr, HangupSwitch);

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, remote) = Listener::accept(&mut self.0).await;
        let switch = HangupSwitch::default();
        (
            HangupStream {
                inner: stream,
                switch: switch.clone(),
            },
            (remote, switch),
        )
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok((self.0.local_addr()?, HangupSwitch::default()))
    }
}

impl Connected<IncomingStream<'_, HangupListener>> for HangupSwitch {
    fn connect_info(stream: IncomingStream<'_, HangupListener>) -> Self {
        stream.remote_addr().1.clone()
    }
}

pub(crate) struct HangupStream {
    inner: TcpStream,
    switch: HangupSwitch,
}

fn cut() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "connection dropped by fault injection",
    )
}

impl AsyncRead for HangupStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.switch.thrown() {
            return Poll::Ready(Err(cut()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for HangupStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.switch.thrown() {
            return Poll::Ready(Err(cut()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.switch.thrown() {
            return Poll::Ready(Err(cut()));
        }
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// The switch of the request's connection; absent when the router is served by someone
/// else's listener (then a hangup falls back to aborting the answer's body).
pub(crate) struct Hangup(pub(crate) Option<HangupSwitch>);

impl<S: Send + Sync> FromRequestParts<S> for Hangup {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Hangup(
            parts
                .extensions
                .get::<ConnectInfo<HangupSwitch>>()
                .map(|info| info.0.clone()),
        ))
    }
}
