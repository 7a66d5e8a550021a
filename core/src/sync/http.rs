//! The HTTP transport for sync, over reqwest's blocking client (feature `http`).
//!
//! Request bodies are JSON compressed with zstd; responses are asked for in zstd or gzip and
//! decompressed here rather than by the client, so the bytes counted are the bytes that
//! crossed the network (bodies only; headers are not counted).

use std::io::Read;
use std::time::Duration;

use reqwest::blocking::Client;
use reqwest::header::{ACCEPT_ENCODING, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::engine::{Exchange, Transport, TransportError};
use super::protocol::{EnrollRequest, EnrollResponse, ErrorBody, SyncRequest, SyncResponse};

/// zstd level 3: most of the gain for little CPU on a cheap phone.
const ZSTD_LEVEL: i32 = 3;
/// The largest decompressed response accepted (a page is far smaller).
const MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

/// Talks to one sync server, e.g. `http://127.0.0.1:8080`.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    base: String,
    client: Client,
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
        })
    }

    fn post<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Req,
    ) -> Result<Exchange<Resp>, TransportError> {
        let json = serde_json::to_vec(body).map_err(|e| TransportError::Decode(e.to_string()))?;
        let compressed = zstd::bulk::compress(&json, ZSTD_LEVEL)
            .map_err(|e| TransportError::Decode(format!("compressing the request: {e}")))?;
        let bytes_up = compressed.len() as u64;
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header(CONTENT_TYPE, "application/json")
            .header(CONTENT_ENCODING, "zstd")
            .header(ACCEPT_ENCODING, "zstd, gzip")
            .body(compressed);
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
        let plain = decompress(&encoding, &raw)?;
        if !status.is_success() {
            let body = serde_json::from_slice::<ErrorBody>(&plain).ok();
            return Err(TransportError::Http {
                status: status.as_u16(),
                body,
            });
        }
        let body =
            serde_json::from_slice(&plain).map_err(|e| TransportError::Decode(e.to_string()))?;
        Ok(Exchange {
            body,
            bytes_up,
            bytes_down,
        })
    }
}

fn decompress(encoding: &str, raw: &[u8]) -> Result<Vec<u8>, TransportError> {
    let mut out = Vec::new();
    let result = match encoding {
        "" | "identity" => return Ok(raw.to_vec()),
        "zstd" => zstd::stream::read::Decoder::new(raw)
            .and_then(|d| d.take(MAX_RESPONSE_BYTES).read_to_end(&mut out)),
        "gzip" => flate2::read::GzDecoder::new(raw)
            .take(MAX_RESPONSE_BYTES)
            .read_to_end(&mut out),
        other => {
            return Err(TransportError::Decode(format!(
                "unknown content encoding {other}"
            )));
        }
    };
    // A truncated compressed stream is a cut connection too.
    result.map_err(|e| TransportError::Offline(format!("response body cut short: {e}")))?;
    Ok(out)
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
}
