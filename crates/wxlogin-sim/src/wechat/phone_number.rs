//! `POST /wxa/business/getuserphonenumber?access_token=…` with `{"code":"…","openid":"…"?}`.
use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::Method;
use axum::response::Response;
use serde::Serialize;

use super::{admit, authorize, json_object, json_string, param, token_owner};
use crate::answer::{code, respond, OkAnswer, WxError};
use crate::clock::minute_of;
use crate::connection::Hangup;
use crate::faults::Endpoint;
use crate::simulator::{Simulator, World};

/// `{"errcode":0,"errmsg":"ok","phone_info":{…}}`, exactly the doc's example shape.
#[derive(Serialize)]
pub(crate) struct PhoneAnswer {
    phone_info: PhoneInfo,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhoneInfo {
    phone_number: String,
    pure_phone_number: String,
    /// A number, as in the doc's example (`"countryCode":86`).
    country_code: u32,
    watermark: PhoneWatermark,
}

/// The doc's example puts timestamp before appid here (unlike the legacy payload).
#[derive(Serialize)]
struct PhoneWatermark {
    timestamp: i64,
    appid: String,
}

pub(crate) async fn handle(
    State(sim): State<Simulator>,
    method: Method,
    Query(params): Query<HashMap<String, String>>,
    hangup: Hangup,
    body: Bytes,
) -> Response {
    let owner = token_owner(&sim, param(&params, "access_token"));
    if let Some(faulted) = admit(&sim, Endpoint::Getuserphonenumber, &owner, hangup).await {
        return faulted;
    }
    let now = sim.now_unix();
    let result = redeem(&mut sim.world(), &method, &params, &body, now).map(OkAnswer::new);
    respond(Endpoint::Getuserphonenumber, result, now)
}

/// Checks, in order: POST (43002), access token (41001/40001/42001), minute quota (45011),
/// body (44002/47001), code present (41008, a guess), code valid for the token's app (40029,
/// 40013 for another app's code), openid if given must be the code's user (40029, a guess).
fn redeem(
    world: &mut World,
    method: &Method,
    params: &HashMap<String, String>,
    body: &[u8],
    now: i64,
) -> Result<PhoneAnswer, WxError> {
    if method != Method::POST {
        return Err(WxError(code::REQUIRE_POST));
    }
    let appid = authorize(world, param(params, "access_token"), now)?;
    let per_minute = world.limits.getuserphonenumber_per_app_per_minute;
    if !world
        .quotas
        .try_take("getuserphonenumber", &appid, minute_of(now), per_minute)
    {
        return Err(WxError(code::MINUTE_QUOTA));
    }
    let request = json_object(body)?;
    let phone_code = json_string(&request, "code")?.ok_or(WxError(code::CODE_MISSING))?;
    let openid = json_string(&request, "openid")?;
    let redeemed = world.codes.phone_grant(phone_code, &appid, now)?;
    if let Some(openid) = openid {
        let app = world
            .apps
            .get(&appid)
            .cloned()
            .ok_or(WxError(code::INVALID_APPID))?;
        if world.users.entry(&app, &redeemed.user).openid != openid {
            return Err(WxError(code::INVALID_CODE));
        }
    }
    world.codes.spend(phone_code);
    let grant = redeemed.grant;
    Ok(PhoneAnswer {
        phone_info: PhoneInfo {
            phone_number: grant.phone_number,
            pure_phone_number: grant.pure_phone_number,
            country_code: grant.country_code.parse().unwrap_or(86),
            watermark: PhoneWatermark {
                timestamp: grant.granted_at,
                appid,
            },
        },
    })
}
