//! `wxlogin admin-keys`: the keys the team's backend and operators use for the admin API
//! and the console. A key is printed once, at creation; only its hash is stored.
use wxlogin_server::domain::{AdminKeyName, AdminScopes};
use wxlogin_server::storage::{rfc3339, unix_now, CreateAdminKeyError};

use super::database::{block_on, DatabaseArgs};
use super::users::print_table;

#[derive(clap::Args)]
pub struct AdminKeysArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(subcommand)]
    pub command: AdminKeysCommand,
}

#[derive(clap::Subcommand)]
pub enum AdminKeysCommand {
    /// Create a key and print it (once: it cannot be shown again).
    Create {
        /// A name for the key, shown in the audit log (e.g. `order-service`).
        #[arg(long)]
        name: String,
        /// Comma-separated: users:read, users:write, events:read, tokens:introspect, console.
        #[arg(long)]
        scopes: String,
    },
    /// List keys: name, scopes, created, last used (never the keys themselves).
    List,
    /// Delete a key: it stops working at once on every instance.
    Revoke {
        /// The key's name.
        name: String,
    },
}

pub fn run(args: AdminKeysArgs) -> anyhow::Result<()> {
    block_on(async {
        // Parse before touching the database, so a typo changes nothing.
        let command = args.command;
        if let AdminKeysCommand::Create { name, scopes } = &command {
            AdminKeyName::parse(name)?;
            AdminScopes::parse(scopes)?;
        }
        let store = args.database.open_unsealed().await?;
        match command {
            AdminKeysCommand::Create { name, scopes } => {
                let name = AdminKeyName::parse(&name)?;
                let scopes = AdminScopes::parse(&scopes)?;
                match store.create_admin_key(&name, &scopes, unix_now()).await {
                    Ok(secret) => {
                        println!("{}", secret.expose());
                        eprintln!(
                            "created admin key {name} with scopes {scopes}; the key above is shown only now: \
                             keep it in your secret store (send it as Authorization: Bearer <key>)"
                        );
                        Ok(())
                    }
                    Err(CreateAdminKeyError::NameTaken(name)) => anyhow::bail!(
                        "an admin key named {name} exists already; revoke it first or pick another name"
                    ),
                    Err(CreateAdminKeyError::Storage(error)) => Err(error.into()),
                }
            }
            AdminKeysCommand::List => {
                let keys = store.admin_keys().await?;
                let rows: Vec<Vec<String>> = keys
                    .iter()
                    .map(|key| {
                        vec![
                            key.name.clone(),
                            key.scopes.to_string(),
                            rfc3339(key.created_at),
                            key.last_used_at.map_or_else(|| "never".to_owned(), rfc3339),
                        ]
                    })
                    .collect();
                print_table(&["NAME", "SCOPES", "CREATED", "LAST USED"], &rows);
                Ok(())
            }
            AdminKeysCommand::Revoke { name } => {
                let name = AdminKeyName::parse(&name)?;
                anyhow::ensure!(
                    store.revoke_admin_key(&name).await?,
                    "no admin key named {name}"
                );
                println!("revoked admin key {name}");
                Ok(())
            }
        }
    })
}
