//! How the server talks to WeChat, and how long what WeChat gave stays usable.
use std::time::Duration;

use crate::layered::{settings_group, Seconds};

settings_group! {
    /// Calls to WeChat and the life of what they return.
    pub struct WechatSettings, layer WechatLayer {
        /// Where WeChat's API is
        #[arg(long, env = "WXLOGIN_WECHAT_BASE_URL")]
        pub wechat_base_url: String = "https://api.weixin.qq.com".to_owned(),
        /// Deadline of one call to WeChat, in seconds
        #[arg(long, env = "WXLOGIN_WECHAT_TIMEOUT", value_name = "SECS")]
        pub wechat_timeout: Duration as Seconds = Duration::from_secs(5),
        /// How long a retried login code still gets a token pair (for the same user) instead of
        /// code_used, in seconds
        #[arg(long, env = "WXLOGIN_CODE_RETRY_WINDOW", value_name = "SECS")]
        pub code_retry_window: Duration as Seconds = Duration::from_secs(60),
        // WeChat publishes no value; five minutes matches the life of the codes the same
        // button yields, which a real client uses at once.
        /// Maximum age of the watermark of legacy encrypted data, in seconds
        #[arg(long, env = "WXLOGIN_WATERMARK_MAX_AGE", value_name = "SECS")]
        pub watermark_max_age: Duration as Seconds = Duration::from_secs(300),
        // Off by default: the openid is optional, one developer reports a format error
        // whenever it is sent, and WxJava sends it only when asked to.
        /// Send the caller's openid with getuserphonenumber so WeChat checks the phone code
        /// is that user's (optional in WeChat's API; one report says WeChat then answers a
        /// format error)
        #[arg(long, env = "WXLOGIN_PHONE_SEND_OPENID", num_args = 0, default_missing_value = "true")]
        pub phone_send_openid: bool = false,
    }
}
