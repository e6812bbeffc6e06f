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
    // Nearly every input arrives intact: decode it in place, without building a copy.
    // base64-simd decodes several times faster than `base64` and accepts and refuses
    // exactly the same texts (see `engine_agreement` below).
    // ASCII whitespace is all at or below ' ' and base64 is all above it. OR-ing this one
    // comparison over the bytes vectorizes; a short-circuiting whitespace search does not.
    let needs_repair = text.bytes().fold(false, |found, b| found | (b <= b' '));
    let decoded = if needs_repair {
        let repaired: Vec<u8> = text
            .bytes()
            .filter_map(|b| match b {
                b' ' => Some(b'+'),
                b if b.is_ascii_whitespace() => None,
                other => Some(other),
            })
            .collect();
        base64_simd::STANDARD.decode_to_vec(repaired)
    } else {
        base64_simd::STANDARD.decode_to_vec(text.as_bytes())
    };
    decoded.map_err(|_| CryptoError::InvalidBase64 { field })
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

#[cfg(test)]
mod engine_agreement {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        /// The SIMD decoder accepts and rejects exactly what the `base64` crate's strict
        /// STANDARD engine does (padding required, non-zero trailing bits refused).
        #[test]
        fn simd_decoder_matches_the_strict_engine(text in "[A-Za-z0-9+/]{0,40}={0,3}[A-Za-z0-9+/=]{0,2}") {
            let simd = base64_simd::STANDARD.decode_to_vec(text.as_bytes()).ok();
            let strict = STANDARD.decode(text.as_bytes()).ok();
            prop_assert_eq!(simd, strict);
        }

        #[test]
        fn simd_decoder_matches_on_valid_encodings(bytes in proptest::collection::vec(any::<u8>(), 0..300), flip in 0usize..4) {
            let mut text = STANDARD.encode(&bytes).into_bytes();
            // Also non-canonical last characters: flip low bits of the last data character.
            if let Some(last) = text.iter().rposition(|&c| c != b'=') {
                if flip > 0 {
                    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
                    let index = alphabet.iter().position(|&c| c == text[last]).unwrap();
                    text[last] = alphabet[index ^ flip];
                }
            }
            let simd = base64_simd::STANDARD.decode_to_vec(&text).ok();
            let strict = STANDARD.decode(&text).ok();
            prop_assert_eq!(simd, strict);
        }
    }
}
