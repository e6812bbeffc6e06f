//! The wxlogin login server: HTTP API, sessions, tokens and storage.
//!
//! Storage and key material (`storage`, `at_rest`, `tokens`, `sessions`) sit under the
//! HTTP layer (`configuration`, `startup`, `routes`, `services`, ...), which only calls
//! them.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use wxlogin_client::AppCredentials;
//! use wxlogin_server::{Application, Settings};
//!
//! let mut settings = Settings::new(vec![AppCredentials::new("wx1234567890abcdef", "secret")], "sqlite://wxlogin.db");
//! settings.listen = "127.0.0.1:0".into();
//! let app = Application::build(settings).await?;
//! println!("listening on http://{}", app.local_addr());
//! app.run().await?;
//! # Ok(()) }
//! ```

pub mod at_rest;
pub mod clock;
pub mod configuration;
mod connections;
pub mod console;
pub mod domain;
pub mod error;
pub mod extractors;
pub mod master_keys;
pub mod metrics;
pub mod minute_tally;
pub mod openapi;
pub mod rate_limit;
pub mod routes;
pub mod services;
pub mod sessions;
mod single_flight;
pub mod startup;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod tokens;
pub mod webhooks;

pub use configuration::{LogFormat, Settings, SettingsLayer};
pub use error::{ApiError, ErrorCode};
pub use startup::{Application, StartupError};
pub use state::AppState;
