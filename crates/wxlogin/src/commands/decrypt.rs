//! `wxlogin decrypt`: what a developer reaches for when a phone number "won't decrypt".
//! Prints the plaintext JSON, or one line saying what is wrong and what to do.
use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use wxlogin_crypto::{decrypt_value, CryptoError, SessionKey, Watermark, WatermarkPolicy};

#[derive(clap::Args)]
pub struct DecryptArgs {
    /// The user's session_key from code2Session (24 base64 characters). Prefer the
    /// environment variable: command lines are visible to other local users.
    #[arg(long, env = "WXLOGIN_SESSION_KEY", hide_env_values = true)]
    session_key: String,

    /// The iv that came with encryptedData (base64).
    #[arg(long)]
    iv: String,

    /// encryptedData (base64), or `-` to read it from standard input. A `+` turned into a
    /// space and line breaks are repaired.
    #[arg(long)]
    data: String,

    /// Check that the watermark belongs to this AppID.
    #[arg(long)]
    appid: Option<String>,

    /// With --appid: reject data whose watermark is older than this many seconds.
    #[arg(long, value_name = "SECS", requires = "appid")]
    max_age: Option<i64>,
}

pub fn run(args: DecryptArgs) -> ExitCode {
    match decrypt_to_pretty_json(&args) {
        Ok(json) => {
            let mut stdout = std::io::stdout().lock();
            match writeln!(stdout, "{json}").and_then(|()| stdout.flush()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => fail(&format!("cannot write to standard output: {error}")),
            }
        }
        Err(message) => fail(&message),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("wxlogin decrypt: {message}");
    ExitCode::FAILURE
}

/// The error is a single line, ready for stderr; it never contains the key or plaintext.
fn decrypt_to_pretty_json(args: &DecryptArgs) -> Result<String, String> {
    let data = if args.data == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|error| format!("cannot read encryptedData from standard input: {error}"))?;
        text
    } else {
        args.data.clone()
    };
    let key = SessionKey::from_base64(&args.session_key)
        .map_err(|error: CryptoError| error.to_string())?;
    let payload =
        decrypt_value(&key, &args.iv, &data).map_err(|error: CryptoError| error.to_string())?;
    if let Some(appid) = &args.appid {
        let policy = WatermarkPolicy {
            appid: appid.clone(),
            max_age_secs: args.max_age,
        };
        let watermark =
            Watermark::from_payload(&payload).map_err(|error: CryptoError| error.to_string())?;
        policy
            .check(watermark.as_ref(), unix_now())
            .map_err(|error: CryptoError| error.to_string())?;
    }
    serde_json::to_string_pretty(&payload).map_err(|error| format!("cannot print JSON: {error}"))
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
