//! Login and phone codes: minted by the device side, valid 5 minutes, single use.
use std::collections::HashMap;
use std::fmt;

use crate::answer::{code, WxError};
use crate::ids;

/// Both kinds of code live 5 minutes (documented).
pub(crate) const CODE_TTL_SECS: i64 = 300;
/// Expired and spent codes are swept after this many new codes, keeping lookups O(1).
const SWEEP_EVERY: usize = 4096;

/// The phone number a phone code stands for, fixed when the user tapped the button.
/// Its `Debug` hides the number.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct PhoneGrant {
    pub(crate) phone_number: String,
    pub(crate) pure_phone_number: String,
    pub(crate) country_code: String,
    pub(crate) granted_at: i64,
}

#[derive(Clone)]
enum CodeKind {
    Login,
    Phone(PhoneGrant),
}

#[derive(Clone)]
struct CodeRecord {
    appid: String,
    user: String,
    kind: CodeKind,
    expires_at: i64,
    used: bool,
}

/// Who a redeemed phone code belongs to, and the number.
#[derive(Debug, Clone)]
pub(crate) struct RedeemedPhone {
    pub(crate) user: String,
    pub(crate) grant: PhoneGrant,
}

/// No `Debug`: the keys are live codes.
#[derive(Default)]
pub(crate) struct CodeBook {
    codes: HashMap<String, CodeRecord>,
    minted_since_sweep: usize,
}

impl fmt::Debug for PhoneGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhoneGrant")
            .field("phone_number", &"<redacted>")
            .field("country_code", &self.country_code)
            .field("granted_at", &self.granted_at)
            .finish()
    }
}

impl CodeBook {
    pub(crate) fn mint_login(&mut self, appid: &str, user: &str, now: i64) -> String {
        self.mint(ids::login_code(), appid, user, CodeKind::Login, now)
    }

    pub(crate) fn mint_phone(
        &mut self,
        appid: &str,
        user: &str,
        grant: PhoneGrant,
        now: i64,
    ) -> String {
        self.mint(ids::phone_code(), appid, user, CodeKind::Phone(grant), now)
    }

    fn mint(&mut self, code: String, appid: &str, user: &str, kind: CodeKind, now: i64) -> String {
        self.minted_since_sweep += 1;
        if self.minted_since_sweep >= SWEEP_EVERY {
            self.codes.retain(|_, record| record.expires_at > now);
            self.minted_since_sweep = 0;
        }
        let record = CodeRecord {
            appid: appid.to_owned(),
            user: user.to_owned(),
            kind,
            expires_at: now + CODE_TTL_SECS,
            used: false,
        };
        self.codes.insert(code.clone(), record);
        code
    }

    /// The user a login code of `appid` names, without spending it.
    ///
    /// Unknown, expired, other-app and phone codes give 40029; a spent code gives 40163 for
    /// as long as it would have lived, then 40029 (WeChat's memory of used codes is
    /// undocumented; this is the simulator's choice).
    pub(crate) fn login_user(
        &self,
        js_code: &str,
        appid: &str,
        now: i64,
    ) -> Result<String, WxError> {
        let record = self
            .codes
            .get(js_code)
            .filter(|record| record.expires_at > now)
            .filter(|record| matches!(record.kind, CodeKind::Login) && record.appid == appid)
            .ok_or(WxError(code::INVALID_CODE))?;
        if record.used {
            return Err(WxError(code::CODE_BEEN_USED));
        }
        Ok(record.user.clone())
    }

    pub(crate) fn spend(&mut self, code: &str) {
        if let Some(record) = self.codes.get_mut(code) {
            record.used = true;
        }
    }

    /// Look up a phone code presented with an access token of `token_appid`.
    ///
    /// Unknown, expired, spent (reuse is 40029 here, per a community report) and login codes
    /// give 40029; a code of another app gives 40013 (observed). The code is not spent.
    pub(crate) fn phone_grant(
        &self,
        phone_code: &str,
        token_appid: &str,
        now: i64,
    ) -> Result<RedeemedPhone, WxError> {
        let record = self
            .codes
            .get(phone_code)
            .filter(|record| record.expires_at > now && !record.used)
            .ok_or(WxError(code::INVALID_CODE))?;
        let CodeKind::Phone(grant) = &record.kind else {
            return Err(WxError(code::INVALID_CODE));
        };
        if record.appid != token_appid {
            return Err(WxError(code::INVALID_APPID));
        }
        Ok(RedeemedPhone {
            user: record.user.clone(),
            grant: grant.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> PhoneGrant {
        PhoneGrant {
            phone_number: "13800000000".into(),
            pure_phone_number: "13800000000".into(),
            country_code: "86".into(),
            granted_at: 0,
        }
    }

    #[test]
    fn login_codes_are_single_use_and_expire() {
        let mut book = CodeBook::default();
        let code = book.mint_login("wxA", "alice", 1000);
        assert_eq!(book.login_user(&code, "wxA", 1000).unwrap(), "alice");
        assert_eq!(book.login_user(&code, "wxB", 1000), Err(WxError(40029)));
        book.spend(&code);
        assert_eq!(book.login_user(&code, "wxA", 1299), Err(WxError(40163)));
        assert_eq!(book.login_user(&code, "wxA", 1300), Err(WxError(40029)));
        assert_eq!(book.login_user("nope", "wxA", 1000), Err(WxError(40029)));
    }

    #[test]
    fn phone_and_login_codes_do_not_mix() {
        let mut book = CodeBook::default();
        let phone = book.mint_phone("wxA", "alice", grant(), 0);
        let login = book.mint_login("wxA", "alice", 0);
        assert_eq!(book.login_user(&phone, "wxA", 0), Err(WxError(40029)));
        assert_eq!(
            book.phone_grant(&login, "wxA", 0).unwrap_err(),
            WxError(40029)
        );
        assert_eq!(
            book.phone_grant(&phone, "wxB", 0).unwrap_err(),
            WxError(40013)
        );
        assert_eq!(book.phone_grant(&phone, "wxA", 0).unwrap().user, "alice");
        book.spend(&phone);
        assert_eq!(
            book.phone_grant(&phone, "wxA", 0).unwrap_err(),
            WxError(40029)
        );
    }
}
