//! Prometheus metrics. The `metrics` facade has one global recorder per process, so the
//! exporter is installed once and shared by every app built in the process (tests build
//! several; their counters simply add up).
use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use wxlogin_client::CallObserver;

pub const LOGINS_TOTAL: &str = "wxlogin_logins_total";
pub const UPSTREAM_CALLS_TOTAL: &str = "wxlogin_upstream_calls_total";
pub const UPSTREAM_LATENCY_SECONDS: &str = "wxlogin_upstream_latency_seconds";
pub const ACTIVE_SESSIONS: &str = "wxlogin_active_sessions";
pub const HTTP_REQUESTS_TOTAL: &str = "wxlogin_http_requests_total";
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "wxlogin_http_request_duration_seconds";
pub const WEBHOOK_DELIVERED_TOTAL: &str = "wxlogin_webhook_delivered_total";
pub const WEBHOOK_FAILED_TOTAL: &str = "wxlogin_webhook_failed_total";
pub const WEBHOOK_DEAD_TOTAL: &str = "wxlogin_webhook_dead_total";
pub const WEBHOOK_LAG_SECONDS: &str = "wxlogin_webhook_lag_seconds";
pub const SESSION_CACHE_TOTAL: &str = "wxlogin_session_cache_total";
pub const SQLITE_COMMITS_TOTAL: &str = "wxlogin_sqlite_commits_total";
pub const SQLITE_COMMITTED_WRITES_TOTAL: &str = "wxlogin_sqlite_committed_writes_total";

/// How old the database gauges (live sessions) may be: they are recounted this often in
/// the background instead of on every scrape.
pub const GAUGE_REFRESH_PERIOD: Duration = Duration::from_secs(5);

const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Answers take from well under a millisecond (`/v1/me`) to the WeChat timeout (a login).
const HTTP_LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process-wide exporter handle, installing the recorder on first use. If the
/// embedding program already installed another recorder, a private one is kept so that
/// `/metrics` still answers (with only what this recorder sees).
pub fn prometheus_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = || {
                PrometheusBuilder::new()
                    .set_buckets_for_metric(
                        Matcher::Full(UPSTREAM_LATENCY_SECONDS.to_owned()),
                        LATENCY_BUCKETS,
                    )
                    .and_then(|builder| {
                        builder.set_buckets_for_metric(
                            Matcher::Full(HTTP_REQUEST_DURATION_SECONDS.to_owned()),
                            HTTP_LATENCY_BUCKETS,
                        )
                    })
                    .expect("bucket lists are not empty")
            };
            let recorder = builder().build_recorder();
            let handle = recorder.handle();
            match metrics::set_global_recorder(recorder) {
                Ok(()) => {
                    describe();
                    handle
                }
                Err(_) => builder().build_recorder().handle(),
            }
        })
        .clone()
}

fn describe() {
    metrics::describe_counter!(LOGINS_TOTAL, "Login attempts by outcome");
    metrics::describe_counter!(
        UPSTREAM_CALLS_TOTAL,
        "HTTP calls to WeChat by endpoint, errcode and outcome"
    );
    metrics::describe_histogram!(
        UPSTREAM_LATENCY_SECONDS,
        metrics::Unit::Seconds,
        "Latency of HTTP calls to WeChat by endpoint and errcode"
    );
    metrics::describe_gauge!(
        ACTIVE_SESSIONS,
        "Sessions neither expired nor revoked (recounted every few seconds)"
    );
    metrics::describe_counter!(HTTP_REQUESTS_TOTAL, "HTTP requests by route and status");
    metrics::describe_counter!(
        SQLITE_COMMITS_TOTAL,
        "Commits on the SQLite writer (each holds the writes queued together)"
    );
    metrics::describe_counter!(
        SQLITE_COMMITTED_WRITES_TOTAL,
        "Writes (statements and transactions) committed on the SQLite writer"
    );
    metrics::describe_histogram!(
        HTTP_REQUEST_DURATION_SECONDS,
        metrics::Unit::Seconds,
        "Time from a request's head to its answer, by route, method and status"
    );
    metrics::describe_counter!(
        WEBHOOK_DELIVERED_TOTAL,
        "Webhook deliveries answered with a 2xx"
    );
    metrics::describe_counter!(
        WEBHOOK_FAILED_TOTAL,
        "Webhook attempts that failed (non-2xx, redirect, timeout, connection)"
    );
    metrics::describe_counter!(
        WEBHOOK_DEAD_TOTAL,
        "Webhook deliveries given up after their retry period"
    );
    metrics::describe_counter!(
        SESSION_CACHE_TOTAL,
        "Authentications answered from the session cache (hit) or read from the database (miss)"
    );
    metrics::describe_gauge!(
        WEBHOOK_LAG_SECONDS,
        metrics::Unit::Seconds,
        "Age of the oldest event with an undelivered webhook delivery (0: none)"
    );
}

/// Count an authentication answered from the session cache (`hit`) or from the database.
pub fn record_session_cache(hit: bool) {
    // Handles made once the recorder is installed (at the first authentication, after
    // start-up), so the hot path does no lookup.
    static HANDLES: OnceLock<(metrics::Counter, metrics::Counter)> = OnceLock::new();
    let (hits, misses) = HANDLES.get_or_init(|| {
        (
            metrics::counter!(SESSION_CACHE_TOTAL, "result" => "hit"),
            metrics::counter!(SESSION_CACHE_TOTAL, "result" => "miss"),
        )
    });
    if hit { hits } else { misses }.increment(1);
}

/// Count a commit on the SQLite writer and the writes it held (group commit: their ratio
/// is the writes per commit).
pub fn record_sqlite_commit(writes: u64) {
    static HANDLES: OnceLock<(metrics::Counter, metrics::Counter)> = OnceLock::new();
    let (commits, committed) = HANDLES.get_or_init(|| {
        (
            metrics::counter!(SQLITE_COMMITS_TOTAL),
            metrics::counter!(SQLITE_COMMITTED_WRITES_TOTAL),
        )
    });
    commits.increment(1);
    committed.increment(writes);
}

/// Count a finished login. `outcome` is `success`, `retry` (a retried code answered
/// from the first exchange) or the error code.
pub fn record_login(outcome: &'static str) {
    metrics::counter!(LOGINS_TOTAL, "outcome" => outcome).increment(1);
}

/// Count and time one answered request. `route` is the route template (or `unmatched`),
/// never the path, so the series stay a bounded set.
pub fn record_http_request(route: &str, method: &'static str, status: u16, elapsed: Duration) {
    let handles = http_request_handles(route, method, status);
    handles.count.increment(1);
    handles.latency.record(elapsed.as_secs_f64());
}

/// The counter and histogram of one (route, method, status) series.
#[derive(Clone)]
struct HttpRequestHandles {
    count: metrics::Counter,
    latency: metrics::Histogram,
}

/// The series of one route: (method, status, handles).
type RouteSeries = Vec<(&'static str, u16, HttpRequestHandles)>;

/// The handles of a series, registered on its first request. Looking a series up in the
/// recorder builds its key (a label list, the status as text) and hashes it; on every
/// request that was a few allocations, and the set of series is small and fixed, so the
/// handles are kept here instead, behind a read lock.
fn http_request_handles(route: &str, method: &'static str, status: u16) -> HttpRequestHandles {
    use std::collections::HashMap;
    use std::sync::RwLock;
    static SERIES: OnceLock<RwLock<HashMap<Box<str>, RouteSeries>>> = OnceLock::new();
    let series = SERIES.get_or_init(Default::default);
    let found = series
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get(route)
        .and_then(|of_route| {
            of_route
                .iter()
                .find(|(known_method, known_status, _)| {
                    *known_method == method && *known_status == status
                })
                .map(|(_, _, handles)| handles.clone())
        });
    if let Some(handles) = found {
        return handles;
    }
    let labels = [
        ("route", route.to_owned()),
        ("method", method.to_owned()),
        ("status", status.to_string()),
    ];
    let handles = HttpRequestHandles {
        count: metrics::counter!(HTTP_REQUESTS_TOTAL, &labels),
        latency: metrics::histogram!(HTTP_REQUEST_DURATION_SECONDS, &labels),
    };
    series
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .entry(route.into())
        .or_default()
        .push((method, status, handles.clone()));
    handles
}

pub fn record_webhook_delivered() {
    metrics::counter!(WEBHOOK_DELIVERED_TOTAL).increment(1);
}

pub fn record_webhook_failed() {
    metrics::counter!(WEBHOOK_FAILED_TOTAL).increment(1);
}

pub fn record_webhook_dead() {
    metrics::counter!(WEBHOOK_DEAD_TOTAL).increment(1);
}

pub fn set_webhook_lag(seconds: i64) {
    metrics::gauge!(WEBHOOK_LAG_SECONDS).set(seconds.max(0) as f64);
}

pub fn set_active_sessions(count: u64) {
    metrics::gauge!(ACTIVE_SESSIONS).set(count as f64);
}

/// Hands every WeChat call the client makes to the metrics.
#[derive(Debug, Default, Clone, Copy)]
pub struct UpstreamMetrics;

impl CallObserver for UpstreamMetrics {
    fn on_call(
        &self,
        endpoint: &'static str,
        errcode: Option<i64>,
        outcome: &str,
        latency: Duration,
    ) {
        let errcode = errcode.map_or_else(|| "none".to_owned(), |code| code.to_string());
        metrics::counter!(
            UPSTREAM_CALLS_TOTAL,
            "endpoint" => endpoint,
            "errcode" => errcode.clone(),
            "outcome" => outcome.to_owned()
        )
        .increment(1);
        metrics::histogram!(UPSTREAM_LATENCY_SECONDS, "endpoint" => endpoint, "errcode" => errcode)
            .record(latency.as_secs_f64());
    }
}
