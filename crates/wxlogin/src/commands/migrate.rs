use wxlogin_server::storage::{Database, StoreOptions};

use super::database::DatabaseArgs;

/// Create or upgrade the database schema (the server also does this at start). Concurrent
/// runs wait for each other (PostgreSQL: an advisory lock; SQLite: a lock file beside the
/// database), so each reports only what it applied itself.
#[derive(clap::Args)]
pub struct MigrateArgs {
    // SQLite: created if missing.
    #[command(flatten)]
    pub database: DatabaseArgs,
}

pub fn run(args: MigrateArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let database = Database::connect(&args.database.database_url, &StoreOptions::default()).await?;
        let report = database.migrate().await?;
        database.close().await;
        let backend = report.backend.name();
        if report.applied.is_empty() {
            println!(
                "{backend}: schema up to date (nothing applied by this run; {} migration(s) already applied)",
                report.already_applied
            );
        } else {
            for (version, description) in &report.applied {
                println!("{backend}: applied migration {version:04} {description}");
            }
            println!(
                "{backend}: {} migration(s) applied by this run, {} were already in place",
                report.applied.len(),
                report.already_applied
            );
        }
        Ok(())
    })
}
