//! Access-token verification refuses every forgery and misuse; key rotation keeps the
//! previous key published exactly as long as its tokens can live, on every instance.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::helpers::{fresh_stores, ServerKey};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use wxlogin_server::storage::Store;
use wxlogin_server::tokens::{
    AccessClaims, AccessTokenRules, KeyPolicy, SigningAlgorithm, SigningKeys, TokenError,
};

const NOW: i64 = 1_700_000_000;
const TTL: i64 = 1_800;
const MARGIN: i64 = 300;

fn policy() -> KeyPolicy {
    KeyPolicy {
        access_token_ttl: Duration::from_secs(TTL as u64),
        retirement_margin: Duration::from_secs(MARGIN as u64),
        reload_interval: Duration::from_secs(3600),
        min_reload_gap: Duration::ZERO,
        access_token_cache_size: 1_000,
        // These tests pin EdDSA's JWK shape; ES256 and the move between the two have
        // their own tests below.
        algorithm: SigningAlgorithm::EdDSA,
    }
}

fn rules() -> AccessTokenRules {
    AccessTokenRules {
        issuer: "wxlogin-test".into(),
        audiences: BTreeSet::from(["wxapp1".to_string(), "wxapp2".to_string()]),
        leeway_seconds: 0,
    }
}

fn claims(aud: &str, iat: i64) -> AccessClaims {
    AccessClaims {
        iss: "wxlogin-test".into(),
        sub: "user-1".into(),
        aud: aud.into(),
        sid: "session-1".into(),
        iat,
        exp: iat + TTL,
        roles: Vec::new(),
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

async fn keys_for(store: &Store) -> SigningKeys {
    SigningKeys::load_or_create(store.clone(), policy(), NOW)
        .await
        .unwrap()
}

fn jwks_value(jwks: wxlogin_server::tokens::JwkSet) -> serde_json::Value {
    serde_json::to_value(jwks).unwrap()
}

fn published_kids(jwks: &serde_json::Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_signed_token_verifies_and_carries_the_contract_claims() {
    for db in fresh_stores().await {
        let keys = keys_for(&db.store).await;
        let token = keys.sign(&claims("wxapp1", NOW)).await.unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::EdDSA);
        assert_eq!(header.kid, keys.current_kid());
        let verified = keys.verify(&token, &rules(), NOW + TTL - 1).await.unwrap();
        assert_eq!(verified, claims("wxapp1", NOW), "{}", db.label);

        // Any standard library verifies it offline from the JWKS alone.
        let jwks = jwks_value(keys.jwks(NOW).await);
        let jwk = &jwks["keys"][0];
        assert_eq!(jwk["kty"], "OKP");
        assert_eq!(jwk["crv"], "Ed25519");
        assert_eq!(jwk["alg"], "EdDSA");
        assert_eq!(jwk["use"], "sig");
        let decoding =
            jsonwebtoken::DecodingKey::from_ed_components(jwk["x"].as_str().unwrap()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(Algorithm::EdDSA);
        validation.set_audience(&["wxapp1"]);
        validation.validate_exp = false;
        let decoded =
            jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation).unwrap();
        for claim in ["iss", "sub", "aud", "sid", "iat", "exp"] {
            assert!(decoded.claims.get(claim).is_some(), "missing {claim}");
        }
    }
}

#[tokio::test]
async fn expired_wrong_audience_and_wrong_issuer_are_refused() {
    for db in fresh_stores().await {
        let keys = keys_for(&db.store).await;
        let token = keys.sign(&claims("wxapp1", NOW)).await.unwrap();
        assert!(
            matches!(
                keys.verify(&token, &rules(), NOW + TTL).await,
                Err(TokenError::Expired)
            ),
            "{}",
            db.label
        );
        let mut lenient = rules();
        lenient.leeway_seconds = 5;
        assert!(keys.verify(&token, &lenient, NOW + TTL + 4).await.is_ok());

        let foreign = keys.sign(&claims("wxunknown", NOW)).await.unwrap();
        assert!(matches!(
            keys.verify(&foreign, &rules(), NOW).await,
            Err(TokenError::WrongAudience)
        ));

        let mut other_issuer = claims("wxapp1", NOW);
        other_issuer.iss = "someone-else".into();
        let token = keys.sign(&other_issuer).await.unwrap();
        assert!(matches!(
            keys.verify(&token, &rules(), NOW).await,
            Err(TokenError::WrongIssuer)
        ));
    }
}

/// Signs any JSON claims with the store's current key, as only the server itself could.
async fn sign_as_the_server(store: &Store, claims: &serde_json::Value) -> String {
    ServerKey::of(store).await.sign(claims)
}

#[tokio::test]
async fn tokens_issued_or_valid_only_in_the_future_are_refused() {
    // Ahead by more than the skew allowance (plus the leeway) is refused.
    let skew = SigningKeys::CLOCK_SKEW_SECONDS;
    for db in fresh_stores().await {
        let keys = keys_for(&db.store).await;
        let mut lenient = rules();
        lenient.leeway_seconds = 5;

        let just_within = keys.sign(&claims("wxapp1", NOW + skew)).await.unwrap();
        assert!(keys.verify(&just_within, &rules(), NOW).await.is_ok());
        let from_the_future = keys.sign(&claims("wxapp1", NOW + skew + 1)).await.unwrap();
        assert!(
            matches!(
                keys.verify(&from_the_future, &rules(), NOW).await,
                Err(TokenError::NotYetValid)
            ),
            "{}: iat a second beyond the allowance",
            db.label
        );
        assert!(keys
            .verify(&from_the_future, &rules(), NOW + 1)
            .await
            .is_ok());
        assert!(keys.verify(&from_the_future, &lenient, NOW).await.is_ok());
        let far_ahead = keys.sign(&claims("wxapp1", NOW + skew + 6)).await.unwrap();
        assert!(matches!(
            keys.verify(&far_ahead, &lenient, NOW).await,
            Err(TokenError::NotYetValid)
        ));

        let with_nbf = |nbf: serde_json::Value| {
            let mut claims = serde_json::to_value(claims("wxapp1", NOW)).unwrap();
            claims["nbf"] = nbf;
            claims
        };
        let not_before_later =
            sign_as_the_server(&db.store, &with_nbf(serde_json::json!(NOW + skew + 1))).await;
        assert!(
            matches!(
                keys.verify(&not_before_later, &rules(), NOW).await,
                Err(TokenError::NotYetValid)
            ),
            "{}: nbf a second beyond the allowance",
            db.label
        );
        assert!(keys
            .verify(&not_before_later, &rules(), NOW + 1)
            .await
            .is_ok());
        assert!(keys.verify(&not_before_later, &lenient, NOW).await.is_ok());
        let nbf_as_text = sign_as_the_server(&db.store, &with_nbf(serde_json::json!("0"))).await;
        assert!(matches!(
            keys.verify(&nbf_as_text, &rules(), NOW).await,
            Err(TokenError::Malformed)
        ));
    }
}

#[tokio::test]
async fn a_signed_payload_that_is_not_utf8_is_malformed() {
    for db in fresh_stores().await {
        let keys = keys_for(&db.store).await;
        let genuine = keys.sign(&claims("wxapp1", NOW)).await.unwrap();
        let header = genuine.split('.').next().unwrap();
        let encoding = ServerKey::of(&db.store).await.encoding;
        let sign_payload = |extra: &[u8]| {
            let mut payload = serde_json::to_vec(&claims("wxapp1", NOW)).unwrap();
            payload.pop();
            payload.extend_from_slice(extra);
            let message = format!("{header}.{}", b64(&payload));
            let signature =
                jsonwebtoken::crypto::sign(message.as_bytes(), &encoding, Algorithm::EdDSA)
                    .unwrap();
            format!("{message}.{signature}")
        };

        let unknown_utf8_claim = sign_payload(",\"extra\":\"\u{e9}\"}".as_bytes());
        assert!(
            keys.verify(&unknown_utf8_claim, &rules(), NOW)
                .await
                .is_ok(),
            "{}: an unknown claim in valid UTF-8 is fine",
            db.label
        );
        let unknown_latin1_claim = sign_payload(b",\"extra\":\"\xe9\xff\"}");
        assert!(
            matches!(
                keys.verify(&unknown_latin1_claim, &rules(), NOW).await,
                Err(TokenError::Malformed)
            ),
            "{}: invalid UTF-8 in an unknown claim",
            db.label
        );
    }
}

#[tokio::test]
async fn forged_tokens_are_refused() {
    for db in fresh_stores().await {
        let keys = keys_for(&db.store).await;
        let kid = keys.current_kid().unwrap();
        let genuine = keys.sign(&claims("wxapp1", NOW)).await.unwrap();
        let payload = serde_json::to_vec(&claims("wxapp1", NOW)).unwrap();

        // alg "none", no signature.
        let none_header = format!(r#"{{"alg":"none","typ":"JWT","kid":"{kid}"}}"#);
        let none_token = format!("{}.{}.", b64(none_header.as_bytes()), b64(&payload));
        assert!(
            keys.verify(&none_token, &rules(), NOW).await.is_err(),
            "{}: alg none",
            db.label
        );

        // HS256 keyed with the public key (raw bytes and its base64url text): key confusion.
        let jwks = jwks_value(keys.jwks(NOW).await);
        let x = jwks["keys"][0]["x"].as_str().unwrap().to_string();
        let public_raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&x)
            .unwrap();
        for secret in [public_raw.as_slice(), x.as_bytes()] {
            let mut header = Header::new(Algorithm::HS256);
            header.kid = Some(kid.clone());
            let forged = jsonwebtoken::encode(
                &header,
                &claims("wxapp1", NOW),
                &EncodingKey::from_secret(secret),
            )
            .unwrap();
            assert!(
                matches!(
                    keys.verify(&forged, &rules(), NOW).await,
                    Err(TokenError::UnsupportedAlgorithm)
                ),
                "{}: HS256",
                db.label
            );
        }

        // Payload changed after signing (another user), signature kept.
        let parts: Vec<&str> = genuine.split('.').collect();
        let mut tampered_claims = claims("wxapp1", NOW);
        tampered_claims.sub = "user-2".into();
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            b64(&serde_json::to_vec(&tampered_claims).unwrap()),
            parts[2]
        );
        assert!(matches!(
            keys.verify(&tampered, &rules(), NOW).await,
            Err(TokenError::BadSignature)
        ));

        // Signed by a key we never issued, under an unknown kid and under the real kid.
        let stranger = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        let stranger_der = {
            use ed25519_dalek::pkcs8::EncodePrivateKey;
            stranger.to_pkcs8_der().unwrap()
        };
        let stranger_key = EncodingKey::from_ed_der(stranger_der.as_bytes());
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some("not-a-known-kid".into());
        let unknown = jsonwebtoken::encode(&header, &claims("wxapp1", NOW), &stranger_key).unwrap();
        assert!(matches!(
            keys.verify(&unknown, &rules(), NOW).await,
            Err(TokenError::UnknownKey)
        ));
        header.kid = Some(kid.clone());
        let impostor =
            jsonwebtoken::encode(&header, &claims("wxapp1", NOW), &stranger_key).unwrap();
        assert!(matches!(
            keys.verify(&impostor, &rules(), NOW).await,
            Err(TokenError::BadSignature)
        ));
        header.kid = None;
        let kidless = jsonwebtoken::encode(&header, &claims("wxapp1", NOW), &stranger_key).unwrap();
        assert!(matches!(
            keys.verify(&kidless, &rules(), NOW).await,
            Err(TokenError::UnknownKey)
        ));

        for garbage in [
            "",
            "a.b",
            "not a jwt",
            "a.b.c.d",
            &format!("{}..", parts[0]),
        ] {
            assert!(
                keys.verify(garbage, &rules(), NOW).await.is_err(),
                "{garbage:?}"
            );
        }
        // The genuine one still passes.
        assert!(keys.verify(&genuine, &rules(), NOW).await.is_ok());
    }
}

#[tokio::test]
async fn rotation_keeps_the_previous_key_until_its_tokens_have_expired() {
    for db in fresh_stores().await {
        let keys = keys_for(&db.store).await;
        let old_kid = keys.current_kid().unwrap();
        let old_token = keys.sign(&claims("wxapp1", NOW + 50)).await.unwrap();

        let rotated_at = NOW + 100;
        let new_kid = keys.rotate(rotated_at).await.unwrap();
        assert_ne!(new_kid, old_kid);
        assert_eq!(keys.current_kid(), Some(new_kid.clone()));
        let new_token = keys.sign(&claims("wxapp1", rotated_at)).await.unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&new_token).unwrap().kid,
            Some(new_kid.clone())
        );

        let mut both = vec![old_kid.clone(), new_kid.clone()];
        both.sort();
        let mut served = published_kids(&jwks_value(keys.jwks(rotated_at).await));
        served.sort();
        assert_eq!(served, both, "{}", db.label);
        assert!(keys
            .verify(&old_token, &rules(), rotated_at + 10)
            .await
            .is_ok());

        let last_moment = rotated_at + TTL + MARGIN - 1;
        let mut served = published_kids(&jwks_value(keys.jwks(last_moment).await));
        served.sort();
        assert_eq!(served, both);
        assert_eq!(
            published_kids(&jwks_value(keys.jwks(last_moment + 1).await)),
            vec![new_kid.clone()],
            "{}",
            db.label
        );

        let summaries = keys.summaries(last_moment + 1);
        assert_eq!(summaries.len(), 2);
        assert!(summaries.iter().any(|key| key.kid == old_kid
            && !key.current
            && !key.published
            && key.retired_at == Some(rotated_at)));
        assert!(summaries
            .iter()
            .any(|key| key.kid == new_kid && key.current && key.published));
    }
}

#[tokio::test]
async fn two_rotations_in_one_second_leave_the_latest_current() {
    for db in fresh_stores().await {
        let keys = keys_for(&db.store).await;
        let first = keys.rotate(NOW).await.unwrap();
        let second = keys.rotate(NOW).await.unwrap();
        assert_ne!(first, second);
        assert_eq!(keys.current_kid(), Some(second), "{}", db.label);
        assert_eq!(
            keys.summaries(NOW)
                .iter()
                .filter(|key| key.retired_at.is_none())
                .count(),
            1
        );
    }
}

#[tokio::test]
async fn a_rotation_on_one_instance_is_used_and_served_by_another() {
    for db in fresh_stores().await {
        let instance_a = keys_for(&db.store).await;
        let other_store = db.another_instance().await;
        let instance_b = SigningKeys::load_or_create(other_store.clone(), policy(), NOW)
            .await
            .unwrap();
        assert_eq!(
            instance_a.current_kid(),
            instance_b.current_kid(),
            "{}: one first key",
            db.label
        );

        let new_kid = instance_a.rotate(NOW + 10).await.unwrap();
        let token = instance_a.sign(&claims("wxapp1", NOW + 10)).await.unwrap();
        // B has never seen this kid: it re-reads the keys and accepts the token.
        assert!(
            instance_b.verify(&token, &rules(), NOW + 11).await.is_ok(),
            "{}",
            db.label
        );
        assert!(published_kids(&jwks_value(instance_b.jwks(NOW + 11).await)).contains(&new_kid));

        // With reloads rate-limited, a kid rotated in meanwhile stays unknown (no DB hammering).
        let mut slow = policy();
        slow.min_reload_gap = Duration::from_secs(3600);
        let instance_c = SigningKeys::load(other_store.clone(), slow).await.unwrap();
        let newer_kid = instance_a.rotate(NOW + 20).await.unwrap();
        let newer_token = instance_a.sign(&claims("wxapp1", NOW + 20)).await.unwrap();
        assert!(matches!(
            instance_c.verify(&newer_token, &rules(), NOW + 21).await,
            Err(TokenError::UnknownKey)
        ));
        assert!(!published_kids(&jwks_value(instance_c.jwks(NOW + 21).await)).contains(&newer_kid));

        // B signs with the new key once its periodic reload is due.
        let mut eager = policy();
        eager.reload_interval = Duration::ZERO;
        let instance_d = SigningKeys::load(other_store, eager).await.unwrap();
        instance_a.rotate(NOW + 30).await.unwrap();
        let token = instance_d.sign(&claims("wxapp1", NOW + 30)).await.unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&token).unwrap().kid,
            instance_a.current_kid(),
            "{}",
            db.label
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_starting_together_agree_on_one_current_key() {
    for db in fresh_stores().await {
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let store = db.another_instance().await;
            tasks.push(tokio::spawn(async move {
                SigningKeys::load_or_create(store, policy(), NOW).await
            }));
        }
        let mut instances = Vec::new();
        for task in tasks {
            instances.push(task.await.unwrap().unwrap());
        }
        for instance in &instances {
            instance.reload().await.unwrap();
        }
        let current = instances[0].current_kid();
        assert!(current.is_some());
        for instance in &instances {
            assert_eq!(instance.current_kid(), current, "{}", db.label);
            let unretired = instance
                .summaries(NOW)
                .iter()
                .filter(|key| key.retired_at.is_none())
                .count();
            assert_eq!(unretired, 1, "{}", db.label);
        }
        // Whatever each instance signed with at first still verifies everywhere.
        for signer in &instances {
            let token = signer.sign(&claims("wxapp1", NOW)).await.unwrap();
            for verifier in &instances {
                assert!(
                    verifier.verify(&token, &rules(), NOW + 1).await.is_ok(),
                    "{}",
                    db.label
                );
            }
        }
    }
}

async fn keys_with_cache(store: &Store, access_token_cache_size: usize) -> SigningKeys {
    let policy = KeyPolicy {
        access_token_cache_size,
        ..policy()
    };
    SigningKeys::load_or_create(store.clone(), policy, NOW)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_token_that_verified_is_not_signature_checked_again() {
    for db in fresh_stores().await {
        let keys = keys_for(&db.store).await;
        let token = keys.sign(&claims("wxapp1", NOW)).await.unwrap();
        let before = keys.signature_checks();
        let first = keys.verify(&token, &rules(), NOW).await.unwrap();
        let second = keys.verify(&token, &rules(), NOW + 1).await.unwrap();
        assert_eq!(first, second, "{}", db.label);
        assert_eq!(first, claims("wxapp1", NOW));
        assert_eq!(keys.signature_checks(), before + 1, "{}", db.label);
        assert_eq!(keys.cached_tokens(), 1);

        // A refused token is never remembered: each try checks its signature again.
        let foreign = keys.sign(&claims("wxunknown", NOW)).await.unwrap();
        for _ in 0..2 {
            assert!(matches!(
                keys.verify(&foreign, &rules(), NOW).await,
                Err(TokenError::WrongAudience)
            ));
        }
        assert_eq!(keys.signature_checks(), before + 3, "{}", db.label);
        assert_eq!(keys.cached_tokens(), 1);
    }
}

#[tokio::test]
async fn a_remembered_token_still_meets_the_clock_and_the_rules_on_every_use() {
    let skew = SigningKeys::CLOCK_SKEW_SECONDS;
    for db in fresh_stores().await {
        let keys = keys_for(&db.store).await;
        let token = keys.sign(&claims("wxapp1", NOW)).await.unwrap();
        keys.verify(&token, &rules(), NOW).await.unwrap();
        let checks = keys.signature_checks();

        assert!(
            matches!(
                keys.verify(&token, &rules(), NOW + TTL).await,
                Err(TokenError::Expired)
            ),
            "{}",
            db.label
        );
        let mut lenient = rules();
        lenient.leeway_seconds = 5;
        assert!(keys.verify(&token, &lenient, NOW + TTL + 4).await.is_ok());
        assert!(matches!(
            keys.verify(&token, &lenient, NOW + TTL + 5).await,
            Err(TokenError::Expired)
        ));
        assert!(matches!(
            keys.verify(&token, &rules(), NOW - skew - 1).await,
            Err(TokenError::NotYetValid)
        ));
        let mut other_issuer = rules();
        other_issuer.issuer = "someone-else".into();
        assert!(matches!(
            keys.verify(&token, &other_issuer, NOW).await,
            Err(TokenError::WrongIssuer)
        ));
        let mut other_apps = rules();
        other_apps.audiences = BTreeSet::from(["wxapp2".to_string()]);
        assert!(matches!(
            keys.verify(&token, &other_apps, NOW).await,
            Err(TokenError::WrongAudience)
        ));
        assert!(keys.verify(&token, &rules(), NOW + TTL - 1).await.is_ok());
        assert_eq!(
            keys.signature_checks(),
            checks,
            "{}: every answer above came from the remembered signature check",
            db.label
        );

        // `nbf` is remembered with the claims and checked against each call's clock.
        let mut with_nbf = serde_json::to_value(claims("wxapp1", NOW)).unwrap();
        with_nbf["nbf"] = serde_json::json!(NOW + 60);
        let not_before_later = sign_as_the_server(&db.store, &with_nbf).await;
        assert!(keys
            .verify(&not_before_later, &rules(), NOW + 60)
            .await
            .is_ok());
        let checks = keys.signature_checks();
        assert!(matches!(
            keys.verify(&not_before_later, &rules(), NOW + 60 - skew - 1)
                .await,
            Err(TokenError::NotYetValid)
        ));
        assert_eq!(keys.signature_checks(), checks, "{}", db.label);
    }
}

#[tokio::test]
async fn a_remembered_token_of_a_key_no_longer_published_is_refused() {
    for db in fresh_stores().await {
        let keys = keys_for(&db.store).await;
        let token = keys.sign(&claims("wxapp1", NOW)).await.unwrap();
        // A leeway far beyond the token's life: only the key can refuse it below.
        let mut timeless = rules();
        timeless.leeway_seconds = 10 * (TTL + MARGIN) as u64;
        keys.verify(&token, &timeless, NOW).await.unwrap();

        let rotated_at = NOW + 100;
        keys.rotate(rotated_at).await.unwrap();
        let last_moment = rotated_at + TTL + MARGIN - 1;
        let checks = keys.signature_checks();
        assert!(
            keys.verify(&token, &timeless, last_moment).await.is_ok(),
            "{}: still published",
            db.label
        );
        assert_eq!(keys.signature_checks(), checks);
        assert!(
            matches!(
                keys.verify(&token, &timeless, last_moment + 1).await,
                Err(TokenError::UnknownKey)
            ),
            "{}: the retired key's publication window has ended",
            db.label
        );
        assert!(matches!(
            keys.verify(&token, &timeless, last_moment + 1).await,
            Err(TokenError::UnknownKey)
        ));
    }
}

#[tokio::test]
async fn other_bytes_with_a_remembered_payload_are_checked_afresh() {
    for db in fresh_stores().await {
        let keys = keys_for(&db.store).await;
        let genuine = keys.sign(&claims("wxapp1", NOW)).await.unwrap();
        keys.verify(&genuine, &rules(), NOW).await.unwrap();
        assert_eq!(keys.cached_tokens(), 1);

        // The same header and payload, signed by a key the server never had.
        let (message, _) = genuine.rsplit_once('.').unwrap();
        let stranger = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        let signature = ed25519_dalek::Signer::sign(&stranger, message.as_bytes());
        let impostor = format!("{message}.{}", b64(&signature.to_bytes()));
        // The genuine signature under a payload naming another user.
        let mut other_user = claims("wxapp1", NOW);
        other_user.sub = "user-2".into();
        let header = genuine.split('.').next().unwrap();
        let signature = genuine.rsplit('.').next().unwrap();
        let tampered = format!(
            "{header}.{}.{signature}",
            b64(&serde_json::to_vec(&other_user).unwrap())
        );
        for forged in [&impostor, &tampered] {
            for _ in 0..2 {
                assert!(
                    matches!(
                        keys.verify(forged, &rules(), NOW).await,
                        Err(TokenError::BadSignature)
                    ),
                    "{}",
                    db.label
                );
            }
        }
        assert_eq!(keys.cached_tokens(), 1, "{}", db.label);
        assert_eq!(
            keys.verify(&genuine, &rules(), NOW).await.unwrap(),
            claims("wxapp1", NOW)
        );
    }
}

#[tokio::test]
async fn cache_size_zero_checks_every_signature() {
    for db in fresh_stores().await {
        let keys = keys_with_cache(&db.store, 0).await;
        let token = keys.sign(&claims("wxapp1", NOW)).await.unwrap();
        let before = keys.signature_checks();
        for _ in 0..3 {
            assert!(keys.verify(&token, &rules(), NOW).await.is_ok());
        }
        assert_eq!(keys.signature_checks(), before + 3, "{}", db.label);
        assert_eq!(keys.cached_tokens(), 0);
    }
}

#[tokio::test]
async fn the_cache_never_holds_more_tokens_than_its_size() {
    const SIZE: usize = 4;
    for db in fresh_stores().await {
        let keys = keys_with_cache(&db.store, SIZE).await;
        let mut last = String::new();
        for user in 0..5 * SIZE {
            let mut user_claims = claims("wxapp1", NOW);
            user_claims.sub = format!("user-{user}");
            last = keys.sign(&user_claims).await.unwrap();
            keys.verify(&last, &rules(), NOW).await.unwrap();
            assert!(
                keys.cached_tokens() <= SIZE,
                "{}: {} tokens cached",
                db.label,
                keys.cached_tokens()
            );
        }
        assert!(keys.cached_tokens() > 0);
        let checks = keys.signature_checks();
        keys.verify(&last, &rules(), NOW).await.unwrap();
        assert_eq!(
            keys.signature_checks(),
            checks,
            "{}: the newest token is kept",
            db.label
        );
    }
}

fn policy_for(algorithm: SigningAlgorithm) -> KeyPolicy {
    KeyPolicy {
        algorithm,
        ..policy()
    }
}

#[tokio::test]
async fn es256_is_the_default_and_verifies_offline_from_its_ec_jwk() {
    assert_eq!(KeyPolicy::default().algorithm, SigningAlgorithm::ES256);
    for db in fresh_stores().await {
        let keys =
            SigningKeys::load_or_create(db.store.clone(), policy_for(SigningAlgorithm::ES256), NOW)
                .await
                .unwrap();
        let token = keys.sign(&claims("wxapp1", NOW)).await.unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::ES256, "{}", db.label);
        assert_eq!(header.kid, keys.current_kid());
        assert_eq!(
            keys.verify(&token, &rules(), NOW + 1).await.unwrap(),
            claims("wxapp1", NOW)
        );
        let jwks = jwks_value(keys.jwks(NOW).await);
        let jwk = &jwks["keys"][0];
        assert_eq!(jwk["kty"], "EC");
        assert_eq!(jwk["crv"], "P-256");
        assert_eq!(jwk["alg"], "ES256");
        assert_eq!(jwk["use"], "sig");
        let decoding = jsonwebtoken::DecodingKey::from_ec_components(
            jwk["x"].as_str().unwrap(),
            jwk["y"].as_str().unwrap(),
        )
        .unwrap();
        let mut validation = jsonwebtoken::Validation::new(Algorithm::ES256);
        validation.set_audience(&["wxapp1"]);
        validation.validate_exp = false;
        jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation).unwrap();
        assert_eq!(keys.algorithms(), ["ES256"]);
    }
}

#[tokio::test]
async fn moving_between_algorithms_logs_nobody_out_and_refuses_algorithm_confusion() {
    for db in fresh_stores().await {
        let eddsa =
            SigningKeys::load_or_create(db.store.clone(), policy_for(SigningAlgorithm::EdDSA), NOW)
                .await
                .unwrap();
        let old_token = eddsa.sign(&claims("wxapp1", NOW)).await.unwrap();
        let old_kid = eddsa.current_kid().unwrap();

        // An instance configured for ES256 starts on the EdDSA deployment: it moves the
        // current key to ES256 once, and both kinds verify.
        let es256 = SigningKeys::load_or_create(
            db.store.clone(),
            policy_for(SigningAlgorithm::ES256),
            NOW + 10,
        )
        .await
        .unwrap();
        let new_kid = es256.current_kid().unwrap();
        assert_ne!(new_kid, old_kid);
        let new_token = es256.sign(&claims("wxapp1", NOW + 10)).await.unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&new_token).unwrap().alg,
            Algorithm::ES256
        );
        for verifier in [&es256, &eddsa] {
            verifier.reload().await.unwrap();
            verifier
                .verify(&old_token, &rules(), NOW + 20)
                .await
                .unwrap();
            verifier
                .verify(&new_token, &rules(), NOW + 20)
                .await
                .unwrap();
        }
        let jwks = jwks_value(es256.jwks(NOW + 20).await);
        let kinds: BTreeSet<String> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|key| key["kty"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(kinds, BTreeSet::from(["EC".to_owned(), "OKP".to_owned()]));
        assert_eq!(es256.algorithms(), ["ES256", "EdDSA"]);

        // A second ES256 start changes nothing.
        SigningKeys::load_or_create(
            db.store.clone(),
            policy_for(SigningAlgorithm::ES256),
            NOW + 30,
        )
        .await
        .unwrap();
        es256.reload().await.unwrap();
        assert_eq!(es256.current_kid().unwrap(), new_kid);

        // Algorithm confusion: an ES256 header on the EdDSA key's kid (and the other way
        // round) is refused, whatever the signature.
        let (_, payload, signature) = {
            let mut parts = old_token.split('.');
            (
                parts.next().unwrap(),
                parts.next().unwrap(),
                parts.next().unwrap(),
            )
        };
        let b64 = |text: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text);
        for (alg, kid) in [("ES256", &old_kid), ("EdDSA", &new_kid)] {
            let header = b64(&format!(r#"{{"alg":"{alg}","typ":"JWT","kid":"{kid}"}}"#));
            let forged = format!("{header}.{payload}.{signature}");
            assert!(
                matches!(
                    es256.verify(&forged, &rules(), NOW + 20).await,
                    Err(TokenError::UnsupportedAlgorithm)
                ),
                "{}: {alg} header on the other kind's key",
                db.label
            );
        }

        // And `keys rotate --alg EdDSA` moves back.
        let back = es256
            .rotate_to(SigningAlgorithm::EdDSA, NOW + 40)
            .await
            .unwrap();
        let token = es256.sign(&claims("wxapp1", NOW + 40)).await.unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!((header.alg, header.kid), (Algorithm::EdDSA, Some(back)));
        es256.verify(&new_token, &rules(), NOW + 41).await.unwrap();
    }
}
