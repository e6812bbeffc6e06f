pub mod decrypt;
pub mod demo;
pub mod keys;
pub mod master_key;
pub mod migrate;
pub mod serve;
pub mod sim;
pub mod users;
