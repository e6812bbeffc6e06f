use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::{Base64Field, CryptoError};

/// Decode standard base64 the way it arrives from real clients: a `+` turned into a space
/// by form or query decoding is put back (base64 never contains spaces), and line
/// wrapping or other ASCII whitespace is dropped.
///
/// Leading and trailing spaces are repaired like any other: a ciphertext may legitimately
/// start or end with `+`, so trimming them would break valid input.
pub(crate) fn decode_lenient(text: &str, field: Base64Field) -> Result<Vec<u8>, CryptoError> {
    let repaired: String = text
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('+'),
            c if c.is_ascii_whitespace() => None,
            other => Some(other),
        })
        .collect();
    STANDARD
        .decode(repaired.as_bytes())
        .map_err(|_| CryptoError::InvalidBase64 { field })
}

pub(crate) fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spaces_become_plus_and_newlines_vanish() {
        let original = encode(&[0xfb, 0xef, 0xbe, 0xfb, 0xef, 0xbe, 0x01]);
        assert!(original.contains('+'));
        let mangled = original.replace('+', " ");
        let wrapped = format!("\t{}\n{}\r\n", &mangled[..4], &mangled[4..]);
        assert_eq!(
            decode_lenient(&wrapped, Base64Field::EncryptedData).unwrap(),
            vec![0xfb, 0xef, 0xbe, 0xfb, 0xef, 0xbe, 0x01]
        );
    }

    #[test]
    fn garbage_names_the_field() {
        assert_eq!(
            decode_lenient("not*base64", Base64Field::Iv),
            Err(CryptoError::InvalidBase64 {
                field: Base64Field::Iv
            })
        );
    }
}
