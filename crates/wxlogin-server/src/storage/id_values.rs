//! The typed identifiers bind as the text they hold and read back from their text columns,
//! so queries take them and `Row::try_get` gives them as they are.
use sqlx::postgres::PgRow;

use super::sql::{FromColumn, IntoValue, Kind, SqliteValue, Value};
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

        impl FromColumn for $name {
            fn from_sqlite(value: &SqliteValue) -> Option<Self> {
                String::from_sqlite(value).map(<$name>::from)
            }

            fn from_postgres(row: &PgRow, column: &str) -> Result<Self, sqlx::Error> {
                String::from_postgres(row, column).map(<$name>::from)
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
