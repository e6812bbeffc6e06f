//! Helpers behind the benchmark commands of `bench/` (see BENCHMARKS.md): the bare-handler
//! ceiling, the single-core crypto measurement compared with wechatpy, and database seeding.

pub mod crypto_peer;
pub mod seed;
