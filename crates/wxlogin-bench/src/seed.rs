//! Fill a wxlogin database (SQLite or PostgreSQL) with many users and live sessions, fast,
//! for the benchmarks, and hand back valid tokens for a sample of them.
//!
//! The schema, signing keys and access tokens come from the server's own API (`Store`,
//! `SigningKeys`); only the bulk rows are written with plain SQL, in big transactions of
//! multi-row inserts, in the shape the server writes them (UUID ids, sealed session keys
//! bound to their row, refresh tokens stored as their SHA-256).
use std::time::Duration;
use wxlogin_server::domain::{AppId, OpenId, SessionId, UserId};

use rand::RngCore;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, PgConnection, SqliteConnection};
use wxlogin_server::at_rest::MasterKey;
use wxlogin_server::storage::{unix_now, Store, StoreOptions};
use wxlogin_server::tokens::{
    hash_refresh_token, AccessClaims, KeyPolicy, RefreshToken, SigningKeys,
};

/// What to seed.
#[derive(Debug, Clone)]
pub struct SeedPlan {
    /// `sqlite://PATH` or `postgres://…`; a fresh database is expected (ids are random, so
    /// re-seeding adds rows).
    pub database_url: String,
    /// Standard base64 of the 32-byte master key the server will run with.
    pub master_key: String,
    pub appid: String,
    /// The `iss` the server writes and accepts (its default is `wxlogin`).
    pub issuer: String,
    pub users: u64,
    /// How many users, spread evenly over all of them, get a token pair handed back.
    pub sampled: u64,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
}

/// Token pairs of the sampled users (one access token and one refresh token each).
pub struct SeededTokens {
    pub access_tokens: Vec<String>,
    pub refresh_tokens: Vec<String>,
}

/// Why seeding failed.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("master key: {0}")]
    MasterKey(String),
    #[error("storage: {0}")]
    Storage(#[from] wxlogin_server::storage::StorageError),
    #[error("signing: {0}")]
    Token(#[from] wxlogin_server::tokens::TokenError),
    #[error("database: {0}")]
    Sqlite(#[from] sqlx::Error),
    #[error("the database URL must be sqlite://PATH or postgres://…")]
    NotSqlite,
}

/// Rows per INSERT statement and per transaction.
const ROWS_PER_STATEMENT: usize = 400;
const ROWS_PER_TRANSACTION: u64 = 50_000;

struct SeededUser {
    user_id: String,
    openid: String,
    session_id: String,
    refresh_hash: String,
    sealed_session_key: Vec<u8>,
}

/// One transaction of multi-row inserts of `$batch` (a macro: one body for both drivers).
macro_rules! insert_batch {
    ($connection:expr, $batch:expr, $appid:expr, $now:expr, $expires_at:expr) => {{
        let (batch, appid, now, expires_at): (&[SeededUser], &str, i64, i64) =
            ($batch, $appid, $now, $expires_at);
        let mut transaction = $connection.begin().await?;
        for chunk in batch.chunks(ROWS_PER_STATEMENT) {
            let mut users =
                sqlx::QueryBuilder::new("INSERT INTO users (id, created_at, updated_at) ");
            users.push_values(chunk, |mut row, user| {
                row.push_bind(&user.user_id).push_bind(now).push_bind(now);
            });
            users.build().execute(&mut *transaction).await?;

            let mut identities = sqlx::QueryBuilder::new(
                "INSERT INTO identities (appid, openid, user_id, created_at) ",
            );
            identities.push_values(chunk, |mut row, user| {
                row.push_bind(appid)
                    .push_bind(&user.openid)
                    .push_bind(&user.user_id)
                    .push_bind(now);
            });
            identities.build().execute(&mut *transaction).await?;

            let mut session_keys = sqlx::QueryBuilder::new(
                "INSERT INTO session_keys (appid, openid, sealed, updated_at) ",
            );
            session_keys.push_values(chunk, |mut row, user| {
                row.push_bind(appid)
                    .push_bind(&user.openid)
                    .push_bind(&user.sealed_session_key)
                    .push_bind(now);
            });
            session_keys.build().execute(&mut *transaction).await?;

            let mut sessions = sqlx::QueryBuilder::new(
                "INSERT INTO sessions (id, user_id, appid, openid, created_at, expires_at) ",
            );
            sessions.push_values(chunk, |mut row, user| {
                row.push_bind(&user.session_id)
                    .push_bind(&user.user_id)
                    .push_bind(appid)
                    .push_bind(&user.openid)
                    .push_bind(now)
                    .push_bind(expires_at);
            });
            sessions.build().execute(&mut *transaction).await?;

            let mut refresh_tokens = sqlx::QueryBuilder::new(
                "INSERT INTO refresh_tokens (hash, session_id, issued_at, expires_at) ",
            );
            refresh_tokens.push_values(chunk, |mut row, user| {
                row.push_bind(&user.refresh_hash)
                    .push_bind(&user.session_id)
                    .push_bind(now)
                    .push_bind(expires_at);
            });
            refresh_tokens.build().execute(&mut *transaction).await?;
        }
        transaction.commit().await?;
    }};
}

/// Seed `plan.users` users, each with one identity in `plan.appid`, a sealed session key,
/// one live session and one unspent refresh token; sign access tokens for the sample.
pub async fn seed(plan: &SeedPlan) -> Result<SeededTokens, SeedError> {
    let master_key = || {
        MasterKey::from_base64(&plan.master_key)
            .map_err(|error| SeedError::MasterKey(error.to_string()))
    };
    let url = plan.database_url.as_str();
    let postgres = url.starts_with("postgres://") || url.starts_with("postgresql://");
    if !postgres && !url.starts_with("sqlite://") {
        return Err(SeedError::NotSqlite);
    }
    let now = unix_now();
    let store = Store::connect(&plan.database_url, &StoreOptions::default(), master_key()?).await?;
    store.migrate().await?;
    let keys =
        SigningKeys::load_or_create(store.clone(), KeyPolicy::new(plan.access_token_ttl), now)
            .await?;
    store.database().close().await;

    let mut connection = if postgres {
        SeedConnection::Postgres(PgConnection::connect(url).await?)
    } else {
        // Seeding only: durability does not matter until the last commit.
        SeedConnection::Sqlite(
            SqliteConnection::connect_with(
                &SqliteConnectOptions::new()
                    .filename(url.strip_prefix("sqlite://").unwrap_or(url))
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Off),
            )
            .await?,
        )
    };
    let sealer = master_key()?;
    let expires_at = now + plan.refresh_token_ttl.as_secs() as i64;
    let every = (plan.users / plan.sampled.max(1)).max(1);
    let mut tokens = SeededTokens {
        access_tokens: Vec::new(),
        refresh_tokens: Vec::new(),
    };
    let mut next = 0u64;
    while next < plan.users {
        let batch_end = (next + ROWS_PER_TRANSACTION).min(plan.users);
        let mut batch = Vec::with_capacity((batch_end - next) as usize);
        for index in next..batch_end {
            let openid = format!("o-bench-{index:012}");
            let user = SeededUser {
                user_id: uuid::Uuid::new_v4().to_string(),
                session_id: uuid::Uuid::new_v4().to_string(),
                refresh_hash: String::new(),
                sealed_session_key: {
                    let mut session_key = [0u8; 16];
                    rand::rngs::OsRng.fill_bytes(&mut session_key);
                    sealer.seal(
                        &session_key,
                        &wxlogin_server::storage::session_key_binding(
                            &AppId::configured(plan.appid.as_str()),
                            &OpenId::new(&openid),
                        ),
                    )
                },
                openid,
            };
            let user = if index % every == 0 && (tokens.refresh_tokens.len() as u64) < plan.sampled
            {
                let refresh = RefreshToken::generate();
                let claims = AccessClaims {
                    iss: plan.issuer.clone(),
                    sub: UserId::new(user.user_id.as_str()),
                    aud: AppId::configured(plan.appid.as_str()),
                    sid: SessionId::new(user.session_id.as_str()),
                    iat: now,
                    exp: now + plan.access_token_ttl.as_secs() as i64,
                    roles: Vec::new(),
                };
                tokens.access_tokens.push(keys.sign(&claims).await?);
                tokens.refresh_tokens.push(refresh.expose().to_string());
                SeededUser {
                    refresh_hash: refresh.hash().into_string(),
                    ..user
                }
            } else {
                let mut random = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut random);
                SeededUser {
                    refresh_hash: hash_refresh_token(&hex::encode(random)).into_string(),
                    ..user
                }
            };
            batch.push(user);
        }
        match &mut connection {
            SeedConnection::Sqlite(connection) => {
                insert_batch!(connection, &batch, &plan.appid, now, expires_at)
            }
            SeedConnection::Postgres(connection) => {
                insert_batch!(connection, &batch, &plan.appid, now, expires_at)
            }
        }
        next = batch_end;
    }
    match connection {
        SeedConnection::Sqlite(connection) => connection.close().await?,
        SeedConnection::Postgres(mut connection) => {
            // Planner statistics now, as a long-running database has them, rather than
            // from autovacuum in the middle of a measurement.
            sqlx::query("ANALYZE").execute(&mut connection).await?;
            connection.close().await?
        }
    }
    Ok(tokens)
}

/// The bulk writer's connection: the same statements on either database.
enum SeedConnection {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}
