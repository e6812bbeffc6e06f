//! The database URL, parsed once: which database, where its data lives, and the files kept
//! beside a SQLite database file.
//!
//! Everything that asks "SQLite file, in-memory SQLite or PostgreSQL?" (connecting, the
//! migration lock, the development master-key and console-key files) asks a
//! [`DatabaseUrl`], so the three answers cannot drift apart. A PostgreSQL URL may carry a
//! password: `Debug` and `Display` print it as `***`, so a URL in a log line or an error
//! never leaks it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Which database a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A URL whose scheme is neither `sqlite:` nor `postgres:`/`postgresql:`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected sqlite://PATH or postgres://USER@HOST/DB")]
pub struct InvalidDatabaseUrl;

/// A parsed database URL.
///
/// `sqlite://wxlogin.db`, `sqlite:///var/lib/wx.db?mode=rwc` and `sqlite:data.db` name a
/// file (its query, if any, is ignored: the file is opened read-write and created if
/// missing); `sqlite::memory:`, an empty path or `mode=memory` an in-memory database;
/// `postgres://` and `postgresql://` a PostgreSQL server, kept as given for sqlx.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    SqliteFile(PathBuf),
    SqliteMemory,
    Postgres(PostgresUrl),
}

impl DatabaseUrl {
    pub fn parse(text: &str) -> Result<DatabaseUrl, InvalidDatabaseUrl> {
        let (scheme, rest) = text.split_once(':').ok_or(InvalidDatabaseUrl)?;
        match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => Ok(Self::sqlite(rest)),
            "postgres" | "postgresql" => Ok(DatabaseUrl::Postgres(PostgresUrl(text.to_string()))),
            _ => Err(InvalidDatabaseUrl),
        }
    }

    /// `rest`: what follows `sqlite:`.
    fn sqlite(rest: &str) -> DatabaseUrl {
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        if path.is_empty()
            || path == ":memory:"
            || query.split('&').any(|pair| pair == "mode=memory")
        {
            DatabaseUrl::SqliteMemory
        } else {
            DatabaseUrl::SqliteFile(PathBuf::from(path))
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            DatabaseUrl::SqliteFile(_) | DatabaseUrl::SqliteMemory => Backend::Sqlite,
            DatabaseUrl::Postgres(_) => Backend::Postgres,
        }
    }

    /// The SQLite database file, if the URL names one.
    pub fn sqlite_file(&self) -> Option<&Path> {
        match self {
            DatabaseUrl::SqliteFile(path) => Some(path),
            _ => None,
        }
    }

    /// A file kept beside a SQLite database file: its path with `suffix` appended (`None`
    /// for an in-memory database or PostgreSQL, which have no file to sit beside).
    pub fn file_beside(&self, suffix: &str) -> Option<PathBuf> {
        self.sqlite_file().map(|path| path_beside(path, suffix))
    }

    /// The development master-key file (`<database file>.master-key`).
    pub fn dev_master_key_file(&self) -> Option<PathBuf> {
        self.file_beside(".master-key")
    }

    /// The development console-key file of `serve --sim` (`<database file>.console-key`).
    pub fn dev_console_key_file(&self) -> Option<PathBuf> {
        self.file_beside(".console-key")
    }
}

/// `path` with `suffix` appended to its file name.
pub(crate) fn path_beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

impl FromStr for DatabaseUrl {
    type Err = InvalidDatabaseUrl;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        DatabaseUrl::parse(text)
    }
}

/// From a settings file, as from a flag: the text, parsed (and refused as [`DatabaseUrl::parse`]
/// refuses it).
impl<'de> serde::Deserialize<'de> for DatabaseUrl {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        DatabaseUrl::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::SqliteFile(path) => write!(f, "sqlite://{}", path.display()),
            DatabaseUrl::SqliteMemory => f.write_str("sqlite::memory:"),
            DatabaseUrl::Postgres(url) => fmt::Display::fmt(url, f),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::SqliteFile(path) => f.debug_tuple("SqliteFile").field(path).finish(),
            DatabaseUrl::SqliteMemory => f.write_str("SqliteMemory"),
            DatabaseUrl::Postgres(url) => f.debug_tuple("Postgres").field(url).finish(),
        }
    }
}

/// A PostgreSQL URL as given (sqlx parses it when connecting). Printed with its password,
/// in the user part or as a `password=` parameter, replaced by `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl(String);

impl PostgresUrl {
    /// The URL with its password, for the driver only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    fn redacted(&self) -> String {
        let Ok(mut url) = url::Url::parse(&self.0) else {
            // Nothing of an unparsable URL is shown: any part of it could be the password.
            return "postgres://***".to_string();
        };
        if url.password().is_some() {
            let _ = url.set_password(Some("***"));
        }
        if url
            .query_pairs()
            .any(|(key, _)| key.eq_ignore_ascii_case("password"))
        {
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(key, value)| {
                    let value = if key.eq_ignore_ascii_case("password") {
                        "***".to_string()
                    } else {
                        value.into_owned()
                    };
                    (key.into_owned(), value)
                })
                .collect();
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
        url.to_string()
    }
}

impl fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.redacted(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> DatabaseUrl {
        DatabaseUrl::parse(text).unwrap()
    }

    #[test]
    fn backend_follows_the_url_scheme() {
        assert_eq!(parse("sqlite://x.db").backend(), Backend::Sqlite);
        assert_eq!(parse("postgres://u@h/db").backend(), Backend::Postgres);
        assert_eq!(parse("postgresql://u@h/db").backend(), Backend::Postgres);
        assert_eq!(parse("PostgreSQL://u@h/db").backend(), Backend::Postgres);
        assert!(DatabaseUrl::parse("mysql://u@h/db").is_err());
        assert!(DatabaseUrl::parse("wxlogin.db").is_err());
    }

    #[test]
    fn sqlite_urls_are_understood() {
        assert_eq!(
            parse("sqlite://wxlogin.db"),
            DatabaseUrl::SqliteFile("wxlogin.db".into())
        );
        assert_eq!(
            parse("sqlite:///var/lib/wx.db?mode=rwc"),
            DatabaseUrl::SqliteFile("/var/lib/wx.db".into())
        );
        assert_eq!(
            parse("sqlite:data.db"),
            DatabaseUrl::SqliteFile("data.db".into())
        );
        assert_eq!(parse("sqlite::memory:"), DatabaseUrl::SqliteMemory);
        assert_eq!(parse("sqlite://:memory:"), DatabaseUrl::SqliteMemory);
        assert_eq!(
            parse("sqlite://x.db?mode=memory"),
            DatabaseUrl::SqliteMemory
        );
        assert_eq!(parse("postgres://u@localhost/db").sqlite_file(), None);
    }

    #[test]
    fn files_sit_beside_a_database_file_only() {
        let file = parse("sqlite://data/wxlogin.db");
        assert_eq!(
            file.dev_master_key_file(),
            Some(PathBuf::from("data/wxlogin.db.master-key"))
        );
        assert_eq!(
            file.dev_console_key_file(),
            Some(PathBuf::from("data/wxlogin.db.console-key"))
        );
        assert_eq!(parse("sqlite::memory:").dev_master_key_file(), None);
        assert_eq!(parse("postgres://db/wxlogin").dev_console_key_file(), None);
    }

    #[test]
    fn settings_files_and_flags_parse_it_alike() {
        #[derive(serde::Deserialize)]
        struct Settings {
            database_url: DatabaseUrl,
        }
        let settings: Settings = toml::from_str(r#"database_url = "sqlite://w.db""#).unwrap();
        assert_eq!(settings.database_url, parse("sqlite://w.db"));
        let error = toml::from_str::<Settings>(r#"database_url = "mysql://u@h/db""#)
            .err()
            .unwrap();
        assert!(
            error.to_string().contains("expected sqlite://PATH"),
            "{error}"
        );
        assert_eq!(
            "sqlite::memory:".parse::<DatabaseUrl>(),
            Ok(DatabaseUrl::SqliteMemory)
        );
    }

    #[test]
    fn debug_and_display_hide_the_password() {
        for text in [
            "postgres://wx:hunter2secret@db.internal:5432/wxlogin",
            "postgresql://wx@db.internal/wxlogin?sslmode=require&password=hunter2secret",
            "postgres://wx:hunter2secret@[::1/wxlogin",
        ] {
            let url = parse(text);
            for shown in [format!("{url:?}"), url.to_string()] {
                assert!(!shown.contains("hunter2secret"), "{shown}");
            }
        }
        let url = parse("postgres://wx:hunter2secret@db.internal:5432/wxlogin?sslmode=require");
        assert_eq!(
            url.to_string(),
            "postgres://wx:***@db.internal:5432/wxlogin?sslmode=require"
        );
        assert_eq!(
            format!("{url:?}"),
            r#"Postgres("postgres://wx:***@db.internal:5432/wxlogin?sslmode=require")"#
        );
        let DatabaseUrl::Postgres(inner) = &url else {
            unreachable!()
        };
        assert_eq!(
            inner.expose(),
            "postgres://wx:hunter2secret@db.internal:5432/wxlogin?sslmode=require"
        );
    }
}
