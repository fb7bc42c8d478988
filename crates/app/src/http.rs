//! The HTTP API v1 (axum).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use casefile_domain::StorageError;
use casefile_domain::legal::{
    AuditTrailQuery, CaseFile, CaseId, FileId, HoldId, LegalFileService, ListCases, ListFiles,
    MemberCase, NewHold, NewUpload, Role, ServiceError, UserId,
};
use casefile_domain::storage::{ByteRange, ByteStream, ObjectStorage};
use futures::TryStreamExt;
use serde_json::json;
use tower_http::timeout::RequestBodyTimeoutLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{
    ApiJson, ApiQuery, AuditEntryView, AuditPage, CaseList, CaseView, DirectUploadQuery,
    DownloadUrl, ErrorBody, FileList, FileListQuery, FileView, Health, HoldList, HoldView,
    MemberList, MemberView, NewCase, NewHoldBody, PageQuery, PutMember, ReleaseBody, RetentionBody,
    UploadInstructions, UploadRequest, UploadStarted,
};
use crate::auth::Authenticator;

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
    pub local: Option<crate::wiring::LocalStore>,
    /// How bearer tokens are checked.
    pub auth: Authenticator,
    /// The profiles (name, e-mail) last kept per user, so that they are written only when they
    /// change.
    pub profiles: Profiles,
    /// The public base URL (to rebuild presigned URLs for verification).
    pub public_url: String,
    /// How long a streamed upload body may send nothing before the request is abandoned.
    pub body_idle_timeout: std::time::Duration,
    /// Slots for streamed uploads and downloads.
    pub streams: crate::limits::StreamSlots,
    /// The least an upload body must send.
    pub upload_rate: crate::limits::MinUploadRate,
}

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

    fn unauthorized() -> Self {
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
        let body = json!({ "error": { "code": self.code, "message": self.message } });
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
            _ => {
                tracing::error!(error = %e, "request failed");
                Self::new(S::INTERNAL_SERVER_ERROR, "internal", "internal error")
            }
        }
    }
}

/// The profiles last kept, per user (bounded: cleared when it reaches 10,000 users).
#[derive(Clone, Default)]
pub struct Profiles(
    Arc<std::sync::Mutex<std::collections::HashMap<UserId, casefile_domain::legal::UserProfile>>>,
);

impl Profiles {
    /// Whether `profile` differs from what was last kept for `user` (and notes it as kept).
    fn changed(&self, user: UserId, profile: &casefile_domain::legal::UserProfile) -> bool {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.get(&user) == Some(profile) {
            return false;
        }
        if map.len() >= 10_000 {
            map.clear();
        }
        map.insert(user, profile.clone());
        true
    }

    fn forget(&self, user: UserId) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&user);
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
        let identity = state
            .auth
            .authenticate(token.trim())
            .await
            .ok_or_else(ApiError::unauthorized)?;
        let user = identity.user;
        if !identity.profile.is_empty() && state.profiles.changed(user, &identity.profile) {
            // A label for member lists: failing to keep it never fails the request.
            if let Err(e) = state.service.remember_user(user, &identity.profile).await {
                state.profiles.forget(user);
                tracing::warn!(error = %e, "could not keep the caller's profile");
            }
        }
        Ok(Caller(user))
    }
}

/// Extractors of the `{case_id}` and `{file_id}` path segments. A malformed id names nothing:
/// it answers exactly like a missing case or file.
macro_rules! id_path {
    ($name:ident, $id:ty, $what:literal) => {
        #[doc = concat!("The `{", $what, "_id}` path segment.")]
        pub struct $name(pub $id);

        impl<S: Send + Sync> FromRequestParts<S> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(
                parts: &mut Parts,
                state: &S,
            ) -> Result<Self, Self::Rejection> {
                let missing = || {
                    ApiError::new(
                        StatusCode::NOT_FOUND,
                        "not_found",
                        concat!($what, " not found"),
                    )
                };
                let Path(raw) = Path::<String>::from_request_parts(parts, state)
                    .await
                    .map_err(|_| missing())?;
                uuid::Uuid::parse_str(&raw)
                    .map(|id| Self(<$id>::from(id)))
                    .map_err(|_| missing())
            }
        }
    };
}
id_path!(CasePath, CaseId, "case");
id_path!(FilePath, FileId, "file");
id_path!(HoldPath, HoldId, "hold");

pub(crate) fn body_stream(body: Body) -> ByteStream {
    Box::pin(
        body.into_data_stream()
            .map_err(|e| StorageError::invalid_input("body", e.to_string())),
    )
}

/// The `{case_id}` path parameter's documentation.
const CASE_ID: &str = "the case's id";
/// The `{file_id}` path parameter's documentation.
const FILE_ID: &str = "the file's id";

/// Creates a case; the caller becomes its owner.
#[utoipa::path(post, path = "/v1/cases", tag = "cases", security(("bearer" = [])),
    request_body = NewCase,
    responses(
        (status = 201, description = "created", body = CaseView),
        (status = 400, description = "invalid title or body", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
    ))]
async fn create_case(
    State(s): State<AppState>,
    Caller(user): Caller,
    ApiJson(body): ApiJson<NewCase>,
) -> Result<Response, ApiError> {
    let case = s.service.create_case(user, &body.title).await?;
    let view = CaseView::from(&MemberCase {
        case,
        role: Role::Owner,
    });
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// The cases the caller is a member of, with their role, a page at a time.
#[utoipa::path(get, path = "/v1/cases", tag = "cases", security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "a page of the caller's cases, oldest first", body = CaseList),
        (status = 400, description = "a bad limit or cursor", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
    ))]
async fn list_cases(
    State(s): State<AppState>,
    Caller(user): Caller,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<CaseList>, ApiError> {
    let page = s
        .service
        .list_cases(
            user,
            ListCases {
                cursor: q.cursor,
                limit: q.limit,
            },
        )
        .await?;
    Ok(Json(CaseList {
        cases: page.cases.iter().map(CaseView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// A case the caller is a member of, with their role.
#[utoipa::path(get, path = "/v1/cases/{case_id}", tag = "cases", security(("bearer" = [])),
    params(("case_id" = Uuid, Path, description = CASE_ID)),
    responses(
        (status = 200, description = "the case", body = CaseView),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 404, description = "no such case, or the caller is not a member", body = ErrorBody),
    ))]
async fn get_case(
    State(s): State<AppState>,
    Caller(user): Caller,
    CasePath(case_id): CasePath,
) -> Result<Json<CaseView>, ApiError> {
    let case = s.service.get_case(user, case_id).await?;
    Ok(Json(CaseView::from(&case)))
}

/// Starts a two-phase upload: records the pending file and returns how to send its bytes.
#[utoipa::path(post, path = "/v1/cases/{case_id}/uploads", tag = "files", security(("bearer" = [])),
    params(("case_id" = Uuid, Path, description = CASE_ID)),
    request_body = UploadRequest,
    responses(
        (status = 201, description = "send the bytes as `upload` says, then complete", body = UploadStarted),
        (status = 400, description = "invalid path, name, type or hash", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "a viewer or auditor of the case (`forbidden`)", body = ErrorBody),
        (status = 404, description = "no such case, or the caller is not a member", body = ErrorBody),
        (status = 409, description = "a live file holds the path", body = ErrorBody),
        (status = 429, description = "the caller or the case is at its cap of open uploads", body = ErrorBody),
        (status = 413, description = "declared size over the limit", body = ErrorBody),
    ))]
async fn init_upload(
    State(s): State<AppState>,
    Caller(user): Caller,
    CasePath(case): CasePath,
    ApiJson(body): ApiJson<UploadRequest>,
) -> Result<Response, ApiError> {
    let request = NewUpload {
        logical_path: body.logical_path,
        file_name: body.file_name,
        mime_type: body.mime_type,
        file_size: body.file_size,
        content_hash: Some(body.content_hash),
    };
    let started = s.service.init_file_upload(user, case, request).await?;
    let body = UploadStarted {
        file_id: started.file.id.0,
        upload: UploadInstructions::from(&started.upload),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Completes a two-phase upload: verifies size, SHA-256 and type of what was stored.
#[utoipa::path(post, path = "/v1/files/{file_id}/complete", tag = "files", security(("bearer" = [])),
    params(("file_id" = Uuid, Path, description = FILE_ID)),
    responses(
        (status = 200, description = "the completed file (also when already completed)", body = FileView),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "a viewer or auditor of the file's case (`forbidden`)", body = ErrorBody),
        (status = 404, description = "no such file in a case of the caller's", body = ErrorBody),
        (status = 409, description = "`upload_missing`: nothing was uploaded yet; `conflict`: the file failed or was deleted", body = ErrorBody),
        (status = 422, description = "what was uploaded is not what was declared (the file is failed)", body = ErrorBody),
    ))]
async fn complete(
    State(s): State<AppState>,
    Caller(user): Caller,
    FilePath(file_id): FilePath,
) -> Result<Json<FileView>, ApiError> {
    let file = s.service.complete_file_upload(user, file_id).await?;
    Ok(Json(FileView::from(&file)))
}

/// Uploads a file in one request, streamed through the server and verified as it passes.
#[utoipa::path(put, path = "/v1/cases/{case_id}/files", tag = "files", security(("bearer" = [])),
    params(
        ("case_id" = Uuid, Path, description = CASE_ID),
        DirectUploadQuery,
        ("x-content-sha256" = Option<String>, Header, pattern = "^[0-9a-fA-F]{64}$",
            description = "the body's SHA-256: checked when given, computed otherwise"),
    ),
    request_body(content = String, content_type = "application/octet-stream",
        description = "the file's bytes, with their `Content-Length` (required: 400 without)"),
    responses(
        (status = 201, description = "stored and verified", body = FileView),
        (status = 400, description = "invalid path or headers", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "a viewer or auditor of the case (`forbidden`)", body = ErrorBody),
        (status = 404, description = "no such case, or the caller is not a member", body = ErrorBody),
        (status = 409, description = "a live file holds the path", body = ErrorBody),
        (status = 413, description = "over the size limit", body = ErrorBody),
        (status = 422, description = "body differs from its length, hash or type", body = ErrorBody),
        (status = 429, description = "the caller or the case is at its cap of open uploads", body = ErrorBody),
        (status = 503, description = "every streaming slot is taken (`Retry-After`)", body = ErrorBody),
    ))]
async fn direct_upload(
    State(s): State<AppState>,
    Caller(user): Caller,
    CasePath(case): CasePath,
    ApiQuery(q): ApiQuery<DirectUploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let size = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .ok_or_else(|| ApiError::invalid("a Content-Length is required"))?;
    // Optional: when given, the bytes must match it; otherwise it is computed as they pass.
    let hash = headers
        .get("x-content-sha256")
        .map(|v| {
            v.to_str()
                .map(str::to_owned)
                .map_err(|_| ApiError::invalid("x-content-sha256 is not text"))
        })
        .transpose()?;
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
    let slot = s.streams.acquire()?;
    let body = crate::limits::at_least(body_stream(body), s.upload_rate);
    let file = s.service.upload_file(user, case, request, body).await?;
    drop(slot);
    Ok((StatusCode::CREATED, Json(FileView::from(&file))).into_response())
}

/// A file's metadata.
#[utoipa::path(get, path = "/v1/files/{file_id}", tag = "files", security(("bearer" = [])),
    params(("file_id" = Uuid, Path, description = FILE_ID)),
    responses(
        (status = 200, description = "the file (pending or completed)", body = FileView),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 404, description = "no such file in a case of the caller's", body = ErrorBody),
    ))]
async fn get_file(
    State(s): State<AppState>,
    Caller(user): Caller,
    FilePath(file_id): FilePath,
) -> Result<Json<FileView>, ApiError> {
    let file = s.service.get_file(user, file_id).await?;
    let protection = s.service.protection(&file).await?;
    Ok(Json(FileView::from(&file).protected(&protection)))
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
    user_content_headers(&mut h);
    Ok(h)
}

/// Headers of every response carrying a user's file: the browser must not guess another type,
/// and never run it as a page of this origin (scripts, forms, plugins off).
pub(crate) fn user_content_headers(h: &mut HeaderMap) {
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
}

/// A completed file's bytes, streamed; one `Range` is honoured.
#[utoipa::path(get, path = "/v1/files/{file_id}/content", tag = "files", security(("bearer" = [])),
    params(
        ("file_id" = Uuid, Path, description = FILE_ID),
        ("Range" = Option<String>, Header, pattern = "^bytes=([0-9]+-[0-9]*|-[0-9]+)$",
            description = "one `bytes=` range"),
    ),
    responses(
        (status = 200, description = "the whole file, verified against its SHA-256 as it streams: the chunk that completes it is held back until the digest matches; on a mismatch the response is cut off before `Content-Length` bytes and the failure audited (`fixity_failed`)",
            content_type = "application/octet-stream"),
        (status = 206, description = "the requested range, NOT verified (a range cannot be checked against the whole file's SHA-256; the fixity scrub covers stored bytes)", content_type = "application/octet-stream"),
        (status = 400, description = "malformed or multiple ranges", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "an auditor of the file's case: auditors never read content (`forbidden`)", body = ErrorBody),
        (status = 404, description = "no such completed file in a case of the caller's", body = ErrorBody),
        (status = 416, description = "the range is outside the file", body = ErrorBody),
        (status = 503, description = "every streaming slot is taken (`Retry-After`)", body = ErrorBody),
    ))]
async fn content(
    State(s): State<AppState>,
    Caller(user): Caller,
    FilePath(file_id): FilePath,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let slot = s.streams.acquire()?;
    if let Some(range) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        let range = parse_range(range)?;
        let (file, span, body) = match s.service.download_file_range(user, file_id, range).await {
            Ok(found) => found,
            Err(ServiceError::Storage(e @ StorageError::RangeNotSatisfiable { size, .. })) => {
                let mut response = ApiError::from(ServiceError::Storage(e)).into_response();
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                    response.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                return Ok(response);
            }
            Err(e) => return Err(e.into()),
        };
        let size = file.actual_size.unwrap_or(file.declared_size);
        let mut h = content_headers(&file, span.end - span.start)?;
        let content_range = format!("bytes {}-{}/{size}", span.start, span.end.saturating_sub(1));
        h.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&content_range).map_err(|_| ApiError::invalid("range"))?,
        );
        let body = crate::limits::holding(body, slot);
        return Ok((StatusCode::PARTIAL_CONTENT, h, Body::from_stream(body)).into_response());
    }
    let download = s.service.download_file(user, file_id).await?;
    let size = download
        .file
        .actual_size
        .unwrap_or(download.file.declared_size);
    let h = content_headers(&download.file, size)?;
    let body = crate::limits::holding(download.body, slot);
    Ok((StatusCode::OK, h, Body::from_stream(body)).into_response())
}

/// A short-lived URL downloading a completed file as an attachment, without a token. The store
/// serves those bytes directly: they are NOT verified in flight (the fixity scrub covers them).
#[utoipa::path(get, path = "/v1/files/{file_id}/download-url", tag = "files", security(("bearer" = [])),
    params(("file_id" = Uuid, Path, description = FILE_ID)),
    responses(
        (status = 200, description = "the URL", body = DownloadUrl),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "an auditor of the file's case: auditors never read content (`forbidden`)", body = ErrorBody),
        (status = 404, description = "no such completed file in a case of the caller's", body = ErrorBody),
    ))]
async fn download_url(
    State(s): State<AppState>,
    Caller(user): Caller,
    FilePath(file_id): FilePath,
) -> Result<Json<DownloadUrl>, ApiError> {
    let url = s.service.get_download_url(user, file_id).await?;
    Ok(Json(DownloadUrl::from(&url)))
}

/// A case's completed files by logical path, a page at a time.
#[utoipa::path(get, path = "/v1/cases/{case_id}/files", tag = "files", security(("bearer" = [])),
    params(("case_id" = Uuid, Path, description = CASE_ID), FileListQuery),
    responses(
        (status = 200, description = "a page of files", body = FileList),
        (status = 400, description = "invalid prefix, cursor or limit", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 404, description = "no such case, or the caller is not a member", body = ErrorBody),
    ))]
async fn list_files(
    State(s): State<AppState>,
    Caller(user): Caller,
    CasePath(case): CasePath,
    ApiQuery(q): ApiQuery<FileListQuery>,
) -> Result<Json<FileList>, ApiError> {
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
    Ok(Json(FileList {
        files: page.files.iter().map(FileView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Deletes a file: gone from listings and downloads at once; its bytes are purged after.
#[utoipa::path(delete, path = "/v1/files/{file_id}", tag = "files", security(("bearer" = [])),
    params(("file_id" = Uuid, Path, description = FILE_ID)),
    responses(
        (status = 204, description = "deleted"),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "a viewer or auditor of the file's case (`forbidden`)", body = ErrorBody),
        (status = 404, description = "no such live file in a case of the caller's", body = ErrorBody),
        (status = 409, description = "`held`: an active legal hold covers it (the message names the holds); `retained`: its case's retention has not ended. The refusal is audited `delete_refused`", body = ErrorBody),
    ))]
async fn delete_file(
    State(s): State<AppState>,
    Caller(user): Caller,
    FilePath(file_id): FilePath,
) -> Result<StatusCode, ApiError> {
    s.service.delete_file(user, file_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A case's audit trail, oldest first, a page at a time.
#[utoipa::path(get, path = "/v1/cases/{case_id}/audit", tag = "cases", security(("bearer" = [])),
    params(("case_id" = Uuid, Path, description = CASE_ID), PageQuery),
    responses(
        (status = 200, description = "a page of entries", body = AuditPage),
        (status = 400, description = "malformed cursor or limit", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "an editor or viewer of the case: the trail is for owners and auditors (`forbidden`)", body = ErrorBody),
        (status = 404, description = "no such case, or the caller is not a member", body = ErrorBody),
    ))]
async fn audit(
    State(s): State<AppState>,
    Caller(user): Caller,
    CasePath(case): CasePath,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let page = s
        .service
        .audit_trail(
            user,
            case,
            AuditTrailQuery {
                cursor: q.cursor,
                limit: q.limit,
            },
        )
        .await?;
    Ok(Json(AuditPage {
        entries: page.entries.iter().map(AuditEntryView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// The `{user_id}` path parameter's documentation.
const USER_ID: &str = "the member's user id (a UUID)";

/// The `{case_id}` and `{user_id}` path segments of a member route: a malformed case id
/// answers like a missing case; a user id that is not a UUID is `invalid_input`.
pub struct MemberPath(pub CaseId, pub UserId);

impl<S: Send + Sync> FromRequestParts<S> for MemberPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let missing = || ApiError::new(StatusCode::NOT_FOUND, "not_found", "case not found");
        let Path((case, user)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|_| missing())?;
        let case = uuid::Uuid::parse_str(&case).map_err(|_| missing())?;
        let user = uuid::Uuid::parse_str(&user)
            .map_err(|_| ApiError::invalid("invalid user_id: must be a UUID"))?;
        Ok(Self(CaseId(case), UserId(user)))
    }
}

/// The members of a case, with their roles, for any member.
#[utoipa::path(get, path = "/v1/cases/{case_id}/members", tag = "members", security(("bearer" = [])),
    params(("case_id" = Uuid, Path, description = CASE_ID)),
    responses(
        (status = 200, description = "the members, in the order they were added", body = MemberList),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 404, description = "no such case, or the caller is not a member", body = ErrorBody),
    ))]
async fn list_members(
    State(s): State<AppState>,
    Caller(user): Caller,
    CasePath(case_id): CasePath,
) -> Result<Json<MemberList>, ApiError> {
    let members = s.service.list_members(user, case_id).await?;
    Ok(Json(MemberList {
        members: members.iter().map(MemberView::from).collect(),
    }))
}

/// Gives a user a role in the case: adds them, or changes their role. Owners only.
#[utoipa::path(put, path = "/v1/cases/{case_id}/members/{user_id}", tag = "members", security(("bearer" = [])),
    params(("case_id" = Uuid, Path, description = CASE_ID), ("user_id" = Uuid, Path, description = USER_ID)),
    request_body = PutMember,
    responses(
        (status = 200, description = "the member, with the role given", body = MemberView),
        (status = 400, description = "an unknown role, or a user id that is not a UUID", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "the caller is a member but not an owner (`forbidden`)", body = ErrorBody),
        (status = 404, description = "no such case, or the caller is not a member", body = ErrorBody),
        (status = 409, description = "the change would leave the case without an owner", body = ErrorBody),
    ))]
async fn put_member(
    State(s): State<AppState>,
    Caller(user): Caller,
    MemberPath(case_id, member): MemberPath,
    ApiJson(body): ApiJson<PutMember>,
) -> Result<Json<MemberView>, ApiError> {
    let role = Role::parse(&body.role).ok_or_else(|| {
        ApiError::invalid(format!(
            "invalid role: {:?} is not one of owner, editor, viewer, auditor",
            body.role
        ))
    })?;
    let member = s.service.set_member(user, case_id, member, role).await?;
    Ok(Json(MemberView::from(&member)))
}

/// Removes a member from the case. Owners only.
#[utoipa::path(delete, path = "/v1/cases/{case_id}/members/{user_id}", tag = "members", security(("bearer" = [])),
    params(("case_id" = Uuid, Path, description = CASE_ID), ("user_id" = Uuid, Path, description = USER_ID)),
    responses(
        (status = 204, description = "removed"),
        (status = 400, description = "a user id that is not a UUID", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "the caller is a member but not an owner (`forbidden`)", body = ErrorBody),
        (status = 404, description = "no such case, the caller is not a member, or the user is not one", body = ErrorBody),
        (status = 409, description = "the last owner cannot be removed", body = ErrorBody),
    ))]
async fn remove_member(
    State(s): State<AppState>,
    Caller(user): Caller,
    MemberPath(case_id, member): MemberPath,
) -> Result<StatusCode, ApiError> {
    s.service.remove_member(user, case_id, member).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Places a legal hold (the whole case when no scope is given). Owners only. From now on nothing
/// it covers — files uploaded later included, for a case or prefix scope — can be deleted or
/// purged until it is released.
#[utoipa::path(post, path = "/v1/cases/{case_id}/holds", tag = "holds", security(("bearer" = [])),
    params(("case_id" = Uuid, Path, description = CASE_ID)),
    request_body = NewHoldBody,
    responses(
        (status = 201, description = "the hold", body = HoldView),
        (status = 400, description = "an empty or over-long name or reason, a bad prefix, an empty file list", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "the caller is a member but not an owner (`forbidden`)", body = ErrorBody),
        (status = 404, description = "no such case, the caller is not a member, or a listed file is not a file of this case", body = ErrorBody),
    ))]
async fn place_hold(
    State(s): State<AppState>,
    Caller(user): Caller,
    CasePath(case_id): CasePath,
    ApiJson(body): ApiJson<NewHoldBody>,
) -> Result<Response, ApiError> {
    let request = NewHold {
        name: body.name,
        reason: body.reason,
        scope: body.scope.map(Into::into),
    };
    let hold = s.service.place_hold(user, case_id, request).await?;
    Ok((StatusCode::CREATED, Json(HoldView::from(&hold))).into_response())
}

/// The legal holds of a case, active and released, for any member.
#[utoipa::path(get, path = "/v1/cases/{case_id}/holds", tag = "holds", security(("bearer" = [])),
    params(("case_id" = Uuid, Path, description = CASE_ID)),
    responses(
        (status = 200, description = "the holds, oldest first", body = HoldList),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 404, description = "no such case, or the caller is not a member", body = ErrorBody),
    ))]
async fn list_holds(
    State(s): State<AppState>,
    Caller(user): Caller,
    CasePath(case_id): CasePath,
) -> Result<Json<HoldList>, ApiError> {
    let holds = s.service.list_holds(user, case_id).await?;
    Ok(Json(HoldList {
        holds: holds.iter().map(HoldView::from).collect(),
    }))
}

/// Releases a legal hold. Owners of its case only; a hold is released once, and what it covered
/// stays held while another active hold covers it.
#[utoipa::path(post, path = "/v1/holds/{hold_id}/release", tag = "holds", security(("bearer" = [])),
    params(("hold_id" = Uuid, Path, description = "the hold's id")),
    request_body = ReleaseBody,
    responses(
        (status = 200, description = "the released hold", body = HoldView),
        (status = 400, description = "an empty or over-long reason", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "the caller is a member of the hold's case but not an owner (`forbidden`)", body = ErrorBody),
        (status = 404, description = "no such hold in a case of the caller's", body = ErrorBody),
        (status = 409, description = "the hold is released already", body = ErrorBody),
    ))]
async fn release_hold(
    State(s): State<AppState>,
    Caller(user): Caller,
    HoldPath(hold_id): HoldPath,
    ApiJson(body): ApiJson<ReleaseBody>,
) -> Result<Json<HoldView>, ApiError> {
    let hold = s.service.release_hold(user, hold_id, &body.reason).await?;
    Ok(Json(HoldView::from(&hold)))
}

/// Sets or extends the case's retention: nothing in it can be deleted before `retain_until`.
/// Owners only; extended, never shortened.
#[utoipa::path(put, path = "/v1/cases/{case_id}/retention", tag = "holds", security(("bearer" = [])),
    params(("case_id" = Uuid, Path, description = CASE_ID)),
    request_body = RetentionBody,
    responses(
        (status = 200, description = "the case, with its retention", body = CaseView),
        (status = 400, description = "a date that is not in the future", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "the caller is a member but not an owner (`forbidden`)", body = ErrorBody),
        (status = 404, description = "no such case, or the caller is not a member", body = ErrorBody),
        (status = 409, description = "a date before the retention in force (`conflict`)", body = ErrorBody),
    ))]
async fn set_retention(
    State(s): State<AppState>,
    Caller(user): Caller,
    CasePath(case_id): CasePath,
    ApiJson(body): ApiJson<RetentionBody>,
) -> Result<Json<CaseView>, ApiError> {
    let case = s
        .service
        .set_retention(user, case_id, body.retain_until)
        .await?;
    Ok(Json(CaseView::from(&case)))
}

/// Gives a completed file its own retention date, later than its case's: nothing deletes it
/// before. Owners only; extended, never shortened.
#[utoipa::path(put, path = "/v1/files/{file_id}/retention", tag = "holds", security(("bearer" = [])),
    params(("file_id" = Uuid, Path, description = FILE_ID)),
    request_body = RetentionBody,
    responses(
        (status = 200, description = "the file, with what protects it", body = FileView),
        (status = 400, description = "a date that is not in the future, or not later than the case's retention", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 403, description = "the caller is a member of the file's case but not an owner (`forbidden`)", body = ErrorBody),
        (status = 404, description = "no such completed file in a case of the caller's", body = ErrorBody),
        (status = 409, description = "a date before the file's retention in force (`conflict`)", body = ErrorBody),
    ))]
async fn set_file_retention(
    State(s): State<AppState>,
    Caller(user): Caller,
    FilePath(file_id): FilePath,
    ApiJson(body): ApiJson<RetentionBody>,
) -> Result<Json<FileView>, ApiError> {
    let (file, protection) = s
        .service
        .set_file_retention(user, file_id, body.retain_until)
        .await?;
    Ok(Json(FileView::from(&file).protected(&protection)))
}

/// Whether storage and database answer (no token).
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses(
        (status = 200, description = "both answer", body = Health),
        (status = 503, description = "one does not", body = Health),
    ))]
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
    let health = Health {
        storage: storage_ok,
        database: database_ok,
    };
    (status, Json(health)).into_response()
}

/// This document (no token).
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "the OpenAPI 3.1 document of this API",
        content_type = "application/json")))]
#[allow(dead_code)] // documents the route `router` serves with the generated document
fn openapi_json() {}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "not_found",
        "this route does not answer this method",
    )
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

/// The OpenAPI document's fixed parts; the `/v1` and `/healthz` operations are added from the
/// handlers the router serves.
#[derive(OpenApi)]
#[openapi(
    info(title = "casefile", description = "Legal case files: cases shared by members with roles, verified uploads and downloads, audit trail."),
    paths(openapi_json),
    modifiers(&BearerAuth),
    tags(
        (name = "cases", description = "Cases and their audit trail"),
        (name = "files", description = "Uploads, downloads and listings of a case's files"),
        (name = "members", description = "Who works a case, and in which role"),
        (name = "holds", description = "Legal holds and retention: what cannot be deleted"),
        (name = "blobs", description = "The local store's presigned URLs"),
        (name = "operations", description = "Health and this document"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("HS256, `sub` = user UUID, `exp` required"))
                    .build(),
            ),
        );
    }
}

/// The router of the API, and the OpenAPI document of what it serves. Streamed bodies have no
/// size limit here (the service and the store enforce the declared or signed size) but must not
/// stall for longer than `body_idle`.
fn routes(body_idle: std::time::Duration) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let streamed = OpenApiRouter::new()
        .routes(routes!(direct_upload, list_files))
        // Completion hashes the whole object: minutes for a large file, bounded by the store.
        .routes(routes!(complete))
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyTimeoutLayer::new(body_idle));
    let (router, mut api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(create_case, list_cases))
        .routes(routes!(get_case))
        .routes(routes!(init_upload))
        .routes(routes!(audit))
        .routes(routes!(list_members))
        .routes(routes!(put_member, remove_member))
        .routes(routes!(place_hold, list_holds))
        .routes(routes!(release_hold))
        .routes(routes!(set_retention))
        .routes(routes!(set_file_retention))
        .routes(routes!(get_file, delete_file))
        .routes(routes!(content))
        .routes(routes!(download_url))
        .routes(routes!(healthz))
        .layer(DefaultBodyLimit::max(64 * 1024))
        // JSON routes answer within 30 s (streamed routes are bounded by the client's pace).
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            std::time::Duration::from_secs(30),
        ))
        .merge(streamed)
        .split_for_parts();
    api.info.version = env!("CARGO_PKG_VERSION").to_owned();
    #[cfg(feature = "fs")]
    let router = {
        api.merge(crate::blobs::BlobsDoc::openapi());
        router.route(
            "/v1/blobs/{*key}",
            get(crate::blobs::blob)
                .put(crate::blobs::blob)
                .layer::<_, std::convert::Infallible>(DefaultBodyLimit::disable())
                .layer::<_, std::convert::Infallible>(RequestBodyTimeoutLayer::new(body_idle)),
        )
    };
    (router, api)
}

/// The OpenAPI document of the API (what `GET /openapi.json` serves).
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes(std::time::Duration::from_secs(60)).1
}

/// The router of the API.
pub fn router(state: AppState) -> Router {
    let (router, api) = routes(state.body_idle_timeout);
    // Rendered once; serialising this document cannot fail (string keys, no floats).
    let document = bytes::Bytes::from(api.to_json().unwrap_or_default());
    router
        .route(
            "/openapi.json",
            get(move || {
                let document = document.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], document) }
            }),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Spans name the method and the path only: a query may be a capability (the
        // signature of a presigned URL) and must never reach a log.
        .layer(
            tower_http::trace::TraceLayer::new_for_http().make_span_with(
                |request: &axum::http::Request<Body>| {
                    tracing::debug_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                    )
                },
            ),
        )
        .with_state(state)
}
