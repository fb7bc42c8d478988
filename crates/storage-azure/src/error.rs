//! Mapping of Azure SDK errors to the domain's `StorageError`, once, at the boundary.

use azure_core::StatusCode;
use azure_core::error::ErrorKind;
use casefile_domain::StorageError;

pub(crate) const BACKEND: &str = "azure";

pub(crate) fn map_azure(err: azure_core::Error, what: &str) -> StorageError {
    let message = format!("{what}: {err}");
    match err.kind() {
        ErrorKind::HttpResponse { status, error_code } => {
            let code = error_code.as_deref().unwrap_or("");
            match (*status, code) {
                (StatusCode::NotFound, _) => StorageError::not_found(what),
                (_, "AuthenticationFailed" | "InvalidAuthenticationInfo")
                | (StatusCode::Unauthorized, _) => StorageError::Unauthenticated {
                    message,
                    source: Some(Box::new(err)),
                },
                (StatusCode::Forbidden, _) => StorageError::PermissionDenied {
                    message,
                    source: Some(Box::new(err)),
                },
                (StatusCode::PreconditionFailed, _) | (StatusCode::Conflict, _) => {
                    StorageError::PreconditionFailed { message }
                }
                _ => StorageError::Backend {
                    backend: BACKEND,
                    source: Box::new(err),
                },
            }
        }
        ErrorKind::Io => StorageError::Unavailable {
            backend: BACKEND,
            message,
            source: Some(Box::new(err)),
        },
        ErrorKind::Credential => StorageError::Unauthenticated {
            message,
            source: Some(Box::new(err)),
        },
        _ => {
            // Connection failures surface as other kinds wrapping reqwest errors.
            let unreachable =
                message.contains("error sending request") || message.contains("connect");
            if unreachable {
                StorageError::Unavailable {
                    backend: BACKEND,
                    message,
                    source: Some(Box::new(err)),
                }
            } else {
                StorageError::Backend {
                    backend: BACKEND,
                    source: Box::new(err),
                }
            }
        }
    }
}
