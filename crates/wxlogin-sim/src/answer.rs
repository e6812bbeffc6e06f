//! How the WeChat side answers: always HTTP 200, a JSON body, errors as
//! `{"errcode":N,"errmsg":"<text> rid: xxxxxxxx-xxxxxxxx-xxxxxxxx"}`.
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::faults::Endpoint;
use crate::ids;

/// `/sns/*` answers carry this Content-Type (observed on WeChat).
const SNS_CONTENT_TYPE: &str = "text/plain";
/// What the `/cgi-bin/*` and `/wxa/*` paths send (observed header; a guess for every path).
const JSON_CONTENT_TYPE: &str = "application/json; encoding=utf-8";

/// A WeChat error code; its errmsg comes from [`errmsg_text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WxError(pub(crate) i64);

pub(crate) mod code {
    pub const INVALID_CREDENTIAL: i64 = 40001;
    pub const INVALID_GRANT_TYPE: i64 = 40002;
    pub const INVALID_OPENID: i64 = 40003;
    pub const INVALID_APPID: i64 = 40013;
    pub const INVALID_CODE: i64 = 40029;
    pub const INVALID_URL: i64 = 40066;
    pub const INVALID_APPSECRET: i64 = 40125;
    pub const CODE_BEEN_USED: i64 = 40163;
    pub const ACCESS_TOKEN_MISSING: i64 = 41001;
    pub const APPID_MISSING: i64 = 41002;
    pub const APPSECRET_MISSING: i64 = 41004;
    pub const CODE_MISSING: i64 = 41008;
    pub const ACCESS_TOKEN_EXPIRED: i64 = 42001;
    pub const REQUIRE_POST: i64 = 43002;
    pub const EMPTY_POST_DATA: i64 = 44002;
    pub const DAILY_QUOTA: i64 = 45009;
    pub const MINUTE_QUOTA: i64 = 45011;
    pub const DATA_FORMAT_ERROR: i64 = 47001;
    pub const INVALID_SIG_METHOD: i64 = 87008;
    pub const INVALID_SIGNATURE: i64 = 87009;
}

/// WeChat's errmsg text for `errcode`, as returned before the ` rid: …` suffix.
pub(crate) fn errmsg_text(errcode: i64) -> &'static str {
    match errcode {
        -1 => "system error",
        40001 => "invalid credential, access_token is invalid or not latest",
        40002 => "invalid grant_type",
        40003 => "invalid openid",
        40013 => "invalid appid",
        40014 => "invalid access_token",
        40029 => "invalid code,",
        40066 => "invalid url",
        40097 => "invalid args",
        40125 => "invalid appsecret",
        40163 => "code been used,",
        40164 => "invalid ip, not in whitelist",
        40226 => "code blocked",
        41001 => "access_token missing",
        41002 => "appid missing",
        41004 => "appsecret missing",
        41008 => "missing code",
        42001 => "access_token expired",
        43002 => "require POST method",
        43003 => "require https",
        44002 => "empty post data",
        45009 => "reach max api daily quota limit",
        45011 => "api minute-quota reach limit mustslower retry next minute",
        47001 => "data format error",
        48001 => "api unauthorized",
        50002 => "user limited",
        87008 => "invalid sig_method",
        87009 => "invalid signature",
        // The doc's meaning; WeChat's exact errmsg is unknown (a guess).
        89503 => "this IP call needs the administrator's confirmation",
        _ => "simulated error",
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    errcode: i64,
    errmsg: &'a str,
}

/// The `{"errcode":0,"errmsg":"ok"}` head of the `/wxa/*` success answers.
#[derive(Serialize)]
pub(crate) struct OkAnswer<T: Serialize> {
    pub(crate) errcode: i64,
    pub(crate) errmsg: &'static str,
    #[serde(flatten)]
    pub(crate) payload: T,
}

impl<T: Serialize> OkAnswer<T> {
    pub(crate) fn new(payload: T) -> Self {
        OkAnswer {
            errcode: 0,
            errmsg: "ok",
            payload,
        }
    }
}

pub(crate) fn error_response(endpoint: Option<Endpoint>, error: WxError, now: i64) -> Response {
    let text = errmsg_text(error.0);
    let rid = ids::rid(now);
    tracing::debug!(endpoint = endpoint.map_or("-", Endpoint::name), errcode = error.0, %rid, "answered an error");
    let errmsg = if error.0 == code::DAILY_QUOTA && endpoint == Some(Endpoint::Token) {
        // Observed text of a classic token quota hit, pointing at stable_token.
        format!("{text}, could get access_token by getStableAccessToken, more details at https://mmbizurl.cn/s/JtxxFh33r rid: {rid}")
    } else {
        format!("{text} rid: {rid}")
    };
    let body = serde_json::to_vec(&ErrorBody {
        errcode: error.0,
        errmsg: &errmsg,
    })
    .expect("error body serializes");
    with_content_type(endpoint, body)
}

pub(crate) fn success_response<T: Serialize>(endpoint: Endpoint, payload: &T) -> Response {
    match serde_json::to_vec(payload) {
        Ok(body) => with_content_type(Some(endpoint), body),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "answer did not serialize",
        )
            .into_response(),
    }
}

pub(crate) fn respond<T: Serialize>(
    endpoint: Endpoint,
    result: Result<T, WxError>,
    now: i64,
) -> Response {
    match result {
        Ok(payload) => {
            tracing::debug!(endpoint = endpoint.name(), "answered");
            success_response(endpoint, &payload)
        }
        Err(error) => error_response(Some(endpoint), error, now),
    }
}

fn with_content_type(endpoint: Option<Endpoint>, body: Vec<u8>) -> Response {
    let content_type = match endpoint {
        Some(endpoint) if endpoint.is_sns() => SNS_CONTENT_TYPE,
        _ => JSON_CONTENT_TYPE,
    };
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errmsg_texts_match_wechats_prefixes() {
        assert_eq!(errmsg_text(40029), "invalid code,");
        assert_eq!(
            errmsg_text(45011),
            "api minute-quota reach limit mustslower retry next minute"
        );
        assert_eq!(errmsg_text(-1), "system error");
    }

    #[test]
    fn ok_head_comes_before_the_payload() {
        #[derive(Serialize)]
        struct Payload {
            openid: &'static str,
        }
        let body = serde_json::to_string(&OkAnswer::new(Payload { openid: "o1" })).unwrap();
        assert_eq!(body, r#"{"errcode":0,"errmsg":"ok","openid":"o1"}"#);
    }
}
