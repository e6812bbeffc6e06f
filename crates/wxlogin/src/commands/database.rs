//! The database and master-key arguments every command but `serve` shares (declared once
//! here, flattened into each), and opening a database that must already exist (an admin
//! command never creates one).
use anyhow::Context;
use wxlogin_server::at_rest::{resolve_master_key, MasterKey};
use wxlogin_server::configuration::DatabaseSettings;
use wxlogin_server::master_keys::MasterKeys;
use wxlogin_server::storage::{DatabaseUrl, StorageError, Store, StoreOptions};

#[derive(clap::Args, Debug)]
pub struct DatabaseArgs {
    /// sqlite://PATH or postgres://USER:PASSWORD@HOST/DB.
    #[arg(
        long,
        env = "WXLOGIN_DATABASE_URL",
        default_value_t = DatabaseSettings::default().database_url,
        hide_env_values = true,
        global = true
    )]
    pub database_url: String,
}

impl DatabaseArgs {
    /// Connect without a master key: for commands that never touch sealed columns (the
    /// store gets a throw-away key that is never used).
    pub async fn open_unsealed(&self) -> anyhow::Result<Store> {
        let database_url = parse_database_url(&self.database_url)?;
        if let Some(path) = database_url.sqlite_file() {
            anyhow::ensure!(
                path.exists(),
                "database file {} does not exist (run `wxlogin migrate` or `wxlogin serve` first)",
                path.display()
            );
        }
        let store = Store::open(
            &database_url,
            &StoreOptions::default(),
            MasterKey::generate(),
        )
        .await
        .context("cannot open the database")?;
        // The tables of newer features appear with the server's migrations; an older file
        // opened by a newer binary is brought up to date first, as `serve` would.
        store
            .migrate()
            .await
            .context("cannot bring the database schema up to date")?;
        Ok(store)
    }
}

/// The database URL of an admin command, refused as opening the database refuses it.
pub fn parse_database_url(text: &str) -> anyhow::Result<DatabaseUrl> {
    DatabaseUrl::parse(text)
        .map_err(StorageError::from)
        .context("cannot open the database")
}

/// Run `work` on a single-threaded runtime (the admin commands are one-shot).
pub fn block_on<F: std::future::Future<Output = anyhow::Result<()>>>(
    work: F,
) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(work)
}

/// Open a database that must already exist, with the server's master key: given, or the
/// development key file the server created beside its SQLite database. Never creates a
/// key file: a key made up here would seal data the server cannot open.
pub async fn open_existing_store(
    database_url: &str,
    master_key: Option<&str>,
    previous_master_key: Option<&str>,
) -> anyhow::Result<Store> {
    let database_url = parse_database_url(database_url)?;
    if let (Some(path), Some(key_file)) = (
        database_url.sqlite_file(),
        database_url.dev_master_key_file(),
    ) {
        anyhow::ensure!(
            path.exists(),
            "database file {} does not exist (run `wxlogin migrate` or `wxlogin serve` first)",
            path.display()
        );
        anyhow::ensure!(
            master_key.is_some() || key_file.exists(),
            "no master key: pass --master-key or set WXLOGIN_MASTER_KEY to the key the server uses \
             (no development key file at {})",
            key_file.display()
        );
    }
    let resolved = resolve_master_key(master_key, &database_url)?;
    let mut keys = MasterKeys::new(resolved.key);
    if let Some(previous) = previous_master_key {
        keys = keys.with_previous(MasterKey::from_base64(previous).context(
            "--previous-master-key / WXLOGIN_PREVIOUS_MASTER_KEY is not standard base64 of 32 bytes",
        )?);
    }
    Store::open(&database_url, &StoreOptions::default(), keys)
        .await
        .context("cannot open the database")
}

/// The master key of commands that read sealed values (phone numbers, signing keys).
#[derive(clap::Args, Debug)]
pub struct MasterKeyArgs {
    /// Standard base64 of the 32-byte master key that sealed the values: the server's
    /// --master-key (for `master-key rotate`: the key being replaced); beside a SQLite
    /// database the server's development key file is used when this is not given.
    #[arg(
        long,
        env = "WXLOGIN_MASTER_KEY",
        hide_env_values = true,
        global = true
    )]
    pub master_key: Option<String>,
    /// Another key that sealed values in the database (the server's --previous-master-key
    /// during a roll), also used for opening.
    #[arg(
        long,
        env = "WXLOGIN_PREVIOUS_MASTER_KEY",
        hide_env_values = true,
        global = true
    )]
    pub previous_master_key: Option<String>,
}
