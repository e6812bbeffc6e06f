//! The JWS side of access tokens: the two kinds of signing key (ES256 on P-256, the default
//! because every backend stack verifies it; EdDSA on Ed25519, which some do not), their JWK
//! form and RFC 7638 thumbprint `kid`, and compact signing. The key ring
//! (`signing_keys.rs`) decides which key signs and which verify; this file knows what a key
//! is.
use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Header};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{AccessClaims, TokenError};

/// The algorithm a signing key signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, Deserialize, Serialize)]
pub enum SigningAlgorithm {
    /// ECDSA on P-256 with SHA-256.
    #[default]
    ES256,
    /// Ed25519.
    EdDSA,
}

impl SigningAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlgorithm::ES256 => "ES256",
            SigningAlgorithm::EdDSA => "EdDSA",
        }
    }

    pub(super) fn jwt(self) -> Algorithm {
        match self {
            SigningAlgorithm::ES256 => Algorithm::ES256,
            SigningAlgorithm::EdDSA => Algorithm::EdDSA,
        }
    }

    /// The algorithm a JWS header names, when it is one of ours.
    pub(super) fn of_header(alg: Algorithm) -> Option<Self> {
        match alg {
            Algorithm::ES256 => Some(SigningAlgorithm::ES256),
            Algorithm::EdDSA => Some(SigningAlgorithm::EdDSA),
            _ => None,
        }
    }
}

impl fmt::Display for SigningAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SigningAlgorithm {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            alg if alg.eq_ignore_ascii_case("ES256") => Ok(SigningAlgorithm::ES256),
            alg if alg.eq_ignore_ascii_case("EdDSA") => Ok(SigningAlgorithm::EdDSA),
            other => Err(format!(
                "the access-token algorithm must be ES256 or EdDSA, got {other:?}"
            )),
        }
    }
}

/// A signing key with its private half, parsed once (jsonwebtoken 9 re-parses a PKCS#8 key
/// on every `encode`, which cost as much as a verify).
pub(super) enum KeyPair {
    /// The key, and ring's parsed form of it that signs (p256's signing was ten times
    /// slower, BENCHMARKS.md).
    P256(p256::ecdsa::SigningKey, ring::signature::EcdsaKeyPair),
    Ed25519(ed25519_dalek::SigningKey),
}

/// ring's signing form of a P-256 key (PKCS#8, which p256 writes with the public key).
fn ring_p256(key: &p256::ecdsa::SigningKey) -> Result<ring::signature::EcdsaKeyPair, TokenError> {
    use p256::pkcs8::EncodePrivateKey;
    let der = key
        .to_pkcs8_der()
        .map_err(|_| TokenError::Signing("cannot encode a P-256 key".into()))?;
    ring::signature::EcdsaKeyPair::from_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        der.as_bytes(),
        &ring::rand::SystemRandom::new(),
    )
    .map_err(|_| TokenError::Signing("ring refused a P-256 key".into()))
}

impl KeyPair {
    pub(super) fn generate(algorithm: SigningAlgorithm) -> Result<Self, TokenError> {
        let mut rng = rand::rngs::OsRng;
        Ok(match algorithm {
            SigningAlgorithm::ES256 => {
                let key = p256::ecdsa::SigningKey::random(&mut rng);
                let signer = ring_p256(&key)?;
                KeyPair::P256(key, signer)
            }
            SigningAlgorithm::EdDSA => {
                KeyPair::Ed25519(ed25519_dalek::SigningKey::generate(&mut rng))
            }
        })
    }

    /// The key of a stored 32-byte secret (P-256 scalar or Ed25519 seed).
    pub(super) fn from_secret(
        algorithm: SigningAlgorithm,
        secret: &[u8; 32],
    ) -> Result<Self, TokenError> {
        Ok(match algorithm {
            SigningAlgorithm::ES256 => {
                let key = p256::ecdsa::SigningKey::from_slice(secret)
                    .map_err(|_| TokenError::Signing("a stored P-256 key is invalid".into()))?;
                let signer = ring_p256(&key)?;
                KeyPair::P256(key, signer)
            }
            SigningAlgorithm::EdDSA => {
                KeyPair::Ed25519(ed25519_dalek::SigningKey::from_bytes(secret))
            }
        })
    }

    pub(super) fn algorithm(&self) -> SigningAlgorithm {
        match self {
            KeyPair::P256(..) => SigningAlgorithm::ES256,
            KeyPair::Ed25519(_) => SigningAlgorithm::EdDSA,
        }
    }

    pub(super) fn secret(&self) -> Zeroizing<[u8; 32]> {
        match self {
            KeyPair::P256(key, _) => Zeroizing::new(key.to_bytes().into()),
            KeyPair::Ed25519(key) => Zeroizing::new(key.to_bytes()),
        }
    }

    /// The public key as stored: SEC1 uncompressed (65 bytes) for P-256, the 32 raw bytes
    /// for Ed25519.
    pub(super) fn public_key(&self) -> Vec<u8> {
        match self {
            KeyPair::P256(key, _) => key
                .verifying_key()
                .to_encoded_point(false)
                .as_bytes()
                .to_vec(),
            KeyPair::Ed25519(key) => key.verifying_key().to_bytes().to_vec(),
        }
    }

    pub(super) fn jwk(&self, kid: &str) -> Jwk {
        let public = self.public_key();
        match self {
            KeyPair::P256(..) => Jwk {
                kty: "EC",
                crv: "P-256",
                x: URL_SAFE_NO_PAD.encode(&public[1..33]),
                y: Some(URL_SAFE_NO_PAD.encode(&public[33..65])),
                kid: kid.to_owned(),
                alg: "ES256",
                key_use: "sig",
            },
            KeyPair::Ed25519(_) => Jwk {
                kty: "OKP",
                crv: "Ed25519",
                x: URL_SAFE_NO_PAD.encode(&public),
                y: None,
                kid: kid.to_owned(),
                alg: "EdDSA",
                key_use: "sig",
            },
        }
    }

    /// The RFC 7638 JWK thumbprint: a stable, unique `kid`.
    pub(super) fn thumbprint(&self) -> String {
        let jwk = self.jwk("");
        // The required members in lexicographic order, no whitespace (RFC 7638 §3.2).
        let canonical = match &jwk.y {
            Some(y) => format!(
                r#"{{"crv":"{}","kty":"{}","x":"{}","y":"{y}"}}"#,
                jwk.crv, jwk.kty, jwk.x
            ),
            None => format!(
                r#"{{"crv":"{}","kty":"{}","x":"{}"}}"#,
                jwk.crv, jwk.kty, jwk.x
            ),
        };
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
    }

    pub(super) fn decoding_key(&self) -> Result<DecodingKey, TokenError> {
        let public = self.public_key();
        match self {
            KeyPair::P256(..) => DecodingKey::from_ec_components(
                &URL_SAFE_NO_PAD.encode(&public[1..33]),
                &URL_SAFE_NO_PAD.encode(&public[33..65]),
            )
            .map_err(|error| TokenError::Signing(error.to_string())),
            KeyPair::Ed25519(_) => Ok(DecodingKey::from_ed_der(&public)),
        }
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, TokenError> {
        Ok(match self {
            KeyPair::P256(_, signer) => {
                // FIXED: the r || s JWS wants, not DER (RFC 7518 §3.4).
                signer
                    .sign(&ring::rand::SystemRandom::new(), message)
                    .map_err(|_| TokenError::Signing("P-256 signing failed".into()))?
                    .as_ref()
                    .to_vec()
            }
            KeyPair::Ed25519(key) => {
                use ed25519_dalek::Signer as _;
                key.sign(message).to_bytes().to_vec()
            }
        })
    }
}

/// One public key of the JWKS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Jwk {
    pub kty: &'static str,
    pub crv: &'static str,
    pub x: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    pub kid: String,
    pub alg: &'static str,
    #[serde(rename = "use")]
    pub key_use: &'static str,
}

/// `GET /.well-known/jwks.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

/// A compact JWS of `claims` signed with `key`, the `kid` in the header.
pub(super) fn sign_compact(
    kid: &str,
    claims: &AccessClaims,
    key: &KeyPair,
) -> Result<String, TokenError> {
    let mut header = Header::new(key.algorithm().jwt());
    header.kid = Some(kid.to_owned());
    let encode_part = |value: Result<Vec<u8>, serde_json::Error>| {
        value
            .map(|json| URL_SAFE_NO_PAD.encode(json))
            .map_err(|error| TokenError::Signing(error.to_string()))
    };
    let mut message = encode_part(serde_json::to_vec(&header))?;
    message.push('.');
    message.push_str(&encode_part(serde_json::to_vec(claims))?);
    let signature = key.sign(message.as_bytes())?;
    message.push('.');
    message.push_str(&URL_SAFE_NO_PAD.encode(signature));
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> AccessClaims {
        AccessClaims {
            iss: "wxlogin".to_string(),
            sub: "user-1".into(),
            aud: "wxapp1".into(),
            sid: "session-1".into(),
            iat: 1_700_000_000,
            exp: 1_700_001_800,
            roles: vec!["vip".to_string()],
        }
    }

    #[test]
    fn ed25519_signing_matches_jsonwebtoken_byte_for_byte() {
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        let key = KeyPair::from_secret(SigningAlgorithm::EdDSA, &[7u8; 32]).unwrap();
        let KeyPair::Ed25519(inner) = &key else {
            unreachable!()
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some("kid-1".to_string());
        let pkcs8 = inner.to_pkcs8_der().unwrap();
        let expected = jsonwebtoken::encode(
            &header,
            &claims(),
            &jsonwebtoken::EncodingKey::from_ed_der(pkcs8.as_bytes()),
        )
        .unwrap();
        assert_eq!(sign_compact("kid-1", &claims(), &key).unwrap(), expected);
    }

    #[test]
    fn es256_tokens_verify_with_jsonwebtoken_and_the_jwk() {
        let key = KeyPair::generate(SigningAlgorithm::ES256).unwrap();
        let token = sign_compact("kid-es", &claims(), &key).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::ES256);
        let jwk = key.jwk("kid-es");
        let decoding = DecodingKey::from_ec_components(&jwk.x, jwk.y.as_deref().unwrap()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(Algorithm::ES256);
        validation.set_audience(&["wxapp1"]);
        validation.validate_exp = false;
        let data = jsonwebtoken::decode::<AccessClaims>(&token, &decoding, &validation).unwrap();
        assert_eq!(data.claims, claims());
        // The signature is the 64-byte r || s of RFC 7518, not DER.
        let signature = URL_SAFE_NO_PAD
            .decode(token.rsplit('.').next().unwrap())
            .unwrap();
        assert_eq!(signature.len(), 64);
        // The stored secret gives back the same key.
        let again = KeyPair::from_secret(SigningAlgorithm::ES256, &key.secret()).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        assert_eq!(key.public_key().len(), 65);
    }

    #[test]
    fn kids_are_rfc7638_thumbprints() {
        // RFC 8037 appendix A.3: the thumbprint of its Ed25519 example key (its seed is
        // RFC 8037 A.1's d).
        let seed = URL_SAFE_NO_PAD
            .decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
            .unwrap();
        let key = KeyPair::from_secret(SigningAlgorithm::EdDSA, &seed.try_into().unwrap()).unwrap();
        assert_eq!(key.jwk("").x, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
        assert_eq!(
            key.thumbprint(),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
        let es = KeyPair::generate(SigningAlgorithm::ES256).unwrap();
        let jwk = es.jwk("");
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk.x,
            jwk.y.unwrap()
        );
        assert_eq!(
            es.thumbprint(),
            URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
        );
    }

    #[test]
    fn algorithms_parse_from_their_names() {
        assert_eq!(
            "ES256".parse::<SigningAlgorithm>().unwrap(),
            SigningAlgorithm::ES256
        );
        assert_eq!(
            "eddsa".parse::<SigningAlgorithm>().unwrap(),
            SigningAlgorithm::EdDSA
        );
        assert!("RS256".parse::<SigningAlgorithm>().is_err());
        assert_eq!(SigningAlgorithm::default(), SigningAlgorithm::ES256);
    }
}
