//! Log output: text for people, JSON for collectors. Filter from `RUST_LOG`, default
//! `info` for this server and warnings for libraries.
use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{EnvFilter, Registry};

use crate::layered::{given_as_itself, settings_group};

settings_group! {
    /// How log lines are written.
    pub struct LogSettings, layer LogLayer {
        /// Log format: text or json
        #[arg(long, env = "WXLOGIN_LOG_FORMAT")]
        pub log_format: LogFormat = LogFormat::Text,
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("log format must be text or json, got {other:?}")),
        }
    }
}

impl std::fmt::Display for LogFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        })
    }
}

given_as_itself!(LogFormat);

pub const DEFAULT_FILTER: &str =
    "warn,wxlogin=info,wxlogin_server=info,wxlogin_client=info,wxlogin_sim=info,tower_http=info";

/// A subscriber writing plain (uncoloured) lines to `writer`, filtered by `RUST_LOG` or
/// `default_filter`.
pub fn subscriber<W>(
    format: LogFormat,
    default_filter: &str,
    writer: W,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    build(format, default_filter, writer, false)
}

/// Install the process-wide subscriber (stderr; coloured only on a terminal). Returns
/// false if one was already set.
pub fn init(format: LogFormat) -> bool {
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing::subscriber::set_global_default(build(format, DEFAULT_FILTER, std::io::stderr, ansi))
        .is_ok()
}

fn build<W>(
    format: LogFormat,
    default_filter: &str,
    writer: W,
    ansi: bool,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let registry = Registry::default().with(filter);
    match format {
        LogFormat::Text => Box::new(
            registry.with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(ansi)
                    .with_writer(writer),
            ),
        ),
        LogFormat::Json => Box::new(
            registry.with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_writer(writer),
            ),
        ),
    }
}
