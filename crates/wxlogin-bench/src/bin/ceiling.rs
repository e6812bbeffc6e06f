//! `ceiling --listen ADDR`: the bare-handler ceiling of the HTTP benchmarks. The same axum
//! and tokio (multi-thread runtime, one worker per core, as `wxlogin serve`) with no
//! middleware, no database and no crypto: each route answers a small JSON body, so the
//! load scripts run unchanged against it and the difference to wxlogin is wxlogin's own work.
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Parser;
use serde::Serialize;

#[derive(Parser)]
#[command(
    about = "Bare axum handlers returning a small JSON body: the ceiling for bench/run-http.sh"
)]
struct Args {
    /// Address to listen on; port 0 picks a free port. The chosen address is printed.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
}

/// About the size of wxlogin's `user` answer.
#[derive(Serialize)]
struct SmallBody {
    id: &'static str,
    appid: &'static str,
    openid: &'static str,
    unionid: Option<&'static str>,
    phone_number: Option<&'static str>,
    nickname: Option<&'static str>,
    avatar_url: Option<&'static str>,
    created_at: i64,
}

const BODY: SmallBody = SmallBody {
    id: "0b7a5f4e-2f57-4d51-9d52-7f0c1f3f6f3a",
    appid: "wxbench0000000001",
    openid: "o-bench-000000000000000000001",
    unionid: None,
    phone_number: None,
    nickname: None,
    avatar_url: None,
    created_at: 1_700_000_000,
};

async fn answer() -> Json<SmallBody> {
    Json(BODY)
}

/// POST routes parse their JSON body as wxlogin's would before answering.
async fn answer_post(Json(_body): Json<serde_json::Value>) -> Json<SmallBody> {
    Json(BODY)
}

fn router() -> Router {
    Router::new()
        .route("/v1/me", get(answer))
        .route("/healthz", get(answer))
        .route("/v1/token/refresh", post(answer_post))
        .route("/v1/login", post(answer_post))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen).await?;
        println!("listening on http://{}", listener.local_addr()?);
        axum::serve(listener, router())
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        Ok(())
    })
}
