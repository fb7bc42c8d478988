//! Mapping of gcloud-storage errors to the domain's `StorageError`, once, at the boundary.

use casefile_domain::StorageError;
use gcloud_storage::http::Error;

pub(crate) const BACKEND: &str = "gcs";

pub(crate) fn map_gcs(err: Error, what: &str) -> StorageError {
    let message = format!("{what}: {err}");
    match &err {
        Error::Response(response) => match response.code {
            404 => StorageError::not_found(what),
            401 => StorageError::Unauthenticated {
                message,
                source: Some(Box::new(err)),
            },
            403 => StorageError::PermissionDenied {
                message,
                source: Some(Box::new(err)),
            },
            412 => StorageError::PreconditionFailed { message },
            _ => StorageError::Backend {
                backend: BACKEND,
                source: Box::new(err),
            },
        },
        Error::HttpClient(e) if e.is_connect() || e.is_timeout() => StorageError::Unavailable {
            backend: BACKEND,
            message,
            source: Some(Box::new(err)),
        },
        Error::TokenSource(_) => StorageError::Unauthenticated {
            message,
            source: Some(Box::new(err)),
        },
        _ => StorageError::Backend {
            backend: BACKEND,
            source: Box::new(err),
        },
    }
}

/// Whether a failed request may be retried: throttling, server errors, network failures.
pub(crate) fn retriable(err: &Error) -> bool {
    match err {
        Error::Response(r) => r.is_retriable(),
        Error::HttpClient(e) => e.is_connect() || e.is_timeout() || e.is_request(),
        _ => false,
    }
}
