//! Fresh PostgreSQL databases (`CREATE DATABASE t_<random>`) on the server named by
//! `WXLOGIN_TEST_POSTGRES_URL`, so tests running at once never share data.
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{Connection, Executor, PgConnection};

pub const POSTGRES_URL_VARIABLE: &str = "WXLOGIN_TEST_POSTGRES_URL";

/// The PostgreSQL server tests may create databases on, if any.
pub fn test_postgres_url() -> Option<String> {
    std::env::var(POSTGRES_URL_VARIABLE)
        .ok()
        .filter(|url| !url.trim().is_empty())
}

/// [`test_postgres_url`], or a printed line saying why `test` does not run.
pub fn postgres_or_skip(test: &str) -> Option<String> {
    let url = test_postgres_url();
    if url.is_none() {
        eprintln!(
            "SKIPPED {test}: {POSTGRES_URL_VARIABLE} is not set. `./scripts/test` sets it to a \
             throw-away PostgreSQL cluster when PostgreSQL is installed (CI always has it)."
        );
    }
    url
}

/// A new, empty database. Drop it with [`FreshDatabase::drop_database`] once every
/// process using it has ended (a failed test leaves it behind in the throw-away cluster).
pub struct FreshDatabase {
    pub url: String,
    pub name: String,
    admin_url: String,
}

impl FreshDatabase {
    pub async fn create(admin_url: &str) -> FreshDatabase {
        let name = format!("t_{}", unique_suffix());
        let mut admin = PgConnection::connect(admin_url)
            .await
            .unwrap_or_else(|error| panic!("{POSTGRES_URL_VARIABLE} is reachable: {error}"));
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("CREATE DATABASE");
        admin.close().await.ok();
        FreshDatabase {
            url: with_database(admin_url, &name),
            name,
            admin_url: admin_url.to_owned(),
        }
    }

    pub async fn drop_database(self) {
        if let Ok(mut admin) = PgConnection::connect(&self.admin_url).await {
            let _ = admin
                .execute(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name).as_str())
                .await;
            admin.close().await.ok();
        }
    }
}

/// Lowercase, unquoted-identifier safe, unique across processes and calls.
pub fn unique_suffix() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or(0);
    format!(
        "{:x}_{:x}_{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// `url` with its database (path) replaced, user, host and query kept.
pub fn with_database(url: &str, database: &str) -> String {
    let scheme_end = url.find("://").map_or(0, |index| index + 3);
    let (scheme, rest) = url.split_at(scheme_end);
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let query = tail.find('?').map_or("", |index| &tail[index..]);
    format!("{scheme}{authority}/{database}{query}")
}

#[test]
fn database_is_replaced_in_urls() {
    assert_eq!(
        with_database("postgres://wxlogin@127.0.0.1:5432/postgres", "t_1"),
        "postgres://wxlogin@127.0.0.1:5432/t_1"
    );
    assert_eq!(
        with_database("postgres://u:p@h:1/db?sslmode=disable", "t_2"),
        "postgres://u:p@h:1/t_2?sslmode=disable"
    );
    assert_eq!(
        with_database("postgresql://u@h", "t_3"),
        "postgresql://u@h/t_3"
    );
}
