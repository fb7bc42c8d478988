//! The local store's presigned URLs, served by this server (feature `fs`): the HMAC grant in
//! the URL is the authorisation, no bearer token.

use axum::body::Body;
use axum::extract::{OriginalUri, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use casefile_domain::StorageError;
use casefile_domain::legal::ServiceError;
use casefile_domain::storage::{ObjectStorage, PutOptions};
use casefile_storage_local::{GrantMethod, SignatureError, UploadLimits};

use crate::api::ErrorBody;
use crate::http::error::ApiError;
use crate::http::extract::body_stream;
use crate::http::state::AppState;

/// The OpenAPI description of the blob routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(blob_upload, blob_download))]
pub(crate) struct BlobsDoc;

/// Uploads the bytes of a two-phase upload to the local store, as its presigned URL says (no
/// token: the URL's signature is the authorisation).
#[utoipa::path(put, path = "/v1/blobs/{key}", tag = "blobs",
    params(("key" = String, Path, description = "the object key, with the signed query string")),
    request_body(content = String, content_type = "application/octet-stream",
        description = "the bytes, with the signed Content-Type"),
    responses(
        (status = 201, description = "stored"),
        (status = 400, description = "malformed signature", body = ErrorBody),
        (status = 403, description = "forged, expired, for another method, key or type, or spent (its upload is completed, failed or deleted)", body = ErrorBody),
        (status = 409, description = "the grant was used already (one upload per grant)", body = ErrorBody),
        (status = 413, description = "over the signed size", body = ErrorBody),
        (status = 422, description = "not the signed SHA-256", body = ErrorBody),
    ))]
#[allow(dead_code)] // documents `blob`, which serves both methods
fn blob_upload() {}

/// Downloads an object of the local store through its presigned URL (no token).
#[utoipa::path(get, path = "/v1/blobs/{key}", tag = "blobs",
    params(("key" = String, Path, description = "the object key, with the signed query string")),
    responses(
        (status = 200, description = "the bytes", content_type = "application/octet-stream"),
        (status = 400, description = "malformed signature", body = ErrorBody),
        (status = 403, description = "forged, expired or for another method or key", body = ErrorBody),
        (status = 404, description = "no such object", body = ErrorBody),
    ))]
#[allow(dead_code)] // documents `blob`, which serves both methods
fn blob_download() {}

fn signature_error(e: &SignatureError) -> ApiError {
    let status = match e {
        SignatureError::Malformed(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::FORBIDDEN,
    };
    ApiError::new(status, "unauthorized", e.to_string())
}

/// The local store's presigned URLs: the signature is the authorisation, no token.
pub(crate) async fn blob(
    State(s): State<AppState>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    request: Request,
) -> Result<Response, ApiError> {
    let Some(fs) = &s.local else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no local store",
        ));
    };
    let url = format!("{}{}", s.public_url, uri);
    let grant = fs
        .url_signer()
        .verify(method.as_str(), &url, chrono::Utc::now())
        .map_err(|e| signature_error(&e))?;
    match grant.method {
        GrantMethod::Put => {
            let sent_type = request
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            if grant.content_type.is_some() && sent_type != grant.content_type {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "unauthorized",
                    "the Content-Type is not the one signed",
                ));
            }
            // An upload grant is good for one upload of a pending file: once that file is
            // completed, failed or deleted, or its bytes have arrived, the grant is spent.
            if let Some((_, file_id)) =
                casefile_domain::legal::LegalFileService::parse_staging_key(&grant.key)
            {
                let pending = matches!(
                    s.repository.get_file(file_id).await.map_err(ServiceError::from)?,
                    Some(f) if f.status == casefile_domain::legal::FileStatus::Pending
                );
                if !pending {
                    return Err(ApiError::new(
                        StatusCode::FORBIDDEN,
                        "unauthorized",
                        "this upload grant is spent: its upload is no longer pending",
                    ));
                }
                if fs.exists(&grant.key).await.map_err(ServiceError::from)? {
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        "conflict",
                        "this upload grant was used already",
                    ));
                }
            }
            let options = PutOptions {
                content_type: grant.content_type.clone(),
                ..PutOptions::default()
            };
            let slot = s.streams.acquire()?;
            let body = crate::limits::at_least(body_stream(request.into_body()), s.upload_rate);
            match fs
                .upload_with_limits(&grant.key, body, options, UploadLimits::from_grant(&grant))
                .await
            {
                Ok(_) => {
                    drop(slot);
                    Ok(StatusCode::CREATED.into_response())
                }
                Err(StorageError::TooLarge { limit }) => Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    format!("over {limit} bytes"),
                )),
                Err(e @ StorageError::ChecksumMismatch { .. }) => Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "integrity_mismatch",
                    e.to_string(),
                )),
                Err(e) => Err(ServiceError::Storage(e).into()),
            }
        }
        GrantMethod::Get => {
            let slot = s.streams.acquire()?;
            let found = fs
                .download_stream(&grant.key, None)
                .await
                .map_err(|e| match e {
                    StorageError::NotFound { .. } => {
                        ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such object")
                    }
                    other => ServiceError::Storage(other).into(),
                })?;
            let mut h = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(&found.object.content_type) {
                h.insert(header::CONTENT_TYPE, v);
            }
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(found.object.size));
            if let Some(name) = &grant.file_name
                && let Ok(name) = casefile_domain::legal::FileName::parse(name)
                && let Ok(v) = HeaderValue::from_str(&name.content_disposition())
            {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            crate::http::files::user_content_headers(&mut h);
            let body = crate::limits::holding(found.body, slot);
            Ok((StatusCode::OK, h, Body::from_stream(body)).into_response())
        }
    }
}
