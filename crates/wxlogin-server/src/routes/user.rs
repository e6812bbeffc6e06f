//! The user as the HTTP contract shows it (login, refresh and `/v1/me` answers): the
//! store's [`User`] with its ids as text and `created_at` as RFC 3339.
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::PhoneText;
use crate::storage::{rfc3339, User};

/// `Debug` masks the phone number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = User)]
pub struct UserBody {
    pub id: String,
    pub appid: String,
    pub openid: String,
    pub unionid: Option<String>,
    #[schema(value_type = Option<String>)]
    pub phone_number: Option<PhoneText>,
    pub nickname: Option<String>,
    pub avatar_url: Option<String>,
    /// RFC 3339, e.g. `2026-11-21T23:22:26Z`.
    pub created_at: String,
    /// Given by the team's backend (`PUT /admin/v1/users/{id}/roles`); carried by the
    /// access tokens as the `roles` claim.
    pub roles: Vec<String>,
}

impl From<User> for UserBody {
    fn from(user: User) -> Self {
        UserBody {
            id: user.id.into_string(),
            appid: user.appid.into_string(),
            openid: user.openid.into_string(),
            unionid: user.unionid.map(|unionid| unionid.into_string()),
            phone_number: user.phone_number,
            nickname: user.nickname,
            avatar_url: user.avatar_url,
            created_at: rfc3339(user.created_at),
            roles: user.roles,
        }
    }
}
