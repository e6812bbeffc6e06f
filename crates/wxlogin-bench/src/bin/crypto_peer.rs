//! `crypto-peer --payloads FILE --iterations N`: time the open-data decryptions on one
//! thread and print one JSON line per operation (see bench/crypto_peer.sh).
use std::path::PathBuf;

use clap::Parser;
use wxlogin_bench::crypto_peer::{measure, Operation, PayloadFile};

#[derive(Parser)]
#[command(about = "Single-thread ops/s of the open-data decryptions, for the wechatpy comparison")]
struct Args {
    /// The payload file written by bench/make_payloads.py.
    #[arg(long)]
    payloads: PathBuf,
    /// Timed iterations per operation (after a warm-up of a tenth of that).
    #[arg(long, default_value_t = 200_000)]
    iterations: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let file = PayloadFile::read(&args.payloads)?;
    for operation in Operation::ALL {
        let measurement = measure(&file, operation, args.iterations)?;
        println!("{}", serde_json::to_string(&measurement)?);
    }
    Ok(())
}
