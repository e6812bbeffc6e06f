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
pub const WEBHOOK_DELIVERED_TOTAL: &str = "wxlogin_webhook_delivered_total";
pub const WEBHOOK_FAILED_TOTAL: &str = "wxlogin_webhook_failed_total";
pub const WEBHOOK_DEAD_TOTAL: &str = "wxlogin_webhook_dead_total";
pub const WEBHOOK_LAG_SECONDS: &str = "wxlogin_webhook_lag_seconds";

/// How old the database gauges (live sessions) may be: they are recounted this often in
/// the background instead of on every scrape.
pub const GAUGE_REFRESH_PERIOD: Duration = Duration::from_secs(5);

const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
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
                    .expect("bucket list is not empty")
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
    metrics::describe_gauge!(
        WEBHOOK_LAG_SECONDS,
        metrics::Unit::Seconds,
        "Age of the oldest event with an undelivered webhook delivery (0: none)"
    );
}

/// Count a finished login. `outcome` is `success`, `retry` (a retried code answered
/// from the first exchange) or the error code.
pub fn record_login(outcome: &'static str) {
    metrics::counter!(LOGINS_TOTAL, "outcome" => outcome).increment(1);
}

pub fn record_http_request(route: String, method: &'static str, status: u16) {
    metrics::counter!(HTTP_REQUESTS_TOTAL, "route" => route, "method" => method, "status" => status.to_string())
        .increment(1);
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
