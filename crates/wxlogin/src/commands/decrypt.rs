use std::process::ExitCode;

#[derive(clap::Args)]
pub struct DecryptArgs {}

pub fn run(_args: DecryptArgs) -> ExitCode {
    eprintln!("wxlogin decrypt: not built yet");
    ExitCode::FAILURE
}
