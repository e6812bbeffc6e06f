use anyhow::Context;
use wxlogin_server::domain::{mask_phone_number, UserId};
use wxlogin_server::storage::{rfc3339, unix_now, Actor, Store, UserRecord};

use super::database::{block_on, open_existing_store, DatabaseArgs, MasterKeyArgs};

/// Inspect users and end their sessions.
#[derive(clap::Args)]
pub struct UsersArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Phone numbers are sealed: showing them (masked) takes the server's master key.
    #[command(flatten)]
    pub keys: MasterKeyArgs,
    #[command(subcommand)]
    pub command: UsersCommand,
}

#[derive(clap::Subcommand)]
pub enum UsersCommand {
    /// List users, oldest first (phone numbers masked).
    List {
        /// How many users to show.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// How many users to skip.
        #[arg(long, default_value_t = 0)]
        offset: u64,
    },
    /// Show one user with all their app identities.
    Show {
        /// The user id.
        id: String,
    },
    /// End every session of a user: their access and refresh tokens stop working at once.
    Revoke {
        /// The user id.
        id: String,
    },
    /// Delete a user's account: identities, session keys, sessions and tokens, in one
    /// transaction (only its `user.deleted` event stays). Their next login is a new user.
    Delete {
        /// The user id.
        id: String,
    },
}

pub fn run(args: UsersArgs) -> anyhow::Result<()> {
    block_on(async {
        match &args.command {
            // Showing users opens their sealed phone numbers: the server's master key.
            UsersCommand::List { limit, offset } => {
                list(&sealed(&args).await?, *limit, *offset).await
            }
            UsersCommand::Show { id } => show(&sealed(&args).await?, &UserId::new(id)).await,
            // Ending sessions and deleting touch nothing sealed: no key needed.
            UsersCommand::Revoke { id } => {
                revoke(&args.database.open_unsealed().await?, &UserId::new(id)).await
            }
            UsersCommand::Delete { id } => {
                delete(&args.database.open_unsealed().await?, &UserId::new(id)).await
            }
        }
    })
}

async fn sealed(args: &UsersArgs) -> anyhow::Result<Store> {
    open_existing_store(
        &args.database.database_url,
        args.keys.master_key.as_deref(),
        args.keys.previous_master_key.as_deref(),
    )
    .await
}

fn identities_text(user: &UserRecord) -> String {
    user.identities
        .iter()
        .map(|(appid, openid)| format!("{appid}/{openid}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|title| title.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.iter().map(|title| title.to_string()).collect());
    for row in rows {
        line(row.clone());
    }
}

async fn list(store: &Store, limit: u32, offset: u64) -> anyhow::Result<()> {
    let users = store.list_users(limit, offset).await?;
    let total = store.count_users().await?;
    let dash = || "-".to_string();
    let rows: Vec<Vec<String>> = users
        .iter()
        .map(|user| {
            vec![
                user.id.to_string(),
                rfc3339(user.created_at),
                user.phone
                    .as_ref()
                    .map(|phone| mask_phone_number(&phone.phone_number))
                    .unwrap_or_else(dash),
                user.nickname.clone().unwrap_or_else(dash),
                user.unionid.as_ref().map_or_else(dash, ToString::to_string),
                identities_text(user),
            ]
        })
        .collect();
    print_table(
        &[
            "ID",
            "CREATED",
            "PHONE",
            "NICKNAME",
            "UNIONID",
            "APP/OPENID",
        ],
        &rows,
    );
    println!("({} of {total} user(s), from #{})", users.len(), offset + 1);
    Ok(())
}

async fn show(store: &Store, id: &UserId) -> anyhow::Result<()> {
    let user = store
        .user_record(id)
        .await?
        .with_context(|| format!("no user with id {id}"))?;
    let active = store.count_active_user_sessions(id, unix_now()).await?;
    let or_dash = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".to_string());
    println!("id:              {}", user.id);
    println!("created:         {}", rfc3339(user.created_at));
    println!("updated:         {}", rfc3339(user.updated_at));
    println!(
        "unionid:         {}",
        or_dash(&user.unionid.as_ref().map(ToString::to_string))
    );
    match &user.phone {
        Some(phone) => println!(
            "phone:           {} (country code {})",
            mask_phone_number(&phone.phone_number),
            phone.country_code
        ),
        None => println!("phone:           -"),
    }
    println!("nickname:        {}", or_dash(&user.nickname));
    println!("avatar_url:      {}", or_dash(&user.avatar_url));
    for (appid, openid) in &user.identities {
        println!("identity:        appid {appid}, openid {openid}");
    }
    println!("active sessions: {active}");
    Ok(())
}

async fn revoke(store: &Store, id: &UserId) -> anyhow::Result<()> {
    anyhow::ensure!(store.user_exists(id).await?, "no user with id {id}");
    let ended = store.revoke_user(id, Actor::Operator, unix_now()).await?;
    println!("ended {ended} session(s) of user {id}");
    Ok(())
}

async fn delete(store: &Store, id: &UserId) -> anyhow::Result<()> {
    anyhow::ensure!(
        store.delete_user(id, Actor::Operator, unix_now()).await?,
        "no user with id {id}"
    );
    println!("deleted user {id}: identities, session keys, sessions and tokens are gone");
    Ok(())
}
