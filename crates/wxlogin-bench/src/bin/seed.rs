//! `seed --database-url sqlite://PATH|postgres://… --master-key B64 --appid APPID --users N --sampled M
//! --out DIR`: fill a fresh wxlogin database with N users and live sessions and write the
//! token pairs of M of them to DIR/access_tokens.txt and DIR/refresh_tokens.txt.
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use wxlogin_bench::seed::{seed, SeedPlan};

#[derive(Parser)]
#[command(
    about = "Seed a wxlogin database (SQLite or PostgreSQL) with users and sessions for the benchmarks"
)]
struct Args {
    #[arg(long)]
    database_url: String,
    #[arg(long, env = "WXLOGIN_MASTER_KEY", hide_env_values = true)]
    master_key: String,
    #[arg(long)]
    appid: String,
    #[arg(long, default_value = "wxlogin")]
    issuer: String,
    #[arg(long)]
    users: u64,
    #[arg(long, default_value_t = 10_000)]
    sampled: u64,
    /// Access-token lifetime in seconds (as the server's --access-token-ttl).
    #[arg(long, default_value_t = 1800)]
    access_token_ttl: u64,
    #[arg(long)]
    out: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let plan = SeedPlan {
        database_url: args.database_url,
        master_key: args.master_key,
        appid: args.appid,
        issuer: args.issuer,
        users: args.users,
        sampled: args.sampled.min(args.users),
        access_token_ttl: Duration::from_secs(args.access_token_ttl),
        refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
    };
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let tokens = runtime.block_on(seed(&plan))?;
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(
        args.out.join("access_tokens.txt"),
        tokens.access_tokens.join("\n") + "\n",
    )?;
    std::fs::write(
        args.out.join("refresh_tokens.txt"),
        tokens.refresh_tokens.join("\n") + "\n",
    )?;
    eprintln!(
        "seeded {} users and sessions ({} token pairs) in {:.1} s",
        plan.users,
        tokens.access_tokens.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
