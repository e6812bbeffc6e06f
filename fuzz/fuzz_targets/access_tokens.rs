//! Token parsing and verification against the real session service (in-memory SQLite,
//! the server's own signing key, one live session).
//!
//! The first byte picks a mode, the rest is the material:
//! * `0`: the rest is an access token as sent in `Authorization: Bearer`;
//! * `1`: an edit of the live access token: two bytes of offset, one byte of length to
//!   cut, the rest inserted there;
//! * `2`: the rest is a JWT payload, signed with the server's real key under a kid the
//!   fuzzer may also alter (third byte of the input: 0 real kid, else none);
//! * `3`: the rest is a refresh token.
//!
//! Properties: nothing panics; a token is accepted only if it is exactly the live one
//! (mode 1), or carries claims that pass every rule (mode 2: our issuer, a configured
//! audience, not expired, a session that exists for that user and app); no refresh token
//! but the live one is accepted; the live session keeps working throughout.
#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, EncodingKey};
use libfuzzer_sys::fuzz_target;
use wxlogin_fuzz::{Server, APPID};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, material)) = data.split_first() else {
        return;
    };
    let server = Server::get();
    let sessions = server.state.sessions().clone();
    let now = server.state.now();
    let live = server.login();
    match mode % 4 {
        0 => {
            let token = String::from_utf8_lossy(material);
            let result = server.runtime.block_on(sessions.authenticate(&token, now));
            assert_eq!(
                result.is_ok(),
                token == live.access_token,
                "accepted a forged token"
            );
        }
        1 => {
            let [hi, lo, cut, ..] = material else { return };
            let insert = String::from_utf8_lossy(&material[3..]);
            let live_token = live.access_token.as_str();
            let at = (usize::from(*hi) << 8 | usize::from(*lo)) % (live_token.len() + 1);
            let end = (at + usize::from(*cut)).min(live_token.len());
            let edited = format!("{}{}{}", &live_token[..at], insert, &live_token[end..]);
            let result = server.runtime.block_on(sessions.authenticate(&edited, now));
            assert_eq!(
                result.is_ok(),
                edited == live_token,
                "an edited token was accepted: {edited}"
            );
        }
        2 => signed_payload(server, material, now),
        _ => {
            let token = String::from_utf8_lossy(material);
            if token.trim() == live.refresh_token {
                return;
            }
            let result = server.runtime.block_on(sessions.refresh(&token, now));
            assert!(result.is_err(), "a made-up refresh token was accepted");
        }
    }
    // The live session is untouched by whatever was tried.
    let live = server.login();
    assert!(server
        .runtime
        .block_on(sessions.authenticate(&live.access_token, now))
        .is_ok());
});

/// Sign `payload` (any bytes) with the server's own current key: what verification does
/// with claims a signer never meant to write.
fn signed_payload(server: &Server, material: &[u8], now: i64) {
    let Some((&kid_choice, payload)) = material.split_first() else {
        return;
    };
    let keys = server
        .runtime
        .block_on(server.state.store().signing_keys())
        .expect("keys");
    let key = keys.last().expect("one signing key");
    let signing = ed25519_dalek::SigningKey::from_bytes(&key.secret_key);
    let der = signing.to_pkcs8_der().expect("pkcs8");
    let encoding = EncodingKey::from_ed_der(der.as_bytes());
    let header = if kid_choice == 0 {
        format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{}"}}"#, key.kid)
    } else {
        r#"{"alg":"EdDSA","typ":"JWT"}"#.to_owned()
    };
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), &encoding, Algorithm::EdDSA).expect("sign");
    let token = format!("{message}.{signature}");

    let sessions = server.state.sessions();
    let verified = server
        .runtime
        .block_on(sessions.keys().verify(&token, &rules(server), now));
    if let Ok(claims) = &verified {
        assert_eq!(kid_choice, 0, "a token without kid verified");
        assert_eq!(claims.iss, sessions.policy().issuer);
        assert!(sessions.policy().audiences.contains(&claims.aud));
        assert!(now < claims.exp, "an expired token verified");
        // What any other JSON reader sees in the payload is what we verified: no duplicate
        // keys or type tricks that another service would read differently.
        // (Read through a lossy UTF-8 conversion: bytes that are not UTF-8 inside an
        // unknown claim pass verification, FUZZ-FINDINGS F6.)
        let value: serde_json::Value = serde_json::from_str(&String::from_utf8_lossy(payload))
            .expect("verified payload is JSON");
        assert_eq!(value["iss"], claims.iss.as_str());
        assert_eq!(value["aud"], claims.aud.as_str());
        assert_eq!(value["sub"], claims.sub.as_str());
        assert_eq!(value["sid"], claims.sid.as_str());
        assert_eq!(value["exp"], claims.exp);
    }
    if let Ok(context) = server.runtime.block_on(sessions.authenticate(&token, now)) {
        let claims = verified.expect("authenticated tokens verify");
        assert_eq!(context.appid, APPID);
        assert_eq!(context.user_id, claims.sub);
        assert_eq!(context.session_id, claims.sid);
    }
}

fn rules(server: &Server) -> wxlogin_server::tokens::AccessTokenRules {
    let policy = server.state.sessions().policy();
    wxlogin_server::tokens::AccessTokenRules {
        issuer: policy.issuer.clone(),
        audiences: policy.audiences.clone(),
        leeway_seconds: policy.leeway_seconds,
    }
}
