//! What every request leaves behind: its count and latency in the metrics, always, and a
//! log line only when somebody reads it.
//!
//! One INFO line per request was a tenth of `GET /v1/me`'s CPU (formatting the span's and
//! the event's fields, one `write` each) and about 30 MB of log per 140,000 requests
//! (BENCHMARKS.md, "Request log"). So the per-request span and line are at DEBUG: when the
//! filter leaves DEBUG out, neither is built, and no field is formatted. What an operator
//! needs without them is here anyway: the counter and the latency histogram by route, and
//! a WARN line (with the request id, to find the client's report) for every answer the
//! server got wrong (5xx).
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// Middleware: count, time and (at DEBUG) log one request.
pub async fn observe(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = method_label(request.method());
    let span = tracing::debug_span!(
        "http",
        method = %request.method(),
        // The path only: query strings are not ours to log.
        path = %request.uri().path(),
        request_id = logged_request_id(request.headers().get("x-request-id")),
    );
    // Kept past the request (which the handler consumes) to name it in a failure's line; a
    // header value is a cheap clone (shared bytes).
    let request_id = request.headers().get("x-request-id").cloned();
    let response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let status = response.status().as_u16();
    crate::metrics::record_http_request(route, method, status, elapsed);
    span.in_scope(|| {
        tracing::debug!(
            status,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "finished processing request"
        )
    });
    if status >= 500 {
        tracing::warn!(
            method,
            route,
            status,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            request_id = logged_request_id(request_id.as_ref()),
            "request answered with a server error"
        );
    }
    response
}

/// The `x-request-id` of a request (the client's, or one we set), shortened to a sane
/// length for the logs.
fn logged_request_id(value: Option<&axum::http::HeaderValue>) -> &str {
    shortened(value.and_then(|value| value.to_str().ok()).unwrap_or(""))
}

fn shortened(id: &str) -> &str {
    match id.char_indices().nth(64) {
        Some((end, _)) => &id[..end],
        None => id,
    }
}

/// The method as a metrics label: one of HTTP's standard methods, or `other`. A client
/// choosing the method must not be able to create new series (each one is kept in memory
/// and in every scrape for good).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    use super::*;
    use crate::telemetry::{subscriber, LogFormat};

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Lines {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    /// The lines two requests (one answered 200, one 500) leave under `filter`.
    async fn lines_under(filter: &str) -> String {
        let lines = Lines::default();
        let writer = lines.clone();
        let _default =
            tracing::subscriber::set_default(subscriber(LogFormat::Text, filter, move || {
                writer.clone()
            }));
        let app = Router::new()
            .route("/fine", get(|| async { "fine" }))
            .route(
                "/broken",
                get(|| async { StatusCode::INTERNAL_SERVER_ERROR }),
            )
            .layer(axum::middleware::from_fn(observe));
        for (path, id) in [("/fine?secret=1", "id-fine-1"), ("/broken", "id-broken-2")] {
            let request = Request::get(path)
                .header("x-request-id", id)
                .body(Body::empty())
                .unwrap();
            app.clone().oneshot(request).await.unwrap();
        }
        lines.text()
    }

    #[tokio::test]
    async fn at_info_only_a_server_error_leaves_a_line_and_it_names_the_request() {
        let text = lines_under("wxlogin_server=info").await;
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("WARN"), "{text}");
        assert!(
            text.contains("request answered with a server error"),
            "{text}"
        );
        assert!(text.contains("id-broken-2"), "{text}");
        assert!(
            text.contains("route=\"/broken\"") || text.contains("route=/broken"),
            "{text}"
        );
        assert!(!text.contains("id-fine-1"), "{text}");
    }

    #[tokio::test]
    async fn at_debug_every_request_leaves_its_line_without_the_query() {
        let text = lines_under("wxlogin_server=debug").await;
        let finished: Vec<&str> = text
            .lines()
            .filter(|line| line.contains("finished processing request"))
            .collect();
        assert_eq!(finished.len(), 2, "{text}");
        assert!(
            finished[0].contains("id-fine-1") && finished[0].contains("/fine"),
            "{text}"
        );
        assert!(finished[0].contains("status=200"), "{text}");
        assert!(finished[1].contains("status=500"), "{text}");
        assert!(
            !text.contains("secret=1"),
            "the query string is not logged: {text}"
        );
    }

    #[test]
    fn a_long_request_id_is_cut_at_64_characters() {
        let long = "é".repeat(100);
        assert_eq!(shortened(&long).chars().count(), 64);
        assert_eq!(shortened("client-42"), "client-42");
    }
}
