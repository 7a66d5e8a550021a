//! The HTTP transport for sync, over reqwest's blocking client (feature `http`).
//!
//! Request bodies are JSON compressed with zstd — with the server's dictionary once the phone
//! holds it ([`super::codec`]); responses are asked for in zstd or gzip and decompressed here
//! rather than by the client, so the bytes counted are the bytes that crossed the network
//! (bodies only; headers are not counted).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use reqwest::blocking::Client;
use reqwest::header::{ACCEPT_ENCODING, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::codec::{self, CodecError, Dictionary};
use super::transport::{Exchange, Transport, TransportError};
use crate::protocol::{
    EnrollRequest, EnrollResponse, ErrorBody, PhotoStatus, SyncRequest, SyncResponse,
};

/// zstd level 3: most of the gain for little CPU on a cheap phone.
const ZSTD_LEVEL: i32 = 3;
/// With a dictionary, bodies are a few hundred bytes: level 9 takes well under a millisecond
/// on them and saves a further ~6% (docs/benchmarks.md).
const DICTIONARY_LEVEL: i32 = 9;
/// The largest decompressed response accepted (a page is far smaller).
const MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

/// Talks to one sync server, e.g. `http://127.0.0.1:8080`.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    base: String,
    client: Client,
    /// Shared by clones, like the connection pool.
    dictionary: Arc<RwLock<Option<Arc<Dictionary>>>>,
}

impl HttpTransport {
    pub fn new(base_url: &str) -> Result<HttpTransport, TransportError> {
        Self::with_timeout(base_url, Duration::from_secs(60))
    }

    pub fn with_timeout(
        base_url: &str,
        timeout: Duration,
    ) -> Result<HttpTransport, TransportError> {
        let client = Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| TransportError::Offline(format!("HTTP client: {e}")))?;
        Ok(HttpTransport {
            base: base_url.trim_end_matches('/').to_string(),
            client,
            dictionary: Arc::default(),
        })
    }

    fn dictionary(&self) -> Option<Arc<Dictionary>> {
        // A poisoned lock only means a panic elsewhere; the value inside is still whole.
        self.dictionary
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn post<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Req,
    ) -> Result<Exchange<Resp>, TransportError> {
        let json = serde_json::to_vec(body).map_err(|e| TransportError::Decode(e.to_string()))?;
        let dictionary = self.dictionary();
        let compressed = codec::compress(&json, ZSTD_LEVEL, dictionary.as_deref())
            .map_err(|e| TransportError::Decode(format!("compressing the request: {e}")))?;
        let bytes_up = compressed.len() as u64;
        let request = self
            .client
            .post(format!("{}{path}", self.base))
            .header(CONTENT_TYPE, "application/json")
            .header(CONTENT_ENCODING, "zstd")
            .header(ACCEPT_ENCODING, "zstd, gzip")
            .body(compressed);
        let (plain, bytes_down) = self.exchange(request, token, dictionary)?;
        let body =
            serde_json::from_slice(&plain).map_err(|e| TransportError::Decode(e.to_string()))?;
        Ok(Exchange {
            body,
            bytes_up,
            bytes_down,
        })
    }

    /// Sends a request and returns the decoded body of a successful answer and its size on
    /// the wire; an error status becomes [`TransportError::Http`] with the error body.
    fn exchange(
        &self,
        mut request: reqwest::blocking::RequestBuilder,
        token: Option<&str>,
        dictionary: Option<Arc<Dictionary>>,
    ) -> Result<(Vec<u8>, u64), TransportError> {
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        let response = request
            .send()
            .map_err(|e| TransportError::Offline(e.to_string()))?;
        let status = response.status();
        let encoding = response
            .headers()
            .get(CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        // A body cut short by a dropped link is a connection failure, worth retrying.
        let raw = response
            .bytes()
            .map_err(|e| TransportError::Offline(e.to_string()))?;
        let bytes_down = raw.len() as u64;
        let lookup = |id| dictionary.filter(|d| d.id() == id);
        let plain = match codec::decode(&encoding, &raw, MAX_RESPONSE_BYTES, lookup) {
            Ok(plain) => plain,
            // A truncated compressed stream is a cut connection too.
            Err(CodecError::Corrupt(e)) => {
                return Err(TransportError::Offline(format!(
                    "response body cut short: {e}"
                )));
            }
            Err(e) => return Err(TransportError::Decode(e.to_string())),
        };
        if !status.is_success() {
            let body = serde_json::from_slice::<ErrorBody>(&plain).ok();
            return Err(TransportError::Http {
                status: status.as_u16(),
                body,
            });
        }
        Ok((plain, bytes_down))
    }
}

impl Transport for HttpTransport {
    fn enroll(&self, req: &EnrollRequest) -> Result<Exchange<EnrollResponse>, TransportError> {
        self.post("/v1/enroll", None, req)
    }

    fn sync(
        &self,
        token: &str,
        req: &SyncRequest,
    ) -> Result<Exchange<SyncResponse>, TransportError> {
        self.post("/v1/sync", Some(token), req)
    }

    fn photo_status(
        &self,
        token: &str,
        sha256: &str,
    ) -> Result<Exchange<PhotoStatus>, TransportError> {
        let request = self
            .client
            .get(format!("{}/v1/photos/{sha256}", self.base))
            .header(ACCEPT_ENCODING, "zstd, gzip");
        let (plain, bytes_down) = self.exchange(request, Some(token), None)?;
        let body =
            serde_json::from_slice(&plain).map_err(|e| TransportError::Decode(e.to_string()))?;
        Ok(Exchange {
            body,
            bytes_up: 0,
            bytes_down,
        })
    }

    fn put_photo_chunk(
        &self,
        token: &str,
        sha256: &str,
        index: u32,
        bytes: &[u8],
    ) -> Result<Exchange<PhotoStatus>, TransportError> {
        // Sent as is: a JPEG does not compress.
        let request = self
            .client
            .put(format!("{}/v1/photos/{sha256}/chunks/{index}", self.base))
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(ACCEPT_ENCODING, "zstd, gzip")
            .body(bytes.to_vec());
        let (plain, bytes_down) = self.exchange(request, Some(token), None)?;
        let body =
            serde_json::from_slice(&plain).map_err(|e| TransportError::Decode(e.to_string()))?;
        Ok(Exchange {
            body,
            bytes_up: bytes.len() as u64,
            bytes_down,
        })
    }

    fn fetch_dictionary(&self, token: &str, id: u32) -> Result<Exchange<Vec<u8>>, TransportError> {
        let request = self
            .client
            .get(format!("{}/v1/dictionaries/{id}", self.base))
            .header(ACCEPT_ENCODING, "zstd, gzip");
        let (body, bytes_down) = self.exchange(request, Some(token), None)?;
        Ok(Exchange {
            body,
            bytes_up: 0,
            bytes_down,
        })
    }

    fn use_dictionary(&self, bytes: Option<&[u8]>) -> Result<Option<u32>, TransportError> {
        let dictionary = bytes
            .map(|b| Dictionary::new(b, DICTIONARY_LEVEL))
            .transpose()
            .map_err(|e| TransportError::Decode(e.to_string()))?
            .map(Arc::new);
        let id = dictionary.as_ref().map(|d| d.id());
        *self.dictionary.write().unwrap_or_else(|e| e.into_inner()) = dictionary;
        Ok(id)
    }
}
