//! The phones' HTTP API (axum): `POST /v1/enroll`, `POST /v1/sync`,
//! `GET /v1/dictionaries/{id}`, `GET /v1/photos/{sha256}`,
//! `PUT /v1/photos/{sha256}/chunks/{index}`, `GET /v1/health`, `GET /v1/openapi.json`; and
//! the error answers of every handler, the dashboard's too ([`error`]). The dashboard and
//! admin API (`crate::web`) are its sibling; `crate::app` joins the two.
//! Bodies are JSON, gzip- or zstd-compressed either way, zstd with the server's dictionary once
//! a phone holds it (request bodies are decoded here, by the shared codec, in one place);
//! the domain's work runs on blocking threads (`blocking`) so that slow disks never stall the
//! async workers. Handlers only translate: every rule lives in the domain modules they call.

pub mod error;

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Serialize;
use serde::de::DeserializeOwned;

use fieldvisit_core::clock::{Clock, ServerTime};
use fieldvisit_core::domain::photo::CHUNK_BYTES;
use fieldvisit_core::protocol::{
    EnrollRequest, EnrollResponse, MAX_REQUEST_BYTES, PROTOCOL_VERSION, SyncRequest,
};
use fieldvisit_core::sync::codec::{self, CodecError, Dictionary};

use self::error::ApiError;
use crate::dictionary::{Dictionaries, RESPONSE_LEVEL};
use crate::error::{Error, Refusal};
use crate::storage::Storage;
use crate::sync::batch::GroupCommitter;

/// What the phones' API handlers share; `crate::app` makes it from the application's state.
#[derive(Clone)]
pub struct ApiState {
    pub storage: Arc<dyn Storage>,
    pub clock: Arc<dyn Clock>,
    pub committer: GroupCommitter,
    pub dictionaries: Arc<Dictionaries>,
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState")
            .field("storage", &self.storage.describe())
            .finish()
    }
}

impl ApiState {
    fn now(&self) -> ServerTime {
        ServerTime(self.clock.now().0)
    }
}

/// The phones' API; `crate::app` joins it with the dashboard's routes under the shared layers.
pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/v1/enroll", post(enroll))
        .route("/v1/sync", post(sync))
        .route("/v1/dictionaries/{id}", get(dictionary))
        .route("/v1/photos/{sha256}", get(photo_status))
        .route("/v1/photos/{sha256}/chunks/{index}", put(photo_chunk))
        .route("/v1/health", get(health))
        .route("/v1/openapi.json", get(openapi))
}

/// A request body, decoded, and the dictionary it was compressed with (the answer is
/// compressed with the same one: the phone evidently holds it).
struct Decoded<T> {
    body: T,
    dictionary: Option<Arc<Dictionary>>,
}

/// Reads a JSON body of at most [`MAX_REQUEST_BYTES`] (compressed, and again after
/// decompression, so a small compressed bomb cannot fill memory), decoding its
/// `Content-Encoding`, and names the problem when it is not valid.
async fn json_body<T: DeserializeOwned>(
    state: &ApiState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Decoded<T>, ApiError> {
    let raw = read_body(body).await?;
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("unreadable").to_string())
        .unwrap_or_default();
    let wanted = codec::frame_dictionary(&raw).filter(|_| encoding.eq_ignore_ascii_case("zstd"));
    let dictionary = match wanted {
        Some(id) => {
            let (storage, dictionaries) = (state.storage.clone(), state.dictionaries.clone());
            let found = blocking(move || dictionaries.get(storage.as_ref(), id)).await?;
            Some(found.ok_or(Refusal::UnknownDictionary(id))?)
        }
        None => None,
    };
    let limit = MAX_REQUEST_BYTES as u64;
    let plain =
        codec::decode(&encoding, &raw, limit, |_| dictionary.clone()).map_err(|e| match e {
            CodecError::TooLarge(_) => Refusal::TooLarge(MAX_REQUEST_BYTES),
            CodecError::UnknownDictionary(id) => Refusal::UnknownDictionary(id),
            other => Refusal::BadRequest(other.to_string()),
        })?;
    let body = serde_json::from_slice(&plain).map_err(|e| Refusal::BadRequest(e.to_string()))?;
    Ok(Decoded { body, dictionary })
}

/// A JSON answer; compressed here with the request's dictionary when the caller accepts zstd
/// (the compression layer leaves a body that already has an encoding alone).
fn answer<T: Serialize>(
    headers: &HeaderMap,
    dictionary: Option<&Dictionary>,
    body: &T,
) -> Result<Response, ApiError> {
    let accepts_zstd = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("zstd")));
    let Some(dictionary) = dictionary.filter(|_| accepts_zstd) else {
        return Ok(Json(body).into_response());
    };
    let json = serde_json::to_vec(body).map_err(Error::from)?;
    let compressed = codec::compress(&json, RESPONSE_LEVEL, Some(dictionary))
        .map_err(|e| Error::Corrupt(e.to_string()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CONTENT_ENCODING, "zstd"),
        ],
        compressed,
    )
        .into_response())
}

async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_REQUEST_BYTES)
        .await
        .map_err(|e| {
            let inner = e.into_inner();
            if inner
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Refusal::TooLarge(MAX_REQUEST_BYTES).into()
            } else {
                Refusal::BadRequest(format!("the body could not be read: {inner}")).into()
            }
        })
}

fn bearer(headers: &HeaderMap) -> Result<String, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(Refusal::Unauthorized)?;
    let text = value.to_str().map_err(|_| Refusal::Unauthorized)?;
    let token = text.strip_prefix("Bearer ").ok_or(Refusal::Unauthorized)?;
    Ok(token.trim().to_string())
}

/// Runs a handler's database or CPU-heavy work on tokio's blocking pool, off the
/// request-handling threads ([`crate::runtime::blocking`]), answering in the handlers' error
/// type.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> crate::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    Ok(crate::runtime::blocking(f).await?)
}

async fn enroll(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let req: Decoded<EnrollRequest> = json_body(&state, &headers, body).await?;
    let now = state.now();
    let storage = state.storage.clone();
    let resp: EnrollResponse =
        blocking(move || crate::enroll::redeem(storage.as_ref(), &req.body, now)).await?;
    answer(&headers, None, &resp)
}

async fn sync(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let token = bearer(&headers)?;
    // Authenticate before reading the body: an unknown caller gets 401 and costs no parsing.
    let storage = state.storage.clone();
    let device = blocking(move || crate::sync::authenticate(storage.as_ref(), &token)).await?;
    let req: Decoded<SyncRequest> = json_body(&state, &headers, body).await?;
    let now = state.now();
    let resp = state.committer.sync(device, req.body, now).await?;
    answer(&headers, req.dictionary.as_deref(), &resp)
}

/// `GET /v1/dictionaries/{id}`: a compression dictionary's bytes, for enrolled devices.
async fn dictionary(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let token = bearer(&headers)?;
    let id: u32 = id
        .parse()
        .map_err(|_| Error::NotFound(format!("{id} is not a dictionary id")))?;
    let bytes = blocking(move || {
        crate::sync::authenticate(state.storage.as_ref(), &token)?;
        let stored = state.storage.read()?.dictionary(id)?;
        stored
            .map(|d| d.bytes)
            .ok_or_else(|| Error::NotFound(format!("no dictionary {id}")))
    })
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            // A dictionary never changes under its id.
            (
                header::CACHE_CONTROL,
                "private, max-age=31536000, immutable",
            ),
        ],
        bytes,
    )
        .into_response())
}

/// `GET /v1/photos/{sha256}`: where an upload stands (see `crate::photos`).
async fn photo_status(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(sha256): Path<String>,
) -> Result<Response, ApiError> {
    let token = bearer(&headers)?;
    let status = blocking(move || {
        let device = crate::sync::authenticate(state.storage.as_ref(), &token)?;
        crate::photos::status(state.storage.as_ref(), &device, &sha256)
    })
    .await?;
    Ok(Json(status).into_response())
}

/// `PUT /v1/photos/{sha256}/chunks/{index}`: one chunk's raw bytes, at most
/// [`CHUNK_BYTES`] of them.
async fn photo_chunk(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path((sha256, index)): Path<(String, String)>,
    body: Body,
) -> Result<Response, ApiError> {
    let token = bearer(&headers)?;
    let storage = state.storage.clone();
    let device = blocking(move || crate::sync::authenticate(storage.as_ref(), &token)).await?;
    let index: u32 = index
        .parse()
        .map_err(|_| Refusal::BadChunk(format!("{index} is not a chunk index")))?;
    let limit = CHUNK_BYTES as usize;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
        let inner = e.into_inner();
        if inner
            .downcast_ref::<http_body_util::LengthLimitError>()
            .is_some()
        {
            Refusal::PhotoTooLarge(format!("a chunk is at most {limit} bytes"))
        } else {
            Refusal::BadRequest(format!("the body could not be read: {inner}"))
        }
    })?;
    let now = state.now();
    let status = blocking(move || {
        crate::photos::put_chunk(state.storage.as_ref(), &device, &sha256, index, &bytes, now)
    })
    .await?;
    Ok(Json(status).into_response())
}

/// The API described for other clients and for property-based API fuzzing.
const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> ([(header::HeaderName, &'static str); 1], &'static str) {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

async fn health(State(state): State<ApiState>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "status": "ok",
        "protocol": PROTOCOL_VERSION,
        "storage": state.storage.describe(),
        "server_time": state.now(),
    }))
}
