//! `GET /admin/photos/{sha256}`: a visit photo's bytes for a logged-in admin of either role,
//! as the visit page's `<img>` loads them. Without a live session the answer is the login
//! redirect every `/admin` path gives; a malformed name is 400, a photo the server does not
//! hold complete (unknown, or still uploading) 404, with the JSON error body of the API.
//!
//! The bytes came from a phone, so they are not trusted to be what they claim: the type is
//! read from their magic bytes, and only JPEG, PNG and WebP are served as images; anything
//! else goes out as `application/octet-stream` to be downloaded, never shown. `nosniff` keeps
//! the browser from guessing otherwise, and a `sandbox` policy keeps a file opened directly
//! from running anything. A photo's name is the hash of its bytes, so the answer never
//! changes: the browser may keep it for a year (privately: it is evidence about a household).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use fieldvisit_core::domain::photo::check_hash;

use super::pages;
use crate::error::{Error, Refusal};
use crate::http::blocking;
use crate::http::error::ApiError;
use crate::web::WebState;

/// The `Cache-Control` of a photo: content-addressed, so immutable; private to the admin.
const CACHE: &str = "private, max-age=31536000, immutable";

/// The media type and file extension of an image the dashboard shows, by its magic bytes;
/// `None` for anything else.
pub fn image_type(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(("image/jpeg", "jpg"))
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(("image/png", "png"))
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some(("image/webp", "webp"))
    } else {
        None
    }
}

/// `GET /admin/photos/{sha256}`.
pub async fn photo(
    State(state): State<WebState>,
    headers: HeaderMap,
    Path(sha256): Path<String>,
) -> Result<Response, ApiError> {
    if pages::session(&state, &headers).await?.is_none() {
        return Ok(pages::to_login());
    }
    if check_hash("sha256", &sha256).is_err() {
        return Err(Refusal::BadRequest(
            "a photo is named by its SHA-256: 64 lowercase hex digits".into(),
        )
        .into());
    }
    let storage = state.storage.clone();
    let name = sha256.clone();
    let bytes = blocking(move || storage.read()?.photo_bytes(&name)).await?;
    let Some(bytes) = bytes else {
        return Err(Error::NotFound(format!("the server holds no complete photo {sha256}")).into());
    };
    let (media_type, disposition) = match image_type(&bytes) {
        Some((media_type, ext)) => (media_type, format!("inline; filename=\"{sha256}.{ext}\"")),
        None => (
            "application/octet-stream",
            format!("attachment; filename=\"{sha256}.bin\""),
        ),
    };
    let mut response = (StatusCode::OK, bytes).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    // The name was checked to be 64 hex digits, so the header value is always valid.
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(CACHE));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_jpeg_png_and_webp_magic_bytes_are_images() {
        assert_eq!(
            image_type(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10]),
            Some(("image/jpeg", "jpg"))
        );
        assert_eq!(
            image_type(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Some(("image/png", "png"))
        );
        assert_eq!(
            image_type(b"RIFF\x24\0\0\0WEBPVP8 "),
            Some(("image/webp", "webp"))
        );
        for other in [
            &b""[..],
            b"\xFF\xD8",
            b"RIFF\x24\0\0\0WAVEfmt ",
            b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
            b"<html><script>alert(1)</script>",
            b"GIF89a",
        ] {
            assert_eq!(image_type(other), None, "{other:?}");
        }
    }
}
