//! `GET /cgi-bin/token` (classic) and `POST /cgi-bin/stable_token`.
use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::Method;
use axum::response::Response;
use serde::Serialize;
use serde_json::Value;

use super::{admit, authenticate_app, json_object, json_string, param};
use crate::answer::{code, respond, WxError};
use crate::clock::{day_of, minute_of};
use crate::connection::Hangup;
use crate::faults::Endpoint;
use crate::simulator::{Simulator, World};
use crate::tokens::{ForceRefreshRules, Issued};

/// `{"access_token":"…","expires_in":7200}`, no errcode.
#[derive(Serialize)]
pub(crate) struct TokenAnswer {
    access_token: String,
    expires_in: i64,
}

impl From<Issued> for TokenAnswer {
    fn from(issued: Issued) -> Self {
        TokenAnswer {
            access_token: issued.access_token,
            expires_in: issued.expires_in,
        }
    }
}

const GRANT_TYPE: &str = "client_credential";

pub(crate) async fn classic(
    State(sim): State<Simulator>,
    Query(params): Query<HashMap<String, String>>,
    hangup: Hangup,
) -> Response {
    let appid = param(&params, "appid").unwrap_or_default();
    if let Some(faulted) = admit(&sim, Endpoint::Token, appid, hangup).await {
        return faulted;
    }
    let now = sim.now_unix();
    let result = issue_classic(&mut sim.world(), &params, now);
    respond(Endpoint::Token, result, now)
}

fn issue_classic(
    world: &mut World,
    params: &HashMap<String, String>,
    now: i64,
) -> Result<TokenAnswer, WxError> {
    let app = authenticate_app(world, param(params, "appid"), param(params, "secret"))?;
    if param(params, "grant_type") != Some(GRANT_TYPE) {
        return Err(WxError(code::INVALID_GRANT_TYPE));
    }
    let per_day = world.limits.token_per_app_per_day;
    if !world
        .quotas
        .try_take("token/day", &app.appid, day_of(now), per_day)
    {
        return Err(WxError(code::DAILY_QUOTA));
    }
    Ok(world.tokens.issue_classic(&app.appid, now).into())
}

pub(crate) async fn stable(
    State(sim): State<Simulator>,
    method: Method,
    hangup: Hangup,
    body: Bytes,
) -> Response {
    let appid = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|value| {
            value
                .get("appid")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_default();
    if let Some(faulted) = admit(&sim, Endpoint::StableToken, &appid, hangup).await {
        return faulted;
    }
    let now = sim.now_unix();
    let result = issue_stable(&mut sim.world(), &method, &body, now);
    respond(Endpoint::StableToken, result, now)
}

/// POST with a JSON body only: another method → 43002, an empty body → 44002, a body that is
/// not a JSON object (form-encoded, say) → 47001. Content-Type is not looked at (a guess).
fn issue_stable(
    world: &mut World,
    method: &Method,
    body: &[u8],
    now: i64,
) -> Result<TokenAnswer, WxError> {
    if method != Method::POST {
        return Err(WxError(code::REQUIRE_POST));
    }
    let request = json_object(body)?;
    let app = authenticate_app(
        world,
        json_string(&request, "appid")?,
        json_string(&request, "secret")?,
    )?;
    if json_string(&request, "grant_type")? != Some(GRANT_TYPE) {
        return Err(WxError(code::INVALID_GRANT_TYPE));
    }
    let force_refresh = match request.get("force_refresh") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(flag)) => *flag,
        Some(_) => return Err(WxError(code::DATA_FORMAT_ERROR)),
    };
    let limits = world.limits.clone();
    if !world.quotas.try_take(
        "stable_token/minute",
        &app.appid,
        minute_of(now),
        limits.stable_token_per_app_per_minute,
    ) {
        return Err(WxError(code::MINUTE_QUOTA));
    }
    if !world.quotas.try_take(
        "stable_token/day",
        &app.appid,
        day_of(now),
        limits.stable_token_per_app_per_day,
    ) {
        return Err(WxError(code::DAILY_QUOTA));
    }
    let issued = if force_refresh {
        let rules = ForceRefreshRules {
            per_day: limits.force_refresh_per_app_per_day,
            min_interval_secs: limits.force_refresh_min_interval_secs,
        };
        world.tokens.force_refresh_stable(&app.appid, now, rules)?
    } else {
        world.tokens.issue_stable(&app.appid, now)
    };
    Ok(issued.into())
}
