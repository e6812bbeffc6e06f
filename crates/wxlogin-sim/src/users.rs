//! Simulated WeChat users as each app sees them: openid, unionid and the current session_key.
use std::collections::HashMap;

use wxlogin_crypto::SessionKey;

use crate::config::SimApp;
use crate::ids;

pub(crate) struct UserRecord {
    pub(crate) openid: String,
    pub(crate) unionid: Option<String>,
    /// None until the user's first code exchange.
    pub(crate) session_key: Option<SessionKey>,
}

#[derive(Default)]
pub(crate) struct UserBook {
    by_user: HashMap<(String, String), UserRecord>,
    by_openid: HashMap<(String, String), String>,
}

impl UserBook {
    /// The user's record in `app`, created on first sight.
    pub(crate) fn entry(&mut self, app: &SimApp, user: &str) -> &mut UserRecord {
        let key = (app.appid.clone(), user.to_owned());
        let by_openid = &mut self.by_openid;
        self.by_user.entry(key).or_insert_with(|| {
            let openid = ids::openid(&app.appid, user);
            by_openid.insert((app.appid.clone(), openid.clone()), user.to_owned());
            UserRecord {
                openid,
                unionid: app
                    .open_platform
                    .as_deref()
                    .map(|platform| ids::unionid(platform, user)),
                session_key: None,
            }
        })
    }

    pub(crate) fn get(&self, appid: &str, user: &str) -> Option<&UserRecord> {
        self.by_user.get(&(appid.to_owned(), user.to_owned()))
    }

    pub(crate) fn by_openid_mut(&mut self, appid: &str, openid: &str) -> Option<&mut UserRecord> {
        let user = self.by_openid.get(&(appid.to_owned(), openid.to_owned()))?;
        self.by_user.get_mut(&(appid.to_owned(), user.clone()))
    }

    /// The key after an exchange: a fresh one, or the kept one when `keep` and one exists.
    pub(crate) fn exchange_key(record: &mut UserRecord, keep: bool) -> SessionKey {
        match (&record.session_key, keep) {
            (Some(key), true) => key.clone(),
            _ => {
                let key = ids::session_key();
                record.session_key = Some(key.clone());
                key
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unionid_only_with_an_open_platform_and_shared_across_its_apps() {
        let mut book = UserBook::default();
        let lone = SimApp::new("wxLone", "s");
        let a = SimApp::new("wxA", "s").with_open_platform("acme");
        let b = SimApp::new("wxB", "s").with_open_platform("acme");
        assert_eq!(book.entry(&lone, "alice").unionid, None);
        let union_a = book.entry(&a, "alice").unionid.clone().unwrap();
        let union_b = book.entry(&b, "alice").unionid.clone().unwrap();
        assert_eq!(union_a, union_b);
        let openid_b = book.entry(&b, "alice").openid.clone();
        assert_ne!(book.entry(&a, "alice").openid, openid_b);
        let openid = book.entry(&a, "alice").openid.clone();
        assert!(book.by_openid_mut("wxA", &openid).is_some());
        assert!(book.by_openid_mut("wxB", &openid).is_none());
    }

    #[test]
    fn exchange_rotates_unless_kept() {
        let mut book = UserBook::default();
        let app = SimApp::new("wxA", "s");
        let record = book.entry(&app, "alice");
        let first = UserBook::exchange_key(record, true);
        let kept = UserBook::exchange_key(record, true);
        assert_eq!(first, kept);
        let rotated = UserBook::exchange_key(record, false);
        assert_ne!(first, rotated);
    }
}
