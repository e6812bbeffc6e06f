//! The console's two languages. Every word a page shows is a field of [`Texts`], so a
//! missing translation is a compile error, not an English word on a Chinese page.
//!
//! The language is the `wxlogin_console_lang` cookie (set by the page's switch) or else the
//! best of `Accept-Language`: Chinese for any `zh` tag, English otherwise.
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};

pub const LANG_COOKIE: &str = "wxlogin_console_lang";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    /// `<html lang>`.
    pub fn html_lang(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        match code {
            "en" => Some(Lang::En),
            "zh" => Some(Lang::Zh),
            _ => None,
        }
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::En => &EN,
            Lang::Zh => &ZH,
        }
    }

    /// The cookie, else `Accept-Language` (highest weight first, the earlier tag on a tie).
    pub fn of(headers: &HeaderMap) -> Lang {
        if let Some(lang) = super::session::cookie(headers, LANG_COOKIE).and_then(Lang::parse) {
            return lang;
        }
        let accepted = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        let mut best: Option<(f32, Lang)> = None;
        for item in accepted.split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let weight = parts
                .find_map(|param| param.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let lang = if tag == "zh" || tag.starts_with("zh-") {
                Lang::Zh
            } else if tag == "en" || tag.starts_with("en-") {
                Lang::En
            } else {
                continue;
            };
            if weight > 0.0 && best.is_none_or(|(top, _)| weight > top) {
                best = Some((weight, lang));
            }
        }
        best.map_or(Lang::En, |(_, lang)| lang)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Lang::of(&parts.headers))
    }
}

/// Every text of the console in one language.
pub struct Texts {
    pub product: &'static str,
    pub sign_in_title: &'static str,
    pub admin_key: &'static str,
    pub sign_in: &'static str,
    pub sign_in_hint: &'static str,
    pub key_refused: &'static str,
    pub key_lacks_console: &'static str,
    pub too_many_sign_ins: &'static str,
    pub form_expired: &'static str,
    pub sign_out: &'static str,
    pub signed_in_as: &'static str,
    pub nav_overview: &'static str,
    pub nav_users: &'static str,
    pub nav_events: &'static str,
    pub nav_keys: &'static str,
    pub overview: &'static str,
    pub logins_last_hour: &'static str,
    pub logins_last_day: &'static str,
    pub chart_logins_hour: &'static str,
    pub chart_logins_day: &'static str,
    pub successful: &'static str,
    pub refused: &'static str,
    pub minutes_ago: &'static str,
    pub hours_ago: &'static str,
    pub now: &'static str,
    pub outcomes: &'static str,
    pub outcome: &'static str,
    pub count: &'static str,
    pub upstream_errors: &'static str,
    pub no_upstream_errors: &'static str,
    pub endpoint: &'static str,
    pub errcode: &'static str,
    pub upstream_latency: &'static str,
    pub chart_latency: &'static str,
    pub average_latency: &'static str,
    pub calls: &'static str,
    pub active_sessions: &'static str,
    pub webhook_backlog: &'static str,
    pub dead_deliveries: &'static str,
    pub figures_note: &'static str,
    pub users: &'static str,
    pub search_users: &'static str,
    pub search: &'static str,
    pub search_hint: &'static str,
    pub col_user: &'static str,
    pub col_openid: &'static str,
    pub col_phone: &'static str,
    pub col_nickname: &'static str,
    pub col_created: &'static str,
    pub no_user_matches: &'static str,
    pub next_page: &'static str,
    pub user: &'static str,
    pub identities: &'static str,
    pub col_appid: &'static str,
    pub col_unionid: &'static str,
    pub sessions: &'static str,
    pub col_session: &'static str,
    pub col_expires: &'static str,
    pub col_revoked: &'static str,
    pub no_sessions: &'static str,
    pub roles: &'static str,
    pub roles_hint: &'static str,
    pub save_roles: &'static str,
    pub roles_saved: &'static str,
    pub revoke_sessions: &'static str,
    pub delete_account: &'static str,
    pub confirm: &'static str,
    pub cancel: &'static str,
    pub confirm_revoke: &'static str,
    pub confirm_delete: &'static str,
    pub sessions_ended: &'static str,
    pub account_deleted: &'static str,
    pub user_not_found: &'static str,
    pub page_not_found: &'static str,
    pub bad_request: &'static str,
    pub events_title: &'static str,
    pub recent_events: &'static str,
    pub no_events: &'static str,
    pub col_type: &'static str,
    pub col_occurred: &'static str,
    pub webhook_deliveries: &'static str,
    pub no_deliveries: &'static str,
    pub col_event: &'static str,
    pub col_webhook: &'static str,
    pub col_state: &'static str,
    pub col_attempts: &'static str,
    pub col_last_error: &'static str,
    pub retry: &'static str,
    pub delivery_retried: &'static str,
    pub delivery_not_retried: &'static str,
    pub keys: &'static str,
    pub signing_keys: &'static str,
    pub col_kid: &'static str,
    pub col_alg: &'static str,
    pub key_current: &'static str,
    pub key_published: &'static str,
    pub key_retired: &'static str,
    pub rotate_signing_key: &'static str,
    pub confirm_rotate: &'static str,
    pub signing_key_rotated: &'static str,
    pub admin_keys: &'static str,
    pub col_name: &'static str,
    pub col_scopes: &'static str,
    pub col_last_used: &'static str,
    pub never: &'static str,
    pub revoke: &'static str,
    pub confirm_revoke_key: &'static str,
    pub admin_key_revoked: &'static str,
    pub create_admin_key: &'static str,
    pub name: &'static str,
    pub scopes: &'static str,
    pub create_key: &'static str,
    pub new_admin_key: &'static str,
    pub shown_only_now: &'static str,
    pub name_taken: &'static str,
    pub back: &'static str,
    pub internal_error: &'static str,
}

pub static EN: Texts = Texts {
    product: "wxlogin console",
    sign_in_title: "Sign in to wxlogin",
    admin_key: "Admin key",
    sign_in: "Sign in",
    sign_in_hint: "Use an admin key with the console scope: wxlogin admin-keys create --name ops --scopes console",
    key_refused: "This admin key was refused.",
    key_lacks_console: "This admin key lacks the console scope.",
    too_many_sign_ins: "Too many refused sign-ins from your address: wait a minute and try again.",
    form_expired: "This form has expired or did not come from this console: reload the page and try again.",
    sign_out: "Sign out",
    signed_in_as: "Signed in as",
    nav_overview: "Overview",
    nav_users: "Users",
    nav_events: "Events",
    nav_keys: "Keys",
    overview: "Overview",
    logins_last_hour: "Logins in the last hour",
    logins_last_day: "Logins in the last day",
    chart_logins_hour: "Logins per minute over the last hour",
    chart_logins_day: "Logins per hour over the last day",
    successful: "successful",
    refused: "refused",
    minutes_ago: "min ago",
    hours_ago: "h ago",
    now: "now",
    outcomes: "Outcomes",
    outcome: "Outcome",
    count: "Count",
    upstream_errors: "Upstream errors",
    no_upstream_errors: "No WeChat call failed in the last day.",
    endpoint: "Endpoint",
    errcode: "errcode",
    upstream_latency: "Upstream latency",
    chart_latency: "Average WeChat call latency per minute over the last hour",
    average_latency: "Average latency (last hour)",
    calls: "Calls (last hour)",
    active_sessions: "Active sessions",
    webhook_backlog: "Webhook backlog",
    dead_deliveries: "Dead deliveries",
    figures_note: "Figures of every instance sharing this database; the other instances' last seconds arrive within 10 s.",
    users: "Users",
    search_users: "Search users",
    search: "Search",
    search_hint: "A user id, openid, unionid or full phone number (exact), or the start of a nickname.",
    col_user: "User",
    col_openid: "Openid",
    col_phone: "Phone",
    col_nickname: "Nickname",
    col_created: "Created",
    no_user_matches: "No user matches.",
    next_page: "Next page",
    user: "User",
    identities: "Identities",
    col_appid: "Appid",
    col_unionid: "Unionid",
    sessions: "Sessions",
    col_session: "Session",
    col_expires: "Expires",
    col_revoked: "Revoked",
    no_sessions: "No sessions.",
    roles: "Roles",
    roles_hint: "Comma-separated; tokens issued from now on carry them.",
    save_roles: "Save roles",
    roles_saved: "Roles saved.",
    revoke_sessions: "Revoke sessions",
    delete_account: "Delete account",
    confirm: "Confirm",
    cancel: "Cancel",
    confirm_revoke: "Every session of this user ends at once, on every instance: their tokens stop working and the mini program must log in again.",
    confirm_delete: "The account is deleted: identities, session keys, sessions and tokens. Only its user.deleted event stays. The person's next login creates a new user. This cannot be undone.",
    sessions_ended: "Every session of this user has ended.",
    account_deleted: "The account was deleted.",
    user_not_found: "No user with this id.",
    page_not_found: "This page does not exist.",
    bad_request: "This request was refused",
    events_title: "Events and webhooks",
    recent_events: "Recent events",
    no_events: "No events yet.",
    col_type: "Type",
    col_occurred: "Occurred",
    webhook_deliveries: "Webhook deliveries",
    no_deliveries: "No webhook deliveries (configure one with --webhook-url).",
    col_event: "Event",
    col_webhook: "Webhook",
    col_state: "State",
    col_attempts: "Attempts",
    col_last_error: "Last error",
    retry: "Retry",
    delivery_retried: "The delivery will be sent again.",
    delivery_not_retried: "This delivery cannot be retried (not dead, or its webhook is no longer configured).",
    keys: "Keys",
    signing_keys: "Signing keys",
    col_kid: "Key id",
    col_alg: "Algorithm",
    key_current: "signing",
    key_published: "published",
    key_retired: "retired",
    rotate_signing_key: "Rotate signing key",
    confirm_rotate: "A new key signs from now on; the old one stays published until the tokens it signed expire, so nobody is logged out.",
    signing_key_rotated: "A new signing key is in use.",
    admin_keys: "Admin keys",
    col_name: "Name",
    col_scopes: "Scopes",
    col_last_used: "Last used",
    never: "never",
    revoke: "Revoke",
    confirm_revoke_key: "This admin key stops working at once on every instance, and console sessions signed in with it end.",
    admin_key_revoked: "The admin key was revoked.",
    create_admin_key: "Create an admin key",
    name: "Name",
    scopes: "Scopes",
    create_key: "Create key",
    new_admin_key: "New admin key",
    shown_only_now: "Shown only now: copy it into your secret store. It cannot be shown again.",
    name_taken: "An admin key with this name exists already.",
    back: "Back",
    internal_error: "Something went wrong on the server; the error is in its log.",
};

pub static ZH: Texts = Texts {
    product: "wxlogin 控制台",
    sign_in_title: "登录 wxlogin",
    admin_key: "管理密钥",
    sign_in: "登录",
    sign_in_hint: "使用具有 console 权限的管理密钥：wxlogin admin-keys create --name ops --scopes console",
    key_refused: "此管理密钥被拒绝。",
    key_lacks_console: "此管理密钥没有 console 权限。",
    too_many_sign_ins: "登录失败次数过多，请一分钟后再试。",
    form_expired: "此表单已过期或并非来自本控制台，请刷新页面后重试。",
    sign_out: "退出登录",
    signed_in_as: "当前密钥",
    nav_overview: "概览",
    nav_users: "用户",
    nav_events: "事件",
    nav_keys: "密钥",
    overview: "概览",
    logins_last_hour: "最近一小时的登录",
    logins_last_day: "最近一天的登录",
    chart_logins_hour: "最近一小时每分钟的登录次数",
    chart_logins_day: "最近一天每小时的登录次数",
    successful: "成功",
    refused: "失败",
    minutes_ago: "分钟前",
    hours_ago: "小时前",
    now: "现在",
    outcomes: "结果",
    outcome: "结果",
    count: "次数",
    upstream_errors: "上游错误",
    no_upstream_errors: "最近一天没有失败的微信调用。",
    endpoint: "接口",
    errcode: "errcode",
    upstream_latency: "上游延迟",
    chart_latency: "最近一小时每分钟微信调用的平均延迟",
    average_latency: "平均延迟（最近一小时）",
    calls: "调用次数（最近一小时）",
    active_sessions: "活跃会话",
    webhook_backlog: "Webhook 积压",
    dead_deliveries: "失败的投递",
    figures_note: "数据来自共享此数据库的所有实例；其他实例最近几秒的数据会在 10 秒内到达。",
    users: "用户",
    search_users: "搜索用户",
    search: "搜索",
    search_hint: "用户 ID、openid、unionid 或完整手机号（精确匹配），或昵称的开头。",
    col_user: "用户",
    col_openid: "Openid",
    col_phone: "手机号",
    col_nickname: "昵称",
    col_created: "创建时间",
    no_user_matches: "没有匹配的用户。",
    next_page: "下一页",
    user: "用户",
    identities: "身份",
    col_appid: "Appid",
    col_unionid: "Unionid",
    sessions: "会话",
    col_session: "会话",
    col_expires: "过期时间",
    col_revoked: "撤销时间",
    no_sessions: "没有会话。",
    roles: "角色",
    roles_hint: "用逗号分隔；此后签发的令牌会带上这些角色。",
    save_roles: "保存角色",
    roles_saved: "角色已保存。",
    revoke_sessions: "撤销会话",
    delete_account: "删除账号",
    confirm: "确认",
    cancel: "取消",
    confirm_revoke: "该用户的所有会话会立即在所有实例上结束：其令牌失效，小程序需要重新登录。",
    confirm_delete: "账号将被删除：身份、会话密钥、会话和令牌。只保留 user.deleted 事件。此人下次登录会创建一个新用户。此操作无法撤销。",
    sessions_ended: "该用户的所有会话已结束。",
    account_deleted: "账号已删除。",
    user_not_found: "没有此 ID 的用户。",
    page_not_found: "此页面不存在。",
    bad_request: "请求被拒绝",
    events_title: "事件与 Webhook",
    recent_events: "最近的事件",
    no_events: "还没有事件。",
    col_type: "类型",
    col_occurred: "发生时间",
    webhook_deliveries: "Webhook 投递",
    no_deliveries: "没有 Webhook 投递（用 --webhook-url 配置）。",
    col_event: "事件",
    col_webhook: "Webhook",
    col_state: "状态",
    col_attempts: "尝试次数",
    col_last_error: "最近错误",
    retry: "重试",
    delivery_retried: "该投递将重新发送。",
    delivery_not_retried: "此投递无法重试（不是失败状态，或其 Webhook 已不再配置）。",
    keys: "密钥",
    signing_keys: "签名密钥",
    col_kid: "密钥 ID",
    col_alg: "算法",
    key_current: "签名中",
    key_published: "已发布",
    key_retired: "已停用",
    rotate_signing_key: "轮换签名密钥",
    confirm_rotate: "从现在起由新密钥签名；旧密钥会继续发布，直到它签发的令牌过期，因此不会有人被登出。",
    signing_key_rotated: "新的签名密钥已启用。",
    admin_keys: "管理密钥",
    col_name: "名称",
    col_scopes: "权限",
    col_last_used: "最近使用",
    never: "从未",
    revoke: "撤销",
    confirm_revoke_key: "此管理密钥会立即在所有实例上失效，用它登录的控制台会话也会结束。",
    admin_key_revoked: "管理密钥已撤销。",
    create_admin_key: "创建管理密钥",
    name: "名称",
    scopes: "权限",
    create_key: "创建密钥",
    new_admin_key: "新的管理密钥",
    shown_only_now: "仅显示这一次：请复制到你的密钥存储中，之后无法再次显示。",
    name_taken: "已存在同名的管理密钥。",
    back: "返回",
    internal_error: "服务器出错了；错误已记录在其日志中。",
};

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn lang_of(accept_language: &str, cookie: Option<&str>) -> Lang {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_str(accept_language).unwrap(),
        );
        if let Some(cookie) = cookie {
            headers.insert(header::COOKIE, HeaderValue::from_str(cookie).unwrap());
        }
        Lang::of(&headers)
    }

    #[test]
    fn accept_language_picks_chinese_for_any_zh_tag_and_english_otherwise() {
        assert_eq!(lang_of("zh-CN,zh;q=0.9,en;q=0.8", None), Lang::Zh);
        assert_eq!(lang_of("zh-Hans", None), Lang::Zh);
        assert_eq!(lang_of("en-US,en;q=0.9,zh;q=0.5", None), Lang::En);
        assert_eq!(lang_of("fr-FR,de;q=0.8", None), Lang::En);
        assert_eq!(lang_of("", None), Lang::En);
        assert_eq!(lang_of("fr, zh;q=0.4", None), Lang::Zh);
        assert_eq!(lang_of("zh;q=0, en;q=0.1", None), Lang::En);
    }

    #[test]
    fn the_switch_cookie_wins_over_accept_language() {
        assert_eq!(lang_of("zh-CN", Some("wxlogin_console_lang=en")), Lang::En);
        assert_eq!(
            lang_of("en", Some("a=b; wxlogin_console_lang=zh")),
            Lang::Zh
        );
        assert_eq!(lang_of("zh-CN", Some("wxlogin_console_lang=xx")), Lang::Zh);
    }
}
