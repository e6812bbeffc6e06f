//! The control side for tests and operators: faults, clock, stats.
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::faults::FaultConfig;
use crate::simulator::Simulator;
use crate::stats::SimStats;

fn bad_request(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({ "error": message })),
    )
        .into_response()
}

pub(crate) async fn get_faults(State(sim): State<Simulator>) -> Json<FaultConfig> {
    Json(sim.faults())
}

/// Replaces the whole fault configuration; omitted fields mean "no such fault".
pub(crate) async fn set_faults(State(sim): State<Simulator>, body: Bytes) -> Response {
    let faults: FaultConfig = match serde_json::from_slice(&body) {
        Ok(faults) => faults,
        Err(error) => return bad_request(format!("invalid faults: {error}")),
    };
    match sim.set_faults(faults) {
        Ok(()) => Json(sim.faults()).into_response(),
        Err(error) => bad_request(error.to_string()),
    }
}

#[derive(Deserialize)]
struct RefuseToken {
    appid: String,
}

/// `{"appid"}` → `{"refused":true}`: that app's current stable token is refused from now on
/// while normal-mode stable_token keeps handing it back (see
/// [`Simulator::refuse_stable_token`]); 404 when the app has no usable stable token.
pub(crate) async fn refuse_stable_token(State(sim): State<Simulator>, body: Bytes) -> Response {
    let request: RefuseToken = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => return bad_request(format!("expected {{\"appid\": \"…\"}}: {error}")),
    };
    if sim.refuse_stable_token(&request.appid) {
        Json(serde_json::json!({ "refused": true })).into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({ "error": "this app has no usable stable token" })),
        )
            .into_response()
    }
}

#[derive(Deserialize)]
struct Advance {
    seconds: u64,
}

/// The simulated time after a change.
#[derive(Serialize)]
struct ClockAnswer {
    now: i64,
}

pub(crate) async fn clock(State(sim): State<Simulator>) -> Response {
    Json(ClockAnswer {
        now: sim.now_unix(),
    })
    .into_response()
}

pub(crate) async fn advance_clock(State(sim): State<Simulator>, body: Bytes) -> Response {
    match serde_json::from_slice::<Advance>(&body) {
        Ok(advance) => Json(ClockAnswer {
            now: sim.advance_clock(advance.seconds),
        })
        .into_response(),
        Err(error) => bad_request(format!(
            "expected {{\"seconds\": <non-negative integer>}}: {error}"
        )),
    }
}

pub(crate) async fn stats(State(sim): State<Simulator>) -> Json<SimStats> {
    Json(sim.stats())
}

pub(crate) async fn reset_stats(State(sim): State<Simulator>) -> Json<SimStats> {
    sim.reset_stats();
    Json(sim.stats())
}
