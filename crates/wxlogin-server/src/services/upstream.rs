//! WeChat's answers as the contract's errors. Whenever WeChat answered, its errcode is
//! passed on in `wechat_errcode`; its errmsg and rid go to the log for support requests.
use wxlogin_client::{ClientError, WeChatErrorKind};

use crate::error::{ApiError, ErrorCode};

/// `call` names the operation for the messages and logs (`login`, `phone number`).
pub fn upstream_error(call: &str, error: &ClientError) -> ApiError {
    match error {
        ClientError::WeChat(wechat) => {
            tracing::warn!(
                call,
                errcode = wechat.errcode,
                errmsg = %wechat.errmsg,
                rid = wechat.rid.as_deref().unwrap_or(""),
                "WeChat answered with an error"
            );
            let hint = wechat.hint();
            let explain = |text: &str| match hint {
                Some(hint) => format!("{text}: {hint}"),
                None => text.to_owned(),
            };
            let (code, message) = match wechat.kind {
                WeChatErrorKind::InvalidCode => (
                    ErrorCode::InvalidCode,
                    explain("WeChat rejected the code as invalid or expired"),
                ),
                WeChatErrorKind::CodeUsed => (
                    ErrorCode::CodeUsed,
                    "this code was already used; call wx.login again for a new code".to_owned(),
                ),
                WeChatErrorKind::RateLimited => (
                    ErrorCode::RateLimited,
                    "WeChat's rate limit was reached; retry after a minute".to_owned(),
                ),
                WeChatErrorKind::SystemBusy => (
                    ErrorCode::UpstreamUnavailable,
                    "WeChat is busy; retry shortly".to_owned(),
                ),
                WeChatErrorKind::HighRiskUser => (
                    ErrorCode::LoginRefused,
                    "WeChat refused this login: the account is flagged as high risk".to_owned(),
                ),
                WeChatErrorKind::InvalidAppId
                | WeChatErrorKind::InvalidSecret
                | WeChatErrorKind::IpNotWhitelisted
                | WeChatErrorKind::InvalidCredential => {
                    tracing::error!(
                        call,
                        errcode = wechat.errcode,
                        hint = hint.unwrap_or(""),
                        "WeChat rejected this server's credentials: the operator must fix the configuration"
                    );
                    (
                        ErrorCode::UpstreamMisconfigured,
                        format!(
                            "WeChat rejected this server's app credentials or network (errcode {}); the server operator must check the configured appid, secret and IP whitelist",
                            wechat.errcode
                        ),
                    )
                }
                WeChatErrorKind::InvalidSignature => (
                    ErrorCode::DecryptFailed,
                    "the stored session key is no longer valid; call wx.login again".to_owned(),
                ),
                _ => (
                    ErrorCode::UpstreamMisconfigured,
                    format!(
                        "WeChat refused the {call} request (errcode {})",
                        wechat.errcode
                    ),
                ),
            };
            ApiError::new(code, message).with_wechat_errcode(wechat.errcode)
        }
        ClientError::Timeout => {
            tracing::warn!(call, "WeChat did not answer in time");
            ApiError::new(
                ErrorCode::UpstreamUnavailable,
                "WeChat did not answer in time; retry shortly",
            )
        }
        ClientError::Transport(reason) => {
            tracing::warn!(call, %reason, "cannot reach WeChat");
            ApiError::new(
                ErrorCode::UpstreamUnavailable,
                "cannot reach WeChat; retry shortly",
            )
        }
        // The access-token store is our own database.
        ClientError::TokenStore(reason) => {
            tracing::warn!(call, %reason, "access-token store failed");
            ApiError::new(
                ErrorCode::DatabaseUnavailable,
                "cannot read the shared WeChat access token from the database right now; retry shortly",
            )
        }
        ClientError::ForceRefreshLimited { .. } => ApiError::new(
            ErrorCode::UpstreamUnavailable,
            "WeChat access token is being renewed; retry shortly",
        ),
        ClientError::InvalidResponse(reason) => {
            tracing::warn!(call, %reason, "unexpected answer from WeChat");
            ApiError::new(
                ErrorCode::UpstreamMisconfigured,
                "WeChat gave an unexpected answer",
            )
        }
        ClientError::InvalidConfig(reason) => {
            tracing::error!(call, %reason, "WeChat client misconfigured");
            ApiError::new(
                ErrorCode::UpstreamMisconfigured,
                "this server's WeChat client is misconfigured; the operator must check the base URL",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wxlogin_client::WeChatError;

    fn wechat(errcode: i64) -> ClientError {
        ClientError::WeChat(WeChatError::from_answer(errcode, "errmsg rid: 1-2-3"))
    }

    #[test]
    fn errcodes_map_to_contract_codes() {
        let cases = [
            (40029, "invalid_code", 400),
            (40163, "code_used", 409),
            (45011, "rate_limited", 429),
            (45009, "rate_limited", 429),
            (-1, "upstream_unavailable", 503),
            (40226, "login_refused", 403),
            (40013, "upstream_unavailable", 502),
            (40125, "upstream_unavailable", 502),
            (40164, "upstream_unavailable", 502),
        ];
        for (errcode, code, status) in cases {
            let error = upstream_error("login", &wechat(errcode));
            assert_eq!(error.code.as_str(), code, "{errcode}");
            assert_eq!(error.status().as_u16(), status, "{errcode}");
            assert_eq!(error.wechat_errcode, Some(errcode));
        }
    }

    #[test]
    fn token_store_failures_are_database_unavailable() {
        let error = ClientError::TokenStore(wxlogin_client::StoreError("pool timed out".into()));
        let mapped = upstream_error("phone number", &error);
        assert_eq!(mapped.code, ErrorCode::DatabaseUnavailable);
        assert_eq!(mapped.status().as_u16(), 503);
    }

    #[test]
    fn transport_failures_are_503_without_errcode() {
        for error in [ClientError::Timeout, ClientError::Transport("reset".into())] {
            let mapped = upstream_error("login", &error);
            assert_eq!(mapped.status().as_u16(), 503);
            assert_eq!(mapped.wechat_errcode, None);
        }
    }
}
