use std::time::Duration;

use anyhow::Context;
use wxlogin_server::storage::{rfc3339, unix_now};

use super::database::{DatabaseArgs, MasterKeyArgs};
use wxlogin_server::tokens::{KeyPolicy, SigningKeys};

/// Manage the keys that sign access tokens (ES256 or EdDSA).
#[derive(clap::Args)]
pub struct KeysArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub keys: MasterKeyArgs,
    /// Access-token lifetime in seconds, as the server is configured: a retired key stays
    /// in the JWKS this long plus 5 minutes.
    #[arg(
        long,
        env = "WXLOGIN_ACCESS_TOKEN_TTL",
        value_name = "SECS",
        default_value_t = 1800,
        global = true
    )]
    pub access_token_ttl: u64,
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(clap::Subcommand)]
pub enum KeysCommand {
    /// Add a new current signing key. The previous key stays in the JWKS until the tokens
    /// it signed have expired.
    Rotate {
        /// The new key's algorithm: ES256 or EdDSA (moves a running deployment from one to
        /// the other without logging anyone out) [default: ES256]
        #[arg(long, value_name = "ALG")]
        alg: Option<wxlogin_server::tokens::SigningAlgorithm>,
    },
    /// List the keys: current, still published, or retired.
    List,
}

pub fn run(args: KeysArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store = super::database::open_existing_store(
            &args.database.database_url,
            args.keys.master_key.as_deref(),
            args.keys.previous_master_key.as_deref(),
        )
        .await?;
        let policy = KeyPolicy::new(Duration::from_secs(args.access_token_ttl));
        let keys = SigningKeys::load(store, policy)
            .await
            .context("cannot read the signing keys (is this the master key the server uses?)")?;
        match args.command {
            KeysCommand::Rotate { alg } => {
                let previous = keys.current_kid();
                let alg = alg.unwrap_or_default();
                let kid = keys.rotate_to(alg, unix_now()).await?;
                println!("new current key: {kid}");
                println!("algorithm: {alg}");
                if let Some(previous) = previous {
                    println!(
                        "previous key {previous} stays in the JWKS for {} s (access-token lifetime + margin)",
                        args.access_token_ttl + keys.policy().retirement_margin.as_secs()
                    );
                }
            }
            KeysCommand::List => list(&keys),
        }
        Ok(())
    })
}

fn list(keys: &SigningKeys) {
    let summaries = keys.summaries(unix_now());
    if summaries.is_empty() {
        println!("no signing keys yet (the server creates the first one when it starts)");
        return;
    }
    println!(
        "{:<45}  {:<5}  {:<20}  {:<20}  STATE",
        "KID", "ALG", "CREATED", "RETIRED"
    );
    for key in summaries {
        let state = if key.current {
            "current"
        } else if key.published {
            "retired, still in JWKS"
        } else {
            "retired"
        };
        let retired = key
            .retired_at
            .map(rfc3339)
            .unwrap_or_else(|| "-".to_string());
        println!(
            "{:<45}  {:<5}  {:<20}  {:<20}  {state}",
            key.kid,
            key.algorithm.as_str(),
            rfc3339(key.created_at),
            retired
        );
    }
}
