//! `wxlogin webhooks`: the recent webhook deliveries, and reviving a dead one.
use wxlogin_server::storage::{rfc3339, unix_now, DeliveryStatus};
use wxlogin_server::webhooks::display_url;

use super::database::{block_on, DatabaseArgs};
use super::users::print_table;

#[derive(clap::Args)]
pub struct WebhooksArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(subcommand)]
    pub command: WebhooksCommand,
}

#[derive(clap::Subcommand)]
pub enum WebhooksCommand {
    /// Recent deliveries, newest first: id, event id and type, webhook, status, attempts,
    /// next attempt, last error.
    List {
        /// How many deliveries to show.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Put a dead delivery back to pending: it is sent at once, and retried for another
    /// full retry period if it fails.
    Retry {
        /// The delivery's id (the first column of `wxlogin webhooks list`).
        id: i64,
    },
}

pub fn run(args: WebhooksArgs) -> anyhow::Result<()> {
    block_on(async {
        let store = args.database.open_unsealed().await?;
        match args.command {
            WebhooksCommand::List { limit } => {
                let deliveries = store.recent_webhook_deliveries(limit.min(1000)).await?;
                let rows: Vec<Vec<String>> = deliveries
                    .iter()
                    .map(|delivery| {
                        vec![
                            delivery.id.to_string(),
                            delivery.event_id.clone(),
                            delivery.event_type.clone(),
                            display_url(&delivery.webhook),
                            delivery.status.as_str().to_owned(),
                            delivery.attempts.to_string(),
                            match delivery.status {
                                DeliveryStatus::Pending => rfc3339(delivery.next_attempt_at),
                                _ => "-".to_owned(),
                            },
                            delivery
                                .last_error
                                .clone()
                                .unwrap_or_else(|| "-".to_owned()),
                        ]
                    })
                    .collect();
                print_table(
                    &[
                        "ID",
                        "EVENT",
                        "TYPE",
                        "WEBHOOK",
                        "STATUS",
                        "ATTEMPTS",
                        "NEXT ATTEMPT",
                        "LAST ERROR",
                    ],
                    &rows,
                );
                Ok(())
            }
            WebhooksCommand::Retry { id } => {
                if store.retry_webhook_delivery(id, unix_now()).await? {
                    println!("delivery {id} is pending again: a running server sends it shortly");
                    return Ok(());
                }
                match store.webhook_delivery(id).await? {
                    None => anyhow::bail!("there is no webhook delivery {id}"),
                    Some(delivery) if delivery.status == DeliveryStatus::Dead => anyhow::bail!(
                        "delivery {id} is for {}, which is no longer configured (as the last \
                         server started): configure it again, with its secret, to retry",
                        display_url(&delivery.webhook)
                    ),
                    Some(delivery) => anyhow::bail!(
                        "delivery {id} is {}, not dead: only a dead delivery is retried",
                        delivery.status.as_str()
                    ),
                }
            }
        }
    })
}
