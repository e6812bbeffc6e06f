//! Fresh stores for the storage and token tests: always a temporary SQLite file, and also
//! PostgreSQL when `WXLOGIN_TEST_POSTGRES_URL` is set (one new schema per store, so tests
//! run in parallel on one server).

use std::path::PathBuf;

use sqlx::Executor;
use wxlogin_server::at_rest::MasterKey;
use wxlogin_server::storage::{Store, StoreOptions};

/// A migrated store on a throw-away database, and the URL and key to open it again (as a
/// second "instance").
pub struct TestStore {
    pub label: &'static str,
    pub url: String,
    pub master_key: MasterKey,
    pub store: Store,
    sqlite_dir: Option<PathBuf>,
}

impl TestStore {
    /// Another handle (own pool) on the same database, as a second server instance would have.
    pub async fn another_instance(&self) -> Store {
        Store::connect(&self.url, &StoreOptions::default(), self.master_key.clone())
            .await
            .expect("second handle connects")
    }

    /// A raw pool on the same database, for reading columns as they are stored.
    pub async fn raw_pool(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        sqlx::any::AnyPoolOptions::new()
            .max_connections(2)
            .connect(&self.url)
            .await
            .expect("raw pool connects")
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        if let Some(dir) = &self.sqlite_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// One fresh, migrated store per available backend.
pub async fn fresh_stores() -> Vec<TestStore> {
    let mut stores = vec![fresh_sqlite().await];
    if let Some(postgres) = fresh_postgres().await {
        stores.push(postgres);
    }
    stores
}

pub async fn fresh_sqlite() -> TestStore {
    let dir = std::env::temp_dir().join(format!("wxlogin-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = format!("sqlite://{}", dir.join("wxlogin.db").display());
    let master_key = MasterKey::generate();
    let store = Store::connect(&url, &StoreOptions::default(), master_key.clone())
        .await
        .expect("sqlite store connects");
    store.migrate().await.expect("sqlite migrations apply");
    TestStore {
        label: "sqlite",
        url,
        master_key,
        store,
        sqlite_dir: Some(dir),
    }
}

/// The URL of a new, empty schema on the PostgreSQL server named by
/// `WXLOGIN_TEST_POSTGRES_URL`, or `None` when it is not set.
pub async fn empty_postgres_schema_url() -> Option<String> {
    let base = std::env::var("WXLOGIN_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty())?;
    let schema = format!("wxt_{}", uuid::Uuid::new_v4().simple());
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&base)
        .await
        .expect("PostgreSQL from WXLOGIN_TEST_POSTGRES_URL is reachable");
    pool.execute(format!("CREATE SCHEMA {schema}").as_str())
        .await
        .expect("create test schema");
    pool.close().await;
    let separator = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{separator}options[search_path]={schema}"))
}

/// A store in a new schema of the PostgreSQL server named by `WXLOGIN_TEST_POSTGRES_URL`.
pub async fn fresh_postgres() -> Option<TestStore> {
    let url = empty_postgres_schema_url().await?;
    let master_key = MasterKey::generate();
    let store = Store::connect(&url, &StoreOptions::default(), master_key.clone())
        .await
        .expect("postgres store connects");
    store.migrate().await.expect("postgres migrations apply");
    Some(TestStore {
        label: "postgres",
        url,
        master_key,
        store,
        sqlite_dir: None,
    })
}

/// Signs anything with the store's current signing key, as only the server itself (or an
/// attacker holding its database and master key) could: what the verifier does with
/// claims the server would never have written.
pub struct ServerKey {
    pub kid: String,
    pub algorithm: jsonwebtoken::Algorithm,
    pub encoding: jsonwebtoken::EncodingKey,
    /// SEC1 uncompressed for P-256, the raw 32 bytes for Ed25519 (as stored). Read by the
    /// api suite's forged-token tests, not by this one.
    #[allow(dead_code)]
    pub public_key: Vec<u8>,
}

impl ServerKey {
    pub async fn of(store: &Store) -> ServerKey {
        let keys = store.signing_keys().await.unwrap();
        let key = keys
            .iter()
            .rev()
            .find(|key| key.retired_at.is_none())
            .expect("a current key");
        let (algorithm, encoding) = match key.algorithm.as_str() {
            "EdDSA" => {
                use ed25519_dalek::pkcs8::EncodePrivateKey;
                let signing = ed25519_dalek::SigningKey::from_bytes(&key.secret_key);
                let der = signing.to_pkcs8_der().unwrap();
                (
                    jsonwebtoken::Algorithm::EdDSA,
                    jsonwebtoken::EncodingKey::from_ed_der(der.as_bytes()),
                )
            }
            "ES256" => {
                use p256::pkcs8::EncodePrivateKey;
                let signing =
                    p256::ecdsa::SigningKey::from_slice(key.secret_key.as_slice()).unwrap();
                let der = signing.to_pkcs8_der().unwrap();
                (
                    jsonwebtoken::Algorithm::ES256,
                    jsonwebtoken::EncodingKey::from_ec_der(der.as_bytes()),
                )
            }
            other => panic!("unknown key algorithm {other}"),
        };
        ServerKey {
            kid: key.kid.clone(),
            algorithm,
            encoding,
            public_key: key.public_key.clone(),
        }
    }

    pub fn sign(&self, claims: &impl serde::Serialize) -> String {
        let mut header = jsonwebtoken::Header::new(self.algorithm);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}
