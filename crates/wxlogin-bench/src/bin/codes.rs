//! `codes --sim URL --appid APPID --count N --out FILE`: ask the simulator's device side
//! for N fresh login codes of N distinct users (as N phones calling wx.login) and write one
//! login request body per line, for the login benchmark.
use std::path::PathBuf;

use clap::Parser;
use futures::{stream, StreamExt, TryStreamExt};

#[derive(Parser)]
#[command(about = "Fresh wx.login codes from the simulator, one /v1/login body per line")]
struct Args {
    /// Base URL of `wxlogin sim` (loopback).
    #[arg(long)]
    sim: String,
    #[arg(long)]
    appid: String,
    #[arg(long)]
    count: u64,
    /// Distinguishes the users of one run from those of another.
    #[arg(long, default_value = "bench")]
    user_prefix: String,
    #[arg(long)]
    out: PathBuf,
}

#[derive(serde::Deserialize)]
struct CodeAnswer {
    code: String,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Runtime::new()?;
    let bodies: Vec<String> = runtime.block_on(async {
        let client = reqwest::Client::new();
        let url = format!("{}/sim/login", args.sim.trim_end_matches('/'));
        stream::iter(0..args.count)
            .map(|index| {
                let (client, url) = (client.clone(), url.clone());
                let user = format!("{}-{index}", args.user_prefix);
                let appid = args.appid.clone();
                async move {
                    let answer: CodeAnswer = client
                        .post(&url)
                        .json(&serde_json::json!({"appid": appid, "user": user}))
                        .send()
                        .await?
                        .error_for_status()?
                        .json()
                        .await?;
                    anyhow::Ok(serde_json::json!({"code": answer.code}).to_string())
                }
            })
            .buffered(32)
            .try_collect()
            .await
    })?;
    std::fs::write(&args.out, bodies.join("\n") + "\n")?;
    Ok(())
}
