//! `GET /sns/jscode2session?appid&secret&js_code&grant_type=authorization_code`
use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::Response;
use serde::Serialize;

use super::{admit, authenticate_app, param};
use crate::answer::{code, respond, WxError};
use crate::clock::minute_of;
use crate::connection::Hangup;
use crate::faults::Endpoint;
use crate::simulator::{Simulator, World};
use crate::users::UserBook;

/// Success has no errcode. Field order follows real answers
/// (`{"session_key":"…","openid":"…"}`), unionid last and only for open-platform apps.
#[derive(Serialize)]
pub(crate) struct Code2SessionAnswer {
    session_key: String,
    openid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    unionid: Option<String>,
}

pub(crate) async fn handle(
    State(sim): State<Simulator>,
    Query(params): Query<HashMap<String, String>>,
    hangup: Hangup,
) -> Response {
    let appid = param(&params, "appid").unwrap_or_default();
    if let Some(faulted) = admit(&sim, Endpoint::Jscode2session, appid, hangup).await {
        return faulted;
    }
    let now = sim.now_unix();
    let result = exchange(&mut sim.world(), &params, now);
    respond(Endpoint::Jscode2session, result, now)
}

/// Parameters are read from the query only: a POST with them in the body gets 41002, as
/// observed. grant_type missing or other than `authorization_code` → 40002 (a guess: WeChat
/// documents the parameter as required but no error for it on this path).
fn exchange(
    world: &mut World,
    params: &HashMap<String, String>,
    now: i64,
) -> Result<Code2SessionAnswer, WxError> {
    let app = authenticate_app(world, param(params, "appid"), param(params, "secret"))?;
    let js_code = param(params, "js_code").ok_or(WxError(code::CODE_MISSING))?;
    if param(params, "grant_type") != Some("authorization_code") {
        return Err(WxError(code::INVALID_GRANT_TYPE));
    }
    let user = world.codes.login_user(js_code, &app.appid, now)?;
    // Counted per user once the code names one; a limited call leaves the code unspent.
    let subject = format!("{}\u{0}{user}", app.appid);
    let per_minute = world.limits.jscode2session_per_user_per_minute;
    if !world
        .quotas
        .try_take("jscode2session", &subject, minute_of(now), per_minute)
    {
        return Err(WxError(code::MINUTE_QUOTA));
    }
    world.codes.spend(js_code);
    let keep = world.keep_session_key;
    let record = world.users.entry(&app, &user);
    let key = UserBook::exchange_key(record, keep);
    Ok(Code2SessionAnswer {
        session_key: key.expose_base64().to_string(),
        openid: record.openid.clone(),
        unionid: record.unionid.clone(),
    })
}
