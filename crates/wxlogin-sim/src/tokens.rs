//! Access tokens: the classic pool (`/cgi-bin/token`) and the stable pool
//! (`/cgi-bin/stable_token`), isolated from each other as WeChat documents.
use std::collections::HashMap;
use std::fmt;

use crate::answer::{code, WxError};
use crate::clock::day_of;
use crate::ids;

/// Every token lives 7200 s.
pub(crate) const TOKEN_TTL_SECS: i64 = 7200;
/// A superseded token keeps working this long at most; stable tokens rotate when less than
/// this remains, so every stable token handed out has at least this much left.
pub(crate) const TOKEN_OVERLAP_SECS: i64 = 300;
/// Expired tokens are remembered this long (to answer 42001 rather than 40001), then forgotten.
const EXPIRED_MEMORY_SECS: i64 = 86_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Pool {
    Classic,
    Stable,
}

#[derive(Clone)]
struct TokenRecord {
    appid: String,
    expires_at: i64,
    /// Set when a newer token superseded this one, or a force refresh revoked it.
    cut_off_at: Option<i64>,
    /// Refused (40001) by the APIs that take a token, though normal-mode stable_token still
    /// hands it back: the stuck token developers report, cured only by force_refresh.
    refused: bool,
}

/// A token as handed out. Its `Debug` hides the token.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Issued {
    pub(crate) access_token: String,
    pub(crate) expires_in: i64,
}

/// Force refreshes of one app in one Beijing day.
#[derive(Debug, Default, Clone)]
struct ForceRefreshLog {
    day: i64,
    count: u32,
    last_at: Option<i64>,
}

/// What force_refresh may do, from [`crate::config::RateLimits`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct ForceRefreshRules {
    pub(crate) per_day: u32,
    pub(crate) min_interval_secs: i64,
}

/// No `Debug`: it holds live tokens.
#[derive(Default)]
pub(crate) struct TokenBook {
    tokens: HashMap<String, TokenRecord>,
    current: HashMap<(Pool, String), String>,
    force_refreshes: HashMap<String, ForceRefreshLog>,
    minted_since_sweep: usize,
}

impl fmt::Debug for Issued {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issued")
            .field("access_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

impl TokenBook {
    /// The app a token belongs to, if it is usable at `now`: unknown or superseded → 40001,
    /// past its 7200 s → 42001.
    pub(crate) fn validate(&self, token: &str, now: i64) -> Result<String, WxError> {
        let record = self
            .tokens
            .get(token)
            .ok_or(WxError(code::INVALID_CREDENTIAL))?;
        if now >= record.expires_at {
            return Err(WxError(code::ACCESS_TOKEN_EXPIRED));
        }
        if record.refused
            || record
                .cut_off_at
                .is_some_and(|cut_off_at| now >= cut_off_at)
        {
            return Err(WxError(code::INVALID_CREDENTIAL));
        }
        Ok(record.appid.clone())
    }

    /// Make the current stable token of `appid` refused by every API while stable_token
    /// (normal mode) keeps handing it back, until a force refresh or its rotation replaces
    /// it. False if the app has no usable stable token at `now`.
    pub(crate) fn refuse_current_stable(&mut self, appid: &str, now: i64) -> bool {
        let Some(current) = self.current.get(&(Pool::Stable, appid.to_owned())) else {
            return false;
        };
        match self.tokens.get_mut(current) {
            Some(record)
                if now < record.expires_at
                    && record.cut_off_at.is_none_or(|cut_off_at| now < cut_off_at) =>
            {
                record.refused = true;
                true
            }
            _ => false,
        }
    }

    /// The app a token was issued to, usable or not.
    pub(crate) fn owner(&self, token: &str) -> Option<&str> {
        self.tokens.get(token).map(|record| record.appid.as_str())
    }

    /// `/cgi-bin/token`: always a new token; the previous one lives 5 more minutes at most.
    pub(crate) fn issue_classic(&mut self, appid: &str, now: i64) -> Issued {
        if let Some(previous) = self.current.get(&(Pool::Classic, appid.to_owned())) {
            self.cut_off(&previous.clone(), now + TOKEN_OVERLAP_SECS);
        }
        self.mint(Pool::Classic, appid, now)
    }

    /// `/cgi-bin/stable_token` without force_refresh: the same token while more than 5
    /// minutes remain; in its last 5 minutes a new one (the old one runs out on its own).
    pub(crate) fn issue_stable(&mut self, appid: &str, now: i64) -> Issued {
        if let Some(current) = self.current.get(&(Pool::Stable, appid.to_owned())) {
            if let Some(record) = self.tokens.get(current) {
                let usable = record.cut_off_at.is_none_or(|cut_off_at| now < cut_off_at);
                let remaining = record.expires_at - now;
                if usable && remaining >= TOKEN_OVERLAP_SECS {
                    return Issued {
                        access_token: current.clone(),
                        expires_in: remaining,
                    };
                }
            }
        }
        self.mint(Pool::Stable, appid, now)
    }

    /// `/cgi-bin/stable_token` with force_refresh=true. Within `min_interval_secs` of the
    /// previous refresh nothing is refreshed (the normal answer comes back, as the doc says
    /// "no refresh happens"; such calls do not count); one refresh more than `per_day` → 45009.
    pub(crate) fn force_refresh_stable(
        &mut self,
        appid: &str,
        now: i64,
        rules: ForceRefreshRules,
    ) -> Result<Issued, WxError> {
        let log = self.force_refreshes.entry(appid.to_owned()).or_default();
        if log.day != day_of(now) {
            *log = ForceRefreshLog {
                day: day_of(now),
                count: 0,
                last_at: log.last_at,
            };
        }
        if log
            .last_at
            .is_some_and(|last_at| now - last_at < rules.min_interval_secs)
        {
            return Ok(self.issue_stable(appid, now));
        }
        if log.count >= rules.per_day {
            return Err(WxError(code::DAILY_QUOTA));
        }
        log.count += 1;
        log.last_at = Some(now);
        if let Some(current) = self.current.get(&(Pool::Stable, appid.to_owned())) {
            self.cut_off(&current.clone(), now);
        }
        Ok(self.mint(Pool::Stable, appid, now))
    }

    fn cut_off(&mut self, token: &str, at: i64) {
        if let Some(record) = self.tokens.get_mut(token) {
            let cut_off_at = record.cut_off_at.map_or(at, |earlier| earlier.min(at));
            record.cut_off_at = Some(cut_off_at.min(record.expires_at));
        }
    }

    fn mint(&mut self, pool: Pool, appid: &str, now: i64) -> Issued {
        self.minted_since_sweep += 1;
        if self.minted_since_sweep >= 1024 {
            self.tokens
                .retain(|_, record| record.expires_at + EXPIRED_MEMORY_SECS > now);
            self.minted_since_sweep = 0;
        }
        let access_token = ids::access_token();
        let record = TokenRecord {
            appid: appid.to_owned(),
            expires_at: now + TOKEN_TTL_SECS,
            cut_off_at: None,
            refused: false,
        };
        self.tokens.insert(access_token.clone(), record);
        self.current
            .insert((pool, appid.to_owned()), access_token.clone());
        Issued {
            access_token,
            expires_in: TOKEN_TTL_SECS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: ForceRefreshRules = ForceRefreshRules {
        per_day: 20,
        min_interval_secs: 30,
    };

    #[test]
    fn classic_tokens_overlap_five_minutes() {
        let mut book = TokenBook::default();
        let first = book.issue_classic("wxA", 0);
        let second = book.issue_classic("wxA", 100);
        assert_ne!(first.access_token, second.access_token);
        assert_eq!(book.validate(&first.access_token, 399).unwrap(), "wxA");
        assert_eq!(book.validate(&first.access_token, 400), Err(WxError(40001)));
        assert_eq!(
            book.validate(&second.access_token, 100 + 7199).unwrap(),
            "wxA"
        );
        assert_eq!(
            book.validate(&second.access_token, 100 + 7200),
            Err(WxError(42001))
        );
        assert_eq!(book.validate("unknown", 0), Err(WxError(40001)));
    }

    #[test]
    fn stable_token_is_reused_until_its_last_five_minutes() {
        let mut book = TokenBook::default();
        let first = book.issue_stable("wxA", 0);
        let again = book.issue_stable("wxA", 6900);
        assert_eq!(
            again,
            Issued {
                access_token: first.access_token.clone(),
                expires_in: 300
            }
        );
        let rotated = book.issue_stable("wxA", 6901);
        assert_ne!(rotated.access_token, first.access_token);
        assert_eq!(book.validate(&first.access_token, 7199).unwrap(), "wxA");
        assert_eq!(
            book.validate(&first.access_token, 7200),
            Err(WxError(42001))
        );
    }

    #[test]
    fn a_refused_stable_token_is_handed_back_until_force_refreshed() {
        let mut book = TokenBook::default();
        assert!(!book.refuse_current_stable("wxA", 0), "no token yet");
        let stuck = book.issue_stable("wxA", 0);
        assert!(book.refuse_current_stable("wxA", 100));
        assert_eq!(book.validate(&stuck.access_token, 100), Err(WxError(40001)));
        let again = book.issue_stable("wxA", 100);
        assert_eq!(again.access_token, stuck.access_token);
        assert_eq!(again.expires_in, 7100);
        let forced = book.force_refresh_stable("wxA", 100, RULES).unwrap();
        assert_ne!(forced.access_token, stuck.access_token);
        assert_eq!(book.validate(&forced.access_token, 100).unwrap(), "wxA");
        assert_eq!(book.validate(&stuck.access_token, 100), Err(WxError(40001)));
    }

    #[test]
    fn pools_are_isolated() {
        let mut book = TokenBook::default();
        let stable = book.issue_stable("wxA", 0);
        book.issue_classic("wxA", 0);
        book.issue_classic("wxA", 1);
        assert_eq!(
            book.issue_stable("wxA", 2).access_token,
            stable.access_token
        );
    }

    #[test]
    fn force_refresh_revokes_at_once_with_interval_and_daily_cap() {
        let mut book = TokenBook::default();
        let first = book.issue_stable("wxA", 0);
        let forced = book.force_refresh_stable("wxA", 10, RULES).unwrap();
        assert_ne!(forced.access_token, first.access_token);
        assert_eq!(book.validate(&first.access_token, 10), Err(WxError(40001)));
        let too_soon = book.force_refresh_stable("wxA", 39, RULES).unwrap();
        assert_eq!(too_soon.access_token, forced.access_token);
        let mut now = 40;
        for _ in 1..20 {
            book.force_refresh_stable("wxA", now, RULES).unwrap();
            now += 30;
        }
        assert_eq!(
            book.force_refresh_stable("wxA", now, RULES),
            Err(WxError(45009))
        );
    }
}
