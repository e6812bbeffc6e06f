//! Criterion micro-benchmarks of access tokens, for each algorithm (ES256, the default, and
//! EdDSA): sign (a JWT with the current key) and verify (header, published key, signature,
//! issuer, audience, expiry), through the server's `SigningKeys`. `verify` checks the
//! signature every time (cache off); `verify_cached` is a client presenting the same token
//! again (the default policy). `bench/run-crypto.sh` runs them.
use std::collections::BTreeSet;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use wxlogin_server::at_rest::MasterKey;
use wxlogin_server::storage::{unix_now, Store, StoreOptions};
use wxlogin_server::tokens::{
    AccessClaims, AccessTokenRules, KeyPolicy, SigningAlgorithm, SigningKeys,
};

const APPID: &str = "wxbench0000000001";

fn tokens(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let now = unix_now();
    for algorithm in [SigningAlgorithm::ES256, SigningAlgorithm::EdDSA] {
        bench_algorithm(c, &runtime, algorithm, now);
    }
}

fn bench_algorithm(
    c: &mut Criterion,
    runtime: &tokio::runtime::Runtime,
    algorithm: SigningAlgorithm,
    now: i64,
) {
    let policy = KeyPolicy {
        algorithm,
        ..KeyPolicy::default()
    };
    let (keys, uncached_keys) = runtime.block_on(async {
        let store = Store::connect(
            "sqlite::memory:",
            &StoreOptions::default(),
            MasterKey::generate(),
        )
        .await
        .unwrap();
        store.migrate().await.unwrap();
        let keys = SigningKeys::load_or_create(store.clone(), policy.clone(), now)
            .await
            .unwrap();
        let no_cache = KeyPolicy {
            access_token_cache_size: 0,
            ..policy
        };
        let uncached_keys = SigningKeys::load(store, no_cache).await.unwrap();
        (keys, uncached_keys)
    });
    let claims = AccessClaims {
        iss: "wxlogin".into(),
        sub: "0b7a5f4e-2f57-4d51-9d52-7f0c1f3f6f3a".into(),
        aud: APPID.into(),
        sid: "5d0e8a64-7c1b-4f0e-9a7e-2b6f1c3d4e5f".into(),
        iat: now,
        exp: now + 1800,
        roles: Vec::new(),
    };
    let rules = AccessTokenRules {
        issuer: "wxlogin".into(),
        audiences: BTreeSet::from([APPID.to_string()]),
        leeway_seconds: 0,
    };
    let token = runtime.block_on(keys.sign(&claims)).unwrap();

    let mut group = c.benchmark_group(format!("access_token_{algorithm}"));
    group.throughput(Throughput::Elements(1));
    group.bench_function("sign", |b| {
        b.iter(|| runtime.block_on(keys.sign(black_box(&claims))).unwrap())
    });
    group.bench_function("verify", |b| {
        b.iter(|| {
            runtime
                .block_on(uncached_keys.verify(black_box(&token), &rules, now))
                .unwrap()
        })
    });
    group.bench_function("verify_cached", |b| {
        b.iter(|| {
            runtime
                .block_on(keys.verify(black_box(&token), &rules, now))
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, tokens);
criterion_main!(benches);
