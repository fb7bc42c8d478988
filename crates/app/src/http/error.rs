//! The API error: a status, a code and a message, as `{"error": {"code", "message"}}`.

use super::*;

/// An API error: `{"error": {"code", "message"}}` with its status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required",
        )
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_input", message)
    }

    /// 503 `busy`, with `Retry-After`.
    pub(crate) fn busy(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "busy", message)
    }

    /// The status it answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(id) = crate::observe::current_request_id() {
            error["request_id"] = json!(&*id);
        }
        let body = json!({ "error": error });
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        use StatusCode as S;
        match &e {
            ServiceError::NotFound { .. } => Self::new(S::NOT_FOUND, "not_found", e.to_string()),
            ServiceError::Forbidden { .. } => Self::new(S::FORBIDDEN, "forbidden", e.to_string()),
            ServiceError::InvalidInput { .. } => {
                Self::new(S::BAD_REQUEST, "invalid_input", e.to_string())
            }
            ServiceError::Conflict { .. } => Self::new(S::CONFLICT, "conflict", e.to_string()),
            ServiceError::Held { holds } => {
                let ids: Vec<String> = holds.iter().map(ToString::to_string).collect();
                Self::new(
                    S::CONFLICT,
                    "held",
                    format!("the file is under legal hold: {}", ids.join(", ")),
                )
            }
            ServiceError::Retained { .. } => Self::new(S::CONFLICT, "retained", e.to_string()),
            ServiceError::TooLarge { .. } => {
                Self::new(S::PAYLOAD_TOO_LARGE, "too_large", e.to_string())
            }
            ServiceError::IntegrityMismatch { .. } => {
                Self::new(S::UNPROCESSABLE_ENTITY, "integrity_mismatch", e.to_string())
            }
            ServiceError::UploadMissing => Self::new(S::CONFLICT, "upload_missing", e.to_string()),
            ServiceError::TooManyOpenUploads { .. } => {
                Self::new(S::TOO_MANY_REQUESTS, "too_many_uploads", e.to_string())
            }
            // Storage errors carry the store's or SDK's own words: clients get fixed messages,
            // the log gets the rest.
            ServiceError::Storage(StorageError::RangeNotSatisfiable { size, .. }) => Self::new(
                S::RANGE_NOT_SATISFIABLE,
                "invalid_input",
                format!("the range is outside the file of {size} bytes"),
            ),
            ServiceError::Storage(StorageError::InvalidInput { field, .. }) => {
                tracing::info!(error = %e, "storage refused the input");
                Self::new(S::BAD_REQUEST, "invalid_input", format!("invalid {field}"))
            }
            ServiceError::Storage(StorageError::NotFound { .. }) => {
                Self::new(S::NOT_FOUND, "not_found", "file not found")
            }
            // The database is down or out of connections: a client should retry, as with a
            // store that does not answer.
            ServiceError::Persistence(casefile_domain::legal::PersistenceError::Unavailable {
                ..
            })
            | ServiceError::Storage(StorageError::Unavailable { .. }) => {
                tracing::warn!(error = %e, "a dependency is unavailable");
                Self::new(
                    S::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the service is unavailable: try again shortly",
                )
            }
            _ => {
                tracing::error!(error = %e, "request failed");
                Self::new(S::INTERNAL_SERVER_ERROR, "internal", "internal error")
            }
        }
    }
}
