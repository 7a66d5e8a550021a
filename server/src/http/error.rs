//! The one place where errors become HTTP responses: status code, JSON error body
//! ([`ErrorBody`]) and what is logged. Internal faults are logged here and answered with a
//! generic message; client errors are answered precisely and not logged as faults.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use fieldvisit_core::protocol::{ErrorBody, ErrorCode, PROTOCOL_VERSION};

use crate::error::Error;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request body is not valid: {0}")]
    BadRequest(String),
    #[error("protocol version {0} is not supported")]
    UnsupportedProtocol(u32),
    #[error("missing or unknown device token")]
    Unauthorized,
    #[error("log in to the dashboard first (POST /admin/login) and send its fv_session cookie")]
    NotLoggedIn,
    #[error("this device was revoked: {0}")]
    Revoked(String),
    #[error("the token belongs to another device than the request names")]
    WrongDevice,
    #[error("{0}")]
    EnrollmentRefused(String),
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the server is busy; retry later")]
    Unavailable,
    #[error(
        "the body was compressed with dictionary {0}, which this server does not have; \
         send it without a dictionary"
    )]
    UnknownDictionary(u32),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    PhotoNotReferenced(String),
    #[error("{0}")]
    PhotoTooLarge(String),
    #[error("{0}")]
    BadChunk(String),
    #[error("{0}")]
    PhotoHashMismatch(String),
    #[error(transparent)]
    Internal(#[from] Error),
}

impl From<fieldvisit_core::Error> for ApiError {
    fn from(e: fieldvisit_core::Error) -> Self {
        ApiError::Internal(e.into())
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_)
            | ApiError::UnsupportedProtocol(_)
            | ApiError::UnknownDictionary(_)
            | ApiError::BadChunk(_) => StatusCode::BAD_REQUEST,
            ApiError::PhotoNotReferenced(_) => StatusCode::FORBIDDEN,
            ApiError::PhotoTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::PhotoHashMismatch(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unauthorized | ApiError::NotLoggedIn | ApiError::Revoked(_) => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::WrongDevice | ApiError::EnrollmentRefused(_) => StatusCode::FORBIDDEN,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn body(&self) -> ErrorBody {
        let (error, message) = match self {
            ApiError::BadRequest(_) => (ErrorCode::BadRequest, self.to_string()),
            ApiError::UnsupportedProtocol(_) => (ErrorCode::UnsupportedProtocol, self.to_string()),
            ApiError::Unauthorized | ApiError::NotLoggedIn => {
                (ErrorCode::Unauthorized, self.to_string())
            }
            ApiError::Revoked(_) => (ErrorCode::Revoked, self.to_string()),
            ApiError::WrongDevice => (ErrorCode::WrongDevice, self.to_string()),
            ApiError::EnrollmentRefused(_) => (ErrorCode::EnrollmentRefused, self.to_string()),
            ApiError::TooLarge(_) => (ErrorCode::TooLarge, self.to_string()),
            ApiError::Unavailable => (ErrorCode::Unavailable, self.to_string()),
            ApiError::UnknownDictionary(_) => (ErrorCode::UnknownDictionary, self.to_string()),
            ApiError::NotFound(_) => (ErrorCode::NotFound, self.to_string()),
            ApiError::PhotoNotReferenced(_) => (ErrorCode::PhotoNotReferenced, self.to_string()),
            ApiError::PhotoTooLarge(_) => (ErrorCode::PhotoTooLarge, self.to_string()),
            ApiError::BadChunk(_) => (ErrorCode::BadChunk, self.to_string()),
            ApiError::PhotoHashMismatch(_) => (ErrorCode::PhotoHashMismatch, self.to_string()),
            ApiError::Internal(_) => (
                ErrorCode::Internal,
                "an internal error occurred; retry later".to_string(),
            ),
        };
        let supported_protocols =
            matches!(self, ApiError::UnsupportedProtocol(_)).then(|| vec![PROTOCOL_VERSION]);
        ErrorBody {
            error,
            message,
            supported_protocols,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(e) = &self {
            tracing::error!(error = %e, "request failed");
        }
        (self.status(), Json(self.body())).into_response()
    }
}
