//! `GET /wxa/checksession` and `GET /wxa/resetusersessionkey`, both with
//! `access_token, openid, signature, sig_method=hmac_sha256` in the query.
use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::Response;
use serde::Serialize;
use wxlogin_crypto::checksession_signature;

use super::{admit, authorize, param, token_owner};
use crate::answer::{code, respond, OkAnswer, WxError};
use crate::clock::minute_of;
use crate::connection::Hangup;
use crate::faults::Endpoint;
use crate::ids;
use crate::simulator::{Simulator, World};
use crate::users::UserRecord;

/// `{"errcode":0,"errmsg":"ok"}`
#[derive(Serialize)]
pub(crate) struct Checked {}

/// `{"errcode":0,"errmsg":"ok","openid":"…","session_key":"…"}`
#[derive(Serialize)]
pub(crate) struct Reset {
    openid: String,
    session_key: String,
}

pub(crate) async fn check(
    State(sim): State<Simulator>,
    Query(params): Query<HashMap<String, String>>,
    hangup: Hangup,
) -> Response {
    let owner = token_owner(&sim, param(&params, "access_token"));
    if let Some(faulted) = admit(&sim, Endpoint::Checksession, &owner, hangup).await {
        return faulted;
    }
    let now = sim.now_unix();
    let result = verified_user(
        &mut sim.world(),
        Endpoint::Checksession,
        &params,
        now,
        |_| Checked {},
    );
    respond(Endpoint::Checksession, result.map(OkAnswer::new), now)
}

pub(crate) async fn reset(
    State(sim): State<Simulator>,
    Query(params): Query<HashMap<String, String>>,
    hangup: Hangup,
) -> Response {
    let owner = token_owner(&sim, param(&params, "access_token"));
    if let Some(faulted) = admit(&sim, Endpoint::Resetusersessionkey, &owner, hangup).await {
        return faulted;
    }
    let now = sim.now_unix();
    let result = verified_user(
        &mut sim.world(),
        Endpoint::Resetusersessionkey,
        &params,
        now,
        |record| {
            // The old key dies at once; session keys have no modelled lifetime to carry over.
            let key = ids::session_key();
            let answer = Reset {
                openid: record.openid.clone(),
                session_key: key.expose_base64().to_string(),
            };
            record.session_key = Some(key);
            answer
        },
    );
    respond(
        Endpoint::Resetusersessionkey,
        result.map(OkAnswer::new),
        now,
    )
}

/// Checks, in order: access token (41001/40001/42001), minute quota (45011), sig_method
/// (87008, also when missing), openid known to the token's app (40003 otherwise, a guess),
/// signature of the user's current key (87009 when wrong, stale, missing, or the user never
/// exchanged a code). Then `act` runs on the user.
fn verified_user<T>(
    world: &mut World,
    endpoint: Endpoint,
    params: &HashMap<String, String>,
    now: i64,
    act: impl FnOnce(&mut UserRecord) -> T,
) -> Result<T, WxError> {
    let appid = authorize(world, param(params, "access_token"), now)?;
    let per_minute = match endpoint {
        Endpoint::Resetusersessionkey => world.limits.resetusersessionkey_per_app_per_minute,
        _ => world.limits.checksession_per_app_per_minute,
    };
    if !world
        .quotas
        .try_take(endpoint.name(), &appid, minute_of(now), per_minute)
    {
        return Err(WxError(code::MINUTE_QUOTA));
    }
    if param(params, "sig_method") != Some("hmac_sha256") {
        return Err(WxError(code::INVALID_SIG_METHOD));
    }
    let openid = param(params, "openid").ok_or(WxError(code::INVALID_OPENID))?;
    let record = world
        .users
        .by_openid_mut(&appid, openid)
        .ok_or(WxError(code::INVALID_OPENID))?;
    let expected = record.session_key.as_ref().map(checksession_signature);
    let given = param(params, "signature").map(str::to_ascii_lowercase);
    match (expected, given) {
        (Some(expected), Some(given)) if expected == given => Ok(act(record)),
        _ => Err(WxError(code::INVALID_SIGNATURE)),
    }
}
