//! One error type for every call, keeping WeChat's raw answer next to a typed kind.
use std::fmt;
use std::time::Duration;

use crate::rid::extract_rid;

/// [`WeChatError::api`] of getuserphonenumber's answers.
pub(crate) const PHONE_NUMBER_API: &str = "getuserphonenumber";

/// Why a call to WeChat did not produce its answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    /// WeChat answered with a non-zero errcode.
    #[error("{0}")]
    WeChat(WeChatError),
    /// The per-request deadline passed before WeChat answered.
    #[error("WeChat did not answer within the request timeout")]
    Timeout,
    /// Connect, reset, TLS or a non-200 status. The message never holds a URL query.
    #[error("transport error talking to WeChat: {0}")]
    Transport(String),
    /// HTTP 200 but the body was not the JSON this endpoint answers with.
    #[error("unexpected answer from WeChat: {0}")]
    InvalidResponse(String),
    /// The access-token store or provider failed.
    #[error("{0}")]
    TokenStore(StoreError),
    /// `force_refresh_access_token` refused to call WeChat because it would break
    /// WeChat's limits (30 s apart, 20 a day); calling anyway would refresh nothing and
    /// burn quota.
    #[error("force refresh of the access token refused by the client-side limit; retry in {} s", retry_after.as_secs())]
    ForceRefreshLimited { retry_after: Duration },
    /// WeChat refused the access token with 40001/40014/42001, `stable_token` keeps
    /// handing back that same token, and forcing a new one is not allowed yet (WeChat's
    /// force-refresh limits, 30 s apart and 20 a day, or WeChat itself refreshed nothing).
    #[error("WeChat refuses the access token that stable_token keeps handing back; a forced renewal is possible in {} s", retry_after.as_secs())]
    RefusedTokenNotRenewed { retry_after: Duration },
    /// The configuration cannot work (bad base URL, or an operation the configured token
    /// source does not support).
    #[error("invalid client configuration: {0}")]
    InvalidConfig(String),
}

impl ClientError {
    /// The WeChat answer, if that is what this error is.
    pub fn wechat(&self) -> Option<&WeChatError> {
        match self {
            ClientError::WeChat(error) => Some(error),
            _ => None,
        }
    }

    /// The WeChat error kind, if WeChat answered.
    pub fn wechat_kind(&self) -> Option<WeChatErrorKind> {
        self.wechat().map(|error| error.kind)
    }
}

impl From<StoreError> for ClientError {
    fn from(error: StoreError) -> Self {
        ClientError::TokenStore(error)
    }
}

/// Failure of an [`crate::AccessTokenStore`] or [`crate::AccessTokenProvider`].
#[derive(Debug, Clone, thiserror::Error)]
#[error("access-token store: {0}")]
pub struct StoreError(pub String);

/// A non-zero `errcode` answered by WeChat, with its raw text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeChatError {
    pub kind: WeChatErrorKind,
    pub errcode: i64,
    pub errmsg: String,
    /// WeChat's request id (`rid: xxxxxxxx-xxxxxxxx-xxxxxxxx` in errmsg), for WeChat support.
    pub rid: Option<String>,
    /// The WeChat API that answered (`jscode2session`, `stable_token`,
    /// `getuserphonenumber`, …), when known: an errcode's cause can depend on it (40029 is
    /// a login code on jscode2session, a phone-number code on getuserphonenumber).
    pub api: Option<&'static str>,
}

/// What a WeChat errcode means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WeChatErrorKind {
    /// 40029: unknown, expired, wrong-kind or other-app code.
    InvalidCode,
    /// 40163: the login code was already exchanged.
    CodeUsed,
    /// 45011 (minute quota), 45009 (daily quota).
    RateLimited,
    /// -1: WeChat is busy.
    SystemBusy,
    /// 40001, 40014, 42001 on calls that carry an access token.
    InvalidCredential,
    /// 40013.
    InvalidAppId,
    /// 40125, and 40001 on the token endpoints (there it means a wrong AppSecret).
    InvalidSecret,
    /// 40164: the server's IP is not in the app's API whitelist.
    IpNotWhitelisted,
    /// 40226: WeChat blocked a high-risk user's login.
    HighRiskUser,
    /// 87009: the session key (signature) is not valid.
    InvalidSignature,
    /// 89503: a call from this IP waits for the administrator's confirmation in the mini
    /// program console (a risky-IP check of the token APIs).
    IpNeedsConfirmation,
    /// Anything else; see `errcode`.
    Other,
}

impl WeChatErrorKind {
    /// Kind of `errcode` on calls other than the token endpoints.
    pub fn from_errcode(errcode: i64) -> Self {
        match errcode {
            -1 => WeChatErrorKind::SystemBusy,
            40029 => WeChatErrorKind::InvalidCode,
            40163 => WeChatErrorKind::CodeUsed,
            45009 | 45011 => WeChatErrorKind::RateLimited,
            40001 | 40014 | 42001 => WeChatErrorKind::InvalidCredential,
            40013 => WeChatErrorKind::InvalidAppId,
            40125 => WeChatErrorKind::InvalidSecret,
            40164 => WeChatErrorKind::IpNotWhitelisted,
            40226 => WeChatErrorKind::HighRiskUser,
            87009 => WeChatErrorKind::InvalidSignature,
            89503 => WeChatErrorKind::IpNeedsConfirmation,
            _ => WeChatErrorKind::Other,
        }
    }

    /// Kind of `errcode` answered by `/cgi-bin/token` or `/cgi-bin/stable_token`, where
    /// 40001 means "AppSecret wrong or not this app's", not a stale token.
    pub fn from_token_endpoint_errcode(errcode: i64) -> Self {
        match errcode {
            40001 => WeChatErrorKind::InvalidSecret,
            other => Self::from_errcode(other),
        }
    }

    /// Whether the call may be repeated with a fresh access token.
    pub fn is_invalid_token(self) -> bool {
        self == WeChatErrorKind::InvalidCredential
    }
}

impl WeChatError {
    /// An answer from a call other than the token endpoints.
    pub fn from_answer(errcode: i64, errmsg: impl Into<String>) -> Self {
        Self::with_kind(
            WeChatErrorKind::from_errcode(errcode),
            errcode,
            errmsg.into(),
        )
    }

    /// An answer from `/cgi-bin/token` or `/cgi-bin/stable_token`.
    pub fn from_token_endpoint_answer(errcode: i64, errmsg: impl Into<String>) -> Self {
        Self::with_kind(
            WeChatErrorKind::from_token_endpoint_errcode(errcode),
            errcode,
            errmsg.into(),
        )
    }

    fn with_kind(kind: WeChatErrorKind, errcode: i64, errmsg: String) -> Self {
        let rid = extract_rid(&errmsg);
        WeChatError {
            kind,
            errcode,
            errmsg,
            rid,
            api: None,
        }
    }

    /// The same error, as answered by the WeChat API named `api` (see [`WeChatError::api`]).
    pub fn answered_by(mut self, api: &'static str) -> Self {
        self.api = Some(api);
        self
    }

    /// What usually causes this error when the caller can fix it.
    pub fn hint(&self) -> Option<&'static str> {
        let hint = match (self.kind, self.errcode) {
            (WeChatErrorKind::InvalidCode, _) if self.api == Some(PHONE_NUMBER_API) => {
                "the phone-number code is not valid for this appid: it lives 5 minutes from \
                 when the authorization sheet opened (a user slow to confirm gets this), it is \
                 single use, and it must come from the getPhoneNumber button (a wx.login code \
                 is not a phone-number code): ask the user to tap the button again"
            }
            (WeChatErrorKind::InvalidCode, _) => {
                "the code is not a valid login code for this appid: a phone-number code sent \
                 as a login code, a code minted for another appid, or an expired code \
                 (codes live 5 minutes)"
            }
            (WeChatErrorKind::CodeUsed, _) => {
                "this code was already exchanged (codes are single use): a retry must reuse \
                 the first result instead of exchanging the code again"
            }
            (WeChatErrorKind::InvalidSecret, _) => {
                "wrong secret for this appid: check the configured AppSecret (it may have been \
                 reset in the mini program admin console)"
            }
            (WeChatErrorKind::InvalidAppId, _) => {
                "invalid appid: check the configured AppID; for phone codes the access token \
                 must belong to the app the code was minted for"
            }
            (WeChatErrorKind::IpNotWhitelisted, _) => {
                "add this server's outbound IP to the app's API IP whitelist in the mini \
                 program admin console"
            }
            (WeChatErrorKind::HighRiskUser, _) => {
                "WeChat blocked this login because it flags the user as high risk; do not retry"
            }
            (WeChatErrorKind::RateLimited, 45009) => {
                "daily API quota reached: cache access tokens (stable_token) and call less"
            }
            (WeChatErrorKind::RateLimited, _) => {
                "minute quota reached: slow down and retry after the next minute"
            }
            (WeChatErrorKind::InvalidCredential, _) => {
                "the access token is invalid or expired: another server fetching tokens for \
                 the same appid with /cgi-bin/token revokes ours; use one token source per appid"
            }
            (WeChatErrorKind::InvalidSignature, _) => {
                "the stored session_key is no longer valid (a newer wx.login rotated it): the \
                 user must log in again"
            }
            (WeChatErrorKind::IpNeedsConfirmation, _) => {
                "this IP's call needs the administrator's confirmation in the mini program \
                 console: an admin must approve this server's IP there; retrying does not help \
                 until then"
            }
            (WeChatErrorKind::SystemBusy, _) => "WeChat is busy: retry later with backoff",
            (WeChatErrorKind::Other, 40243) => {
                "the AppSecret is frozen: an admin must unfreeze it in the admin console"
            }
            (WeChatErrorKind::Other, _) => return None,
        };
        Some(hint)
    }
}

impl fmt::Display for WeChatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "WeChat errcode {} ({:?}): {}",
            self.errcode, self.kind, self.errmsg
        )?;
        if let Some(hint) = self.hint() {
            write!(f, "; hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for WeChatError {}
