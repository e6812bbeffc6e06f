//! A WeChat server API simulator for mini program login backends.
//!
//! * WeChat side, same paths, parameters and answers as `api.weixin.qq.com`:
//!   `/sns/jscode2session`, `/cgi-bin/token`, `/cgi-bin/stable_token`,
//!   `/wxa/business/getuserphonenumber`, `/wxa/checksession`, `/wxa/resetusersessionkey`.
//! * Device side, playing the phone: `POST /sim/login`, `/sim/phone`, `/sim/userinfo`.
//! * Control side: `/sim/faults`, `/sim/tokens/refuse`, `/sim/clock/advance`, `/sim/stats`,
//!   `/sim/reset-stats`.
//!
//! See the crate README for the behaviour chosen where WeChat documents none.

mod answer;
mod clock;
mod codes;
mod config;
mod connection;
mod control;
mod device;
mod faults;
mod ids;
mod quota;
mod server;
mod simulator;
mod stats;
mod tokens;
mod users;
mod wechat;

pub use config::{RateLimits, SimApp, SimConfig};
pub use device::{DeviceError, LoginCode, PhoneGrantData, UserInfoData};
pub use faults::{Endpoint, FaultConfig, FaultConfigError};
pub use server::SimHandle;
pub use simulator::Simulator;
pub use stats::{SimStats, UNKNOWN_APP};
