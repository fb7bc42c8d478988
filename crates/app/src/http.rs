//! The HTTP API v1 (axum).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequestParts, OriginalUri, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use casefile_domain::StorageError;
use casefile_domain::legal::{
    AuditEntry, Case, CaseFile, CaseId, FileId, LegalFileService, ListFiles, NewUpload,
    ServiceError, UserId,
};
use casefile_domain::storage::{ByteRange, ByteStream, ObjectStorage, PutOptions};
use casefile_storage_local::{FsStorage, GrantMethod, SignatureError, UploadLimits};
use futures::TryStreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Tokens;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The service.
    pub service: LegalFileService,
    /// The store (health).
    pub storage: Arc<dyn ObjectStorage>,
    /// The repository (health).
    pub repository: Arc<dyn casefile_domain::legal::CaseRepository>,
    /// The local store whose presigned URLs this server honours.
    pub local: Option<FsStorage>,
    /// Bearer tokens.
    pub tokens: Tokens,
    /// The public base URL (to rebuild presigned URLs for verification).
    pub public_url: String,
}

/// An API error: `{"error": {"code", "message"}}` with its status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required",
        )
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_input", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, Json(body)).into_response()
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        use StatusCode as S;
        match &e {
            ServiceError::NotFound { .. } => Self::new(S::NOT_FOUND, "not_found", e.to_string()),
            ServiceError::InvalidInput { .. } => {
                Self::new(S::BAD_REQUEST, "invalid_input", e.to_string())
            }
            ServiceError::Conflict { .. } => Self::new(S::CONFLICT, "conflict", e.to_string()),
            ServiceError::TooLarge { .. } => {
                Self::new(S::PAYLOAD_TOO_LARGE, "too_large", e.to_string())
            }
            ServiceError::IntegrityMismatch { .. } => {
                Self::new(S::UNPROCESSABLE_ENTITY, "integrity_mismatch", e.to_string())
            }
            ServiceError::UploadMissing => Self::new(S::CONFLICT, "upload_missing", e.to_string()),
            ServiceError::Storage(StorageError::RangeNotSatisfiable { .. }) => {
                Self::new(S::RANGE_NOT_SATISFIABLE, "invalid_input", e.to_string())
            }
            ServiceError::Storage(StorageError::InvalidInput { .. }) => {
                Self::new(S::BAD_REQUEST, "invalid_input", e.to_string())
            }
            _ => {
                tracing::error!(error = %e, "request failed");
                Self::new(S::INTERNAL_SERVER_ERROR, "internal", "internal error")
            }
        }
    }
}

/// The authenticated caller.
pub struct Caller(pub UserId);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(ApiError::unauthorized)?;
        state
            .tokens
            .verify(token.trim())
            .map(Caller)
            .ok_or_else(ApiError::unauthorized)
    }
}

fn case_json(c: &Case) -> Value {
    json!({
        "id": c.id, "title": c.title, "owner_id": c.owner_id, "file_count": c.file_count,
        "total_size_bytes": c.total_size_bytes, "created_at": c.created_at, "updated_at": c.updated_at,
    })
}

fn file_json(f: &CaseFile) -> Value {
    json!({
        "id": f.id, "case_id": f.case_id, "logical_path": f.logical_path, "file_name": f.file_name,
        "mime_type": f.mime_type, "file_size": f.actual_size.unwrap_or(f.declared_size),
        "content_hash": f.sha256, "status": f.status.as_str(), "created_at": f.created_at,
        "updated_at": f.updated_at,
    })
}

fn audit_json(e: &AuditEntry) -> Value {
    json!({
        "id": e.id, "at": e.at, "actor": e.actor, "action": e.action.as_str(), "case_id": e.case_id,
        "file_id": e.file_id, "outcome": e.outcome.as_str(), "details": e.details,
    })
}

fn parse_id<T: From<uuid::Uuid>>(raw: &str, what: &str) -> Result<T, ApiError> {
    // A malformed id names nothing: the same answer as a missing one.
    uuid::Uuid::parse_str(raw).map(T::from).map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    })
}

fn body_stream(body: Body) -> ByteStream {
    Box::pin(
        body.into_data_stream()
            .map_err(|e| StorageError::invalid_input("body", e.to_string())),
    )
}

#[derive(Deserialize)]
struct NewCase {
    title: String,
}

async fn create_case(
    State(s): State<AppState>,
    Caller(user): Caller,
    Json(body): Json<NewCase>,
) -> Result<Response, ApiError> {
    let case = s.service.create_case(user, &body.title).await?;
    Ok((StatusCode::CREATED, Json(case_json(&case))).into_response())
}

async fn list_cases(
    State(s): State<AppState>,
    Caller(user): Caller,
) -> Result<Json<Value>, ApiError> {
    let cases = s.service.list_cases(user).await?;
    Ok(Json(
        json!({ "cases": cases.iter().map(case_json).collect::<Vec<_>>() }),
    ))
}

async fn get_case(
    State(s): State<AppState>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let case = s
        .service
        .get_case(user, parse_id::<CaseId>(&id, "case")?)
        .await?;
    Ok(Json(case_json(&case)))
}

#[derive(Deserialize)]
struct UploadBody {
    logical_path: String,
    file_name: Option<String>,
    mime_type: Option<String>,
    file_size: u64,
    content_hash: String,
}

async fn init_upload(
    State(s): State<AppState>,
    Caller(user): Caller,
    Path(id): Path<String>,
    Json(body): Json<UploadBody>,
) -> Result<Response, ApiError> {
    let case = parse_id::<CaseId>(&id, "case")?;
    let request = NewUpload {
        logical_path: body.logical_path,
        file_name: body.file_name,
        mime_type: body.mime_type,
        file_size: body.file_size,
        content_hash: body.content_hash,
    };
    let started = s.service.init_file_upload(user, case, request).await?;
    let upload = &started.upload;
    let body = json!({
        "file_id": started.file.id,
        "upload": {
            "method": upload.method, "url": upload.url, "fields": upload.fields,
            "headers": upload.headers, "expires_at": upload.expires_at,
        },
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn complete(
    State(s): State<AppState>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let file = s
        .service
        .complete_file_upload(user, parse_id::<FileId>(&id, "file")?)
        .await?;
    Ok(Json(file_json(&file)))
}

#[derive(Deserialize)]
struct DirectQuery {
    logical_path: String,
    file_name: Option<String>,
    mime_type: Option<String>,
}

async fn direct_upload(
    State(s): State<AppState>,
    Caller(user): Caller,
    Path(id): Path<String>,
    Query(q): Query<DirectQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let case = parse_id::<CaseId>(&id, "case")?;
    let size = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .ok_or_else(|| ApiError::invalid("a Content-Length is required"))?;
    let hash = headers
        .get("x-content-sha256")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::invalid("an x-content-sha256 header is required"))?
        .to_owned();
    let mime = q.mime_type.or_else(|| {
        headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    });
    let request = NewUpload {
        logical_path: q.logical_path,
        file_name: q.file_name,
        mime_type: mime,
        file_size: size,
        content_hash: hash,
    };
    let file = s
        .service
        .upload_file(user, case, request, body_stream(body))
        .await?;
    Ok((StatusCode::CREATED, Json(file_json(&file))).into_response())
}

async fn get_file(
    State(s): State<AppState>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let file = s
        .service
        .get_file(user, parse_id::<FileId>(&id, "file")?)
        .await?;
    Ok(Json(file_json(&file)))
}

/// A single `Range: bytes=…` header.
fn parse_range(value: &str) -> Result<ByteRange, ApiError> {
    let spec = value
        .strip_prefix("bytes=")
        .ok_or_else(|| ApiError::invalid("only bytes ranges"))?;
    if spec.contains(',') {
        return Err(ApiError::invalid("one range only"));
    }
    let (a, b) = spec
        .split_once('-')
        .ok_or_else(|| ApiError::invalid("malformed range"))?;
    let num = |s: &str| {
        s.trim()
            .parse::<u64>()
            .map_err(|_| ApiError::invalid("malformed range"))
    };
    match (a.trim().is_empty(), b.trim().is_empty()) {
        (true, false) => Ok(ByteRange::Suffix(num(b)?)),
        (false, true) => Ok(ByteRange::From(num(a)?)),
        (false, false) => Ok(ByteRange::bounded(num(a)?, num(b)?.saturating_add(1))),
        (true, true) => Err(ApiError::invalid("malformed range")),
    }
}

fn content_headers(file: &CaseFile, length: u64) -> Result<HeaderMap, ApiError> {
    let mut h = HeaderMap::new();
    let value =
        |s: &str| HeaderValue::from_str(s).map_err(|_| ApiError::invalid("unrepresentable header"));
    h.insert(header::CONTENT_TYPE, value(&file.mime_type)?);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    h.insert(header::ETAG, value(&format!("\"{}\"", file.sha256))?);
    h.insert(
        header::CONTENT_DISPOSITION,
        value(&file.file_name.content_disposition())?,
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    Ok(h)
}

async fn content(
    State(s): State<AppState>,
    Caller(user): Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let file_id = parse_id::<FileId>(&id, "file")?;
    if let Some(range) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        let range = parse_range(range)?;
        let (file, span, body) = s.service.download_file_range(user, file_id, range).await?;
        let size = file.actual_size.unwrap_or(file.declared_size);
        let mut h = content_headers(&file, span.end - span.start)?;
        let content_range = format!("bytes {}-{}/{size}", span.start, span.end.saturating_sub(1));
        h.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&content_range).map_err(|_| ApiError::invalid("range"))?,
        );
        return Ok((StatusCode::PARTIAL_CONTENT, h, Body::from_stream(body)).into_response());
    }
    let download = s.service.download_file(user, file_id).await?;
    let size = download
        .file
        .actual_size
        .unwrap_or(download.file.declared_size);
    let h = content_headers(&download.file, size)?;
    Ok((StatusCode::OK, h, Body::from_stream(download.body)).into_response())
}

async fn download_url(
    State(s): State<AppState>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let url = s
        .service
        .get_download_url(user, parse_id::<FileId>(&id, "file")?)
        .await?;
    Ok(Json(
        json!({ "url": url.url, "expires_at": url.expires_at }),
    ))
}

#[derive(Deserialize)]
struct ListQuery {
    prefix: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
}

async fn list_files(
    State(s): State<AppState>,
    Caller(user): Caller,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let case = parse_id::<CaseId>(&id, "case")?;
    let page = s
        .service
        .list_case_files(
            user,
            case,
            ListFiles {
                prefix: q.prefix.filter(|p| !p.is_empty()),
                cursor: q.cursor,
                limit: q.limit,
            },
        )
        .await?;
    Ok(Json(
        json!({ "files": page.files.iter().map(file_json).collect::<Vec<_>>(), "next_cursor": page.next_cursor }),
    ))
}

async fn delete_file(
    State(s): State<AppState>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    s.service
        .delete_file(user, parse_id::<FileId>(&id, "file")?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn audit(
    State(s): State<AppState>,
    Caller(user): Caller,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let case = parse_id::<CaseId>(&id, "case")?;
    let entries = s.service.audit_trail(user, case).await?;
    let start: usize = match q.cursor {
        Some(c) => c
            .parse()
            .map_err(|_| ApiError::invalid("malformed cursor"))?,
        None => 0,
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let page: Vec<Value> = entries
        .iter()
        .skip(start)
        .take(limit)
        .map(audit_json)
        .collect();
    let next = (start + limit < entries.len()).then(|| (start + limit).to_string());
    Ok(Json(json!({ "entries": page, "next_cursor": next })))
}

async fn healthz(State(s): State<AppState>) -> Response {
    let probe = casefile_domain::storage::ObjectKey::new("casefile-health/probe").ok();
    let storage_ok = match probe {
        Some(key) => s.storage.head(&key).await.is_ok(),
        None => false,
    };
    let database_ok = s.repository.get_case(CaseId::new()).await.is_ok();
    let status = if storage_ok && database_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({ "storage": storage_ok, "database": database_ok })),
    )
        .into_response()
}

fn signature_error(e: &SignatureError) -> ApiError {
    let status = match e {
        SignatureError::Malformed(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::FORBIDDEN,
    };
    ApiError::new(status, "unauthorized", e.to_string())
}

/// The local store's presigned URLs: the signature is the authorisation, no token.
async fn blob(
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
            let options = PutOptions {
                content_type: grant.content_type.clone(),
                ..PutOptions::default()
            };
            let body = body_stream(request.into_body());
            match fs
                .upload_with_limits(&grant.key, body, options, UploadLimits::from_grant(&grant))
                .await
            {
                Ok(_) => Ok(StatusCode::CREATED.into_response()),
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
            Ok((StatusCode::OK, h, Body::from_stream(found.body)).into_response())
        }
    }
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

/// The router of the API.
pub fn router(state: AppState) -> Router {
    let streamed = Router::new()
        .route(
            "/v1/cases/{case_id}/files",
            put(direct_upload).get(list_files),
        )
        .route("/v1/blobs/{*key}", put(blob).get(blob))
        .layer(DefaultBodyLimit::disable());
    Router::new()
        .route("/v1/cases", post(create_case).get(list_cases))
        .route("/v1/cases/{case_id}", get(get_case))
        .route("/v1/cases/{case_id}/uploads", post(init_upload))
        .route("/v1/cases/{case_id}/audit", get(audit))
        .route("/v1/files/{file_id}", get(get_file).delete(delete_file))
        .route("/v1/files/{file_id}/complete", post(complete))
        .route("/v1/files/{file_id}/content", get(content))
        .route("/v1/files/{file_id}/download-url", get(download_url))
        .route("/healthz", get(healthz))
        .layer(DefaultBodyLimit::max(64 * 1024))
        // JSON routes answer within 30 s (streamed routes are bounded by the client's pace).
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            std::time::Duration::from_secs(30),
        ))
        .merge(streamed)
        .fallback(not_found)
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}
