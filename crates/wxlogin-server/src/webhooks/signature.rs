//! The `Wxlogin-Signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
//! "<t>.<body>")>`. The timestamp is inside the MAC so a receiver can refuse replays of
//! old deliveries (examples/webhooks/ shows the check in Node, Python and Java).
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header value for `body` sent at `timestamp`.
pub fn signature_header(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!(
        "t={timestamp},v1={}",
        hex::encode(signature(secret, timestamp, body))
    )
}

/// HMAC-SHA256(secret, "<timestamp>.<body>").
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// examples/webhooks/vector.json: the vector the docs publish, which the Node, Python
    /// and Java snippets also check (tests/api/webhook_snippets.rs).
    #[test]
    fn the_published_vector_signs_as_documented() {
        let vector: serde_json::Value =
            serde_json::from_str(include_str!("../../../../examples/webhooks/vector.json"))
                .unwrap();
        let header = signature_header(
            vector["secret"].as_str().unwrap().as_bytes(),
            vector["timestamp"].as_i64().unwrap(),
            vector["body"].as_str().unwrap().as_bytes(),
        );
        assert_eq!(header, vector["signature"].as_str().unwrap());
        assert_eq!(
            header,
            "t=1764547200,v1=f6b4469eaf5edf931b2d4b58c8c4e5c43032f80203d90d0f41927792d6c3f708"
        );
    }
}
