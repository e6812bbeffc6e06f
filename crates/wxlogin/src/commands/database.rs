//! The database argument the admin commands share, and opening a database that must
//! already exist (an admin command never creates one).
use anyhow::Context;
use wxlogin_server::at_rest::{sqlite_database_file, MasterKey, SqliteLocation};
use wxlogin_server::storage::{Store, StoreOptions};

#[derive(clap::Args, Debug)]
pub struct DatabaseArgs {
    /// sqlite://PATH or postgres://USER:PASSWORD@HOST/DB.
    #[arg(
        long,
        env = "WXLOGIN_DATABASE_URL",
        default_value = "sqlite://wxlogin.db",
        hide_env_values = true,
        global = true
    )]
    pub database_url: String,
}

impl DatabaseArgs {
    /// Connect without a master key: for commands that never touch sealed columns (the
    /// store gets a throw-away key that is never used).
    pub async fn open_unsealed(&self) -> anyhow::Result<Store> {
        if let Some(SqliteLocation::File(path)) = sqlite_database_file(&self.database_url) {
            anyhow::ensure!(
                path.exists(),
                "database file {} does not exist (run `wxlogin migrate` or `wxlogin serve` first)",
                path.display()
            );
        }
        let store = Store::connect(
            &self.database_url,
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

/// Run `work` on a single-threaded runtime (the admin commands are one-shot).
pub fn block_on<F: std::future::Future<Output = anyhow::Result<()>>>(
    work: F,
) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(work)
}
