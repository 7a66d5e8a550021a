//! The server as one axum application: the state every handler shares ([`AppState`]), the
//! router that joins the phones' API (`crate::http`) and the dashboard with its admin API
//! (`crate::web`) under one set of layers, and [`serve`]. `http` and `web` are siblings that
//! know nothing of each other's routes; this is the only module that names both.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::{Extension, Router};
use tower_http::compression::CompressionLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use fieldvisit_core::clock::Clock;

use crate::dictionary::Dictionaries;
use crate::http::ApiState;
use crate::storage::Storage;
use crate::sync::batch::GroupCommitter;
use crate::web::{WebConfig, WebState};

/// What the application shares: the storage, the clock, the group-commit writer, the
/// compression dictionaries and the dashboard's settings.
#[derive(Clone)]
pub struct AppState {
    pub storage: Arc<dyn Storage>,
    pub clock: Arc<dyn Clock>,
    committer: GroupCommitter,
    dictionaries: Arc<Dictionaries>,
    /// The dashboard's settings (`crate::web`).
    pub web: WebConfig,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("storage", &self.storage.describe())
            .finish()
    }
}

impl AppState {
    /// The state for a server on `storage`; starts the group-commit writer thread.
    pub fn new(storage: Arc<dyn Storage>, clock: Arc<dyn Clock>) -> std::io::Result<AppState> {
        let committer = GroupCommitter::start(storage.clone())?;
        Ok(AppState {
            storage,
            clock,
            committer,
            dictionaries: Arc::default(),
            web: WebConfig::default(),
        })
    }

    /// The same state with other dashboard settings.
    pub fn with_web(mut self, web: WebConfig) -> AppState {
        self.web = web;
        self
    }

    /// What the phones' API handlers see.
    fn api(&self) -> ApiState {
        ApiState {
            storage: self.storage.clone(),
            clock: self.clock.clone(),
            committer: self.committer.clone(),
            dictionaries: self.dictionaries.clone(),
        }
    }

    /// What the dashboard's handlers see.
    fn dashboard(&self) -> WebState {
        WebState {
            storage: self.storage.clone(),
            clock: self.clock.clone(),
            web: self.web,
        }
    }
}

/// Every route of the server: the phones' API and the dashboard, compressed, bounded in time
/// and traced alike; and the OpenAPI document of their `/v1` routes, served by
/// `crate::http::openapi::serve`.
pub fn router(state: AppState) -> Router {
    let (api, web, doc) = assemble();
    // Serializing a document of plain maps and strings cannot fail; if it ever did, the
    // document's route would answer 500 rather than the server refuse to start.
    let served = doc
        .and_then(|doc| crate::http::openapi::Served::new(&doc))
        .ok();
    let router = Router::new()
        .merge(api.with_state(state.api()))
        .merge(web.with_state(state.dashboard()));
    let router = match served {
        Some(served) => router.layer(Extension(served)),
        None => router,
    };
    router
        .layer(CompressionLayer::new().gzip(true).zstd(true))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(60),
        ))
        .layer(TraceLayer::new_for_http())
}

/// The OpenAPI document `GET /v1/openapi.json` serves: the head (`crate::http::openapi`)
/// with the descriptions of the phones' routes and of the admin API's.
pub fn openapi() -> serde_json::Result<serde_json::Value> {
    assemble().2
}

/// The two route sets and the document made from both.
fn assemble() -> (
    Router<ApiState>,
    Router<WebState>,
    serde_json::Result<serde_json::Value>,
) {
    let (api, api_doc) = crate::http::routes().split_for_parts();
    let (web, web_doc) = crate::web::routes().split_for_parts();
    let mut doc = crate::http::openapi::base();
    doc.merge(api_doc);
    doc.merge(web_doc);
    (api, web, crate::http::openapi::finish(doc))
}

/// Serves on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
