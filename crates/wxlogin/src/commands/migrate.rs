#[derive(clap::Args)]
pub struct MigrateArgs {}

pub fn run(_args: MigrateArgs) -> anyhow::Result<()> {
    anyhow::bail!("wxlogin migrate: not built yet")
}
