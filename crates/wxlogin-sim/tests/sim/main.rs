//! The simulator over HTTP: WeChat side through the real wxlogin-client, device and control
//! sides through plain reqwest. One test binary, one module per area.
mod support;

mod access_token;
mod code2session;
mod device;
mod faults;
mod limits;
mod phone_number;
mod session_key;
mod wire_format;
