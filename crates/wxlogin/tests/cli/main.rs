//! The built `wxlogin` binary as users and operators run it: its commands, `wxlogin serve`
//! processes (killed, restarted, several on one database), and the soak's smoke mode.
//! Processes are started through [`helpers`]. One test binary, so it is linked once, not
//! once per file.

mod helpers;

mod admin_commands;
mod crash_recovery;
mod decrypt;
mod demo;
mod master_key_rotation;
mod multi_instance;
mod serve;
mod soak_smoke;
mod webhook_crash;
mod webhooks;
