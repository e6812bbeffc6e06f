//! `encryptedData` as WeChat produces it: AES-128-CBC with PKCS#7 padding over UTF-8 JSON.
use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use serde::de::DeserializeOwned;
use serde::Serialize;
use zeroize::Zeroizing;

use crate::base64_repair::{decode_lenient, encode};
use crate::error::layout_reason;
use crate::payload::{PhoneNumberPayload, UserInfoPayload};
use crate::{Base64Field, CryptoError, SessionKey};

type Decryptor = cbc::Decryptor<aes::Aes128>;
type Encryptor = cbc::Encryptor<aes::Aes128>;
const BLOCK: usize = 16;

/// Decrypt `encrypted_data` (base64) with `iv` (base64) into the plaintext bytes, zeroed
/// when dropped. Both texts may have `+` turned into spaces or be wrapped over lines.
///
/// Errors, in the order checked: [`CryptoError::InvalidBase64`] (naming the field),
/// [`CryptoError::InvalidIvLength`], [`CryptoError::InvalidCiphertextLength`],
/// [`CryptoError::InvalidPadding`].
///
/// Padding is checked strictly (every pad byte), so a stale key is reported as
/// [`CryptoError::InvalidPadding`] rather than surfacing later as a baffling JSON error.
pub fn decrypt(
    key: &SessionKey,
    iv: &str,
    encrypted_data: &str,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let iv = decode_lenient(iv, Base64Field::Iv)?;
    let iv: [u8; 16] = iv
        .as_slice()
        .try_into()
        .map_err(|_| CryptoError::InvalidIvLength { len: iv.len() })?;
    let mut buffer = Zeroizing::new(decode_lenient(encrypted_data, Base64Field::EncryptedData)?);
    if buffer.is_empty() || buffer.len() % BLOCK != 0 {
        return Err(CryptoError::InvalidCiphertextLength { len: buffer.len() });
    }
    let len = buffer.len();
    Decryptor::new(key.expose_bytes().into(), &iv.into())
        .decrypt_padded_mut::<NoPadding>(&mut buffer)
        .map_err(|_| CryptoError::InvalidCiphertextLength { len })?;
    let plain_len = strict_pkcs7_unpadded_len(&buffer)?;
    buffer.truncate(plain_len);
    Ok(buffer)
}

/// Decrypt and parse the plaintext as any JSON value: for payloads without a typed form
/// (WeRun, share info, group entry...).
///
/// Errors: those of [`decrypt`], then [`CryptoError::NotJson`] when the plaintext is not
/// UTF-8 JSON (with a stale key whose garbage happened to unpad cleanly, ~0.4% of cases).
pub fn decrypt_value(
    key: &SessionKey,
    iv: &str,
    encrypted_data: &str,
) -> Result<serde_json::Value, CryptoError> {
    let plaintext = decrypt(key, iv, encrypted_data)?;
    serde_json::from_slice(&plaintext).map_err(|_| CryptoError::NotJson)
}

/// Decrypt and parse the plaintext as JSON into `T`.
///
/// Errors: those of [`decrypt_value`], then [`CryptoError::UnexpectedLayout`] when the JSON
/// does not have `T`'s shape. The watermark is not checked here: pass the payload's
/// watermark to [`crate::WatermarkPolicy::check`].
pub fn decrypt_json<T: DeserializeOwned>(
    key: &SessionKey,
    iv: &str,
    encrypted_data: &str,
) -> Result<T, CryptoError> {
    let plaintext = decrypt(key, iv, encrypted_data)?;
    // Parsing straight into `T` is several times faster than going through a
    // `serde_json::Value`; on failure the two-step parse tells "not JSON" from "another
    // shape" and words the reason exactly as it always did (and accepts what it accepts,
    // such as a duplicated key).
    serde_json::from_slice(&plaintext).or_else(|_| {
        let value: serde_json::Value =
            serde_json::from_slice(&plaintext).map_err(|_| CryptoError::NotJson)?;
        serde_json::from_value(value).map_err(|e| CryptoError::UnexpectedLayout {
            reason: layout_reason(&e.to_string()),
        })
    })
}

/// The legacy phone-number payload (`getPhoneNumber` encryptedData). Check its watermark
/// with [`crate::WatermarkPolicy::check`].
pub fn decrypt_phone_number(
    key: &SessionKey,
    iv: &str,
    encrypted_data: &str,
) -> Result<PhoneNumberPayload, CryptoError> {
    decrypt_json(key, iv, encrypted_data)
}

/// The user-info payload (`getUserInfo` / `getUserProfile` encryptedData). Check its
/// watermark with [`crate::WatermarkPolicy::check`].
pub fn decrypt_user_info(
    key: &SessionKey,
    iv: &str,
    encrypted_data: &str,
) -> Result<UserInfoPayload, CryptoError> {
    decrypt_json(key, iv, encrypted_data)
}

/// The inverse of [`decrypt`]: PKCS#7-pad and encrypt `plaintext`, returning
/// `encryptedData` as standard base64. For the simulator and tests.
pub fn encrypt(key: &SessionKey, iv: &[u8; 16], plaintext: &[u8]) -> String {
    let pad = BLOCK - plaintext.len() % BLOCK;
    let mut buffer = Zeroizing::new(Vec::with_capacity(plaintext.len() + pad));
    buffer.extend_from_slice(plaintext);
    buffer.extend(std::iter::repeat_n(pad as u8, pad));
    let len = buffer.len();
    Encryptor::new(key.expose_bytes().into(), iv.into())
        .encrypt_padded_mut::<NoPadding>(&mut buffer, len)
        .expect("buffer is a whole number of blocks");
    encode(&buffer)
}

/// Serialize `value` as compact JSON and encrypt it; returns `(encryptedData, iv)` in
/// base64, as a mini program would receive them. To encrypt "with a watermark", give the
/// payload one (`PhoneNumberPayload::watermark`, or a `"watermark"` key in a JSON value).
///
/// # Panics
/// Only if `T`'s `Serialize` implementation itself fails (for example a map with
/// non-string keys): a programming error, never a matter of input data.
pub fn encrypt_json<T: Serialize>(key: &SessionKey, iv: &[u8; 16], value: &T) -> (String, String) {
    let json = Zeroizing::new(serde_json::to_vec(value).expect("serializable payload"));
    (encrypt(key, iv, &json), encode(iv))
}

fn strict_pkcs7_unpadded_len(block_aligned: &[u8]) -> Result<usize, CryptoError> {
    let pad = *block_aligned.last().ok_or(CryptoError::InvalidPadding)? as usize;
    if pad == 0 || pad > BLOCK || pad > block_aligned.len() {
        return Err(CryptoError::InvalidPadding);
    }
    let (plain, padding) = block_aligned.split_at(block_aligned.len() - pad);
    if padding.iter().all(|&b| b as usize == pad) {
        Ok(plain.len())
    } else {
        Err(CryptoError::InvalidPadding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The direct parse of `decrypt_json` falls back to the two-step parse, so it accepts
    /// and words errors exactly as that did.
    #[test]
    fn typed_parse_keeps_the_two_step_behaviour() {
        let key = SessionKey::from_bytes([3; 16]);
        let iv = [4u8; 16];
        let duplicated = br#"{"phoneNumber":"1","phoneNumber":"13800000000","purePhoneNumber":"13800000000","countryCode":86}"#;
        let (data, iv_text) = (encrypt(&key, &iv, duplicated), encode(&iv));
        let phone = decrypt_phone_number(&key, &iv_text, &data).unwrap();
        assert_eq!(phone.phone_number, "13800000000");

        let wrong_type = br#"{"phoneNumber":13800000000,"purePhoneNumber":"x","countryCode":"86"}"#;
        let data = encrypt(&key, &iv, wrong_type);
        assert_eq!(
            decrypt_phone_number(&key, &iv_text, &data),
            Err(CryptoError::UnexpectedLayout {
                reason: "invalid type, expected a string".into()
            })
        );
        let missing = br#"{"purePhoneNumber":"x","countryCode":"86"}"#;
        let data = encrypt(&key, &iv, missing);
        assert_eq!(
            decrypt_phone_number(&key, &iv_text, &data),
            Err(CryptoError::UnexpectedLayout {
                reason: "missing field `phoneNumber`".into()
            })
        );
        let data = encrypt(&key, &iv, br#"{"phoneNumber": 1, oops"#);
        assert_eq!(
            decrypt_phone_number(&key, &iv_text, &data),
            Err(CryptoError::NotJson)
        );
    }

    #[test]
    fn unpad_checks_every_byte() {
        let mut block = [7u8; 16];
        assert_eq!(strict_pkcs7_unpadded_len(&block), Ok(9));
        block[10] = 6;
        assert_eq!(
            strict_pkcs7_unpadded_len(&block),
            Err(CryptoError::InvalidPadding)
        );
        block = [0u8; 16];
        assert_eq!(
            strict_pkcs7_unpadded_len(&block),
            Err(CryptoError::InvalidPadding)
        );
        block[15] = 17;
        assert_eq!(
            strict_pkcs7_unpadded_len(&block),
            Err(CryptoError::InvalidPadding)
        );
        assert_eq!(strict_pkcs7_unpadded_len(&[16u8; 16]), Ok(0));
    }
}
