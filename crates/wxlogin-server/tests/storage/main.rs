//! The store and the token layer without HTTP, on a fresh database per test: a temporary
//! SQLite file, and PostgreSQL too when `WXLOGIN_TEST_POSTGRES_URL` is set (see
//! [`helpers`]). One binary, so the crate is linked once, not once per file.

mod helpers;

mod access_token_lease;
mod database;
mod login_codes;
mod master_key;
mod secrets;
mod sqlite_files;
mod tokens_jwt;
mod tokens_sessions;
mod user_changes;
mod users;
