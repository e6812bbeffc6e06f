//! A hook for metrics: told about every HTTP call to WeChat.
use std::time::Duration;

/// Receives one notification per HTTP request sent to WeChat (retries count separately).
///
/// `endpoint` is one of `jscode2session`, `stable_token`, `token`, `getuserphonenumber`,
/// `checksession`, `resetusersessionkey`. `errcode` is the parsed errcode (0 on success)
/// or `None` when no JSON answer was read. `outcome` is one of `ok`, `wechat_error`,
/// `timeout`, `transport`, `invalid_response`.
pub trait CallObserver: Send + Sync {
    fn on_call(
        &self,
        endpoint: &'static str,
        errcode: Option<i64>,
        outcome: &str,
        latency: Duration,
    );
}
