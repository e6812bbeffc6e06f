#[derive(clap::Args)]
pub struct UsersArgs {}

pub fn run(_args: UsersArgs) -> anyhow::Result<()> {
    anyhow::bail!("wxlogin users: not built yet")
}
