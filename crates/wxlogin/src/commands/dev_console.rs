//! `serve --sim`: a console key for the development database, so the README's first
//! command leads straight into `/admin/`. Created once and kept beside a SQLite database
//! file (`<database>.console-key`, 0600, like the dev master key); development only, since
//! `--sim` is.
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use anyhow::Context;
use wxlogin_server::domain::{hash_admin_key, AdminKeyName, AdminScope, AdminScopes};
use wxlogin_server::storage::{unix_now, CreateAdminKeyError, DatabaseUrl, Store};

pub const DEV_CONSOLE_KEY_NAME: &str = "dev-console";

/// The key file of a SQLite database file: the database path with `.console-key` appended.
fn key_file(database_url: &str) -> Option<PathBuf> {
    DatabaseUrl::parse(database_url)
        .ok()?
        .dev_console_key_file()
}

/// The development console key: the one kept in the key file while it still works, else a
/// new one (replacing a `dev-console` key whose text is lost).
pub async fn dev_console_key(store: &Store, database_url: &str) -> anyhow::Result<String> {
    let file = key_file(database_url);
    let now = unix_now();
    if let Some(path) = &file {
        if let Ok(text) = std::fs::read_to_string(path) {
            let text = text.trim().to_owned();
            let record = store.admin_key_by_hash(&hash_admin_key(&text), now).await?;
            if record.is_some_and(|key| key.scopes.contains(AdminScope::Console)) {
                return Ok(text);
            }
        }
    }
    let name = AdminKeyName::parse(DEV_CONSOLE_KEY_NAME)?;
    let scopes = AdminScopes::parse(AdminScope::Console.as_str())?;
    let secret = match store.create_admin_key(&name, &scopes, now).await {
        Ok(secret) => secret,
        Err(CreateAdminKeyError::NameTaken(_)) => {
            store.revoke_admin_key(&name).await?;
            store
                .create_admin_key(&name, &scopes, now)
                .await
                .context("creating the development console key")?
        }
        Err(CreateAdminKeyError::Storage(error)) => return Err(error.into()),
    };
    if let Some(path) = &file {
        let _ = std::fs::remove_file(path);
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("writing {}", path.display()))?;
        writeln!(out, "{}", secret.expose())?;
    }
    Ok(secret.expose().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_file_sits_beside_a_database_file_only() {
        assert_eq!(
            key_file("sqlite://data/wxlogin.db"),
            Some(PathBuf::from("data/wxlogin.db.console-key"))
        );
        assert_eq!(key_file("sqlite::memory:"), None);
        assert_eq!(key_file("postgres://db/wxlogin"), None);
    }
}
