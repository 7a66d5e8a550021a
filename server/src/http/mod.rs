//! The HTTP face of the server (axum): `POST /v1/enroll`, `POST /v1/sync`, `GET /v1/health`,
//! `GET /v1/openapi.json`.
//! Bodies are JSON, gzip- or zstd-compressed either way; storage work runs on blocking threads
//! so that slow disks never stall the async workers.

pub mod error;

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use tower_http::compression::CompressionLayer;
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::trace::TraceLayer;

use fieldvisit_core::clock::{Clock, ServerTime};
use fieldvisit_core::sync::protocol::{
    EnrollRequest, EnrollResponse, MAX_REQUEST_BYTES, PROTOCOL_VERSION, SyncRequest, SyncResponse,
};

use self::error::ApiError;
use crate::storage::Storage;
use crate::sync::batch::GroupCommitter;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub storage: Arc<dyn Storage>,
    pub clock: Arc<dyn Clock>,
    committer: GroupCommitter,
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
        })
    }

    fn now(&self) -> ServerTime {
        ServerTime(self.clock.now().0)
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/enroll", post(enroll))
        .route("/v1/sync", post(sync))
        .route("/v1/health", get(health))
        .route("/v1/openapi.json", get(openapi))
        .layer(CompressionLayer::new().gzip(true).zstd(true))
        .layer(RequestDecompressionLayer::new().gzip(true).zstd(true))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(60),
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Reads a JSON body of at most [`MAX_REQUEST_BYTES`] (after decompression, so a small
/// compressed bomb cannot fill memory) and names the problem when it is not valid.
async fn json_body<T: DeserializeOwned>(body: Body) -> Result<T, ApiError> {
    let bytes: Bytes = match axum::body::to_bytes(body, MAX_REQUEST_BYTES).await {
        Ok(bytes) => bytes,
        Err(e) => {
            let inner = e.into_inner();
            if inner
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                return Err(ApiError::TooLarge(MAX_REQUEST_BYTES));
            }
            return Err(ApiError::BadRequest(format!(
                "the body could not be read: {inner}"
            )));
        }
    };
    serde_json::from_slice(&bytes).map_err(|e| ApiError::BadRequest(e.to_string()))
}

fn bearer(headers: &HeaderMap) -> Result<String, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(ApiError::Unauthorized)?;
    let text = value.to_str().map_err(|_| ApiError::Unauthorized)?;
    let token = text.strip_prefix("Bearer ").ok_or(ApiError::Unauthorized)?;
    Ok(token.trim().to_string())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(crate::error::Error::Unavailable(format!("worker: {e}"))))?
}

async fn enroll(
    State(state): State<AppState>,
    body: Body,
) -> Result<Json<EnrollResponse>, ApiError> {
    let req: EnrollRequest = json_body(body).await?;
    let now = state.now();
    blocking(move || crate::enroll::redeem(state.storage.as_ref(), &req, now))
        .await
        .map(Json)
}

async fn sync(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<SyncResponse>, ApiError> {
    let token = bearer(&headers)?;
    // Authenticate before reading the body: an unknown caller gets 401 and costs no parsing.
    let storage = state.storage.clone();
    let device = blocking(move || crate::sync::authenticate(storage.as_ref(), &token)).await?;
    let req: SyncRequest = json_body(body).await?;
    let now = state.now();
    state.committer.sync(device, req, now).await.map(Json)
}

/// The API described for other clients and for property-based API fuzzing.
const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> ([(header::HeaderName, &'static str); 1], &'static str) {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "status": "ok",
        "protocol": PROTOCOL_VERSION,
        "storage": state.storage.describe(),
        "server_time": state.now(),
    }))
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
