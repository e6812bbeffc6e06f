#[derive(clap::Args)]
pub struct KeysArgs {}

pub fn run(_args: KeysArgs) -> anyhow::Result<()> {
    anyhow::bail!("wxlogin keys: not built yet")
}
