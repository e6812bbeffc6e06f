//! The server over real HTTP: each module spawns the real app on 127.0.0.1:0 against an
//! in-process simulator (see [`helpers`]) and drives one part of the contract. One binary,
//! so the crate and its dependencies are linked once, not once per file.
//!
//! Two suites need a process of their own and stay beside this one: `api_probes.rs` (the
//! live-session gauge is process-wide, and every other app here would set it too) and
//! `api_secrets.rs` (it installs the global log subscriber at trace level to scan every
//! line).

mod helpers;

mod admin;
mod concurrency;
mod connections;
mod console;
mod database_faults;
mod hostile_input;
mod http;
mod login;
mod model_interleavings;
mod open_data;
mod rate_limits;
mod security_tokens;
mod session_cache;
mod sessions;
mod upstream_faults;
mod webhook_snippets;
mod webhooks;
