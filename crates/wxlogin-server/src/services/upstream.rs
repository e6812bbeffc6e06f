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
                WeChatErrorKind::InvalidCredential => {
                    // Never the appid or secret (those fail the token fetch itself): WeChat
                    // refused a token it had just handed out, even after a refetch.
                    tracing::error!(
                        call,
                        errcode = wechat.errcode,
                        "WeChat refused the access token again after it was refetched"
                    );
                    (
                        ErrorCode::UpstreamMisconfigured,
                        format!(
                            "WeChat refused this server's access token even after fetching a new one (errcode {}); retry shortly. If it persists, another system may be fetching this app's tokens with /cgi-bin/token or force-refreshing them",
                            wechat.errcode
                        ),
                    )
                }
                WeChatErrorKind::IpNeedsConfirmation => {
                    tracing::error!(
                        call,
                        errcode = wechat.errcode,
                        "WeChat holds this server's calls until an administrator confirms its IP in the mini program console"
                    );
                    (
                        ErrorCode::UpstreamMisconfigured,
                        explain(&format!(
                            "WeChat refused the {call} request (errcode {})",
                            wechat.errcode
                        )),
                    )
                }
                WeChatErrorKind::InvalidAppId
                | WeChatErrorKind::InvalidSecret
                | WeChatErrorKind::IpNotWhitelisted => {
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
        ClientError::RefusedTokenNotRenewed { retry_after } => {
            tracing::error!(
                call,
                retry_after_s = retry_after.as_secs(),
                "WeChat refuses the access token that stable_token keeps handing back, and a forced refresh is not allowed yet"
            );
            ApiError::new(
                ErrorCode::UpstreamMisconfigured,
                format!(
                    "WeChat refuses this server's access token and keeps handing the same one back; a forced renewal (at most 20 a day, 30 s apart) is possible in {} s, retry then",
                    retry_after.as_secs().max(1)
                ),
            )
            .with_retry_after(*retry_after)
        }
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
            (89503, "upstream_unavailable", 502),
            (40001, "upstream_unavailable", 502),
        ];
        for (errcode, code, status) in cases {
            let error = upstream_error("login", &wechat(errcode));
            assert_eq!(error.code.as_str(), code, "{errcode}");
            assert_eq!(error.status().as_u16(), status, "{errcode}");
            assert_eq!(error.wechat_errcode, Some(errcode));
        }
    }

    #[test]
    fn an_ip_awaiting_confirmation_says_so() {
        let error = upstream_error("phone number", &wechat(89503));
        assert!(
            error
                .message
                .contains("administrator's confirmation in the mini program console"),
            "{}",
            error.message
        );
    }

    #[test]
    fn a_refused_access_token_does_not_blame_the_appid_or_secret() {
        let refused = upstream_error("phone number", &wechat(40001));
        let not_renewed = upstream_error(
            "phone number",
            &ClientError::RefusedTokenNotRenewed {
                retry_after: std::time::Duration::from_secs(12),
            },
        );
        for error in [&refused, &not_renewed] {
            assert_eq!(error.status().as_u16(), 502);
            assert!(error.message.contains("access token"), "{}", error.message);
            for blamed in ["appid", "secret", "whitelist"] {
                assert!(!error.message.contains(blamed), "{}", error.message);
            }
        }
        assert_eq!(not_renewed.retry_after_secs, Some(12));
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
