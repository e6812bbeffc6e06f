//! `wxlogin audit`: what admin keys (and operators with `wxlogin users …`) changed.
use wxlogin_server::storage::rfc3339;

use super::database::{block_on, DatabaseArgs};
use super::users::print_table;

#[derive(clap::Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Show entries after this position (the first column of an earlier listing).
    #[arg(long, default_value_t = 0)]
    pub after: i64,
    /// How many entries to show.
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
}

pub fn run(args: AuditArgs) -> anyhow::Result<()> {
    block_on(async {
        let store = args.database.open_unsealed().await?;
        let entries = store.audit_after(args.after, args.limit.min(1000)).await?;
        let rows: Vec<Vec<String>> = entries
            .iter()
            .map(|entry| {
                vec![
                    entry.seq.to_string(),
                    rfc3339(entry.at),
                    entry.key_name.clone(),
                    entry.action.clone(),
                    entry
                        .user_id
                        .as_ref()
                        .map_or_else(|| "-".to_owned(), ToString::to_string),
                ]
            })
            .collect();
        print_table(&["#", "AT", "KEY", "ACTION", "USER"], &rows);
        Ok(())
    })
}
