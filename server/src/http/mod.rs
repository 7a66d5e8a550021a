//! The phones' HTTP API (axum): `POST /v1/enroll`, `POST /v1/sync`,
//! `GET /v1/dictionaries/{id}`, `GET /v1/photos/{sha256}`,
//! `PUT /v1/photos/{sha256}/chunks/{index}`, `GET /v1/health`, `GET /v1/openapi.json`; the
//! error answers of every handler, the dashboard's too ([`error`]); and the OpenAPI document
//! generated from these handlers and the protocol's types ([`openapi`]). The dashboard and
//! admin API (`crate::web`) are its sibling; `crate::app` joins the two.
//! Bodies are JSON, gzip- or zstd-compressed either way, zstd with the server's dictionary once
//! a phone holds it (request bodies are decoded here, by the shared codec, in one place);
//! the domain's work runs on blocking threads (`blocking`) so that slow disks never stall the
//! async workers. Handlers only translate: every rule lives in the domain modules they call.

pub mod error;
pub mod openapi;

use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use fieldvisit_core::clock::{Clock, ServerTime};
use fieldvisit_core::domain::photo::CHUNK_BYTES;
use fieldvisit_core::protocol::{
    EnrollRequest, EnrollResponse, MAX_REQUEST_BYTES, PROTOCOL_VERSION, PhotoStatus, SyncRequest,
    SyncResponse,
};
use fieldvisit_core::sync::codec::{self, CodecError, Dictionary};

use self::error::ApiError;
use self::openapi::{Binary, CompressedBody, Refused, Sha256};
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

/// The phones' API, each route with its description (`openapi`); `crate::app` joins it with
/// the dashboard's routes under the shared layers.
pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::default()
        .routes(routes!(enroll))
        .routes(routes!(sync))
        .routes(routes!(dictionary))
        .routes(routes!(photo_status))
        .routes(routes!(photo_chunk))
        .routes(routes!(health))
        .routes(routes!(openapi::serve))
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

/// Enroll a phone.
///
/// The phone presents a one-time enrollment code and its public key, and gets its bearer
/// token, the authority keys of door plates and the server's time.
#[utoipa::path(
    post,
    path = "/v1/enroll",
    operation_id = "enroll",
    params(CompressedBody),
    request_body(content = EnrollRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Enrolled", body = EnrollResponse),
        (status = 400, response = Refused),
        (status = 403, response = Refused),
        (status = 413, response = Refused),
    ),
)]
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

/// Push operations and pull the feed.
///
/// One whole sync: push this device's operations after the last one the server acknowledged,
/// pull a page of its feed after its cursor (docs/protocol.md). The answer is compressed with
/// the request's dictionary when the request was and the caller accepts zstd.
#[utoipa::path(
    post,
    path = "/v1/sync",
    operation_id = "sync",
    security(("bearer" = [])),
    params(CompressedBody),
    request_body(content = SyncRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Pushed and pulled", body = SyncResponse),
        (status = 400, response = Refused),
        (status = 401, response = Refused),
        (status = 403, response = Refused),
        (status = 413, response = Refused),
    ),
)]
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

/// A compression dictionary.
///
/// A zstd dictionary the server advertised, for enrolled devices. Request bodies compressed
/// with it are sent as `Content-Encoding: zstd` (the frame header names the dictionary).
#[utoipa::path(
    get,
    path = "/v1/dictionaries/{id}",
    operation_id = "dictionary",
    security(("bearer" = [])),
    params(("id" = u32, Path, minimum = 1, description = "The dictionary's id, as advertised")),
    responses(
        (status = 200, description = "The dictionary's bytes; they never change under its id",
            content_type = "application/octet-stream", body = Binary),
        (status = 401, response = Refused),
        (status = 404, response = Refused),
    ),
)]
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

/// Where a photo's upload stands.
///
/// Which chunks the server holds, or that it holds the whole photo. Only photos named by an
/// accepted visit of the calling device (`crate::photos`).
#[utoipa::path(
    get,
    path = "/v1/photos/{sha256}",
    operation_id = "photo_status",
    security(("bearer" = [])),
    params(("sha256" = inline(Sha256), Path)),
    responses(
        (status = 200, description = "Where the upload stands", body = PhotoStatus),
        (status = 400, response = Refused),
        (status = 401, response = Refused),
        (status = 403, response = Refused),
        (status = 413, response = Refused),
    ),
)]
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

/// Upload one chunk of a photo.
///
/// At most `CHUNK_BYTES` (64 KiB) raw bytes: chunk i holds bytes [i*chunk_bytes,
/// (i+1)*chunk_bytes) of the photo, the last one the rest. When the last missing chunk
/// arrives the server assembles the photo and checks its SHA-256; on a mismatch every chunk
/// is discarded (422 photo_hash_mismatch) and the device sends the photo again.
#[utoipa::path(
    put,
    path = "/v1/photos/{sha256}/chunks/{index}",
    operation_id = "photo_chunk",
    security(("bearer" = [])),
    params(
        ("sha256" = inline(Sha256), Path),
        ("index" = u32, Path, description = "The chunk's index, from 0"),
    ),
    request_body(content = Binary, content_type = "application/octet-stream"),
    responses(
        (status = 200, description = "Where the upload stands", body = PhotoStatus),
        (status = 400, response = Refused),
        (status = 401, response = Refused),
        (status = 403, response = Refused),
        (status = 413, response = Refused),
        (status = 422, response = Refused),
    ),
)]
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

/// `GET /v1/health`'s answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Health {
    /// Always "ok": the server answers.
    #[schema(schema_with = openapi::ok)]
    status: &'static str,
    /// The protocol version this server speaks.
    protocol: u32,
    /// Which storage backend serves (SQLite or PostgreSQL, without credentials).
    storage: String,
    server_time: ServerTime,
}

/// Whether the server is up, and what it speaks.
#[utoipa::path(
    get,
    path = "/v1/health",
    operation_id = "health",
    responses((status = 200, description = "The server is up", body = Health)),
)]
async fn health(State(state): State<ApiState>) -> Json<Health> {
    Json(Health {
        status: "ok",
        protocol: PROTOCOL_VERSION,
        storage: state.storage.describe(),
        server_time: state.now(),
    })
}
