//! Mapping of aws-sdk-s3 errors to the domain's `StorageError`, once, at the boundary.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use casefile_domain::StorageError;

pub(crate) const BACKEND: &str = "s3";

/// What an S3 error means for the port.
pub(crate) fn map_sdk<E>(err: SdkError<E, HttpResponse>, what: &str) -> StorageError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let message = format!("{what}: {}", DisplayErrorContext(&err));
    let (status, code) = match &err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
            let unauthenticated = message.contains("credentials");
            return if unauthenticated {
                StorageError::Unauthenticated {
                    message,
                    source: Some(Box::new(err)),
                }
            } else {
                StorageError::Unavailable {
                    backend: BACKEND,
                    message,
                    source: Some(Box::new(err)),
                }
            };
        }
        SdkError::ServiceError(service) => (
            Some(service.raw().status().as_u16()),
            service.err().code().map(str::to_owned),
        ),
        _ => (
            err.raw_response().map(|r| r.status().as_u16()),
            err.code().map(str::to_owned),
        ),
    };
    if message.contains("failed to load credentials") || message.contains("no credentials") {
        return StorageError::Unauthenticated {
            message,
            source: Some(Box::new(err)),
        };
    }
    classify(status, code.as_deref(), what, message, Box::new(err))
}

pub(crate) fn classify(
    status: Option<u16>,
    code: Option<&str>,
    what: &str,
    message: String,
    source: casefile_domain::BoxError,
) -> StorageError {
    match (status, code) {
        (_, Some("NoSuchKey" | "NotFound" | "NoSuchBucket" | "NoSuchUpload")) | (Some(404), _) => {
            StorageError::not_found(what)
        }
        (
            _,
            Some(
                "InvalidAccessKeyId"
                | "SignatureDoesNotMatch"
                | "ExpiredToken"
                | "InvalidToken"
                | "TokenRefreshRequired"
                | "NotSignedUp",
            ),
        )
        | (Some(401), _) => StorageError::Unauthenticated {
            message,
            source: Some(source),
        },
        (_, Some("AccessDenied" | "AllAccessDisabled")) | (Some(403), _) => {
            StorageError::PermissionDenied {
                message,
                source: Some(source),
            }
        }
        (_, Some("PreconditionFailed")) | (Some(412), _) => {
            StorageError::PreconditionFailed { message }
        }
        (_, Some("EntityTooLarge")) => StorageError::invalid_input("body", message),
        _ => StorageError::Backend {
            backend: BACKEND,
            source,
        },
    }
}
