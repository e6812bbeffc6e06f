//! Real processes for the multi-instance tests: several `wxlogin serve` instances on one
//! PostgreSQL database, all calling one in-process WeChat simulator; fresh databases on the
//! server named by `WXLOGIN_TEST_POSTGRES_URL`; a private PostgreSQL cluster a test may stop
//! and start; and a small JSON HTTP client.

pub mod database;
pub mod deployment;
pub mod http;
pub mod private_cluster;
pub mod process;
