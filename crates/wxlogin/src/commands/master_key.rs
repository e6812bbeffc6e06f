//! `wxlogin master-key`: replace the master key that seals secrets at rest while the
//! instances keep running (`rotate`), and show which key seals how many values (`status`).
//!
//! Keys are only ever read (from the environment, preferably: a command line is visible to
//! every local user in /proc) and named by their ids; nothing here prints a key.
use std::path::PathBuf;

use anyhow::{bail, Context};
use wxlogin_server::at_rest::{resolve_master_key, MasterKey};
use wxlogin_server::master_keys::{replace_dev_key_file, MasterKeys};
use wxlogin_server::storage::{ResealOptions, ResealProgress, Store, StoreOptions};

use super::database::{DatabaseArgs, MasterKeyArgs};

/// Rotate the master key that seals session keys, the WeChat access token and the signing
/// keys in the database.
#[derive(clap::Args)]
pub struct MasterKeyCommandArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub keys: MasterKeyArgs,
    #[command(subcommand)]
    pub command: MasterKeyCommand,
}

#[derive(clap::Subcommand)]
pub enum MasterKeyCommand {
    /// Re-seal every value not yet under the new key, in batches, while the instances run
    /// (they must already run with the new key as --master-key and the old one as
    /// --previous-master-key). Resumable: run it again to continue.
    Rotate(RotateArgs),
    /// How many sealed values each master key id seals.
    Status,
}

#[derive(clap::Args)]
pub struct RotateArgs {
    /// The key to seal under, standard base64 of 32 bytes. Prefer WXLOGIN_NEW_MASTER_KEY:
    /// a command line is visible to other local users.
    #[arg(long, env = "WXLOGIN_NEW_MASTER_KEY", hide_env_values = true)]
    pub new_key: String,
    /// Values per batch (one read, then one short write transaction).
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub batch_size: u32,
    /// Stop after re-sealing this many values (to do the work in slices).
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
}

pub fn run(args: MasterKeyCommandArgs) -> anyhow::Result<()> {
    warn_about_keys_on_the_command_line(&args);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match &args.command {
            MasterKeyCommand::Rotate(rotate_args) => rotate(&args, rotate_args).await,
            MasterKeyCommand::Status => status(&args).await,
        }
    })
}

/// A key given as a flag is readable by every local user in `/proc/PID/cmdline` and lands
/// in shell history; say so (never the value). clap fills a field from the flag first, so a
/// value that differs from (or has no) environment variable is the flag's.
fn warn_about_keys_on_the_command_line(args: &MasterKeyCommandArgs) {
    let new_key = match &args.command {
        MasterKeyCommand::Rotate(rotate) => Some(rotate.new_key.as_str()),
        MasterKeyCommand::Status => None,
    };
    let given = [
        (
            "--master-key",
            "WXLOGIN_MASTER_KEY",
            args.keys.master_key.as_deref(),
        ),
        (
            "--previous-master-key",
            "WXLOGIN_PREVIOUS_MASTER_KEY",
            args.keys.previous_master_key.as_deref(),
        ),
        ("--new-key", "WXLOGIN_NEW_MASTER_KEY", new_key),
    ];
    for (flag, variable, value) in given {
        let Some(value) = value else { continue };
        if !std::env::var(variable).is_ok_and(|env| env == value) {
            eprintln!(
                "warning: {flag} was given on the command line, where other local users can read \
                 it (/proc/<pid>/cmdline, shell history); set {variable} in the environment instead"
            );
        }
    }
}

/// The keys given for opening, and the development key file when that is where the key
/// being replaced came from.
struct OldKeys {
    keys: Vec<(MasterKey, &'static str)>,
    dev_key_file: Option<PathBuf>,
}

fn parse_key(text: &str, name: &str) -> anyhow::Result<MasterKey> {
    MasterKey::from_base64(text)
        .map_err(|_| anyhow::anyhow!("{name} must be standard base64 of exactly 32 bytes"))
}

/// The database must exist already; a key file is never created here (a key made up now
/// would have sealed nothing).
fn old_keys(args: &MasterKeyCommandArgs, required: bool) -> anyhow::Result<OldKeys> {
    let mut dev_key_file = None;
    let database_url = super::database::parse_database_url(&args.database.database_url)?;
    if let (Some(path), Some(key_file)) = (
        database_url.sqlite_file(),
        database_url.dev_master_key_file(),
    ) {
        anyhow::ensure!(
            path.exists(),
            "database file {} does not exist (run `wxlogin migrate` or `wxlogin serve` first)",
            path.display()
        );
        if args.keys.master_key.is_none() && key_file.exists() {
            dev_key_file = Some(key_file);
        }
    }
    let mut keys = Vec::new();
    if let Some(text) = &args.keys.master_key {
        keys.push((
            parse_key(text, "--master-key / WXLOGIN_MASTER_KEY")?,
            "--master-key",
        ));
    } else if dev_key_file.is_some() {
        let resolved = resolve_master_key(None, &database_url)?;
        keys.push((resolved.key, "development key file"));
    }
    if let Some(text) = &args.keys.previous_master_key {
        keys.push((
            parse_key(text, "--previous-master-key / WXLOGIN_PREVIOUS_MASTER_KEY")?,
            "--previous-master-key",
        ));
    }
    if required && keys.is_empty() {
        bail!(
            "no key to open the sealed values with: set WXLOGIN_MASTER_KEY to the key being replaced"
        );
    }
    Ok(OldKeys { keys, dev_key_file })
}

async fn connect(database_url: &str, keys: MasterKeys) -> anyhow::Result<Store> {
    Store::connect(database_url, &StoreOptions::default(), keys)
        .await
        .context("cannot open the database")
}

async fn rotate(args: &MasterKeyCommandArgs, rotate_args: &RotateArgs) -> anyhow::Result<()> {
    let new_key = parse_key(&rotate_args.new_key, "--new-key / WXLOGIN_NEW_MASTER_KEY")?;
    let old = old_keys(args, true)?;
    let mut keys = MasterKeys::new(new_key.clone());
    for (key, source) in &old.keys {
        println!("opening with master key id {} ({source})", key.id());
        keys = keys.with_previous(key.clone());
    }
    println!(
        "sealing under master key id {} (--new-key)",
        keys.current_id()
    );
    let store = connect(&args.database.database_url, keys).await?;
    // Additive and idempotent: the key-id columns exist even if no new instance started yet.
    store
        .migrate()
        .await
        .context("cannot migrate the database")?;

    let options = ResealOptions {
        batch_size: rotate_args.batch_size,
        limit: rotate_args.limit,
    };
    let print_progress = |progress: &ResealProgress| {
        println!(
            "{}: {}/{} re-sealed",
            progress.table.name(),
            progress.resealed,
            progress.pending_at_start
        );
    };
    let report = store
        .reseal_under_current_key(&options, print_progress)
        .await
        .context("re-sealing failed (run the command again to continue)")?;
    for (table, count) in &report.changed_meanwhile {
        println!(
            "{}: {count} values were rewritten by a server meanwhile (kept as it wrote them)",
            table.name()
        );
    }
    println!("re-sealed {} values in this run", report.total_resealed());

    if report.total_unopened() > 0 {
        for ((table, key_id), count) in &report.unopened {
            let key_id = key_id.as_deref().unwrap_or("none (sealed before key ids)");
            eprintln!(
                "{}: {count} values under master key id {key_id} open with none of the given keys",
                table.name()
            );
        }
        bail!(
            "{} sealed values could not be opened: give the key that sealed them as \
             --previous-master-key / WXLOGIN_PREVIOUS_MASTER_KEY and run again",
            report.total_unopened()
        );
    }
    let left = store.values_not_under_current_key().await?;
    if report.stopped_at_limit {
        println!(
            "stopped at --limit with {left} values left: run the same command again to continue"
        );
        return Ok(());
    }
    if left > 0 {
        bail!(
            "{left} values were written under another key while this ran: is an instance still \
             running with the old key as --master-key? Restart it with the new key and run again"
        );
    }
    println!(
        "done: every sealed value is under master key id {}",
        store.master_keys().current_id()
    );
    match &old.dev_key_file {
        Some(path) => {
            replace_dev_key_file(path, &new_key)?;
            println!(
                "the development key file {} now holds the new key: restart the server",
                path.display()
            );
        }
        None => println!(
            "restart the instances with the new key as --master-key and without --previous-master-key"
        ),
    }
    Ok(())
}

async fn status(args: &MasterKeyCommandArgs) -> anyhow::Result<()> {
    let old = old_keys(args, false)?;
    // Counting opens nothing: any key will do for the store when none is given.
    let current = old
        .keys
        .first()
        .map(|(key, _)| key.clone())
        .unwrap_or_else(MasterKey::generate);
    let store = connect(&args.database.database_url, MasterKeys::new(current)).await?;
    let counts = store.sealed_value_counts().await?;
    if counts.is_empty() {
        println!("no sealed values yet");
        return Ok(());
    }
    println!("{:<14}  {:<28}  VALUES", "TABLE", "MASTER KEY ID");
    for count in counts {
        let key_id = count.key_id.as_deref();
        let label = old
            .keys
            .iter()
            .find(|(key, _)| Some(key.id().as_str()) == key_id)
            .map(|(_, source)| format!("  ({source})"))
            .unwrap_or_default();
        println!(
            "{:<14}  {:<28}  {}{label}",
            count.table.name(),
            key_id.unwrap_or("none (before key ids)"),
            count.count
        );
    }
    Ok(())
}
