//! The WeChat side: the paths of api.weixin.qq.com a login server calls.
//!
//! Every handler first passes [`admit`] (stats, then faults), then runs a pure function of
//! the locked world that returns the answer or a [`WxError`].
use std::collections::HashMap;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use crate::answer::{code, error_response, WxError};
use crate::config::SimApp;
use crate::connection::Hangup;
use crate::faults::{Endpoint, FaultOutcome};
use crate::simulator::{Simulator, World};
use crate::stats::UNKNOWN_APP;

pub(crate) mod access_token;
pub(crate) mod code2session;
pub(crate) mod phone_number;
pub(crate) mod session_key;

/// Count the call, then apply the configured faults. `Some` is the faulted answer.
pub(crate) async fn admit(
    sim: &Simulator,
    endpoint: Endpoint,
    appid: &str,
    hangup: Hangup,
) -> Option<Response> {
    let attributed = if appid.is_empty() { UNKNOWN_APP } else { appid };
    sim.world().stats.record(endpoint, attributed);
    let faults = sim.faults();
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    match faults.decide(endpoint, rand::random::<f64>) {
        FaultOutcome::Proceed => None,
        FaultOutcome::Hangup => {
            tracing::debug!(
                endpoint = endpoint.name(),
                "dropping the connection (fault)"
            );
            Some(hang_up(hangup))
        }
        FaultOutcome::Errcode(errcode) => Some(error_response(
            Some(endpoint),
            WxError(errcode),
            sim.now_unix(),
        )),
    }
}

fn hang_up(hangup: Hangup) -> Response {
    match hangup.0 {
        Some(switch) => {
            switch.throw();
            StatusCode::OK.into_response()
        }
        None => {
            // Served without our listener: abort the body instead, which also ends the connection.
            let failing = futures::stream::once(async {
                Err::<axum::body::Bytes, _>(std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    "connection dropped by fault injection",
                ))
            });
            Response::new(Body::from_stream(failing))
        }
    }
}

/// Unknown paths, including wrong case (`/sns/jsCode2Session`).
pub(crate) async fn invalid_url(State(sim): State<Simulator>) -> Response {
    error_response(None, WxError(code::INVALID_URL), sim.now_unix())
}

/// A non-empty parameter, or None.
pub(crate) fn param<'a>(params: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    params
        .get(name)
        .map(String::as_str)
        .filter(|value| !value.is_empty())
}

/// The app behind `appid` + `secret`, checked in this order: appid missing 41002, unknown
/// 40013, secret missing 41004, wrong 40125 (WeChat's order is undocumented).
pub(crate) fn authenticate_app(
    world: &World,
    appid: Option<&str>,
    secret: Option<&str>,
) -> Result<SimApp, WxError> {
    let appid = appid.ok_or(WxError(code::APPID_MISSING))?;
    let app = world.apps.get(appid).ok_or(WxError(code::INVALID_APPID))?;
    let secret = secret.ok_or(WxError(code::APPSECRET_MISSING))?;
    if secret != app.secret {
        return Err(WxError(code::INVALID_APPSECRET));
    }
    Ok(app.clone())
}

/// The app an access token belongs to: missing 41001, unknown or superseded 40001, expired 42001.
pub(crate) fn authorize(
    world: &World,
    access_token: Option<&str>,
    now: i64,
) -> Result<String, WxError> {
    let token = access_token.ok_or(WxError(code::ACCESS_TOKEN_MISSING))?;
    world.tokens.validate(token, now)
}

/// A POST body that must be a JSON object: empty 44002, anything else 47001.
pub(crate) fn json_object(body: &[u8]) -> Result<Map<String, Value>, WxError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(WxError(code::EMPTY_POST_DATA));
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(WxError(code::DATA_FORMAT_ERROR)),
    }
}

/// A string field of a JSON body; present but not a string → 47001; empty counts as missing.
pub(crate) fn json_string<'a>(
    object: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, WxError> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.as_str()).filter(|text| !text.is_empty())),
        Some(_) => Err(WxError(code::DATA_FORMAT_ERROR)),
    }
}

/// The appid a request's token belongs to, valid or not, for attributing stats.
pub(crate) fn token_owner(sim: &Simulator, access_token: Option<&str>) -> String {
    access_token
        .and_then(|token| sim.world().tokens.owner(token).map(str::to_owned))
        .unwrap_or_default()
}
