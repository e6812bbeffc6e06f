//! The typed identifiers bind as the text they hold, so queries take them as they are,
//! and read back from their text columns.
use super::error::SqlError;
use super::sql::{IntoValue, Kind, Row, Value};
use crate::domain::{
    AdminKeyHash, AppId, ConsoleTokenHash, LoginCodeHash, OpenId, RefreshTokenHash, SessionId,
    UnionId, UserId,
};

macro_rules! binds_as_text {
    ($($name:ty),*) => {$(
        impl IntoValue for &$name {
            const KIND: Kind = Kind::Text;
            fn into_value(self) -> Value {
                self.as_str().into_value()
            }
        }
    )*};
}

binds_as_text!(
    AdminKeyHash,
    ConsoleTokenHash,
    AppId,
    OpenId,
    UnionId,
    UserId,
    SessionId,
    RefreshTokenHash,
    LoginCodeHash
);

impl Row {
    /// The id in text column `column`.
    pub(crate) fn id<T: From<String>>(&self, column: &str) -> Result<T, SqlError> {
        Ok(T::from(self.try_get::<String>(column)?))
    }

    /// The id in nullable text column `column`.
    pub(crate) fn optional_id<T: From<String>>(&self, column: &str) -> Result<Option<T>, SqlError> {
        Ok(self.try_get::<Option<String>>(column)?.map(T::from))
    }
}
