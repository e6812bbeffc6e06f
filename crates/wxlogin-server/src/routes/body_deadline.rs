//! One deadline for a request's whole body, counted from when its head arrived. A
//! per-read timeout (tower-http's `RequestBodyTimeoutLayer`) only limits the gap between
//! two pieces, so a client sending one byte just inside each gap held a request, its
//! connection and shutdown for as long as it liked. Past the deadline the body fails to
//! read, which the extractors answer with 400, and hyper then closes the connection
//! (the rest of the body was never read).
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// Middleware (`from_fn_with_state` with the read timeout): wrap the body in a deadline.
pub async fn body_deadline(
    State(read_timeout): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    // A request without a body (most GETs) has nothing to read: no timer to arm.
    if request.body().is_end_stream() {
        return next.run(request).await;
    }
    let deadline = Instant::now() + read_timeout;
    let request = request.map(|body| Body::new(DeadlineBody::new(body, deadline)));
    next.run(request).await
}

/// The body read past its deadline.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within the read timeout")]
pub struct BodyDeadlineElapsed;

/// A body that fails once `deadline` passes before its end.
pub struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<Sleep>>,
}

impl DeadlineBody {
    pub fn new(inner: Body, deadline: Instant) -> Self {
        DeadlineBody {
            inner,
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
        }
    }
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        // What has arrived in time is still delivered.
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(BodyDeadlineElapsed)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One byte every `gap`, forever: each gap is short, the body never ends.
    fn trickle(gap: Duration) -> Body {
        Body::from_stream(futures::stream::unfold((), move |()| async move {
            tokio::time::sleep(gap).await;
            Some((Ok::<_, std::io::Error>(Bytes::from_static(b"x")), ()))
        }))
    }

    #[tokio::test]
    async fn a_trickling_body_fails_at_the_deadline_however_short_its_gaps() {
        let started = Instant::now();
        let body = DeadlineBody::new(
            trickle(Duration::from_millis(20)),
            started + Duration::from_millis(300),
        );
        let read = tokio::time::timeout(
            Duration::from_secs(5),
            axum::body::to_bytes(Body::new(body), usize::MAX),
        )
        .await
        .expect("the deadline ends the body");
        assert!(read.is_err());
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(2),
            "{elapsed:?}"
        );
    }

    #[tokio::test]
    async fn a_body_within_the_deadline_arrives_whole() {
        let body = DeadlineBody::new(
            Body::from("{\"code\":\"x\"}"),
            Instant::now() + Duration::from_secs(5),
        );
        let bytes = axum::body::to_bytes(Body::new(body), usize::MAX)
            .await
            .unwrap();
        assert_eq!(&bytes[..], b"{\"code\":\"x\"}");
    }
}
