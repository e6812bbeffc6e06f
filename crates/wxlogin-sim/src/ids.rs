//! The values the simulator hands out, shaped like WeChat's: stable derived identifiers and
//! random codes, tokens, keys and request ids.
use rand::distributions::{Alphanumeric, DistString};
use rand::Rng;
use sha2::{Digest, Sha256};
use wxlogin_crypto::SessionKey;

const ID_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// 28 characters starting with 'o' (like `oGZUI0egBJY1zhBYw2KhdUfwVJJE`), derived from the
/// inputs so the same user gets the same id every run.
fn derived_id(domain: &str, scope: &str, user: &str) -> String {
    let digest = Sha256::new()
        .chain_update(domain.as_bytes())
        .chain_update([0])
        .chain_update(scope.as_bytes())
        .chain_update([0])
        .chain_update(user.as_bytes())
        .finalize();
    let mut id = String::with_capacity(28);
    id.push('o');
    id.extend(
        digest
            .iter()
            .take(27)
            .map(|byte| ID_ALPHABET[(byte % 64) as usize] as char),
    );
    id
}

/// Stable per (appid, user).
pub(crate) fn openid(appid: &str, user: &str) -> String {
    derived_id("openid", appid, user)
}

/// Stable per (open-platform account, user).
pub(crate) fn unionid(open_platform: &str, user: &str) -> String {
    derived_id("unionid", open_platform, user)
}

/// Default phone number of a user who did not pick one: "138" and 8 digits derived from the name.
pub(crate) fn default_phone(user: &str) -> String {
    let digest = Sha256::digest(user.as_bytes());
    let number = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes")) % 100_000_000;
    format!("138{number:08}")
}

/// Default nickname, gender and avatar of a simulated user.
pub(crate) fn avatar_url(user: &str) -> String {
    let digest = Sha256::digest(user.as_bytes());
    format!(
        "https://thirdwx.qlogo.cn/mmopen/vi_32/{}/132",
        hex::encode(&digest[..24])
    )
}

pub(crate) fn gender(user: &str) -> i64 {
    i64::from(Sha256::digest(user.as_bytes())[31] % 3)
}

/// A wx.login code: 32 alphanumerics, like `083tjT000WK8kM17Dw000FdPPi4tjT0F`.
pub(crate) fn login_code() -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), 32)
}

/// A getPhoneNumber code: 64 lowercase hex characters, like the doc example.
pub(crate) fn phone_code() -> String {
    hex::encode(rand::thread_rng().gen::<[u8; 32]>())
}

/// An access token: WeChat's are ~136 characters of `[A-Za-z0-9_-]` after a numeric prefix.
pub(crate) fn access_token() -> String {
    let mut rng = rand::thread_rng();
    let mut token = String::from("86_");
    token.extend((0..133).map(|_| ID_ALPHABET[rng.gen_range(0..64)] as char));
    token
}

pub(crate) fn session_key() -> SessionKey {
    SessionKey::from_bytes(rand::thread_rng().gen())
}

pub(crate) fn iv() -> [u8; 16] {
    rand::thread_rng().gen()
}

/// `rid` of an error answer: three 8-hex groups, the first being the time as WeChat's are.
pub(crate) fn rid(now: i64) -> String {
    let mut rng = rand::thread_rng();
    format!(
        "{:08x}-{:08x}-{:08x}",
        now as u32,
        rng.gen::<u32>(),
        rng.gen::<u32>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openids_are_stable_distinct_and_shaped_like_wechats() {
        let a = openid("wxA", "alice");
        assert_eq!(a, openid("wxA", "alice"));
        assert_ne!(a, openid("wxB", "alice"));
        assert_ne!(a, openid("wxA", "bob"));
        assert_eq!(a.len(), 28);
        assert!(a.starts_with('o'));
        assert_ne!(unionid("wxA", "alice"), a);
    }

    #[test]
    fn generated_values_have_wechat_shapes() {
        assert_eq!(login_code().len(), 32);
        let phone = phone_code();
        assert_eq!(phone.len(), 64);
        assert!(phone.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(access_token().len(), 136);
        let rid = rid(0x6129ee10);
        assert!(rid.starts_with("6129ee10-"));
        assert_eq!(rid.len(), 26);
        let phone = default_phone("alice");
        assert_eq!(phone.len(), 11);
        assert!(phone.starts_with("138"));
        assert_eq!(phone, default_phone("alice"));
    }
}
