//! Routes of files: uploads (two-phase and direct), metadata, content, download URLs, listings
//! and deletion.

use super::*;

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
pub(super) async fn init_upload(
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
pub(super) async fn complete(
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
pub(super) async fn direct_upload(
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
pub(super) async fn get_file(
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
pub(super) async fn content(
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
pub(super) async fn download_url(
    State(s): State<AppState>,
    Caller(user): Caller,
    FilePath(file_id): FilePath,
) -> Result<Json<DownloadUrl>, ApiError> {
    let url = s.service.get_download_url(user, file_id).await?;
    Ok(Json(DownloadUrl::from(&url)))
}

/// A case's completed files by logical path, a page at a time; with `delimiter=/`, one folder
/// level: the files directly under `prefix` and each sub-folder once (in `folders`).
#[utoipa::path(get, path = "/v1/cases/{case_id}/files", tag = "files", security(("bearer" = [])),
    params(("case_id" = Uuid, Path, description = CASE_ID), FileListQuery),
    responses(
        (status = 200, description = "a page of files", body = FileList),
        (status = 400, description = "invalid prefix, cursor, limit or delimiter", body = ErrorBody),
        (status = 401, description = "no valid bearer token", body = ErrorBody),
        (status = 404, description = "no such case, or the caller is not a member", body = ErrorBody),
    ))]
pub(super) async fn list_files(
    State(s): State<AppState>,
    Caller(user): Caller,
    CasePath(case): CasePath,
    ApiQuery(q): ApiQuery<FileListQuery>,
) -> Result<Json<FileList>, ApiError> {
    let delimiter = match q.delimiter.as_deref() {
        None => false,
        Some("/") => true,
        Some(_) => return Err(ApiError::invalid("delimiter: only `/` is supported")),
    };
    let page = s
        .service
        .list_case_files(
            user,
            case,
            ListFiles {
                prefix: q.prefix.filter(|p| !p.is_empty()),
                cursor: q.cursor,
                limit: q.limit,
                delimiter,
            },
        )
        .await?;
    Ok(Json(FileList {
        files: page.files.iter().map(FileView::from).collect(),
        folders: delimiter.then_some(page.folders),
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
pub(super) async fn delete_file(
    State(s): State<AppState>,
    Caller(user): Caller,
    FilePath(file_id): FilePath,
) -> Result<StatusCode, ApiError> {
    s.service.delete_file(user, file_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
