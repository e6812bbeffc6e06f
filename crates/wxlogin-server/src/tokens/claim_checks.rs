//! The checks of a verified token's claims that depend on the clock and the rules (made on
//! every call, cached signature or not), and reading the payload's `nbf`, which
//! `AccessClaims` does not carry.
use base64::Engine;

use super::verified_cache::{NotBefore, SignedToken};
use super::{AccessTokenRules, TokenError};
use crate::storage::UnixSeconds;

/// How far ahead of this server's clock a token's `iat` or `nbf` may be (another
/// instance's clock running ahead), beyond the rules' leeway.
pub(super) const CLOCK_SKEW_SECONDS: UnixSeconds = 5;

/// The checks that depend on the clock and the rules, made on every call in the order
/// (and with the errors) verification has always used: issuer, audience, expiry, then
/// `iat` and `nbf` not in the future.
pub(super) fn check_claims(
    signed: &SignedToken,
    rules: &AccessTokenRules,
    now: UnixSeconds,
) -> Result<(), TokenError> {
    let claims = &signed.claims;
    if claims.iss != rules.issuer {
        return Err(TokenError::WrongIssuer);
    }
    if !rules.audiences.contains(claims.aud.as_str()) {
        return Err(TokenError::WrongAudience);
    }
    let leeway = i64::try_from(rules.leeway_seconds).unwrap_or(i64::MAX / 4);
    if now >= claims.exp.saturating_add(leeway) {
        return Err(TokenError::Expired);
    }
    // Like `exp`, checked against the caller's clock: a token from the future is one
    // this server did not write, or one written by an instance whose clock runs ahead.
    let latest_start = now
        .saturating_add(leeway)
        .saturating_add(CLOCK_SKEW_SECONDS);
    let not_before = match signed.not_before {
        NotBefore::Absent => None,
        NotBefore::At(nbf) => Some(nbf),
        NotBefore::Unreadable => return Err(TokenError::Malformed),
    };
    if claims.iat > latest_start || not_before.is_some_and(|nbf| nbf > latest_start) {
        return Err(TokenError::NotYetValid);
    }
    Ok(())
}

/// The optional `nbf` claim, which `AccessClaims` does not carry (this server never
/// writes it) but a verifier must still honour.
#[derive(serde::Deserialize)]
struct NotBeforeClaim {
    #[serde(default)]
    nbf: Option<UnixSeconds>,
}

/// The payload of a token as text. RFC 7519 claims are JSON, so UTF-8; serde would skip
/// the bytes of a member `AccessClaims` does not read without decoding them, so a payload
/// no other JWT library accepts would verify here if this were not checked up front.
pub(super) fn payload_text(token: &str) -> Result<String, TokenError> {
    let payload = token.split('.').nth(1).ok_or(TokenError::Malformed)?;
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| TokenError::Malformed)?;
    String::from_utf8(payload).map_err(|_| TokenError::Malformed)
}

/// The `nbf` of a payload whose signature has already been checked.
pub(super) fn not_before(payload: &str) -> NotBefore {
    match serde_json::from_str::<NotBeforeClaim>(payload) {
        Ok(NotBeforeClaim { nbf: Some(nbf) }) => NotBefore::At(nbf),
        Ok(NotBeforeClaim { nbf: None }) => NotBefore::Absent,
        Err(_) => NotBefore::Unreadable,
    }
}
