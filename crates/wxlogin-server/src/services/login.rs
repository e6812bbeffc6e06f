//! `POST /v1/login`: exchange a `wx.login` code once, however often it is sent.
//!
//! The code's claim in the store decides who exchanges it (across all instances):
//! * `Claimed`: this request calls jscode2session, creates or finds the user, keeps the
//!   session key (sealed) and marks the code succeeded;
//! * `InFlight`: another request is exchanging it; poll the store until it settles;
//! * `Succeeded` within the retry window: answer like the first request did, with a
//!   fresh token pair for the same user; after the window: `code_used`.
//!
//! On this instance, concurrent requests with one code also share a single run
//! ([`crate::single_flight`]), so they share a failure too instead of each retrying.
//!
//! The exchange's transaction also stores a session for the login: the request that takes
//! it first answers with it, the others (a retry that joined the run) get their own.
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wxlogin_client::AppCredentials;

use crate::domain::{AppId, LoginCode, LoginCodeHash, OpenId, UnionId, UserId};
use crate::error::{ApiError, ErrorCode};
use crate::metrics::record_login;
use crate::sessions::PlannedSession;
use crate::state::AppState;
use crate::storage::{hash_login_code, CodeClaim, CodeExchange, LoginKind, User};

use super::upstream_error;

/// How often a request waiting for another instance's exchange reads the store.
const IN_FLIGHT_POLL: Duration = Duration::from_millis(100);

/// How long WeChat accepts a login code. A spent code's record is kept at least this long,
/// whatever the retry window, so a replay after the window is answered `code_used` here
/// instead of being sent to WeChat a second time (SECURITY.md: one exchange per code).
const WECHAT_CODE_LIFETIME: Duration = Duration::from_secs(5 * 60);

/// How long a succeeded code's record is kept: the retry window, but never less than the
/// code's life at WeChat.
fn spent_code_record_lifetime(retry_window: Duration) -> Duration {
    retry_window.max(WECHAT_CODE_LIFETIME)
}

/// What a login code gave: its user, how the code was spent, and the session stored with
/// the exchange, for whichever request sharing the run takes it first.
#[derive(Debug, Clone)]
pub struct CodeLogin {
    pub user: User,
    pub kind: LoginKind,
    session: Arc<Mutex<Option<PlannedSession>>>,
}

impl CodeLogin {
    fn new(user: User, kind: LoginKind, session: Option<PlannedSession>) -> Self {
        CodeLogin {
            user,
            kind,
            session: Arc::new(Mutex::new(session)),
        }
    }

    /// The session stored with the exchange, to the first caller only; the others (and a
    /// retried code) must issue their own.
    pub fn take_session(&self) -> Option<PlannedSession> {
        self.session
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }
}

/// Find the user a login code belongs to, exchanging the code at most once.
pub async fn user_for_code(
    state: &AppState,
    appid: Option<&str>,
    code: &str,
) -> Result<CodeLogin, ApiError> {
    let outcome = resolve_user(state, appid, code).await;
    let label = match &outcome {
        Ok(login) if login.kind == LoginKind::Exchanged => "success",
        Ok(_) => "retry",
        Err(error) => error.code.as_str(),
    };
    record_login(label);
    state.minute_tally().record_login(label);
    outcome
}

async fn resolve_user(
    state: &AppState,
    appid: Option<&str>,
    code: &str,
) -> Result<CodeLogin, ApiError> {
    let app = state.resolve_app(appid)?.clone();
    let code = LoginCode::parse(code)?;
    let appid = AppId::configured(app.appid.as_str());
    let code_hash = hash_login_code(&appid, code.expose());

    let flight_state = state.clone();
    let flight_hash = code_hash.clone();
    state
        .login_flights()
        .run(code_hash.as_str(), async move {
            exchange_once(&flight_state, &app, &appid, &flight_hash, code).await
        })
        .await?
}

/// How long a claim may stay in flight before another request may take it over: longer
/// than one exchange can take.
fn in_flight_ttl(state: &AppState) -> Duration {
    state.settings().wechat.wechat_timeout * 2 + Duration::from_secs(5)
}

async fn exchange_once(
    state: &AppState,
    app: &AppCredentials,
    appid: &AppId,
    code_hash: &LoginCodeHash,
    code: LoginCode,
) -> Result<CodeLogin, ApiError> {
    let ttl = in_flight_ttl(state);
    let give_up_at = Instant::now() + ttl + Duration::from_secs(1);
    loop {
        let claim = state
            .store()
            .claim_login_code(code_hash, appid, state.now(), ttl)
            .await?;
        match claim {
            CodeClaim::Claimed => {
                return exchange_claimed(state, app, appid, code_hash, &code)
                    .await
                    .map(|(user, session)| {
                        CodeLogin::new(user, LoginKind::Exchanged, Some(session))
                    });
            }
            CodeClaim::Succeeded {
                user_id,
                openid,
                completed_at,
            } => {
                return retried_user(state, appid, &user_id, &openid, completed_at).await;
            }
            CodeClaim::InFlight => {
                if Instant::now() >= give_up_at {
                    return Err(ApiError::new(
                        ErrorCode::UpstreamUnavailable,
                        "another request with this code is still being processed; retry shortly",
                    ));
                }
                tokio::time::sleep(IN_FLIGHT_POLL).await;
            }
        }
    }
}

/// This request owns the code: exchange it and record the result, or release the claim.
async fn exchange_claimed(
    state: &AppState,
    app: &AppCredentials,
    appid: &AppId,
    code_hash: &LoginCodeHash,
    code: &LoginCode,
) -> Result<(User, PlannedSession), ApiError> {
    let result = exchange_and_record(state, app, appid, code_hash, code).await;
    if result.is_err() {
        if let Err(error) = state.store().release_login_code(code_hash).await {
            tracing::warn!(%error, "cannot release a login-code claim; it lapses on its own");
        }
    }
    result
}

async fn exchange_and_record(
    state: &AppState,
    app: &AppCredentials,
    appid: &AppId,
    code_hash: &LoginCodeHash,
    code: &LoginCode,
) -> Result<(User, PlannedSession), ApiError> {
    let session = state
        .wechat()
        .code2session(app, code.expose())
        .await
        .map_err(|error| upstream_error("login", &error))?;
    let openid = OpenId::new(session.openid);
    let unionid = session.unionid.map(UnionId::new);
    let planned = state.sessions().plan(state.now());
    let user = state
        .store()
        .record_code_exchange(&CodeExchange {
            code_hash,
            appid,
            openid: &openid,
            unionid: unionid.as_ref(),
            session_key: &session.session_key,
            now: state.now(),
            keep_for: spent_code_record_lifetime(state.settings().wechat.code_retry_window),
            session: Some(&planned.rows),
        })
        .await?;
    // DEBUG like every per-request line (routes/observe.rs): the login counters and the
    // outbox's `user.created` say the same without a line per login.
    tracing::debug!(%appid, user_id = %user.id, openid = %user.openid, "login code exchanged");
    Ok((user, planned))
}

async fn retried_user(
    state: &AppState,
    appid: &AppId,
    user_id: &UserId,
    openid: &OpenId,
    completed_at: i64,
) -> Result<CodeLogin, ApiError> {
    let window = state.settings().wechat.code_retry_window.as_secs() as i64;
    if state.now().saturating_sub(completed_at) > window {
        return Err(ApiError::new(
            ErrorCode::CodeUsed,
            "this code was already used; call wx.login again for a new code",
        ));
    }
    let user = state
        .store()
        .user(user_id, appid, openid)
        .await?
        .ok_or_else(|| {
            ApiError::unauthorized("the user of this code no longer exists; call wx.login again")
        })?;
    tracing::debug!(%appid, user_id = %user.id, "retried login code answered from its first exchange");
    Ok(CodeLogin::new(user, LoginKind::Retried, None))
}
