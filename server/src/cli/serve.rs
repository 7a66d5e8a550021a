//! `serve` and `demo`: the commands that run the sync server, on a real database or on a
//! synthetic region with a fleet of simulated phones. Both serve until Ctrl-C (`demo --exit`
//! ends after its summary instead).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use fieldvisit_core::clock::SystemClock;
use fieldvisit_server::admin_log::Actor;
use fieldvisit_server::app::AppState;
use fieldvisit_server::demo::{self, DemoOptions};
use fieldvisit_server::web::WebConfig;
use fieldvisit_server::{Result, enroll, storage};

use super::now;

#[derive(Args)]
pub struct ServeArgs {
    /// A SQLite file, or a PostgreSQL URL (postgres://user@host:port/dbname).
    #[arg(long, default_value = "fieldvisit.db")]
    db: String,
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The server is reached through a TLS proxy: mark the dashboard's cookies Secure.
    #[arg(long)]
    behind_tls: bool,
}

#[derive(Args)]
pub struct DemoArgs {
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Phones in the fleet.
    #[arg(long, default_value_t = 200)]
    devices: usize,
    /// A small region (3 villages, 40 households) instead of the whole city.
    #[arg(long)]
    small: bool,
    /// Keep the database here (a SQLite file, or a PostgreSQL URL
    /// postgres://user@host:port/dbname) instead of in a temporary folder.
    #[arg(long)]
    db: Option<String>,
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// End after the summary instead of serving on.
    #[arg(long)]
    exit: bool,
    /// Print the summary as one JSON object.
    #[arg(long)]
    json: bool,
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn shutdown_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

pub fn run_serve(args: ServeArgs) -> Result<ExitCode> {
    init_logging("info");
    let storage = storage::open(&args.db)?;
    let rt = runtime()?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen).await?;
        eprintln!(
            "fieldvisit-server on http://{} ({})",
            listener.local_addr()?,
            storage.describe()
        );
        let state = AppState::new(storage, Arc::new(SystemClock))?.with_web(WebConfig {
            secure_cookies: args.behind_tls,
            ..WebConfig::default()
        });
        fieldvisit_server::app::serve(listener, state, shutdown_signal()).await
    })?;
    Ok(ExitCode::SUCCESS)
}

pub fn run_demo(args: DemoArgs) -> Result<ExitCode> {
    init_logging("warn");
    let rt = runtime()?;
    let opts = DemoOptions {
        seed: args.seed,
        devices: args.devices,
        small: args.small,
        db: args.db,
        listen: args.listen,
        concurrency: args.concurrency,
    };
    let demo = demo::run(&opts, &rt)?;
    if args.json {
        println!("{}", serde_json::to_string(&demo.summary)?);
    } else {
        demo::print_summary(&demo.summary);
    }
    let ok = demo.summary.errors == 0 && demo.summary.synced == demo.summary.recorded;
    if !args.exit {
        // Serve on, so that a newcomer can point a device at this server.
        let cadre = demo.region.cadres.first().map(|c| c.id.clone());
        if let Some(cadre) = cadre {
            let code = enroll::create_code(
                demo.storage.as_ref(),
                &cadre,
                now(),
                86_400_000,
                &Actor::new("demo")?,
            )?;
            println!();
            println!("serving on http://{} — press Ctrl-C to stop", demo.address);
            println!("enroll a device for cadre {cadre} with code {}", code.code);
        }
        rt.block_on(shutdown_signal());
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
