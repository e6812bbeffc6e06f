//! The `wxlogin` command: one binary for the server, the simulator and the tools around them.
use clap::{Parser, Subcommand};

mod commands;

#[derive(Parser)]
#[command(
    name = "wxlogin",
    version,
    about = "Login backend for WeChat Mini Programs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the login server.
    Serve(Box<commands::serve::ServeArgs>),
    /// Run the WeChat API simulator.
    Sim(commands::sim::SimArgs),
    /// Run the whole login flow, as a phone would, against an in-process server and simulator.
    Demo(commands::demo::DemoArgs),
    /// Decrypt a mini program's encryptedData with a session key (for debugging).
    Decrypt(commands::decrypt::DecryptArgs),
    /// Inspect users and end their sessions.
    Users(commands::users::UsersArgs),
    /// Manage the access-token signing keys.
    Keys(commands::keys::KeysArgs),
    /// Replace the master key that seals secrets at rest, while the instances run.
    MasterKey(commands::master_key::MasterKeyCommandArgs),
    /// Create or upgrade the database schema.
    Migrate(commands::migrate::MigrateArgs),
    /// Manage the admin API keys of the team's backend and operators.
    AdminKeys(commands::admin_keys::AdminKeysArgs),
    /// Show what admin keys and operators changed.
    Audit(commands::audit::AuditArgs),
    /// List webhook deliveries; retry a dead one.
    Webhooks(commands::webhooks::WebhooksArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Decrypt(args) => return commands::decrypt::run(args),
        Command::Serve(args) => commands::serve::run(*args),
        Command::Sim(args) => commands::sim::run(args),
        Command::Demo(args) => commands::demo::run(args),
        Command::Users(args) => commands::users::run(args),
        Command::Keys(args) => commands::keys::run(args),
        Command::Migrate(args) => commands::migrate::run(args),
        Command::MasterKey(args) => commands::master_key::run(args),
        Command::AdminKeys(args) => commands::admin_keys::run(args),
        Command::Audit(args) => commands::audit::run(args),
        Command::Webhooks(args) => commands::webhooks::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap checks a command line only when it is built (two flattened argument structs
    /// of one name, a flag declared twice): build every subcommand's here, not at a
    /// user's first run.
    #[test]
    fn every_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
