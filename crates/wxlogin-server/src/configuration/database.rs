//! Where the data lives, how many connections the server opens to it, and the master key
//! that seals its secrets.
use std::time::Duration;

use serde::Deserialize;
use wxlogin_crypto::Redacted;

use crate::layered::{settings_group, Given, Seconds};

settings_group! {
    /// The database and its master keys.
    pub struct DatabaseSettings, layer DatabaseLayer {
        /// sqlite://FILE or postgres://…
        #[arg(long, env = "WXLOGIN_DATABASE_URL")]
        pub database_url: String = "sqlite://wxlogin.db".to_owned(),
        // `None`: SQLite only, a generated key kept in a file beside the database.
        /// Standard base64 of 32 random bytes (`head -c32 /dev/urandom | base64`). Without it,
        /// SQLite only: a generated key kept in a 0600 file beside the database (development).
        #[arg(long, env = "WXLOGIN_MASTER_KEY", hide_env_values = true)]
        pub master_key: Option<MasterKeyText> as MasterKeyText = None; no_default_in_help,
        // Accepted for opening what it sealed, never for sealing.
        /// During a master-key roll only: the key being replaced, still accepted for opening
        /// what it sealed (everything new is sealed with --master-key). See docs/production.md
        #[arg(long, env = "WXLOGIN_PREVIOUS_MASTER_KEY", hide_env_values = true)]
        pub previous_master_key: Option<MasterKeyText> as MasterKeyText = None,
        /// Most database connections of this instance; N instances × this must stay under
        /// PostgreSQL's max_connections. On SQLite: the most reading connections, beside the one
        /// writing connection
        #[arg(long, env = "WXLOGIN_DB_MAX_CONNECTIONS", value_name = "N")]
        pub db_max_connections: u32 = 10,
        /// How long a request waits for a free database connection before answering 503,
        /// in seconds
        #[arg(long, env = "WXLOGIN_DB_ACQUIRE_TIMEOUT", value_name = "SECS")]
        pub db_acquire_timeout: Duration as Seconds = Duration::from_secs(5),
        /// PostgreSQL statement_timeout and SQLite busy_timeout, in seconds: a query held up
        /// longer answers 503 database_unavailable
        #[arg(long, env = "WXLOGIN_DB_STATEMENT_TIMEOUT", value_name = "SECS")]
        pub db_statement_timeout: Duration as Seconds = Duration::from_secs(5),
    }
}

/// The base64 master key as given by the operator. Never printed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct MasterKeyText(Redacted<String>);

impl MasterKeyText {
    pub fn new(text: impl Into<String>) -> Self {
        MasterKeyText(Redacted::new(text.into()))
    }

    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl std::str::FromStr for MasterKeyText {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(MasterKeyText::new(text))
    }
}

/// Given as the key, the setting is the optional key; never shown but as "none".
impl Given for MasterKeyText {
    type Setting = Option<MasterKeyText>;

    fn into_setting(self) -> Option<MasterKeyText> {
        Some(self)
    }

    fn shown(default: &Option<MasterKeyText>) -> String {
        match default {
            Some(_) => "<redacted>".to_owned(),
            None => "none".to_owned(),
        }
    }
}
