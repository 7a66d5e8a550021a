//! The one place where errors become HTTP responses: the status of each error code
//! ([`status`]), the JSON error body ([`ErrorBody`]) and what is logged. Internal faults are
//! logged here and answered with a generic message; an unavailable storage is logged as a
//! warning and answered "busy"; client errors are answered precisely and not logged as faults.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use fieldvisit_core::protocol::{ErrorBody, ErrorCode, PROTOCOL_VERSION};

use crate::error::{Class, Error, Refusal};

/// An error on its way to the client: a handler's `Result` error type.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ApiError(#[from] pub Error);

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        ApiError(r.into())
    }
}

impl From<fieldvisit_core::Error> for ApiError {
    fn from(e: fieldvisit_core::Error) -> Self {
        ApiError(e.into())
    }
}

/// The status each of the protocol's error codes is answered with (docs/protocol.md,
/// "Errors").
pub fn status(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::BadRequest
        | ErrorCode::UnsupportedProtocol
        | ErrorCode::UnknownDictionary
        | ErrorCode::BadChunk => StatusCode::BAD_REQUEST,
        ErrorCode::Unauthorized | ErrorCode::Revoked => StatusCode::UNAUTHORIZED,
        ErrorCode::EnrollmentRefused | ErrorCode::WrongDevice | ErrorCode::PhotoNotReferenced => {
            StatusCode::FORBIDDEN
        }
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::TooLarge | ErrorCode::PhotoTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::PhotoHashMismatch => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        status(self.0.class().code())
    }

    pub fn body(&self) -> ErrorBody {
        let class = self.0.class();
        let message = match class {
            Class::Unavailable => "the server is busy; retry later".to_string(),
            Class::Internal => "an internal error occurred; retry later".to_string(),
            Class::NotFound | Class::Refused(_) | Class::Conflict | Class::Invalid => {
                self.0.to_string()
            }
        };
        let error = class.code();
        let supported_protocols =
            (error == ErrorCode::UnsupportedProtocol).then(|| vec![PROTOCOL_VERSION]);
        ErrorBody {
            error,
            message,
            supported_protocols,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self.0.class() {
            Class::Internal => tracing::error!(error = %self.0, "request failed"),
            Class::Unavailable => tracing::warn!(error = %self.0, "request answered busy"),
            Class::NotFound | Class::Refused(_) | Class::Conflict | Class::Invalid => {}
        }
        (self.status(), Json(self.body())).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(e: impl Into<ApiError>) -> (u16, ErrorBody) {
        let e = e.into();
        (e.status().as_u16(), e.body())
    }

    #[test]
    fn refusals_keep_their_codes_statuses_and_messages() {
        let (status, body) = answer(Refusal::UnsupportedProtocol(9));
        assert_eq!(status, 400);
        assert_eq!(body.error, ErrorCode::UnsupportedProtocol);
        assert_eq!(body.message, "protocol version 9 is not supported");
        assert_eq!(body.supported_protocols, Some(vec![PROTOCOL_VERSION]));
        let (status, body) = answer(Refusal::Revoked("lost".into()));
        assert_eq!((status, body.error), (401, ErrorCode::Revoked));
        assert_eq!(body.message, "this device was revoked: lost");
        assert_eq!(body.supported_protocols, None);
        for (refusal, expected) in [
            (Refusal::BadRequest("x".into()), 400),
            (Refusal::Unauthorized, 401),
            (Refusal::NotLoggedIn, 401),
            (Refusal::WrongDevice, 403),
            (Refusal::EnrollmentRefused("x".into()), 403),
            (Refusal::TooLarge(1), 413),
            (Refusal::UnknownDictionary(1), 400),
            (Refusal::PhotoNotReferenced("x".into()), 403),
            (Refusal::PhotoTooLarge("x".into()), 413),
            (Refusal::BadChunk("x".into()), 400),
            (Refusal::PhotoHashMismatch("x".into()), 422),
            (Refusal::Rule("x".into()), 400),
        ] {
            assert_eq!(answer(refusal).0, expected);
        }
    }

    #[test]
    fn faults_are_answered_without_their_details() {
        let (status, body) = answer(Error::Corrupt("a secret detail".into()));
        assert_eq!((status, body.error), (500, ErrorCode::Internal));
        assert!(!body.message.contains("secret"));
        let (status, body) = answer(Error::Unavailable("the connection closed".into()));
        assert_eq!((status, body.error), (503, ErrorCode::Unavailable));
        assert_eq!(body.message, "the server is busy; retry later");
        let (status, body) = answer(Error::NotFound("no dictionary 7".into()));
        assert_eq!((status, body.error), (404, ErrorCode::NotFound));
        assert_eq!(body.message, "no dictionary 7");
        let (status, body) = answer(Error::Conflict("an account named a exists".into()));
        assert_eq!((status, body.error), (409, ErrorCode::Conflict));
    }
}
