//! Abuse limits: one client address cannot burn the app's WeChat quota with logins, and
//! one signed-in user cannot with phone-number or user-info calls. Each limit is a keyed
//! GCRA bucket (governor): `per_period` requests per `period` sustained, `burst` at once.
//!
//! Memory stays bounded: a timer forgets keys whose bucket is full again (they are
//! indistinguishable from new ones), and a limiter holding [`MAX_TRACKED_KEYS`] keys
//! prunes at once; if a flood of distinct keys still fills it, new requests are refused
//! until entries age out, which keeps the WeChat quota safe at the flood's expense.
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::configuration::Settings;
use crate::error::{ApiError, ErrorCode};
use crate::sessions::AuthContext;

/// Most keys one limiter keeps (about 100 bytes each).
pub const MAX_TRACKED_KEYS: usize = 100_000;

/// Least time between two prunes forced by a full limiter: a prune scans every key under
/// every shard's lock, so during a flood of distinct keys it must not run per request.
const FULL_PRUNE_GAP: Duration = Duration::from_secs(1);

/// One limit as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained requests per `period`.
    pub per_period: NonZeroU32,
    /// Requests allowed at once before the sustained rate applies.
    pub burst: NonZeroU32,
    pub period: Duration,
}

impl RateLimit {
    /// `None` when `per_period` is 0 (the limit is off). A burst of 0 means 1.
    pub fn new(per_period: u32, burst: u32, period: Duration) -> Option<Self> {
        Some(RateLimit {
            per_period: NonZeroU32::new(per_period)?,
            burst: NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN),
            period,
        })
    }

    /// `None` when the period is too short for `per_period` requests (under 1 ns each).
    pub(crate) fn quota(self) -> Option<Quota> {
        Quota::with_period(self.period / self.per_period.get()).map(|q| q.allow_burst(self.burst))
    }
}

/// What a client address is keyed by: IPv4 as is, IPv6 by its /64 prefix (one host
/// usually owns a whole /64, so per-address keys would give it 2^64 buckets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    /// The address (an IPv6 one cut to its /64).
    pub fn address(&self) -> IpAddr {
        self.0
    }

    pub fn of(address: IpAddr) -> Self {
        match address {
            IpAddr::V4(v4) => ClientKey(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientKey(IpAddr::V4(v4)),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    ClientKey(IpAddr::V6(Ipv6Addr::from(prefix)))
                }
            },
        }
    }
}

/// One keyed limit.
struct KeyedLimit<K: std::hash::Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    period: Duration,
    /// When a full limiter was last pruned.
    last_full_prune: std::sync::Mutex<Option<std::time::Instant>>,
}

impl<K: std::hash::Hash + Eq + Clone> KeyedLimit<K> {
    fn new(limit: RateLimit) -> Option<Self> {
        Some(KeyedLimit {
            limiter: DefaultKeyedRateLimiter::keyed(limit.quota()?),
            period: limit.period,
            last_full_prune: std::sync::Mutex::new(None),
        })
    }

    /// `Err(wait)` when `key` must wait.
    fn check(&self, key: &K) -> Result<(), Duration> {
        if self.limiter.len() >= MAX_TRACKED_KEYS {
            if !self.may_prune_when_full() {
                return Err(self.period);
            }
            self.limiter.retain_recent();
            if self.limiter.len() >= MAX_TRACKED_KEYS {
                tracing::warn!(
                    keys = MAX_TRACKED_KEYS,
                    "rate limiter full of recent keys: refusing new requests until they age out"
                );
                return Err(self.period);
            }
        }
        self.limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// True at most once per [`FULL_PRUNE_GAP`].
    fn may_prune_when_full(&self) -> bool {
        let mut last = self
            .last_full_prune
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if last.is_some_and(|at| at.elapsed() < FULL_PRUNE_GAP) {
            return false;
        }
        *last = Some(std::time::Instant::now());
        true
    }

    fn prune(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// The server's abuse limits.
pub struct RateLimits {
    login_per_client: Option<KeyedLimit<ClientKey>>,
    open_data_per_user: Option<KeyedLimit<(String, String)>>,
    open_data_per_client: Option<KeyedLimit<ClientKey>>,
    trust_forwarded_for: bool,
}

impl RateLimits {
    pub fn from_settings(settings: &Settings) -> Self {
        let period = settings.rate_limit_period;
        RateLimits {
            login_per_client: RateLimit::new(
                settings.rate_limit_login_per_ip,
                settings.rate_limit_login_burst,
                period,
            )
            .and_then(KeyedLimit::new),
            open_data_per_user: RateLimit::new(
                settings.rate_limit_phone_per_user,
                settings.rate_limit_phone_burst,
                period,
            )
            .and_then(KeyedLimit::new),
            open_data_per_client: RateLimit::new(
                settings.rate_limit_phone_per_ip,
                settings.rate_limit_phone_ip_burst,
                period,
            )
            .and_then(KeyedLimit::new),
            trust_forwarded_for: settings.trust_forwarded_for,
        }
    }

    /// Count a login from `client`. Without a known address (a router driven without a
    /// socket, as in unit tests) there is nothing to key by, so the request passes.
    pub fn check_login(&self, client: Option<ClientKey>) -> Result<(), ApiError> {
        match (&self.login_per_client, client) {
            (Some(limit), Some(client)) => limit.check(&client).map_err(|wait| {
                tracing::info!(client = %client.0, "login rate limit reached");
                limited(
                    "too many logins from this address; retry after the time in Retry-After",
                    wait,
                )
            }),
            _ => Ok(()),
        }
    }

    /// Count a phone-number or user-info request of `caller` from `client` (one budget
    /// for both routes): against the user's budget, then against the address's.
    pub fn check_open_data(
        &self,
        caller: &AuthContext,
        client: Option<ClientKey>,
    ) -> Result<(), ApiError> {
        self.check_open_data_of_user(caller)?;
        match (&self.open_data_per_client, client) {
            (Some(limit), Some(client)) => limit.check(&client).map_err(|wait| {
                tracing::info!(client = %client.0, "phone/user-info rate limit of an address reached");
                limited(
                    "too many phone-number or user-info requests from this address; retry after the time in Retry-After",
                    wait,
                )
            }),
            _ => Ok(()),
        }
    }

    fn check_open_data_of_user(&self, caller: &AuthContext) -> Result<(), ApiError> {
        match &self.open_data_per_user {
            Some(limit) => limit
                .check(&(caller.appid.clone(), caller.openid.clone()))
                .map_err(|wait| {
                    tracing::info!(user_id = %caller.user_id, "phone/user-info rate limit reached");
                    limited(
                        "too many phone-number or user-info requests for this user; retry after the time in Retry-After",
                        wait,
                    )
                }),
            None => Ok(()),
        }
    }

    fn prune(&self) {
        if let Some(limit) = &self.login_per_client {
            limit.prune();
        }
        if let Some(limit) = &self.open_data_per_user {
            limit.prune();
        }
        if let Some(limit) = &self.open_data_per_client {
            limit.prune();
        }
    }

    /// Forget full buckets every `every`, until `limits` is dropped.
    pub fn spawn_pruning(limits: &Arc<RateLimits>, every: Duration) {
        let weak: Weak<RateLimits> = Arc::downgrade(limits);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                match weak.upgrade() {
                    Some(limits) => limits.prune(),
                    None => break,
                }
            }
        });
    }

    /// The client address of a request: the socket peer, or with `trust_forwarded_for`
    /// the last `X-Forwarded-For` entry (the one the proxy in front appended; entries
    /// left of it are whatever the client claimed).
    pub fn client_of(&self, parts: &Parts) -> Option<ClientKey> {
        if self.trust_forwarded_for {
            let forwarded = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|value| value.to_str().ok())
                .flat_map(|value| value.split(','))
                .last()
                .and_then(|entry| entry.trim().parse::<IpAddr>().ok());
            if let Some(address) = forwarded {
                return Some(ClientKey::of(address));
            }
        }
        parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| ClientKey::of(peer.ip()))
    }
}

fn limited(message: &str, wait: Duration) -> ApiError {
    ApiError::new(ErrorCode::RateLimited, message).with_retry_after(wait)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn settings() -> Settings {
        Settings::new(Vec::new(), "sqlite::memory:")
    }

    fn parts(peer: &str, forwarded: &[&str]) -> Parts {
        let mut request = Request::builder().uri("/v1/login");
        for value in forwarded {
            request = request.header("x-forwarded-for", *value);
        }
        let (mut parts, ()) = request.body(()).unwrap().into_parts();
        parts
            .extensions
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        parts
    }

    fn caller(openid: &str) -> AuthContext {
        AuthContext {
            user_id: "u".to_owned(),
            appid: "wx0000000000demo".to_owned(),
            openid: openid.to_owned(),
            session_id: "s".to_owned(),
        }
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64_prefix_and_mapped_v4_as_v4() {
        let a = ClientKey::of("2001:db8:1:2::1".parse().unwrap());
        let b = ClientKey::of("2001:db8:1:2:ffff::9".parse().unwrap());
        let c = ClientKey::of("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            ClientKey::of("::ffff:10.0.0.1".parse().unwrap()),
            ClientKey::of("10.0.0.1".parse().unwrap())
        );
    }

    #[test]
    fn forwarded_for_is_ignored_unless_trusted_and_then_the_last_entry_counts() {
        let request = parts("127.0.0.1:5000", &["6.6.6.6, 10.1.2.3"]);
        let untrusted = RateLimits::from_settings(&settings());
        assert_eq!(
            untrusted.client_of(&request),
            Some(ClientKey::of("127.0.0.1".parse().unwrap()))
        );
        let mut trusting = settings();
        trusting.trust_forwarded_for = true;
        let trusted = RateLimits::from_settings(&trusting);
        assert_eq!(
            trusted.client_of(&request),
            Some(ClientKey::of("10.1.2.3".parse().unwrap()))
        );
        let several = parts("127.0.0.1:5000", &["6.6.6.6", "10.9.9.9"]);
        assert_eq!(
            trusted.client_of(&several),
            Some(ClientKey::of("10.9.9.9".parse().unwrap()))
        );
        let garbage = parts("127.0.0.1:5000", &["not an address"]);
        assert_eq!(
            trusted.client_of(&garbage),
            Some(ClientKey::of("127.0.0.1".parse().unwrap()))
        );
    }

    #[test]
    fn a_burst_passes_then_the_next_waits_about_one_interval() {
        let mut config = settings();
        config.rate_limit_login_per_ip = 6;
        config.rate_limit_login_burst = 3;
        config.rate_limit_period = Duration::from_secs(60);
        let limits = RateLimits::from_settings(&config);
        let client = Some(ClientKey::of("10.0.0.1".parse().unwrap()));
        for _ in 0..3 {
            limits.check_login(client).unwrap();
        }
        let refused = limits.check_login(client).unwrap_err();
        assert_eq!(refused.code, ErrorCode::RateLimited);
        let wait = refused.retry_after_secs.unwrap();
        assert!((1..=10).contains(&wait), "{wait}");
        // Another address has its own bucket.
        limits
            .check_login(Some(ClientKey::of("10.0.0.2".parse().unwrap())))
            .unwrap();
    }

    #[test]
    fn zero_turns_a_limit_off() {
        let mut config = settings();
        config.rate_limit_login_per_ip = 0;
        config.rate_limit_phone_per_user = 0;
        config.rate_limit_phone_per_ip = 0;
        let limits = RateLimits::from_settings(&config);
        let client = Some(ClientKey::of("10.0.0.1".parse().unwrap()));
        for _ in 0..1000 {
            limits.check_login(client).unwrap();
            limits.check_open_data(&caller("o1"), None).unwrap();
        }
    }

    #[test]
    fn open_data_is_limited_per_openid() {
        let mut config = settings();
        config.rate_limit_phone_per_user = 2;
        config.rate_limit_phone_burst = 2;
        let limits = RateLimits::from_settings(&config);
        limits.check_open_data(&caller("o1"), None).unwrap();
        limits.check_open_data(&caller("o1"), None).unwrap();
        assert!(limits.check_open_data(&caller("o1"), None).is_err());
        limits.check_open_data(&caller("o2"), None).unwrap();
    }

    #[test]
    fn open_data_is_limited_per_address_across_users() {
        let mut config = settings();
        config.rate_limit_phone_per_ip = 3;
        config.rate_limit_phone_ip_burst = 3;
        let limits = RateLimits::from_settings(&config);
        let here = Some(ClientKey::of("10.0.0.1".parse().unwrap()));
        for openid in ["a", "b", "c"] {
            limits.check_open_data(&caller(openid), here).unwrap();
        }
        let refused = limits.check_open_data(&caller("d"), here).unwrap_err();
        assert!(refused.message.contains("address"), "{refused}");
        let elsewhere = Some(ClientKey::of("10.0.0.2".parse().unwrap()));
        limits.check_open_data(&caller("d"), elsewhere).unwrap();
    }

    #[test]
    fn pruning_forgets_full_buckets_only() {
        let mut config = settings();
        config.rate_limit_login_per_ip = 1000;
        config.rate_limit_login_burst = 1;
        config.rate_limit_period = Duration::from_millis(1000);
        let limits = RateLimits::from_settings(&config);
        let limit = limits.login_per_client.as_ref().unwrap();
        for last in 0..50u8 {
            limits
                .check_login(Some(ClientKey::of(IpAddr::from([10, 0, 0, last]))))
                .unwrap();
        }
        assert_eq!(limit.limiter.len(), 50);
        // One request per millisecond refills within a few milliseconds.
        std::thread::sleep(Duration::from_millis(20));
        limits.prune();
        assert_eq!(limit.limiter.len(), 0);
    }
}
